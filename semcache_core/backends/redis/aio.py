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

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ...errors import DimensionMismatchError
from ...filters import FilterNode
from ...search_hits import SearchHits
from ...vectors import FloatMatrix
from ..base import EntryWrite, StoredEntry
from .aio_connection import AsyncConnection
from .aio_fanout import AsyncNodeBatch, afan_out
from .connection import Connection, mapped_errors
from .entry_codec import FIELDS, MANY_READS, all_found, meta_count
from .keys import owned_names
from .plan import (
    SearchJob,
    Settings,
    Tally,
    batch_dim,
    check_kind_replies,
    check_set_replies,
    claimed,
    clear_order,
    clear_patterns,
    count_call,
    delete_outcome,
    dim_answer,
    dim_calls,
    drop_call,
    entry_of,
    expired,
    follow_count,
    forget,
    group_writes,
    live_names,
    namespaces_of,
    needs_kind_check,
    queue_claim,
    scan_keys,
    set_call,
    shard_batches,
    touch_call,
    vector_dim_calls,
    vectors_dim,
)
from .scripts import DELETE, DROP, PURGE, SET, TOUCH

__all__ = ["AsyncRedisBackend"]

_eval = Connection.eval  # queues on a pipeline, or gives the client's awaitable


class AsyncRedisBackend:
    """The async calls of one :class:`~.backend.RedisBackend` (see the module docstring).

    Methods mirror the sync backend's with an ``a`` prefix and take the same arguments.
    """

    partial_search = True  # asearch(..., allow_partial=True): see search_hits.py

    def __init__(
        self,
        conn: AsyncConnection,
        settings: Settings,
        shard_counts: dict[str, int],
        tally: Tally,
        last_dims: dict[str, int] | None = None,
        min_replica_acks: int = 0,
        replica_ack_timeout: float = 1.0,
    ) -> None:
        self._conn = conn
        self._settings = settings
        self._keys = settings.keys
        self._shard_counts = shard_counts  # the sync backend's: namespace -> S
        self._last_dims = {} if last_dims is None else last_dims  # the sync backend's
        self._tally = tally
        self._acks = min_replica_acks
        self._ack_timeout = replica_ack_timeout

    def _write_pipeline(self, what: str) -> Any:
        """Where a write path queues its commands: a plain pipeline, or with
        ``min_replica_acks`` an :class:`AsyncNodeBatch` that ends each node's part with
        ``WAIT`` on the connection that wrote."""
        if self._acks:
            return AsyncNodeBatch(self._conn, what, self._acks, self._ack_timeout)
        return self._conn.pipeline()

    async def _shards(self, namespace: str, create: bool) -> tuple[str, ...]:
        """The namespace's shard tags. Without its meta hash (a namespace never written,
        one just cleared, or a meta evicted (``allkeys-*``) while its entries live) a
        read takes the default shard count, not remembered: an entry written meanwhile
        stays readable (it was None, and every read of the namespace missed)."""
        count = self._shard_counts.get(namespace)
        if count is None:
            meta = self._keys.meta_key(namespace)
            if create:
                pipe = self._write_pipeline("set")
                pipe.execute_command("HSETNX", meta, "shards", self._settings.default_shards)
                pipe.execute_command("HGET", meta, "shards")
                raw = (await pipe.execute())[1]
            else:
                raw = await self._conn.client().hget(meta, "shards")
            if raw is None:
                return self._keys.shard_tags(namespace, self._settings.default_shards)
            count = self._shard_counts[namespace] = meta_count(raw, namespace, "shards")
        return self._keys.shard_tags(namespace, count)

    async def _retried(
        self,
        namespace: str,
        read: Callable[[tuple[str, ...]], Awaitable[Any]],
        done: Callable[[Any], bool] = bool,
    ) -> Any:
        """As the sync backend's: ``read(tags)`` once more after a miss when this process's
        shard count was stale (:func:`.plan.follow_count`)."""
        found = await read(await self._shards(namespace, create=False))
        if done(found) or namespace not in self._shard_counts:
            return found
        raw = await self._conn.client().hget(self._keys.meta_key(namespace), "shards")
        if follow_count(self._shard_counts, namespace, raw, self._settings.default_shards):
            found = await read(await self._shards(namespace, create=False))
        return found

    # --- reads --------------------------------------------------------------------------

    async def aget(
        self, namespace: str, key: str, now: float, count: bool = True
    ) -> StoredEntry | None:
        async def read(tags: tuple[str, ...]) -> StoredEntry | None:
            name = self._keys.entry_key(self._settings.tag_of(tags, key), key)
            return entry_of(key, namespace, await self._conn.client().hmget(name, FIELDS), now)

        with mapped_errors("get"):
            found: StoredEntry | None = await self._retried(namespace, read)
        if count:
            self._tally.lookup(found is not None)
        return found

    async def aget_many(
        self, namespace: str, keys: Sequence[str], now: float, count: bool = True
    ) -> list[StoredEntry | None]:
        """As the sync backend's ``get_many``: a pipeline per :data:`MANY_READS` keys."""

        async def read(tags: tuple[str, ...]) -> list[StoredEntry | None]:
            found: list[StoredEntry | None] = []
            for start in range(0, len(keys), MANY_READS):
                chunk = keys[start : start + MANY_READS]
                pipe = self._conn.pipeline()
                for key in chunk:
                    pipe.hmget(self._keys.entry_key(self._settings.tag_of(tags, key), key), FIELDS)
                replies = await pipe.execute()
                found += [entry_of(k, namespace, r, now) for k, r in zip(chunk, replies)]
            return found

        if not keys:
            return []
        with mapped_errors("get"):
            found: list[StoredEntry | None] = await self._retried(namespace, read, all_found)
        for entry in found if count else ():
            self._tally.lookup(entry is not None)
        return found

    async def aexists(self, namespace: str, key: str, now: float) -> bool:
        async def read(tags: tuple[str, ...]) -> bool:
            name = self._keys.entry_key(self._settings.tag_of(tags, key), key)
            value, x = await self._conn.client().hmget(name, ["k", "x"])
            return value is not None and not expired(x, now)

        with mapped_errors("exists"):
            return bool(await self._retried(namespace, read))

    async def adim_of(self, namespace: str, now: float | None = None) -> int | None:
        """As the sync ``dim_of``: one round over the namespace's shards, a shard out of
        reach passed over (the search after says so)."""
        with mapped_errors("dim_of"):
            if not self._settings.vector_sets:
                return None

            async def read(tags: tuple[str, ...]) -> int | None:
                calls, purges = dim_calls(self._settings, namespace, tags, now)
                done = await afan_out(self._conn, calls, "dim_of", allow_unreachable=True)
                return dim_answer(namespace, done, purges, self._last_dims, self._tally)

            dim: int | None = await self._retried(namespace, read)
            return dim

    # --- keyspace: every primary's SCAN (as the sync calls) -----------------------------

    async def _entry_names(self, pattern: str) -> list[str]:
        """Every key matching ``pattern`` on every primary, sorted."""
        return sorted(owned_names(self._keys, [name async for name in self._conn.scan(pattern)]))

    async def _live(self, names: list[str], now: float) -> list[str]:
        if not names:
            return []
        pipe = self._conn.pipeline()
        for name in names:
            pipe.hmget(name, ["k", "x"])
        return live_names(names, await pipe.execute(), now)

    async def acount(self, now: float, namespace: str | None = None) -> int:
        with mapped_errors("count"):
            names = await self._entry_names(self._keys.entry_pattern(namespace))
            return len(await self._live(names, now))

    async def anamespaces(self, now: float) -> list[str]:
        with mapped_errors("namespaces"):
            names = await self._entry_names(self._keys.entry_pattern())
            return namespaces_of(self._keys, await self._live(names, now))

    async def ascan(self, namespace: str, prefix: str, limit: int | None, now: float) -> list[str]:
        with mapped_errors("scan"):
            names = await self._entry_names(self._keys.entry_pattern(namespace, prefix))
            live = await self._live(names, now)
        return scan_keys(self._keys, live, prefix, limit)

    async def adims(self) -> dict[str, int]:
        """namespace -> dimension (the sync ``dims`` property's twin)."""
        with mapped_errors("dims"):
            metas = await self._entry_names(self._keys.meta_pattern())
        found = {}
        for name in metas:
            namespace = self._keys.parse_meta_key(name)
            dim = await self.adim_of(namespace)
            if dim is not None:
                found[namespace] = dim
        return found

    async def aclear(self, namespace: str | None = None) -> None:
        with mapped_errors("clear"):
            patterns, last = clear_patterns(self._keys, namespace)
            names = [name for pattern in patterns for name in await self._entry_names(pattern)]
            entries, tags, metas = clear_order(self._keys, names)  # see the sync clear
            await self._unlink(entries)
            if tags:
                pipe = self._write_pipeline("clear")
                for tag in tags:
                    _eval(pipe, DROP, *drop_call(self._settings, tag))
                await pipe.execute()
            await self._unlink(metas + last)
            forget(self._tally.lock, namespace, self._shard_counts, self._last_dims)

    async def _unlink(self, names: list[str]) -> None:
        pipe = self._write_pipeline("clear")
        for name in names:
            pipe.execute_command("UNLINK", name)  # one key a command: slots differ
        await pipe.execute()

    async def apurge_expired(self, now: float) -> int:
        with mapped_errors("purge_expired"):
            names = await self._entry_names(self._keys.expiry_pattern())
            return await self._purge_tags(tuple(self._keys.parse_tag(n) for n in names), now)

    # --- writes -------------------------------------------------------------------------

    async def aset_many(self, writes: list[EntryWrite], now: float) -> None:
        if not writes:
            return
        by_namespace = group_writes(writes)
        with mapped_errors("set"):
            dims = {ns: batch_dim(self._settings, ns, group) for ns, group in by_namespace.items()}
            for namespace, dim in dims.items():  # every check before any write
                await self._claim(namespace, dim, now)
            pipe = self._write_pipeline("set")
            calls = []
            for namespace, group in by_namespace.items():
                tags = self._keys.shard_tags(namespace, self._shard_counts[namespace])
                for tag, shard_writes in shard_batches(self._settings, tags, group):
                    keys, args = set_call(
                        self._settings, tag, shard_writes, dims[namespace] or 0, now
                    )
                    _eval(pipe, SET, keys, args)
                    calls.append(namespace)
            check_set_replies(calls, await pipe.execute(), dims)

    async def _claim(self, namespace: str, dim: int | None, now: float) -> None:
        """A write's round to the namespace's meta (:func:`.plan.queue_claim`): its shard
        count recorded and followed; ``dim`` fixed, or refused when the namespace holds
        live vectors of another dimension."""
        pipe = self._write_pipeline("set")
        queue_claim(self._settings, pipe, namespace, self._shard_counts, dim)
        held, fresh = claimed(namespace, self._shard_counts, await pipe.execute(), dim)
        if fresh:  # the meta had no dimension: the vectors left in its sets have theirs
            calls = vector_dim_calls(self._settings, namespace, self._shard_counts[namespace])
            held = vectors_dim(await afan_out(self._conn, calls, "set"), dim)  # type: ignore[arg-type]
        if dim is None or held == dim:
            return
        free = await self.adim_of(namespace, now) is None  # else the meta keeps the vectors'
        if free or fresh:  # freed, or the meta this round claimed (not one read earlier)
            pipe = self._write_pipeline("set")
            restored = dim if free else held
            pipe.execute_command("HSET", self._keys.meta_key(namespace), "dim", restored)
            await pipe.execute()
        if not free:
            raise DimensionMismatchError(held, dim, namespace)  # type: ignore[arg-type]

    async def adelete(self, namespace: str, key: str, now: float) -> bool:
        async def read(tags: tuple[str, ...]) -> tuple[Any, Any] | None:
            tag = self._settings.tag_of(tags, key)
            keys = [self._keys.vset_key(tag), self._keys.expiry_key(tag)]
            keys.append(self._keys.entry_key(tag, key))
            args = [self._keys.entry_prefix(tag), key]
            # through the fan-out, never retried after a timeout (see RedisBackend.delete)
            batch = AsyncNodeBatch(self._conn, "delete", self._acks, self._ack_timeout)
            _eval(batch, DELETE, keys, args)
            existed, x = (await batch.execute())[0]
            return (existed, x) if existed else None

        with mapped_errors("delete"):
            existed, x = await self._retried(namespace, read) or (0, None)
        removed, was_expired = delete_outcome(existed, x, now)
        if was_expired:
            self._tally.expired(1)
        return removed

    async def atouch(self, namespace: str, key: str, expires_at: float | None, now: float) -> bool:
        async def read(tags: tuple[str, ...]) -> bool:
            tag = self._settings.tag_of(tags, key)
            keys, args = touch_call(self._settings, tag, key, expires_at, now)
            if self._acks:
                batch = self._write_pipeline("touch")
                _eval(batch, TOUCH, keys, args)
                return bool((await batch.execute())[0])
            return bool(await _eval(self._conn.client(), TOUCH, keys, args))

        with mapped_errors("touch"):
            return bool(await self._retried(namespace, read))

    async def _purge_tags(self, tags: tuple[str, ...], now: float) -> int:
        if not tags:
            return 0
        pipe = self._write_pipeline("purge_expired")
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
        *,
        allow_partial: bool = False,
    ) -> list[list[tuple[StoredEntry, float]]]:
        """As the sync ``search``: every shard within ``socket_timeout`` together; one
        out of reach raises :class:`BackendUnavailableError`, or with ``allow_partial``
        is left out and each row is a :class:`SearchHits` naming it."""
        self._settings.require_vector_sets()
        with mapped_errors("search"):
            args = (queries, k, namespace, filters, now, with_vectors, threshold)
            for retry in (False, True):  # once more when another worker changed the count
                tags = await self._shards(namespace, create=False)
                job = SearchJob.make(self._settings, tags, *args)
                checked = not retry and namespace in self._shard_counts
                calls = job.calls() + ([count_call(self._keys, namespace)] if checked else [])
                done = await afan_out(self._conn, calls, "search", allow_unreachable=allow_partial)
                raw = done.replies.pop() if checked else None
                if not follow_count(
                    self._shard_counts, namespace, raw, self._settings.default_shards
                ):
                    break
            purged, replies = job.swept(done.replies)
            self._tally.expired(purged)
            results: list[list[tuple[StoredEntry, float]]] = []
            first = list(job.first(replies))  # a query of another dimension raises here
            if filters is not None:  # after it, as the local backend checks: the call's
                await self._check_kinds(namespace, filters, now)  # own arguments first
            for row, (hits, per_shard) in enumerate(first):
                unreachable = set(done.unreachable)
                more = job.may_hold_more(hits, per_shard)
                while any(more):  # deeper passes, each a scan with a larger COUNT
                    again = await afan_out(
                        self._conn,
                        job.calls_again(row, len(hits), more),
                        "search",
                        allow_unreachable=allow_partial,
                    )
                    unreachable.update(again.unreachable)
                    hits, more = job.hits_again(row, per_shard, more, again.replies)
                results.append(SearchHits(hits, unreachable) if allow_partial else hits)
            return results

    async def _check_kinds(self, namespace: str, filters: FilterNode, now: float) -> None:
        """As the sync backend's: a range condition against stored values of another kind
        raises :class:`FilterValueError`."""
        if not needs_kind_check(filters):
            return
        names = await self._entry_names(self._keys.entry_pattern(namespace))
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
