"""The LangChain LLM cache: the standard suites, then what they do not cover.

Chat requests go through real langchain-core chat models (``FakeListChatModel``) with the
cache installed by ``set_llm_cache``, so prompts arrive exactly as LangChain builds them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from fakeclock import FakeClock
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.caches import BaseCache
from langchain_core.embeddings import Embeddings
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import FakeListChatModel, FakeListLLM
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, Generation
from langchain_tests.integration_tests import AsyncCacheTestSuite, SyncCacheTestSuite

from semcache_core import HashingEmbedder, InvalidArgumentError
from semcache_core import SemCache as Engine
from semcache_core.responses import ResponseCache
from semcache_integrations.langchain.llm_cache import SemCache, split_prompt


class TestSemCacheSync(SyncCacheTestSuite):
    @pytest.fixture
    def cache(self) -> BaseCache:
        return SemCache()


class TestSemCacheAsync(AsyncCacheTestSuite):
    @pytest.fixture
    async def cache(self) -> BaseCache:
        return SemCache()


class CountingChat(FakeListChatModel):
    """A chat model that counts the calls that reach it (cache misses)."""

    calls: int = 0

    def _call(self, *args: object, **kwargs: object) -> str:
        self.calls += 1
        return super()._call(*args, **kwargs)

    async def _acall(self, *args: object, **kwargs: object) -> str:
        self.calls += 1
        return super()._call(*args, **kwargs)


@pytest.fixture
def llm_cache() -> Iterator[SemCache]:
    cache = SemCache(threshold=0.9)
    set_llm_cache(cache)
    yield cache
    set_llm_cache(None)


def chat(name: str) -> CountingChat:
    return CountingChat(responses=[f"{name} answer {i}" for i in range(20)])


SYSTEM = SystemMessage("You are a support agent. Be brief.")


def ask(model: CountingChat, question: str, system: SystemMessage = SYSTEM) -> str:
    return str(model.invoke([system, HumanMessage(question)]).content)


def test_repeats_and_paraphrases_hit_through_set_llm_cache(llm_cache: SemCache) -> None:
    model = chat("a")
    first = ask(model, "How do I reset my password?")
    assert ask(model, "How do I reset my password?") == first  # exact
    assert ask(model, "how do I reset my password") == first  # paraphrase (near-identical)
    assert ask(model, "How do I delete my account?") != first  # another question
    assert model.calls == 2
    stats = llm_cache.stats()
    assert (stats.exact_hits, stats.semantic_hits, stats.misses) == (1, 1, 2)


def test_no_hit_crosses_models(llm_cache: SemCache) -> None:
    first, second = chat("first"), chat("second")
    assert ask(first, "How do I reset my password?") == "first answer 0"
    assert ask(second, "How do I reset my password?") == "second answer 0"
    assert ask(second, "how do I reset my password") == "second answer 0"
    assert (first.calls, second.calls) == (1, 1)


def test_no_hit_crosses_conversation_contexts(llm_cache: SemCache) -> None:
    model = chat("a")
    ask(model, "How do I reset my password?")
    other = SystemMessage("You are a pirate. Answer in verse.")
    assert ask(model, "How do I reset my password?", other) == "a answer 1"
    earlier = [SYSTEM, HumanMessage("hi"), AIMessage("hello")]
    assert model.invoke([*earlier, HumanMessage("How do I reset my password?")]).content == (
        "a answer 2"
    )
    # the same longer conversation, paraphrased, hits its own context
    again = model.invoke([*earlier, HumanMessage("how do I reset my password")])
    assert again.content == "a answer 2"
    assert model.calls == 3


async def test_async_model_calls_use_the_cache(llm_cache: SemCache) -> None:
    model = chat("a")
    messages = [SYSTEM, HumanMessage("How do I reset my password?")]
    first = await model.ainvoke(messages)
    again = await model.ainvoke([SYSTEM, HumanMessage("how do I reset my password")])
    assert again.content == first.content and model.calls == 1


def test_plain_llm_prompts_hit_by_meaning(llm_cache: SemCache) -> None:
    llm = FakeListLLM(responses=["one", "two"])
    assert llm.invoke("How do I reset my password?") == "one"
    assert llm.invoke("how do I reset my password") == "one"
    assert llm.invoke("What is the capital of France?") == "two"


def test_chat_generations_with_tool_calls_round_trip_equal() -> None:
    cache = SemCache()
    message = AIMessage(
        content="",
        tool_calls=[{"name": "lookup_order", "args": {"order": 42}, "id": "call_1"}],
        usage_metadata={"input_tokens": 12, "output_tokens": 7, "total_tokens": 19},
        response_metadata={"model_name": "fake-1", "finish_reason": "tool_calls"},
    )
    generations = [ChatGeneration(message=message, generation_info={"finish_reason": "stop"})]
    prompt = dumps([SYSTEM, HumanMessage("Where is my order 42?")])
    cache.update(prompt, "model", generations)
    found = cache.lookup(prompt, "model")
    assert found == generations
    assert found[0].message.tool_calls == message.tool_calls


def test_every_hit_returns_new_objects() -> None:
    cache = SemCache()
    cache.update("prompt text here", "model", [Generation(text="answer")])
    first = cache.lookup("prompt text here", "model")
    assert first is not None
    first[0].text = "mutated by the caller"
    first.append(Generation(text="extra"))
    second = cache.lookup("prompt text here", "model")
    assert second == [Generation(text="answer")] and second is not first


def test_a_response_that_does_not_load_is_a_miss() -> None:
    cache = SemCache()
    cache.update("prompt text here", "model", [Generation(text="answer")])
    (key,) = cache.engine.scan(namespace="llm:default")
    entry = cache.engine.get_entry(key, namespace="llm:default")
    assert entry is not None
    cache.engine.set(
        key, '{"not": "generations"}', metadata=entry.metadata, namespace=entry.namespace
    )
    assert cache.lookup("prompt text here", "model") is None
    stats = cache.stats()
    assert (stats.hits, stats.misses) == (0, 1)


def test_ttl_expires_responses() -> None:
    clock = FakeClock(1_000.0)
    cache = SemCache(ttl=10, cache=Engine(clock=clock))
    cache.update("How do I reset my password?", "model", [Generation(text="answer")])
    clock.advance(9)
    assert cache.lookup("how do I reset my password", "model") is not None
    clock.advance(2)
    assert cache.lookup("How do I reset my password?", "model") is None
    assert cache.lookup("how do I reset my password", "model") is None


def test_clear_by_model_and_clear_all_keep_other_users_of_the_engine() -> None:
    engine = Engine()
    engine.set("someone else's", 1)
    cache = SemCache(cache=engine)
    cache.update("question one here", "model-a", [Generation(text="a")])
    cache.update("question one here", "model-b", [Generation(text="b")])
    cache.clear(llm_string="model-a")
    assert cache.lookup("question one here", "model-a") is None
    assert cache.lookup("question one here", "model-b") == [Generation(text="b")]
    cache.clear()
    assert cache.lookup("question one here", "model-b") is None
    assert engine.get("someone else's") == 1


async def test_async_clear_and_update() -> None:
    cache = SemCache()
    await cache.aupdate("question one here", "model-a", [Generation(text="a")])
    await cache.aupdate("question one here", "model-b", [Generation(text="b")])
    await cache.aclear(llm_string="model-a")
    assert await cache.alookup("question one here", "model-a") is None
    assert await cache.alookup("question one here", "model-b") == [Generation(text="b")]
    await cache.aclear()
    assert await cache.alookup("question one here", "model-b") is None


async def test_concurrent_async_lookups_all_hit() -> None:
    cache = SemCache(threshold=0.9)
    await cache.aupdate("How do I reset my password?", "model", [Generation(text="reset")])
    prompts = ["How do I reset my password?", "how do I reset my password"] * 25
    found = await asyncio.gather(*(cache.alookup(p, "model") for p in prompts))
    assert all(f == [Generation(text="reset")] for f in found)
    assert len({id(f) for f in found}) == 50  # 50 distinct lists
    stats = cache.stats()
    assert (stats.exact_hits, stats.semantic_hits, stats.misses) == (25, 25, 0)


def test_durable_engine_keeps_responses_across_reopen(tmp_path: object) -> None:
    directory = f"{tmp_path}/llm"
    with Engine(path=directory) as engine:
        SemCache(cache=engine).update("question one here", "m", [Generation(text="kept")])
    with Engine(path=directory) as engine:
        found = SemCache(cache=engine).lookup("question one here", "m")
    assert found == [Generation(text="kept")]


def test_prompt_split_blanks_only_the_last_human_text() -> None:
    image = {"type": "image_url", "image_url": {"url": "http://x/cat.png"}}
    with_image = HumanMessage([{"type": "text", "text": "What is this?"}, image])
    split = split_prompt(dumps([SYSTEM, HumanMessage("earlier"), AIMessage("ok"), with_image]))
    assert split.query == "What is this?"
    assert "earlier" in split.context and "cat.png" in split.context
    assert "What is this?" not in split.context
    other_image = HumanMessage([{"type": "text", "text": "What is this?"}, {**image, "x": 1}])
    assert split_prompt(dumps([SYSTEM, HumanMessage("earlier"), AIMessage("ok"), other_image])) != (
        split
    )
    plain = split_prompt("[not json")
    assert (plain.query, plain.context) == ("[not json", "")
    no_human = split_prompt(dumps([SYSTEM]))
    assert no_human.query == ""


odd_texts = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=40, deadline=None)
@given(odd_texts, odd_texts)
def test_a_text_part_whose_text_is_not_a_str_stays_whole_in_the_context(
    odd: object, other: object
) -> None:
    """A ``{"type": "text", "text": None}`` part (LangChain takes it, and so do models) raised
    a bare TypeError on every cached call; it now keeps the part as it is in the context,
    so two prompts that differ only in it never share an answer."""
    question = {"type": "text", "text": "Describe this picture"}
    first = split_prompt(dumps([HumanMessage([question, {"type": "text", "text": odd}])]))
    assert first.query == "Describe this picture"
    second = split_prompt(dumps([HumanMessage([question, {"type": "text", "text": other}])]))
    assert (first.context == second.context) == (dumps(odd) == dumps(other))
    cached = CountingChat(responses=["first", "second"], cache=SemCache(threshold=0.5))
    served = [
        cached.invoke([HumanMessage([question, {"type": "text", "text": text}])]).content
        for text in (odd, other)
    ]
    assert served == (["first", "first"] if dumps(odd) == dumps(other) else ["first", "second"])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4),
    lambda inner: st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=4,
)


@settings(max_examples=60, deadline=None)
@given(json_values, json_values)
def test_a_message_json_whose_content_is_no_str_or_list_is_all_context(
    content: object, other: object
) -> None:
    """Found by review: a plain LLM's prompt (any str) that parses as serialised messages
    whose content is null or a number raised a bare TypeError in lookup. Such content is
    context now: it must match exactly."""

    def prompt(value: object) -> str:
        human = {"lc": 1, "type": "constructor", "id": ["langchain", "schema", "messages",
                 "HumanMessage"], "kwargs": {"content": value}}  # fmt: skip
        return json.dumps([human])

    cache = SemCache(threshold=0.5)
    assert cache.lookup(prompt(content), "llm") is None
    cache.update(prompt(content), "llm", [Generation(text="first")])
    served = cache.lookup(prompt(other), "llm")
    same = json.dumps(content) == json.dumps(other)
    if isinstance(content, str) and isinstance(other, str):
        return  # text: compared by meaning (other tests)
    assert served == ([Generation(text="first")] if same else None)


def test_update_of_a_prompt_that_is_no_prompt_is_refused_by_name() -> None:
    """Found by review: lookup, feedback and invalidate named it; update raised a bare
    AttributeError."""
    responses = ResponseCache()
    for call in (
        lambda: responses.update("a str", "model", "answer"),  # type: ignore[arg-type]
        lambda: asyncio.run(responses.aupdate("a str", "model", "answer")),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidArgumentError, match="prompt must be a Prompt"):
            call()
    assert len(responses.cache) == 0


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="threshold"):
        SemCache(threshold=1.5)
    with pytest.raises(InvalidArgumentError, match="max_entries"):
        SemCache(max_entries=10, cache=Engine())


class AsyncOnlyEmbeddings(Embeddings):
    """Embeds through its async methods only: the sync ones fail loudly."""

    def __init__(self) -> None:
        self.inner = HashingEmbedder()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise AssertionError("the async path called the sync embedding")

    def embed_query(self, text: str) -> list[float]:
        raise AssertionError("the async path called the sync embedding")

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.inner.embed_document(text).tolist() for text in texts]

    async def aembed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text).tolist()


async def test_async_calls_embed_with_the_async_methods() -> None:
    cache = SemCache(embedding=AsyncOnlyEmbeddings(), threshold=0.9)
    await cache.aupdate("How do I reset my password?", "model", [Generation(text="reset")])
    assert await cache.alookup("how do I reset my password", "model") == [Generation(text="reset")]
    assert cache.stats().semantic_hits == 1


async def test_exact_hits_count_in_the_shared_engine_stats_sync_and_async() -> None:
    """An engine shared with an LLM cache reports its exact hits and misses (reading the
    entry with its metadata must not bypass the engine's counters)."""
    engine = Engine()
    cache = SemCache(cache=engine)
    cache.update("prompt", "llm", [Generation(text="answer")])
    for _ in range(3):
        assert cache.lookup("prompt", "llm") is not None
    assert await cache.alookup("prompt", "llm") is not None
    stats = engine.stats()
    assert stats.hits == 4 and cache.stats().exact_hits == 4
    assert engine.get_entry("missing") is None and engine.stats().misses == stats.misses
    assert engine.get_entry("missing", count=True) is None
    assert engine.stats().misses == stats.misses + 1
