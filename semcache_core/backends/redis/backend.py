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
(``shards``, ``dim``). ``S`` defaults to 2 per primary on a cluster and 1 standalone,
and is fixed for a namespace when its first entry is written.

Expiry: an entry's ``expires_at`` (the cache's clock) is in its hash and its vector's
attributes; reads and searches test it against the ``now`` they are given, so a fake
clock works as with the local backend. ``PEXPIRE`` (the TTL relative to ``now``) lets
Redis reclaim the hash by itself; :meth:`RedisBackend.purge_expired` sweeps the expiry
sorted sets and removes expired hashes *and* their vectors.

Bounds: there is no ``max_entries`` (passing one raises :class:`CapabilityError`): bound
memory with Redis's ``maxmemory`` and an eviction policy (``allkeys-lru``), which evicts
whole entries; a search meeting a vector whose entry is gone removes it (``VREM``) and
still returns ``k`` results when ``k`` live entries match. Evictions by Redis are not
counted in :meth:`~RedisBackend.counters`.

Consistency: a write is atomic per shard (one Lua script); a batch spanning shards is not
atomic across them. A namespace's dimension lives in its meta hash and is checked before
writing and again by each shard's script; two writers racing to fix *different*
dimensions in an empty namespace can leave one shard refusing the other's vectors.

Costs: ``get``/``exists``/``set_many``/``delete`` are one round trip per shard touched
(plus one meta read the first time a namespace is used, and one per write with vectors);
``search`` is one pipelined round (one script per shard); ``count``, ``scan``,
``namespaces``, ``clear`` and filters with ``> >= < <=`` (which check the kinds of value
stored, as the local backend does) ``SCAN`` the keyspace of every primary.

A server without vector sets (Redis 7, Valkey) serves get/set/TTL exactly;
``search`` and writes with vectors raise :class:`CapabilityError`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from typing import Any

from ...codec import decode_metadata
from ...errors import CapabilityError, DimensionMismatchError, InvalidArgumentError
from ...filters import FilterNode, compile_filter, kind_clash, range_leaves
from ...vectors import FloatMatrix
from ..base import BackendCounters, BackendState, EntryWrite, StoredEntry
from . import snapshots
from .connection import Connection, mapped_errors
from .entry_codec import FIELDS, attributes, blob_of, entry_fields, expiry_of, stored_entry
from .filter_expr import to_expression
from .keys import KeyScheme
from .scripts import DELETE, PURGE, SET
from .search import ShardQuery, merge, parse_shard, run_shards

__all__ = ["RedisBackend"]

_NO_VECTOR_SETS = (
    "this Redis server has no vector sets (Redis 8 or later needed): exact get/set/TTL "
    "work, vector search and writes with vectors do not"
)


class RedisBackend:
    """Entries on a Redis 8 server or cluster (see the module docstring).

    Args:
        url: ``redis://host:port/db`` of a standalone server.
        cluster_nodes: ``["host:port", ...]`` of a Redis Cluster (one is enough).
        client: a ``redis.Redis`` or ``redis.RedisCluster`` to use instead (not closed by
            :meth:`close`).
        prefix: first part of every key; ``clear()`` removes only keys under it.
        shards: vector sets per new namespace (default 2 per primary, 1 standalone).
        hnsw_m, hnsw_ef_construction: graph settings of new vector sets.
        hnsw_ef_search: candidates explored per search (higher: better recall, slower).
        exact_below: a shard with at most this many vectors is searched exactly.
        connect_timeout, socket_timeout: seconds; retries: retry budget per call.
        max_entries: not supported (raises :class:`CapabilityError`): use ``maxmemory``.

    Raises:
        InvalidArgumentError: bad options. BackendUnavailableError: no server answers.
    """

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
        hnsw_ef_search: int = 200,
        exact_below: int = 1024,
        connect_timeout: float = 2.0,
        socket_timeout: float = 5.0,
        retries: int = 2,
        max_entries: int | None = None,
    ) -> None:
        if max_entries is not None:
            raise CapabilityError(
                "RedisBackend has no max_entries: bound memory with Redis's maxmemory and "
                "an eviction policy (e.g. allkeys-lru), which evicts whole entries"
            )
        if not (
            isinstance(prefix, str)
            and prefix.isascii()
            and prefix.isprintable()
            and prefix
            and not set(prefix) & set("{}*?[]\\")
        ):
            raise InvalidArgumentError(
                f"prefix must be printable ASCII without {{}}*?[]\\, got {prefix!r}"
            )
        for name, number in (
            ("hnsw_m", hnsw_m),
            ("hnsw_ef_construction", hnsw_ef_construction),
            ("hnsw_ef_search", hnsw_ef_search),
        ):
            if isinstance(number, bool) or not isinstance(number, int) or number < 1:
                raise InvalidArgumentError(f"{name} must be an int >= 1, got {number!r}")
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
        self.vector_sets = self._conn.has_vector_sets()
        with mapped_errors("connect"):
            primaries = len(self._conn.primaries())
        if shards is None:
            shards = 2 * primaries if self._conn.is_cluster else 1
        if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
            raise InvalidArgumentError(f"shards must be an int >= 1, got {shards!r}")
        self._default_shards = shards
        self._shard_counts: dict[str, int] = {}  # namespace -> S, once known
        self._lock = threading.Lock()
        self._hits = self._misses = self._expirations = 0

    # --- namespaces and shards ---------------------------------------------------------

    def _shards(self, namespace: str, create: bool) -> tuple[str, ...] | None:
        """The namespace's shard tags; None when it does not exist (and not ``create``)."""
        count = self._shard_counts.get(namespace)
        if count is None:
            meta = self._keys.meta_key(namespace)
            client = self._conn.client
            if create:
                client.hsetnx(meta, "shards", self._default_shards)
            raw = client.hget(meta, "shards")
            if raw is None:
                return None
            count = self._shard_counts[namespace] = int(raw)
        return self._keys.shard_tags(namespace, count)

    def _tag_of(self, tags: tuple[str, ...], key: str) -> str:
        return tags[self._keys.shard_of(key, len(tags))]

    def _require_vector_sets(self) -> None:
        if not self.vector_sets:
            raise CapabilityError(_NO_VECTOR_SETS)

    # --- reads --------------------------------------------------------------------------

    def get(self, namespace: str, key: str, now: float, count: bool = True) -> StoredEntry | None:
        with mapped_errors("get"):
            tags = self._shards(namespace, create=False)
            found = None
            if tags is not None:
                name = self._keys.entry_key(self._tag_of(tags, key), key)
                value, metadata, x, blob = self._conn.client.hmget(name, FIELDS)
                if isinstance(value, bytes) and not _expired(x, now):
                    found = stored_entry(key, namespace, value, metadata, x, blob)
        if count:
            with self._lock:
                if found is None:
                    self._misses += 1
                else:
                    self._hits += 1
        return found

    def exists(self, namespace: str, key: str, now: float) -> bool:
        with mapped_errors("exists"):
            tags = self._shards(namespace, create=False)
            if tags is None:
                return False
            name = self._keys.entry_key(self._tag_of(tags, key), key)
            value, x = self._conn.client.hmget(name, ["k", "x"])
            return value is not None and not _expired(x, now)

    def _entry_names(self, pattern: str) -> list[str]:
        """Every key matching ``pattern`` on every primary (``SCAN`` per node)."""
        names: set[str] = set()
        for _, node in self._conn.primaries():
            for name in node.scan_iter(match=pattern, count=1000):
                names.add(name.decode("utf-8") if isinstance(name, bytes) else name)
        return sorted(names)

    def _live(self, names: list[str], now: float) -> list[str]:
        """The entry keys among ``names`` whose entry is live at ``now``."""
        pipe = self._conn.pipeline()
        for name in names:
            pipe.hmget(name, ["k", "x"])
        replies = pipe.execute() if names else []
        return [
            name for name, (k, x) in zip(names, replies) if k is not None and not _expired(x, now)
        ]

    def count(self, now: float, namespace: str | None = None) -> int:
        with mapped_errors("count"):
            names = self._entry_names(self._keys.entry_pattern(namespace))
            return len(self._live(names, now))

    def namespaces(self, now: float) -> list[str]:
        with mapped_errors("namespaces"):
            names = self._live(self._entry_names(self._keys.entry_pattern()), now)
            return sorted({self._keys.parse_entry_key(name)[0] for name in names})

    def scan(self, namespace: str, prefix: str, limit: int | None, now: float) -> list[str]:
        with mapped_errors("scan"):
            names = self._live(self._entry_names(self._keys.entry_pattern(namespace, prefix)), now)
            keys = sorted(self._keys.parse_entry_key(name)[1] for name in names)
        # the pattern's glob already holds the prefix; this guards keys with odd bytes
        keys = [key for key in keys if key.startswith(prefix)]
        return keys if limit is None else keys[:limit]

    def dim_of(self, namespace: str, now: float | None = None) -> int | None:
        with mapped_errors("dim_of"):
            tags = self._shards(namespace, create=False)
            if tags is None or not self.vector_sets:
                return None
            if now is not None:
                self._purge_tags(tags, now)
            pipe = self._conn.pipeline()
            for tag in tags:
                pipe.execute_command("VCARD", self._keys.vset_key(tag))
            if not sum(int(n or 0) for n in pipe.execute()):
                return None
            raw = self._conn.client.hget(self._keys.meta_key(namespace), "dim")
            return None if raw is None else int(raw)

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

    def set_many(self, writes: list[EntryWrite], now: float) -> None:
        if not writes:
            return
        latest = {(w.namespace, w.key): w for w in writes}  # a repeated key: the last wins
        by_namespace: dict[str, list[EntryWrite]] = {}
        for write in latest.values():
            by_namespace.setdefault(write.namespace, []).append(write)
        with mapped_errors("set"):
            dims = {ns: self._batch_dim(ns, group) for ns, group in by_namespace.items()}
            for namespace, dim in dims.items():  # every check before any write
                if dim is not None:
                    self._fix_dim(namespace, dim)
            pipe = self._conn.pipeline()
            calls = []
            for namespace, group in by_namespace.items():
                tags = self._shards(namespace, create=True)
                assert tags is not None
                by_tag: dict[str, list[EntryWrite]] = {}
                for write in group:
                    by_tag.setdefault(self._tag_of(tags, write.key), []).append(write)
                for tag, shard_writes in by_tag.items():
                    self._queue_set(pipe, tag, shard_writes, dims[namespace] or 0, now)
                    calls.append(namespace)
            for namespace, reply in zip(calls, pipe.execute()):
                if reply[0] == b"dim":
                    raise DimensionMismatchError(int(reply[1]), dims[namespace] or 0, namespace)

    def _batch_dim(self, namespace: str, writes: list[EntryWrite]) -> int | None:
        dim = None
        for write in writes:
            if write.vector is None:
                continue
            self._require_vector_sets()
            if dim is not None and len(write.vector) != dim:
                raise DimensionMismatchError(dim, len(write.vector), namespace)
            dim = len(write.vector)
        return dim

    def _fix_dim(self, namespace: str, dim: int) -> None:
        """Record ``dim`` as the namespace's, or raise if it holds vectors of another."""
        meta = self._keys.meta_key(namespace)
        pipe = self._conn.pipeline()
        pipe.hsetnx(meta, "dim", dim)
        pipe.hget(meta, "dim")
        held = int(pipe.execute()[1])
        if held == dim:
            return
        if self.dim_of(namespace) is not None:
            raise DimensionMismatchError(held, dim, namespace)
        self._conn.client.hset(meta, "dim", dim)  # emptied since: the dimension is free

    def _queue_set(
        self, pipe: Any, tag: str, writes: list[EntryWrite], dim: int, now: float
    ) -> None:
        keys = [self._keys.vset_key(tag), self._keys.expiry_key(tag)]
        args: list[Any] = [dim, self._m, self._ef_construction]
        for write in writes:
            keys.append(self._keys.entry_key(tag, write.key))
            fields = entry_fields(
                write.key, write.value, write.metadata, write.namespace, write.expires_at, None
            )
            if write.expires_at is None:
                ttl = "0"
            elif write.expires_at <= now:
                ttl = "-1"  # born expired: it only replaces (removes) what was there
            else:
                ttl = str(max(1, math.ceil((write.expires_at - now) * 1000)))
            if write.vector is None:
                blob, attrs = b"", ""
            else:
                blob = blob_of(write.vector)
                attrs = attributes(decode_metadata(write.metadata), write.expires_at)
            args += [write.key, write.value, write.metadata, fields["x"], write.namespace]
            args += [ttl, blob, attrs]
        self._conn.eval(pipe, SET, keys, args)

    def delete(self, namespace: str, key: str, now: float) -> bool:
        with mapped_errors("delete"):
            tags = self._shards(namespace, create=False)
            if tags is None:
                return False
            tag = self._tag_of(tags, key)
            existed, x = self._conn.eval(
                self._conn.client,
                DELETE,
                [self._keys.vset_key(tag), self._keys.expiry_key(tag)],
                [self._keys.entry_prefix(tag), key],
            )
        if not existed:
            return False
        if _expired(x, now):
            with self._lock:
                self._expirations += 1
            return False
        return True

    def clear(self, namespace: str | None = None) -> None:
        with mapped_errors("clear"):
            if namespace is None:
                names = self._entry_names(self._keys.namespace_pattern())
                names += self._entry_names(self._keys.meta_pattern())
            else:
                names = self._entry_names(self._keys.namespace_pattern(namespace))
                names.append(self._keys.meta_key(namespace))
            # meta last: a namespace stays known until its keys are gone
            self._unlink(names)
            with self._lock:
                if namespace is None:
                    self._shard_counts.clear()
                else:
                    self._shard_counts.pop(namespace, None)

    def _unlink(self, names: Iterable[str]) -> None:
        pipe = self._conn.pipeline()
        for name in names:
            pipe.unlink(name)  # one key a command: keys of a cluster differ in slot
        pipe.execute()

    # --- expiry -------------------------------------------------------------------------

    def purge_expired(self, now: float) -> int:
        with mapped_errors("purge_expired"):
            names = self._entry_names(self._keys.expiry_pattern())
            return self._purge_tags([self._keys.parse_tag(name) for name in names], now)

    def _purge_tags(self, tags: Iterable[str], now: float) -> int:
        pipe = self._conn.pipeline()
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
        with self._lock:
            self._expirations += purged
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
    ) -> list[list[tuple[StoredEntry, float]]]:
        self._require_vector_sets()
        with mapped_errors("search"):
            tags = self._shards(namespace, create=False)
            if tags is None:
                return [[] for _ in range(len(queries))]
            if filters is not None:
                self._check_kinds(namespace, filters, now)
            shards = [
                (self._keys.vset_key(t), self._keys.expiry_key(t), self._keys.entry_prefix(t))
                for t in tags
            ]
            predicate = None if filters is None else compile_filter(filters)
            floor = -1.0 if threshold is None else threshold
            dim = queries.shape[1]
            plans = [
                ShardQuery(
                    blob_of(row),
                    k if filters is None else 4 * k,
                    max(self._ef_search, k),
                    threshold,
                    to_expression(filters),
                    now,
                    with_vectors,
                    self._exact_below,
                )
                for row in queries
            ]
            pipe = self._conn.pipeline()
            for plan in plans:
                run_shards(pipe, shards, plan, [False] * len(shards))
            replies = pipe.execute()
            results = []
            for i, plan in enumerate(plans):
                per_shard = [
                    parse_shard(reply, namespace, plan.count, dim)
                    for reply in replies[i * len(shards) : (i + 1) * len(shards)]
                ]
                rows = [row for found, _ in per_shard for row in found]
                hits = merge(rows, k, now, floor, predicate)
                if _may_hide_better(per_shard, hits, k):
                    rows = self._exhaustive(shards, plan, per_shard, namespace, dim)
                    hits = merge(rows, k, now, floor, predicate)
                results.append(hits)
            return results

    def _exhaustive(
        self,
        shards: list[tuple[str, str, str]],
        plan: ShardQuery,
        first: list[tuple[list[tuple[float, StoredEntry]], bool]],
        namespace: str,
        dim: int,
    ) -> list[tuple[float, StoredEntry]]:
        """The candidate rows again, with the shards that may hold more searched exactly
        and without a count (see :mod:`.search`)."""
        again = [more for _, more in first]
        pipe = self._conn.pipeline()
        run_shards(pipe, [s for s, more in zip(shards, again) if more], plan, [True] * sum(again))
        fresh = iter(pipe.execute())
        rows: list[tuple[float, StoredEntry]] = []
        for found, more in first:
            if more:
                found, _ = parse_shard(next(fresh), namespace, 2**31 - 1, dim)
            rows += found
        return rows

    def _check_kinds(self, namespace: str, filters: FilterNode, now: float) -> None:
        """Raise :class:`FilterValueError` when a range condition orders a number against
        a str stored under its field by a live entry with a vector (as the local backend
        does, whatever the other conditions say)."""
        leaves = range_leaves(filters)
        if not leaves:
            return
        names = self._entry_names(self._keys.entry_pattern(namespace))
        pipe = self._conn.pipeline()
        for name in names:
            pipe.hmget(name, ["m", "x"])
            pipe.hexists(name, "f")
        replies = pipe.execute() if names else []
        for i in range(0, len(replies), 2):
            (metadata, x), has_vector = replies[i], replies[i + 1]
            if metadata is None or not has_vector or _expired(x, now):
                continue
            stored = decode_metadata(metadata)
            for leaf in leaves:
                error = kind_clash(leaf, stored.get(leaf.key))
                if error is not None:
                    raise error

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
        with self._lock:
            return BackendCounters(
                self._hits,
                self._misses,
                0,  # Redis's own evictions (maxmemory) are not seen here
                self._expirations,
                {"shards": self._default_shards, "vector_sets": self.vector_sets},
            )

    def close(self) -> None:
        self._conn.close()


def _may_hide_better(
    per_shard: list[tuple[list[tuple[float, StoredEntry]], bool]],
    hits: list[tuple[StoredEntry, float]],
    k: int,
) -> bool:
    """Whether a shard that returned all it was asked for may hold an unseen match that
    belongs in the top ``k``: the hits are short, or its last candidate scores at least
    the worst hit (its unseen entries score no higher than that candidate)."""
    if len(hits) < k:
        return any(more for _, more in per_shard)
    worst = hits[-1][1]
    return any(more and (not rows or rows[-1][0] >= worst) for rows, more in per_shard)


def _expired(x: Any, now: float) -> bool:
    """Whether an entry whose ``x`` field is ``x`` has expired at ``now``."""
    when = expiry_of(x)
    return when is not None and when <= now
