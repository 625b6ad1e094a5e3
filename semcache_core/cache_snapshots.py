"""Snapshot calls of :class:`~semcache_core.SemCache`: ``dump``, ``load``, ``from_snapshot``.

The file format lives in :mod:`semcache_core.persist.snapshot`; these calls add what the
facade owns: the dimension the cache was created with, its settings in the header, and a
:class:`~semcache_core.SnapshotError` that leaves the cache exactly as it was.

Example::

    >>> from semcache_core import SemCache
    >>> cache = SemCache()
    >>> cache.set("a", 1, vector=[1.0, 0.0])
    >>> cache.dump("cache.semcache")
    >>> SemCache.from_snapshot("cache.semcache").get("a")
    1
"""

# Each method annotates ``self: SemCache`` to reach the facade (as in cache_async.py).
# mypy: disable-error-code="misc"

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .backends.base import BackendState, SupportsSnapshots
from .errors import CapabilityError, SnapshotError
from .index.hybrid import DEFAULT_HNSW_THRESHOLD
from .persist.snapshot import read_snapshot, settings_from_meta, write_snapshot

if TYPE_CHECKING:
    from .cache import SemCache

__all__ = ["Snapshots"]

_BACKEND_SETTINGS = ("max_entries", "index", "hnsw_threshold", "hnsw_params")
"""Saved settings that configure the default backend (see :class:`SemCache`)."""


class Snapshots:
    """``dump`` / ``load`` / ``from_snapshot`` (``adump`` / ``aload`` are in cache_async)."""

    def dump(self: SemCache, path: str | os.PathLike[str]) -> None:
        """Write every live entry, vector and complete HNSW graph to one binary file.

        The file is written beside ``path``, fsynced and renamed over it: a crash during
        ``dump`` leaves the previous snapshot intact. Load it with :meth:`load` or
        :meth:`from_snapshot`. Entries keep their absolute expiry times.

        Example::

            cache.dump("faq.semcache")
            same = SemCache.from_snapshot("faq.semcache", embedder=my_embedder)
        """
        state = self._snapshot_backend().export_state(self._clock())
        if state.dim is None:
            state.dim = self._fixed_dim  # dim= given, no vector yet: keep it
        write_snapshot(path, state, self._settings())

    def load(self: SemCache, path: str | os.PathLike[str]) -> None:
        """Replace this cache's content with a snapshot's (entries expired by now are skipped).

        The cache keeps its own settings (index kind, LRU bound, default TTL); a saved HNSW
        graph is reused, not rebuilt, unless this cache is ``index="flat"``. Statistics are
        kept. Every namespace of the file is loaded; namespaces of this cache not in the
        file are emptied (a load replaces the whole content).

        Raises:
            SnapshotError: the file is truncated, corrupted, not a snapshot, or holds vectors
                of another dimension than ``dim=``; the cache is left exactly as it was.
            FileNotFoundError: there is no file at ``path``.
        """
        backend = self._snapshot_backend()
        state, _ = read_snapshot(path, wait=False)  # the restore waits for the vectors
        self._restore(backend, path, state)

    def _restore(
        self: SemCache, backend: SupportsSnapshots, path: Any, state: BackendState
    ) -> None:
        """Put a read snapshot in place, or raise :class:`SnapshotError` changing nothing."""
        fixed = self._fixed_dim
        wrong = [s for s in state.spaces if fixed is not None and s.dim != fixed]
        if wrong or (fixed is not None and state.dim not in (None, fixed)):
            held = wrong[0].dim if wrong else state.dim
            raise SnapshotError(
                f"{path} holds vectors of dimension {held}, but this cache has dim={fixed}"
            )
        try:
            backend.restore_state(state, self._clock())
        except SnapshotError:
            raise
        except ValueError as exc:
            raise SnapshotError(f"{path} is inconsistent: {exc}") from exc

    @classmethod
    def from_snapshot(
        cls: type[SemCache],
        path: str | os.PathLike[str],
        /,
        *,
        embedder: Any = None,
        **options: Any,
    ) -> SemCache:
        """A new cache with the snapshot's content and settings (``options`` override them).

        ``path`` (the snapshot's) is positional, so ``path=`` in ``options`` is the
        constructor's: a durable cache in that directory, filled from the snapshot.
        Pass the ``embedder`` the snapshot was made with: embedders are not saved. With
        ``backend=``, the content goes into that backend, which keeps its own settings:
        the saved LRU bound, index kind and HNSW settings are not applied (the default
        TTL is); passing those options too is refused, as by the constructor.

        Raises:
            SnapshotError, FileNotFoundError: as :meth:`load`.
        """
        state, meta = read_snapshot(path, wait=False)
        saved = settings_from_meta(path, meta)
        if options.get("backend") is not None:  # it is configured already
            for name in _BACKEND_SETTINGS:
                saved.pop(name, None)
        settings = {**saved, **options}
        cache = cls(dim=settings.pop("dim", state.dim), embedder=embedder, **settings)
        try:
            cache._restore(cache._snapshot_backend(), path, state)
        except SnapshotError:
            cache.close()
            raise
        return cache

    def _snapshot_backend(self: SemCache) -> SupportsSnapshots:
        if not isinstance(self._backend, SupportsSnapshots):
            raise CapabilityError(
                f"{type(self._backend).__name__} cannot export or replace its whole content"
            )
        return self._backend

    def _settings(self: SemCache) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "ttl": self._default_ttl,
            "index": "auto",
            "max_entries": None,
            "hnsw_threshold": DEFAULT_HNSW_THRESHOLD,
            "hnsw_params": None,
        }
        backend_settings = getattr(self._backend, "settings", None)
        if callable(backend_settings):
            settings.update(backend_settings())
        return settings
