"""The one place that talks to Redis: client setup with explicit timeouts and a bounded
retry budget, the primaries of a cluster, pipelines, and the translation of every
``redis.exceptions`` error into semcache's typed errors (httpx-style, at the boundary).

Example::

    >>> conn = Connection.open(url="redis://127.0.0.1:6379")
    >>> with conn.mapped():
    ...     conn.client.ping()
    True
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry

import redis

from ...errors import BackendError, BackendUnavailableError, InvalidArgumentError

__all__ = ["Connection", "mapped_errors"]

_UNREACHABLE = (
    redis.exceptions.ConnectionError,  # TimeoutError is not one: listed apart
    redis.exceptions.TimeoutError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.MasterDownError,
    redis.exceptions.TryAgainError,
    redis.exceptions.BusyLoadingError,
)


@contextmanager
def mapped_errors(what: str = "redis call") -> Iterator[None]:
    """Re-raise any redis-py error as :class:`BackendUnavailableError` (cannot reach a
    server in time) or :class:`BackendError` (the server refused), naming ``what``."""
    try:
        yield
    except _UNREACHABLE as exc:
        raise BackendUnavailableError(f"{what}: redis unreachable: {exc}") from exc
    except redis.exceptions.RedisClusterException as exc:
        raise BackendUnavailableError(f"{what}: redis cluster: {exc}") from exc
    except redis.exceptions.RedisError as exc:
        raise BackendError(f"{what}: redis error: {exc}") from exc


def _node(address: str) -> ClusterNode:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise InvalidArgumentError(f"cluster node must be 'host:port', got {address!r}")
    return ClusterNode(host, int(port))


class Connection:
    """A redis-py client (standalone or cluster) and what the backend asks of it."""

    def __init__(self, client: redis.Redis | RedisCluster, owned: bool) -> None:
        self.client = client
        self.is_cluster = isinstance(client, RedisCluster)
        self._owned = owned  # closed by close() only when this module made it

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
            return cls(client, owned=False)
        # bounded: redis-py's defaults can retry for seconds on a dead node
        retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), retries)
        options: dict[str, Any] = {
            "socket_connect_timeout": connect_timeout,
            "socket_timeout": socket_timeout,
        }
        with mapped_errors("connect"):
            if url is not None:
                if not isinstance(url, str):
                    raise InvalidArgumentError(f"url must be a str, got {type(url).__name__}")
                return cls(redis.Redis.from_url(url, retry=retry, **options), owned=True)
            assert cluster_nodes is not None
            if isinstance(cluster_nodes, str) or not cluster_nodes:
                raise InvalidArgumentError("cluster_nodes must be a non-empty list of 'host:port'")
            nodes = [_node(address) for address in cluster_nodes]
            cluster = RedisCluster(
                startup_nodes=nodes,
                retry=retry,
                **options,
            )
            return cls(cluster, owned=True)

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
        kwargs = client.connection_pool.connection_kwargs
        return [(f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}", client)]

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

    def has_vector_sets(self) -> bool:
        """Whether the server knows ``VCARD`` (Redis 8 vector sets)."""
        with mapped_errors("capability check"):
            try:
                self.client.execute_command("VCARD", "semcache:capability-probe")
            except redis.exceptions.ResponseError as exc:
                if "unknown command" in str(exc).lower():
                    return False
                raise
            return True

    def close(self) -> None:
        if self._owned:
            with mapped_errors("close"):
                self.client.close()
