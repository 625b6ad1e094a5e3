"""``SemCacheVectorStore``: the LlamaIndex vector store contract, then end to end.

No standard LlamaIndex suite exists; the conformance suite (tests/conformance) compares
with ``SimpleVectorStore`` operator by operator. Here: ranking, node fidelity, the three
query restrictions, deletes, async parity, MMR, persistence and ``VectorStoreIndex``.
"""

from __future__ import annotations

import asyncio
import math
import zlib
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llama_index.core import (
    Document,
    StorageContext,
    VectorStoreIndex,
    load_index_from_storage,
)
from llama_index.core.schema import (
    BaseNode,
    ImageNode,
    IndexNode,
    NodeRelationship,
    RelatedNodeInfo,
    TextNode,
)
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from llama_support import FunctionEmbedding

from semcache_core import (
    DimensionMismatchError,
    FilterGroup,
    FilterValueError,
    InvalidArgumentError,
    InvalidKeyError,
    SemCache,
)
from semcache_core import Filter as CacheFilter
from semcache_integrations.llama_index.vector_store import SemCacheVectorStore, translate_filters

# --- helpers -------------------------------------------------------------------------------


def unit(*values: float) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def make_node(
    node_id: str,
    vector: list[float],
    text: str = "",
    doc: str | None = None,
    **metadata: Any,
) -> TextNode:
    node = TextNode(id_=node_id, text=text or f"text of {node_id}", metadata=metadata)
    node.embedding = vector
    if doc is not None:
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc)
    return node


def corpus() -> list[TextNode]:
    """Five nodes of two documents; ``e`` has neither ``year`` nor ``tags``."""
    return [
        make_node("a", unit(1, 0, 0, 0), doc="d1", year=2020, lang="en", tags=["x", "y"]),
        make_node("b", unit(1, 1, 0, 0), doc="d1", year=2021, lang="fr", tags=["y"]),
        make_node("c", unit(0, 1, 0, 0), doc="d2", year=2022, lang="en", tags=["z"]),
        make_node("d", unit(0, 1, 1, 0), doc="d2", year=2023, lang="de", tags=[]),
        make_node("e", unit(0, 0, 0, 1), doc="d2", lang="en"),
    ]


def q(vector: list[float] | None = None, k: int = 10, **options: Any) -> VectorStoreQuery:
    return VectorStoreQuery(query_embedding=vector, similarity_top_k=k, **options)


def filters(*items: Any, condition: str = "and") -> MetadataFilters:
    return MetadataFilters(filters=list(items), condition=FilterCondition(condition))


def mf(key: str, op: str, value: Any = None) -> MetadataFilter:
    return MetadataFilter(key=key, operator=FilterOperator(op), value=value)


@pytest.fixture
def store() -> SemCacheVectorStore:
    s = SemCacheVectorStore()
    s.add(corpus())
    return s


class WordEmbedding(FunctionEmbedding):
    """Deterministic bag-of-words vectors (64 hashed buckets plus a constant)."""

    @classmethod
    def class_name(cls) -> str:
        return "WordEmbedding"

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * 64 + [0.1]
        for word in text.lower().split():
            vector[zlib.crc32(word.strip(".,?!").encode()) % 64] += 1.0
        return vector


# --- add and rank --------------------------------------------------------------------------


def test_add_returns_node_ids_and_query_ranks_by_cosine(store: SemCacheVectorStore) -> None:
    assert store.stores_text is True and store.is_embedding_query is True
    assert isinstance(store.client, SemCache)
    result = store.query(q(unit(1, 0.2, 0, 0), k=3))
    assert result.ids == ["a", "b", "c"]
    assert [n.node_id for n in result.nodes] == result.ids
    assert all(type(s) is float for s in result.similarities)
    assert result.similarities == sorted(result.similarities, reverse=True)
    assert result.similarities[0] == pytest.approx(1 / math.sqrt(1.04), abs=1e-6)


def test_add_returns_ids_in_order_and_repeated_id_replaces() -> None:
    s = SemCacheVectorStore()
    assert s.add(corpus()[:2]) == ["a", "b"]
    s.add([make_node("a", unit(0, 0, 1, 0), text="new a")])
    assert len(s.get_nodes()) == 2
    top = s.query(q(unit(0, 0, 1, 0), k=1))
    assert top.ids == ["a"] and top.nodes[0].get_content() == "new a"
    assert s.add([]) == []


def test_top_k_edge_cases(store: SemCacheVectorStore) -> None:
    empty = SemCacheVectorStore()
    result = empty.query(q(unit(1, 0, 0, 0), k=3))
    assert (result.ids, result.nodes, result.similarities) == ([], [], [])
    assert empty.query(q(None, k=3, filters=filters(mf("lang", "==", "en")))).ids == []
    assert len(store.query(q(unit(1, 0, 0, 0), k=100)).ids) == 5
    assert len(store.query(q(unit(1, 0, 0, 0), k=1)).ids) == 1
    # 0 means every match, as LlamaIndex's get_top_k_embeddings
    assert len(store.query(q(unit(1, 0, 0, 0), k=0)).ids) == 5
    with pytest.raises(DimensionMismatchError):
        store.query(q([1.0, 0.0], k=1))


def test_node_without_embedding_is_refused_and_nothing_is_stored() -> None:
    s = SemCacheVectorStore()
    bare = TextNode(id_="bare", text="no vector")
    with pytest.raises(InvalidArgumentError, match="no embedding"):
        s.add([make_node("ok", unit(1, 0)), bare])
    assert s.get_nodes() == []


def test_nodes_come_back_whole() -> None:
    s = SemCacheVectorStore()
    text = make_node(
        "t", unit(1, 0, 0), text="héllo wörld", doc="doc-1", year=2024, nested={"k": [1, 2]}
    )
    text.relationships[NodeRelationship.PREVIOUS] = RelatedNodeInfo(node_id="t0")
    text.excluded_llm_metadata_keys = ["year"]
    index_node = IndexNode(id_="i", text="index", index_id="other-index", embedding=unit(0, 1, 0))
    image = ImageNode(
        id_="img", text="a cat", image_url="http://x/cat.png", embedding=unit(0, 0, 1)
    )
    s.add([text, index_node, image])
    got = {n.node_id: n for n in s.get_nodes(["t", "i", "img"])}
    t = got["t"]
    assert type(t) is TextNode and t.get_content() == "héllo wörld"
    assert t.metadata == {"year": 2024, "nested": {"k": [1, 2]}}
    assert t.ref_doc_id == "doc-1"
    assert t.relationships[NodeRelationship.PREVIOUS].node_id == "t0"
    assert t.excluded_llm_metadata_keys == ["year"]
    assert t.hash == text.hash
    assert type(got["i"]) is IndexNode and got["i"].index_id == "other-index"
    assert type(got["img"]) is ImageNode and got["img"].image_url == "http://x/cat.png"
    # the caller's nodes are not modified
    assert text.metadata == {"year": 2024, "nested": {"k": [1, 2]}}


# --- restrictions ---------------------------------------------------------------------------


def test_empty_node_ids_restrict_nothing_and_restrictions_intersect(
    store: SemCacheVectorStore,
) -> None:
    probe = unit(1, 1, 1, 1)
    assert len(store.query(q(probe, node_ids=[], doc_ids=[])).ids) == 5
    assert sorted(store.query(q(probe, node_ids=["a", "c", "e"])).ids) == ["a", "c", "e"]
    assert sorted(store.query(q(probe, doc_ids=["d1"])).ids) == ["a", "b"]
    both = q(
        probe, node_ids=["a", "c", "e"], doc_ids=["d2"], filters=filters(mf("lang", "==", "en"))
    )
    assert sorted(store.query(both).ids) == ["c", "e"]
    # restrictions apply before ranking: top_k results whenever that many match
    far = store.query(q(unit(1, 0, 0, 0), k=1, doc_ids=["d2"]))
    assert far.ids == ["c"]


def test_operators_nesting_not_and_missing_keys(store: SemCacheVectorStore) -> None:
    def ids(f: MetadataFilters) -> list[str]:
        return sorted(store.query(q(unit(1, 1, 1, 1), filters=f)).ids)

    assert ids(filters(mf("year", ">=", 2021), mf("year", "<", 2023))) == ["b", "c"]
    assert ids(filters(mf("lang", "in", ["fr", "de"]))) == ["b", "d"]
    assert ids(filters(mf("year", "!=", 2020))) == ["b", "c", "d", "e"]  # missing matches !=
    assert ids(filters(mf("year", "nin", [2020, 2021]))) == ["c", "d", "e"]
    assert ids(filters(mf("tags", "any", ["x", "z"]))) == ["a", "c"]
    assert ids(filters(mf("tags", "is_empty"))) == ["d", "e"]
    assert ids(filters(mf("lang", "==", "en"), mf("year", ">", 2020), condition="or")) == [
        "a",
        "b",
        "c",
        "d",
        "e",
    ]
    assert ids(filters(mf("lang", "==", "en"), condition="not")) == ["b", "d"]
    nested = filters(
        mf("lang", "==", "en"),
        filters(mf("year", "<=", 2020), mf("tags", "contains", "z"), condition="or"),
    )
    assert ids(nested) == ["a", "c"]
    not_nested = filters(filters(mf("lang", "==", "en"), mf("year", ">", 2021)), condition="not")
    assert ids(not_nested) == ["a", "b", "d", "e"]
    # ref doc id is filterable under LlamaIndex's names too
    assert ids(filters(mf("doc_id", "==", "d1"))) == ["a", "b"]


def test_translate_filters_keeps_structure() -> None:
    tree = translate_filters(
        filters(mf("a", "==", 1), filters(mf("b", "in", [1, 2])), condition="not")
    )
    assert isinstance(tree, FilterGroup) and tree.condition.value == "not"
    assert tree.filters[0] == CacheFilter("a", "==", 1)
    assert tree.filters[1] == FilterGroup((CacheFilter("b", "in", [1, 2]),))
    assert translate_filters(None) is None
    with pytest.raises(TypeError):
        translate_filters({"a": 1})


@pytest.mark.parametrize("value", [None, "x", 0, ["a"]], ids=repr)
def test_an_is_empty_filter_ignores_its_value_as_llama_index_does(value: Any) -> None:
    """LlamaIndex's own stores ignore an is_empty filter's value; the core refuses any but
    True or None, so the adapter drops it."""
    node = MetadataFilter(key="a", operator=FilterOperator.IS_EMPTY, value=value)
    assert translate_filters(node) == CacheFilter("a", "is_empty")


def test_query_without_embedding_lists_matches(store: SemCacheVectorStore) -> None:
    result = store.query(q(None, filters=filters(mf("lang", "==", "en"))))
    assert result.ids == ["a", "c", "e"]
    assert result.similarities == [1.0, 1.0, 1.0]
    assert [n.node_id for n in result.nodes] == result.ids
    assert store.query(q(None, k=2)).ids == ["a", "b"]


def test_modes_and_keyword_checks(store: SemCacheVectorStore) -> None:
    for mode in (VectorStoreQueryMode.SVM, "bogus", ["mmr"]):  # "bogus": a raw ValueError before
        with pytest.raises(InvalidArgumentError, match="query modes"):
            store.query(q(unit(1, 0, 0, 0), mode=mode))
    with pytest.raises(TypeError, match="mmr_treshold"):
        store.query(q(unit(1, 0, 0, 0)), mmr_treshold=0.2)
    with pytest.raises(InvalidArgumentError, match="mmr_threshold"):
        store.query(q(unit(1, 0, 0, 0), mode="mmr"), mmr_threshold=1.5)


# --- deletes and reads ------------------------------------------------------------------------


def test_delete_by_ref_doc(store: SemCacheVectorStore) -> None:
    store.delete("d2")
    assert [n.node_id for n in store.get_nodes()] == ["a", "b"]
    store.delete("no-such-doc")
    assert len(store.get_nodes()) == 2


def test_delete_nodes_intersects_ids_and_filters(store: SemCacheVectorStore) -> None:
    store.delete_nodes(node_ids=["a", "b", "c"], filters=filters(mf("lang", "==", "en")))
    assert [n.node_id for n in store.get_nodes()] == ["b", "d", "e"]
    store.delete_nodes(filters=filters(mf("year", ">", 2022)))
    assert [n.node_id for n in store.get_nodes()] == ["b", "e"]
    store.delete_nodes(node_ids=[])
    assert len(store.get_nodes()) == 2
    store.delete_nodes(node_ids=["e", "missing"])
    assert [n.node_id for n in store.get_nodes()] == ["b"]


def test_get_nodes(store: SemCacheVectorStore) -> None:
    assert [n.node_id for n in store.get_nodes(["e", "a", "missing", "a"])] == ["e", "a"]
    assert [
        n.node_id for n in store.get_nodes(["a", "b", "c"], filters(mf("lang", "==", "en")))
    ] == [
        "a",
        "c",
    ]
    assert [n.node_id for n in store.get_nodes(filters=filters(mf("lang", "==", "en")))] == [
        "a",
        "c",
        "e",
    ]
    assert store.get_nodes([]) == []


@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(st.sampled_from(["a", "b", "c", "d", "e", "missing"]), max_size=8),
    op=st.sampled_from([">", ">=", "<", "<="]),
    year=st.integers(2019, 2024),
)
def test_get_nodes_with_ids_and_a_range_filter_keeps_the_ids_order(
    ids: list[str], op: str, year: int
) -> None:
    """A range filter takes the filtered search (see the clash test below): the answer is
    still the asked ids, in their order, repeats and missing ones dropped, that match."""
    store = SemCacheVectorStore()
    store.add(corpus())
    years = {node.node_id: node.metadata.get("year") for node in corpus()}
    compare = {">": int.__gt__, ">=": int.__ge__, "<": int.__lt__, "<=": int.__le__}[op]
    expected = [
        i for i in dict.fromkeys(ids) if isinstance(years.get(i), int) and compare(years[i], year)
    ]
    spec = filters(mf("year", op, year))
    assert [n.node_id for n in store.get_nodes(ids, spec)] == expected
    assert [n.node_id for n in asyncio.run(store.aget_nodes(ids, spec))] == expected


def test_a_range_filter_ordering_a_number_against_a_str_raises_with_node_ids_too() -> None:
    """With ``node_ids``, get_nodes read only the asked nodes: ``year > 2020`` against a
    ``"2021"`` stored on another node answered (and delete_nodes removed a subset),
    where the same filter without ids raises."""
    store = SemCacheVectorStore()
    store.add(corpus())
    store.add([make_node("s", unit(0, 0, 1, 1), year="2021")])
    spec = filters(mf("year", ">", 2020))
    for call in (
        lambda: store.get_nodes(filters=spec),
        lambda: store.get_nodes(["a", "b", "s"], spec),
        lambda: store.get_nodes(["b"], spec),  # the str is elsewhere: still a mistake
        lambda: asyncio.run(store.aget_nodes(["a", "b"], spec)),
        lambda: store.delete_nodes(["a", "b", "s"], spec),
        lambda: asyncio.run(store.adelete_nodes(["a", "b"], spec)),
    ):
        with pytest.raises(FilterValueError, match="'year'"):
            call()
    assert len(store.get_nodes()) == 6  # nothing deleted


def test_clear_and_namespaces_stay_apart() -> None:
    cache = SemCache()
    one = SemCacheVectorStore(cache, namespace="one")
    two = SemCacheVectorStore(cache, namespace="two")
    one.add(corpus())
    two.add(corpus()[:2])
    cache.set("unrelated", "value")
    assert len(two.query(q(unit(1, 0, 0, 0))).ids) == 2
    one.clear()
    assert one.get_nodes() == [] and one.query(q(unit(1, 0, 0, 0))).ids == []
    assert len(two.get_nodes()) == 2 and cache.get("unrelated") == "value"
    with pytest.raises(InvalidArgumentError):
        SemCacheVectorStore(cache, namespace=None)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        SemCacheVectorStore(cache, namespace="")


# --- async ------------------------------------------------------------------------------------


async def test_async_twins_match_sync() -> None:
    sync_store, async_store = SemCacheVectorStore(), SemCacheVectorStore()
    sync_store.add(corpus())
    assert await async_store.async_add(corpus()) == ["a", "b", "c", "d", "e"]
    queries = [
        q(unit(1, 0.3, 0, 0), k=3),
        q(unit(0, 1, 1, 0), doc_ids=["d2"], filters=filters(mf("lang", "!=", "de"))),
        q(None, filters=filters(mf("year", ">=", 2021))),
        q(unit(1, 0.3, 0, 0), k=2, mode="mmr"),
    ]
    for query in queries:
        expected, got = sync_store.query(query), await async_store.aquery(query)
        assert (got.ids, got.similarities) == (expected.ids, expected.similarities)
    en = filters(mf("lang", "==", "en"))
    assert [n.node_id for n in await async_store.aget_nodes(["c", "a"], en)] == ["c", "a"]
    assert [n.node_id for n in await async_store.aget_nodes(filters=en)] == ["a", "c", "e"]
    await async_store.adelete("d1")
    await async_store.adelete_nodes(node_ids=["c", "d"], filters=en)
    assert [n.node_id for n in await async_store.aget_nodes()] == ["d", "e"]
    await async_store.adelete_nodes(filters=filters(mf("lang", "==", "de")))
    assert [n.node_id for n in await async_store.aget_nodes()] == ["e"]
    await async_store.aclear()
    assert await async_store.aget_nodes() == []


# --- MMR --------------------------------------------------------------------------------------


@pytest.fixture
def mmr_store() -> SemCacheVectorStore:
    s = SemCacheVectorStore()
    s.add(
        [
            make_node("best", unit(1, 0.10, 0)),
            make_node("twin", unit(1, 0.12, 0)),  # near-duplicate of best
            make_node("other", unit(0.5, -0.2, 1)),  # less relevant, very different
        ]
    )
    return s


def test_mmr_threshold_one_is_relevance_zero_is_diversity(mmr_store: SemCacheVectorStore) -> None:
    query = unit(1, 0.2, 0)
    plain = mmr_store.query(q(query, k=2))
    relevance = mmr_store.query(q(query, k=2, mode="mmr"), mmr_threshold=1.0)
    assert relevance.ids == plain.ids == ["twin", "best"]
    diverse = mmr_store.query(q(query, k=2, mode="mmr"), mmr_threshold=0.0)
    assert diverse.ids == ["twin", "other"]
    assert all(type(s) is float for s in diverse.similarities)
    # kwargs win over the query's own mmr_threshold
    from_query = mmr_store.query(q(query, k=2, mode="mmr", mmr_threshold=0.0))
    assert from_query.ids == ["twin", "other"]
    overridden = mmr_store.query(q(query, k=2, mode="mmr", mmr_threshold=0.0), mmr_threshold=1.0)
    assert overridden.ids == ["twin", "best"]
    assert mmr_store.query(q(query, k=5, mode="mmr")).ids[0] == "twin"


def test_mmr_chooses_among_the_prefetched_candidates(mmr_store: SemCacheVectorStore) -> None:
    query = q(unit(1, 0.2, 0), k=2, mode="mmr")
    assert mmr_store.query(query, mmr_threshold=0.0).ids == ["twin", "other"]
    # only the two nearest fetched: "other" is not among them
    assert mmr_store.query(query, mmr_threshold=0.0, mmr_prefetch_factor=1).ids == ["twin", "best"]
    assert mmr_store.query(query, mmr_threshold=0.0, mmr_prefetch_k=2).ids == ["twin", "best"]
    huge = mmr_store.query(query, mmr_threshold=0.0, mmr_prefetch_factor=1e300)  # 2e300 > any k
    assert huge.ids == ["twin", "other"]


@settings(max_examples=60, deadline=None)
@given(
    factor=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([True, "2", None, [2]]),
        st.integers(max_value=0),
    )
)
def test_a_bad_prefetch_factor_is_refused_by_name(factor: Any) -> None:
    store = SemCacheVectorStore()
    store.add([make_node("a", unit(1, 0, 0)), make_node("b", unit(0, 1, 0))])
    query = q(unit(1, 0, 0), k=1, mode="mmr")
    if isinstance(factor, float) and 1 <= factor < math.inf:
        assert store.query(query, mmr_prefetch_factor=factor).ids == ["a"]
        return
    with pytest.raises(InvalidArgumentError, match="mmr_prefetch_factor"):
        store.query(query, mmr_prefetch_factor=factor)


# --- persistence ------------------------------------------------------------------------------


def test_persist_and_reload_snapshot(tmp_path: Path, store: SemCacheVectorStore) -> None:
    path = tmp_path / "sub" / "vs.bin"
    store.persist(str(path))
    again = SemCacheVectorStore.from_persist_path(str(path))
    query = q(unit(1, 0.5, 0, 0), k=3, filters=filters(mf("lang", "!=", "de")))
    assert again.query(query).ids == store.query(query).ids
    with pytest.raises(InvalidArgumentError, match="local filesystem"):
        store.persist(str(path), fs=fsspec.filesystem("memory"))
    store.persist(str(path), fs=fsspec.filesystem("file"))
    with pytest.raises(FileNotFoundError):
        SemCacheVectorStore.from_persist_path(str(tmp_path / "missing.bin"))


def documents() -> list[Document]:
    return [
        Document(text="cats purr and sleep all day", doc_id="cats", metadata={"topic": "pets"}),
        Document(text="dogs bark at the mail carrier", doc_id="dogs", metadata={"topic": "pets"}),
        Document(
            text="stocks fell sharply on monday", doc_id="stocks", metadata={"topic": "money"}
        ),
    ]


def test_storage_context_round_trip(tmp_path: Path) -> None:
    embed = WordEmbedding()
    context = StorageContext.from_defaults(vector_store=SemCacheVectorStore())
    index = VectorStoreIndex.from_documents(documents(), storage_context=context, embed_model=embed)
    index.storage_context.persist(str(tmp_path))
    assert (tmp_path / "default__vector_store.json").exists()

    store = SemCacheVectorStore.from_persist_dir(str(tmp_path))
    context = StorageContext.from_defaults(vector_store=store, persist_dir=str(tmp_path))
    loaded = load_index_from_storage(context, embed_model=embed)
    hits = loaded.as_retriever(similarity_top_k=1).retrieve("do cats sleep")
    assert hits[0].node.ref_doc_id == "cats" and "purr" in hits[0].node.get_content()


# --- end to end -------------------------------------------------------------------------------


def test_vector_store_index_end_to_end(no_llm: None) -> None:
    store = SemCacheVectorStore()
    index = VectorStoreIndex.from_documents(
        documents(),
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=WordEmbedding(),
    )
    retriever = index.as_retriever(similarity_top_k=2)
    top = retriever.retrieve("why do dogs bark")
    assert top[0].node.ref_doc_id == "dogs" and isinstance(top[0].score, float)

    pets_only = index.as_retriever(
        similarity_top_k=3, filters=filters(mf("topic", "==", "money"), condition="not")
    )
    assert {h.node.ref_doc_id for h in pets_only.retrieve("stocks on monday")} == {"cats", "dogs"}

    index.insert(Document(text="parrots talk and sing", doc_id="birds", metadata={"topic": "pets"}))
    assert retriever.retrieve("parrots sing")[0].node.ref_doc_id == "birds"
    index.delete_ref_doc("dogs")
    assert "dogs" not in {n.ref_doc_id for n in store.get_nodes()}
    assert {
        h.node.ref_doc_id for h in index.as_retriever(similarity_top_k=10).retrieve("dogs")
    } == {
        "cats",
        "stocks",
        "birds",
    }

    response = index.as_query_engine(similarity_top_k=1).query("do cats sleep")
    assert response.source_nodes[0].node.ref_doc_id == "cats"

    mmr = index.as_retriever(
        similarity_top_k=2,
        vector_store_query_mode="mmr",
        vector_store_kwargs={"mmr_threshold": 0.5},
    )
    assert len(mmr.retrieve("cats")) == 2


async def test_vector_store_index_async_retrieval() -> None:
    index = VectorStoreIndex.from_documents(
        documents(),
        storage_context=StorageContext.from_defaults(vector_store=SemCacheVectorStore()),
        embed_model=WordEmbedding(),
        use_async=False,
    )
    hits = await index.as_retriever(similarity_top_k=1).aretrieve("stocks fell")
    assert hits[0].node.ref_doc_id == "stocks"


def test_durable_cache_across_reopen(tmp_path: Path) -> None:
    cache = SemCache(path=tmp_path / "d")
    SemCacheVectorStore(cache).add(corpus())
    cache.close()

    cache = SemCache(path=tmp_path / "d")
    try:
        store = SemCacheVectorStore(cache)
        result = store.query(q(unit(0, 1, 0.1, 0), k=2, doc_ids=["d2"]))
        assert result.ids == ["c", "d"]
        node: BaseNode = result.nodes[0]
        assert node.metadata == {"year": 2022, "lang": "en", "tags": ["z"]}
        store.delete("d2")
    finally:
        cache.close()
    with SemCache(path=tmp_path / "d") as reopened:
        assert [n.node_id for n in SemCacheVectorStore(reopened).get_nodes()] == ["a", "b"]


# --- found by review: a lone str id -----------------------------------------------------------

IDS_OF = {
    "get_nodes": lambda s, ids: s.get_nodes(ids),
    "delete_nodes": lambda s, ids: s.delete_nodes(ids),
    "query node_ids": lambda s, ids: s.query(q(unit(1, 0, 0, 0), node_ids=ids)),
    "query doc_ids": lambda s, ids: s.query(q(unit(1, 0, 0, 0), doc_ids=ids)),
}


@pytest.mark.parametrize("call", list(IDS_OF.values()), ids=list(IDS_OF))
@pytest.mark.parametrize("ids", ["ab", "d1", b"ab"])
def test_a_single_str_where_ids_are_expected_is_refused(call: Any, ids: Any) -> None:
    """``list("ab")`` is ``["a", "b"]``: ``delete_nodes("ab")`` deleted nodes a and b (and
    kept ab), ``get_nodes("ab")`` returned them."""
    store = SemCacheVectorStore()
    store.add([*corpus(), make_node("ab", unit(1, 0, 1, 0), doc="d3")])
    with pytest.raises(InvalidArgumentError, match="single"):
        call(store, ids)
    assert sorted(n.node_id for n in store.get_nodes()) == ["a", "ab", "b", "c", "d", "e"]


def test_delete_takes_a_str_document_id(store: SemCacheVectorStore) -> None:
    with pytest.raises(InvalidKeyError, match="ref_doc_id"):
        store.delete(5)  # type: ignore[arg-type]
    assert len(store.get_nodes()) == 5


@settings(max_examples=30, deadline=None)
@given(
    vectors=st.lists(
        st.lists(st.floats(-10, 10, allow_nan=False), min_size=3, max_size=3).filter(
            lambda v: sum(x * x for x in v) > 1e-3
        ),
        min_size=1,
        max_size=6,
    )
)
def test_a_node_read_back_carries_its_embedding_and_can_be_added_again(
    vectors: list[list[float]],
) -> None:
    """Found by review: nodes from ``get_nodes``, ``query`` and a persisted store had no
    embedding, so adding them to another store raised. Each now carries the stored unit
    vector (the direction of the one added: a cosine store keeps no length)."""
    store = SemCacheVectorStore()
    nodes = [TextNode(id_=f"n{i}", text=f"text {i}", embedding=v) for i, v in enumerate(vectors)]
    store.add(nodes)
    ids = [node.node_id for node in nodes]
    query = VectorStoreQuery(query_embedding=vectors[0], similarity_top_k=len(vectors))
    read = {
        "get_nodes": store.get_nodes(ids),
        "get_nodes(None)": store.get_nodes(),
        "aget_nodes": asyncio.run(store.aget_nodes(ids)),
        "query": store.query(query).nodes or [],
    }
    for how, got in read.items():
        assert sorted(node.node_id for node in got) == sorted(ids), how
        for node in got:
            added = np.asarray(vectors[int(node.node_id[1:])])
            expected = added / np.linalg.norm(added)
            assert node.embedding is not None, how
            assert np.allclose(node.embedding, expected, atol=1e-6), how
    other = SemCacheVectorStore()
    other.add(read["get_nodes"])  # raised InvalidArgumentError: no embedding
    assert sorted(n.node_id for n in other.get_nodes(ids)) == sorted(ids)
    assert store.get_nodes([]) == []


def test_a_persisted_store_gives_its_nodes_back_with_their_embeddings(tmp_path: Path) -> None:
    store = SemCacheVectorStore()
    store.add([TextNode(id_="n1", text="hello", embedding=[3.0, 4.0])])
    store.persist(str(tmp_path / "default__vector_store.json"))
    loaded = SemCacheVectorStore.from_persist_dir(str(tmp_path))
    (node,) = loaded.get_nodes(["n1"])
    assert node.embedding is not None and np.allclose(node.embedding, [0.6, 0.8], atol=1e-7)
