"""Administration of the servers under a :class:`~.backend.RedisBackend`: which nodes there
are, whether they answer, what each holds, and which primary holds an entry.

Every function takes the backend's :class:`~.connection.Connection`; a node is named by its
``"host:port"`` as the cluster reports it (standalone: as the URL gave it). Calls that visit
every node run on up to ``workers`` threads, so one slow node costs one timeout, not one
per node. A node that does not answer is reported (``False`` / ``{"error": ...}``), never
raised: these calls describe a cluster that may be partly down.

Example::

    backend = RedisBackend(cluster_nodes=["127.0.0.1:7000"])
    backend.health()          # {"127.0.0.1:7000": True, ...}: primaries and replicas
    backend.cluster_stats()   # {"127.0.0.1:7000": {"role": "primary", "entries": 12, ...}}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

import redis

from ...errors import (
    BackendError,
    BackendUnavailableError,
    InvalidArgumentError,
    ReplicationError,
    SemCacheError,
    shown,
)
from .connection import Connection, mapped_errors
from .fanout import NodeRetry, node_replies
from .keys import KeyScheme, glob_escape, namespace_of_id, owned_names
from .plan import clear_order, drop_call, forget
from .scripts import DROP

if TYPE_CHECKING:
    from .backend import RedisBackend

__all__ = [
    "Administration",
    "NodeRef",
    "cluster_stats",
    "health",
    "is_cluster",
    "node_of",
    "nodes",
    "unlink_entries",
]

_T = TypeVar("_T")

NodeRef = tuple[str, str, redis.Redis]  # (host:port, role the client knows, node client)


def is_cluster(urls: list[str], connect_timeout: float, socket_timeout: float) -> bool:
    """Whether the servers at ``urls`` run in cluster mode, asked of the first that answers.

    Raises:
        InvalidArgumentError: a URL redis-py cannot parse.
        BackendUnavailableError: none of them answers in time.
    """
    failure: BackendUnavailableError | None = None
    for url in urls:
        try:
            client = redis.Redis.from_url(
                _without_database(url),
                socket_connect_timeout=connect_timeout,
                socket_timeout=socket_timeout,
                retry=Retry(NoBackoff(), 0),
            )
        except ValueError as exc:
            raise InvalidArgumentError(f"bad Redis URL {shown(url)}: {exc}") from exc
        try:
            with mapped_errors(f"connect to {_safe(url)}"):
                return bool(client.info("cluster").get("cluster_enabled"))
        except BackendUnavailableError as exc:
            failure = exc
        finally:
            client.close()
    assert failure is not None  # urls is never empty
    raise failure


def _without_database(url: str) -> str:
    """``url`` less its database (``/1``, ``?db=1``): asked with one, a cluster node fails
    the connection's ``SELECT`` instead of saying it is a cluster node (whose URL is then
    refused for the database, by name). A ``unix://`` URL's path is its socket: kept."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        return url
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "db"])
    return urlunsplit(parts._replace(path="", query=query))


def _safe(url: str) -> str:
    """``url`` without credentials, for messages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}"


@contextmanager
def nodes(conn: Connection) -> Iterator[list[NodeRef]]:
    """Every node (primaries first, then replicas), each with a client, for one call.

    A cluster's nodes come from ``CLUSTER NODES``: the client's own slot map lists a
    replica only once ``CLUSTER SLOTS`` does, which is after its first replicated write.
    Clients made here for nodes the slot map lacks are closed when the block ends.
    """
    client = conn.client
    if not isinstance(client, RedisCluster):
        ((address, node_client),) = conn.primaries()
        yield [(address, "primary", node_client)]
        return
    known = {node.name: node for node in client.get_nodes()}
    try:
        table: dict[str, Any] = client.cluster_nodes()
    except redis.exceptions.RedisError:
        table = {}  # no node answers: report the ones the client knows
    listed: dict[str, str] = {}
    for address, row in table.items():
        flags = set(str(row["flags"]).split(","))
        if not flags & {"noaddr", "handshake"}:
            listed[address] = "replica" if "slave" in flags else "primary"
    if not listed:
        listed = {name: str(node.server_type) for name, node in known.items()}
    refs: list[NodeRef] = []
    made: list[redis.Redis] = []
    try:
        for address, role in sorted(listed.items(), key=lambda item: (item[1], item[0])):
            if address in known:
                node_client = client.get_redis_connection(known[address])
            else:
                node_client = _client_like(
                    client.get_redis_connection(next(iter(known.values()))), address
                )
                made.append(node_client)
            refs.append((address, role, node_client))
        yield refs
    finally:
        for extra in made:
            extra.close()


def _client_like(model: redis.Redis, address: str) -> redis.Redis:
    """A client for ``address`` with ``model``'s timeouts and credentials."""
    kwargs = model.connection_pool.connection_kwargs
    host, _, port = address.rpartition(":")
    return redis.Redis(
        host=host,
        port=int(port),
        username=kwargs.get("username"),
        password=kwargs.get("password"),
        socket_timeout=kwargs.get("socket_timeout"),
        socket_connect_timeout=kwargs.get("socket_connect_timeout"),
        retry=Retry(NoBackoff(), 0),
    )


def _each(refs: list[NodeRef], fn: Callable[[NodeRef], _T], workers: int) -> dict[str, _T]:
    """``{address: fn(ref)}`` over ``refs``, on up to ``workers`` threads."""
    if len(refs) <= 1 or workers <= 1:
        return {ref[0]: fn(ref) for ref in refs}
    with ThreadPoolExecutor(max_workers=min(workers, len(refs))) as pool:
        return dict(zip((ref[0] for ref in refs), pool.map(fn, refs)))


def health(conn: Connection, workers: int = 8) -> dict[str, bool]:
    """``{"host:port": answers PING}`` for every node, replicas too."""

    def ping(ref: NodeRef) -> bool:
        try:
            return bool(ref[2].ping())
        except redis.exceptions.RedisError:
            return False

    with nodes(conn) as refs:
        return _each(refs, ping, workers)


def node_of(conn: Connection, name: str) -> str:
    """``"host:port"`` of the primary serving the Redis key ``name`` (by the cluster's slot
    map as the client holds it; standalone: the server)."""
    client = conn.client
    if isinstance(client, RedisCluster):
        with mapped_errors("node_of"):
            return str(client.get_node_from_key(name).name)
    return conn.primaries()[0][0]


def cluster_stats(conn: Connection, keys: KeyScheme, workers: int = 8) -> dict[str, dict[str, Any]]:
    """What each node is and holds (primaries and replicas), under ``keys.prefix`` only.

    Per node: ``node_id`` (the cluster's node id; standalone: the server's run id),
    ``address``, ``role`` (``"primary"`` / ``"replica"``, as the node says now),
    ``primary`` (a replica's primary, else None), ``redis_version``, ``used_memory``
    (bytes), ``entries`` (entries, not Redis keys, live on that node, of every namespace)
    and ``entries_by_namespace``, ``vector_sets`` (how many) and ``vectors`` (their total
    size) with ``vectors_by_namespace``; from the server's ``INFO``, for every client and
    key of the node since it started: ``uptime_seconds``, ``commands_processed``,
    ``keyspace_hits`` and ``keyspace_misses``. A replica counts the copies it holds.

    A node that does not answer gets ``{"address", "role": None, "last_role", "error"}``
    instead: its role now is unknown (a dead primary may have been failed over), so it is
    never counted as a primary; ``last_role`` is the one the cluster last reported.
    """
    clustered = conn.is_cluster

    def describe(ref: NodeRef) -> dict[str, Any]:
        address, known_role, client = ref
        try:
            return _node_stats(client, keys, clustered) | {"address": address}
        except redis.exceptions.RedisError as exc:
            return {
                "address": address,
                "role": None,
                "last_role": known_role,
                "error": f"{type(exc).__name__}: {exc}",
            }

    with nodes(conn) as refs:
        return _each(refs, describe, workers)


def _node_stats(client: redis.Redis, keys: KeyScheme, clustered: bool) -> dict[str, Any]:
    info = client.info()
    role = "primary" if info.get("role") == "master" else "replica"
    primary = None
    if role == "replica":
        primary = f"{info.get('master_host')}:{info.get('master_port')}"
    node_id = client.execute_command("CLUSTER", "MYID") if clustered else info.get("run_id")
    entries: Counter[str] = Counter()
    for name in owned_names(keys, client.scan_iter(match=keys.entry_pattern(), count=1000)):
        entries[keys.parse_entry_key(name)[0]] += 1
    vset_pattern = f"{glob_escape(keys.prefix)}:{{n*}}:v"
    vsets = sorted(owned_names(keys, client.scan_iter(match=vset_pattern, count=1000)))
    vectors: Counter[str] = Counter()
    if vsets:
        pipe = client.pipeline(transaction=False)
        if clustered and role == "replica":
            pipe.execute_command("READONLY")  # a replica serves keyed reads only so
        for name in vsets:
            pipe.execute_command("VCARD", name)
        replies = pipe.execute()[-len(vsets) :]
        for name, size in zip(vsets, replies):
            vectors[namespace_of_id(keys.parse_tag(name).split(".", 1)[0])] += int(size or 0)
    return {
        "node_id": _text(node_id) if node_id is not None else None,
        "role": role,
        "primary": primary,
        "redis_version": info.get("redis_version"),
        "used_memory": int(info.get("used_memory", 0)),
        "uptime_seconds": int(info.get("uptime_in_seconds", 0)),
        "commands_processed": int(info.get("total_commands_processed", 0)),
        "keyspace_hits": int(info.get("keyspace_hits", 0)),
        "keyspace_misses": int(info.get("keyspace_misses", 0)),
        "entries": sum(entries.values()),
        "entries_by_namespace": dict(entries),
        "vector_sets": len(vsets),
        "vectors": sum(vectors.values()),
        "vectors_by_namespace": dict(vectors),
    }


def unlink_entries(conn: Connection, pattern: str) -> dict[str, int]:
    """Remove every entry hash matching ``pattern`` (an entry glob of :class:`KeyScheme`)
    from every primary; ``{"host:port": entries removed there}``. The caller removes the
    rest of the namespace (vector sets, expiry sets, meta) afterwards. After a failover
    the visit runs again on the new map (:meth:`~.connection.Connection.on_primaries`):
    counts add up across the two runs."""
    removed: dict[str, int] = {}

    def visit(address: str, client: redis.Redis) -> None:
        names = list(client.scan_iter(match=pattern, count=1000))
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.unlink(name)
        unlinked = sum(int(n) for n in pipe.execute()) if names else 0
        removed[address] = removed.get(address, 0) + unlinked

    with mapped_errors("clear"):
        conn.on_primaries(visit)
    return removed


def _text(name: bytes | str) -> str:
    return name.decode("utf-8") if isinstance(name, bytes) else name


class Administration:
    """Mixed into :class:`~.backend.RedisBackend`: the calls above as its methods."""

    # each method annotates ``self: RedisBackend`` to reach the backend's connection
    def health(self: RedisBackend, workers: int = 8) -> dict[str, bool]:  # type: ignore[misc]
        """``{"host:port": answers PING}`` for every node, replicas too."""
        return health(self._conn, workers)

    def cluster_stats(  # type: ignore[misc]
        self: RedisBackend, workers: int = 8
    ) -> dict[str, dict[str, Any]]:
        """What each node is and holds (see :func:`cluster_stats`)."""
        return cluster_stats(self._conn, self._keys, workers)

    def node_of(self: RedisBackend, namespace: str, key: str) -> str:  # type: ignore[misc]
        """``"host:port"`` of the primary that holds (or would hold) ``key`` of
        ``namespace``: the client's slot map answers, after one read of the namespace's
        shard count the first time."""
        with mapped_errors("node_of"):
            tags = self._shards(namespace, create=False)
        return node_of(self._conn, self._keys.entry_key(self._tag_of(tags, key), key))

    def clear_by_node(  # type: ignore[misc]
        self: RedisBackend, namespace: str | None = None
    ) -> dict[str, int]:
        """``clear``, returning ``{"host:port": entries removed}`` per primary."""
        removed = unlink_entries(self._conn, self._keys.entry_pattern(namespace))
        self.clear(namespace)
        return removed

    def clear_each_node(self: RedisBackend, namespace: str) -> dict[str, int]:  # type: ignore[misc]
        """``clear(namespace)`` primary by primary, never raising for one of them (the
        Semantic KV seed's ``clear_all``): ``{"host:port": entries removed}``, ``-1`` for a
        primary that did not answer or refused; the others are cleared all the same.

        A primary whose replicas did not confirm in time (``min_replica_acks``) reports its
        count: the entries are gone from it, only not acknowledged. After a failover the
        slot map is read again and the new primaries are cleared (a dead node no longer
        in it is left out: its slots are another's now). The namespace's meta hash goes
        last, and only once every primary is cleared: entries left on a node that failed
        keep their shard count and dimension (its node reports ``-1`` if that fails).
        """
        removed: dict[str, int] = {}

        def visit(primaries: list[tuple[str, redis.Redis]]) -> None:
            for name, client in primaries:
                if removed.get(name, -1) < 0:
                    removed[name] = self._clear_primary(name, client, namespace)

        with mapped_errors("clear"):
            visit(self._conn.primaries())
        if -1 in removed.values() and self._conn.is_cluster:
            try:
                self._conn.refresh()  # a failover since the client learned the slot map
                with mapped_errors("clear"):
                    primaries = self._conn.primaries()
            except BackendError:
                primaries = []  # no node answers: the -1s stand
            names = {name for name, _ in primaries}
            for gone in [n for n, count in removed.items() if count < 0 and n not in names]:
                del removed[gone]
            visit(primaries)
        if -1 in removed.values():
            return removed
        meta = self._keys.meta_key(namespace)
        try:
            with mapped_errors("clear"):
                self._unlink([meta])
        except ReplicationError:
            pass  # removed from its primary: the count stands
        except BackendError:
            removed[self._conn.node_of(meta)] = -1
            return removed
        forget(self._lock, namespace, self._shard_counts, self._last_dims)
        return removed

    def _clear_primary(  # type: ignore[misc]
        self: RedisBackend, name: str, client: redis.Redis, namespace: str
    ) -> int:
        """Entries removed from the primary ``name``: the namespace's entry hashes there,
        then each of its shards there whole (:data:`.scripts.DROP`), one pipeline (``WAIT``
        last with ``min_replica_acks``); ``-1`` when the node did not answer or refused."""
        keys = self._keys
        try:
            entries = sorted(
                owned_names(keys, client.scan_iter(match=keys.entry_pattern(namespace), count=1000))
            )
            rest = owned_names(
                keys, client.scan_iter(match=keys.namespace_pattern(namespace), count=1000)
            )
            others, tags, _ = clear_order(keys, sorted(rest.difference(entries)))
            if not entries and not tags and not others:
                return 0
            pipe = client.pipeline(transaction=False)
            for entry in entries + others:
                pipe.unlink(entry)
            for tag in tags:
                self._conn.eval(pipe, DROP, *drop_call(self._settings, tag))
            if self._acks:
                pipe.execute_command("WAIT", self._acks, max(1, round(self._ack_timeout * 1000)))
            replies = pipe.execute(raise_on_error=False)
            count = sum(int(reply) for reply in replies[: len(entries)] if isinstance(reply, int))
            node_replies(name, replies, self._acks, self._ack_timeout)
        except ReplicationError:
            pass  # applied on the primary, not acknowledged: the count stands
        except (redis.exceptions.RedisError, SemCacheError, NodeRetry):
            return -1
        return count
