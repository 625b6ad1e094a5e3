"""Adapters refuse what they cannot use at construction: a cache that is not the engine
(the LangChain ``SemCache`` is the usual mix-up) and a bad ``ttl``, before any LLM call."""

from __future__ import annotations

import asyncio
import math
import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import FakeListLLM
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation
from pydantic import BaseModel

from semcache_core import (
    EmbedderError,
    InvalidArgumentError,
    InvalidKeyError,
    InvalidValueError,
    SemCache,
)
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


@pytest.mark.parametrize("wrong", [None, "minilm", object()], ids=["None", "str", "object"])
def test_a_vector_store_without_embeddings_is_refused_at_construction(wrong: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="embedding must be LangChain Embeddings"):
        SemCacheVectorStore(wrong)


def test_a_vector_store_namespace_may_hold_a_colon_and_stays_its_own() -> None:
    engine = SemCache()
    first = SemCacheVectorStore(EMBEDDING, engine, namespace="a:b")
    second = SemCacheVectorStore(EMBEDDING, engine, namespace="a")
    first.add_texts(["alpha"], ids=["1"])
    assert second.get_by_ids(["1"]) == []
    assert [d.page_content for d in first.get_by_ids(["1"])] == ["alpha"]


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
    "feedback": lambda cache, prompt, model: cache.feedback(prompt, model, True),
    "invalidate": lambda cache, prompt, model: cache.invalidate(prompt, model),
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


NOT_TEXT = st.one_of(
    st.none(), st.integers(), st.binary(max_size=4), st.lists(st.text(max_size=3), max_size=2)
)


@pytest.mark.parametrize("call", list(PROMPT_CALLS.values()), ids=list(PROMPT_CALLS))
@settings(max_examples=15, deadline=None)
@given(bad=NOT_TEXT, in_model=st.booleans())
def test_a_prompt_or_model_that_is_not_text_gets_a_typed_error(
    call, bad: Any, in_model: bool
) -> None:
    """A raw AttributeError ('NoneType' object has no attribute 'encode') came from inside."""
    cache = LangChainSemCache()
    cache.update("fine prompt", "model", [Generation(text="kept")])
    prompt, model = ("fine prompt", bad) if in_model else (bad, "model")
    with pytest.raises(InvalidArgumentError, match="llm_string" if in_model else "prompt"):
        call(cache, prompt, model)
    assert [g.text for g in cache.lookup("fine prompt", "model")] == ["kept"]


UNSERVABLE = st.one_of(
    st.just([]),
    st.text(max_size=5),
    st.binary(max_size=5),
    st.none(),
    st.integers(),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.lists(st.one_of(st.text(max_size=3), st.integers(), st.none()), min_size=1, max_size=3),
    st.lists(st.just({"text": "x"}), min_size=1, max_size=2),
)


@settings(max_examples=60, deadline=None)
@given(bad=UNSERVABLE, use_async=st.booleans())
def test_an_update_that_could_never_be_served_is_refused_and_keeps_the_answer(
    bad: Any, use_async: bool
) -> None:
    """``[]`` was stored and served as a hit (LangChain then raised IndexError); a str or a
    list of dicts replaced a good answer with one that never loads."""
    cache = LangChainSemCache()
    cache.update("p", "m", [Generation(text="good")])
    with pytest.raises(InvalidValueError, match="return_val"):
        if use_async:
            asyncio.run(cache.aupdate("p", "m", bad))
        else:
            cache.update("p", "m", bad)
    assert [g.text for g in cache.lookup("p", "m")] == ["good"]
    assert cache.stats().updates == 1


def test_generations_given_as_an_iterator_are_stored_whole() -> None:
    """Usage accounting read the iterator first, and an empty list was stored."""
    cache = LangChainSemCache()
    cache.update("p", "m", iter([Generation(text="one"), Generation(text="two")]))
    assert [g.text for g in cache.lookup("p", "m")] == ["one", "two"]


def test_a_response_langchain_cannot_serialise_is_not_stored_and_keeps_the_answer() -> None:
    """A parsed pydantic model in additional_kwargs (structured output) serialises as
    'not_implemented', which never loads: it was counted, replaced a good answer, and was
    never served."""

    class Parsed(BaseModel):
        answer: int

    cache = LangChainSemCache()
    cache.update("p", "m", [ChatGeneration(message=AIMessage("good"))])
    unloadable = AIMessage("new", additional_kwargs={"parsed": Parsed(answer=4)})
    with pytest.warns(UserWarning, match="not cached"):
        cache.update("p", "m", [ChatGeneration(message=unloadable)])
    assert [g.text for g in cache.lookup("p", "m")] == ["good"]
    assert cache.stats().updates == 1


@pytest.mark.parametrize(
    "text",
    ['"type": "not_implemented"', '{"lc": 1, "type": "not_implemented", "id": ["x"]}'],
)
def test_an_answer_that_only_reads_like_langchains_marker_is_stored(text: str) -> None:
    """The refusal above looked for the marker's text anywhere in the JSON: an answer or
    a tool call argument holding it was never cached, with a warning each time."""
    cache = LangChainSemCache()
    message = AIMessage(
        text, tool_calls=[{"name": "triage", "id": "c1", "args": {"type": "not_implemented"}}]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cache.update("p", "m", [ChatGeneration(message=message)])
    served = cache.lookup("p", "m")
    assert served is not None and served[0].text == text
    assert served[0].message.tool_calls[0]["args"] == {"type": "not_implemented"}


@pytest.mark.parametrize(
    "kwargs", [{"llm_strng": "model-a"}, {"model": "model-a"}, {"llm_string": 5}]
)
def test_clear_with_a_misspelt_or_bad_keyword_removes_nothing(kwargs: dict[str, Any]) -> None:
    """An unknown keyword was ignored: clear(llm_strng="model-a") removed every model's."""
    cache = LangChainSemCache()
    for model in ("model-a", "model-b"):
        cache.update("p", model, [Generation(text=model)])
    with pytest.raises(InvalidArgumentError):
        cache.clear(**kwargs)
    with pytest.raises(InvalidArgumentError):
        asyncio.run(cache.aclear(**kwargs))
    assert [cache.lookup("p", m)[0].text for m in ("model-a", "model-b")] == ["model-a", "model-b"]
    cache.clear(llm_string="model-a")
    assert cache.lookup("p", "model-a") is None and cache.lookup("p", "model-b") is not None


# --- what the pydantic bases and list() would have taken silently (review) -------------------


def test_cached_chat_model_refuses_a_misspelt_keyword_and_keeps_the_bases_own() -> None:
    from langchain_core.language_models import FakeListChatModel

    from semcache_integrations.langchain import CachedChatModel

    mine = LangChainSemCache()
    with pytest.raises(TypeError, match=r"unexpected keyword arguments: cahce$"):
        CachedChatModel(FakeListChatModel(responses=["a"]), cahce=mine)  # a fresh cache before
    wrapped = CachedChatModel(FakeListChatModel(responses=["a"]), cache=mine, tags=["t"])
    assert wrapped.llm_cache is mine and wrapped.tags == ["t"]


@pytest.mark.parametrize(
    ("texts", "metadatas", "error", "named"),
    [
        ("hello", None, InvalidArgumentError, "single str"),  # stored as h, e, l, l, o
        (b"hi", None, InvalidArgumentError, "single bytes"),
        (["ab"], [["ab"]], InvalidValueError, r"metadatas\[0\]"),  # stored as {"a": "b"}
        (["a", "b"], [{"k": 1}, 5], InvalidValueError, r"metadatas\[1\]"),
        (["a"], {"k": 1}, InvalidArgumentError, "metadatas"),
    ],
    ids=["str", "bytes", "pair-list", "int", "one-dict"],
)
def test_add_texts_refuses_what_it_would_misread_and_stores_nothing(
    texts: Any, metadatas: Any, error: type[Exception], named: str
) -> None:
    store = SemCacheVectorStore(DeterministicFakeEmbedding(size=8))
    with pytest.raises(error, match=named):
        store.add_texts(texts, metadatas=metadatas)
    with pytest.raises(error, match=named):
        asyncio.run(store.aadd_texts(texts, metadatas=metadatas))
    assert len(store.cache) == 0


# --- the vector store's writes and searches (review) ------------------------------------------


class HoleyEmbeddings(Embeddings):
    """2-d vectors; ``None`` for a text starting "hole" (an embedder that failed on it).
    Counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def embed_documents(self, texts: list[str]) -> list[Any]:
        self.calls += 1
        return [None if t.startswith("hole") else [1.0, float(len(t))] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.calls += 1
        return [1.0, 0.0]


def _stored(store: SemCacheVectorStore) -> list[tuple[str | None, str]]:
    """Every document a search finds, as (id, text), by id."""
    return sorted((d.id, d.page_content) for d in store.similarity_search("q", k=100))


@settings(max_examples=40, deadline=None)
@given(
    holes=st.lists(st.booleans(), min_size=1, max_size=5).filter(any),
    replaces=st.booleans(),
    use_async=st.booleans(),
)
def test_a_none_vector_from_the_embedder_is_refused_and_stores_nothing(
    holes: list[bool], replaces: bool, use_async: bool
) -> None:
    """A ``None`` row was stored as a document with no vector: reported added and returned
    by get_by_ids, never found by a search; for an existing id it dropped out of search."""
    store = SemCacheVectorStore(HoleyEmbeddings())
    store.add_texts(["kept"], [{"v": 1}], ids=["old"])
    texts = ["hole" if hole else f"text {i}" for i, hole in enumerate(holes)]
    ids = [f"new{i}" for i in range(len(texts))]
    if replaces:
        ids[holes.index(True)] = "old"
    with pytest.raises(EmbedderError, match="None"):
        if use_async:
            asyncio.run(store.aadd_texts(texts, ids=ids))
        else:
            store.add_texts(texts, ids=ids)
    asked = list(dict.fromkeys([*ids, "old"]))
    found = [(d.id, d.page_content, d.metadata) for d in store.get_by_ids(asked)]
    assert found == [("old", "kept", {"v": 1})]
    assert _stored(store) == [("old", "kept")]
    assert len(store.cache) == 1


NOT_STR_IDS = st.one_of(
    st.sampled_from([0, False, 0.0, b"", [], (), 1, True, b"id"]),
    st.integers(),
    st.floats(allow_nan=False),
    st.binary(max_size=3),
    st.lists(st.text(max_size=2), max_size=2),
)
ADD_WITH_IDS = {
    "add_texts": lambda s, ids: s.add_texts(["a", "b"], ids=ids),
    "aadd_texts": lambda s, ids: asyncio.run(s.aadd_texts(["a", "b"], ids=ids)),
    "add_documents": lambda s, ids: s.add_documents(
        [Document("a", id="doc-a"), Document("b")], ids=ids
    ),
    "aadd_documents": lambda s, ids: asyncio.run(
        s.aadd_documents([Document("a"), Document("b", id="doc-b")], ids=ids)
    ),
}


@pytest.mark.parametrize("call", list(ADD_WITH_IDS.values()), ids=list(ADD_WITH_IDS))
@settings(max_examples=25, deadline=None)
@given(bad=NOT_STR_IDS, position=st.integers(0, 1))
def test_every_non_str_id_is_refused_falsy_ones_too(call: Any, bad: Any, position: int) -> None:
    """``ids=[0]`` (or False, 0.0, b"") was replaced by a random uuid: the caller's id was
    lost, while ``ids=[1]`` raised."""
    embedder = HoleyEmbeddings()
    store = SemCacheVectorStore(embedder)
    store.add_texts(["kept"], ids=["old"])
    ids: list[Any] = ["good", "good2"]
    ids[position] = bad
    with pytest.raises(InvalidKeyError, match="document ids must be str"):
        call(store, ids)
    assert embedder.calls == 1  # refused before embedding
    assert _stored(store) == [("old", "kept")]


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (ADD_WITH_IDS["add_texts"], [None, None]),
        (ADD_WITH_IDS["aadd_texts"], [None, None]),
        (ADD_WITH_IDS["add_documents"], ["doc-a", None]),
        (ADD_WITH_IDS["aadd_documents"], [None, "doc-b"]),
    ],
    ids=list(ADD_WITH_IDS),
)
def test_a_none_or_empty_id_means_document_id_or_a_fresh_one(
    call: Any, expected: list[str | None]
) -> None:
    """As in LangChain's InMemoryVectorStore (None in ``expected``: a fresh uuid4 hex)."""
    store = SemCacheVectorStore(HoleyEmbeddings())
    added = call(store, [None, ""])
    for got, wanted in zip(added, expected, strict=True):
        assert got == wanted if wanted else len(got) == 32
    assert sorted(added) == [doc_id for doc_id, _ in _stored(store)]


ITERABLES = {
    "iterator": iter,
    "generator": lambda rows: (row for row in rows),
    "tuple": tuple,
    "map": lambda rows: map(lambda row: row, rows),
}


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 4),
    metadata_form=st.sampled_from([None, *ITERABLES]),
    id_form=st.sampled_from([None, *ITERABLES]),
    use_async=st.booleans(),
)
def test_metadatas_and_ids_may_be_any_iterable(
    n: int, metadata_form: str | None, id_form: str | None, use_async: bool
) -> None:
    """An iterator of metadatas or ids raised a bare TypeError from len()."""
    store = SemCacheVectorStore(HoleyEmbeddings())
    texts = [f"text {i}" for i in range(n)]
    metadatas = [{"i": i} for i in range(n)]
    ids = [f"id{i}" for i in range(n)]
    given_metadatas = ITERABLES[metadata_form](metadatas) if metadata_form else metadatas
    given_ids = ITERABLES[id_form](ids) if id_form else ids
    if use_async:
        added = asyncio.run(store.aadd_texts(texts, given_metadatas, ids=given_ids))
    else:
        added = store.add_texts(texts, given_metadatas, ids=given_ids)
    assert added == ids
    assert [(d.id, d.page_content, d.metadata) for d in store.get_by_ids(ids)] == list(
        zip(ids, texts, metadatas, strict=True)
    )


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"metadatas": iter([{"a": 1}])}, "metadatas"),
        ({"ids": iter(["x", "y", "z"])}, "ids"),
        ({"ids": {"x", "y"}}, "ids"),  # a set has no order to pair with the texts
        ({"ids": 5}, "ids"),
    ],
    ids=["short-metadatas", "long-ids", "set", "int"],
)
def test_iterables_of_the_wrong_length_or_kind_are_refused(kwargs: Any, named: str) -> None:
    embedder = HoleyEmbeddings()
    store = SemCacheVectorStore(embedder)
    with pytest.raises(InvalidArgumentError, match=named):
        store.add_texts(["a", "b"], **kwargs)
    assert embedder.calls == 0 and len(store.cache) == 0


TEXT_SEARCHES = {
    "similarity_search": lambda s, k: s.similarity_search("q", k=k),
    "similarity_search_with_score": lambda s, k: s.similarity_search_with_score("q", k=k),
    "relevance_scores": lambda s, k: s.similarity_search_with_relevance_scores("q", k=k),
    "asimilarity_search": lambda s, k: asyncio.run(s.asimilarity_search("q", k=k)),
    "asimilarity_search_with_score": lambda s, k: asyncio.run(
        s.asimilarity_search_with_score("q", k=k)
    ),
}


@pytest.mark.parametrize("call", list(TEXT_SEARCHES.values()), ids=list(TEXT_SEARCHES))
@settings(max_examples=20, deadline=None)
@given(
    k=st.one_of(
        st.integers(max_value=0), st.floats(), st.booleans(), st.text(max_size=2), st.none()
    )
)
def test_a_bad_k_costs_no_embedding_call(call: Any, k: Any) -> None:
    """similarity_search(k=0) paid for embed_query before refusing k (MMR checked first)."""
    embedder = HoleyEmbeddings()
    store = SemCacheVectorStore(embedder)
    store.add_texts(["kept"], ids=["kept"])
    with pytest.raises(InvalidArgumentError, match="k must be an int"):
        call(store, k)
    assert embedder.calls == 1  # the add_texts only
