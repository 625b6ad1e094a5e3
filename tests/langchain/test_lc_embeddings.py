"""``CachedEmbeddings``: the standard LangChain embeddings suite, then what it does not cover.

The concurrency tests make the model wait until every caller has *missed* its texts
(``stats().misses``), so all of them provably overlap while it runs; no test sleeps.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from float32 import float32_close
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from threads import run_threads, wait_until

from semcache_core import EmbedderError, InvalidArgumentError, InvalidKeyError, SemCache
from semcache_integrations.langchain.embeddings import CachedEmbeddings

SIZE = 16


class TestCachedEmbeddingsStandard(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[CachedEmbeddings]:
        return CachedEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"underlying": DeterministicFakeEmbedding(size=SIZE)}


class CountingEmbeddings(Embeddings):
    """A model like E5: queries and documents embed differently. It records every call.

    ``gate``, when set, runs before the model answers (tests use it to hold the model
    until all callers are waiting); async calls are recorded apart from sync ones.
    """

    def __init__(self, size: int = SIZE, tag: str = "") -> None:
        self.model = DeterministicFakeEmbedding(size=size)
        self.tag = tag  # models with other tags embed every text differently
        self.calls: list[tuple[str, object]] = []
        self.lock = threading.Lock()
        self.gate: Callable[[], None] | None = None

    def _record(self, kind: str, what: object) -> None:
        with self.lock:
            self.calls.append((kind, what))

    def expected_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.embed_documents([f"{self.tag}passage: {t}" for t in texts])

    def expected_query(self, text: str) -> list[float]:
        return self.model.embed_query(f"{self.tag}query: {text}")

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self._record("documents", list(texts))
        if self.gate is not None:
            self.gate()
        return self.expected_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self._record("query", text)
        if self.gate is not None:
            self.gate()
        return self.expected_query(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        self._record("adocuments", list(texts))
        return self.expected_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        self._record("aquery", text)
        return self.expected_query(text)

    def texts_embedded(self) -> list[str]:
        out: list[str] = []
        for _kind, what in self.calls:
            out.extend(what if isinstance(what, list) else [what])
        return out


# --- each distinct text once, misses batched ---------------------------------------------


def test_each_distinct_text_is_embedded_once_and_misses_go_in_one_call():
    model = CountingEmbeddings()
    embeddings = CachedEmbeddings(model)
    texts = ["alpha", "beta", "alpha", "gamma", "beta"]

    assert float32_close(embeddings.embed_documents(texts), model.expected_documents(texts))
    assert model.calls == [("documents", ["alpha", "beta", "gamma"])]
    assert float32_close(embeddings.embed_documents(texts), model.expected_documents(texts))
    assert len(model.calls) == 1

    mixed = ["delta", "alpha", "epsilon", "delta"]
    assert float32_close(embeddings.embed_documents(mixed), model.expected_documents(mixed))
    assert model.calls[1:] == [("documents", ["delta", "epsilon"])]
    assert embeddings.embed_documents([]) == []
    assert len(model.calls) == 2


def test_results_are_plain_float_lists_equal_to_the_model_output():
    model = CountingEmbeddings()
    embeddings = CachedEmbeddings(model, share_document_vectors=False)
    seen = []
    for _ in range(2):  # a miss, then a hit: the same exact floats, the model's as float32
        (vector,) = embeddings.embed_documents(["x"])
        assert type(vector) is list and all(type(v) is float for v in vector)
        assert float32_close(vector, model.expected_documents(["x"])[0])
        query = embeddings.embed_query("x")
        assert type(query) is list and float32_close(query, model.expected_query("x"))
        seen.append((vector, query))
    assert seen[0] == seen[1]


async def test_async_twins_use_the_async_model_and_share_the_cache():
    model = CountingEmbeddings()
    embeddings = CachedEmbeddings(model, share_document_vectors=False)
    texts = ["one", "two", "one"]
    assert float32_close(await embeddings.aembed_documents(texts), model.expected_documents(texts))
    assert float32_close(await embeddings.aembed_query("one"), model.expected_query("one"))
    assert model.calls == [("adocuments", ["one", "two"]), ("aquery", "one")]
    assert float32_close(
        embeddings.embed_documents(["two", "three"]), model.expected_documents(["two", "three"])
    )
    assert float32_close(embeddings.embed_query("one"), model.expected_query("one"))
    assert await embeddings.aembed_documents([]) == []
    assert model.calls[2:] == [("documents", ["three"])]


def test_queries_and_documents_are_cached_apart_when_not_shared():
    model = CountingEmbeddings()
    cache = SemCache()
    embeddings = CachedEmbeddings(model, cache, share_document_vectors=False)
    document = embeddings.embed_documents(["same text"])[0]
    query = embeddings.embed_query("same text")
    assert document != query
    assert embeddings.embed_query("same text") == query
    assert embeddings.embed_documents(["same text"]) == [document]
    assert model.calls == [("documents", ["same text"]), ("query", "same text")]
    assert embeddings.document_namespace != embeddings.query_namespace
    doc = cache.get_entry("same text", namespace=embeddings.document_namespace)
    query = cache.get_entry("same text", namespace=embeddings.query_namespace)
    name = embeddings.namespace
    assert name.startswith("CountingEmbeddings-")  # named after the model and its settings
    assert (doc.namespace, query.namespace) == (f"embed:{name}", f"embed-query:{name}")
    assert cache.get_entry("same text") is None  # nothing in the engine's default namespace


def test_a_query_already_cached_as_a_document_costs_no_model_call():
    model = CountingEmbeddings()
    embeddings = CachedEmbeddings(model)
    (document,) = embeddings.embed_documents(["cached text"])
    assert embeddings.embed_query("cached text") == document
    assert embeddings.embed_query("cached text") == document
    assert model.calls == [("documents", ["cached text"])]
    assert float32_close(embeddings.embed_query("new text"), model.expected_query("new text"))
    assert model.calls[1:] == [("query", "new text")]


async def test_an_async_query_already_cached_as_a_document_costs_no_model_call():
    model = CountingEmbeddings()
    embeddings = CachedEmbeddings(model)
    (document,) = await embeddings.aembed_documents(["cached text"])
    assert await embeddings.aembed_query("cached text") == document
    assert model.calls == [("adocuments", ["cached text"])]


# --- the vectors answer similarity lookups -----------------------------------------------


def test_document_vectors_are_found_by_cache_search():
    model = CountingEmbeddings()
    cache = SemCache()
    embeddings = CachedEmbeddings(model, cache, namespace="fake", share_document_vectors=False)
    texts = [f"document {i}" for i in range(20)]
    vectors = embeddings.embed_documents(texts)
    embeddings.embed_query("document 3")  # indexed too, but in the query namespace

    for text, vector in zip(texts, vectors):
        (hit,) = cache.search(vector, k=1, namespace=embeddings.document_namespace)
        assert hit.key == embeddings.document_key(text)
        assert hit.score == pytest.approx(1.0, abs=1e-5)
    hits = cache.search(vectors[3], k=50, namespace="embed:fake")
    assert len(hits) == 20 and {hit.key for hit in hits} == set(texts)
    similar = cache.get_similar(vectors[5], 0.99, namespace="embed:fake")
    assert np.asarray(similar).tolist() == vectors[5]
    (query_hit,) = cache.search(
        model.expected_query("document 3"), k=1, namespace=embeddings.query_namespace
    )
    assert query_hit.key == embeddings.query_key("document 3")


def test_default_cache_searches_text_through_the_cached_model():
    model = CountingEmbeddings()
    embeddings = CachedEmbeddings(model, share_document_vectors=False)
    embeddings.embed_documents(["red apple", "blue sky"])
    documents = embeddings.document_namespace
    hits = embeddings.cache.search("blue sky", k=2, namespace=documents)  # a cached query
    assert {hit.key for hit in hits} == {
        embeddings.document_key(t) for t in ["red apple", "blue sky"]
    }
    embeddings.cache.search("blue sky", k=2, namespace=documents)
    assert model.calls == [("documents", ["red apple", "blue sky"]), ("query", "blue sky")]


# --- single flight: concurrent callers of a text embed it once ---------------------------


def test_threads_asking_for_one_query_embed_it_once():
    model = CountingEmbeddings()
    embeddings = CachedEmbeddings(model)
    threads = 12
    model.gate = lambda: wait_until(lambda: embeddings.cache.stats().misses >= threads)
    results: list[list[float]] = []
    run_threads(
        [lambda: results.append(embeddings.embed_query("hot")) for _ in range(threads)], timeout=30
    )
    assert model.calls == [("query", "hot")]
    assert float32_close(results, [model.expected_query("hot")] * threads)


def test_threads_with_overlapping_batches_embed_each_text_once():
    model = CountingEmbeddings()
    embeddings = CachedEmbeddings(model)
    threads = 8
    batches = [["shared", f"own {i}", f"pair {i // 2}", "shared"] for i in range(threads)]
    distinct = {text for batch in batches for text in batch}
    # every thread misses its 3 distinct texts before the model answers anyone
    model.gate = lambda: wait_until(lambda: embeddings.cache.stats().misses >= 3 * threads)
    results: dict[int, list[list[float]]] = {}

    def embed(i: int) -> Callable[[], None]:
        return lambda: results.__setitem__(i, embeddings.embed_documents(batches[i]))

    run_threads([embed(i) for i in range(threads)], timeout=30)
    embedded = model.texts_embedded()
    assert sorted(embedded) == sorted(distinct)  # each distinct text exactly once
    assert all(kind == "documents" for kind, _ in model.calls)
    for i, batch in enumerate(batches):
        assert float32_close(results[i], model.expected_documents(batch))


async def test_coroutines_asking_for_one_text_embed_it_once():
    model = CountingEmbeddings()
    embeddings = CachedEmbeddings(model)
    callers = 20

    original = model.aembed_documents

    async def held(texts: list[str]) -> list[list[float]]:
        while embeddings.cache.stats().misses < 2 * callers:  # queries and documents
            await asyncio.sleep(0.001)
        return await original(texts)

    model.aembed_documents = held  # type: ignore[method-assign]
    documents, queries = await asyncio.wait_for(
        asyncio.gather(
            asyncio.gather(*(embeddings.aembed_documents(["hot", "hot"]) for _ in range(callers))),
            asyncio.gather(*(embeddings.aembed_query("hot") for _ in range(callers))),
        ),
        30,
    )
    assert sorted(model.calls, key=str) == [("adocuments", ["hot"]), ("aquery", "hot")]
    assert float32_close(documents, [model.expected_documents(["hot", "hot"])] * callers)
    assert float32_close(queries, [model.expected_query("hot")] * callers)


# --- durability, namespaces, failures ----------------------------------------------------


def test_durable_cache_answers_after_reopen_without_the_model(tmp_path: Path):
    texts = ["kept", "across", "restarts"]
    with SemCache(path=tmp_path / "embeddings") as cache:
        model = CountingEmbeddings()
        embeddings = CachedEmbeddings(model, cache, namespace="fake", share_document_vectors=False)
        vectors = embeddings.embed_documents(texts)
        query = embeddings.embed_query("kept")
        assert len(model.calls) == 2

    with SemCache(path=tmp_path / "embeddings") as cache:
        model = CountingEmbeddings()
        embeddings = CachedEmbeddings(model, cache, namespace="fake", share_document_vectors=False)
        assert embeddings.embed_documents(texts) == vectors
        assert embeddings.embed_query("kept") == query
        assert model.calls == []
        (hit,) = cache.search(vectors[1], k=1, namespace="embed:fake")
        assert hit.key == embeddings.document_key("across")


def test_namespaces_keep_two_models_apart_in_one_cache():
    cache = SemCache()
    model_a, model_b = CountingEmbeddings(tag="a"), CountingEmbeddings(tag="b")
    first = CachedEmbeddings(model_a, cache, namespace="model-a")
    second = CachedEmbeddings(model_b, cache, namespace="model-b")
    a = first.embed_documents(["text"])
    b = second.embed_documents(["text"])
    assert float32_close(a, model_a.expected_documents(["text"]))
    assert float32_close(b, model_b.expected_documents(["text"]))
    assert a != b and len(model_a.calls) == len(model_b.calls) == 1
    (hit,) = cache.search(a[0], k=5, namespace="embed:model-b")  # one entry: model b's
    assert hit.key == second.document_key("text") == "text"
    assert hit.namespace == second.document_namespace == "embed:model-b"


@settings(max_examples=20, deadline=None, derandomize=True, database=None)
@given(
    sizes=st.lists(st.integers(2, 12), min_size=2, max_size=4),
    texts=st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=4, unique=True),
)
def test_models_left_on_the_default_namespace_never_share_vectors(sizes, texts):
    """With one default namespace ("default"), the second model on an engine was handed
    the first one's vectors (another dimension), with no model call and no error."""
    cache = SemCache()
    for size in sizes:
        model = DeterministicFakeEmbedding(size=size)
        embeddings = CachedEmbeddings(model, cache)
        assert float32_close(embeddings.embed_documents(texts), model.embed_documents(texts))
        assert float32_close([embeddings.embed_query(texts[0])], [model.embed_query(texts[0])])
        # the same model, configured alike, finds its own vectors again
        assert CachedEmbeddings(DeterministicFakeEmbedding(size=size), cache).namespace == (
            embeddings.namespace
        )


def test_a_failing_model_stores_nothing_and_the_next_call_retries():
    model = CountingEmbeddings()
    embeddings = CachedEmbeddings(model)

    def broken() -> None:
        raise RuntimeError("API down")

    model.gate = broken
    with pytest.raises(RuntimeError, match="API down"):
        embeddings.embed_documents(["a", "b"])
    with pytest.raises(RuntimeError, match="API down"):
        embeddings.embed_query("a")
    assert len(embeddings.cache) == 0
    model.gate = None
    assert float32_close(
        embeddings.embed_documents(["a", "b"]), model.expected_documents(["a", "b"])
    )


def test_a_model_returning_garbage_raises_embedder_error():
    class Short(CountingEmbeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return super().embed_documents(texts)[:-1]

        def embed_query(self, text: str) -> list[float]:
            return []

    embeddings = CachedEmbeddings(Short())
    with pytest.raises(EmbedderError, match="has 1 rows for 2 texts"):
        embeddings.embed_documents(["a", "b"])
    with pytest.raises(EmbedderError):
        embeddings.embed_query("a")
    assert len(embeddings.cache) == 0


async def test_bad_input_raises_before_the_model_is_called():
    model = CountingEmbeddings()
    embeddings = CachedEmbeddings(model)
    with pytest.raises(InvalidKeyError):
        embeddings.embed_documents(["fine", 3])
    with pytest.raises(InvalidKeyError):
        await embeddings.aembed_documents([None])
    with pytest.raises(InvalidKeyError):
        embeddings.embed_query(b"bytes")
    with pytest.raises(InvalidArgumentError):
        embeddings.embed_documents("a str, not a list")
    with pytest.raises(InvalidArgumentError):
        CachedEmbeddings(model, namespace="")
    with pytest.raises(InvalidArgumentError):
        CachedEmbeddings("not a model")
    assert model.calls == [] and len(embeddings.cache) == 0


def test_vectors_are_searchable_in_a_cache_holding_another_dimension():
    """Each namespace has its own dimension: a cache whose other users hold 3-d vectors
    still indexes (and finds) this model's vectors."""
    cache = SemCache()
    cache.set("other", "three dims", vector=[1.0, 0.0, 0.0])
    model = CountingEmbeddings()
    embeddings = CachedEmbeddings(model, cache)
    texts = ["alpha", "beta"]
    vectors = embeddings.embed_documents(texts)
    assert cache.dim_of(embeddings.document_namespace) == len(vectors[0]) != 3
    for text, vector in zip(texts, vectors):
        (hit,) = cache.search(vector, k=1, namespace=embeddings.document_namespace)
        assert hit.key == text
    assert cache.dim_of("") == 3 and cache.get("other") == "three dims"
