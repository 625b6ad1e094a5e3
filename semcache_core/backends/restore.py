"""Turning a snapshot's :class:`~.base.BackendState` into the in-process backend's tables,
aside: :func:`build_restore` checks everything and builds the namespaces and the cold
entries, and :meth:`~.local.LocalBackend.commit_restore` swaps them in, so a damaged or
inconsistent state changes nothing.

Example::

    >>> prepared = build_restore(state, now, make_index)  # raises ValueError, nothing changed
    >>> backend.commit_restore(prepared)
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..index.hybrid import HybridIndex
from ..vectors import FloatMatrix
from .base import BackendState
from .entries import ColdEntries
from .namespace import Namespace

__all__ = ["PreparedRestore", "build_restore", "gc_paused"]


@dataclass(slots=True)
class PreparedRestore:
    """Tables built by :func:`build_restore`, ready to swap in."""

    spaces: dict[str, Namespace]
    cold: ColdEntries
    expired: list[tuple[str, str]]  # (namespace, key) of the entries expired at load time
    next_label: int

    @property
    def ticks(self) -> int:
        """Ticks the restored entries use: a cold row ``r`` has tick ``r + 1``."""
        return len(self.cold) + len(self.expired)


def build_restore(
    state: BackendState, now: float, make_index: Callable[[Any, FloatMatrix], HybridIndex]
) -> PreparedRestore:
    """Build and check the tables for ``state`` aside; ``make_index(labels, vectors)``
    restores one namespace's index.

    A snapshot's big blocks may still be coming in: the entry tables are built first,
    then this waits for the graphs, and for the vectors last.

    Raises:
        ValueError: the state is inconsistent (a :class:`SnapshotError` when a block of a
            snapshot being read turned out damaged).
    """
    cold, expired_rows = ColdEntries.from_columns(
        state.keys,
        state.values,
        state.metadata,
        state.namespaces,
        state.expires_at,
        state.labels,
        now,
    )
    spaces: dict[str, Namespace] = {}
    for saved in state.spaces:
        vectors = saved.vectors
        if (
            saved.name in spaces
            or vectors is None
            or vectors.shape != (len(saved.labels), saved.dim)
            or (state.dim is not None and saved.dim != state.dim)
        ):
            raise ValueError(f"namespace {saved.name!r}: vectors do not match labels")
        spaces[saved.name] = Namespace(saved.name, make_index(saved.labels, vectors))
    _link_entries(state, spaces, cold, expired_rows)
    state.wait_for_graphs()  # a snapshot's blocks were being read in meanwhile
    for saved in state.spaces:  # while the reader copies the vectors out of the graphs
        restored = spaces[saved.name].index
        assert restored is not None  # made above
        restored.restore_graph(saved.graph)
    state.wait_for_vectors()
    _drop_expired_vectors(state, spaces, expired_rows)
    next_label = max(
        [state.next_label]
        + [1 + int(s.labels.max()) for s in state.spaces if len(s.labels)]
        + [1 + space.index.highest_label for space in spaces.values() if space.index]
    )
    expired = [(state.namespaces[row], state.keys[row]) for row in expired_rows]
    for name in [name for name in spaces if not cold.count_in(name)]:
        spaces.pop(name).close()  # every entry of it expired: nothing to keep
    return PreparedRestore(spaces, cold, expired, next_label)


def _link_entries(
    state: BackendState,
    spaces: dict[str, Namespace],
    cold: ColdEntries,
    expired_rows: list[int],
) -> None:
    """Fill each namespace's ``by_label`` (label -> key, while cold), checking that the
    entries and the vectors match; the expired rows' labels stay out of it.
    """
    owned = cold.labelled()
    if not owned.keys() <= spaces.keys():
        raise ValueError(f"namespaces {sorted(owned.keys() - spaces.keys())} have no vectors")
    for name, space in spaces.items():
        labels, keys = owned.get(name, ([], []))
        space.by_label = dict(zip(labels, keys))
        assert space.index is not None  # restored from its saved vectors
        if len(space.by_label) != len(labels) or space.by_label.keys() != set(
            space.index.flat.labels.tolist()
        ):
            raise ValueError(f"namespace {name!r}: vectors and entries do not match")
    for row in expired_rows:
        label = state.labels[row]
        if label is not None:
            del spaces[state.namespaces[row]].by_label[label]


def _drop_expired_vectors(
    state: BackendState, spaces: dict[str, Namespace], expired_rows: list[int]
) -> None:
    """Remove the vectors of the rows expired at load time (once the vectors are in)."""
    expired: dict[str, list[int]] = {}
    for row in expired_rows:
        label = state.labels[row]
        if label is not None:
            expired.setdefault(state.namespaces[row], []).append(label)
    for name, labels in expired.items():
        index = spaces[name].index
        assert index is not None  # the rows had labels in it
        index.remove(np.asarray(labels, dtype=np.int64))


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many objects that form no cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
