"""One index per namespace: exact flat search while small, HNSW once large.

:class:`HybridIndex` always keeps the :class:`FlatIndex` (exact answers, filtered search,
the vectors themselves) and, above ``hnsw_threshold`` live vectors (``mode="auto"``) or from
the start (``mode="hnsw"``), an :class:`HNSWIndex` beside it for unfiltered queries.

When ``auto`` crosses the threshold, a background thread copies the existing vectors into
the graph in small chunks, taking the owner's lock for each chunk, so no single call pays
for the whole build; queries stay exact (flat) until the graph has caught up, and from
then on every add goes into both. The same thread computes the int8 codes of rows adopted
by :meth:`HybridIndex.restore` (a snapshot load), which also takes a saved graph as is, and
of rows added one at a time that a search found waiting in numbers (see :mod:`.flat`).
Below 1,000 vectors queries stay exact even with a graph.

The threshold default comes from ``benchmarks/bench_core.py --crossover`` (384-dim low-rank
data, 2 cores): at the default ``ef_search=64`` the graph overtakes the int8 flat scan at
about 1,200 vectors (1.4x faster at 2k, 2.7x at 20k, 5.4x at 50k). Below the threshold
answers stay exact and inserts stay cheap (a graph insert costs ~10x a flat one).
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from typing import Any, Literal

import numpy as np

from ..vectors import FloatMatrix, FloatVector
from .base import Labels, SearchResult
from .flat import FlatIndex
from .hnsw import HNSWIndex, HNSWParams

__all__ = ["DEFAULT_HNSW_THRESHOLD", "HybridIndex", "IndexMode"]

IndexMode = Literal["flat", "hnsw", "auto"]

DEFAULT_HNSW_THRESHOLD = 2_000
_BUILD_CHUNK = 32  # graph inserts per lock hold (~3 ms on two cores at 384 dims)
# Pause between lock holds: Python locks are not fair, and without a pause the builder can
# take the lock straight back before a waiting caller wakes, chunk after chunk (seen to
# keep callers out for seconds when the inserts ran on one thread).
_HANDOVER_SECONDS = 0.0002
_CODE_CHUNK = 16_384  # int8 codes per lock hold (~10 ms at 384 dims)
# Below this many vectors the exact scan is as fast as the graph (see the crossover above)
# and immune to what heavy churn does to a small graph: deleted slots crowding out live ones.
_EXACT_BELOW = 1_000
_BUILDING: weakref.WeakSet[HybridIndex] = weakref.WeakSet()


@atexit.register
def _stop_builders() -> None:
    """Stop background builds before the interpreter tears daemon threads down mid-call."""
    for index in list(_BUILDING):
        with index._lock:
            index.close()
        index.wait_until_built(timeout=5)


class HybridIndex:
    """Flat + optional HNSW over the same labels; see the module docstring."""

    def __init__(
        self,
        dim: int,
        mode: IndexMode,
        lock: threading.RLock,
        hnsw_threshold: int = DEFAULT_HNSW_THRESHOLD,
        hnsw_params: HNSWParams | None = None,
    ) -> None:
        self.dim = dim
        self.mode = mode
        self._lock = lock
        self._threshold = hnsw_threshold
        self._hnsw_params = hnsw_params
        self.flat = FlatIndex(dim)
        self.hnsw: HNSWIndex | None = None
        self._pending: dict[int, None] = {}  # labels in flat, not yet in the graph
        self._worker: threading.Thread | None = None
        self._closed = False
        if mode == "hnsw":
            self.hnsw = HNSWIndex(dim, hnsw_params)

    @classmethod
    def restore(
        cls,
        mode: IndexMode,
        lock: threading.RLock,
        labels: Labels,
        vectors: FloatMatrix,
        hnsw_threshold: int = DEFAULT_HNSW_THRESHOLD,
        hnsw_params: HNSWParams | None = None,
    ) -> HybridIndex:
        """An index over saved rows, adopted as they are (their vectors are not read: they
        may still be coming in). Then call :meth:`restore_graph`, once they are in.

        Searches are exact from the start. Call :meth:`start_background_work` once the index
        is in use: a thread then computes the int8 codes and, without a saved graph in
        ``hnsw`` mode (or ``auto`` above the threshold), builds one.
        """
        index = cls(vectors.shape[1], "flat", lock, hnsw_threshold, hnsw_params)
        index.mode = mode
        index.flat = FlatIndex.restore(labels, vectors)
        return index

    def restore_graph(self, graph_state: dict[str, Any] | None) -> None:
        """Adopt a saved graph (unless the mode is ``flat``), or plan a build where the mode
        wants a graph and none was saved.

        Raises:
            ValueError: the graph does not hold exactly the restored labels.
        """
        labels = self.flat.labels
        if self.mode != "flat" and graph_state is not None:
            self.hnsw = HNSWIndex.from_graph_state(self.dim, self._hnsw_params, graph_state, labels)
        elif self.mode == "hnsw" or (self.mode == "auto" and len(labels) >= self._threshold):
            self.hnsw = HNSWIndex(self.dim, self._hnsw_params, capacity=2 * len(labels))
            self._pending = dict.fromkeys(labels.tolist())

    @property
    def kind(self) -> str:
        """``"hnsw"`` when queries go to the graph, else ``"flat"``."""
        return "hnsw" if self._graph_ready else "flat"

    @property
    def _graph_ready(self) -> bool:
        return self.hnsw is not None and not self._pending

    def __len__(self) -> int:
        return len(self.flat)

    def __contains__(self, label: int) -> bool:
        return label in self.flat

    def add(self, labels: Labels, vectors: FloatMatrix) -> None:
        """Insert or replace; the caller holds the lock."""
        try:
            self.flat.add(labels, vectors)
            self._graph_follows(labels, vectors)
        except BaseException:
            self._graph_catches_up(labels)
            raise

    def write_float_list(self, values: list[Any]) -> tuple[float, list[float], bytes] | None:
        """:meth:`FlatIndex.write_float_list` (the caller holds the lock); then
        :meth:`add_written` gives the row its label."""
        return self.flat.write_float_list(values)

    def add_written(self, label: int, row_bytes: bytes) -> None:
        """:meth:`add` of the row :meth:`write_float_list` wrote, under a new label."""
        try:
            self.flat.append_written(label, row_bytes)
            if self.hnsw is None:  # no arrays made for nothing: _graph_follows's first step
                self._start_graph_when_due()
            else:
                vectors = np.frombuffer(row_bytes, np.float32)[None, :]
                self._graph_follows(np.array([label], np.int64), vectors)
        except BaseException:
            self._graph_catches_up(np.array([label], np.int64))
            raise

    def _graph_follows(self, labels: Labels, vectors: FloatMatrix) -> None:
        """The graph's part of :meth:`add`: made once ``auto`` reaches its threshold, and
        given the rows (or, while it builds, their labels)."""
        if self.hnsw is None:
            self._start_graph_when_due()
            return
        if self._pending:
            self._pending.update(dict.fromkeys(np.asarray(labels).tolist()))
            return
        self.hnsw.add(labels, vectors)

    def _graph_catches_up(self, labels: Labels) -> None:
        """After an add stopped half way (Ctrl-C): the rows flat holds and the graph
        misses are queued for it (else the graph's searches never find them)."""
        graph = self.hnsw
        if graph is None:
            return
        missed = [label for label in np.asarray(labels).tolist() if label in self.flat]
        missed = [label for label in missed if label not in graph]
        if missed:
            self._pending.update(dict.fromkeys(missed))
            self.start_background_work()

    def add_one(self, label: int, vector: FloatVector) -> None:
        """:meth:`add` of one row (a ``get_or_compute`` miss), without the batch's arrays."""
        if self.hnsw is None and self.mode == "flat":
            self.flat.add_one(label, vector)
        else:
            self.add(np.array([label], dtype=np.int64), vector[None, :])

    def remove(self, labels: Labels) -> None:
        try:
            self._remove(labels)
        except BaseException:  # Ctrl-C half way: finished (each step skips what is done),
            self._remove(labels)  # else the graph could still return a removed label
            raise

    def _remove(self, labels: Labels) -> None:
        self.flat.remove(labels)
        if self.hnsw is not None:
            for label in np.asarray(labels).tolist():
                self._pending.pop(label, None)
            self.hnsw.remove(labels)

    @property
    def highest_label(self) -> int:
        """The highest label held, deleted graph slots included (-1 when none)."""
        highest = int(self.flat.labels.max()) if len(self.flat) else -1
        return max(highest, self.hnsw.highest_label) if self.hnsw is not None else highest

    def search(self, query: FloatVector, k: int, allowed: Labels | None = None) -> SearchResult:
        """Exact when filtered, while the graph builds, or while small; otherwise the graph."""
        if allowed is None and self._graph_ready and len(self.flat) >= _EXACT_BELOW:
            assert self.hnsw is not None
            labels, scores = self.hnsw.search(query, k)
            if len(labels) >= min(k, len(self.flat)):
                return labels, scores
        found = self.flat.search(query, k, allowed)
        self._code_in_background()
        return found

    def search_batch(
        self, queries: FloatMatrix, k: int, allowed: Labels | None = None
    ) -> list[SearchResult]:
        """:meth:`search` for many queries: one graph call, or one exact matrix product."""
        if allowed is not None or not (self._graph_ready and len(self.flat) >= _EXACT_BELOW):
            found = self.flat.search_batch(queries, k, allowed)
            self._code_in_background()
            return found
        assert self.hnsw is not None
        wanted = min(k, len(self.flat))
        return [
            found if len(found[0]) >= wanted else self.flat.search(query, k)
            for query, found in zip(queries, self.hnsw.search_batch(queries, k))
        ]

    def vectors(self, labels: Labels) -> FloatMatrix:
        return self.flat.vectors(labels)

    def vector_of(self, label: int) -> FloatVector:
        """A copy of one label's unit vector."""
        return self.flat.vector_of(label)

    def float_list(self, label: int, norm: float) -> list[float]:
        """One label's vector times ``norm``, as floats (see :meth:`FlatIndex.float_list`)."""
        return self.flat.float_list(label, norm)

    def _start_graph_when_due(self) -> None:
        """``auto`` mode's graph, made once the namespace reaches its threshold."""
        if self.mode == "auto" and len(self.flat) >= self._threshold:
            self._start_graph()

    def _start_graph(self) -> None:
        graph = HNSWIndex(self.dim, self._hnsw_params, capacity=2 * len(self.flat))
        pending = dict.fromkeys(self.flat.labels.tolist())
        self.hnsw, self._pending = graph, pending  # together: no interrupt between them
        self.start_background_work()

    def _code_in_background(self) -> None:
        """After a flat search that left rows waiting for their int8 codes (too many to
        code first: a fill by ``get_or_compute`` misses), code them in the background."""
        if self.flat.coding_backlog or self._pending:  # pending: an interrupted start
            self.start_background_work()

    def start_background_work(self) -> None:
        """Start the thread that catches the index up, if there is work (lock held)."""
        if self._worker is None and not self._closed and (self._pending or self.flat.uncoded):
            worker = threading.Thread(
                target=self._catch_up, name="semcache-index-build", daemon=True
            )
            _BUILDING.add(self)
            worker.start()  # then ours: a worker interrupted before it started is not,
            self._worker = worker  # or it would bar every later start

    def _catch_up(self) -> None:
        while True:
            with self._lock:
                if not self._step():
                    self._worker = None  # decided under the lock: a new start sees it
                    return
            time.sleep(_HANDOVER_SECONDS)

    def _step(self) -> bool:
        """One chunk of background work: int8 codes of rows waiting for them, then graph inserts."""
        if self._closed:
            return False
        if self.flat.code_pending(_CODE_CHUNK):
            return True
        graph = self.hnsw
        if graph is None or not self._pending:
            return False
        chunk = np.fromiter(
            (label for label, _ in zip(self._pending, range(_BUILD_CHUNK))), np.int64
        )
        graph.add(chunk, self.flat.vectors(chunk))
        for label in chunk.tolist():
            del self._pending[label]
        return True

    def wait_until_built(self, timeout: float | None = None) -> bool:
        """Block until background work (codes, graph) has finished; True when none is left."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
            return not worker.is_alive()
        return True

    def export(self) -> tuple[Labels, FloatMatrix | None, dict[str, Any] | None]:
        """Copies of the labels and vectors in row order, and the graph when it is complete.

        With a graph the vectors are ``None``: the graph's state holds them already (read
        them out with :func:`~semcache_core.index.hnsw.copy_vectors`), so the flat matrix
        is not copied.
        """
        if self.hnsw is not None and self._graph_ready:
            return self.flat.labels.copy(), None, self.hnsw.graph_state()
        return self.flat.labels.copy(), self.flat.vectors(), None

    def close(self) -> None:
        """Stop background work and drop the graph (the caller holds the lock)."""
        self._closed = True
        self.hnsw = None
        self._pending = {}
