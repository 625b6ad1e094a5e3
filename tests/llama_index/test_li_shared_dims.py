"""``SemCacheVectorStore`` on a cache shared with a namespace of another dimension.

Each namespace has its own dimension, so such a cache has no single ``dim`` (it is
``None``); the store answered every query with nothing there (found by the demo tour,
whose cache holds 256-dimensional lexical vectors beside the 384-dimensional MiniLM nodes).
"""

from __future__ import annotations

import numpy as np
import pytest
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from semcache_core import SemCache
from semcache_integrations.llama_index import SemCacheVectorStore

_DIM = 8


def _unit(seed: int, dim: int = _DIM) -> list[float]:
    vector = np.random.default_rng(seed).normal(size=dim)
    return (vector / np.linalg.norm(vector)).tolist()


@pytest.fixture(params=[None, 4, _DIM], ids=["alone", "other-dim", "same-dim"])
def store(request: pytest.FixtureRequest) -> SemCacheVectorStore:
    cache = SemCache()
    if request.param is not None:  # another component's vectors in the same cache
        cache.set("elsewhere", "x", vector=_unit(99, request.param), namespace="other")
    store = SemCacheVectorStore(cache, namespace="docs")
    nodes = [
        TextNode(
            id_=f"n{i}",
            text=f"node {i}",
            metadata={"parity": "even" if i % 2 == 0 else "odd"},
            embedding=_unit(i),
        )
        for i in range(6)
    ]
    store.add(nodes)
    return store


def _ids(result: object) -> list[str]:
    return list(result.ids or [])  # type: ignore[attr-defined]


def test_ranked_and_filtered_queries_find_the_nodes(store: SemCacheVectorStore) -> None:
    query = VectorStoreQuery(query_embedding=_unit(2), similarity_top_k=3)
    assert _ids(store.query(query))[0] == "n2"
    evens = MetadataFilters(filters=[MetadataFilter(key="parity", value="even")])
    filtered = VectorStoreQuery(query_embedding=_unit(2), similarity_top_k=3, filters=evens)
    assert sorted(_ids(store.query(filtered))) == ["n0", "n2", "n4"]
    assert [n.node_id for n in store.get_nodes(filters=evens)] == ["n0", "n2", "n4"]


def test_mmr_query_finds_the_nodes(store: SemCacheVectorStore) -> None:
    query = VectorStoreQuery(
        query_embedding=_unit(2), similarity_top_k=2, mode=VectorStoreQueryMode.MMR
    )
    ids = _ids(store.query(query, mmr_threshold=0.5))
    assert len(ids) == 2 and ids[0] == "n2"


async def test_async_queries_find_the_nodes(store: SemCacheVectorStore) -> None:
    query = VectorStoreQuery(query_embedding=_unit(2), similarity_top_k=3)
    assert _ids(await store.aquery(query))[0] == "n2"
    evens = MetadataFilters(filters=[MetadataFilter(key="parity", value="even")])
    assert [n.node_id for n in await store.aget_nodes(filters=evens)] == ["n0", "n2", "n4"]
