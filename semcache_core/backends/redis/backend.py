"""``RedisBackend``: a :class:`~semcache_core.backends.base.Backend` on Redis 8 or a Redis
Cluster, with similarity search done on the server by vector sets.

Example::

    from semcache_core import SemCache
    from semcache_core.backends.redis import RedisBackend

    cache = SemCache(backend=RedisBackend("redis://127.0.0.1:6379"))
    cache = SemCache(backend=RedisBackend(cluster_nodes=["127.0.0.1:7000"]))

Layout (see :mod:`.keys` for the hash tags, :mod:`.entry_codec` for the fields): one
hash per entry, ``S`` vector sets per namespace with ``VADD ... NOQUANT`` (scores are
never quantised), one expiry sorted set per shard, one small meta hash per namespace
(``shards``, ``dim``). ``S`` defaults to the number of primaries (1 standalone),
and is fixed for a namespace when its first entry is written.

Expiry: an entry's ``expires_at`` (the cache's clock) is in its hash and its vector's
attributes, tested against the ``now`` reads and searches are given; ``PEXPIRE`` (the TTL
from ``now``) also has Redis reclaim the hash in real time, so a fake clock can expire
entries sooner, never keep them longer. :meth:`RedisBackend.purge_expired` sweeps the
expiry sorted sets and removes expired hashes *and* their vectors.

Bounds: there is no ``max_entries`` (passing one raises :class:`CapabilityError`): bound
memory with Redis's ``maxmemory``, ``maxmemory-policy volatile-lru`` and a ``ttl=`` on the
cache. Every entry hash then carries ``PEXPIRE`` and is the only kind of key Redis may
evict (vector sets, expiry sets and meta hashes have no TTL); a search meeting a vector
whose entry is gone removes it (``VREM``) and still returns ``k`` results when ``k`` live
entries match. ``allkeys-*`` policies are unsafe: a shard's vector set is one key, and
once it is evicted ``get`` still returns its entries but ``search`` never finds them (the
hashes do not hold vectors, so it cannot be rebuilt); the constructor warns
(``RuntimeWarning``) when it can read such a policy with ``maxmemory`` set. Evictions by
Redis are not counted in :meth:`~RedisBackend.counters`.

Consistency: a write is atomic per shard (one Lua script), a batch across shards is not,
nor one of more than :data:`.plan.SET_BATCH` entries on a shard (a script per batch of them).
``clear`` removes each shard in one script too (:data:`.scripts.DROP`), so a write racing
it stays or goes whole. A namespace's dimension lives in its meta hash (checked against
the shards' vector sets when the meta had none: an evicted meta) and is checked before
writing and by each shard's script; two writers racing to fix *different* dimensions in an
empty namespace can leave one shard refusing the other's vectors.

Costs: ``get``/``exists``/``set_many``/``delete``/``touch`` are one round trip per shard touched
(plus one meta read the first time a namespace is used, and one per write with vectors);
``search`` is one pipelined round (one script per shard); ``count``, ``scan``,
``namespaces``, ``clear`` and filters with ``> >= < <=`` (which check the kinds of value
stored, as the local backend does) ``SCAN`` the keyspace of every primary.

A server without vector sets (Redis 7, Valkey, or an ACL that forbids them) serves
get/set/TTL exactly; ``search`` and writes with vectors raise :class:`CapabilityError`
naming the missing commands. It is announced once, at construction, as a WARNING on the
``semcache.redis`` logger (not a Python warning: nothing is deprecated).

Failures (see :mod:`.fanout`): a ``search`` waits at most ``socket_timeout`` seconds for
all its shards together; a shard that does not answer by then raises
:class:`BackendUnavailableError`, or with ``allow_partial=True`` is left out and the
result is marked (:class:`~semcache_core.search_hits.SearchHits`). Other calls try each
node at most ``1 + retries`` times, each attempt waiting at most ``socket_timeout``.

Replication: with ``min_replica_acks=n`` every write (``set_many``, ``delete``,
``clear``, ``purge_expired``, and the namespace meta they create) ends on each primary it
touched with ``WAIT n`` on the same connection; fewer confirmations within
``replica_ack_timeout`` raise :class:`ReplicationError` — the write is then applied on
the primary (and may reach the replicas later), but not acknowledged. An acknowledged
write is on ``n`` replicas, so it survives the loss of its primary (Redis promotes a
replica). ``WAIT`` does not make Redis strongly consistent: a replica that confirmed can
still lose the write if it dies too, and asynchronous replication may be mid-way.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from ...checks import check_count
from ...errors import InvalidArgumentError, ReplicationError
from ...filters import FilterNode
from ...search_hits import SearchHits
from ...vectors import FloatMatrix
from ..base import BackendCounters, BackendState, StoredEntry
from . import admin, reads, snapshots, writes
from .aio import AsyncRedisBackend
from .aio_connection import AsyncConnection
from .connection import Connection, mapped_errors
from .entry_codec import MAX_SHARDS, meta_count
from .fanout import NodeBatch, fan_out
from .keys import KeyScheme, owned_names
from .options import check_options
from .plan import (
    SearchJob,
    Settings,
    Tally,
    check_kind_replies,
    clear_order,
    clear_patterns,
    count_call,
    delete_outcome,
    dim_answer,
    dim_calls,
    drop_call,
    follow_count,
    forget,
    live_names,
    namespaces_of,
    needs_kind_check,
    no_vector_sets,
    scan_keys,
    touch_call,
)
from .scripts import DELETE, DROP, PURGE, TOUCH

__all__ = ["RedisBackend"]

_log = logging.getLogger("semcache.redis")


class RedisBackend(admin.Administration, reads.EntryReads, writes.Writes):
    """Entries on a Redis 8 server or cluster (see the module docstring).

    Args:
        url: ``redis://host:port/db`` of a standalone server.
        cluster_nodes: ``["host:port", ...]`` of a Redis Cluster (one is enough).
        client: a ``redis.Redis`` or ``redis.RedisCluster`` to use instead (not closed by
            :meth:`close`).
        prefix: first part of every key; ``clear()`` removes only keys under it.
        shards: vector sets per new namespace (default one per primary; a search costs
            one ``VSIM`` per set, so more sets only pay when primaries will be added).
        hnsw_m: graph degree (``M``) of new vector sets.
        hnsw_ef_construction: build-time candidates (``EF``) of new vector sets.
        hnsw_ef_search: candidates explored per search (higher: better recall, slower).
        exact_below: a shard with at most this many vectors is searched exactly.
        connect_timeout: seconds to open a connection.
        socket_timeout: seconds a reply may take; also the deadline of a whole
            ``search`` (every shard together).
        retries: retry budget per call.
        min_replica_acks: replicas that must confirm every write (``WAIT``); 0: none.
        replica_ack_timeout: seconds a write waits for them.
        check_replicas: refuse at construction a ``min_replica_acks`` that a primary
            cannot meet now (the default); False starts anyway, and writes to the shards
            of a primary short of replicas raise :class:`ReplicationError` (applied, not
            acknowledged) until enough are connected again; reads are unaffected.
        max_entries: not supported (raises :class:`CapabilityError`): use ``maxmemory``.

    Raises:
        InvalidArgumentError: bad options.
        BackendUnavailableError: no server answers.
        ReplicationError: a primary has fewer replicas connected than
            ``min_replica_acks`` (e.g. a standalone server without replicas), unless
            ``check_replicas=False``.
    """

    partial_search = True  # search(..., allow_partial=True): see search_hits.py
    checks_query_dimension = True  # each shard's search script compares it with VDIM

    def __init__(
        self,
        url: str | None = None,
        *,
        cluster_nodes: list[str] | None = None,
        client: Any = None,
        prefix: str = "semcache",
        shards: int | None = None,
        hnsw_m: int = 16,
        hnsw_ef_construction: int = 200,
        hnsw_ef_search: int = 100,
        exact_below: int = 1024,
        connect_timeout: float = 2.0,
        socket_timeout: float = 5.0,
        retries: int = 2,
        min_replica_acks: int = 0,
        replica_ack_timeout: float = 1.0,
        check_replicas: bool = True,
        max_entries: int | None = None,
    ) -> None:
        check_options(
            prefix=prefix,
            exact_below=exact_below,
            hnsw_m=hnsw_m,
            hnsw_ef_construction=hnsw_ef_construction,
            hnsw_ef_search=hnsw_ef_search,
            min_replica_acks=min_replica_acks,
            replica_ack_timeout=replica_ack_timeout,
            connect_timeout=connect_timeout,
            socket_timeout=socket_timeout,
            retries=retries,
            max_entries=max_entries,
        )
        self._conn = Connection.open(
            url,
            cluster_nodes=cluster_nodes,
            client=client,
            connect_timeout=connect_timeout,
            socket_timeout=socket_timeout,
            retries=retries,
        )
        self._keys = KeyScheme(prefix)
        self._m = hnsw_m
        self._ef_construction = hnsw_ef_construction
        self._ef_search = hnsw_ef_search
        self._exact_below = exact_below
        self._acks = min_replica_acks
        self._ack_timeout = float(replica_ack_timeout)
        self._missing = self._conn.missing_vector_commands()
        self.vector_sets = not self._missing
        if self._missing:
            _log.warning("RedisBackend: %s", no_vector_sets(tuple(self._missing)))
        policy = self._conn.unsafe_eviction_policy()
        if policy is not None:
            warnings.warn(
                f"RedisBackend: maxmemory-policy {policy} may evict a whole vector set (one "
                "key), after which search never finds its entries again; use "
                "maxmemory-policy volatile-lru and a ttl= on the cache",
                RuntimeWarning,
                stacklevel=2,
            )
        if min_replica_acks and check_replicas:
            self._check_replicas()
        with mapped_errors("connect"):
            primaries = len(self._conn.primaries())
        if shards is None:
            shards = primaries  # one per primary: a search asks each node one set
        self._default_shards = check_count(shards, "shards")
        if self._default_shards > MAX_SHARDS:  # each shard's tag takes its own slot range
            self._conn.close()
            raise InvalidArgumentError(f"shards must be at most {MAX_SHARDS}, got {shards}")
        self._shard_counts: dict[str, int] = {}  # namespace -> S, once known
        self._last_dims: dict[str, int] = {}  # namespace -> dim last read (see dim_of)
        self._tally = Tally()  # hits, misses, expirations: sync and async calls together
        self._lock = self._tally.lock
        self._settings = Settings(
            self._keys,
            hnsw_m,
            hnsw_ef_construction,
            hnsw_ef_search,
            exact_below,
            shards,
            tuple(self._missing),
        )
        self.aio: AsyncRedisBackend | None = AsyncRedisBackend(
            AsyncConnection.for_sync(
                self._conn, url, cluster_nodes, connect_timeout, socket_timeout, retries
            ),
            self._settings,
            self._shard_counts,
            self._tally,
            self._last_dims,
            min_replica_acks,
            self._ack_timeout,
        )
        """The async twin of this backend (``redis.asyncio``, one client per event loop;
        writes with ``min_replica_acks`` WAIT on the connection that wrote, as here)."""

    def _check_replicas(self) -> None:
        """Refuse ``min_replica_acks`` that a primary cannot meet now (no replicas)."""
        for node, count in self._conn.replica_counts().items():
            if count < self._acks:
                self._conn.close()
                raise ReplicationError(
                    f"min_replica_acks={self._acks}, but the Redis primary {node} has "
                    f"{count} replica(s) connected: every write to it would fail; add replicas "
                    f"or lower min_replica_acks",
                    node,
                    count,
                    self._acks,
                )

    def _write_pipeline(self, what: str) -> Any:
        """Where a write path queues its commands: a plain pipeline, or with
        ``min_replica_acks`` a :class:`NodeBatch` that ends each node's part with WAIT."""
        if self._acks:
            return NodeBatch(self._conn, what, self._acks, self._ack_timeout)
        return self._conn.pipeline()

    # --- namespaces and shards ---------------------------------------------------------

    def _shards(self, namespace: str, create: bool) -> tuple[str, ...]:
        """The namespace's shard tags. Without its meta hash (a namespace never written,
        one just cleared, or a meta evicted (``allkeys-*``) while its entries live) a
        read takes the default shard count, not remembered: an entry written meanwhile
        stays readable (it was None, and every read of the namespace missed)."""
        count = self._shard_counts.get(namespace)
        if count is None:
            meta = self._keys.meta_key(namespace)
            if create:
                pipe = self._write_pipeline("set")
                pipe.execute_command("HSETNX", meta, "shards", self._default_shards)
                pipe.execute_command("HGET", meta, "shards")
                raw = pipe.execute()[1]
            else:
                raw = self._conn.client.hget(meta, "shards")
            if raw is None:
                return self._keys.shard_tags(namespace, self._default_shards)
            count = self._shard_counts[namespace] = meta_count(raw, namespace, "shards")
        return self._keys.shard_tags(namespace, count)

    def _retried(
        self,
        namespace: str,
        read: Callable[[tuple[str, ...]], Any],
        done: Callable[[Any], bool] = bool,
    ) -> Any:
        """``read(tags)`` of the namespace's shards, once more when it missed (``done`` of
        its answer is false: by default, a falsy answer) and the shard count this process
        holds was stale (one ``HGET``: :func:`.plan.follow_count`)."""
        found = read(self._shards(namespace, create=False))
        if done(found) or namespace not in self._shard_counts:
            return found
        raw = self._conn.client.hget(self._keys.meta_key(namespace), "shards")
        if follow_count(self._shard_counts, namespace, raw, self._default_shards):
            found = read(self._shards(namespace, create=False))
        return found

    def _tag_of(self, tags: tuple[str, ...], key: str) -> str:
        return self._settings.tag_of(tags, key)

    def _require_vector_sets(self) -> None:
        self._settings.require_vector_sets()

    # --- reads --------------------------------------------------------------------------

    def _entry_names(self, pattern: str) -> list[str]:
        """Every key matching ``pattern`` on every primary (``SCAN`` per node)."""
        found = self._conn.on_primaries(
            lambda _, node: owned_names(self._keys, node.scan_iter(match=pattern, count=1000))
        )
        return sorted(set().union(*found))

    def _live(self, names: list[str], now: float) -> list[str]:
        """The entry keys among ``names`` whose entry is live at ``now``."""
        pipe = self._conn.pipeline()
        for name in names:
            pipe.hmget(name, ["k", "x"])
        return live_names(names, pipe.execute() if names else [], now)

    def count(self, now: float, namespace: str | None = None) -> int:
        with mapped_errors("count"):
            names = self._entry_names(self._keys.entry_pattern(namespace))
            return len(self._live(names, now))

    def namespaces(self, now: float) -> list[str]:
        with mapped_errors("namespaces"):
            names = self._live(self._entry_names(self._keys.entry_pattern()), now)
            return namespaces_of(self._keys, names)

    def scan(self, namespace: str, prefix: str, limit: int | None, now: float) -> list[str]:
        with mapped_errors("scan"):
            names = self._live(self._entry_names(self._keys.entry_pattern(namespace, prefix)), now)
        return scan_keys(self._keys, names, prefix, limit)

    def dim_of(self, namespace: str, now: float | None = None) -> int | None:
        """One round over the namespace's shards (every search starts with it): with
        ``now``, each shard's expired entries are purged (housekeeping: never waits for
        replicas), then the vectors are counted and the dimension read. A shard that does
        not answer in time is passed over (the search after says so); the dimension last
        read stands in when the meta hash's node is the one not answering."""
        with mapped_errors("dim_of"):
            if not self.vector_sets:
                return None

            def read(tags: tuple[str, ...]) -> int | None:
                calls, purges = dim_calls(self._settings, namespace, tags, now)
                done = fan_out(self._conn, calls, "dim_of", allow_unreachable=True)
                return dim_answer(namespace, done, purges, self._last_dims, self._tally)

            dim: int | None = self._retried(namespace, read)
            return dim

    @property
    def dims(self) -> dict[str, int]:
        with mapped_errors("dims"):
            metas = self._entry_names(self._keys.meta_pattern())
        found = {}
        for name in metas:
            namespace = self._keys.parse_meta_key(name)
            dim = self.dim_of(namespace)
            if dim is not None:
                found[namespace] = dim
        return found

    # --- writes -------------------------------------------------------------------------

    def delete(self, namespace: str, key: str, now: float) -> bool:
        def read(tags: tuple[str, ...]) -> tuple[Any, Any] | None:
            tag = self._tag_of(tags, key)
            keys = [self._keys.vset_key(tag), self._keys.expiry_key(tag)]
            keys.append(self._keys.entry_key(tag, key))
            args = [self._keys.entry_prefix(tag), key]
            # through the fan-out, never retried after a timeout: the timed-out attempt
            # may have deleted the entry, and a retry would then answer False
            batch = NodeBatch(self._conn, "delete", self._acks, self._ack_timeout)
            self._conn.eval(batch, DELETE, keys, args)
            existed, x = batch.execute()[0]
            return (existed, x) if existed else None

        with mapped_errors("delete"):
            existed, x = self._retried(namespace, read) or (0, None)
        removed, expired = delete_outcome(existed, x, now)
        if expired:
            self._tally.expired(1)
        return removed

    def touch(self, namespace: str, key: str, expires_at: float | None, now: float) -> bool:
        def read(tags: tuple[str, ...]) -> bool:
            keys, args = touch_call(self._settings, self._tag_of(tags, key), key, expires_at, now)
            if self._acks:
                batch = self._write_pipeline("touch")
                self._conn.eval(batch, TOUCH, keys, args)
                return bool(batch.execute()[0])
            return bool(self._conn.eval(self._conn.client, TOUCH, keys, args))

        with mapped_errors("touch"):
            return bool(self._retried(namespace, read))

    def clear(self, namespace: str | None = None) -> None:
        with mapped_errors("clear"):
            patterns, last = clear_patterns(self._keys, namespace)
            names = [name for pattern in patterns for name in self._entry_names(pattern)]
            entries, tags, metas = clear_order(self._keys, names)
            self._unlink(entries)
            self._drop_shards(tags)
            self._unlink(metas + last)
            forget(self._lock, namespace, self._shard_counts, self._last_dims)

    def _drop_shards(self, tags: list[str]) -> None:
        """Each shard of ``tags`` removed whole (:data:`.scripts.DROP`), one pipeline."""
        if not tags:
            return
        pipe = self._write_pipeline("clear")
        for tag in tags:
            self._conn.eval(pipe, DROP, *drop_call(self._settings, tag))
        pipe.execute()

    def _unlink(self, names: Iterable[str]) -> None:
        pipe = self._write_pipeline("clear")
        for name in names:
            pipe.unlink(name)  # one key a command: keys of a cluster differ in slot
        pipe.execute()

    # --- expiry -------------------------------------------------------------------------

    def purge_expired(self, now: float) -> int:
        with mapped_errors("purge_expired"):
            names = self._entry_names(self._keys.expiry_pattern())
            return self._purge_tags([self._keys.parse_tag(name) for name in names], now)

    def _purge_tags(self, tags: Iterable[str], now: float) -> int:
        pipe = self._write_pipeline("purge_expired")
        queued = 0
        for tag in tags:
            self._conn.eval(
                pipe,
                PURGE,
                [self._keys.vset_key(tag), self._keys.expiry_key(tag)],
                [repr(float(now)), self._keys.entry_prefix(tag)],
            )
            queued += 1
        purged = sum(int(n) for n in pipe.execute()) if queued else 0
        self._tally.expired(purged)
        return purged

    # --- search -------------------------------------------------------------------------

    def search(
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
        """As the Backend protocol says, within ``socket_timeout`` for all shards.

        Raises :class:`BackendUnavailableError` naming the nodes that did not answer in
        time, or with ``allow_partial`` returns a :class:`SearchHits` per query holding
        the other shards' best, ``unreachable`` naming those nodes."""
        self._require_vector_sets()
        with mapped_errors("search"):
            args = (queries, k, namespace, filters, now, with_vectors, threshold)
            for retry in (False, True):  # once more when another worker changed the count
                tags = self._shards(namespace, create=False)
                job = SearchJob.make(self._settings, tags, *args)
                checked = not retry and namespace in self._shard_counts
                calls = job.calls() + ([count_call(self._keys, namespace)] if checked else [])
                done = fan_out(self._conn, calls, "search", allow_unreachable=allow_partial)
                raw = done.replies.pop() if checked else None
                if not follow_count(self._shard_counts, namespace, raw, self._default_shards):
                    break
            purged, replies = job.swept(done.replies)
            self._tally.expired(purged)
            results: list[list[tuple[StoredEntry, float]]] = []
            first = list(job.first(replies))  # a query of another dimension raises here
            if filters is not None:  # after it, as the local backend checks: the call's
                self._check_kinds(namespace, filters, now)  # own arguments first
            for row, (hits, per_shard) in enumerate(first):
                unreachable = set(done.unreachable)
                more = job.may_hold_more(hits, per_shard)
                while any(more):  # deeper passes, each a scan with a larger COUNT
                    again = fan_out(
                        self._conn,
                        job.calls_again(row, len(hits), more),
                        "search",
                        allow_unreachable=allow_partial,
                    )
                    unreachable.update(again.unreachable)
                    hits, more = job.hits_again(row, per_shard, more, again.replies)
                results.append(SearchHits(hits, unreachable) if allow_partial else hits)
            return results

    def _check_kinds(self, namespace: str, filters: FilterNode, now: float) -> None:
        """Raise :class:`FilterValueError` when a range condition orders a number against
        a str stored under its field by a live entry with a vector (as the local backend
        does, whatever the other conditions say)."""
        if not needs_kind_check(filters):
            return
        names = self._entry_names(self._keys.entry_pattern(namespace))
        pipe = self._conn.pipeline()
        for name in names:
            pipe.hmget(name, ["m", "x"])
            pipe.hexists(name, "f")
        check_kind_replies(filters, pipe.execute() if names else [], now)

    # --- snapshots (dump / load, streamed in batches: see .snapshots) --------------------

    def export_state(self, now: float) -> BackendState:
        """Every live entry with its vector, for ``SemCache.dump``."""
        return snapshots.export_state(self, now)

    def restore_state(self, state: BackendState, now: float) -> None:
        """Replace the whole content with ``state``, for ``SemCache.load``.

        Raises:
            ValueError: the state is inconsistent; nothing changed.
        """
        snapshots.restore_state(self, state, now)

    # --- bookkeeping --------------------------------------------------------------------

    def counters(self) -> BackendCounters:
        tally = self._tally
        with tally.lock:
            return BackendCounters(
                tally.hits,
                tally.misses,
                0,  # Redis's own evictions (maxmemory) are not seen here
                tally.expirations,
                {"shards": self._default_shards, "vector_sets": self.vector_sets},
            )

    def close(self) -> None:
        if self.aio is not None:
            self.aio.close()
        self._conn.close()
