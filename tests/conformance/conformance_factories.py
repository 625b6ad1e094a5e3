"""The vector stores the conformance suite runs against, and what each one supports.

A factory makes an empty store (``make()``) and reopens one that
``StorageContext.persist(persist_dir)`` wrote (``reload(persist_dir)``). ``supports`` names
the optional features; a test that needs a feature a factory lacks is not generated for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from llama_index.core.vector_stores.simple import SimpleVectorStore
from llama_index.core.vector_stores.types import BasePydanticVectorStore

from semcache_integrations.llama_index.vector_store import SemCacheVectorStore

# Features a store may lack (everything else in the suite is required of every store):
STORES_TEXT = "stores_text"  # query results carry nodes; node fidelity
GET_NODES = "get_nodes"  # get_nodes / aget_nodes
DOC_IDS = "doc_ids"  # VectorStoreQuery.doc_ids restricts by ref_doc_id
EMPTY_NODE_IDS_ALL = "empty_node_ids_all"  # node_ids=[] means no restriction
NESTED_FILTERS = "nested_filters"  # MetadataFilters inside MetadataFilters
PLAIN_FLOATS = "plain_floats"  # similarities are exactly `float`, not numpy scalars

ALL_FEATURES = frozenset(
    {STORES_TEXT, GET_NODES, DOC_IDS, EMPTY_NODE_IDS_ALL, NESTED_FILTERS, PLAIN_FLOATS}
)


@dataclass(frozen=True)
class StoreFactory:
    name: str
    make: Callable[[], BasePydanticVectorStore]
    reload: Callable[[str], BasePydanticVectorStore]
    supports: frozenset[str] = field(default_factory=frozenset)

    def __repr__(self) -> str:
        return f"StoreFactory({self.name})"


def _simple_reload(persist_dir: str) -> BasePydanticVectorStore:
    return SimpleVectorStore.from_persist_dir(persist_dir)


# SimpleVectorStore: stores_text=False (query gives ids only, get_nodes raises
# NotImplementedError), ignores doc_ids, reads node_ids=[] as "no node", rejects nested
# MetadataFilters (ValueError), returns numpy.float64 similarities.
SIMPLE = StoreFactory(
    name="simple",
    make=SimpleVectorStore,
    reload=_simple_reload,
    supports=frozenset(),
)

# The reference the cross-store test compares every other store with.
REFERENCE = SIMPLE

# Ours: every feature. reload is its own from_persist_dir (StorageContext.persist wrote
# persist_dir/default__vector_store.json, a binary snapshot despite the name).
SEMCACHE = StoreFactory(
    name="semcache",
    make=SemCacheVectorStore,
    reload=SemCacheVectorStore.from_persist_dir,
    supports=ALL_FEATURES,
)

FACTORIES: list[StoreFactory] = [SIMPLE, SEMCACHE]
