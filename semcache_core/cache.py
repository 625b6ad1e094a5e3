"""``SemCache``: the public facade over a storage backend.

The facade owns validation (every bad input raises before anything changes), encoding,
embedding, the TTL default, statistics and single flight; the backend owns storage,
expiry, LRU eviction and the vector index. Async twins run the same sync code in a worker
thread (after awaiting the embedder's async method for text), so they never block the loop.

Example::

    >>> from semcache_core import SemCache
    >>> cache = SemCache()
    >>> cache.put("faq:1", "How do I reset my password?")
    >>> cache.get_similar("how do I reset my password", threshold=0.8)
    'How do I reset my password?'
    >>> import numpy as np
    >>> vec = cache.get_or_compute("hello", lambda text: np.ones(256, np.float32))
    >>> cache.stats().computes
    1
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .backends.base import (
    NOT_DECODED,
    Backend,
    EntryWrite,
    StoredEntry,
    checks_query_dimension,
)
from .backends.local import LocalBackend, entry_counter, one_step_writer
from .cache_async import AsyncTwins
from .cache_batch import BatchCalls
from .cache_compute import ComputeCalls
from .cache_snapshots import Snapshots
from .cache_text import TextCalls
from .checks import (
    SearchOptions,
    check_backend_options,
    check_count,
    check_key,
    check_namespace,
    check_scan,
    check_search,
    check_sequence,
    check_threshold,
    check_ttl,
    ordered_rows,
)
from .codec import encode
from .embedders import as_embedder
from .entry_writes import EMPTY_METADATA, IMMUTABLE, as_queries, naming, stored_metadata
from .errors import (
    DimensionMismatchError,
    InvalidArgumentError,
    shown,
)
from .filters import FilterLike
from .flight import FlightTable
from .index.hnsw import HNSWParams
from .index.hybrid import DEFAULT_HNSW_THRESHOLD, IndexMode
from .persist.durable import DurableBackend
from .records import CacheStats, Entry, Hit
from .search_hits import SearchHits, backend_search, marked
from .stored_values import MISSING, entry_record, read_value, stored, value_of
from .vector_values import VectorValue
from .vectors import FloatMatrix, FloatVector, as_unit_matrix, as_unit_vector

__all__ = ["SemCache"]


class _Counters:
    """What the facade counts itself; exact hits and misses are the backend's (hot path)."""

    __slots__ = ("computes", "lock", "semantic_hits", "semantic_misses")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.semantic_hits = self.semantic_misses = self.computes = 0


class SemCache(ComputeCalls, TextCalls, BatchCalls, AsyncTwins, Snapshots):
    """An exact + semantic cache of ``key -> value`` entries with vectors, TTL and LRU.

    Args:
        dim: vector dimension; fixed by the first vector when ``None``.
        ttl: default time to live in seconds (``None``: entries never expire).
        max_entries: LRU bound (local backend); a read refreshes recency.
        embedder: turns text into vectors for ``put`` and text queries: a callable
            ``str -> vector``, a LangChain ``Embeddings`` or a LlamaIndex embedding.
            Default: the built-in lexical :class:`~semcache_core.embedders.HashingEmbedder`.
        index: ``"flat"`` (exact), ``"hnsw"`` (approximate) or ``"auto"`` (exact while a
            namespace is small, HNSW beyond ``hnsw_threshold`` vectors).
        backend: where entries live; default an in-process
            :class:`~semcache_core.backends.LocalBackend` built from ``max_entries`` and
            ``index`` (refused beside ``backend=``: the error says what to do instead).
        clock: seconds since the epoch; inject a fake one to test TTLs without sleeping.
        path: a directory for durable mode: every acknowledged write survives a crash and
            reopening restores the cache (see :class:`~semcache_core.persist.DurableBackend`;
            one process owns a directory at a time). Call :meth:`close` (or use ``with``)
            to save the index for a fast reopen.

    Raises:
        InvalidArgumentError: an argument out of range, or both ``backend`` and options
            that belong to the backend.
    """

    def __init__(
        self,
        dim: int | None = None,
        ttl: float | None = None,
        max_entries: int | None = None,
        embedder: Any = None,
        index: IndexMode = "auto",
        backend: Backend | None = None,
        *,
        clock: Callable[[], float] = time.time,
        hnsw_threshold: int = DEFAULT_HNSW_THRESHOLD,
        hnsw_params: HNSWParams | None = None,
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        if dim is not None:
            dim = check_count(dim, "dim")
        self._default_ttl = check_ttl(ttl, "ttl")
        embedder = as_embedder(embedder)  # before a durable directory is opened and locked
        if backend is not None:  # a message that says where each option goes instead
            check_backend_options(
                backend,
                max_entries=max_entries is not None,
                index=index != "auto",
                hnsw_threshold=hnsw_threshold != DEFAULT_HNSW_THRESHOLD,
                hnsw_params=hnsw_params is not None,
                path=path is not None,
            )
        if backend is None and path is not None:
            backend = DurableBackend(
                path,
                max_entries,
                index,
                hnsw_threshold=hnsw_threshold,
                hnsw_params=hnsw_params,
                clock=clock,
            )
            try:
                _check_dims(backend, dim)
            except DimensionMismatchError:
                backend.close()
                raise
        elif backend is None:
            backend = LocalBackend(
                max_entries, index, hnsw_threshold=hnsw_threshold, hnsw_params=hnsw_params
            )
        _check_dims(backend, dim)
        self._backend = backend
        own_reader = getattr(backend, "read_value", None)  # the local and durable backends'
        self._read_value: Callable[[str, str, float], Any] = (
            own_reader if callable(own_reader) else functools.partial(read_value, backend)
        )
        self._add_float_list = one_step_writer(backend)  # see cache_compute
        self._entry_counter = entry_counter(backend)  # see cache_compute
        self._fixed_dim = dim
        self._embedder = embedder
        self._clock = clock
        self._counters = _Counters()
        self._flights = FlightTable()

    # --- properties ----------------------------------------------------------------------

    @property
    def dim(self) -> int | None:
        """The vector dimension: ``dim=`` when given; else the one dimension every
        namespace holding vectors shares; ``None`` before any vector, or while namespaces
        differ (see :meth:`dim_of`)."""
        if self._fixed_dim is not None:
            return self._fixed_dim
        now = self._clock()  # a namespace whose vectors all expired has none
        dims = {self._backend.dim_of(namespace, now) for namespace in self._backend.dims} - {None}
        return dims.pop() if len(dims) == 1 else None

    def dim_of(self, namespace: str = "") -> int | None:
        """The dimension of ``namespace``'s vectors (``dim=`` for every namespace when
        given), ``None`` before its first vector."""
        if self._fixed_dim is not None:
            return self._fixed_dim
        return self._backend.dim_of(check_namespace(namespace), self._clock())

    @property
    def backend(self) -> Backend:
        return self._backend

    @property
    def embedder(self) -> Any:
        return self._embedder

    def now(self) -> float:
        """Seconds since the epoch by this cache's clock (the one its TTLs count on)."""
        return self._clock()

    def __repr__(self) -> str:
        return f"SemCache(dim={self.dim}, backend={type(self._backend).__name__})"

    # --- helpers -------------------------------------------------------------------------

    def _expires_at(self, ttl: Any) -> float | None:
        ttl = check_ttl(ttl) if ttl is not None else self._default_ttl
        # a float of its own: never an object of the clock's (see semcache_core.untracked)
        return None if ttl is None else float(self._clock() + ttl)

    def _write(
        self,
        key: Any,
        value: Any,
        unit: FloatVector | None,
        metadata: Any,
        ttl: Any,
        namespace: Any,
    ) -> EntryWrite:
        """Validate and encode one entry (``unit``: an already validated vector or None)."""
        check_key(key)
        return EntryWrite(
            key=key,
            # a marker reads back from its entry's vector: without one, encode() refuses it
            value=value.encode()
            if unit is not None and value.__class__ is VectorValue
            else encode(value),
            metadata=stored_metadata(metadata),
            namespace=check_namespace(namespace),
            expires_at=self._expires_at(ttl),
            vector=unit,
            plain=value if type(value) in IMMUTABLE else NOT_DECODED,
        )

    def _store(self, write: EntryWrite) -> None:
        self._backend.set_many([write], self._clock())

    def _as_queries(self, vectors: Any, namespace: str) -> FloatMatrix:
        if checks_query_dimension(self._backend):  # the search checks it, with no extra trip
            return as_queries(vectors, self._fixed_dim)
        return as_queries(vectors, self.dim_of(namespace))

    def _count(self, name: str) -> None:
        counters = self._counters
        with counters.lock:
            setattr(counters, name, getattr(counters, name) + 1)

    def _hit(self, entry: StoredEntry, score: float, with_vectors: bool) -> Hit:
        empty = entry.metadata == EMPTY_METADATA
        return Hit(
            entry.key,
            value_of(entry),
            score,
            {} if empty else stored(entry.metadata, entry.key, "metadata"),
            entry.namespace,
            entry.vector if with_vectors else None,
        )

    # --- exact key/value -----------------------------------------------------------------

    def get(self, key: str, default: Any = None, *, namespace: str = "") -> Any:
        """The value stored under ``key`` in ``namespace`` (a fresh copy), or ``default``."""
        if key.__class__ is not str or not key.isascii():  # non-ASCII: check it is UTF-8
            check_key(key)
        if namespace.__class__ is not str or not namespace.isascii():
            namespace = check_namespace(namespace)  # None is "", a lone surrogate refused
        value = self._read_value(namespace, key, self._clock())
        return default if value is MISSING else value

    def get_entry(self, key: str, *, namespace: str = "", count: bool = False) -> Entry | None:
        """Value, metadata, namespace and expiry of ``key``, or ``None``; counted in
        :meth:`stats` as a hit or a miss only with ``count=True`` (as :meth:`get` is)."""
        check_key(key)
        entry = self._backend.get(
            check_namespace(namespace), key, self._clock(), count=count is True
        )
        if entry is None:
            return None
        return entry_record(entry)

    def set(
        self,
        key: str,
        value: Any,
        *,
        vector: Any = None,
        metadata: dict[str, Any] | None = None,
        ttl: float | None = None,
        namespace: str = "",
    ) -> None:
        """Store ``value`` (bytes or anything msgpack can encode) under ``key`` in
        ``namespace``.

        With ``vector``, the entry is also found by :meth:`search` / :meth:`get_similar`
        in its namespace. ``ttl`` (seconds) overrides the cache default. Replaces any
        previous entry of ``(namespace, key)``.

        Raises:
            InvalidKeyError: ``key`` is not a valid key; nothing is stored.
            InvalidValueError: ``value`` cannot be encoded; nothing is stored.
            InvalidVectorError: ``vector`` is not a finite, non-zero vector (a
                :class:`DimensionMismatchError` when its dimension is not the
                namespace's); nothing is stored.
            InvalidArgumentError: another argument is out of range; nothing is stored.
        """
        namespace, write = self._set_write(key, value, vector, metadata, ttl, namespace)
        with naming(namespace):
            self._store(write)

    def _set_write(
        self, key: Any, value: Any, vector: Any, metadata: Any, ttl: Any, namespace: Any
    ) -> tuple[str, EntryWrite]:
        """:meth:`set`'s checked namespace and validated write (its async twin's too)."""
        check_key(key)
        namespace = check_namespace(namespace)
        unit = None
        if vector is not None:
            # the namespace's dimension is the backend's to enforce, atomically with the
            # write (a remote backend would pay round trips to tell it beforehand)
            with naming(namespace):
                unit = as_unit_vector(vector, self._fixed_dim)
        return namespace, self._write(key, value, unit, metadata, ttl, namespace)

    def set_many(
        self,
        items: Mapping[str, Any] | Iterable[tuple[str, Any]],
        *,
        vectors: Sequence[Any] | FloatMatrix | None = None,
        metadatas: Sequence[dict[str, Any] | None] | None = None,
        ttl: float | None = None,
        namespace: str = "",
    ) -> None:
        """Store many entries of ``namespace`` in one call: all are validated first, then
        stored together.

        ``items`` maps keys to values (or is a sequence of ``(key, value)`` pairs; a repeated
        key keeps its last value). ``vectors`` and ``metadatas``, when given, run parallel
        to ``items`` (a row of ``vectors`` may be ``None``). Vectors reach the index in one
        batch per namespace, which is what makes bulk loads fast.

        Example::

            cache.set_many({"a": 1, "b": 2}, vectors=np.eye(2, dtype=np.float32))

        Raises:
            The errors of :meth:`set`, naming the offending row; nothing is stored then.
        """
        namespace = check_namespace(namespace)
        dim = None if vectors is None else self.dim_of(namespace)
        writes = self._many_writes(items, vectors, metadatas, ttl, namespace, dim)
        self._backend.set_many(writes, self._clock())

    def _many_writes(
        self,
        items: Any,
        vectors: Any,
        metadatas: Any,
        ttl: Any,
        namespace: str,
        dim: int | None,
    ) -> list[EntryWrite]:
        """:meth:`set_many`'s writes (its async twin's too), every row checked first;
        ``dim``: the namespace's dimension, read by the caller."""
        pairs = (
            list(items.items()) if isinstance(items, Mapping) else check_sequence(items, "items")
        )
        with naming(namespace):
            rows = self._vector_rows(vectors, len(pairs), dim)
        metadata_rows = (
            None if metadatas is None else ordered_rows(metadatas, len(pairs), "metadatas")
        )
        writes = []
        for i, pair in enumerate(pairs):
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise InvalidArgumentError(
                    f"items[{i}] must be a (key, value) pair, got {shown(pair)}"
                )
            key, value = pair
            metadata = None if metadata_rows is None else metadata_rows[i]
            writes.append(self._write(key, value, rows[i], metadata, ttl, namespace))
        return writes

    def _vector_rows(self, vectors: Any, count: int, dim: int | None) -> list[Any]:
        """Parallel vectors as unit rows (or ``None``s), validated in one pass for a matrix."""
        if vectors is None:
            return [None] * count
        if not isinstance(vectors, np.ndarray):
            vectors = ordered_rows(vectors, count, "vectors")
        elif len(vectors) != count:
            raise InvalidArgumentError(f"vectors has {len(vectors)} rows for {count} items")
        if isinstance(vectors, np.ndarray) and vectors.ndim == 2:
            return list(as_unit_matrix(vectors, dim)) if count else []
        rows = []
        for i, v in enumerate(vectors):
            row = None if v is None else as_unit_vector(v, dim, f"vectors[{i}]")
            if row is not None:
                dim = len(row)  # a batch fixing the dimension keeps to it
            rows.append(row)
        return rows

    def delete(self, key: str, *, namespace: str = "") -> bool:
        """Remove ``key`` of ``namespace`` and its vector; True when it held a live entry."""
        check_key(key)
        return self._backend.delete(check_namespace(namespace), key, self._clock())

    def touch(self, key: str, ttl: float | None = None, *, namespace: str = "") -> bool:
        """Give ``key``'s live entry of ``namespace`` a new expiry, ``ttl`` seconds from
        now (``None``: the cache's default ttl, or no expiry without one); value, vector,
        metadata and LRU recency unchanged. Durable mode journals the new expiry.

        Returns True when a live entry was there (False: nothing changed).

        Raises:
            InvalidKeyError, InvalidArgumentError: bad input.
        """
        check_key(key)
        namespace = check_namespace(namespace)
        return self._backend.touch(namespace, key, self._expires_at(ttl), self._clock())

    def exists(self, key: str, *, namespace: str = "") -> bool:
        """Whether ``key`` holds a live entry in ``namespace`` (does not count as a hit or
        refresh LRU)."""
        check_key(key)
        return self._backend.exists(check_namespace(namespace), key, self._clock())

    def __contains__(self, key: object) -> bool:
        """``key in cache``: whether ``key`` lives in the default namespace ``""``."""
        return self.exists(key)  # type: ignore[arg-type]

    def __len__(self) -> int:
        """Live entries, all namespaces together."""
        return self._backend.count(self._clock())

    def count(self, namespace: str | None = None) -> int:
        """Live entries of ``namespace`` (of all namespaces when ``None``)."""
        if namespace is not None:
            check_namespace(namespace)
        return self._backend.count(self._clock(), namespace)

    def namespaces(self) -> list[str]:
        """The namespaces holding live entries, sorted."""
        return self._backend.namespaces(self._clock())

    def scan(self, prefix: str = "", limit: int | None = None, *, namespace: str = "") -> list[str]:
        """Live keys of ``namespace`` starting with ``prefix``, sorted, at most ``limit``."""
        prefix, limit, namespace = check_scan(prefix, limit, namespace)
        return self._backend.scan(namespace, prefix, limit, self._clock())

    def clear(self, namespace: str | None = None) -> None:
        """Remove every entry of ``namespace``, or of every namespace when ``None``
        (statistics are kept). No other namespace is read or touched."""
        self._backend.clear(None if namespace is None else check_namespace(namespace))

    def purge_expired(self) -> int:
        """Reclaim expired entries now (reads also do it); returns how many."""
        return self._backend.purge_expired(self._clock())

    # --- semantic ------------------------------------------------------------------------

    def search(
        self,
        vector_or_text: Any,
        k: int = 10,
        *,
        threshold: float | None = None,
        namespace: str = "",
        filters: FilterLike = None,
        with_vectors: bool = False,
        allow_partial: bool = False,
    ) -> SearchHits[Hit]:
        """The ``k`` live entries most similar to the query, best first.

        ``score`` is cosine similarity in [-1, 1]; ``threshold`` drops hits below it.
        ``filters`` (a :class:`~semcache_core.filters.Filter`, group or dict) applies
        before ranking, so ``k`` results come back whenever ``k`` entries match. Text is
        embedded with the cache's embedder. A shard that cannot be reached in time raises
        ``BackendUnavailableError``; with ``allow_partial=True`` the hits of the others
        come back marked ``.partial`` (see :mod:`semcache_core.search_hits`).
        """
        options = check_search(k, threshold, namespace, filters)
        query = (
            self._embedder.embed_query(vector_or_text)
            if isinstance(vector_or_text, str)
            else vector_or_text
        )
        return self._search_vectors([query], options, with_vectors, allow_partial)[0]

    def search_batch(
        self,
        queries: Sequence[Any] | FloatMatrix,
        k: int = 10,
        *,
        threshold: float | None = None,
        namespace: str = "",
        filters: FilterLike = None,
        with_vectors: bool = False,
        allow_partial: bool = False,
    ) -> list[list[Hit]]:
        """:meth:`search` for many queries at once (one matrix product when unfiltered);
        each list is a :class:`~semcache_core.search_hits.SearchHits`."""
        options = check_search(k, threshold, namespace, filters)
        if isinstance(queries, np.ndarray):
            vectors: Any = queries
        else:
            queries = check_sequence(queries, "queries")
            if not queries:
                raise InvalidArgumentError("search_batch needs at least one query")
            vectors = [self._embedder.embed_query(q) if isinstance(q, str) else q for q in queries]
        found = self._search_vectors(vectors, options, with_vectors, allow_partial)
        return list[list[Hit]](found)

    def _search_vectors(
        self,
        vectors: Any,
        options: SearchOptions,
        with_vectors: bool,
        allow_partial: bool = False,
    ) -> list[SearchHits[Hit]]:
        """Hits of query ``vectors`` under checked ``options`` (:func:`check_search`)."""
        k, threshold, namespace, node = options
        with naming(namespace):
            matrix = self._as_queries(vectors, namespace)
        found = backend_search(
            self._backend,
            *(matrix, k, namespace, node, self._clock(), with_vectors, threshold),
            allow_partial=allow_partial,
        )
        return [
            marked(hits, [self._hit(entry, score, with_vectors) for entry, score in hits])
            for hits in found
        ]

    def get_similar(
        self,
        vector_or_text: Any,
        threshold: float = 0.95,
        *,
        namespace: str = "",
        filters: FilterLike = None,
    ) -> Any:
        """The value of the most similar live entry with cosine >= ``threshold``, else None."""
        check_threshold(threshold)
        hits = self.search(
            vector_or_text, 1, threshold=threshold, namespace=namespace, filters=filters
        )
        self._count("semantic_hits" if hits else "semantic_misses")
        return hits[0].value if hits else None

    # --- stats and lifecycle -------------------------------------------------------------

    def stats(self) -> CacheStats:
        """Counters so far and the live size."""
        return self._stats_of(len(self))

    def _stats_of(self, size: int) -> CacheStats:
        """The counters with ``size`` (counted by the caller, sync or async)."""
        backend = self._backend.counters()
        c = self._counters
        with c.lock:
            semantic_hits, semantic_misses, computes = (
                c.semantic_hits,
                c.semantic_misses,
                c.computes,
            )
        return CacheStats(
            size=size,
            hits=backend.hits,
            misses=backend.misses,
            semantic_hits=semantic_hits,
            semantic_misses=semantic_misses,
            evictions=backend.evictions,
            expirations=backend.expirations,
            computes=computes,
        )

    def close(self) -> None:
        """Release the backend."""
        self._backend.close()

    def __enter__(self) -> SemCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _check_dims(backend: Backend, dim: int | None) -> None:
    """Raise unless every namespace of ``backend`` holds vectors of ``dim=`` (when given)."""
    if dim is None:
        return
    for namespace, held in backend.dims.items():
        if held != dim:
            raise DimensionMismatchError(held, dim, namespace)
