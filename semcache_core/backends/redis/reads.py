"""The entry reads of a :class:`~.backend.RedisBackend`: ``get``, ``get_many`` (a
pipeline per :data:`~.entry_codec.MANY_READS` keys: one round trip, where a loop of
``get`` takes one per key) and ``exists``. Each reads the namespace's shards once more
after a miss when this process's shard count was stale (``RedisBackend._retried``).

Example::

    backend = RedisBackend("redis://127.0.0.1:6379")
    backend.get_many("", ["a", "b"], time.time())  # [StoredEntry(...), None]
"""

# Each method annotates ``self: RedisBackend`` to reach the backend's state.
# mypy: disable-error-code="misc"

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..base import StoredEntry
from .connection import mapped_errors
from .entry_codec import FIELDS, MANY_READS, all_found
from .plan import entry_of
from .plan import expired as _expired

if TYPE_CHECKING:
    from .backend import RedisBackend

__all__ = ["EntryReads"]


class EntryReads:
    """Mixed into :class:`~.backend.RedisBackend`: its reads of entries by key."""

    def get(
        self: RedisBackend,
        namespace: str,
        key: str,
        now: float,
        count: bool = True,
        touch: bool = True,
    ) -> StoredEntry | None:
        del touch  # no recency of ours to refresh: the server's maxmemory policy bounds it

        def read(tags: tuple[str, ...]) -> StoredEntry | None:
            name = self._keys.entry_key(self._tag_of(tags, key), key)
            return entry_of(key, namespace, self._conn.client.hmget(name, FIELDS), now)

        with mapped_errors("get"):
            found: StoredEntry | None = self._retried(namespace, read)
        if count:
            self._tally.lookup(found is not None)
        return found

    def get_many(
        self: RedisBackend,
        namespace: str,
        keys: Sequence[str],
        now: float,
        count: bool = True,
        touch: bool = True,
    ) -> list[StoredEntry | None]:
        """``get`` of each of ``keys``, in order: a pipeline of :data:`MANY_READS` keys
        each (one round trip) instead of one round trip per key."""
        del touch  # as get's

        def read(tags: tuple[str, ...]) -> list[StoredEntry | None]:
            found: list[StoredEntry | None] = []
            for start in range(0, len(keys), MANY_READS):
                chunk = keys[start : start + MANY_READS]
                pipe = self._conn.pipeline()
                for key in chunk:
                    pipe.hmget(self._keys.entry_key(self._tag_of(tags, key), key), FIELDS)
                found += [entry_of(k, namespace, r, now) for k, r in zip(chunk, pipe.execute())]
            return found

        if not keys:
            return []
        with mapped_errors("get"):
            found: list[StoredEntry | None] = self._retried(namespace, read, all_found)
        for entry in found if count else ():
            self._tally.lookup(entry is not None)
        return found

    def exists(self: RedisBackend, namespace: str, key: str, now: float) -> bool:
        def read(tags: tuple[str, ...]) -> bool:
            name = self._keys.entry_key(self._tag_of(tags, key), key)
            value, x = self._conn.client.hmget(name, ["k", "x"])
            return value is not None and not _expired(x, now)

        with mapped_errors("exists"):
            return bool(self._retried(namespace, read))
