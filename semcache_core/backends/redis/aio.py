"""``AsyncRedisBackend``: the async twin of :class:`~.backend.RedisBackend`'s calls, on
``redis.asyncio`` (no worker thread per call).

It is not made on its own: every ``RedisBackend`` owns one as ``backend.aio``, sharing its
settings, its namespaces' shard counts and its counters, and :class:`~semcache_core.SemCache`'s
async twins use it (see :class:`~semcache_core.backends.base.AsyncBackend`). Everything
but the waiting is shared with the sync backend through :mod:`.plan`: the same commands,
scripts and reply parsing, so both give the same answers and raise the same errors.

Example::

    backend = RedisBackend("redis://127.0.0.1:6379")
    async def main():
        await backend.aio.aset_many([EntryWrite("k", b"v", b"\\x80", "", None)], time.time())
        entry = await backend.aio.aget("", "k", time.time())
        await backend.aio.aclose()  # this loop's client; backend.close() closes the rest
"""

from __future__ import annotations

from typing import Any

from ...errors import DimensionMismatchError
from ...filters import FilterNode
from ...vectors import FloatMatrix
from ..base import EntryWrite, StoredEntry
from .aio_connection import AsyncConnection
from .connection import Connection, mapped_errors
from .entry_codec import FIELDS
from .plan import (
    SearchJob,
    Settings,
    Tally,
    batch_dim,
    by_tag,
    check_kind_replies,
    check_set_replies,
    delete_outcome,
    entry_of,
    expired,
    group_writes,
    needs_kind_check,
    set_call,
)
from .scripts import DELETE, PURGE, SET

__all__ = ["AsyncRedisBackend"]

_eval = Connection.eval  # queues on a pipeline, or gives the client's awaitable


class AsyncRedisBackend:
    """The async calls of one :class:`~.backend.RedisBackend` (see the module docstring).

    Methods mirror the sync backend's with an ``a`` prefix and take the same arguments.
    """

    def __init__(
        self,
        conn: AsyncConnection,
        settings: Settings,
        shard_counts: dict[str, int],
        tally: Tally,
    ) -> None:
        self._conn = conn
        self._settings = settings
        self._keys = settings.keys
        self._shard_counts = shard_counts  # the sync backend's: namespace -> S
        self._tally = tally

    async def _shards(self, namespace: str, create: bool) -> tuple[str, ...] | None:
        """The namespace's shard tags; None when it does not exist (and not ``create``)."""
        count = self._shard_counts.get(namespace)
        if count is None:
            meta = self._keys.meta_key(namespace)
            client = self._conn.client()
            if create:
                await client.hsetnx(meta, "shards", self._settings.default_shards)
            raw = await client.hget(meta, "shards")
            if raw is None:
                return None
            count = self._shard_counts[namespace] = int(raw)
        return self._keys.shard_tags(namespace, count)

    # --- reads --------------------------------------------------------------------------

    async def aget(
        self, namespace: str, key: str, now: float, count: bool = True
    ) -> StoredEntry | None:
        with mapped_errors("get"):
            tags = await self._shards(namespace, create=False)
            found = None
            if tags is not None:
                name = self._keys.entry_key(self._settings.tag_of(tags, key), key)
                found = entry_of(key, namespace, await self._conn.client().hmget(name, FIELDS), now)
        if count:
            self._tally.lookup(found is not None)
        return found

    async def aexists(self, namespace: str, key: str, now: float) -> bool:
        with mapped_errors("exists"):
            tags = await self._shards(namespace, create=False)
            if tags is None:
                return False
            name = self._keys.entry_key(self._settings.tag_of(tags, key), key)
            value, x = await self._conn.client().hmget(name, ["k", "x"])
            return value is not None and not expired(x, now)

    async def adim_of(self, namespace: str, now: float | None = None) -> int | None:
        with mapped_errors("dim_of"):
            tags = await self._shards(namespace, create=False)
            if tags is None or not self._settings.vector_sets:
                return None
            if now is not None:
                await self._purge_tags(tags, now)
            pipe = self._conn.pipeline()
            for tag in tags:
                pipe.execute_command("VCARD", self._keys.vset_key(tag))
            if not sum(int(n or 0) for n in await pipe.execute()):
                return None
            raw = await self._conn.client().hget(self._keys.meta_key(namespace), "dim")
            return None if raw is None else int(raw)

    # --- writes -------------------------------------------------------------------------

    async def aset_many(self, writes: list[EntryWrite], now: float) -> None:
        if not writes:
            return
        by_namespace = group_writes(writes)
        with mapped_errors("set"):
            dims = {ns: batch_dim(self._settings, ns, group) for ns, group in by_namespace.items()}
            for namespace, dim in dims.items():  # every check before any write
                if dim is not None:
                    await self._fix_dim(namespace, dim, now)
            pipe = self._conn.pipeline()
            calls = []
            for namespace, group in by_namespace.items():
                tags = await self._shards(namespace, create=True)
                assert tags is not None
                for tag, shard_writes in by_tag(self._settings, tags, group).items():
                    keys, args = set_call(
                        self._settings, tag, shard_writes, dims[namespace] or 0, now
                    )
                    _eval(pipe, SET, keys, args)
                    calls.append(namespace)
            check_set_replies(calls, await pipe.execute(), dims)

    async def _fix_dim(self, namespace: str, dim: int, now: float) -> None:
        """Record ``dim`` as the namespace's, or raise if it holds live vectors of another."""
        meta = self._keys.meta_key(namespace)
        pipe = self._conn.pipeline()
        pipe.hsetnx(meta, "dim", dim)
        pipe.hget(meta, "dim")
        held = int((await pipe.execute())[1])
        if held == dim:
            return
        if await self.adim_of(namespace, now) is not None:
            raise DimensionMismatchError(held, dim, namespace)
        await self._conn.client().hset(meta, "dim", dim)  # emptied since: the dimension is free

    async def adelete(self, namespace: str, key: str, now: float) -> bool:
        with mapped_errors("delete"):
            tags = await self._shards(namespace, create=False)
            if tags is None:
                return False
            tag = self._settings.tag_of(tags, key)
            existed, x = await _eval(
                self._conn.client(),
                DELETE,
                [self._keys.vset_key(tag), self._keys.expiry_key(tag)],
                [self._keys.entry_prefix(tag), key],
            )
        removed, was_expired = delete_outcome(existed, x, now)
        if was_expired:
            self._tally.expired(1)
        return removed

    async def _purge_tags(self, tags: tuple[str, ...], now: float) -> int:
        if not tags:
            return 0
        pipe = self._conn.pipeline()
        for tag in tags:
            _eval(
                pipe,
                PURGE,
                [self._keys.vset_key(tag), self._keys.expiry_key(tag)],
                [repr(float(now)), self._keys.entry_prefix(tag)],
            )
        purged = sum(int(n) for n in await pipe.execute())
        self._tally.expired(purged)
        return purged

    # --- search -------------------------------------------------------------------------

    async def asearch(
        self,
        queries: FloatMatrix,
        k: int,
        namespace: str,
        filters: FilterNode | None,
        now: float,
        with_vectors: bool = False,
        threshold: float | None = None,
    ) -> list[list[tuple[StoredEntry, float]]]:
        self._settings.require_vector_sets()
        with mapped_errors("search"):
            tags = await self._shards(namespace, create=False)
            if tags is None:
                return [[] for _ in range(len(queries))]
            if filters is not None:
                await self._check_kinds(namespace, filters, now)
            job = SearchJob.make(
                self._settings, tags, queries, k, namespace, filters, now, with_vectors, threshold
            )
            pipe = self._conn.pipeline()
            job.queue(pipe)
            results = []
            for row, (hits, per_shard) in enumerate(job.first(await pipe.execute())):
                more = job.may_hold_more(hits, per_shard)
                if any(more):
                    again = self._conn.pipeline()
                    job.queue_again(again, row, more)
                    hits = job.hits_again(per_shard, more, await again.execute())
                results.append(hits)
            return results

    async def _check_kinds(self, namespace: str, filters: FilterNode, now: float) -> None:
        """As the sync backend's: a range condition against stored values of another kind
        raises :class:`FilterValueError`."""
        if not needs_kind_check(filters):
            return
        names = sorted(
            {name async for name in self._conn.scan(self._keys.entry_pattern(namespace))}
        )
        replies: list[Any] = []
        if names:
            pipe = self._conn.pipeline()
            for name in names:
                pipe.hmget(name, ["m", "x"])
                pipe.hexists(name, "f")
            replies = await pipe.execute()
        check_kind_replies(filters, replies, now)

    # --- lifecycle ----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the running event loop's client (the backend stays usable)."""
        await self._conn.aclose()

    def close(self) -> None:
        """Close every loop's client that can be closed from here (see
        :meth:`.AsyncConnection.close`)."""
        self._conn.close()
