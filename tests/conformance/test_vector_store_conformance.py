"""Conformance suite for LlamaIndex vector stores (``BasePydanticVectorStore``).

Every test takes a ``factory`` (see ``conformance_factories.py``); ``conftest.py``
generates it for the factories whose ``supports`` cover the test's ``@requires`` features.
Expected answers come from ``conformance_data.py``: LlamaIndex's own
``build_metadata_filter_fn`` for filters, cosine similarity for ranking, and
SimpleVectorStore for the cross-store comparison.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
from conformance_data import (
    BY_ID,
    CORPUS_IDS,
    DIM,
    LEAF_CASES,
    MMR_QUERY,
    N_NODES,
    QUERY,
    REF_DOC,
    corpus,
    cosine,
    flat_reference,
    leaf,
    leaf_id,
    matches,
    matching_ids,
    mmr_nodes,
    queries,
    random_filters,
    rank,
)
from conformance_factories import (
    DOC_IDS,
    EMPTY_NODE_IDS_ALL,
    GET_NODES,
    NESTED_FILTERS,
    PLAIN_FLOATS,
    REFERENCE,
    STORES_TEXT,
    StoreFactory,
)
from llama_index.core import (
    Document,
    StorageContext,
    VectorStoreIndex,
    load_index_from_storage,
)
from llama_index.core.ingestion import DocstoreStrategy, IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import BaseNode, IndexNode, QueryBundle, TextNode
from llama_index.core.storage.docstore import SimpleDocumentStore
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_support import FunctionEmbedding

T = TypeVar("T", bound=Callable[..., Any])
ALL = 100  # a top_k larger than the corpus


def requires(*features: str) -> Callable[[T], T]:
    def mark(fn: T) -> T:
        fn._requires = frozenset(features)  # type: ignore[attr-defined]
        return fn

    return mark


def cases(items: Sequence[tuple[str, Any, frozenset[str]]]) -> Callable[[T], T]:
    def mark(fn: T) -> T:
        fn._cases = list(items)  # type: ignore[attr-defined]
        return fn

    return mark


def cross_store(fn: T) -> T:
    fn._not_reference = True  # type: ignore[attr-defined]
    return fn


# -- helpers ---------------------------------------------------------------------------------


def loaded(factory: StoreFactory, nodes: Sequence[BaseNode] | None = None) -> Any:
    store = factory.make()
    store.add(corpus() if nodes is None else nodes)
    return store


def vq(
    embedding: Sequence[float] = QUERY,
    top_k: int = ALL,
    filters: MetadataFilters | None = None,
    **fields: Any,
) -> VectorStoreQuery:
    return VectorStoreQuery(
        query_embedding=list(embedding), similarity_top_k=top_k, filters=filters, **fields
    )


def ids_of(result: VectorStoreQueryResult) -> list[str]:
    return list(result.ids or [])


def check_result(
    factory: StoreFactory,
    result: VectorStoreQueryResult,
    expected: list[str],
    query: Sequence[float] = QUERY,
    table: dict[str, BaseNode] | None = None,
) -> None:
    """ids in the expected order, similarities = cosine (floats, best first), nodes match."""
    table = table or BY_ID
    assert ids_of(result) == expected
    sims = list(result.similarities or [])
    assert len(sims) == len(expected)
    for node_id, sim in zip(expected, sims):
        assert isinstance(sim, float)
        assert sim == pytest.approx(cosine(query, table[node_id].get_embedding()), abs=1e-5)
    assert all(a >= b - 1e-6 for a, b in itertools.pairwise(sims))
    if STORES_TEXT in factory.supports:
        nodes = list(result.nodes or [])
        assert [n.node_id for n in nodes] == expected
        for node in nodes:
            assert_same_node(node, table[node.node_id])


def typed(metadata: dict[str, Any]) -> dict[str, tuple[type, Any]]:
    return {key: (type(value), value) for key, value in metadata.items()}


def assert_same_node(got: BaseNode, want: BaseNode) -> None:
    assert type(got) is type(want), (got.node_id, type(got), type(want))
    assert got.node_id == want.node_id
    assert got.get_content() == want.get_content()
    assert typed(got.metadata) == typed(want.metadata), got.node_id
    got_rel = got.model_dump(mode="json")["relationships"]
    want_rel = want.model_dump(mode="json")["relationships"]
    assert got_rel == want_rel, got.node_id
    assert got.ref_doc_id == want.ref_doc_id
    assert got.excluded_llm_metadata_keys == want.excluded_llm_metadata_keys
    assert got.excluded_embed_metadata_keys == want.excluded_embed_metadata_keys
    assert (got.start_char_idx, got.end_char_idx) == (want.start_char_idx, want.end_char_idx)
    if isinstance(want, IndexNode):
        assert isinstance(got, IndexNode)
        assert got.index_id == want.index_id
    assert got.hash == want.hash


def all_ids(store: Any) -> set[str]:
    return set(ids_of(store.query(vq(top_k=ALL))))


def same_results(a: VectorStoreQueryResult, b: VectorStoreQueryResult) -> None:
    assert ids_of(a) == ids_of(b)
    assert list(a.similarities or []) == pytest.approx(list(b.similarities or []), abs=1e-6)
    assert [n.node_id for n in a.nodes or []] == [n.node_id for n in b.nodes or []]


# -- the corpus itself -------------------------------------------------------------------------


def test_corpus_sanity() -> None:
    """The fixed data makes every case meaningful and every ranking free of near ties."""
    assert len(CORPUS_IDS) == N_NODES == len(set(CORPUS_IDS))
    assert sorted(set(REF_DOC.values())) == ["doc-a", "doc-b", "doc-c"]
    for case in LEAF_CASES:
        hits = [i for i in CORPUS_IDS if flat_reference(MetadataFilters(filters=[leaf(case)]))(i)]
        assert 0 < len(hits) < N_NODES, leaf_id(case)
    for query in [QUERY, *queries(30, 11)]:
        sims = sorted(cosine(query, BY_ID[i].get_embedding()) for i in CORPUS_IDS)
        assert min(b - a for a, b in itertools.pairwise(sims)) > 1e-5
    for node in BY_ID.values():
        assert len(node.get_embedding()) == DIM


# -- class contract ----------------------------------------------------------------------------


def test_class_contract(factory: StoreFactory) -> None:
    store = factory.make()
    assert isinstance(store, BasePydanticVectorStore)
    assert type(store.stores_text) is bool
    assert store.stores_text == (STORES_TEXT in factory.supports)
    assert store.is_embedding_query is True
    _ = store.client  # a property that answers
    assert isinstance(store.class_name(), str) and store.class_name()


def test_add_returns_node_ids_in_order(factory: StoreFactory) -> None:
    store = factory.make()
    nodes = corpus()
    random.Random(3).shuffle(nodes)
    returned = store.add(nodes)
    assert isinstance(returned, list)
    assert returned == [n.node_id for n in nodes]


def test_add_in_batches_equals_one_add(factory: StoreFactory) -> None:
    nodes = corpus()
    batched = factory.make()
    for start in range(0, len(nodes), 7):
        batched.add(nodes[start : start + 7])
    same_results(batched.query(vq(top_k=12)), loaded(factory).query(vq(top_k=12)))


def test_add_same_id_replaces(factory: StoreFactory) -> None:
    store = loaded(factory)
    replacement = TextNode(
        id_="node-05", text="replaced", metadata={"year": 1999}, embedding=list(QUERY)
    )
    store.add([replacement])
    result = store.query(vq(top_k=ALL))
    assert len(ids_of(result)) == N_NODES
    assert ids_of(result)[0] == "node-05"
    assert result.similarities[0] == pytest.approx(1.0, abs=1e-5)
    year = MetadataFilters(filters=[MetadataFilter(key="year", value=1999)])
    assert ids_of(store.query(vq(filters=year))) == ["node-05"]
    if STORES_TEXT in factory.supports:
        assert result.nodes[0].get_content() == "replaced"


# -- ranking and top_k -------------------------------------------------------------------------


def test_query_empty_store(factory: StoreFactory) -> None:
    result = factory.make().query(vq(top_k=5))
    assert ids_of(result) == []
    assert list(result.similarities or []) == []
    assert list(result.nodes or []) == []


def test_query_empty_store_with_filters(factory: StoreFactory) -> None:
    filters = MetadataFilters(filters=[leaf(LEAF_CASES[0])])
    assert ids_of(factory.make().query(vq(top_k=5, filters=filters))) == []


@pytest.mark.parametrize("top_k", [1, 2, 5, N_NODES - 1, N_NODES, N_NODES + 1, ALL])
def test_query_ranking_top_k(factory: StoreFactory, top_k: int) -> None:
    store = loaded(factory)
    check_result(factory, store.query(vq(top_k=top_k)), rank(QUERY, CORPUS_IDS, top_k))


def test_query_ranking_many_queries(factory: StoreFactory) -> None:
    store = loaded(factory)
    for query in queries(30, 11):
        expected = rank(query, CORPUS_IDS, 7)
        check_result(factory, store.query(vq(query, top_k=7)), expected, query)


def test_query_exact_match_first(factory: StoreFactory) -> None:
    store = loaded(factory)
    for node_id in ("node-00", "node-17", "node-29"):
        result = store.query(vq(BY_ID[node_id].get_embedding(), top_k=1))
        assert ids_of(result) == [node_id]
        assert result.similarities[0] == pytest.approx(1.0, abs=1e-5)


@requires(PLAIN_FLOATS)
def test_similarities_are_plain_floats(factory: StoreFactory) -> None:
    result = loaded(factory).query(vq(top_k=5))
    assert [type(s) for s in result.similarities] == [float] * 5


# -- node fidelity -----------------------------------------------------------------------------


@requires(STORES_TEXT)
def test_node_fidelity_through_query(factory: StoreFactory) -> None:
    result = loaded(factory).query(vq(top_k=ALL))
    assert len(result.nodes) == N_NODES
    for node in result.nodes:
        assert_same_node(node, BY_ID[node.node_id])
    types = {type(n).__name__ for n in result.nodes}
    assert types == {"TextNode", "IndexNode"}


@requires(STORES_TEXT)
def test_returned_nodes_are_fresh(factory: StoreFactory) -> None:
    store = loaded(factory)
    first = store.query(vq(top_k=3))
    first.nodes[0].metadata["year"] = -1
    first.nodes[0].text = "mutated"
    again = store.query(vq(top_k=3))
    assert_same_node(again.nodes[0], BY_ID[again.nodes[0].node_id])


# -- node_ids / doc_ids / filters --------------------------------------------------------------

SOME_IDS = ["node-01", "node-02", "node-04", "node-08", "node-13", "node-20", "node-27"]
YEAR_GT = MetadataFilters(filters=[MetadataFilter(key="year", value=2004, operator=">")])


def test_node_ids_restrict(factory: StoreFactory) -> None:
    result = loaded(factory).query(vq(node_ids=SOME_IDS))
    check_result(factory, result, rank(QUERY, SOME_IDS, ALL))


def test_node_ids_unknown_ids_ignored(factory: StoreFactory) -> None:
    result = loaded(factory).query(vq(node_ids=["node-03", "no-such-node"]))
    check_result(factory, result, ["node-03"])


def test_node_ids_and_filters_intersect(factory: StoreFactory) -> None:
    result = loaded(factory).query(vq(node_ids=SOME_IDS, filters=YEAR_GT))
    check_result(factory, result, rank(QUERY, matching_ids(YEAR_GT, SOME_IDS), ALL))


@requires(EMPTY_NODE_IDS_ALL)
def test_empty_node_ids_means_no_restriction(factory: StoreFactory) -> None:
    """VectorStoreIndex's retriever sends node_ids=[] to stores_text stores."""
    result = loaded(factory).query(vq(top_k=4, node_ids=[]))
    check_result(factory, result, rank(QUERY, CORPUS_IDS, 4))


@requires(DOC_IDS)
def test_doc_ids_restrict(factory: StoreFactory) -> None:
    result = loaded(factory).query(vq(doc_ids=["doc-a", "doc-c"]))
    allowed = [i for i in CORPUS_IDS if REF_DOC[i] in ("doc-a", "doc-c")]
    check_result(factory, result, rank(QUERY, allowed, ALL))


@requires(DOC_IDS)
def test_node_ids_doc_ids_filters_intersect(factory: StoreFactory) -> None:
    result = loaded(factory).query(vq(node_ids=SOME_IDS, doc_ids=["doc-b"], filters=YEAR_GT))
    allowed = [i for i in matching_ids(YEAR_GT, SOME_IDS) if REF_DOC[i] == "doc-b"]
    assert allowed  # the intersection is not empty by accident
    check_result(factory, result, rank(QUERY, allowed, ALL))


@requires(DOC_IDS)
def test_doc_ids_unknown_gives_nothing(factory: StoreFactory) -> None:
    assert ids_of(loaded(factory).query(vq(doc_ids=["doc-zzz"]))) == []


def test_filters_matching_nothing(factory: StoreFactory) -> None:
    nothing = MetadataFilters(filters=[MetadataFilter(key="year", value=1800)])
    assert ids_of(loaded(factory).query(vq(filters=nothing))) == []


def test_empty_filter_list_matches_all(factory: StoreFactory) -> None:
    result = loaded(factory).query(vq(top_k=6, filters=MetadataFilters(filters=[])))
    check_result(factory, result, rank(QUERY, CORPUS_IDS, 6))


def test_filter_on_unknown_key(factory: StoreFactory) -> None:
    store = loaded(factory)
    eq = MetadataFilters(filters=[MetadataFilter(key="nope", value=1)])
    ne = MetadataFilters(filters=[MetadataFilter(key="nope", value=1, operator="!=")])
    assert ids_of(store.query(vq(filters=eq))) == []
    check_result(factory, store.query(vq(filters=ne)), rank(QUERY, CORPUS_IDS, ALL))


# -- one test per operator, on int / float / str / list fields with missing keys -----------

LEAF_PARAMS = [(leaf_id(case), case, frozenset()) for case in LEAF_CASES]


@cases(LEAF_PARAMS)
def test_filter_operator(factory: StoreFactory, case: tuple[FilterOperator, str, Any]) -> None:
    filters = MetadataFilters(filters=[leaf(case)])
    reference = flat_reference(filters)  # llama_index's build_metadata_filter_fn, unmodified
    expected = rank(QUERY, [i for i in CORPUS_IDS if reference(i)], ALL)
    check_result(factory, loaded(factory).query(vq(filters=filters)), expected)


def test_operator_given_as_string(factory: StoreFactory) -> None:
    filters = MetadataFilters(filters=[MetadataFilter(key="score", value=2.5, operator=">=")])
    expected = rank(QUERY, matching_ids(filters), ALL)
    check_result(factory, loaded(factory).query(vq(filters=filters)), expected)


# -- AND / OR / NOT and nested trees -----------------------------------------------------------

C = FilterCondition
O = FilterOperator  # noqa: E741


def mf(condition: FilterCondition, *items: Any) -> MetadataFilters:
    return MetadataFilters(
        filters=[leaf(i) if isinstance(i, tuple) else i for i in items], condition=condition
    )


FLAT_TREES = {
    "AND": mf(C.AND, (O.GT, "year", 2003), (O.CONTAINS, "tags", "space")),
    "AND-missing": mf(C.AND, (O.LT, "score", 4.0), (O.NE, "genre", "fantasy")),
    "OR": mf(C.OR, (O.EQ, "genre", "mystery"), (O.IS_EMPTY, "tags", None)),
    "OR-three": mf(C.OR, (O.IN, "year", [2001, 2002]), (O.GT, "score", 4.0), (O.EQ, "tags", [])),
    "NOT": mf(C.NOT, (O.EQ, "genre", "fantasy")),
    "NOT-two": mf(C.NOT, (O.GTE, "year", 2007), (O.ANY, "tags", ["magic"])),
    "NOT-missing": mf(C.NOT, (O.NE, "score", 1.0)),
}

NESTED_TREES = {
    "AND(OR,NOT)": mf(
        C.AND,
        mf(C.OR, (O.EQ, "genre", "sci-fi"), (O.ALL, "tags", ["space", "robots"])),
        mf(C.NOT, (O.LT, "year", 2003)),
    ),
    "OR(AND,leaf)": mf(
        C.OR,
        mf(C.AND, (O.GT, "score", 2.0), (O.TEXT_MATCH_INSENSITIVE, "genre", "sci")),
        (O.IS_EMPTY, "year", None),
    ),
    "NOT(OR)": mf(C.NOT, mf(C.OR, (O.EQ, "year", 2001), (O.CONTAINS, "tags", "magic"))),
    "NOT(AND,leaf)": mf(
        C.NOT, mf(C.AND, (O.GT, "year", 2002), (O.LT, "year", 2008)), (O.IS_EMPTY, "genre", None)
    ),
    "three-levels": mf(
        C.AND,
        (O.NIN, "year", [2009]),
        mf(
            C.OR,
            mf(C.NOT, (O.TEXT_MATCH, "genre", "Sci"), (O.IS_EMPTY, "tags", None)),
            mf(C.AND, (O.GTE, "score", 3.5), (O.ANY, "tags", ["space", "crime"])),
        ),
    ),
    "single-child": mf(C.AND, mf(C.OR, (O.EQ, "genre", "romance"))),
    "empty-child": mf(C.AND, mf(C.OR), (O.GT, "year", 2006)),
}


@cases([(name, tree, frozenset()) for name, tree in FLAT_TREES.items()])
def test_filter_condition_flat(factory: StoreFactory, case: MetadataFilters) -> None:
    reference = flat_reference(case)  # flat: the unmodified LlamaIndex function
    expected = rank(QUERY, [i for i in CORPUS_IDS if reference(i)], ALL)
    assert 0 < len(expected) < N_NODES
    check_result(factory, loaded(factory).query(vq(filters=case)), expected)


@cases([(name, tree, frozenset({NESTED_FILTERS})) for name, tree in NESTED_TREES.items()])
def test_filter_nested_tree(factory: StoreFactory, case: MetadataFilters) -> None:
    expected = rank(QUERY, matching_ids(case), ALL)
    assert 0 < len(expected) < N_NODES
    check_result(factory, loaded(factory).query(vq(filters=case)), expected)


def test_random_flat_filters_vs_reference(factory: StoreFactory) -> None:
    store, rng = loaded(factory), random.Random(5)
    for query in queries(40, 21):
        filters, top_k = random_filters(rng, 0, nested=False), rng.randint(1, 12)
        expected = rank(query, matching_ids(filters), top_k)
        check_result(factory, store.query(vq(query, top_k, filters)), expected, query)


@requires(NESTED_FILTERS)
def test_random_nested_filters_vs_reference(factory: StoreFactory) -> None:
    store, rng = loaded(factory), random.Random(6)
    for query in queries(60, 22):
        filters, top_k = random_filters(rng, 3, nested=True), rng.randint(1, 12)
        expected = rank(query, matching_ids(filters), top_k)
        result = store.query(vq(query, top_k, filters))
        assert ids_of(result) == expected, filters.model_dump_json()


@cross_store
def test_cross_store_same_ids_as_simple(factory: StoreFactory) -> None:
    """Same ids in the same order as SimpleVectorStore, over random queries and filters."""
    ours, simple, rng = loaded(factory), loaded(REFERENCE), random.Random(8)
    for query in queries(60, 23):
        filters = random_filters(rng, 0, nested=False) if rng.random() < 0.8 else None
        top_k = rng.randint(1, 15)
        node_ids = rng.sample(CORPUS_IDS, 20) if rng.random() < 0.2 else None
        q = vq(query, top_k, filters, node_ids=node_ids)
        got, want = ours.query(q), simple.query(q)
        assert ids_of(got) == ids_of(want), (filters and filters.model_dump_json(), node_ids)
        assert list(got.similarities) == pytest.approx(list(want.similarities), abs=1e-5)


# -- delete / delete_nodes / clear / get_nodes -------------------------------------------------


def test_delete_by_ref_doc_id(factory: StoreFactory) -> None:
    store = loaded(factory)
    store.delete("doc-b")
    remaining = [i for i in CORPUS_IDS if REF_DOC[i] != "doc-b"]
    check_result(factory, store.query(vq()), rank(QUERY, remaining, ALL))
    store.delete("doc-unknown")  # no error, no change
    assert all_ids(store) == set(remaining)


def test_delete_nodes_by_ids(factory: StoreFactory) -> None:
    store = loaded(factory)
    store.delete_nodes(node_ids=[*SOME_IDS, "no-such-node"])
    remaining = [i for i in CORPUS_IDS if i not in SOME_IDS]
    check_result(factory, store.query(vq()), rank(QUERY, remaining, ALL))


def test_delete_nodes_by_filters(factory: StoreFactory) -> None:
    store = loaded(factory)
    store.delete_nodes(filters=YEAR_GT)
    remaining = [i for i in CORPUS_IDS if not matches(YEAR_GT, i)]
    check_result(factory, store.query(vq()), rank(QUERY, remaining, ALL))


def test_delete_nodes_ids_and_filters_intersect(factory: StoreFactory) -> None:
    store = loaded(factory)
    store.delete_nodes(node_ids=SOME_IDS, filters=YEAR_GT)
    gone = set(matching_ids(YEAR_GT, SOME_IDS))
    assert gone and gone != set(SOME_IDS)
    remaining = [i for i in CORPUS_IDS if i not in gone]
    check_result(factory, store.query(vq()), rank(QUERY, remaining, ALL))


def test_clear(factory: StoreFactory) -> None:
    store = loaded(factory)
    store.clear()
    assert ids_of(store.query(vq())) == []
    store.add(corpus()[:4])
    check_result(factory, store.query(vq()), rank(QUERY, CORPUS_IDS[:4], ALL))


@requires(GET_NODES)
def test_get_nodes_by_ids(factory: StoreFactory) -> None:
    got = loaded(factory).get_nodes(node_ids=[*SOME_IDS, "no-such-node"])
    assert sorted(n.node_id for n in got) == sorted(SOME_IDS)
    for node in got:
        assert_same_node(node, BY_ID[node.node_id])


@requires(GET_NODES)
def test_get_nodes_by_filters(factory: StoreFactory) -> None:
    got = loaded(factory).get_nodes(filters=YEAR_GT)
    assert sorted(n.node_id for n in got) == sorted(matching_ids(YEAR_GT))
    for node in got:
        assert_same_node(node, BY_ID[node.node_id])


@requires(GET_NODES)
def test_get_nodes_ids_and_filters_intersect(factory: StoreFactory) -> None:
    got = loaded(factory).get_nodes(node_ids=SOME_IDS, filters=YEAR_GT)
    assert sorted(n.node_id for n in got) == sorted(matching_ids(YEAR_GT, SOME_IDS))


@requires(GET_NODES, NESTED_FILTERS)
def test_get_and_delete_nodes_nested_filters(factory: StoreFactory) -> None:
    tree = NESTED_TREES["AND(OR,NOT)"]
    store = loaded(factory)
    assert sorted(n.node_id for n in store.get_nodes(filters=tree)) == matching_ids(tree)
    store.delete_nodes(filters=tree)
    assert all_ids(store) == {i for i in CORPUS_IDS if not matches(tree, i)}


@requires(GET_NODES)
def test_get_nodes_after_delete(factory: StoreFactory) -> None:
    store = loaded(factory)
    store.delete("doc-a")
    got = store.get_nodes(node_ids=CORPUS_IDS)
    assert sorted(n.node_id for n in got) == sorted(i for i in CORPUS_IDS if REF_DOC[i] != "doc-a")


# -- async parity ------------------------------------------------------------------------------


async def test_async_add_and_aquery_parity(factory: StoreFactory) -> None:
    sync_store, async_store = factory.make(), factory.make()
    nodes = corpus()
    assert await async_store.async_add(nodes) == sync_store.add(corpus())
    for query in queries(5, 31):
        q = vq(query, 6, YEAR_GT)
        same_results(await async_store.aquery(q), sync_store.query(q))
        same_results(await async_store.aquery(vq(query, 6)), sync_store.query(vq(query, 6)))


async def test_adelete_parity(factory: StoreFactory) -> None:
    sync_store, async_store = loaded(factory), loaded(factory)
    sync_store.delete("doc-c")
    await async_store.adelete("doc-c")
    same_results(await async_store.aquery(vq()), sync_store.query(vq()))
    assert all_ids(async_store) == {i for i in CORPUS_IDS if REF_DOC[i] != "doc-c"}


async def test_adelete_nodes_parity(factory: StoreFactory) -> None:
    sync_store, async_store = loaded(factory), loaded(factory)
    sync_store.delete_nodes(node_ids=SOME_IDS, filters=YEAR_GT)
    await async_store.adelete_nodes(node_ids=SOME_IDS, filters=YEAR_GT)
    same_results(await async_store.aquery(vq()), sync_store.query(vq()))
    sync_store.delete_nodes(node_ids=["node-00"])
    await async_store.adelete_nodes(node_ids=["node-00"])
    same_results(await async_store.aquery(vq()), sync_store.query(vq()))
    assert "node-00" not in all_ids(async_store)


@requires(GET_NODES)
async def test_aget_nodes_parity(factory: StoreFactory) -> None:
    store = loaded(factory)
    for kwargs in ({"node_ids": SOME_IDS}, {"filters": YEAR_GT}, {"node_ids": SOME_IDS[:3]}):
        got = await store.aget_nodes(**kwargs)
        want = store.get_nodes(**kwargs)
        assert sorted(n.node_id for n in got) == sorted(n.node_id for n in want)
        for node in got:
            assert_same_node(node, BY_ID[node.node_id])


async def test_aclear_parity(factory: StoreFactory) -> None:
    store = loaded(factory)
    await store.aclear()
    assert ids_of(await store.aquery(vq())) == []
    await store.async_add(corpus()[:3])
    check_result(factory, await store.aquery(vq()), rank(QUERY, CORPUS_IDS[:3], ALL))


# -- MMR ---------------------------------------------------------------------------------------


def mmr_query(store: Any, threshold: float, top_k: int = 3, **fields: Any) -> list[str]:
    q = vq(MMR_QUERY, top_k, mode=VectorStoreQueryMode.MMR, **fields)
    return ids_of(store.query(q, mmr_threshold=threshold))  # as the retriever passes it


def test_mmr_threshold_one_is_relevance_order(factory: StoreFactory) -> None:
    nodes = mmr_nodes()
    store = loaded(factory, nodes)
    table = {n.node_id: n for n in nodes}
    expected = rank(MMR_QUERY, table, 5, table)
    assert mmr_query(store, 1.0, top_k=5) == expected
    assert [i[4] for i in expected[:3]] == ["a", "a", "a"]


def test_mmr_threshold_zero_diversifies(factory: StoreFactory) -> None:
    store = loaded(factory, mmr_nodes())
    picked = mmr_query(store, 0.0, top_k=3)
    clusters = [node_id[4] for node_id in picked]
    assert len(picked) == len(set(picked)) == 3
    # pure diversity: never two of the same cluster one after the other
    assert all(a != b for a, b in itertools.pairwise(clusters)), picked
    assert len(set(clusters)) >= 2


def test_mmr_respects_filters_and_top_k(factory: StoreFactory) -> None:
    store = loaded(factory, mmr_nodes())
    not_b = MetadataFilters(filters=[MetadataFilter(key="cluster", value="b", operator="!=")])
    for threshold in (0.0, 0.5, 1.0):
        picked = mmr_query(store, threshold, top_k=20, filters=not_b)
        assert sorted(picked) == sorted(
            n.node_id for n in mmr_nodes() if n.metadata["cluster"] != "b"
        )


# -- persistence through StorageContext --------------------------------------------------------


class KeywordEmbedding(FunctionEmbedding):
    """Deterministic local embedding: counts of eight topic words (plus a small bias)."""

    VOCAB: tuple[str, ...] = ("space", "magic", "robot", "crime", "ocean", "music", "food", "sport")

    @classmethod
    def class_name(cls) -> str:
        return "KeywordEmbedding"

    def _vector(self, text: str) -> list[float]:
        words = re.findall(r"[a-z]+", text.lower())
        vector = [0.01 * (k + 1) for k in range(len(self.VOCAB))]
        for word in words:
            for k, topic in enumerate(self.VOCAB):
                if word.startswith(topic):
                    vector[k] += 1.0
        return vector


def test_persist_round_trip_through_storage_context(factory: StoreFactory, tmp_path: Path) -> None:
    nodes = [n for n in corpus() if type(n) is TextNode]
    table = {n.node_id: n for n in nodes}
    store = factory.make()
    storage_context = StorageContext.from_defaults(vector_store=store)
    index = VectorStoreIndex(nodes, storage_context=storage_context, embed_model=KeywordEmbedding())
    before = store.query(vq(top_k=ALL))
    storage_context.persist(persist_dir=str(tmp_path))

    reloaded = factory.reload(str(tmp_path))
    assert type(reloaded) is type(store)
    after = reloaded.query(vq(top_k=ALL))
    same_results(after, before)
    check_result(factory, after, rank(QUERY, table, ALL, table), table=table)
    filtered = reloaded.query(vq(filters=YEAR_GT))
    expected = rank(QUERY, [i for i in table if matches(YEAR_GT, i)], ALL, table)
    check_result(factory, filtered, expected, table=table)

    context = StorageContext.from_defaults(persist_dir=str(tmp_path), vector_store=reloaded)
    loaded_index = load_index_from_storage(context, embed_model=KeywordEmbedding())
    bundle = QueryBundle(query_str="anything", embedding=list(QUERY))
    got = loaded_index.as_retriever(similarity_top_k=5).retrieve(bundle)
    want = index.as_retriever(similarity_top_k=5).retrieve(bundle)
    assert [n.node.node_id for n in got] == [n.node.node_id for n in want]
    assert [n.node.node_id for n in got] == rank(QUERY, table, 5, table)
    assert [n.node.get_content() for n in got] == [table[n.node.node_id].text for n in got]

    # the reloaded store is a working store: it takes writes and deletes
    reloaded.delete("doc-a")
    assert all(REF_DOC[i] != "doc-a" for i in ids_of(reloaded.query(vq(top_k=ALL))))


# -- end to end through VectorStoreIndex and IngestionPipeline ---------------------------------

DOCUMENTS = [
    (
        "space-doc",
        "Space robots explore space. Robots love space.",
        {"genre": "sci-fi", "year": 2001},
    ),
    (
        "magic-doc",
        "A magic school teaches magic to young wizards.",
        {"genre": "fantasy", "year": 2005},
    ),
    (
        "crime-doc",
        "A crime story: the detective solves the crime.",
        {"genre": "mystery", "year": 2010},
    ),
    ("ocean-doc", "Ocean waves, ocean life and robots under the ocean.", {"genre": "nature"}),
]


def documents() -> list[Document]:
    return [Document(id_=doc_id, text=text, metadata=meta) for doc_id, text, meta in DOCUMENTS]


def doc_ids_of(nodes: Sequence[Any]) -> list[str]:
    return [n.node.ref_doc_id for n in nodes]


def test_vector_store_index_end_to_end(factory: StoreFactory, no_llm: None) -> None:
    store = factory.make()
    embed = KeywordEmbedding()
    context = StorageContext.from_defaults(vector_store=store)
    index = VectorStoreIndex.from_documents(
        documents()[:3], storage_context=context, embed_model=embed
    )

    retriever = index.as_retriever(similarity_top_k=2)
    assert doc_ids_of(retriever.retrieve("space robots"))[0] == "space-doc"
    assert doc_ids_of(retriever.retrieve("magic"))[0] == "magic-doc"

    index.insert(documents()[3])
    # a new retriever: SimpleVectorStore's retriever fixes its node_ids when it is made
    retriever = index.as_retriever(similarity_top_k=2)
    assert doc_ids_of(retriever.retrieve("ocean"))[0] == "ocean-doc"

    not_scifi = MetadataFilters(
        filters=[MetadataFilter(key="genre", value="sci-fi", operator="!=")]
    )
    filtered = index.as_retriever(similarity_top_k=4, filters=not_scifi).retrieve("space robots")
    assert doc_ids_of(filtered)[0] == "ocean-doc"  # the other robot document
    assert "space-doc" not in doc_ids_of(filtered) and len(filtered) == 3
    old = MetadataFilters(filters=[MetadataFilter(key="year", value=2005, operator="<=")])
    assert sorted(
        doc_ids_of(index.as_retriever(filters=old, similarity_top_k=9).retrieve("x"))
    ) == [
        "magic-doc",
        "space-doc",
    ]

    index.delete_ref_doc("space-doc", delete_from_docstore=True)
    after = index.as_retriever(similarity_top_k=9).retrieve("space robots")
    assert "space-doc" not in doc_ids_of(after)
    assert sorted(doc_ids_of(after)) == ["crime-doc", "magic-doc", "ocean-doc"]

    response = index.as_query_engine(similarity_top_k=1).query("tell me about crime")
    assert doc_ids_of(response.source_nodes) == ["crime-doc"]
    assert isinstance(str(response), str)


async def test_vector_store_index_async_end_to_end(factory: StoreFactory, no_llm: None) -> None:
    store = factory.make()
    embed = KeywordEmbedding()
    context = StorageContext.from_defaults(vector_store=store)
    index = VectorStoreIndex.from_documents(
        documents(), storage_context=context, embed_model=embed, use_async=True
    )
    got = await index.as_retriever(similarity_top_k=1).aretrieve("detective crime")
    assert doc_ids_of(got) == ["crime-doc"]
    await index.adelete_ref_doc("crime-doc", delete_from_docstore=True)
    got = await index.as_retriever(similarity_top_k=9).aretrieve("detective crime")
    assert "crime-doc" not in doc_ids_of(got)
    response = await index.as_query_engine(similarity_top_k=1).aquery("magic wizards")
    assert doc_ids_of(response.source_nodes) == ["magic-doc"]


def test_ingestion_pipeline_upsert(factory: StoreFactory) -> None:
    store = factory.make()
    docstore = SimpleDocumentStore()

    def pipeline() -> IngestionPipeline:
        return IngestionPipeline(
            transformations=[SentenceSplitter(chunk_size=64, chunk_overlap=0), KeywordEmbedding()],
            docstore=docstore,
            vector_store=store,
            docstore_strategy=DocstoreStrategy.UPSERTS,
        )

    first = pipeline().run(documents=documents())
    by_doc: dict[str, set[str]] = {}
    for node in first:
        by_doc.setdefault(node.ref_doc_id, set()).add(node.node_id)
    assert set(by_doc) == {d[0] for d in DOCUMENTS}
    assert all_ids(store) == {n.node_id for n in first}

    assert pipeline().run(documents=documents()) == []  # unchanged: nothing re-ingested
    assert all_ids(store) == {n.node_id for n in first}

    changed = documents()
    changed[1] = Document(id_="magic-doc", text="Food and music, no wizards left.", metadata={})
    second = pipeline().run(documents=changed)
    assert {n.ref_doc_id for n in second} == {"magic-doc"}
    expected = (set().union(*by_doc.values()) - by_doc["magic-doc"]) | {n.node_id for n in second}
    assert all_ids(store) == expected
    top = store.query(
        VectorStoreQuery(
            query_embedding=KeywordEmbedding()._vector("food music"), similarity_top_k=1
        )
    )
    assert ids_of(top) == [n.node_id for n in second][:1]
    old_magic = VectorStoreQuery(
        query_embedding=KeywordEmbedding()._vector("magic wizards"), similarity_top_k=ALL
    )
    assert not by_doc["magic-doc"] & set(ids_of(store.query(old_magic)))
