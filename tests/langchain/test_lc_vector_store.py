"""``SemCacheVectorStore``: LangChain's standard suite, then filters, MMR, isolation, async.

The standard suite runs twice: over the default fresh in-process cache, and over a durable
cache shared with another namespace's entries (which must never show up).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from semcache_core import (
    Filter,
    FilterGroup,
    FilterValueError,
    InvalidArgumentError,
    InvalidValueError,
    SemCache,
)
from semcache_integrations.langchain.vector_store import (
    SemCacheVectorStore,
)

# --- the standard suite -----------------------------------------------------------------


class TestStandardSuite(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self) -> Iterator[SemCacheVectorStore]:  # type: ignore[override]
        yield SemCacheVectorStore(self.get_embeddings())


class TestStandardSuiteSharedDurableCache(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self, tmp_path: Path) -> Iterator[SemCacheVectorStore]:  # type: ignore[override]
        cache = SemCache(path=tmp_path / "d")
        embeddings = self.get_embeddings()
        # Another user of the same cache: same ids, other namespace, near-identical vectors.
        other = SemCacheVectorStore(embeddings, cache, namespace="other")
        other.add_texts(["foo", "bar", "baz"], [{"id": 9}] * 3, ids=["1", "2", "foo"])
        cache.set("1", "a plain key", vector=embeddings.embed_query("foo"))
        store = SemCacheVectorStore(embeddings, cache, namespace="suite")
        try:
            yield store
        finally:
            assert len(other.get_by_ids(["1", "2", "foo"])) == 3  # never touched
            cache.close()


# --- helpers ----------------------------------------------------------------------------


def axis_vector(text: str) -> list[float]:
    return [float(x) for x in text.split(",")]


class AxisEmbeddings(Embeddings):
    """Texts named ``"x,y,z"`` embed as that vector: tests choose the geometry exactly."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [axis_vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return axis_vector(text)


class AsyncOnlyEmbeddings(AxisEmbeddings):
    """Fails loudly if an async path calls a sync embedding method."""

    def __init__(self) -> None:
        self.sync_calls = 0
        self.async_calls = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.sync_calls += 1
        return super().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.sync_calls += 1
        return super().embed_query(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        self.async_calls += 1
        return [axis_vector(t) for t in texts]

    async def aembed_query(self, text: str) -> list[float]:
        self.async_calls += 1
        return axis_vector(text)


@pytest.fixture()
def fake() -> Embeddings:
    return DeterministicFakeEmbedding(size=8)


@pytest.fixture()
def papers(fake: Embeddings) -> SemCacheVectorStore:
    store = SemCacheVectorStore(fake)
    texts = [f"paper {i}" for i in range(20)]
    metadatas = [
        {"year": 2000 + i, "lang": "en" if i % 2 else "fr", "tags": ["ai"] if i % 3 else ["db"]}
        for i in range(20)
    ]
    store.add_texts(texts, metadatas, ids=[f"p{i}" for i in range(20)])
    return store


def ids_of(docs: list[Document]) -> list[str | None]:
    return [d.id for d in docs]


# --- filters ----------------------------------------------------------------------------


def test_equality_dict_filter_is_applied_before_ranking(papers: SemCacheVectorStore) -> None:
    # 10 of 20 documents are English: k=10 must return all 10, whatever their rank overall.
    docs = papers.similarity_search("paper 0", k=10, filter={"lang": "en"})
    assert len(docs) == 10
    assert all(d.metadata["lang"] == "en" for d in docs)
    assert sorted(ids_of(docs)) == sorted(f"p{i}" for i in range(1, 20, 2))


def test_operator_dict_filter(papers: SemCacheVectorStore) -> None:
    docs = papers.similarity_search("paper 3", k=20, filter={"year": {"$gte": 2015}})
    assert sorted(d.metadata["year"] for d in docs) == list(range(2015, 2020))
    docs = papers.similarity_search(
        "x", k=20, filter={"$or": [{"year": {"$lt": 2002}}, {"tags": {"$any": ["db"]}}]}
    )
    assert sorted(ids_of(docs)) == sorted(["p0", "p1", "p3", "p6", "p9", "p12", "p15", "p18"])


def test_filter_objects_and_nested_groups(papers: SemCacheVectorStore) -> None:
    flt = FilterGroup.all_of(
        Filter("lang", "==", "en"),
        FilterGroup.any_of(Filter("year", "<", 2004), Filter("year", ">", 2016)),
        FilterGroup.none_of(Filter("year", "==", 2019)),
    )
    docs = papers.similarity_search("paper 1", k=4, filter=flt)
    assert sorted(ids_of(docs)) == ["p1", "p17", "p3"]
    single = papers.similarity_search("paper 1", k=1, filter=Filter("year", "==", 2007))
    assert ids_of(single) == ["p7"]


def test_filter_applies_to_every_search(papers: SemCacheVectorStore, fake: Embeddings) -> None:
    flt = {"lang": "fr"}
    vector = fake.embed_query("paper 5")
    results = [
        papers.similarity_search_by_vector(vector, k=3, filter=flt),
        [d for d, _ in papers.similarity_search_with_score("paper 5", k=3, filter=flt)],
        papers.max_marginal_relevance_search("paper 5", k=3, filter=flt),
        papers.max_marginal_relevance_search_by_vector(vector, k=3, filter=flt),
    ]
    for docs in results:
        assert len(docs) == 3
        assert all(d.metadata["lang"] == "fr" for d in docs)


def test_bad_filter_and_misspelt_filter_argument(papers: SemCacheVectorStore) -> None:
    with pytest.raises(FilterValueError):
        papers.similarity_search("x", filter={"year": {"$gte": [1]}})
    with pytest.raises(TypeError, match="`filter`"):
        papers.similarity_search("x", filters={"lang": "en"})


# --- scores -------------------------------------------------------------------------------


def test_scores_are_cosine_similarities_and_relevance_is_clamped() -> None:
    store = SemCacheVectorStore(AxisEmbeddings())
    store.add_texts(["1,0", "0.6,0.8", "-1,0"], ids=["same", "near", "opposite"])
    scored = store.similarity_search_with_score("2,0", k=3)
    assert [d.id for d, _ in scored] == ["same", "near", "opposite"]
    assert [s for _, s in scored] == pytest.approx([1.0, 0.6, -1.0], abs=1e-6)
    assert all(isinstance(s, float) for _, s in scored)
    relevance = store.similarity_search_with_relevance_scores("2,0", k=3)
    assert [s for _, s in relevance] == pytest.approx([1.0, 0.6, 0.0], abs=1e-6)
    kept = store.similarity_search_with_relevance_scores("2,0", k=3, score_threshold=0.5)
    assert [d.id for d, _ in kept] == ["same", "near"]


async def test_async_relevance_scores() -> None:
    store = SemCacheVectorStore(AxisEmbeddings())
    await store.aadd_texts(["1,0", "0,1"], ids=["a", "b"])
    scored = await store.asimilarity_search_with_relevance_scores("1,0", k=2)
    assert [(d.id, round(s, 6)) for d, s in scored] == [("a", 1.0), ("b", 0.0)]


# --- ids, upsert, delete, get_by_ids ------------------------------------------------------


def test_ids_round_trip_and_upsert(fake: Embeddings) -> None:
    store = SemCacheVectorStore(fake)
    assert store.add_texts(["a", "b"], [{"n": 1}, {"n": 2}], ids=["x", "y"]) == ["x", "y"]
    assert store.add_texts(["a2"], [{"n": 3}], ids=["x"]) == ["x"]
    assert store.get_by_ids(["x", "y"]) == [
        Document(id="x", page_content="a2", metadata={"n": 3}),
        Document(id="y", page_content="b", metadata={"n": 2}),
    ]
    assert len(store.similarity_search("a", k=10)) == 2
    generated = store.add_texts(["c"])
    assert len(generated) == 1 and len(generated[0]) == 32
    assert store.get_by_ids(generated)[0].page_content == "c"


def test_add_documents_id_precedence(fake: Embeddings) -> None:
    store = SemCacheVectorStore(fake)
    docs = [Document(page_content="a", id="doc-a"), Document(page_content="b")]
    ids = store.add_documents(docs)
    assert ids[0] == "doc-a" and ids[1]
    assert docs[1].id is None  # not mutated
    assert store.add_documents(docs, ids=["k1", None])[0] == "k1"  # explicit ids win
    assert ids_of(store.get_by_ids(["k1"])) == ["k1"]
    assert store.add_documents([], ids=[]) == []


def test_get_by_ids_keeps_order_and_skips_missing(fake: Embeddings) -> None:
    store = SemCacheVectorStore(fake)
    store.add_texts(["a", "b", "c"], ids=["1", "2", "3"])
    docs = store.get_by_ids(["3", "nope", "1", "2"])
    assert ids_of(docs) == ["3", "1", "2"]
    assert [d.page_content for d in docs] == ["c", "a", "b"]
    assert store.get_by_ids([]) == []


def test_delete(fake: Embeddings) -> None:
    store = SemCacheVectorStore(fake)
    store.add_texts(["a", "b", "c"], ids=["1", "2", "3"])
    assert store.delete(["1", "missing"]) is True
    assert ids_of(store.get_by_ids(["1", "2", "3"])) == ["2", "3"]
    assert sorted(ids_of(store.similarity_search("a", k=5))) == ["2", "3"]
    store.delete()  # None: every document of this store
    assert store.similarity_search("a", k=5) == []


@pytest.mark.parametrize(
    "call",
    [
        lambda store: store.delete("ab"),
        lambda store: asyncio.run(store.adelete("ab")),
        lambda store: store.get_by_ids("ab"),
        lambda store: asyncio.run(store.aget_by_ids("ab")),
        lambda store: store.add_texts(["x", "y"], ids="ab"),
        lambda store: asyncio.run(store.aadd_texts(["x", "y"], ids="ab")),
    ],
    ids=["delete", "adelete", "get_by_ids", "aget_by_ids", "add_texts", "aadd_texts"],
)
def test_a_single_str_of_ids_is_refused_not_read_letter_by_letter(fake: Embeddings, call) -> None:
    """delete("ab") deleted documents "a" and "b" and kept "ab"."""
    store = SemCacheVectorStore(fake)
    store.add_texts(["one", "two", "three"], ids=["a", "b", "ab"])
    with pytest.raises(InvalidArgumentError, match="ids"):
        call(store)
    assert ids_of(store.get_by_ids(["a", "b", "ab"])) == ["a", "b", "ab"]
    assert len(store.similarity_search("one", k=10)) == 3


def test_bad_input_raises_before_anything_is_stored(fake: Embeddings) -> None:
    store = SemCacheVectorStore(fake)
    with pytest.raises(ValueError, match="metadatas"):
        store.add_texts(["a", "b"], [{}])
    with pytest.raises(ValueError, match="ids"):
        store.add_texts(["a", "b"], ids=["1"])
    with pytest.raises(InvalidValueError, match=r"metadatas\[1\]"):
        store.add_texts(["a", "b"], [{}, {"when": object()}], ids=["1", "2"])
    with pytest.raises(TypeError):
        store.add_texts(["a"], ids=[7])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="unexpected"):
        store.add_texts(["a"], upsert=True)
    assert store.get_by_ids(["1", "2"]) == []
    assert store.add_texts(["a"], batch_size=10) != []  # the indexing API sends it
    with pytest.raises(ValueError, match="namespace"):
        SemCacheVectorStore(fake, namespace="")


# --- MMR ----------------------------------------------------------------------------------


def test_mmr_picks_the_different_document_second() -> None:
    store = SemCacheVectorStore(AxisEmbeddings())
    store.add_texts(["1,0.25,0", "1,0.2,0", "0.2,1,0"], ids=["dup1", "dup2", "other"])
    query = "1,0.3,0"
    assert ids_of(store.similarity_search(query, k=2)) == ["dup1", "dup2"]
    mmr = store.max_marginal_relevance_search(query, k=2, fetch_k=3, lambda_mult=0.5)
    assert ids_of(mmr) == ["dup1", "other"]
    plain = store.max_marginal_relevance_search(query, k=2, fetch_k=3, lambda_mult=1.0)
    assert ids_of(plain) == ["dup1", "dup2"]
    assert store.max_marginal_relevance_search(query, k=10) != []
    assert SemCacheVectorStore(AxisEmbeddings()).max_marginal_relevance_search("1,0") == []


NUMPY_FLOATS = st.sampled_from([np.float16, np.float32, np.float64, np.longdouble])
WEIGHTS = st.one_of(st.floats(-0.5, 1.5), st.just(math.nan))


@settings(max_examples=40, deadline=None)
@given(dtype=NUMPY_FLOATS, value=WEIGHTS, use_async=st.booleans())
def test_mmr_takes_lambda_mult_as_any_numpy_float(
    dtype: Any, value: float, use_async: bool
) -> None:
    """np.float32(0.5) was refused: "lambda_mult must be in [0, 1], got np.float32(0.5)"."""
    store = SemCacheVectorStore(AxisEmbeddings())
    store.add_texts(["1,0.25,0", "1,0.2,0", "0.2,1,0"], ids=["dup1", "dup2", "other"])
    weight = dtype(value)

    def mmr(lambda_mult: Any) -> list[str | None]:
        if use_async:
            search = store.amax_marginal_relevance_search("1,0.3,0", 2, 3, lambda_mult)
            return [d.id for d in asyncio.run(search)]
        return [d.id for d in store.max_marginal_relevance_search("1,0.3,0", 2, 3, lambda_mult)]

    if 0.0 <= float(weight) <= 1.0:
        assert mmr(weight) == mmr(float(weight))
    else:
        with pytest.raises(InvalidArgumentError, match="lambda_mult"):
            mmr(weight)


def test_mmr_on_a_cache_shared_with_a_namespace_of_another_dimension() -> None:
    """The store's own namespace decides the query's dimension: a cache whose only vectors
    are another component's (2-d) left the empty 3-d store refusing MMR queries with
    DimensionMismatchError instead of answering nothing."""
    cache = SemCache()
    cache.set("elsewhere", "x", vector=[1.0, 0.0], namespace="other")
    store = SemCacheVectorStore(AxisEmbeddings(), cache, namespace="docs")
    assert store.max_marginal_relevance_search("1,0.3,0", k=2) == []
    store.add_texts(["1,0.25,0", "1,0.2,0", "0.2,1,0"], ids=["dup1", "dup2", "other"])
    mmr = store.max_marginal_relevance_search("1,0.3,0", k=2, fetch_k=3, lambda_mult=0.5)
    assert ids_of(mmr) == ["dup1", "other"]


def test_mmr_through_the_retriever() -> None:
    store = SemCacheVectorStore(AxisEmbeddings())
    store.add_texts(["1,0.25,0", "1,0.2,0", "0.2,1,0"], ids=["dup1", "dup2", "other"])
    retriever = store.as_retriever(search_type="mmr", search_kwargs={"k": 2, "fetch_k": 3})
    assert ids_of(retriever.invoke("1,0.3,0")) == ["dup1", "other"]


# --- async parity -------------------------------------------------------------------------


async def test_async_parity_with_sync() -> None:
    embeddings = AsyncOnlyEmbeddings()
    store = await SemCacheVectorStore.afrom_texts(
        ["1,0.25,0", "1,0.2,0", "0.2,1,0", "0,0,1"],
        embeddings,
        [{"g": "a"}, {"g": "a"}, {"g": "b"}, {"g": "b"}],
        ids=["dup1", "dup2", "other", "z"],
    )
    await store.aadd_documents([Document(page_content="0,1,1", id="yz", metadata={"g": "c"})])
    assert (embeddings.sync_calls, embeddings.async_calls) == (0, 2)
    query, vector = "1,0.3,0", [1.0, 0.3, 0.0]
    got = [
        await store.asimilarity_search(query, k=3),
        await store.asimilarity_search_with_score(query, k=5, filter={"g": "b"}),
        await store.asimilarity_search_by_vector(vector, k=2),
        await store.amax_marginal_relevance_search(query, k=2, fetch_k=5),
        await store.amax_marginal_relevance_search_by_vector(vector, k=3, lambda_mult=0),
        await store.aget_by_ids(["z", "missing", "dup1"]),
    ]
    assert (embeddings.sync_calls, embeddings.async_calls) == (0, 5)  # 2 adds, 3 queries
    expected = [
        store.similarity_search(query, k=3),
        store.similarity_search_with_score(query, k=5, filter={"g": "b"}),
        store.similarity_search_by_vector(vector, k=2),
        store.max_marginal_relevance_search(query, k=2, fetch_k=5),
        store.max_marginal_relevance_search_by_vector(vector, k=3, lambda_mult=0),
        store.get_by_ids(["z", "missing", "dup1"]),
    ]
    assert got == expected
    assert all(got)
    assert [d.id for d in got[4]] == ["dup1", "z", "other"]
    assert await store.adelete(["dup1", "missing"]) is True
    assert ids_of(await store.aget_by_ids(["dup1", "dup2"])) == ["dup2"]
    await store.adelete()
    assert await store.asimilarity_search(query, k=5) == []


async def test_async_calls_do_not_block_the_loop(fake: Embeddings) -> None:
    # Many concurrent calls finish (each hops to a worker thread and back).
    store = SemCacheVectorStore(fake)
    await asyncio.gather(*(store.aadd_texts([f"t{i}"], ids=[f"{i}"]) for i in range(20)))
    results = await asyncio.gather(*(store.asimilarity_search(f"t{i}", k=1) for i in range(20)))
    assert [r[0].id for r in results] == [f"{i}" for i in range(20)]


# --- sharing a cache, durability ---------------------------------------------------------


def test_isolated_from_other_users_of_the_cache(fake: Embeddings) -> None:
    cache = SemCache()
    mine = SemCacheVectorStore(fake, cache, namespace="mine")
    theirs = SemCacheVectorStore(fake, cache, namespace="theirs")
    theirs.add_texts(["shared text", "other"], [{"who": "them"}] * 2, ids=["1", "2"])
    # a core user who picked the same name, and a plain key: neither is the store's
    cache.set("1", "raw", vector=fake.embed_query("shared text"), namespace="mine")
    cache.set("1", "plain")
    mine.add_texts(["shared text"], [{"who": "me"}], ids=["1"])

    for docs in (
        mine.similarity_search("shared text", k=10),
        mine.max_marginal_relevance_search("shared text", k=10),
        mine.get_by_ids(["1", "2"]),
    ):
        assert [(d.id, d.metadata) for d in docs] == [("1", {"who": "me"})]
    assert cache.get("1", namespace="mine") == "raw"  # untouched by the store
    mine.delete()
    assert mine.similarity_search("shared text", k=10) == []
    assert (cache.get("1"), cache.get("1", namespace="mine")) == ("plain", "raw")
    assert ids_of(theirs.get_by_ids(["1", "2"])) == ["1", "2"]


def test_durable_across_close_and_reopen(tmp_path: Path, fake: Embeddings) -> None:
    path = tmp_path / "d"
    with SemCache(path=path) as cache:
        store = SemCacheVectorStore.from_texts(
            ["alpha", "beta", "gamma"],
            fake,
            [{"i": 1}, {"i": 2}, {"i": 3}],
            ids=["a", "b", "g"],
            cache=cache,
            namespace="docs",
        )
        before = store.similarity_search_with_score("beta", k=3)
        store.delete(["g"])
    with SemCache(path=path) as cache:
        store = SemCacheVectorStore(fake, cache, namespace="docs")
        after = store.similarity_search_with_score("beta", k=3)
        assert [(d, pytest.approx(s)) for d, s in before if d.id != "g"] == after
        assert ids_of(store.get_by_ids(["a", "b", "g"])) == ["a", "b"]
        assert store.similarity_search("alpha", k=1, filter={"i": 1})[0].id == "a"


def test_defaults_and_properties(fake: Embeddings) -> None:
    store = SemCacheVectorStore.from_texts(["a"], fake)
    assert store.embeddings is fake
    assert store.namespace == "default"
    assert store.engine_namespace == "lc-vectors:default"
    assert isinstance(store.cache, SemCache)
    assert store.cache.scan(namespace="lc-vectors:default") != []
    assert store.cache.scan() == []  # nothing in the engine's default namespace
    assert "default" in repr(store)
    assert np.isclose(store.similarity_search_with_score("a", k=1)[0][1], 1.0)


@pytest.mark.parametrize("index", ["flat", "hnsw"])
def test_selective_filter_and_mmr_on_each_index(index: Literal["flat", "hnsw"]) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 16))
    texts = [",".join(f"{x:.6f}" for x in row) for row in vectors]
    store = SemCacheVectorStore(AxisEmbeddings(), SemCache(index=index))
    store.add_texts(texts, [{"rare": i % 60 == 0} for i in range(300)])
    query = texts[7]
    rare = store.similarity_search(query, k=5, filter={"rare": True})
    assert len(rare) == 5 and all(d.metadata["rare"] for d in rare)
    mmr = store.max_marginal_relevance_search(query, k=5, fetch_k=50, filter={"rare": True})
    assert sorted(ids_of(mmr)) == sorted(ids_of(rare))
    assert store.similarity_search(query, k=1)[0].page_content == query


def test_score_threshold_one_keeps_the_identical_document() -> None:
    """float32 scores some vectors 0.99999988 against themselves: LangChain's own
    score_threshold filter dropped the identical document semcache's threshold=1.0 keeps
    (found by review; relevance within SCORE_TOLERANCE of 1 is 1)."""
    from langchain_core.embeddings import Embeddings

    from semcache_core.vectors import as_unit_vector

    rng = np.random.default_rng(0)
    vector = next(
        v
        for v in (rng.standard_normal(64).astype(np.float32) for _ in range(1000))
        if float(as_unit_vector(v, None) @ as_unit_vector(v, None)) < 1.0 - 1e-7
    )

    class Fixed(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [vector.tolist() for _ in texts]

        def embed_query(self, text: str) -> list[float]:
            return vector.tolist()

    store = SemCacheVectorStore(Fixed())
    store.add_texts(["the same text"])
    kept = store.similarity_search_with_relevance_scores("x", k=1, score_threshold=1.0)
    assert [(doc.page_content, score) for doc, score in kept] == [("the same text", 1.0)]
    retriever = store.as_retriever(
        search_type="similarity_score_threshold", search_kwargs={"score_threshold": 1.0}
    )
    assert [doc.page_content for doc in retriever.invoke("x")] == ["the same text"]
