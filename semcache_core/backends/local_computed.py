"""A :class:`~.local.LocalBackend`'s one-step write of a computed embedding: what most
``get_or_compute`` misses store.

A function's embedding arrives as a list of floats. The general write checks and converts
it (:func:`~semcache_core.entry_writes.computed_writes`), wraps it in an
:class:`~.base.EntryWrite` and hands it to ``set_many``; this writes its unit row straight
into the namespace's index in one C pass and enters the entry, leaving exactly what the
general write leaves (``tests/unit/test_computed_write.py``), in about half the time.

Example::

    read_back = backend.add_float_list("", "hello", [0.6, 0.8], EMPTY_METADATA, None, now)
    if read_back is None:  # not this write's case: the general write takes it
        backend.set_many(writes, now)
"""

# Each method annotates ``self: LocalBackend`` to reach the backend's tables.
# mypy: disable-error-code="misc"

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..vector_values import LIST_KIND, VectorValue
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
    ) -> list[float] | None:
        """A ``get_or_compute`` miss's common write in one step: a new key whose computed
        value is a list of floats of its namespace's dimension, stored as the entry's
        vector (its unit row written straight into the index) with its marker as value,
        as :meth:`set_many` would store the write
        :func:`~semcache_core.entry_writes.computed_writes` makes of it.

        Returns what a read gives back (``values`` itself when every component reads back
        as given), or None, nothing changed, where :meth:`set_many` must write instead:
        the key is held (or cold entries may hold it), the namespace has no index yet, or
        the list is not one :func:`~semcache_core.vector_values.float_list_into` takes.
        """
        with self._lock:
            if self._expiry:  # as the general write's dim_of(namespace, now) does first
                self.purge_expired(now)
            space = self._spaces.get(namespace)
            if space is None or space.index is None or self._cold is not None:
                return None
            if key in space.entries:
                return None
            label = self._next_label
            found = space.index.add_float_list(label, values)
            if found is None:
                return None
            self._next_label = label + 1
            norm, read_back = found
            marker = VectorValue(LIST_KIND, norm)
            self._tick += 1
            self._enter(
                space,
                LocalEntry(
                    key, marker.encode(), metadata, namespace, expires_at, marker, label, self._tick
                ),
            )
            self._after_writes(now)
            return read_back
