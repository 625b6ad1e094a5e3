"""Approximate search with hnswlib: incremental adds, deletes, growth, save and load.

Deleted labels are marked in the graph and their slots reused by later adds
(``allow_replace_deleted``), so churn does not grow the graph without bound. Scores are
cosine similarities (``1 - ip distance`` on unit vectors), best first.

:meth:`HNSWIndex.graph_state` / :meth:`HNSWIndex.from_graph_state` save and restore the
graph without rebuilding it. hnswlib keeps a copy of every vector inside its graph; a
snapshot already holds the vectors once, so the state leaves out the vectors of live
labels and the restore puts them back from the caller's copy.

Example::

    >>> index = HNSWIndex(dim=3)
    >>> index.add(np.array([1, 2]), np.eye(3, dtype=np.float32)[:2])
    >>> index.search(np.array([0, 1, 0], np.float32), k=1)[0]
    array([2])
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import hnswlib
import numpy as np

from ..vectors import FloatMatrix, FloatVector
from .base import Labels, SearchResult, empty_result

__all__ = ["HNSWIndex", "HNSWParams"]

_PARALLEL_ADD_MIN = 16  # an add of this many rows runs on every core
_PARALLEL_QUERIES_MIN = 4  # a batch of queries this large is searched on every core


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _threads(rows: int, parallel_from: int = _PARALLEL_ADD_MIN) -> int:
    """hnswlib threads for a call over ``rows`` rows: every core from ``parallel_from`` on.

    Always an explicit count: hnswlib reads -1 as "the index's default", which is 1 here
    (``set_num_threads(1)`` keeps single queries off the other cores).
    """
    return _cores() if rows >= parallel_from else 1


@dataclass(frozen=True)
class HNSWParams:
    """Graph settings. ``ef_search`` trades speed for recall at query time."""

    m: int = 24
    ef_construction: int = 100
    ef_search: int = 64
    seed: int = 100


class HNSWIndex:
    """hnswlib over unit vectors, labels as hnswlib ids."""

    kind = "hnsw"

    def __init__(self, dim: int, params: HNSWParams | None = None, capacity: int = 1024) -> None:
        self.dim = dim
        self.params = params or HNSWParams()
        self._graph = hnswlib.Index(space="ip", dim=dim)
        self._graph.init_index(
            max_elements=max(16, capacity),
            M=self.params.m,
            ef_construction=self.params.ef_construction,
            random_seed=self.params.seed,
            allow_replace_deleted=True,
        )
        self._ef = self.params.ef_search
        self._graph.set_ef(self._ef)
        self._graph.set_num_threads(1)
        self._live: set[int] = set()
        self._deleted = 0  # marked-deleted slots that a later add may reuse
        self._highest_label = -1

    @classmethod
    def from_graph_state(
        cls,
        dim: int,
        params: HNSWParams | None,
        state: dict[str, Any],
        vectors_into: Callable[[Labels, FloatMatrix], None],
    ) -> HNSWIndex:
        """Rebuild an index from :meth:`graph_state` without re-inserting anything.

        ``vectors_into(labels, out)`` writes the vectors of live labels into the rows of
        ``out``, in order, raising ``KeyError`` for a label it does not know.

        Raises:
            ValueError: the state is inconsistent with ``dim`` or with itself.
        """
        state = dict(state)
        live_slots = np.asarray(state.pop("live_slots"), dtype=bool)
        orphans = np.asarray(state.pop("orphan_vectors"), dtype=np.float32)
        stripped = np.asarray(state.pop("data_level0"), dtype=np.int8)
        count = int(state["cur_element_count"])
        size = int(state["size_data_per_element"])
        start, stop, label_at = _slot_layout(state, dim)
        if (
            state.get("dim") != dim
            or stripped.shape != (count, size - (stop - start))
            or live_slots.shape != (count,)
            or orphans.shape != (count - int(live_slots.sum()), dim)
        ):
            raise ValueError("graph state does not match its own sizes or the dimension")
        _check_links(state, stripped[:, :start], count)
        slots = np.empty((count, size), dtype=np.int8)
        slots[:, :start] = stripped[:, :start]
        slots[:, stop:] = stripped[:, start:]
        slot_labels = _slot_labels(slots, label_at)
        live_labels = slot_labels[live_slots]
        try:
            if len(orphans):
                live_vectors = np.empty((len(live_labels), dim), dtype=np.float32)
                vectors_into(live_labels, live_vectors)
                slots[live_slots, start:stop] = live_vectors.view(np.int8)
                slots[~live_slots, start:stop] = orphans.view(np.int8)
            else:  # every slot live (no deletes since the build): straight into the slots
                vectors_into(live_labels, slots[:, start:stop].view(np.float32))
        except KeyError as exc:
            raise ValueError(f"the graph holds label {exc} that has no vector") from exc
        state["data_level0"] = slots.reshape(-1)
        graph = hnswlib.Index.__new__(hnswlib.Index)
        try:
            graph.__setstate__((state,))
        except (RuntimeError, TypeError, KeyError) as exc:
            raise ValueError(f"hnswlib rejected the graph state: {exc}") from exc
        index = cls.__new__(cls)
        index.dim = dim
        index.params = params or HNSWParams()
        index._graph = graph
        index._ef = index.params.ef_search
        graph.set_ef(index._ef)
        graph.set_num_threads(1)
        index._live = set(live_labels.tolist())
        index._deleted = count - len(index._live)
        index._highest_label = int(slot_labels.max()) if count else -1
        return index

    def graph_state(self) -> dict[str, Any]:
        """The graph as plain values and arrays, without the vectors of live labels.

        Marked-deleted slots keep their vectors (``orphan_vectors``): searches still route
        through them.
        """
        state = dict(self._graph.__getstate__()[0])
        count = int(state["cur_element_count"])
        start, stop, label_at = _slot_layout(state, self.dim)
        slots = np.asarray(state["data_level0"]).reshape(count, -1)
        live = self._live
        live_slots = np.fromiter(
            (label in live for label in _slot_labels(slots, label_at).tolist()), bool, count
        )
        state["data_level0"] = np.concatenate([slots[:, :start], slots[:, stop:]], axis=1)
        state["orphan_vectors"] = slots[~live_slots, start:stop].copy().view(np.float32)
        state["live_slots"] = live_slots
        return state

    def __len__(self) -> int:
        return len(self._live)

    @property
    def live_labels(self) -> frozenset[int] | set[int]:
        """The labels searches can return (a read-only view by convention)."""
        return self._live

    @property
    def highest_label(self) -> int:
        """The highest label ever added (deleted slots keep theirs); -1 when none."""
        return self._highest_label

    def __contains__(self, label: int) -> bool:
        return label in self._live

    def add(self, labels: Labels, vectors: FloatMatrix) -> None:
        """Insert new labels (reusing freed slots) or update live ones in place.

        A label that was removed must never be added again: hnswlib keeps the label of a
        freed slot until the slot is reused, and a second owner of it would be erased then.
        """
        labels = np.asarray(labels, dtype=np.int64)
        if len(labels):
            self._highest_label = max(self._highest_label, int(labels.max()))
        live = np.fromiter((label in self._live for label in labels.tolist()), bool, len(labels))
        if live.any():
            self._graph.add_items(vectors[live], labels[live], num_threads=_threads(live.sum()))
        fresh_labels, fresh_vectors = labels[~live], vectors[~live]
        if len(fresh_labels) == 0:
            return
        reused = min(len(fresh_labels), self._deleted)
        needed = self._graph.get_current_count() + len(fresh_labels) - reused
        if needed > self._graph.get_max_elements():
            self._graph.resize_index(max(needed, 2 * self._graph.get_max_elements()))
        self._graph.add_items(
            fresh_vectors,
            fresh_labels,
            num_threads=_threads(len(fresh_labels)),
            replace_deleted=True,
        )
        self._deleted -= reused
        self._live.update(fresh_labels.tolist())

    def remove(self, labels: Labels) -> None:
        for label in np.asarray(labels, dtype=np.int64).tolist():
            if label in self._live:
                self._graph.mark_deleted(label)
                self._live.discard(label)
                self._deleted += 1

    def search(self, query: FloatVector, k: int, allowed: Labels | None = None) -> SearchResult:
        """Approximate top ``k``; fewer results only when the graph cannot reach ``k``."""
        k = min(k, len(self._live) if allowed is None else len(allowed))
        if k == 0:
            return empty_result()
        allowed_set = None if allowed is None else set(allowed.tolist())
        self._ensure_ef(k)
        try:
            labels, distances = self._graph.knn_query(
                query,
                k=k,
                num_threads=1,
                filter=None if allowed_set is None else allowed_set.__contains__,
            )
        except RuntimeError:  # hnswlib found fewer than k: let the caller fall back
            return empty_result()
        return labels[0].astype(np.int64), (1.0 - distances[0]).astype(np.float32)

    def search_batch(
        self, queries: FloatMatrix, k: int, allowed: Labels | None = None
    ) -> list[SearchResult]:
        """:meth:`search` for every query, in one hnswlib call spread over every core
        (filtered batches query one by one: hnswlib's filter calls back into Python)."""
        if allowed is not None:
            return [self.search(query, k, allowed) for query in queries]
        k = min(k, len(self._live))
        if k == 0:
            return [empty_result() for _ in range(len(queries))]
        self._ensure_ef(k)
        threads = _threads(len(queries), _PARALLEL_QUERIES_MIN)
        try:
            labels, distances = self._graph.knn_query(queries, k=k, num_threads=threads)
        except RuntimeError:  # some query found fewer than k: answer each on its own
            return [self.search(query, k) for query in queries]
        scores = (1.0 - distances).astype(np.float32)
        return list(zip(labels.astype(np.int64), scores))

    def _ensure_ef(self, k: int) -> None:
        ef = max(self.params.ef_search, k)
        if ef != self._ef:  # hnswlib needs ef >= k to return k results
            self._graph.set_ef(ef)
            self._ef = ef


def _slot_layout(state: dict[str, Any], dim: int) -> tuple[int, int, int]:
    """Byte range of the vector inside an hnswlib level-0 slot, and where its label sits."""
    start = int(state["offset_data"])
    return start, start + 4 * dim, int(state["label_offset"])


def _slot_labels(slots: np.ndarray, label_at: int) -> Labels:
    """The (8-byte) label stored in each level-0 slot."""
    return slots[:, label_at : label_at + 8].copy().view(np.int64).reshape(-1)


def _check_links(state: dict[str, Any], level0_links: np.ndarray, count: int) -> None:
    """Bounds-check a graph before hnswlib sees it: hnswlib trusts every stored link id.

    Raises:
        ValueError: a size, level, entry point or link outside the graph.
    """
    max_m, max_m0 = int(state["max_M"]), int(state["max_M0"])
    levels = np.asarray(state["element_levels"])[:count]
    links = np.asarray(state["link_lists"], dtype=np.int8)
    vector_end = 4 + 4 * max_m0 + 4 * int(state["dim"])
    expected = {
        "offset_level0": 0,
        "offset_data": 4 + 4 * max_m0,
        "label_offset": vector_end,
        "size_data_per_element": vector_end + 8,
        "size_links_per_element": 4 + 4 * max_m,
        "max_level": int(levels.max()) if count else state["max_level"],
    }
    wrong = [name for name, value in expected.items() if state[name] != value]
    if wrong or not 0 <= count <= int(state["max_elements"]) or (count and levels.min() < 0):
        raise ValueError(f"graph header fields are inconsistent: {wrong or 'sizes'}")
    if count and not 0 <= int(state["enterpoint_node"]) < count:
        raise ValueError("the graph's entry point lies outside it")
    if len(links) != int(levels.sum()) * expected["size_links_per_element"]:
        raise ValueError("the graph's upper-level link lists have the wrong size")
    internal = np.asarray(state["label_lookup_internal"])
    if len(internal) and not (internal.min() >= 0 and internal.max() < count):
        raise ValueError("the graph's label table points outside it")
    for table, width in ((level0_links, max_m0), (links, max_m)):
        rows = np.ascontiguousarray(table).view(np.uint32).reshape(-1, 1 + width)
        sizes = rows[:, 0] & 0xFFFF
        used = np.arange(width) < sizes[:, None]
        if (sizes > width).any() or (rows[:, 1:][used] >= count).any():
            raise ValueError("the graph holds a link outside it")
