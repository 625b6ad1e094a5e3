"""The one place that talks to Redis: client setup with explicit timeouts and a bounded
retry budget, the primaries of a cluster, pipelines, and the translation of every
``redis.exceptions`` error into semcache's typed errors (httpx-style, at the boundary).

Example::

    >>> conn = Connection.open(url="redis://127.0.0.1:6379")
    >>> with mapped_errors("ping"):
    ...     conn.client.ping()
    True

Timeouts and retries: every socket waits at most ``socket_timeout`` (connecting at most
``connect_timeout``); the main client retries a call at most ``retries`` times (short
exponential backoff, capped at 0.5 s) after a connection error, never after a timeout
(:data:`RETRY_ON`), so a plain call's worst case is about
``(1 + retries) x (connect_timeout + socket_timeout)``. ``search`` and acknowledged
writes go through :mod:`.fanout` instead: one deadline (``socket_timeout``) for every
node of the call together.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from redis.backoff import ExponentialBackoff, NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry

import redis

from ...errors import (
    BackendError,
    BackendUnavailableError,
    CacheClosedError,
    CapabilityError,
    InvalidArgumentError,
    SemCacheError,
    shown,
)

__all__ = [
    "RETRY_ON",
    "VECTOR_COMMANDS",
    "Connection",
    "check_open",
    "map_error",
    "mapped_errors",
]

_T = TypeVar("_T")

VECTOR_COMMANDS = ("VADD", "VSIM", "VREM", "VCARD", "VDIM")
"""The vector-set commands semcache's scripts call."""

_PROBE = """
local missing = {}
for _, name in ipairs(ARGV) do
  local ok, allowed = pcall(redis.acl_check_cmd, name)
  if not ok or not allowed then missing[#missing + 1] = name end
end
return missing
"""

RETRY_ON: tuple[type[Exception], ...] = (redis.exceptions.ConnectionError,)
"""What the main client's ``Retry`` retries: a connection refused or dropped, never a
timeout (the timed-out command may have run; a retried delete would then answer False)."""

_UNREACHABLE = (
    redis.exceptions.ConnectionError,  # TimeoutError is not one: listed apart
    redis.exceptions.TimeoutError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.MasterDownError,
    redis.exceptions.TryAgainError,
    redis.exceptions.BusyLoadingError,
    redis.exceptions.ReadOnlyError,  # a primary just demoted to replica (failover)
    redis.exceptions.AskError,  # MOVED too: a slot in migration or a failover under way
    redis.exceptions.ClusterError,  # "TTL exhausted": redirected or told to try again, too often
)
# the same, as a cluster pipeline reports them (in a plain ResponseError), and a script
# that met a key of a slot under migration on the other node
_UNREACHABLE_TEXT = re.compile(
    r"\b(?:TRYAGAIN|ASK \d+|MOVED \d+|CLUSTERDOWN|TTL exhausted)|non local key", re.IGNORECASE
)


def map_error(exc: Exception, what: str) -> SemCacheError:
    """The semcache error for a redis-py error ``exc`` met by ``what`` (httpx-style).

    - cannot reach a server in time (refused, timed out, cluster down for the slot, a
      replica answering for a primary, a slot under migration that the call cannot use
      yet): :class:`BackendUnavailableError`;
    - a command the server does not know (Redis 7, Valkey) or that its ACL forbids to
      this user: :class:`CapabilityError` naming it;
    - anything else the server refused (a script error, out of memory, auth):
      :class:`BackendError` with the server's message.
    """
    if isinstance(exc, SemCacheError):
        return exc
    if isinstance(exc, _UNREACHABLE):
        return BackendUnavailableError(f"{what}: redis unreachable: {exc}")
    if isinstance(exc, redis.exceptions.ResponseError) and _UNREACHABLE_TEXT.search(str(exc)):
        return BackendUnavailableError(f"{what}: redis cluster slot in migration: {exc}")
    if isinstance(exc, redis.exceptions.RedisClusterException):
        return BackendUnavailableError(f"{what}: redis cluster: {exc}")
    text = str(exc)
    if isinstance(exc, redis.exceptions.ResponseError) and "unknown command" in text.lower():
        return CapabilityError(f"{what}: this Redis server lacks a command semcache needs: {text}")
    if isinstance(exc, redis.exceptions.NoPermissionError):
        return CapabilityError(f"{what}: this Redis user may not run a command: {text}")
    if isinstance(exc, redis.exceptions.ResponseError) and "script" in text.lower():
        return BackendError(f"{what}: redis script error: {text}")
    return BackendError(f"{what}: redis error: {text}")


@contextmanager
def mapped_errors(what: str = "redis call") -> Iterator[None]:
    """Re-raise any redis-py error as semcache's (see :func:`map_error`), naming ``what``."""
    try:
        yield
    except (redis.exceptions.RedisError, redis.exceptions.RedisClusterException) as exc:
        raise map_error(exc, what) from exc


def check_open(conn: Any) -> None:
    """:class:`CacheClosedError` once ``conn`` (a :class:`Connection` or its async twin)
    is closed."""
    if conn.closed:
        raise CacheClosedError("this RedisBackend is closed")


def _decodes_responses(client: redis.Redis | RedisCluster) -> bool:
    """Whether ``client`` decodes replies to ``str`` (``decode_responses=True``)."""
    get_encoder = getattr(client, "get_encoder", None)
    if get_encoder is None:
        return False
    return bool(getattr(get_encoder(), "decode_responses", False))


def _text(value: Any) -> str:
    """A CONFIG GET reply field as text (``""`` when absent)."""
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


def _node(address: str) -> ClusterNode:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise InvalidArgumentError(f"cluster node must be 'host:port', got {shown(address)}")
    return ClusterNode(host, int(port))


class Connection:
    """A redis-py client (standalone or cluster) and what the backend asks of it."""

    def __init__(
        self,
        client: redis.Redis | RedisCluster,
        owned: bool,
        connect_timeout: float = 2.0,
        socket_timeout: float = 5.0,
        retries: int = 2,
    ) -> None:
        self._client = client
        self.closed = False  # after close(): every call raises CacheClosedError
        self.is_cluster = isinstance(client, RedisCluster)
        self._owned = owned  # closed by close() only when this module made it
        self.connect_timeout = connect_timeout
        self.timeout = socket_timeout  # the deadline of one fanned-out call
        self.retries = retries
        self._node_clients: dict[str, redis.Redis] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        cluster_nodes: list[str] | None = None,
        client: redis.Redis | RedisCluster | None = None,
        connect_timeout: float = 2.0,
        socket_timeout: float = 5.0,
        retries: int = 2,
    ) -> Connection:
        """A connection from exactly one of ``url``, ``cluster_nodes`` or ``client``.

        Raises:
            InvalidArgumentError: none or several of them, or a malformed node address.
            BackendUnavailableError: the cluster cannot be reached to learn its layout.
        """
        given = [x is not None for x in (url, cluster_nodes, client)]
        if sum(given) != 1:
            raise InvalidArgumentError(
                "RedisBackend takes exactly one of a URL, cluster_nodes=[...] or client="
            )
        if client is not None:
            if not isinstance(client, (redis.Redis, RedisCluster)):
                raise InvalidArgumentError(
                    f"client must be a redis.Redis or redis.RedisCluster, got "
                    f"{type(client).__name__}"
                )
            if _decodes_responses(client):
                raise InvalidArgumentError(
                    "client must be made with decode_responses=False (the default): "
                    "semcache stores bytes (msgpack) that do not decode as text"
                )
            return cls(client, False, connect_timeout, socket_timeout, retries)
        # bounded: redis-py's defaults can retry for seconds on a dead node
        retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), retries, RETRY_ON)
        options: dict[str, Any] = {
            "socket_connect_timeout": connect_timeout,
            "socket_timeout": socket_timeout,
        }
        with mapped_errors("connect"):
            if url is not None:
                if not isinstance(url, str):
                    raise InvalidArgumentError(f"url must be a str, got {type(url).__name__}")
                try:
                    standalone = redis.Redis.from_url(url, retry=retry, **options)
                except ValueError as exc:  # no scheme, a bad port ...
                    raise InvalidArgumentError(f"url {shown(url)}: {exc}") from exc
                return cls(standalone, True, connect_timeout, socket_timeout, retries)
            assert cluster_nodes is not None
            if isinstance(cluster_nodes, str) or not cluster_nodes:
                raise InvalidArgumentError("cluster_nodes must be a non-empty list of 'host:port'")
            nodes = [_node(address) for address in cluster_nodes]
            cluster = RedisCluster(
                startup_nodes=nodes,
                retry=retry,  # the cluster's retry budget too (not the deprecated argument)
                **options,
            )
            return cls(cluster, True, connect_timeout, socket_timeout, retries)

    @property
    def client(self) -> redis.Redis | RedisCluster:
        """The main client.

        Raises:
            CacheClosedError: after :meth:`close`.
        """
        check_open(self)
        return self._client

    def primaries(self) -> list[tuple[str, redis.Redis]]:
        """(``host:port``, a client for that node) of every primary (the one server when
        standalone)."""
        client = self.client
        if isinstance(client, RedisCluster):
            found = []
            for node in client.get_primaries():
                node_client = client.get_redis_connection(node)
                found.append((node.name, node_client))
            return found
        return [(self._standalone_name(), client)]

    def on_primaries(self, visit: Callable[[str, redis.Redis], _T]) -> list[_T]:
        """``visit(address, client)`` on every primary, in order. On a cluster, a primary
        that cannot be reached has the slot map asked again (a failover since the client
        learned it names a dead node) and the whole visit run once more: calls that only
        visit every primary would otherwise never learn the new one."""
        try:
            return [visit(name, node) for name, node in self.primaries()]
        except _UNREACHABLE:
            if not self.is_cluster:
                raise
        self.refresh()
        return [visit(name, node) for name, node in self.primaries()]

    def _standalone_name(self) -> str:
        assert isinstance(self.client, redis.Redis)
        kwargs = self.client.connection_pool.connection_kwargs
        return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"

    # --- one node at a time (fanout.py) ------------------------------------------------

    def node_of(self, key: str) -> str:
        """``host:port`` of the primary that owns ``key`` (as the client knows it now)."""
        client = self.client
        if isinstance(client, RedisCluster):
            node = client.get_node_from_key(key)
            return str(node.name)
        return self._standalone_name()

    def node_client(self, name: str) -> redis.Redis:
        """A client of node ``name`` that tries once (no retries of its own) and waits at
        most the deadline on its socket: :mod:`.fanout` owns the retry budget and the
        deadline. Auth/TLS options are the main client's."""
        with self._lock:
            check_open(self)
            found = self._node_clients.get(name)
            if found is not None:
                return found
            client = self.client
            if isinstance(client, RedisCluster):
                node = client.get_node(node_name=name)
                if node is None:
                    raise BackendUnavailableError(f"redis node {name} is not in the cluster")
                pool = client.get_redis_connection(node).connection_pool
            else:
                pool = client.connection_pool
            kwargs = dict(pool.connection_kwargs)
            kwargs.update(
                socket_connect_timeout=min(self.connect_timeout, self.timeout),
                socket_timeout=self.timeout,
                retry=Retry(NoBackoff(), 0),
            )
            found = redis.Redis(
                connection_pool=redis.ConnectionPool(
                    connection_class=pool.connection_class, **kwargs
                )
            )
            self._node_clients[name] = found
            return found

    def refresh(self) -> None:
        """Ask the cluster for its slot layout again (after MOVED, a refused node, ...)."""
        client = self.client
        if isinstance(client, RedisCluster):
            with mapped_errors("refresh cluster layout"):
                client.nodes_manager.initialize()

    def executor(self) -> ThreadPoolExecutor:
        """Threads that wait on the other nodes of a fanned-out call. Many: a thread stuck
        on a paused node is held until its socket times out (the deadline)."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(64, thread_name_prefix="semcache-redis")
            return self._executor

    def replica_counts(self) -> dict[str, int]:
        """``host:port`` of each primary -> replicas connected to it now (``INFO
        replication``)."""
        counts = {}
        with mapped_errors("replication check"):
            for name, node in self.primaries():
                info = node.info("replication")
                counts[name] = int(info.get("connected_slaves", 0))
        return counts

    def pipeline(self) -> Any:
        """A non-transactional pipeline (a cluster one sends each node its commands)."""
        return self.client.pipeline(transaction=False)

    @staticmethod
    def eval(target: Any, script: str, keys: list[str], args: list[Any]) -> Any:
        """Queue (on a pipeline) or run (on a client) ``script``; every key in one slot.

        ``EVAL`` through ``execute_command``: a cluster pipeline refuses ``.eval()`` but
        routes the raw command by its keys.
        """
        return target.execute_command("EVAL", script, len(keys), *keys, *args)

    def missing_vector_commands(self) -> list[str]:
        """The vector-set commands semcache uses that this server does not know (Redis 7,
        Valkey) or that an ACL forbids to this user; ``[]`` when all are there. Asked of
        one node (a cluster's nodes run one build) by a script: ``redis.acl_check_cmd``
        fails for an unknown command and says False for a forbidden one (Redis >= 7; on
        older servers it is absent, and so are vector sets)."""
        _, node = self.primaries()[0]
        with mapped_errors("capability check"):
            missing = node.execute_command("EVAL", _PROBE, 0, *VECTOR_COMMANDS)
        return [name.decode() if isinstance(name, bytes) else str(name) for name in missing]

    def unsafe_eviction_policy(self) -> str | None:
        """The ``allkeys-*`` eviction policy of a primary that has ``maxmemory`` set, or
        None: such a policy may evict a whole vector set (one key), and the entries it
        indexed are then never found by ``search`` again. None too when ``CONFIG GET`` is
        refused or fails (a managed Redis may forbid it): nothing is known then."""
        try:
            for _, node in self.primaries():
                reply: dict[Any, Any] = dict(node.config_get("maxmemory*"))
                config = {_text(name): _text(value) for name, value in reply.items()}
                policy = config.get("maxmemory-policy", "")
                limit = config.get("maxmemory", "")
                if policy.startswith("allkeys-") and limit not in ("", "0"):
                    return policy
        except (redis.exceptions.RedisError, redis.exceptions.RedisClusterException):
            return None
        return None

    def close(self) -> None:
        """Close the clients this module made; later calls raise CacheClosedError."""
        with self._lock:
            self.closed = True
            executor, self._executor = self._executor, None
            node_clients, self._node_clients = list(self._node_clients.values()), {}
        if executor is not None:
            executor.shutdown(wait=False)
        for node_client in node_clients:
            node_client.close()
            node_client.connection_pool.close()  # its own pool: close() leaves a given one
        if self._owned:
            with mapped_errors("close"):
                self._client.close()
