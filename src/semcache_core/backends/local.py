"""In-process backend: an LRU-ordered key table plus one vector index per namespace.

Layout::

    _entries      dict key -> _LocalEntry
    _namespaces   name -> Namespace(index: HybridIndex, by_label: label -> entry)
    _expiry       heap of (expires_at, seq, entry); items of replaced entries are skipped
    _recency      heap of (tick, entry), only with max_entries (exact LRU, lazily kept)

Recency is a tick stamped on the entry by every read, so a read costs one attribute write
instead of reordering a linked list. Eviction pops the smallest tick from ``_recency``:
an item whose entry was read since (its tick moved on) is pushed back with the new tick,
so the entry finally evicted is exactly the least recently used one.

Each entry with a vector gets a fresh int64 label (labels are never reused, which the HNSW
index relies on). One ``RLock`` guards everything; the background HNSW builder takes it
per chunk.

Example::

    >>> backend = LocalBackend(max_entries=1000, index="flat")
    >>> from semcache_core import SemCache
    >>> cache = SemCache(backend=backend)
"""

from __future__ import annotations

import gc
import heapq
import itertools
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import msgpack
import numpy as np

from ..codec import decode_many
from ..errors import DimensionMismatchError, InvalidArgumentError
from ..filters import FilterNode
from ..index.hnsw import HNSWParams
from ..index.hybrid import DEFAULT_HNSW_THRESHOLD, HybridIndex, IndexMode
from ..vectors import FloatMatrix, FloatVector
from .base import (
    NOT_DECODED,
    BackendCounters,
    BackendState,
    EntryWrite,
    SpaceState,
    StoredEntry,
)
from .namespace import Namespace

__all__ = ["LocalBackend", "PreparedRestore"]

_INDEX_MODES = ("flat", "hnsw", "auto")
_SCALARS = frozenset([str, bytes, int, float, bool, type(None)])  # kept decoded (immutable)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many objects that form no cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _labels_by_namespace(
    namespaces: list[str], labels: list[int | None], entries: list[Any] | None = None
) -> dict[str, Any]:
    """Non-None labels grouped by namespace (with the parallel ``entries``, when given).

    Column-wise, for restores: one namespace, the common case, costs two C-level passes.
    """
    has_label = [label is not None for label in labels]
    named = list(itertools.compress(namespaces, has_label))
    labelled = list(itertools.compress(labels, has_label))
    chosen = None if entries is None else list(itertools.compress(entries, has_label))
    if len(set(named)) <= 1:
        if not named:
            return {}
        return {named[0]: labelled if chosen is None else (labelled, chosen)}
    groups: dict[str, Any] = {}
    for i, namespace in enumerate(named):
        group = groups.setdefault(namespace, ([], []))
        group[0].append(labelled[i])
        if chosen is not None:
            group[1].append(chosen[i])
    return {name: group[0] if chosen is None else group for name, group in groups.items()}


class _LocalEntry(StoredEntry):
    """A stored entry plus what the local backend needs to find it again."""

    __slots__ = ("decoded_metadata", "label", "tick")

    def __init__(
        self,
        key: str,
        value: bytes,
        metadata: bytes,
        namespace: str,
        expires_at: float | None,
        plain: Any,
        label: int | None,
        tick: int,
    ) -> None:
        # every slot set here, without StoredEntry.__init__: restoring a snapshot makes
        # one of these per entry, and the extra call is a fifth of that time
        self.key = key
        self.value = value
        self.metadata = metadata
        self.namespace = namespace
        self.expires_at = expires_at
        self.vector = None
        self.plain = plain
        self.label = label
        self.decoded_metadata: dict | None = None
        self.tick = tick

    def metadata_dict(self) -> dict:
        if self.decoded_metadata is None:
            self.decoded_metadata = msgpack.unpackb(self.metadata, raw=False)
        return self.decoded_metadata


@dataclass(slots=True)
class PreparedRestore:
    """Tables built by :meth:`LocalBackend.prepare_restore`, ready to swap in."""

    dim: int | None
    spaces: dict[str, Namespace]
    entries: list[_LocalEntry]
    expired_keys: list[str]
    next_label: int


class LocalBackend:
    """Entries and vectors in this process's memory.

    Args:
        max_entries: LRU bound on live entries (``None``: unbounded).
        index: ``"flat"`` (always exact), ``"hnsw"`` (always graph) or ``"auto"``
            (exact until ``hnsw_threshold`` vectors in a namespace, then graph).
        hnsw_threshold: namespace size at which ``auto`` starts building the graph.
        hnsw_params: graph settings (M, ef_construction, ef_search).
    """

    def __init__(
        self,
        max_entries: int | None = None,
        index: IndexMode = "auto",
        *,
        hnsw_threshold: int = DEFAULT_HNSW_THRESHOLD,
        hnsw_params: HNSWParams | None = None,
    ) -> None:
        if index not in _INDEX_MODES:
            raise InvalidArgumentError(f"index must be one of {_INDEX_MODES}, got {index!r}")
        if max_entries is not None and (
            not isinstance(max_entries, int) or isinstance(max_entries, bool) or max_entries < 1
        ):
            raise InvalidArgumentError(f"max_entries must be a positive int, got {max_entries!r}")
        if not isinstance(hnsw_threshold, int) or hnsw_threshold < 1:
            raise InvalidArgumentError(
                f"hnsw_threshold must be a positive int, got {hnsw_threshold!r}"
            )
        self.max_entries = max_entries
        self.index_mode: IndexMode = index
        self._hnsw_threshold = hnsw_threshold
        self._hnsw_params = hnsw_params
        self._lock = threading.RLock()
        self._dim: int | None = None
        self._hits = self._misses = self._evictions = self._expirations = 0
        self.discarded: list[str] | None = None
        """When a list, the keys of entries this backend expires or evicts are appended."""
        self._reset()

    def _reset(self) -> None:
        self._entries: dict[str, _LocalEntry] = {}
        self._recency: list[tuple[int, _LocalEntry]] = []
        self._tick = 0
        self._namespaces: dict[str, Namespace] = {}
        self._expiry: list[tuple[float, int, _LocalEntry]] = []
        self._next_label = 0
        self._tiebreak = 0

    # --- reads ---------------------------------------------------------------------------

    @property
    def dim(self) -> int | None:
        return self._dim

    @property
    def lock(self) -> threading.RLock:
        """The one lock guarding this backend (a wrapping backend may share it)."""
        return self._lock

    def get(self, key: str, now: float, count: bool = True) -> StoredEntry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.expires_at is not None and entry.expires_at <= now:
                self._expire(entry)
                entry = None
            if entry is None:
                self._misses += count
                return None
            self._hits += count
            self._tick += 1  # _touch(entry), inlined: this is the exact-hit hot path
            entry.tick = self._tick
            return entry

    def _touch(self, entry: _LocalEntry) -> None:
        """Mark a read: the entry becomes the most recently used (see module docstring)."""
        self._tick += 1
        entry.tick = self._tick

    def exists(self, key: str, now: float) -> bool:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return False
            if entry.expires_at is not None and entry.expires_at <= now:
                self._expire(entry)
                return False
            return True

    def count(self, now: float) -> int:
        with self._lock:
            self.purge_expired(now)
            return len(self._entries)

    def scan(self, prefix: str, limit: int | None, now: float) -> list[str]:
        with self._lock:
            self.purge_expired(now)
            keys = sorted(key for key in self._entries if key.startswith(prefix))
        return keys if limit is None else keys[:limit]

    def search(
        self,
        queries: FloatMatrix,
        k: int,
        namespace: str,
        filters: FilterNode | None,
        now: float,
        with_vectors: bool = False,
        threshold: float | None = None,
    ) -> list[list[tuple[StoredEntry, float]]]:
        floor = -1.0 if threshold is None else threshold
        with self._lock:
            self.purge_expired(now)
            space = self._namespaces.get(namespace)
            if space is None or len(space.index) == 0:
                return [[] for _ in range(len(queries))]
            allowed = None
            if filters is not None:
                allowed = space.allowed(filters)
            if len(queries) > 1:
                found = space.index.search_batch(queries, k, allowed)
            else:
                found = [space.index.search(query, k, allowed) for query in queries]
            results = []
            for labels, scores in found:
                hits: list[tuple[StoredEntry, float]] = []
                # float32 rounding can put a self-match a hair above 1: keep the contract
                clipped = np.clip(scores, -1.0, 1.0).tolist()
                for label, score in zip(labels.tolist(), clipped):
                    if score < floor:
                        break  # best first: the rest score lower still
                    entry = space.by_label[label]
                    self._touch(entry)
                    hits.append((self._with_vector(entry, space) if with_vectors else entry, score))
                results.append(hits)
            return results

    @staticmethod
    def _with_vector(entry: _LocalEntry, space: Namespace) -> StoredEntry:
        vector = space.index.vectors(np.array([entry.label], dtype=np.int64))[0]
        return StoredEntry(
            entry.key,
            entry.value,
            entry.metadata,
            entry.namespace,
            entry.expires_at,
            vector,
            entry.plain,
        )

    # --- writes --------------------------------------------------------------------------

    def set_many(self, writes: list[EntryWrite], now: float) -> None:
        with self._lock:
            self.check_dimensions(writes)
            latest = {write.key: write for write in writes}  # a repeated key: last one wins
            added: dict[str, tuple[list[int], list[FloatVector]]] = {}
            for write in latest.values():
                label = self._set_one(write)
                if label is not None and write.vector is not None:
                    labels, vectors = added.setdefault(write.namespace, ([], []))
                    labels.append(label)
                    vectors.append(write.vector)
            for namespace, (labels, vectors) in added.items():  # one index call per namespace
                space = self._namespaces[namespace]
                space.index.add(np.asarray(labels, dtype=np.int64), np.stack(vectors))
            if self.max_entries is not None and len(self._entries) > self.max_entries:
                self.purge_expired(now)
                while len(self._entries) > self.max_entries:
                    self._evict_least_recent()

    def check_dimensions(self, writes: list[EntryWrite]) -> None:
        """Raise :class:`DimensionMismatchError` unless every vector fits (nothing changes).

        The facade checks dimensions first; this catches a write racing another that fixed
        the dimension.
        """
        with self._lock:
            expected = self._dim
            for write in writes:
                if write.vector is None:
                    continue
                if expected is not None and len(write.vector) != expected:
                    raise DimensionMismatchError(expected, len(write.vector))
                expected = len(write.vector)

    def _set_one(self, write: EntryWrite) -> int | None:
        """Replace the key's entry in the tables; returns the label its vector must get."""
        old = self._entries.pop(write.key, None)
        if old is not None:
            self._unlink(old)
        label = None
        if write.vector is not None:
            label = self._next_label
            self._next_label += 1
        self._tick += 1
        entry = _LocalEntry(
            write.key,
            write.value,
            write.metadata,
            write.namespace,
            write.expires_at,
            write.plain,
            label,
            self._tick,
        )
        if self.max_entries is not None:
            heapq.heappush(self._recency, (entry.tick, entry))
        if label is not None and write.vector is not None:
            self._space(write.namespace, len(write.vector)).link(label, entry)
        self._entries[write.key] = entry
        if write.expires_at is not None:
            self._tiebreak += 1
            heapq.heappush(self._expiry, (write.expires_at, self._tiebreak, entry))
        return label

    def _evict_least_recent(self) -> None:
        heap = self._recency
        while True:
            tick, entry = heapq.heappop(heap)
            if self._entries.get(entry.key) is not entry:
                continue  # replaced or deleted since
            if entry.tick != tick:
                heapq.heappush(heap, (entry.tick, entry))  # read since: requeue
                continue
            del self._entries[entry.key]
            self._unlink(entry)
            self._evictions += 1
            if self.discarded is not None:
                self.discarded.append(entry.key)
            return

    def _space(self, namespace: str, dim: int) -> Namespace:
        space = self._namespaces.get(namespace)
        if space is None:
            self._dim = dim
            index = HybridIndex(
                dim, self.index_mode, self._lock, self._hnsw_threshold, self._hnsw_params
            )
            space = self._namespaces[namespace] = Namespace(index)
        return space

    def delete(self, key: str, now: float) -> bool:
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is None:
                return False
            self._unlink(entry)
            if entry.expires_at is not None and entry.expires_at <= now:
                self._expirations += 1
                return False
            return True

    def clear(self) -> None:
        with self._lock:
            for space in self._namespaces.values():
                space.index.close()
            self._dim = None
            self._reset()

    def _unlink(self, entry: _LocalEntry) -> None:
        """Drop an entry's vector from its namespace index (the key table is the caller's)."""
        if entry.label is None:
            return
        space = self._namespaces[entry.namespace]
        space.index.remove(np.array([entry.label], dtype=np.int64))
        space.unlink(entry.label)

    def _expire(self, entry: _LocalEntry) -> None:
        del self._entries[entry.key]
        self._unlink(entry)
        self._expirations += 1
        if self.discarded is not None:
            self.discarded.append(entry.key)

    def purge_expired(self, now: float) -> int:
        with self._lock:
            purged = 0
            heap = self._expiry
            while heap and heap[0][0] <= now:
                _, _, entry = heapq.heappop(heap)
                if self._entries.get(entry.key) is entry:
                    self._expire(entry)
                    purged += 1
            if len(heap) > 2 * len(self._entries) + 1024:  # drop items of replaced entries
                self._expiry = [item for item in heap if self._entries.get(item[2].key) is item[2]]
                heapq.heapify(self._expiry)
            if len(self._recency) > 2 * len(self._entries) + 1024:
                self._recency = [(e.tick, e) for e in self._entries.values()]
                heapq.heapify(self._recency)
            return purged

    # --- snapshots -----------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """The constructor options, as plain values (saved in snapshot headers)."""
        params = self._hnsw_params or HNSWParams()
        return {
            "index": self.index_mode,
            "max_entries": self.max_entries,
            "hnsw_threshold": self._hnsw_threshold,
            "hnsw_params": [params.m, params.ef_construction, params.ef_search, params.seed],
        }

    def export_state(self, now: float) -> BackendState:
        """A consistent copy of the live content (see :class:`BackendState`)."""
        with self._lock:
            self.purge_expired(now)
            entries = sorted(self._entries.values(), key=attrgetter("tick"))
            state = BackendState(self._dim, next_label=self._next_label)
            state.keys = [e.key for e in entries]
            state.values = [e.value for e in entries]
            state.metadata = [e.metadata for e in entries]
            state.namespaces = [e.namespace for e in entries]
            state.expires_at = [e.expires_at for e in entries]
            state.labels = [e.label for e in entries]
            for name, space in self._namespaces.items():
                if len(space.index):
                    state.spaces.append(SpaceState(name, *space.index.export()))
            return state

    def restore_state(self, state: BackendState, now: float) -> None:
        """Replace the whole content with ``state``; entries expired at ``now`` are dropped.

        Raises:
            ValueError: the state is inconsistent (the backend is unchanged).
        """
        self.commit_restore(self.prepare_restore(state, now))

    def prepare_restore(self, state: BackendState, now: float) -> PreparedRestore:
        """Build and check the tables for ``state`` aside; nothing changes until committed.

        Raises:
            ValueError: the state is inconsistent.
        """
        spaces: dict[str, Namespace] = {}
        for saved in state.spaces:
            if saved.name in spaces or saved.vectors.shape != (len(saved.labels), state.dim):
                raise ValueError(f"namespace {saved.name!r}: vectors do not match labels")
            spaces[saved.name] = Namespace(
                HybridIndex.restore(
                    self.index_mode,
                    self._lock,
                    saved.labels,
                    saved.vectors,
                    saved.graph,
                    self._hnsw_threshold,
                    self._hnsw_params,
                )
            )
        entries, expired_keys, expired_labels = self._restore_entries(state, spaces, now)
        for namespace, labels in expired_labels.items():
            spaces[namespace].index.remove(np.asarray(labels, dtype=np.int64))
        next_label = max(
            [state.next_label]
            + [1 + int(s.labels.max()) for s in state.spaces if len(s.labels)]
            + [1 + space.index.highest_label for space in spaces.values()]
        )
        return PreparedRestore(state.dim, spaces, entries, expired_keys, next_label)

    def commit_restore(self, prepared: PreparedRestore) -> None:
        """Swap in what :meth:`prepare_restore` built (once)."""
        entries = prepared.entries
        with self._lock:
            for space in self._namespaces.values():
                space.index.close()
            self._reset()
            self._dim = prepared.dim
            self._namespaces = prepared.spaces
            self._entries = dict(zip(map(attrgetter("key"), entries), entries))
            self._tick = self._tiebreak = len(entries)
            self._next_label = prepared.next_label
            if self.max_entries is not None:
                self._recency = [(entry.tick, entry) for entry in entries]  # sorted: a heap
            self._expiry = [
                (entry.expires_at, entry.tick, entry)
                for entry in entries
                if entry.expires_at is not None
            ]
            heapq.heapify(self._expiry)
            if self.discarded is not None:
                self.discarded.extend(prepared.expired_keys)
            for space in prepared.spaces.values():
                space.index.start_background_work()
            if self.max_entries is not None:
                while len(self._entries) > self.max_entries:
                    self._evict_least_recent()

    @staticmethod
    def _restore_entries(
        state: BackendState, spaces: dict[str, Namespace], now: float
    ) -> tuple[list[_LocalEntry], list[str], dict[str, list[int]]]:
        """Live entries of ``state``; keys of expired ones, and their labels per namespace.

        Column-wise and in bulk (one msgpack call decodes every value): a snapshot of 100k
        entries restores in about the time it takes to read it.
        """
        keys, labels, namespaces = state.keys, state.labels, state.namespaces
        columns: list[list[Any]] = [
            state.values,
            state.metadata,
            namespaces,
            state.expires_at,
            labels,
        ]
        if any(len(column) != len(keys) for column in columns):
            raise ValueError("entry columns differ in length")
        if len(set(keys)) != len(keys):
            raise ValueError("a key appears twice")
        if not set(map(type, decode_many(state.metadata))) <= {dict}:
            raise ValueError("an entry's metadata is not a map")
        owned = _labels_by_namespace(namespaces, labels)
        if not owned.keys() <= spaces.keys():
            raise ValueError(f"namespaces {sorted(owned.keys() - spaces.keys())} have no vectors")
        for name, space in spaces.items():
            owned.setdefault(name, [])
            held = set(owned[name])
            if len(held) != len(owned[name]) or held != set(space.index.flat.labels.tolist()):
                raise ValueError(f"namespace {name!r}: vectors and entries do not match")
        expired_keys: list[str] = []
        expired: dict[str, list[int]] = {}
        gone = [i for i, when in enumerate(state.expires_at) if when is not None and when <= now]
        if gone:
            for i in gone:
                expired_keys.append(keys[i])
                label = labels[i]
                if label is not None:
                    expired.setdefault(namespaces[i], []).append(label)
            keep = sorted(set(range(len(keys))).difference(gone))
            columns = [[column[i] for i in keep] for column in [keys, *columns]]
        else:
            columns = [keys, *columns]
        plains = [
            value if type(value) in _SCALARS else NOT_DECODED for value in decode_many(columns[1])
        ]
        with _gc_paused():  # 100k new objects would trigger full collections for nothing
            entries = list(map(_LocalEntry, *columns[:5], plains, columns[5], itertools.count(1)))
        for name, (labels_of, entries_of) in _labels_by_namespace(
            columns[3], columns[5], entries
        ).items():
            spaces[name].by_label = dict(zip(labels_of, entries_of))
        return entries, expired_keys, expired

    # --- bookkeeping ---------------------------------------------------------------------

    def counters(self) -> BackendCounters:
        with self._lock:
            kinds = {name: space.index.kind for name, space in self._namespaces.items()}
            return BackendCounters(
                self._hits,
                self._misses,
                self._evictions,
                self._expirations,
                {"index": kinds, "dim": self._dim},
            )

    def index_for(self, namespace: str = "") -> HybridIndex | None:
        """The namespace's index (for inspection and benchmarks)."""
        space = self._namespaces.get(namespace)
        return None if space is None else space.index

    def live_labels(self) -> Iterable[tuple[str, int]]:
        """(key, label) of every entry with a vector; for consistency checks."""
        with self._lock:
            return [(e.key, e.label) for e in self._entries.values() if e.label is not None]

    def close(self) -> None:
        self.clear()
