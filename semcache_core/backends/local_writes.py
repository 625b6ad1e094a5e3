"""A :class:`~.local.LocalBackend`'s general write (``set_many``), and what a write
stopped half way leaves undone.

A write enters an entry into the tables, then adds its vector to the namespace's index.
An interrupt (Ctrl-C: a ``KeyboardInterrupt`` between any two calls) or an error landing
in between would leave an entry whose label has no row, and every read of its key raising
``KeyError`` until it is deleted. The writes catch that and call
:meth:`LocalWrites._undo_unindexed`: each entry the write made whose vector never reached
the index is taken out again, as if the write had never come to it (the interrupt is then
raised as usual). An overwrite stopped that way has removed the key's previous entry.

Example::

    backend.set_many([EntryWrite("", "k", encode("v"), EMPTY_METADATA, None)], now)
"""

# Each method annotates ``self: LocalBackend`` to reach the backend's tables.
# mypy: disable-error-code="misc"

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, cast

import numpy as np

from ..errors import DimensionMismatchError
from ..vectors import FloatVector
from .base import EntryWrite
from .entries import LocalEntry

if TYPE_CHECKING:
    from .local import LocalBackend

__all__ = ["LocalWrites"]


class LocalWrites:
    """Mixed into :class:`~.local.LocalBackend`: :meth:`set_many` and its undo."""

    _next_label: int  # the backend's, see LocalBackend._reset
    _tick: int

    def set_many(self: LocalBackend, writes: list[EntryWrite], now: float) -> None:
        with self._lock:
            if len(writes) == 1:  # a get_or_compute miss: no batching to do
                self._set_single(writes[0], now)
                return
            self.check_dimensions(writes)
            # a repeated (namespace, key): the last write wins
            latest = {(write.namespace, write.key): write for write in writes}
            first = self._next_label
            try:
                self._set_latest(latest.values())
            except BaseException:  # Ctrl-C or an error half way: no entry without its row
                self._undo_unindexed(list(latest), first)
                raise
            self._after_writes(now, len(latest))

    def _set_latest(self: LocalBackend, writes: Iterable[EntryWrite]) -> None:
        """:meth:`set_many`'s writes, one per key, then their vectors (lock held)."""
        added: dict[str, tuple[list[int], list[FloatVector]]] = {}
        for write in writes:
            label = self._set_one(write)
            if label is not None and write.vector is not None:
                labels, vectors = added.setdefault(write.namespace, ([], []))
                labels.append(label)
                vectors.append(write.vector)
        for namespace, (labels, vectors) in added.items():  # one index call per namespace
            index = self._spaces[namespace].index
            assert index is not None  # made by _set_one for the first vector
            # one vector (a get_or_compute miss): a view, not np.stack's copy
            rows = vectors[0][None, :] if len(vectors) == 1 else np.stack(vectors)
            index.add(np.asarray(labels, dtype=np.int64), rows)

    def _set_single(self: LocalBackend, write: EntryWrite, now: float) -> None:
        """:meth:`set_many` of one write (the lock held)."""
        vector = write.vector
        if vector is not None:
            space = self._spaces.get(write.namespace)
            index = None if space is None else space.index
            if index is not None and len(vector) != index.dim:
                self.purge_expired(now)  # a namespace whose entries all expired is free
                held = self.dim_of(write.namespace)
                if held is not None:
                    raise DimensionMismatchError(held, len(vector), write.namespace)
        first = self._next_label
        try:
            label = self._set_one(write)
            if label is not None:  # a label is given to a vector only
                index = self._spaces[write.namespace].index
                assert index is not None and vector is not None  # made by _set_one
                index.add_one(label, vector)
        except BaseException:  # Ctrl-C or an error half way: no entry without its row
            self._undo_unindexed([(write.namespace, write.key)], first)
            raise
        self._after_writes(now)

    def check_dimensions(self: LocalBackend, writes: list[EntryWrite]) -> None:
        """Raise :class:`DimensionMismatchError` unless every vector fits its namespace
        (nothing changes).

        The facade checks dimensions first; this catches a write racing another that fixed
        a namespace's dimension.
        """
        with self._lock:
            expected: dict[str, int | None] = {}
            for write in writes:
                if write.vector is None:
                    continue
                name = write.namespace
                if name not in expected:
                    expected[name] = self.dim_of(name)
                dim = expected[name]
                if dim is not None and len(write.vector) != dim:
                    raise DimensionMismatchError(dim, len(write.vector), name)
                expected[name] = len(write.vector)

    def _set_one(self: LocalBackend, write: EntryWrite) -> int | None:
        """Replace the key's entry in the tables; returns the label its vector must get."""
        old = self._find(write.namespace, write.key)
        if old is not None:
            self._remove(old)
        space = self._space(write.namespace)
        label = None
        if write.vector is not None:
            space.ensure_index(len(write.vector), self._new_index)
            label = self._next_label
            self._next_label += 1
        self._tick += 1
        self._enter(
            space,
            LocalEntry(
                write.key,
                write.value,
                write.metadata,
                write.namespace,
                write.expires_at,
                write.plain,
                label,
                self._tick,
            ),
        )
        return label

    def _undo_unindexed(
        self: LocalBackend, keys: Collection[tuple[str, str]], first_label: int
    ) -> None:
        """After a write of ``keys`` (``(namespace, key)`` pairs) stopped half way: take out
        each entry of their namespaces labelled ``first_label`` or later (the write's own:
        labels are never reused) whose label has no row in the index, drop a namespace left
        empty, as a removal would, and note the keys as dropped for a durable owner
        (:meth:`record_drops`: it deletes the journal's records of those it no longer
        holds, which the write had journaled first). Lock held."""
        for name in {namespace for namespace, _ in keys}:
            space = self._spaces.get(name)
            if space is None:
                continue
            index = space.index
            stray = [
                label
                for label in space.by_label
                if label >= first_label and (index is None or label not in index)
            ]
            for label in stray:  # a removal, as of any entry (its row is simply not there)
                self._take_out(cast(LocalEntry, space.by_label[label]))  # the write's: not cold
            if self._spaces.get(name) is space:  # not dropped by a removal above
                self._drop_if_empty(space)
        if self._dropped is not None:
            self._dropped.update(keys)
