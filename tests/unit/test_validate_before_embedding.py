"""Bad input is refused before the embedder is paid.

Embedding a text is the expensive part of ``put``, a text ``search`` and a LangChain
``add_texts`` or MMR search (an API call, or a model run): a bad ``ttl``, metadata,
namespace, ``k``, threshold, filter, id or MMR argument must raise its typed error with no
embedding call made, and store nothing. ``put`` paid one call before refusing a bad
``ttl``, metadata or namespace; ``search`` one per query before refusing a bad ``k``,
threshold or filter; ``add_texts`` one before refusing an id or text with a lone
surrogate; the MMR searches raised a raw ``TypeError`` for ``fetch_k="20"`` after
embedding, and took ``fetch_k=-1``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.embeddings import Embeddings

from semcache_core import SemCache, SemCacheError
from semcache_integrations.langchain import SemCacheVectorStore

DIM = 8


class CountingEmbedder(Embeddings):
    """A LangChain embedding (and a semcache embedder) that counts its texts."""

    def __init__(self) -> None:
        self.texts = 0

    def _vector(self, text: str) -> list[float]:
        self.texts += 1
        rng = np.random.default_rng(len(text))
        return rng.standard_normal(DIM).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


BAD_TTLS = st.one_of(st.floats(max_value=0), st.just(float("nan")), st.text(max_size=3))
BAD_KS = st.one_of(st.integers(max_value=0), st.floats(), st.text(max_size=3))
BAD_THRESHOLDS = st.one_of(
    st.floats(min_value=1.0001, allow_infinity=True), st.floats(max_value=-1.0001), st.text()
)
BAD_NAMESPACES = st.one_of(st.integers(), st.just("tenant\ud800"))
BAD_FILTERS = st.sampled_from(
    [{"n": {"$nope": 1}}, {"n": {"$in": "not a list"}}, {"$or": "x"}, {3: 1}, {"n": {"$gt": [1]}}]
)
BAD_METADATA = st.sampled_from([{1: 2}, {"a": {(1, 2): 3}}, {"a": object()}, "not a dict"])

CacheCall = Callable[[SemCache, Any], Any]

CACHE_CALLS: dict[str, tuple[CacheCall, st.SearchStrategy[Any]]] = {
    "put ttl": (lambda c, bad: c.put("k", "some text", ttl=bad), BAD_TTLS),
    "put metadata": (lambda c, bad: c.put("k", "some text", metadata=bad), BAD_METADATA),
    "put namespace": (lambda c, bad: c.put("k", "some text", namespace=bad), BAD_NAMESPACES),
    "aput ttl": (lambda c, bad: asyncio.run(c.aput("k", "some text", ttl=bad)), BAD_TTLS),
    "aput metadata": (
        lambda c, bad: asyncio.run(c.aput("k", "some text", metadata=bad)),
        BAD_METADATA,
    ),
    "search k": (lambda c, bad: c.search("a query", k=bad), BAD_KS),
    "search threshold": (lambda c, bad: c.search("a query", threshold=bad), BAD_THRESHOLDS),
    "search namespace": (lambda c, bad: c.search("a query", namespace=bad), BAD_NAMESPACES),
    "search filters": (lambda c, bad: c.search("a query", filters=bad), BAD_FILTERS),
    "search_batch k": (lambda c, bad: c.search_batch(["one", "two"], k=bad), BAD_KS),
    "search_batch filters": (
        lambda c, bad: c.search_batch(["one", "two"], filters=bad),
        BAD_FILTERS,
    ),
    "asearch k": (lambda c, bad: asyncio.run(c.asearch("a query", k=bad)), BAD_KS),
    "asearch filters": (
        lambda c, bad: asyncio.run(c.asearch("a query", filters=bad)),
        BAD_FILTERS,
    ),
    "asearch_batch threshold": (
        lambda c, bad: asyncio.run(c.asearch_batch(["one", "two"], threshold=bad)),
        BAD_THRESHOLDS,
    ),
    "aget_similar threshold": (
        lambda c, bad: asyncio.run(c.aget_similar("a query", threshold=bad)),
        BAD_THRESHOLDS,
    ),
    "aget_similar namespace": (
        lambda c, bad: asyncio.run(c.aget_similar("a query", namespace=bad)),
        BAD_NAMESPACES,
    ),
    "get_similar threshold": (
        lambda c, bad: c.get_similar("a query", threshold=bad),
        BAD_THRESHOLDS,
    ),
}


@pytest.mark.parametrize("name", list(CACHE_CALLS))
@settings(max_examples=15, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_the_cache_refuses_bad_options_before_embedding(name: str, data: st.DataObject) -> None:
    call, bad_values = CACHE_CALLS[name]
    bad = data.draw(bad_values)
    embedder = CountingEmbedder()
    cache = SemCache(embedder=embedder)
    cache.set("kept", 1, vector=np.ones(DIM))
    with pytest.raises(SemCacheError):
        call(cache, bad)
    assert embedder.texts == 0, f"{name}: {embedder.texts} texts embedded before the refusal"
    assert cache.scan() == ["kept"]


STORE_CALLS: dict[str, Callable[[SemCacheVectorStore], Any]] = {
    "add_texts: an int id": lambda s: s.add_texts(["text"], ids=[1]),
    "add_texts: an id with a lone surrogate": lambda s: s.add_texts(["text"], ids=["id\ud800"]),
    "add_texts: a text with a lone surrogate": lambda s: s.add_texts(["ok", "bad\udc00"]),
    "mmr: fetch_k a str": lambda s: s.max_marginal_relevance_search("q", fetch_k="20"),
    "mmr: fetch_k below 0": lambda s: s.max_marginal_relevance_search("q", fetch_k=-1),
    "mmr: k a float": lambda s: s.max_marginal_relevance_search("q", k=2.5),
    "mmr: lambda_mult above 1": lambda s: s.max_marginal_relevance_search("q", lambda_mult=1.5),
    "ammr: fetch_k -3": lambda s: asyncio.run(s.amax_marginal_relevance_search("q", fetch_k=-3)),
    "mmr by vector: fetch_k a list": lambda s: s.max_marginal_relevance_search_by_vector(
        [1.0] * DIM, fetch_k=[3]
    ),
}


@pytest.mark.parametrize("name", list(STORE_CALLS))
def test_the_langchain_vector_store_refuses_bad_input_before_embedding(name: str) -> None:
    embedder = CountingEmbedder()
    store = SemCacheVectorStore(embedder)
    store.add_texts(["kept"], ids=["kept"])
    before = embedder.texts
    with pytest.raises(SemCacheError) as raised:
        STORE_CALLS[name](store)
    assert isinstance(raised.value, (TypeError, ValueError))  # what LangChain callers catch
    assert embedder.texts == before
    assert [doc.id for doc in store.get_by_ids(["kept"])] == ["kept"]
    assert len(store._cache) == 1


def test_an_unknown_search_keyword_costs_no_embedding() -> None:
    embedder = CountingEmbedder()
    cache = SemCache(embedder=embedder)
    with pytest.raises(TypeError, match="tresholdd"):
        cache.search("a query", tresholdd=0.5)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="tresholdd"):
        asyncio.run(cache.asearch("a query", tresholdd=0.5))
    with pytest.raises(TypeError, match="tresholdd"):
        asyncio.run(cache.asearch_batch(["a query"], tresholdd=0.5))
    assert embedder.texts == 0


def test_mmr_takes_fetch_k_zero_and_numpy_counts() -> None:
    """``fetch_k`` below ``k`` (0 included) is ``k``, as before; a numpy integer ``k``
    passed the checks and was then refused after the search."""
    store = SemCacheVectorStore(CountingEmbedder())
    store.add_texts(["one", "two", "three"], ids=["1", "2", "3"])
    assert len(store.max_marginal_relevance_search("two", k=np.int64(2), fetch_k=0)) == 2
    assert len(asyncio.run(store.amax_marginal_relevance_search("two", k=np.int32(1)))) == 1
