"""Adapters refuse what they cannot use at construction: a cache that is not the engine
(the LangChain ``SemCache`` is the usual mix-up) and a bad ``ttl``, before any LLM call."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import FakeListLLM
from langchain_core.outputs import Generation

from semcache_core import InvalidArgumentError, SemCache
from semcache_integrations.langchain import SemCache as LangChainSemCache
from semcache_integrations.langchain.byte_store import SemCacheByteStore
from semcache_integrations.langchain.embeddings import CachedEmbeddings
from semcache_integrations.langchain.vector_store import SemCacheVectorStore

EMBEDDING = DeterministicFakeEmbedding(size=8)
ADAPTERS = {
    "SemCache": lambda cache: LangChainSemCache(cache=cache),
    "SemCacheByteStore": lambda cache: SemCacheByteStore(cache),
    "CachedEmbeddings": lambda cache: CachedEmbeddings(EMBEDDING, cache),
    "SemCacheVectorStore": lambda cache: SemCacheVectorStore(EMBEDDING, cache),
}


@pytest.mark.parametrize("make", list(ADAPTERS.values()), ids=list(ADAPTERS))
def test_passing_the_langchain_cache_as_the_engine_says_which_class_is_expected(make) -> None:
    wrong = LangChainSemCache()
    with pytest.raises(InvalidArgumentError) as info:
        make(wrong)
    message = str(info.value)
    assert "semcache_core.SemCache" in message  # the class expected
    assert "semcache_integrations.langchain.llm_cache.SemCache" in message  # the one given
    assert ".engine" in message  # and how to get from one to the other
    make(wrong.engine)  # which works


@pytest.mark.parametrize("make", list(ADAPTERS.values()), ids=list(ADAPTERS))
@pytest.mark.parametrize("wrong", ["memory", 5, {}], ids=["str", "int", "dict"])
def test_any_other_cache_argument_is_refused(make, wrong: Any) -> None:
    with pytest.raises(InvalidArgumentError, match=r"semcache_core\.SemCache"):
        make(wrong)


@pytest.mark.parametrize("ttl", [-1, 0, math.nan, "60"], ids=repr)
def test_llm_cache_refuses_a_bad_ttl_before_any_llm_call(ttl: Any) -> None:
    engine = SemCache()
    with pytest.raises(InvalidArgumentError, match="ttl"):
        LangChainSemCache(ttl=ttl, cache=engine)
    assert len(engine) == 0


def test_a_good_ttl_still_caches_through_langchain() -> None:
    cache = LangChainSemCache(ttl=60)
    set_llm_cache(cache)
    try:
        llm = FakeListLLM(responses=["one", "two"])
        assert llm.invoke("hi") == "one"
        assert llm.invoke("hi") == "one"
    finally:
        set_llm_cache(None)
    assert cache.stats().exact_hits == 1


PROMPT_CALLS = {
    "lookup": lambda cache, prompt, model: cache.lookup(prompt, model),
    "alookup": lambda cache, prompt, model: asyncio.run(cache.alookup(prompt, model)),
    "update": lambda cache, prompt, model: cache.update(prompt, model, [Generation(text="x")]),
    "aupdate": lambda cache, prompt, model: asyncio.run(
        cache.aupdate(prompt, model, [Generation(text="x")])
    ),
}


@pytest.mark.parametrize("call", list(PROMPT_CALLS.values()), ids=list(PROMPT_CALLS))
@settings(max_examples=10, deadline=None, derandomize=True, database=None)
@given(
    text=st.text(max_size=6),
    surrogate=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    in_model=st.booleans(),
)
def test_a_prompt_or_model_with_a_lone_surrogate_gets_a_typed_error(
    call, text: str, surrogate: str, in_model: bool
) -> None:
    """Hashing the prompt raised a raw ``UnicodeEncodeError`` from inside the cache."""
    cache = LangChainSemCache()
    bad = text + surrogate
    prompt, model = ("fine prompt", bad) if in_model else (bad, "model")
    with pytest.raises(InvalidArgumentError, match="surrogate"):
        call(cache, prompt, model)
    assert len(cache.engine) == 0
