"""In-process backend: an LRU-ordered key table plus one vector index per namespace.

Layout::

    _spaces       namespace -> Namespace(entries: key -> LocalEntry, index: HybridIndex
                  from its first vector, by_label: label -> entry, or label -> key while
                  the entry is cold); a namespace whose last entry leaves is dropped
    _cold         ColdEntries restored from a snapshot and not touched yet (or None)
    _expiry       heap of (expires_at, seq, entry); items of replaced or touched entries
                  are skipped; every write pops a few due items, purge_expired all
    _recency      heap of (tick, entry), only with max_entries (exact LRU, lazily kept)

An entry is identified by ``(namespace, key)``: the same key in two namespaces is two
entries, and each namespace has its own vector dimension. ``max_entries`` bounds all
namespaces together.

Recency is a tick stamped on the entry by every read, so a read costs one attribute write
instead of reordering a linked list. Eviction pops the smallest tick from ``_recency``:
an item whose entry was read since (its tick moved on) is pushed back with the new tick,
so the entry finally evicted is exactly the least recently used one.

A restore leaves its entries cold (see :mod:`.entries`): a call that reaches one thaws it
first, and from then on it is an ordinary entry.

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
import math
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeGuard

import numpy as np

from ..checks import check_count
from ..errors import DimensionMismatchError, InvalidArgumentError, shown
from ..filters import FilterNode
from ..index.hnsw import HNSWParams
from ..index.hybrid import DEFAULT_HNSW_THRESHOLD, HybridIndex, IndexMode
from ..untracked import untrack
from ..vector_values import VECTOR_HEAD, ComputedList
from ..vectors import FloatMatrix, score_floor
from .base import BackendCounters, StoredEntry
from .entries import ColdEntries, LocalEntry
from .local_computed import LocalComputedWrites
from .local_reads import LocalReads
from .local_state import LocalState
from .local_writes import LocalWrites
from .namespace import Namespace
from .restore import PreparedRestore, gc_paused

__all__ = ["LocalBackend", "PreparedRestore", "one_step_writer"]

_INDEX_MODES = ("flat", "hnsw", "auto")
_RECLAIM_PER_WRITE = 2
"""Expiry items a write reclaims at most, beyond :data:`_RECLAIM_SLACK` per call: more
than the one it may add, so a backlog of expired entries shrinks with every write."""
_RECLAIM_SLACK = 8
"""Expiry items any write may reclaim, whatever its size."""


class LocalBackend(LocalReads, LocalWrites, LocalComputedWrites, LocalState):
    """Entries and vectors in this process's memory.

    Args:
        max_entries: LRU bound on live entries, all namespaces together (``None``:
            unbounded).
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
            raise InvalidArgumentError(f"index must be one of {_INDEX_MODES}, got {shown(index)}")
        if max_entries is not None:
            max_entries = check_count(max_entries, "max_entries")
        hnsw_threshold = check_count(hnsw_threshold, "hnsw_threshold")
        self.max_entries = max_entries
        self.index_mode: IndexMode = index
        self._hnsw_threshold = hnsw_threshold
        self._hnsw_params = hnsw_params
        self._lock = threading.RLock()
        self._hits = self._misses = self._evictions = self._expirations = 0
        self._dropped: set[tuple[str, str]] | None = None  # see record_drops()
        # moves on, under the lock, with every entry a write or a restore brings in, and
        # never back (not on clear): a caller that reads it before a lookup and finds it
        # unchanged later knows nothing was stored meanwhile (see cache_compute)
        self.entered = 0
        self._reset()

    def _reset(self) -> None:
        self._spaces: dict[str, Namespace] = {}
        self._live = 0  # thawed entries, all namespaces
        self._cold: ColdEntries | None = None
        self._recency: list[tuple[int, LocalEntry]] = []
        self._tick = 0
        self._expiry: list[tuple[float, int, LocalEntry]] = []
        self._next_label = 0
        self._tiebreak = 0

    # --- reads ---------------------------------------------------------------------------

    def dim_of(self, namespace: str, now: float | None = None) -> int | None:
        """The dimension of ``namespace``'s vectors, ``None`` before its first vector (or
        once every entry expired by ``now``, when given: the namespace is gone then)."""
        with self._lock:
            if now is not None and (self._expiry or self._cold is not None):
                self.purge_expired(now)  # nothing can have expired otherwise
            space = self._spaces.get(namespace)
            return None if space is None else space.dim

    @property
    def recency_clock(self) -> int:
        """The LRU clock: every read and write of an entry moves it on, so an unchanged
        value means an unchanged LRU order."""
        return self._tick

    @property
    def dims(self) -> dict[str, int]:
        """namespace -> dimension, for every namespace holding vectors."""
        with self._lock:
            return {
                name: space.index.dim
                for name, space in self._spaces.items()
                if space.index is not None and len(space.index)
            }

    @property
    def lock(self) -> threading.RLock:
        """The one lock guarding this backend (a wrapping backend may share it)."""
        return self._lock

    def count(self, now: float, namespace: str | None = None) -> int:
        with self._lock:
            self.purge_expired(now)
            if namespace is None:
                return self._size()
            space = self._spaces.get(namespace)
            cold = 0 if self._cold is None else self._cold.count_in(namespace)
            return cold + (0 if space is None else len(space.entries))

    def _size(self) -> int:
        return self._live + (0 if self._cold is None else len(self._cold))

    def namespaces(self, now: float) -> list[str]:
        """The namespaces holding live entries, sorted."""
        with self._lock:
            self.purge_expired(now)
            names = set(self._spaces)
            if self._cold is not None:
                names.update(self._cold.namespaces())
            return sorted(names)

    def scan(self, namespace: str, prefix: str, limit: int | None, now: float) -> list[str]:
        with self._lock:
            self.purge_expired(now)
            space = self._spaces.get(namespace)
            keys = [] if space is None else [k for k in space.entries if k.startswith(prefix)]
            if self._cold is not None:
                keys += [k for k in self._cold.keys_in(namespace) if k.startswith(prefix)]
            keys.sort()
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
        floor = score_floor(threshold)
        with self._lock:
            self.purge_expired(now)
            space = self._spaces.get(namespace)
            if space is None or space.index is None or len(space.index) == 0:
                return [[] for _ in range(len(queries))]
            if queries.shape[1] != space.index.dim:
                raise DimensionMismatchError(space.index.dim, queries.shape[1], namespace)
            allowed = None
            if filters is not None:
                if self._cold is not None:
                    self._thaw_all()  # a filter reads every entry's metadata
                allowed = space.allowed(filters)
                if len(allowed) == len(space.index):
                    allowed = None  # every vector matches: search as without a filter
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
                    if isinstance(entry, str):  # a cold entry's key
                        entry = self._thaw_known(namespace, entry)
                    self._touch(entry)
                    if with_vectors or entry.value[:2] == VECTOR_HEAD:  # the value needs it
                        hits.append((self._with_vector(entry, space), score))
                    else:
                        hits.append((entry, score))
                results.append(hits)
            return results

    # --- writes --------------------------------------------------------------------------

    def _after_writes(self, now: float, writes: int = 1) -> None:
        """Some of the entries expired by ``now`` reclaimed (see :meth:`_reclaim_some`),
        back within ``max_entries`` (the expired first, then the least recently used), and
        the heaps rid of the items of what the writes replaced, once many (lock held)."""
        heap = self._expiry
        if (heap and heap[0][0] <= now) or self._cold is not None:
            self._reclaim_some(now, _RECLAIM_PER_WRITE * writes + _RECLAIM_SLACK)
        if self.max_entries is not None and self._size() > self.max_entries:
            self.purge_expired(now)
            while self._size() > self.max_entries:
                self._evict_least_recent()
        self._compact_heaps()

    def _enter(self, space: Namespace, entry: LocalEntry) -> None:
        """A new entry into the tables (its vector, if it has a label, is the caller's to
        add to the index)."""
        if self.max_entries is not None:
            self._queue_recency(entry)
        if entry.label is not None:
            space.link(entry.label, entry)
        space.entries[entry.key] = entry
        self._live += 1
        self.entered += 1
        if entry.expires_at is not None:
            self._queue_expiry(entry, entry.expires_at)

    def _new_index(self, dim: int) -> HybridIndex:
        return HybridIndex(
            dim, self.index_mode, self._lock, self._hnsw_threshold, self._hnsw_params
        )

    def _space(self, namespace: str) -> Namespace:
        space = self._spaces.get(namespace)
        if space is None:
            space = self._spaces[namespace] = Namespace(namespace)
        return space

    def _is_current(self, entry: LocalEntry) -> bool:
        """Whether ``entry`` is still the one stored under its (namespace, key)."""
        space = self._spaces.get(entry.namespace)
        return space is not None and space.entries.get(entry.key) is entry

    def _evict_least_recent(self) -> None:
        heap = self._recency
        if self._cold is not None:
            oldest = self._cold.oldest()
            if oldest is not None:
                self._thaw(*oldest)  # on the heap now, with its old tick: compared below
        while True:
            # the oldest item leaves the heap only once dealt with: an interrupt (Ctrl-C)
            # landing after a pop would lose it, and its entry would never be evicted
            tick, entry = heap[0]
            if not self._is_current(entry):
                heapq.heappop(heap)
                continue  # replaced or deleted since
            if entry.tick != tick:
                self._queue_recency(entry)  # read since: requeue
                heapq.heappop(heap)
                continue
            if self._dropped is not None:  # first: a drop noted of an entry still held
                self._dropped.add((entry.namespace, entry.key))  # is ignored
            self._remove(entry)
            self._evictions += 1
            heapq.heappop(heap)
            return

    def delete(self, namespace: str, key: str, now: float) -> bool:
        with self._lock:
            entry = self._find(namespace, key)
            if entry is None:
                return False
            self._remove(entry)
            if entry.expires_at is not None and entry.expires_at <= now:
                self._expirations += 1
                return False
            return True

    def touch(self, namespace: str, key: str, expires_at: float | None, now: float) -> bool:
        with self._lock:
            if not self.exists(namespace, key, now):  # which thaws a cold entry
                return False
            entry = self._spaces[namespace].entries[key]
            if expires_at is not None:  # a float of its own (the entry may be untracked)
                expires_at = float(expires_at)
            entry.expires_at = expires_at  # its old heap item is skipped by purge_expired
            if expires_at is not None:
                self._queue_expiry(entry, expires_at)
                self._compact_heaps()  # a hot entry touched on every hit must not pile up
            return True

    def clear(self, namespace: str | None = None) -> None:
        """Remove every entry of ``namespace`` (of every namespace when ``None``)."""
        with self._lock:
            if namespace is None:
                for space in self._spaces.values():
                    space.close()
                self._reset()
                return
            if self._cold is not None:
                for key in list(self._cold.keys_in(namespace)):
                    self._thaw(namespace, key)
            dropped = self._spaces.pop(namespace, None)
            if dropped is not None:
                self._live -= len(dropped.entries)
                dropped.close()
            self._compact_heaps()  # the heaps' items of the removed entries, once many

    def _remove(self, entry: LocalEntry) -> None:
        """Take a thawed entry out of its namespace (vector included); an emptied
        namespace is dropped, index and all. Stopped half way (Ctrl-C), it is finished
        before the interrupt goes on: a key half gone could still answer searches."""
        try:
            self._take_out(entry)
        except BaseException:
            self._take_out(entry)
            raise

    def _take_out(self, entry: LocalEntry) -> None:
        """:meth:`_remove`'s steps, each skipped once done."""
        space = self._spaces.get(entry.namespace)
        if space is None:
            return
        if space.entries.get(entry.key) is entry:
            del space.entries[entry.key]
            self._live -= 1
        label = entry.label
        if label is not None:
            if space.index is not None and label in space.index:
                space.index.remove(np.array([label], dtype=np.int64))
            if space.by_label.get(label) is entry:
                space.unlink(label)
        self._drop_if_empty(space)

    def _drop_if_empty(self, space: Namespace) -> None:
        """Drop ``space``, index and all, when it holds nothing (hot or cold)."""
        if not space.entries and (self._cold is None or not self._cold.count_in(space.name)):
            del self._spaces[space.name]
            space.close()

    def _thaw(self, namespace: str, key: str) -> LocalEntry | None:
        """Make ``key``'s cold entry an ordinary one, in its place in LRU and expiry order."""
        cold = self._cold
        entry = None if cold is None else cold.thaw(namespace, key)
        if entry is None:
            return None
        try:
            self._place_thawed(entry)
        except BaseException:  # Ctrl-C half way: out of the cold table, it must land here
            self._place_thawed(entry)
            raise
        if not cold:
            self._cold = None  # frees the columns
        return entry

    def _place_thawed(self, entry: LocalEntry) -> None:
        """:meth:`_thaw`'s placing of a thawed entry; again, it adds nothing twice (but
        heap items, which are skipped when stale)."""
        space = self._space(entry.namespace)
        if space.entries.get(entry.key) is not entry:
            space.entries[entry.key] = entry
            self._live += 1
        if entry.label is not None:
            space.by_label[entry.label] = entry
        if self.max_entries is not None:
            self._queue_recency(entry)
        if entry.expires_at is not None:
            self._queue_expiry(entry, entry.expires_at)

    def _thaw_known(self, namespace: str, key: str) -> LocalEntry:
        """Thaw ``key``, known to be cold (its label maps to it)."""
        entry = self._thaw(namespace, key)
        if entry is None:  # by_label and the cold rows disagree: a bug, never bad input
            raise RuntimeError(f"label of {key!r} points at no cold entry")
        return entry

    def _thaw_all(self) -> None:
        """Thaw every cold entry at once (before calls that visit them all)."""
        if self._cold is None:
            return
        with gc_paused():  # 100k new objects would trigger full collections for nothing
            entries = self._cold.thaw_all()
        self._cold = None
        self._live += len(entries)
        space = None
        for entry in entries:
            if space is None or space.name != entry.namespace:
                space = self._space(entry.namespace)
            space.entries[entry.key] = entry
            if entry.label is not None:
                space.by_label[entry.label] = entry
        if self.max_entries is not None:
            self._recency.extend((entry.tick, entry) for entry in entries)
            heapq.heapify(self._recency)
        timed = [entry for entry in entries if entry.expires_at is not None]
        if timed:
            self._expiry.extend(
                (entry.expires_at, self._tiebreak + i, entry)  # type: ignore[misc]
                for i, entry in enumerate(timed, 1)
            )
            self._tiebreak += len(timed)
            heapq.heapify(self._expiry)

    def _expire(self, entry: LocalEntry) -> None:
        if self._dropped is not None:  # first, as in _evict_least_recent
            self._dropped.add((entry.namespace, entry.key))
        self._remove(entry)
        self._expirations += 1

    def purge_expired(self, now: float) -> int:
        with self._lock:
            purged = self._reclaim_some(now, math.inf)
            self._compact_heaps()
            return purged

    def _reclaim_some(self, now: float, budget: float) -> int:
        """Entries expired by ``now`` expired, at most ``budget`` items dealt with (cold
        entries thawed, their expiry joining the heap; heap items popped); returns how many
        expired (lock held). Writes pass a small budget, so that a workload of writes and
        keyed reads, which search, count or scan nothing, does not hold its expired
        entries for good, and no one write pays for a long backlog (a clock jump, a
        restore): each write takes :data:`_RECLAIM_PER_WRITE` items off a backlog it adds
        at most one to; :meth:`purge_expired` passes no bound."""
        while budget > 0 and self._cold is not None and (thawing := self._cold.next_due(now)):
            self._thaw(*thawing)
            budget -= 1
        return self._expire_due(now, budget)

    def _expire_due(self, now: float, limit: float) -> int:
        """Pop up to ``limit`` items due by ``now`` off the expiry heap, expiring their
        entries (those not replaced or touched since); returns how many (lock held)."""
        purged = 0
        heap = self._expiry
        while limit > 0 and heap and heap[0][0] <= now:
            due, _, entry = heap[0]  # popped once dealt with, as in _evict_least_recent
            if self._is_current(entry) and entry.expires_at == due:  # not touched since
                self._expire(entry)
                purged += 1
            heapq.heappop(heap)
            limit -= 1
        return purged

    def _compact_heaps(self) -> None:
        """Drop the heap items of replaced, removed or touched entries once they outnumber
        the live ones (so what a ``clear`` removed is freed without waiting for its expiry)."""
        if len(self._expiry) > 2 * self._live + 1024:
            self._expiry = [
                item
                for item in self._expiry
                if self._is_current(item[2]) and item[2].expires_at == item[0]
            ]
            heapq.heapify(self._expiry)
        if len(self._recency) > 2 * self._live + 1024:
            self._recency = [
                _heap_item(e.tick, e)
                for space in self._spaces.values()
                for e in space.entries.values()
            ]
            heapq.heapify(self._recency)

    def _queue_recency(self, entry: LocalEntry) -> None:
        heapq.heappush(self._recency, _heap_item(entry.tick, entry))

    def _queue_expiry(self, entry: LocalEntry, expires_at: float) -> None:
        self._tiebreak += 1
        heapq.heappush(self._expiry, _heap_item(expires_at, self._tiebreak, entry))

    # --- bookkeeping ---------------------------------------------------------------------

    def counters(self) -> BackendCounters:
        with self._lock:
            kinds = {
                name: space.index.kind
                for name, space in self._spaces.items()
                if space.index is not None
            }
            return BackendCounters(
                self._hits,
                self._misses,
                self._evictions,
                self._expirations,
                {"index": kinds, "dims": self.dims},
            )

    def index_for(self, namespace: str = "") -> HybridIndex | None:
        """The namespace's index (for inspection and benchmarks)."""
        space = self._spaces.get(namespace)
        return None if space is None else space.index

    def vector_count(self, namespace: str = "") -> int:
        """How many vectors ``namespace``'s index holds (0 for a namespace with none)."""
        with self._lock:
            space = self._spaces.get(namespace)
            return 0 if space is None else space.vector_count()

    def live_labels(self) -> Iterable[tuple[str, str, int]]:
        """(namespace, key, label) of every entry with a vector; for consistency checks."""
        with self._lock:
            self._thaw_all()
            return [
                (e.namespace, e.key, e.label)
                for space in self._spaces.values()
                for e in space.entries.values()
                if e.label is not None
            ]

    def close(self) -> None:
        self.clear()


def _heap_item(*fields: Any) -> tuple[Any, ...]:
    """A recency or expiry heap item, its entry last: untracked when the entry is (an
    entry of the cache's own making, whose expiry is a float of its own: see
    :mod:`semcache_core.untracked` and ``entries.py``)."""
    if not gc.is_tracked(fields[-1]):
        untrack(fields)
    return fields


def one_step_writer(backend: object) -> Callable[..., ComputedList | None] | None:
    """``backend.add_float_list``, a computed embedding's write in one step, where it writes
    what ``set_many`` would: not for another backend, nor for a subclass that overrides
    ``set_many`` (it would not see the write)."""
    return backend.add_float_list if _keeps_own(backend, ("set_many",)) else None


def entry_counter(backend: object) -> LocalBackend | None:
    """``backend`` where its :attr:`~LocalBackend.entered` counts every entry its reads can
    find: a :class:`LocalBackend` whose ``set_many``, ``get`` and ``read_value`` are its
    own (a subclass's may store elsewhere, or read another tier too)."""
    return backend if _keeps_own(backend, ("set_many", "get", "read_value")) else None


def _keeps_own(backend: object, methods: tuple[str, ...]) -> TypeGuard[LocalBackend]:
    """Whether ``backend`` is a :class:`LocalBackend` whose ``methods`` are its own."""
    kind = type(backend)
    return isinstance(backend, LocalBackend) and all(
        getattr(kind, name) is getattr(LocalBackend, name) for name in methods
    )
