"""A :class:`~.local.LocalBackend`'s one-step write of a computed embedding: what most
``get_or_compute`` misses store.

A function's embedding arrives as a list of floats. The general write checks and converts
it (:func:`~semcache_core.entry_writes.computed_writes`), wraps it in an
:class:`~.base.EntryWrite` and hands it to ``set_many``; this writes its unit row straight
into the namespace's index in one C pass and enters the entry, leaving exactly what the
general write leaves (``tests/unit/test_computed_write.py``): filling 100k embeddings by
``get_or_compute`` takes a quarter less time (``benchmarks/bench_seed.py``).

Example::

    stored = backend.add_float_list("", "hello", [0.6, 0.8], EMPTY_METADATA, None, now)
    if stored is None:  # not this write's case: the general write takes it
        backend.set_many(writes, now)
    else:
        read_back, marker, unit_row = stored
"""

# Each method annotates ``self: LocalBackend`` to reach the backend's tables.
# mypy: disable-error-code="misc"

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..vector_values import ComputedList, list_marker
from .entries import LocalEntry

if TYPE_CHECKING:
    from .local import LocalBackend

__all__ = ["LocalComputedWrites"]


class LocalComputedWrites:
    """Mixed into :class:`~.local.LocalBackend`: :meth:`add_float_list`."""

    _next_label: int  # the backend's, see LocalBackend._reset
    _tick: int

    def add_float_list(
        self: LocalBackend,
        namespace: str,
        key: str,
        values: list[Any],
        metadata: bytes,
        expires_at: float | None,
        now: float,
    ) -> ComputedList | None:
        """A ``get_or_compute`` miss's common write in one step: a new key whose computed
        value is a list of floats of its namespace's dimension, stored as the entry's
        vector (its unit row written straight into the index) with its marker as value,
        as :meth:`set_many` would store the write
        :func:`~semcache_core.entry_writes.computed_writes` makes of it.

        Returns ``(read back, marker, unit row bytes)``: what a read gives back
        (``values`` itself when every component reads back as given), and what the entry
        holds, from which the flight's waiters get theirs (see
        :data:`~semcache_core.stored_values.OUTCOMES`). None where :meth:`set_many` must
        write instead, having stored nothing (expired entries purged and the matrix grown,
        as the general write would): the key is held (or cold entries may hold it), the
        namespace has no index yet, or the list is not one
        :func:`~semcache_core.vector_values.float_list_into` takes.
        """
        with self._lock:
            if self._expiry:  # as the general write's dim_of(namespace, now) does first
                self.purge_expired(now)
            space = self._spaces.get(namespace)
            if space is None or space.index is None or self._cold is not None:
                return None
            if key in space.entries:
                return None
            found = space.index.write_float_list(values)
            if found is None:
                return None
            norm, read_back, unit = found
            marker, value = list_marker(norm)
            label = self._next_label
            self._next_label += 1
            self._tick += 1
            entry = LocalEntry(
                key, value, metadata, namespace, expires_at, marker, label, self._tick
            )
            # the entry first, then its row, as set_many does: an interrupt (Ctrl-C) landing
            # in between takes the entry out again (never a row another entry answers);
            # a finaliser re-entering the lock meanwhile (allocations above may start the
            # collector) may take the written row: add_written writes it again then
            try:
                self._enter(space, entry)
                space.index.add_written(label, unit)
            except BaseException:
                self._undo_unindexed([(namespace, key)], label)
                raise
            if self.max_entries is not None or expires_at is not None:
                self._after_writes(now)  # else it queued nothing that could make this due
            return read_back, marker, unit
