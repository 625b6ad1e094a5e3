"""Approximate search with hnswlib: incremental adds, deletes, growth, save and load.

Deleted labels are marked in the graph and their slots reused by later adds
(``allow_replace_deleted``), so churn does not grow the graph without bound. A saved graph
never holds a deleted vector: :meth:`HNSWIndex.graph_state` overwrites those slots' vectors
(and the live graph takes the same state, so it answers as the saved one will). Scores are
cosine similarities (``1 - ip distance`` on unit vectors), best first.

:meth:`HNSWIndex.graph_state` / :meth:`HNSWIndex.from_graph_state` save and restore the
graph without rebuilding it: hnswlib's own state, whose ``data_level0`` (one fixed-size
slot per element: links, vector, label) already holds every vector, so a snapshot stores
the vectors of a graph's namespace only there (:func:`slots_of` and :func:`copy_vectors`
read them out).

Example::

    >>> index = HNSWIndex(dim=3)
    >>> index.add(np.array([1, 2]), np.eye(3, dtype=np.float32)[:2])
    >>> index.search(np.array([0, 1, 0], np.float32), k=1)[0]
    array([2])
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import hnswlib
import numpy as np
import numpy.typing as npt

from ..checks import as_int
from ..errors import InvalidArgumentError, shown
from ..vectors import FloatMatrix, FloatVector
from .base import Labels, SearchResult, empty_result

__all__ = ["HNSWIndex", "HNSWParams", "check_graph_fields", "copy_vectors", "slots_of"]

# hnswlib marks a deleted slot in the third byte of its level-0 link header (hnswalg.h)
_DELETE_MARK_BYTE, _DELETE_MARK = 2, 0x01
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
    """Graph settings. ``ef_search`` trades speed for recall at query time.

    Each field is checked here, against hnswlib's own limits, so that a bad value never
    reaches it (``m=0`` crashes the process, ``m=1`` fails half way through an add):

    - ``m``: links per node, 2 to 10,000 (hnswlib caps larger values with a warning);
    - ``ef_construction``, ``ef_search``: candidate list sizes, >= 1;
    - ``seed``: the level generator's seed, 0 to 2**64 - 1.

    numpy integers are accepted and kept as Python ints.

    Raises:
        InvalidArgumentError: a field that is not an int, or outside its range.
    """

    m: int = 24
    ef_construction: int = 100
    ef_search: int = 64
    seed: int = 100

    def __post_init__(self) -> None:
        for name, low, high in _PARAM_RANGES:
            value = getattr(self, name)
            number = as_int(value)
            if number is None or not low <= number <= high:
                raise InvalidArgumentError(
                    f"HNSWParams.{name} must be an int in [{low}, {high}], got {shown(value)}"
                )
            object.__setattr__(self, name, number)


_SIZE_MAX = 2**64 - 1  # hnswlib takes these as size_t
_PARAM_RANGES = (
    ("m", 2, 10_000),
    ("ef_construction", 1, _SIZE_MAX),
    ("ef_search", 1, _SIZE_MAX),
    ("seed", 0, _SIZE_MAX),
)


class HNSWIndex:
    """hnswlib over unit vectors, labels as hnswlib ids."""

    kind = "hnsw"

    def __init__(self, dim: int, params: HNSWParams | None = None, capacity: int = 16) -> None:
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
        self._unscrubbed = 0  # deletes since the deleted slots' vectors were last overwritten
        self._highest_label = -1

    @classmethod
    def from_graph_state(
        cls, dim: int, params: HNSWParams | None, state: dict[str, Any], labels: Labels
    ) -> HNSWIndex:
        """Rebuild an index from :meth:`graph_state` without re-inserting anything.

        The graph's live slots must hold exactly ``labels`` (in any order).

        Raises:
            ValueError: the state is inconsistent with ``dim``, ``labels`` or itself, or
                has fields of the wrong types (see :func:`check_graph_fields`).
        """
        check_graph_fields(state)
        if not isinstance(state.get("data_level0"), np.ndarray):
            raise ValueError("the graph's level-0 block is not an array")
        state = dict(state)
        level0 = np.asarray(state.pop("data_level0"), dtype=np.int8)
        count = int(state["cur_element_count"])
        if state.get("dim") != dim or level0.shape != (count, int(state["size_data_per_element"])):
            raise ValueError("graph state does not match its own sizes or the dimension")
        start, _, label_at = _slot_layout(state, dim)
        _check_links(state, level0[:, :start], count)
        state = _right_sized(state, count)
        slot_labels = _slot_labels(level0, label_at)
        _check_label_table(state, slot_labels)
        live_labels = slot_labels[_live_slots(level0)]
        if not np.array_equal(np.sort(live_labels), np.sort(labels)):
            raise ValueError("the graph does not hold the saved labels")
        index = cls.__new__(cls)
        index.dim = dim
        index.params = params or HNSWParams()
        index._ef = index.params.ef_search
        index._graph = _graph_from(state, level0, index._ef)
        index._live = set(live_labels.tolist())
        index._deleted = count - len(index._live)
        index._unscrubbed = index._deleted  # a file from before scrubbing: the next save does
        index._highest_label = int(slot_labels.max()) if count else -1
        return index

    def graph_state(self) -> dict[str, Any]:
        """hnswlib's state of the graph as plain values and arrays (a copy), with
        ``data_level0`` as an int8 array of one row per slot, holding no deleted vector.

        After deletes, the live graph is replaced by one from this state (deleted slots'
        vectors overwritten, see :func:`_scrub_deleted`): searches route through deleted
        slots, so only then does a loaded copy answer exactly like this index.
        """
        state = dict(self._graph.__getstate__()[0])
        count = int(state["cur_element_count"])
        # hnswlib hands out a fresh copy of its level-0 block: ours to scrub, not to copy again
        level0 = np.asarray(state["data_level0"]).view(np.int8).reshape(count, -1)
        state["data_level0"] = level0
        if self._unscrubbed:
            _scrub_deleted(state, level0, self.dim)
            self._graph = _graph_from(state, level0, self._ef)
            self._unscrubbed = 0
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
        Stopped half way (Ctrl-C), the live set is made to agree with the graph again.
        """
        try:
            self._add(labels, vectors)
        except BaseException:
            self._agree(labels)
            raise

    def _agree(self, labels: Labels) -> None:
        """Make :attr:`live_labels` and the deleted count agree with the graph for
        ``labels`` (the graph's word is the truth: an interrupt may land right after one
        of its calls returns), and have the next save scrub deleted slots."""
        for label in np.asarray(labels, dtype=np.int64).tolist():
            try:
                self._graph.get_items([label])  # raises for a label absent or deleted
            except RuntimeError:
                self._live.discard(label)
            else:
                self._live.add(label)
        self._deleted = self._graph.get_current_count() - len(self._live)
        self._unscrubbed = max(self._unscrubbed, 1)

    def _add(self, labels: Labels, vectors: FloatMatrix) -> None:
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
        try:
            for label in np.asarray(labels, dtype=np.int64).tolist():
                if label in self._live:
                    self._graph.mark_deleted(label)
                    self._live.discard(label)
                    self._deleted += 1
                    self._unscrubbed += 1
        except BaseException:  # Ctrl-C half way: as in add
            self._agree(labels)
            raise

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


_INT_FIELDS = (
    "dim",
    "offset_level0",
    "max_elements",
    "cur_element_count",
    "size_data_per_element",
    "label_offset",
    "offset_data",
    "max_level",
    "enterpoint_node",
    "max_M",
    "max_M0",
    "M",
    "ef_construction",
    "ef",
    "size_links_per_element",
)
# the tables hnswlib's __getstate__ hands out, with their dtypes
_ARRAY_FIELDS = {
    "label_lookup_external": np.uint64,
    "label_lookup_internal": np.uint32,
    "element_levels": np.int32,
    "link_lists": np.int8,
}
_INT64 = (-(2**63), 2**63)


def check_graph_fields(state: Any) -> None:
    """Refuse a graph state (a decoded file's) whose fields are not of the types
    :meth:`HNSWIndex.graph_state` gives them, before any of them is used: sizes and
    positions are ints (not bools) within 64 bits, the tables one-dimensional arrays of
    hnswlib's dtypes (``data_level0``, the level-0 block, is not looked at).

    Raises:
        ValueError: naming the first field that is missing or of the wrong type.
    """
    if not isinstance(state, dict):
        raise ValueError(f"the graph state is a {type(state).__name__}, not a map")
    for name in _INT_FIELDS:
        value = state.get(name)
        if type(value) is not int or not _INT64[0] <= value < _INT64[1]:
            raise ValueError(f"graph field {name!r} holds {shown(value)}, not an int")
    for name, dtype in _ARRAY_FIELDS.items():
        table = state.get(name)
        if not isinstance(table, np.ndarray) or table.ndim != 1 or table.dtype != dtype:
            raise ValueError(
                f"graph field {name!r} holds {shown(table)}, not a table of {np.dtype(dtype)}"
            )


def _slot_layout(state: dict[str, Any], dim: int) -> tuple[int, int, int]:
    """Byte range of the vector inside an hnswlib level-0 slot, and where its label sits."""
    start = int(state["offset_data"])
    return start, start + 4 * dim, int(state["label_offset"])


def _slot_labels(slots: np.ndarray, label_at: int) -> Labels:
    """The (8-byte) label stored in each level-0 slot."""
    return slots[:, label_at : label_at + 8].copy().view(np.int64).reshape(-1)


def _live_slots(slots: np.ndarray) -> npt.NDArray[np.bool_]:
    """Slots not marked deleted: hnswlib sets bit 0 of byte 2 of a slot's link header."""
    return (slots[:, _DELETE_MARK_BYTE] & _DELETE_MARK) == 0


def _graph_from(state: dict[str, Any], level0: np.ndarray, ef: int) -> hnswlib.Index:
    """An hnswlib index made from ``state`` with ``level0`` as its level-0 block.

    Raises:
        ValueError: hnswlib rejected the state.
    """
    graph = hnswlib.Index.__new__(hnswlib.Index)
    try:
        graph.__setstate__(({**state, "data_level0": level0.reshape(-1)},))
    except (RuntimeError, TypeError, KeyError) as exc:
        raise ValueError(f"hnswlib rejected the graph state: {exc}") from exc
    except MemoryError as exc:  # hnswlib's std::bad_alloc
        raise ValueError(f"the graph state needs more memory than there is: {exc}") from exc
    graph.set_ef(ef)
    graph.set_num_threads(1)
    return graph


def _scrub_deleted(state: dict[str, Any], level0: np.ndarray, dim: int) -> None:
    """Overwrite the vector of every deleted slot in ``level0`` (a copy): a deleted entry's
    vector must not outlive it in a snapshot. hnswlib still routes searches through deleted
    slots, so each gets the vector of its first live level-0 neighbour (close to where it
    was: routing stays as good), or zeros when it has none.
    """
    live = _live_slots(level0)
    dead = np.flatnonzero(~live)
    if len(dead) == 0:
        return
    start, stop, _ = _slot_layout(state, dim)
    width = int(state["max_M0"])
    links = level0[dead, :start].view(np.uint32).reshape(len(dead), 1 + width)
    sizes, ids = links[:, 0] & 0xFFFF, links[:, 1:].astype(np.intp)
    usable = (np.arange(width) < sizes[:, None]) & (ids < len(level0))
    usable &= live[np.where(usable, ids, 0)]
    donors = ids[np.arange(len(dead)), usable.argmax(axis=1)]
    replacement = np.zeros((len(dead), stop - start), dtype=np.int8)
    found = usable.any(axis=1)
    replacement[found] = level0[donors[found], start:stop]
    level0[dead, start:stop] = replacement


def slots_of(state: dict[str, Any], labels: Labels, dim: int) -> npt.NDArray[np.intp]:
    """The slots holding ``labels`` (the graph's live labels, in any order) in a
    :meth:`HNSWIndex.graph_state`'s level-0 block, for :func:`copy_vectors`.

    Raises:
        ValueError: ``data_level0`` does not have the layout the state describes, or its
            live slots do not hold exactly ``labels``.
    """
    level0 = np.asarray(state["data_level0"])
    count = int(state["cur_element_count"])
    if level0.dtype != np.int8 or level0.shape != (count, int(state["size_data_per_element"])):
        raise ValueError("the graph's level-0 block does not match its slot count and size")
    start, stop, label_at = _slot_layout(state, dim)
    if not 0 <= start < stop <= label_at <= level0.shape[1] - 8:
        raise ValueError("the graph's slots do not fit vectors of this dimension")
    live_slots = np.flatnonzero(_live_slots(level0))
    live_labels = _slot_labels(level0, label_at)[live_slots]
    if np.array_equal(live_labels, labels):  # rows in slot order already
        return live_slots
    order = np.argsort(live_labels)
    at = np.searchsorted(live_labels, labels, sorter=order).clip(0, max(len(order) - 1, 0))
    if len(live_labels) != len(labels) or not np.array_equal(live_labels[order[at]], labels):
        raise ValueError("the graph's live slots do not hold the saved labels")
    return live_slots[order[at]]


def copy_vectors(state: dict[str, Any], slots: npt.NDArray[np.intp], out: FloatMatrix) -> None:
    """Copy the vectors in ``slots`` (from :func:`slots_of`) into the rows of ``out``."""
    start, stop, _ = _slot_layout(state, out.shape[1])
    vectors = np.asarray(state["data_level0"])[:, start:stop].view(np.float32)
    # one call that releases the GIL throughout and needs no temporary: this runs beside
    # a thread busy in hnswlib, which holds the GIL (slots_of checked every slot)
    np.take(vectors, slots, axis=0, out=out, mode="clip")


def _right_sized(state: dict[str, Any], count: int) -> dict[str, Any]:
    """``state`` with room for at most ``max(16, 2 * count)`` slots (``count``: its
    elements, checked against the blocks): hnswlib allocates every slot of
    ``max_elements`` at once, so a file claiming millions for a few elements must not
    make a load take gigabytes. A live index never reserves more than that (it doubles
    as it grows), and grows again as needed after the load.

    ``element_levels`` is resized to match: hnswlib copies it whole into a table of
    ``max_elements`` levels.

    Raises:
        ValueError: ``element_levels`` or the label tables hold fewer than ``count`` rows.
    """
    capacity = min(int(state["max_elements"]), max(16, 2 * count))
    levels = np.asarray(state["element_levels"])
    external = np.asarray(state["label_lookup_external"])
    internal = np.asarray(state["label_lookup_internal"])
    if levels.ndim != 1 or len(levels) < count or not len(external) == len(internal) >= count:
        raise ValueError("the graph's level or label tables are shorter than the graph")
    sized = np.zeros(capacity, dtype=np.intc)  # hnswlib's int
    sized[:count] = levels[:count]
    return {**state, "max_elements": capacity, "element_levels": sized}


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
        "max_level": int(levels.max()) if count else -1,  # hnswlib's empty graph: -1
    }
    wrong = [name for name, value in expected.items() if state[name] != value]
    if wrong or not 0 <= count <= int(state["max_elements"]) or (count and levels.min() < 0):
        raise ValueError(f"graph header fields are inconsistent: {wrong or 'sizes'}")
    entry = int(state["enterpoint_node"])
    if not (0 <= entry < count if count else entry == -1):
        raise ValueError("the graph's entry point lies outside it")
    if count and levels[entry] != expected["max_level"]:  # hnswlib starts every search there
        raise ValueError("the graph's entry point is not on its top level")
    if len(links) != int(levels.sum()) * expected["size_links_per_element"]:
        raise ValueError("the graph's upper-level link lists have the wrong size")
    internal = np.asarray(state["label_lookup_internal"])
    if len(internal) and not (internal.min() >= 0 and internal.max() < count):
        raise ValueError("the graph's label table points outside it")
    for table, width in ((level0_links, max_m0), (links, max_m)):
        rows = table.view(np.uint32).reshape(-1, 1 + width)  # rows may be strided: no copy
        sizes, ids = rows[:, 0] & 0xFFFF, rows[:, 1:]
        if (sizes > width).any():
            raise ValueError("the graph holds a link list longer than its room")
        # hnswlib zeroes a new slot's links, so entries past a list's size hold 0 or ids of
        # earlier links: only when some id is out of range do the sizes need a closer look
        if (ids >= count).any() and (ids[np.arange(width) < sizes[:, None]] >= count).any():
            raise ValueError("the graph holds a link outside it")
    _check_link_levels(links.view(np.uint32).reshape(-1, 1 + max_m), levels)


def _check_label_table(state: dict[str, Any], slot_labels: Labels) -> None:
    """Refuse a label table that does not name each slot by the label the slot holds:
    hnswlib finds the slot to update or delete through it, so a swapped pair would have a
    ``set`` write one entry's vector into another's slot, or delete the wrong one.

    Raises:
        ValueError: the table is not one row per slot, each slot's own label.
    """
    external = np.asarray(state["label_lookup_external"])
    internal = np.asarray(state["label_lookup_internal"]).astype(np.intp)
    count = len(slot_labels)
    if (
        len(external) != count
        or len(internal) != count
        or not np.array_equal(np.sort(internal), np.arange(count))
        or not np.array_equal(slot_labels[internal], external.astype(np.int64))
    ):
        raise ValueError("the graph's label table does not name each slot by its label")


def _check_link_levels(rows: np.ndarray, levels: np.ndarray) -> None:
    """Refuse an upper-level link to an element that has no list on that level: hnswlib
    follows it there (and reads memory that is not a list). ``rows``: the ``link_lists``
    table, whose ids :func:`_check_links` found in range, one row per level 1 to
    ``levels[i]`` of each element ``i`` in turn.

    Raises:
        ValueError: a link from level ``l`` to an element whose top level is below ``l``.
    """
    if not len(rows):
        return
    owners = np.repeat(np.arange(len(levels)), levels)
    row_level = np.arange(len(rows)) - np.searchsorted(owners, owners) + 1
    sizes, ids = rows[:, 0] & 0xFFFF, rows[:, 1:].astype(np.intp)
    used = np.arange(ids.shape[1]) < sizes[:, None]
    if (used & (levels[np.where(used, ids, 0)] < row_level[:, None])).any():
        raise ValueError("the graph links a level to an element that is not on it")
