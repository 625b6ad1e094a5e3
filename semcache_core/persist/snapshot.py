"""Snapshots: a backend's whole content in one binary file, and back.

A snapshot is a :mod:`container <semcache_core.persist.container>` with these sections:

    entries          msgpack columns: keys, encoded values (an embedding's value is a
                     16-byte marker: its vector is the entry's, below) and metadata, namespace
                     numbers, expiry times (seconds since the epoch), vector labels; least
                     recently used first; and the next free label (labels are never reused)
    vectors          the unit vectors of every space without a graph, one raw float32
                     block: each space's rows x its own dimension, in index row order,
                     space after space
    labels           int64 label of each row of every space, in index row order, space
                     after space
    graph/<j>        the HNSW graph of space ``j`` (msgpack, hnswlib's own state), when one
                     was complete, without its level-0 block:
    graph/<j>/level0 hnswlib's level-0 slots (links, vector, label), raw: the space's
                     vectors are read out of it, so the file holds each vector once

Spaces are the namespaces with vectors, in the order of the header's ``meta["spaces"]``.
The big blocks (``vectors`` and the level-0 blocks) are read and checksummed by a thread
while the entries are decoded; a restore waits for them only when it needs the vectors.

Each space has its own dimension, in ``meta["spaces"]`` (``[name, count, has_graph, dim]``);
``meta["dim"]`` is the dimension every namespace must have (``dim=``) or None.
The header's ``meta`` holds the settings (dimension, metric, index kind, HNSW parameters,
default TTL, LRU bound) and counts, so ``semcache inspect`` can describe a file without
reading its sections. Nothing is ever unpickled: msgpack, raw arrays and CRC-32s only.

Example::

    >>> write_snapshot("cache.semcache", backend.export_state(now), settings)
    >>> state, settings = read_snapshot("cache.semcache")
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import os
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any, cast

import msgpack
import numpy as np

from ..backends.base import BackendState, SpaceState
from ..backends.local import LocalBackend
from ..checks import check_ttl
from ..codec import decode, encode
from ..errors import InvalidArgumentError, SnapshotError
from ..index.base import first_not_unit
from ..index.hnsw import HNSWParams, check_graph_fields, copy_vectors, slots_of
from ..index.hybrid import DEFAULT_HNSW_THRESHOLD
from ..vector_values import is_vector_blob
from .container import Container, open_container, write_container

__all__ = [
    "SNAPSHOT_KIND",
    "describe_state",
    "read_snapshot",
    "settings_from_meta",
    "state_from",
    "write_snapshot",
]

SNAPSHOT_KIND = "snapshot"


def write_snapshot(
    path: str | os.PathLike[str],
    state: BackendState,
    settings: dict[str, Any],
    kind: str = SNAPSHOT_KIND,
) -> int:
    """Write ``state`` atomically; returns the file size in bytes."""
    names = sorted(set(state.namespaces) | {space.name for space in state.spaces})
    if len(names) == 1:  # the common case, in C
        numbers = [0] * len(state.namespaces)
    else:
        number = {name: i for i, name in enumerate(names)}
        numbers = [number[name] for name in state.namespaces]
    entries = msgpack.packb(
        {
            "keys": state.keys,
            "values": state.values,
            "metadata": state.metadata,
            "namespaces": names,
            "namespace": numbers,
            "expires_at": state.expires_at,
            "labels": state.labels,
            "next_label": state.next_label,
        },
        use_bin_type=True,
    )
    plain = [space.vectors.ravel() for space in state.spaces if space.vectors is not None]
    sections: dict[str, Any] = {
        "entries": entries,
        "vectors": _concat(plain, np.float32, (0,)),
        "labels": _concat([s.labels for s in state.spaces], np.int64, (0,)),
    }
    for j, space in enumerate(state.spaces):
        if (space.graph is None) == (space.vectors is None):  # see SpaceState
            raise ValueError(f"space {space.name!r}: its vectors go either in rows or a graph")
        if space.graph is not None:
            graph = dict(space.graph)
            sections[f"graph/{j}/level0"] = np.ascontiguousarray(graph.pop("data_level0"))
            sections[f"graph/{j}"] = encode(graph)
    meta = {**settings, **describe_state(state)}
    return write_container(path, kind, meta, sections)


def _concat(parts: list[np.ndarray], dtype: type, empty_shape: tuple[int, ...]) -> np.ndarray:
    if not parts:
        return np.empty(empty_shape, dtype=dtype)
    return np.ascontiguousarray(parts[0] if len(parts) == 1 else np.concatenate(parts))


def describe_state(state: BackendState) -> dict[str, Any]:
    """Counts kept in the header: what ``semcache inspect`` prints without reading sections."""
    expiries = [t for t in state.expires_at if t is not None]
    return {
        "dim": state.dim,
        "metric": "cosine",
        "entries": len(state.keys),
        "vectors": sum(len(space.labels) for space in state.spaces),
        "spaces": [[s.name, len(s.labels), s.graph is not None, s.dim] for s in state.spaces],
        "namespaces": sorted(set(state.namespaces)),
        "expiry_range": [min(expiries), max(expiries)] if expiries else None,
    }


def read_snapshot(
    path: str | os.PathLike[str], kind: str = SNAPSHOT_KIND, *, wait: bool = True
) -> tuple[BackendState, dict[str, Any]]:
    """The state and header ``meta`` of a snapshot file.

    With ``wait=False`` the vector block is still being read and checksummed by a thread
    when this returns, so a restore can build its tables meanwhile: the state's
    ``wait_for_vectors()`` blocks until it is in, raising :class:`SnapshotError` if it is
    damaged (backends call it before they read a vector).

    Raises:
        SnapshotError: the file is truncated, corrupted, foreign or of another kind.
        FileNotFoundError: there is no file at ``path``.
    """
    with open_container(path) as container:
        if container.kind != kind:
            raise SnapshotError(f"{path} holds a {container.kind!r}, not a {kind!r}")
        state = state_from(container)
        meta = container.meta
    if wait:
        state.wait_for_vectors()
    return state, meta


def state_from(container: Container) -> BackendState:
    """Decode and cross-check the sections of an open snapshot container.

    The big blocks are read by a thread meanwhile (see :class:`_BigBlocks`): the state's
    ``wait_for_graphs`` and ``wait_for_vectors`` wait for them.
    """
    path = container.path
    try:
        meta = container.meta
        dim = meta["dim"]
        # [name, count, has_graph, dim]; files from before per-namespace dimensions have
        # no dim there: every space has the header's
        spaces = [space if len(space) == 4 else [*space, dim] for space in meta["spaces"]]
        for name, _, _, space_dim in spaces:
            if type(space_dim) is not int or space_dim < 1:
                raise ValueError(f"space {name!r} has dimension {space_dim!r}")
        labels = np.frombuffer(container.section("labels"), dtype=np.int64)
        big = _BigBlocks(container, spaces, labels)
        columns = msgpack.unpackb(container.section("entries"), raw=False)
        state = BackendState(dim, next_label=columns.get("next_label", 0))
        state.keys = columns["keys"]
        state.values = columns["values"]
        state.metadata = columns["metadata"]
        state.namespaces = _namespace_column(columns["namespaces"], columns["namespace"])
        state.expires_at = columns["expires_at"]
        state.labels = columns["labels"]
        _check_types(state)
        plain = np.frombuffer(big.blocks["vectors"], dtype=np.float32)
        start = plain_start = 0
        for j, (name, count, _, space_dim) in enumerate(spaces):
            if j in big.graphs:
                vectors = big.graph_vectors[j]
            else:
                size = count * space_dim
                vectors = plain[plain_start : plain_start + size].reshape(count, space_dim)
                plain_start += size
            space_labels = labels[start : start + count]
            state.spaces.append(
                SpaceState(name, space_labels, vectors, big.graphs.get(j), dim=space_dim)
            )
            start += count
        if start != len(labels):
            raise ValueError(f"{len(labels)} labels stored, {start} accounted for by spaces")
        if plain_start != len(plain):
            raise ValueError(f"{len(plain)} vector components stored, {plain_start} used")
    except SnapshotError:
        raise
    except Exception as exc:  # sections that passed their CRCs but do not fit together
        raise SnapshotError(f"{path} is inconsistent: {exc!r}") from exc
    state.graphs_pending = big.graphs_in
    state.vectors_pending = big.vectors_in
    return state


class _BigBlocks:
    """The vector block and the graphs' level-0 blocks, read and checksummed by a thread
    while the caller decodes the entries. The thread then finds the slot of each flat row
    in its graph (:func:`slots_of`) and copies the vectors out (:func:`copy_vectors`):
    a restore can rebuild the graphs (``graphs_in``) while that copy runs (the copy
    releases the GIL; hnswlib's restore mostly holds it).
    """

    def __init__(self, container: Container, spaces: list[Any], labels: np.ndarray) -> None:
        self.graphs: dict[int, dict[str, Any]] = {
            j: _graph_fields(decode(container.section(f"graph/{j}")))
            for j, (_, _, has_graph, _) in enumerate(spaces)
            if has_graph
        }
        self.graph_vectors = {
            j: np.empty((spaces[j][1], spaces[j][3]), np.float32) for j in self.graphs
        }
        starts = np.cumsum([0] + [count for _, count, _, _ in spaces]).tolist()
        own = {j: dict(graph) for j, graph in self.graphs.items()}  # the thread's copies
        self._slots_found: Future[None] = Future()

        def copy_out(blocks: dict[str, np.ndarray]) -> None:
            try:
                plans = []
                for j, graph in own.items():
                    state = _with_level0(graph, blocks[f"graph/{j}/level0"])
                    plans.append(
                        (j, state, slots_of(state, labels[starts[j] : starts[j + 1]], spaces[j][3]))
                    )
            except BaseException as exc:
                self._slots_found.set_exception(exc)
                raise
            self._slots_found.set_result(None)
            for j, state, slots in plans:
                copy_vectors(state, slots, self.graph_vectors[j])
            plain, at = blocks["vectors"].view(np.float32), 0
            for j, (_, count, _, space_dim) in enumerate(spaces):
                if j not in own:  # the block holds these rows, one space after another
                    _check_unit(plain[at : at + count * space_dim], space_dim, "vectors")
                    at += count * space_dim
            for j, vectors in self.graph_vectors.items():
                _check_unit(vectors, spaces[j][3], f"graph/{j}/level0")

        self.blocks, self._read, self._copied = container.sections_in_background(
            ["vectors", *(f"graph/{j}/level0" for j in self.graphs)], copy_out
        )
        for j, graph in self.graphs.items():
            graph.update(_with_level0(graph, self.blocks[f"graph/{j}/level0"]))

    def graphs_in(self) -> None:
        """Block until the graphs' blocks are in (and their rows found); raises if not."""
        self._read.result()
        self._slots_found.result()

    def vectors_in(self) -> None:
        """Block until every vector is in; raises if a block is damaged or inconsistent."""
        self._copied.result()


def _graph_fields(graph: Any) -> dict[str, Any]:
    """A decoded ``graph/<j>`` section, once its fields have the types hnswlib's state
    has (the thread and the restore use them as such).

    Raises:
        ValueError: from :func:`~semcache_core.index.hnsw.check_graph_fields`.
    """
    check_graph_fields(graph)
    return cast(dict[str, Any], graph)


def _check_unit(vectors: np.ndarray, dim: int, section: str) -> None:
    """Reject a vector that is not of unit length (see
    :func:`~semcache_core.index.base.first_not_unit`): every write stores one normalised,
    so a longer one would outscore the true match, and a NaN make every score it enters NaN.

    Raises:
        ValueError: naming ``section`` and the vector's row in it.
    """
    rows = vectors.reshape(-1, dim)
    bad = first_not_unit(rows)
    if bad is None:
        return
    if not np.isfinite(rows[bad]).all():
        raise ValueError(f"section {section!r} holds a vector component that is not finite")
    norm = float(np.linalg.norm(rows[bad].astype(np.float64)))
    raise ValueError(
        f"section {section!r} holds a vector of norm {norm:.6g} (row {bad}), not a unit "
        "vector as every write stores"
    )


def _with_level0(graph: dict[str, Any], block: np.ndarray) -> dict[str, Any]:
    """``graph`` with its level-0 block as one row per slot (a view of ``block``)."""
    level0 = block.view(np.int8).reshape(int(graph["cur_element_count"]), -1)
    return {**graph, "data_level0": level0}


def _namespace_column(names: list[str], numbers: list[int]) -> list[str]:
    """Each entry's namespace name from its number in ``names``."""
    if len(names) == 1 and numbers.count(0) == len(numbers):  # the common case, in C
        return names * len(numbers)
    return [names[i] for i in numbers]


def _check_types(state: BackendState) -> None:
    """Reject columns of the wrong types before they reach the backend.

    Values and metadata are checked where they are decoded (``codec.decode_many``).
    """
    checks = (
        ("keys", state.keys, {str}),
        ("namespaces", state.namespaces, {str}),
        ("expires_at", state.expires_at, {float, int, type(None)}),
        ("labels", state.labels, {int, type(None)}),
    )
    for name, column, types in checks:
        if not set(map(type, column)) <= types:
            raise ValueError(f"column {name!r} holds values of the wrong type")
    _check_expiries(state.expires_at)
    if not all(state.values) or not all(state.metadata):
        raise ValueError("an encoded value or metadata blob is empty")
    # a value stored as its entry's vector needs that vector (see vector_values)
    if None in itertools.compress(state.labels, map(is_vector_blob, state.values)):
        raise ValueError("a vector value has no vector")
    if type(state.next_label) is not int or not 0 <= state.next_label < 2**62:
        raise ValueError(f"next label {state.next_label!r} is not a label")
    if state.dim is not None and (type(state.dim) is not int or state.dim < 1):
        raise ValueError(f"dimension {state.dim!r} is not a positive int")


_IS_SET = functools.partial(operator.is_not, None)


def _times(expires_at: list[float | None]) -> Iterator[float]:
    """The expiry times of ``expires_at`` that are set (a C-level filter)."""
    return cast(Iterator[float], filter(_IS_SET, expires_at))


def _check_expiries(expires_at: list[float | None]) -> None:
    """Reject an expiry time that is not a finite number of seconds (NaN, infinity): no
    write makes one, and a NaN would stall the expiry of every other entry."""
    if math.isfinite(sum(_times(expires_at), 0.0)):  # C loops; NaN or infinity makes it not
        return
    for when in _times(expires_at):  # or finite times overflowing it: look closer
        if not math.isfinite(when):
            raise ValueError(f"column 'expires_at' holds {when!r}, not a finite time")


def settings_from_meta(path: Any, meta: dict[str, Any]) -> dict[str, Any]:
    """The cache settings in a snapshot header, checked as the constructor would check them.

    Raises:
        SnapshotError: a setting no cache accepts.
    """
    settings: dict[str, Any] = {
        "ttl": meta.get("ttl"),
        "max_entries": meta.get("max_entries"),
        "index": meta.get("index", "auto"),
        "hnsw_threshold": meta.get("hnsw_threshold", DEFAULT_HNSW_THRESHOLD),
    }
    params = meta.get("hnsw_params")
    try:
        if params is not None:
            if not (
                isinstance(params, list)
                and len(params) == 4
                and all(type(p) is int for p in params)
                and min(params[:3]) > 0
                and params[3] >= 0
            ):
                raise InvalidArgumentError(f"hnsw_params {params!r} are not four counts")
            settings["hnsw_params"] = HNSWParams(*params)
        check_ttl(settings["ttl"])
        LocalBackend(
            settings["max_entries"], settings["index"], hnsw_threshold=settings["hnsw_threshold"]
        )
    except (InvalidArgumentError, TypeError) as exc:
        raise SnapshotError(f"{path} holds settings no cache accepts: {exc}") from exc
    return settings
