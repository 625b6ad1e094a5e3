"""What owners of a :class:`~.local.LocalBackend`'s whole content use: snapshots (its
settings, a consistent export, a restore built aside and swapped in) and the durable
journal's log of the entries the backend drops by itself.

Example::

    state = backend.export_state(now)          # SemCache.dump
    backend.restore_state(state, now)          # SemCache.load
    backend.record_drops(); backend.take_dropped()   # DurableBackend
"""

# Each method annotates ``self: LocalBackend`` to reach the backend's tables.
# mypy: disable-error-code="misc"

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, Any

from ..index.hnsw import HNSWParams
from ..index.hybrid import HybridIndex
from ..vectors import FloatMatrix
from .base import BackendState, SpaceState
from .restore import PreparedRestore, build_restore

if TYPE_CHECKING:
    from .local import LocalBackend

__all__ = ["LocalState"]


class LocalState:
    """Mixed into :class:`~.local.LocalBackend`: snapshots and the journal's drop log."""

    _dropped: set[tuple[str, str]] | None  # the backend's, see record_drops
    _tick: int  # the backend's read clock, see LocalBackend._reset
    _next_label: int  # labels are never reused, see LocalBackend._reset

    # --- snapshots -----------------------------------------------------------------------

    def settings(self: LocalBackend) -> dict[str, Any]:
        """The constructor options, as plain values (saved in snapshot headers)."""
        params = self._hnsw_params or HNSWParams()
        return {
            "index": self.index_mode,
            "max_entries": self.max_entries,
            "hnsw_threshold": self._hnsw_threshold,
            "hnsw_params": [params.m, params.ef_construction, params.ef_search, params.seed],
        }

    def export_state(self: LocalBackend, now: float) -> BackendState:
        """A consistent copy of the live content (see :class:`BackendState`)."""
        with self._lock:
            self.purge_expired(now)
            self._thaw_all()
            entries = sorted(
                (e for space in self._spaces.values() for e in space.entries.values()),
                key=attrgetter("tick"),
            )
            state = BackendState(None, next_label=self._next_label)
            state.keys = [e.key for e in entries]
            state.values = [e.value for e in entries]
            state.metadata = [e.metadata for e in entries]
            state.namespaces = [e.namespace for e in entries]
            state.expires_at = [e.expires_at for e in entries]
            state.labels = [e.label for e in entries]
            for name, space in self._spaces.items():
                if space.index is not None and len(space.index):
                    state.spaces.append(
                        SpaceState(name, *space.index.export(), dim=space.index.dim)
                    )
            return state

    def restore_state(self: LocalBackend, state: BackendState, now: float) -> None:
        """Replace the whole content with ``state``; entries expired at ``now`` are dropped.

        Raises:
            ValueError: the state is inconsistent (the backend is unchanged).
        """
        self.commit_restore(self.prepare_restore(state, now))

    def prepare_restore(self: LocalBackend, state: BackendState, now: float) -> PreparedRestore:
        """:func:`~.restore.build_restore` with this backend's index settings: the tables
        for ``state``, built aside; nothing changes until :meth:`commit_restore`."""
        return build_restore(state, now, self._restored_index)

    def _restored_index(self: LocalBackend, labels: Any, vectors: FloatMatrix) -> HybridIndex:
        return HybridIndex.restore(
            self.index_mode, self._lock, labels, vectors, self._hnsw_threshold, self._hnsw_params
        )

    def commit_restore(self: LocalBackend, prepared: PreparedRestore) -> None:
        """Swap in what :meth:`prepare_restore` built (once)."""
        with self._lock:
            for space in self._spaces.values():
                space.close()
            self._reset()
            self._spaces = prepared.spaces
            self._cold = prepared.cold if prepared.cold else None
            self.entered += 1  # what the restore brought in
            self._tick = self._tiebreak = prepared.ticks
            self._next_label = prepared.next_label
            if self._dropped is not None:
                self._dropped.update(prepared.expired)
            for space in prepared.spaces.values():
                if space.index is not None:
                    space.index.start_background_work()
            if self.max_entries is not None:
                while self._size() > self.max_entries:
                    self._evict_least_recent()

    # --- what a journal over this backend needs ------------------------------------------

    def record_drops(self: LocalBackend) -> None:
        """From now on, note ``(namespace, key)`` of the entries this backend expires or
        evicts by itself, for :meth:`take_dropped` (a durable owner removes their records)."""
        self._dropped = set()

    def take_dropped(self: LocalBackend) -> set[tuple[str, str]]:
        """The entries noted since the last call (see :meth:`record_drops`), forgotten now.

        An entry may have been written again since it was noted: ask :meth:`holds` before
        acting on one.
        """
        with self._lock:
            dropped = self._dropped
            if not dropped:
                return set()
            self._dropped = set()
            return dropped

    def holds(self: LocalBackend, namespace: str, key: str) -> bool:
        """Whether ``key`` has an entry in ``namespace`` (expired or not); no side effects."""
        with self._lock:
            space = self._spaces.get(namespace)
            if space is not None and key in space.entries:
                return True
            return self._cold is not None and self._cold.is_cold(namespace, key)
