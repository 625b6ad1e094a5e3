"""A LlamaIndex ``BasePydanticVectorStore`` over :class:`semcache_core.SemCache`.

Example::

    from llama_index.core import StorageContext, VectorStoreIndex
    from semcache_integrations.llama_index.vector_store import SemCacheVectorStore

    store = SemCacheVectorStore()  # or SemCacheVectorStore(SemCache(path="vectors"))
    index = VectorStoreIndex.from_documents(
        documents, storage_context=StorageContext.from_defaults(vector_store=store)
    )
    index.storage_context.persist("storage")  # our binary snapshot, see persist()
    store = SemCacheVectorStore.from_persist_dir("storage")

How nodes are stored: each node is one cache entry in the engine namespace
``"li-vectors:{namespace}"`` (see :mod:`semcache_core.namespaces`), with

- key: the node id;
- vector: ``node.get_embedding()`` (stored unit length; similarities are cosine), the
  embedding of every node read back (``get_nodes``, ``query``), so it can be added again;
- value: the node itself, as the JSON string ``node_to_metadata_dict`` makes of it
  (``_node_content``: id, text, metadata, relationships, ...; no embedding);
- metadata: what filters see, i.e. ``node_to_metadata_dict(node)`` without
  ``_node_content``: the user's metadata keys at the top level, plus LlamaIndex's
  ``_node_type``, ``document_id``, ``doc_id``, ``ref_doc_id`` (the ref doc id, or
  ``"None"``) and our ``_node_id``. That is exactly what ``SimpleVectorStore`` filters on
  (plus ``_node_id``), so filters mean the same; a user key with one of those names is
  shadowed for filtering, as in every LlamaIndex store, but the node keeps it.

Keeping the node payload in the value, not the metadata, keeps filtering fast: the cache
decodes (and keeps decoded) the metadata of every entry a filter looks at, and the text is
usually the largest part of a node. Nodes come back whole through
``metadata_dict_to_node``.

Queries: ``node_ids`` (an empty list restricts nothing, as the retriever sends it),
``doc_ids`` (ref doc ids; empty restricts nothing) and ``filters`` are intersected into one
cache filter (``_node_id in node_ids``, ``ref_doc_id in doc_ids``, the ``MetadataFilters``
translated recursively) that the cache applies before ranking, so ``similarity_top_k``
results come back whenever that many nodes match. The adapter is thin: search, filters,
TTL, eviction and persistence are the cache's.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import (
    DEFAULT_PERSIST_DIR,
    DEFAULT_PERSIST_FNAME,
    BasePydanticVectorStore,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from semcache_core import Hit, SemCache
from semcache_core.checks import check_keys, check_keywords
from semcache_core.engine_arg import check_engine
from semcache_core.errors import InvalidArgumentError, InvalidKeyError, InvalidValueError, shown
from semcache_core.filters import Filter, FilterGroup, FilterNode
from semcache_core.mmr import mmr_select
from semcache_core.namespaces import adapter_namespace
from semcache_core.vectors import as_unit_vector

from .filters import MATCH_ALL, translate_filters
from .persist_files import check_fs as _check_fs
from .persist_files import check_namespace_found, read_persisted, write_persisted
from .query_plan import QueryPlan, plan_query

__all__ = [
    "DEFAULT_NAMESPACE",
    "DEFAULT_STORE_NAME",
    "NODE_ID_KEY",
    "SemCacheVectorStore",
    "translate_filters",
]

DEFAULT_NAMESPACE = "default"
DEFAULT_STORE_NAME = "default"  # StorageContext's name for its vector store
NODE_ID_KEY = "_node_id"  # reserved metadata key: the node id, for node_ids restrictions
REF_DOC_ID_KEY = "ref_doc_id"  # written by node_to_metadata_dict ("None" when absent)
NODE_CONTENT_KEY = "_node_content"
NODE_TYPE_KEY = "_node_type"


class SemCacheVectorStore(BasePydanticVectorStore):
    """LlamaIndex vector store whose nodes live in a :class:`~semcache_core.SemCache`.

    Args:
        cache: where nodes live; default a fresh in-process ``SemCache(index="auto")``
            (exact search while small, HNSW beyond). Pass ``SemCache(path=...)`` for a
            durable store, or a cache shared with other components (the store's namespace
            has its own vector dimension).
        namespace: the store's share of the cache: the engine namespace
            ``"li-vectors:{namespace}"`` holds its nodes (``engine_namespace``), and
            ``clear()`` empties it and nothing else.

    ``query`` similarities are cosine similarities in [-1, 1] (Python floats), higher is
    closer, parallel to ``ids`` and ``nodes``. Modes: ``DEFAULT`` and ``MMR``
    (``mmr_threshold`` from the query kwargs, else ``VectorStoreQuery.mmr_threshold``,
    else 0.5; candidates: ``mmr_prefetch_k``, else ``similarity_top_k *
    mmr_prefetch_factor`` (default 4) best matches). A query without an embedding returns
    the nodes matching its restrictions, by node id, each with similarity 1.0.

    Raises:
        InvalidArgumentError: ``namespace`` is empty or not a str.
    """

    stores_text: bool = True
    is_embedding_query: bool = True
    namespace: str = Field(default=DEFAULT_NAMESPACE, description="cache namespace")

    _cache: SemCache = PrivateAttr()
    _engine_namespace: str = PrivateAttr()

    def __init__(
        self,
        cache: SemCache | None = None,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        **kwargs: Any,
    ) -> None:
        check_keywords("SemCacheVectorStore", kwargs, set(type(self).model_fields) - {"namespace"})
        engine_namespace = adapter_namespace("li-vectors", namespace)
        super().__init__(namespace=namespace, **kwargs)  # type: ignore[call-arg]
        cache = check_engine(cache, "SemCacheVectorStore")
        self._cache = SemCache(index="auto") if cache is None else cache
        self._engine_namespace = engine_namespace

    @classmethod
    def class_name(cls) -> str:
        return "SemCacheVectorStore"

    @property
    def client(self) -> SemCache:
        """The :class:`~semcache_core.SemCache` holding the nodes."""
        return self._cache

    @property
    def cache(self) -> SemCache:
        return self._cache

    @property
    def engine_namespace(self) -> str:
        """The engine namespace holding this store's nodes."""
        return self._engine_namespace

    def __repr__(self) -> str:
        return f"SemCacheVectorStore(namespace={self.namespace!r}, cache={self._cache!r})"

    # --- shared logic (sync and async twins differ only in the awaited calls) -------------

    def _key(self, node_id: Any) -> str:
        if not isinstance(node_id, str):
            raise InvalidArgumentError(
                f"node ids must be str, got {type(node_id).__name__} {shown(node_id)}"
            )
        return node_id

    def _writes(self, nodes: Sequence[BaseNode]) -> tuple[list[tuple[str, str]], dict[str, Any]]:
        """``(items, options)`` of the ``set_many`` call that stores ``nodes``.

        Everything is validated (and serialised) before anything is written.
        """
        items, vectors, metadatas = [], [], []
        for i, node in enumerate(nodes):
            if not isinstance(node, BaseNode):
                raise InvalidValueError(f"nodes[{i}] must be a BaseNode, got {type(node).__name__}")
            if node.embedding is None:
                raise InvalidArgumentError(
                    f"node {shown(node.node_id)} has no embedding; embed nodes before adding them "
                    "(VectorStoreIndex does it)"
                )
            metadata = node_to_metadata_dict(node, remove_text=False, flat_metadata=False)
            content = metadata.pop(NODE_CONTENT_KEY)
            metadata[NODE_ID_KEY] = node.node_id
            items.append((self._key(node.node_id), content))
            vectors.append(node.get_embedding())
            metadatas.append(metadata)
        options = {"vectors": vectors, "metadatas": metadatas, "namespace": self._engine_namespace}
        return items, options

    def _node(self, hit: Hit) -> BaseNode | None:
        """The node a hit's entry holds, with the entry's vector as its embedding when the
        hit carries it (the stored unit vector: a node read back can be added again), or
        None for an entry this store did not write."""
        if not isinstance(hit.value, str):
            return None
        payload = {NODE_CONTENT_KEY: hit.value, NODE_TYPE_KEY: hit.metadata.get(NODE_TYPE_KEY)}
        node = metadata_dict_to_node(payload)
        if hit.vector is not None:
            node.embedding = [float(x) for x in hit.vector]
        return node

    @staticmethod
    def _restriction(
        filters: Any,
        node_ids: Sequence[str] | None = None,
        doc_ids: Sequence[str] | None = None,
    ) -> FilterNode | None:
        """One cache filter: ``filters`` AND node id in ``node_ids`` AND ref doc in ``doc_ids``.

        Empty (or None) ``node_ids`` / ``doc_ids`` restrict nothing.
        """
        parts: list[FilterNode] = []
        if node_ids:  # a lone str would be read letter by letter: refused
            parts.append(Filter(NODE_ID_KEY, "in", check_keys(node_ids, what="node_ids")))
        if doc_ids:
            parts.append(Filter(REF_DOC_ID_KEY, "in", check_keys(doc_ids, what="doc_ids")))
        node = translate_filters(filters)
        if node is not None:
            parts.append(node)
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else FilterGroup.all_of(*parts)

    def _plan(self, query: VectorStoreQuery, kwargs: dict[str, Any]) -> QueryPlan:
        """Validate ``query`` (before the cache is asked anything)."""
        return plan_query(
            query, kwargs, lambda: self._restriction(query.filters, query.node_ids, query.doc_ids)
        )

    @staticmethod
    def _probe(dim: int | None) -> np.ndarray | None:
        """Any unit vector of the store's dimension (None while it holds no vector).

        ``dim`` is the store's namespace's (``dim_of``), not ``cache.dim``: a shared cache
        whose namespaces differ in dimension has no single ``dim``.
        """
        if dim is None:
            return None
        probe = np.zeros(dim, dtype=np.float32)
        probe[0] = 1.0
        return probe

    def _matching_options(self, node: FilterNode | None) -> dict[str, Any]:
        # A filter (the empty group matches everything) keeps the cache on its filtered
        # path, whose contract is k results whenever k entries match: with k >= the
        # cache's size that is every match, ranked against an arbitrary probe.
        filters = MATCH_ALL if node is None else node
        return {"namespace": self._engine_namespace, "filters": filters}

    def _listed(self, hits: list[Hit]) -> list[tuple[str, BaseNode]]:
        """The nodes among ``hits``, by node id."""
        found = [(hit.key, node) for hit in hits if (node := self._node(hit)) is not None]
        found.sort(key=lambda pair: pair[0])
        return found

    def _unique_keys(self, node_ids: Sequence[str]) -> list[str]:
        return list(dict.fromkeys(check_keys(node_ids, what="node_ids")))

    def _result(self, plan: QueryPlan, hits: list[Hit]) -> VectorStoreQueryResult:
        """Hits of a ranked query (best first) -> the query's result."""
        scored = [
            (node, float(hit.score), hit.vector)
            for hit in hits
            if (node := self._node(hit)) is not None
        ]
        if plan.mmr_lambda is not None:
            scored = self._mmr(plan, scored)
        if plan.top_k is not None:
            scored = scored[: plan.top_k]
        return VectorStoreQueryResult(
            nodes=[node for node, _, _ in scored],
            similarities=[score for _, score, _ in scored],
            ids=[node.node_id for node, _, _ in scored],
        )

    def _mmr(self, plan: QueryPlan, scored: list[Any]) -> list[Any]:
        if not scored or plan.mmr_lambda is None:
            return scored
        dim = len(scored[0][2])  # the store's vectors' dimension
        query = as_unit_vector(plan.vector, dim, "query_embedding")
        matrix = np.stack([vector for _, _, vector in scored])
        k = len(scored) if plan.top_k is None else plan.top_k
        return [scored[i] for i in mmr_select(query, matrix, k, plan.mmr_lambda)]

    @staticmethod
    def _unranked(plan: QueryPlan, listed: list[tuple[str, BaseNode]]) -> VectorStoreQueryResult:
        if plan.top_k is not None:
            listed = listed[: plan.top_k]
        return VectorStoreQueryResult(
            nodes=[node for _, node in listed],
            similarities=[1.0] * len(listed),
            ids=[node_id for node_id, _ in listed],
        )

    # --- writes --------------------------------------------------------------------------

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Store ``nodes`` (with their embeddings); returns their ids. A stored id is replaced.

        Raises:
            InvalidArgumentError: a node without an embedding (nothing is stored).
            DimensionMismatchError: an embedding of another dimension than the cache's.
        """
        items, options = self._writes(nodes)
        if items:
            self._cache.set_many(items, **options)
        return [node.node_id for node in nodes]

    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """Async :meth:`add` (the cache's ``aset_many``)."""
        items, options = self._writes(nodes)
        if items:
            await self._cache.aset_many(items, **options)
        return [node.node_id for node in nodes]

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Remove every node of document ``ref_doc_id`` (nodes whose ``ref_doc_id`` is it)."""
        node = self._restriction(None, doc_ids=[_ref_doc_id(ref_doc_id)])
        self._cache.delete_many(self._matching_keys(node), namespace=self._engine_namespace)

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Async :meth:`delete`."""
        node = self._restriction(None, doc_ids=[_ref_doc_id(ref_doc_id)])
        await self._cache.adelete_many(
            await self._amatching_keys(node), namespace=self._engine_namespace
        )

    def delete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Remove the nodes among ``node_ids`` that match ``filters``.

        As in ``SimpleVectorStore``: ``node_ids=None`` means every node, ``[]`` none, and
        ``filters=None`` restricts nothing (so no arguments at all removes every node).
        """
        if node_ids is not None:
            keys = [n.node_id for n in self.get_nodes(node_ids, filters)]
            self._cache.delete_many([self._key(i) for i in keys], namespace=self._engine_namespace)
            return
        self._cache.delete_many(
            self._matching_keys(self._restriction(filters)), namespace=self._engine_namespace
        )

    async def adelete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Async :meth:`delete_nodes`."""
        if node_ids is not None:
            keys = [n.node_id for n in await self.aget_nodes(node_ids, filters)]
            await self._cache.adelete_many(
                [self._key(i) for i in keys], namespace=self._engine_namespace
            )
            return
        await self._cache.adelete_many(
            await self._amatching_keys(self._restriction(filters)),
            namespace=self._engine_namespace,
        )

    def clear(self) -> None:
        """Remove every node of this store (its namespace's keys); other data stays."""
        self._cache.clear(self._engine_namespace)

    async def aclear(self) -> None:
        """Async :meth:`clear`."""
        await self._cache.aclear(self._engine_namespace)

    # --- reads ---------------------------------------------------------------------------

    def _matching_keys(self, node: FilterNode | None) -> list[str]:
        return [self._key(node_id) for node_id, _ in self._matching(node)]

    async def _amatching_keys(self, node: FilterNode | None) -> list[str]:
        return [self._key(node_id) for node_id, _ in await self._amatching(node)]

    def _matching(
        self, node: FilterNode | None, vectors: bool = False
    ) -> list[tuple[str, BaseNode]]:
        """Every node matching ``node``, by node id (``vectors``: with their embeddings)."""
        probe = self._probe(self._cache.dim_of(self._engine_namespace))
        size = len(self._cache)
        if probe is None or size == 0:
            return []
        options = self._matching_options(node)
        return self._listed(self._cache.search(probe, size, with_vectors=vectors, **options))

    async def _amatching(
        self, node: FilterNode | None, vectors: bool = False
    ) -> list[tuple[str, BaseNode]]:
        probe = self._probe(await self._cache.adim_of(self._engine_namespace))
        size = await self._cache.alen()
        if probe is None or size == 0:
            return []
        options = self._matching_options(node)
        return self._listed(await self._cache.asearch(probe, size, with_vectors=vectors, **options))

    def get_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
    ) -> list[BaseNode]:
        """Stored nodes among ``node_ids`` (in that order; missing ids skipped) matching
        ``filters``; ``node_ids=None``: every node matching ``filters``, by node id. Each
        with its embedding (the stored unit vector)."""
        if node_ids is None:
            return [n for _, n in self._matching(self._restriction(filters), vectors=True)]
        keys = self._unique_keys(node_ids)
        if not keys:  # an empty restriction restricts nothing
            return []
        return _in_order(keys, self._matching(self._restriction(filters, keys), vectors=True))

    async def aget_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
    ) -> list[BaseNode]:
        """Async :meth:`get_nodes`."""
        if node_ids is None:
            return [n for _, n in await self._amatching(self._restriction(filters), vectors=True)]
        keys = self._unique_keys(node_ids)
        if not keys:  # as get_nodes
            return []
        matching = await self._amatching(self._restriction(filters, keys), vectors=True)
        return _in_order(keys, matching)

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The ``similarity_top_k`` nodes closest to ``query.query_embedding``, best first,
        among those matching ``node_ids``, ``doc_ids`` and ``filters``.

        Raises:
            InvalidArgumentError: an unsupported mode, ``mmr_threshold`` outside [0, 1].
            TypeError: an unknown keyword argument.
            FilterError: a filter the cache cannot evaluate.
            DimensionMismatchError: a query embedding of another dimension.
        """
        plan = self._plan(query, kwargs)
        if plan.vector is None:
            return self._unranked(plan, self._matching(plan.node, vectors=True))
        k = plan.fetch_k if plan.fetch_k is not None else len(self._cache)
        if self._cache.dim_of(self._engine_namespace) is None or k == 0:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        hits = self._cache.search(
            plan.vector,
            k,
            namespace=self._engine_namespace,
            filters=plan.node,
            with_vectors=True,  # MMR's, and each node's embedding
        )
        return self._result(plan, hits)

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Async :meth:`query` (the cache's ``asearch``; MMR runs off the event loop)."""
        plan = self._plan(query, kwargs)
        if plan.vector is None:
            return self._unranked(plan, await self._amatching(plan.node, vectors=True))
        k = plan.fetch_k if plan.fetch_k is not None else await self._cache.alen()
        if await self._cache.adim_of(self._engine_namespace) is None or k == 0:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        hits = await self._cache.asearch(
            plan.vector,
            k,
            namespace=self._engine_namespace,
            filters=plan.node,
            with_vectors=True,  # MMR's, and each node's embedding
        )
        if plan.mmr_lambda is None:
            return self._result(plan, hits)
        # O(top_k * fetch_k * dim) of numpy: off the loop, like the search itself.
        return await asyncio.to_thread(self._result, plan, hits)

    # --- persistence ---------------------------------------------------------------------

    def persist(self, persist_path: str, fs: Any = None) -> None:
        """Write the cache's binary snapshot (``SemCache.dump``) for ``persist_path``.

        ``StorageContext.persist(dir)`` calls this with ``dir/default__vector_store.json``:
        the snapshot goes to ``dir/default__vector_store.semcache``, and the ``.json`` file
        becomes a pointer to it recording this store's namespace (:mod:`.persist_files`);
        any other path receives the snapshot itself. The snapshot holds the **whole cache**
        (other namespaces too) when it is shared. Reload with :meth:`from_persist_dir` and
        pass the store to ``StorageContext.from_defaults(vector_store=..., persist_dir=...)``:
        without it, LlamaIndex reads the pointer and stops with a ``ValueError`` saying so.

        Raises:
            InvalidArgumentError: ``fs`` is not a local filesystem.
        """
        _check_fs(fs)
        write_persisted(os.fspath(persist_path), self._cache, self.namespace)

    @classmethod
    def from_persist_path(
        cls,
        persist_path: str,
        fs: Any = None,
        *,
        namespace: str | None = None,
        **cache_options: Any,
    ) -> Self:
        """A store over a new in-process cache loaded from what :meth:`persist` wrote.

        ``namespace``: the store's namespace; default the one the store was persisted from
        (recorded beside the snapshot), else ``"default"``. ``cache_options`` go to
        ``SemCache.from_snapshot`` (e.g. ``embedder=``, ``ttl=``).

        Raises:
            FileNotFoundError: no file at ``persist_path``.
            SnapshotError: not a (valid) semcache snapshot.
            InvalidArgumentError: ``fs`` is not a local filesystem, or ``namespace`` holds
                no node in the snapshot while other namespaces do (it names them).
        """
        _check_fs(fs)
        persisted = read_persisted(os.fspath(persist_path))
        chosen = namespace or persisted.namespace or DEFAULT_NAMESPACE
        store = cls(SemCache.from_snapshot(persisted.snapshot, **cache_options), namespace=chosen)
        if chosen != persisted.namespace:  # an empty store here would answer nothing
            check_namespace_found(store.cache, store.engine_namespace, chosen, persisted.snapshot)
        return store

    @classmethod
    def from_persist_dir(
        cls,
        persist_dir: str = DEFAULT_PERSIST_DIR,
        namespace: str | None = None,
        fs: Any = None,
        *,
        store_name: str = DEFAULT_STORE_NAME,
        **cache_options: Any,
    ) -> Self:
        """:meth:`from_persist_path` of ``persist_dir/{store_name}__vector_store.json``, the
        file ``StorageContext.persist(persist_dir)`` wrote.

        Unlike ``SimpleVectorStore.from_persist_dir``, ``namespace`` is the cache namespace
        (as in the constructor; default the one persisted); the StorageContext's store name
        is ``store_name``.
        """
        fname = f"{store_name}__{DEFAULT_PERSIST_FNAME}"
        return cls.from_persist_path(
            os.path.join(persist_dir, fname), fs, namespace=namespace, **cache_options
        )


def _ref_doc_id(ref_doc_id: Any) -> str:
    """``delete``'s document id, a str (another type matched nothing, silently)."""
    if not isinstance(ref_doc_id, str):
        raise InvalidKeyError(
            f"ref_doc_id must be a str, got {type(ref_doc_id).__name__} {shown(ref_doc_id)}"
        )
    return ref_doc_id


def _in_order(keys: list[str], matching: list[tuple[str, BaseNode]]) -> list[BaseNode]:
    """The nodes of ``matching`` whose ids are among ``keys``, in the order of ``keys``.

    ``get_nodes`` takes this path for a filter that orders (``>``...): the search it comes
    from raises, whichever nodes are asked for, when the filter orders a number against a
    str stored under its field (:func:`~semcache_core.filters.range_leaves`); reading the
    asked nodes alone would answer for some ids and raise for others.
    """
    found = dict(matching)
    return [found[key] for key in keys if key in found]
