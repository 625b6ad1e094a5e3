"""Keyed reads of a :class:`~.local.LocalBackend`: ``get``, ``exists`` and ``read_value``,
the one-step read behind every ``get_or_compute`` hit.

A read marks its entry as the most recently used (a tick, see :mod:`.local`), thaws a cold
entry, and expires an entry whose time is up (a miss).

Example::

    >>> from semcache_core.backends.local import LocalBackend
    >>> from semcache_core.stored_values import MISSING
    >>> backend = LocalBackend(index="flat")
    >>> backend.read_value("", "absent", now=0.0) is MISSING
    True
"""

# Each method annotates ``self: LocalBackend`` to reach the backend's tables.
# mypy: disable-error-code="misc"

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..codec import decode
from ..stored_values import MISSING, value_of
from ..untracked import untrack
from ..vector_values import LIST_KIND, VECTOR_HEAD, VectorValue
from .base import NOT_DECODED, StoredEntry
from .entries import LocalEntry
from .namespace import Namespace

if TYPE_CHECKING:
    from .local import LocalBackend

__all__ = ["LocalReads"]


class LocalReads:
    """Mixed into :class:`~.local.LocalBackend`: the keyed reads."""

    _tick: int  # the backend's read clock, see LocalBackend._reset

    def get(
        self: LocalBackend,
        namespace: str,
        key: str,
        now: float,
        count: bool = True,
        touch: bool = True,
    ) -> StoredEntry | None:
        # the exact-hit hot path: _touch is inlined. `with`, not acquire() and try: an
        # interrupt (Ctrl-C) can land right after acquire() returns, and the lock is held
        # for good
        with self._lock:
            space = self._spaces.get(namespace)
            entry = None if space is None else space.entries.get(key)
            if entry is None and (
                self._cold is None or (entry := self._thaw(namespace, key)) is None
            ):
                self._misses += count
                return None
            if entry.expires_at is not None and entry.expires_at <= now:
                self._expire(entry)
                self._misses += count
                return None
            self._hits += count
            if touch:
                entry.tick = self._tick = self._tick + 1
            if entry.label is not None and entry.value[:2] == VECTOR_HEAD:
                if entry.plain is NOT_DECODED:  # restored: its marker (immutable) is kept
                    entry.plain = decode(entry.value)  # from now on, for read_value too
                    untrack(entry.plain)
                return self._with_vector(entry, self._spaces[namespace])
            return entry

    def read_value(self: LocalBackend, namespace: str, key: str, now: float) -> Any:
        """The value of ``(namespace, key)`` for one reader, or :data:`MISSING`: what
        :meth:`get` (counted) and :func:`~semcache_core.stored_values.value_of` give, in
        one step.

        An embedding stored as a list (see :mod:`semcache_core.vector_values`) is made
        straight from its index row while the lock is held: no copy of the row and no
        :class:`StoredEntry` on the way, a third of a ``get_or_compute`` hit; a key with no
        entry (hot or cold) is a miss at once. Every other entry takes :meth:`get`.
        """
        with self._lock:
            space = self._spaces.get(namespace)
            entry = None if space is None else space.entries.get(key)
            if entry is None:
                if self._cold is None:  # nothing to thaw: a miss (every get_or_compute's)
                    self._misses += 1
                    return MISSING
            elif entry.expires_at is None or entry.expires_at > now:
                marker = entry.plain
                if (
                    marker.__class__ is VectorValue
                    and marker.kind == LIST_KIND
                    and entry.label is not None  # else get() says what is wrong
                ):
                    self._hits += 1
                    entry.tick = self._tick = self._tick + 1
                    # an embedding's entry has a label in its namespace's index
                    return space.index.float_list(entry.label, marker.norm)  # type: ignore[union-attr]
        found = self.get(namespace, key, now)
        return MISSING if found is None else value_of(found)

    def _touch(self: LocalBackend, entry: LocalEntry) -> None:
        """Mark a read: the entry becomes the most recently used (see module docstring)."""
        self._tick += 1
        entry.tick = self._tick

    def exists(self: LocalBackend, namespace: str, key: str, now: float) -> bool:
        with self._lock:
            entry = self._find(namespace, key)  # a thawed entry keeps its place in LRU order
            if entry is None:
                return False
            if entry.expires_at is not None and entry.expires_at <= now:
                self._expire(entry)
                return False
            return True

    def _find(self: LocalBackend, namespace: str, key: str) -> LocalEntry | None:
        """The entry of ``key`` (thawed if it was cold), expired or not."""
        space = self._spaces.get(namespace)
        entry = None if space is None else space.entries.get(key)
        if entry is None and self._cold is not None:
            entry = self._thaw(namespace, key)
        return entry

    @staticmethod
    def _with_vector(entry: LocalEntry, space: Namespace) -> StoredEntry:
        """A copy of ``entry`` carrying its vector (for ``with_vectors``, and for a value
        that is the vector itself: see :mod:`semcache_core.vector_values`)."""
        assert space.index is not None  # the entry has a label in it
        vector = space.index.vector_of(entry.label)  # type: ignore[arg-type]
        return StoredEntry(
            entry.key,
            entry.value,
            entry.metadata,
            entry.namespace,
            entry.expires_at,
            vector,
            entry.plain,
        )
