"""The async twin of :mod:`.connection`: ``redis.asyncio`` clients with the same timeouts,
retry budget and error mapping (:func:`~.connection.mapped_errors` maps the errors of
``redis.asyncio`` too: they are the same ``redis.exceptions`` classes).

A ``redis.asyncio`` client is bound to the event loop it first ran on, so there is one
client per event loop, made on the loop's first call. Close it with :meth:`aclose` on its
loop before the loop ends (``SemCache.aclose()`` does); :meth:`close` closes what it can
from outside (clients of loops that are idle, or running in other threads).

Example::

    conn = AsyncConnection.for_sync(sync_conn, url, None, 2.0, 5.0, 2)
    async def main():
        with mapped_errors("ping"):
            await conn.client().ping()
        await conn.aclose()
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import redis.asyncio as aredis
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.cluster import RedisCluster

import redis

from ...errors import CapabilityError
from .connection import RETRY_ON, Connection, check_open, mapped_errors

__all__ = ["AsyncConnection"]


class AsyncConnection:
    """Makes and keeps one ``redis.asyncio`` client per event loop."""

    def __init__(
        self,
        make: Callable[[], Any],
        is_cluster: bool,
        make_node: Callable[[str], Any] | None = None,
        standalone_name: str = "",
        socket_timeout: float = 5.0,
        retries: int = 2,
    ) -> None:
        self._make = make  # no I/O: a client connects on its first command
        self._make_node = make_node  # node name -> a client that tries once (.aio_fanout)
        self._standalone_name = standalone_name
        self.is_cluster = is_cluster
        self.closed = False  # after close(): every call raises CacheClosedError
        self.timeout = socket_timeout  # the deadline of one fanned-out call
        self.retries = retries
        self._clients: dict[asyncio.AbstractEventLoop, Any] = {}
        self._nodes: dict[asyncio.AbstractEventLoop, dict[str, Any]] = {}  # per loop
        # per loop, the suspended async generator that closes its client at shutdown
        self._closers: dict[asyncio.AbstractEventLoop, AsyncGenerator[None, None]] = {}
        self._lock = threading.Lock()
        self._closing: set[asyncio.Future[Any]] = set()  # aclose tasks, kept alive

    @classmethod
    def for_sync(
        cls,
        conn: Connection,
        url: str | None,
        cluster_nodes: list[str] | None,
        connect_timeout: float,
        socket_timeout: float,
        retries: int,
    ) -> AsyncConnection:
        """The async twin of ``conn`` (made by :meth:`Connection.open` from the same
        arguments). A client passed to the sync backend gives an async client to the same
        server or cluster with the same credentials and timeouts."""
        options: dict[str, Any] = {
            "socket_connect_timeout": connect_timeout,
            "socket_timeout": socket_timeout,
        }
        refused: CapabilityError | None = None
        if url is None and cluster_nodes is None:  # a client was passed: its address
            try:
                options.update(_client_options(conn))
            except CapabilityError as exc:  # the sync calls work: only async ones refuse
                refused = exc
        if isinstance(conn.client, RedisCluster):  # every node the sync client knows:
            cluster_nodes = [node.name for node in conn.client.get_nodes()]  # any may be down

        def make() -> Any:
            if refused is not None:
                raise refused
            # bounded: redis-py's defaults can retry for seconds on a dead node
            retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), retries, RETRY_ON)
            if cluster_nodes is not None:
                nodes = [ClusterNode(*_host_port(name)) for name in cluster_nodes]
                return aredis.RedisCluster(startup_nodes=nodes, retry=retry, **options)
            if url is None:
                return aredis.Redis(retry=retry, **options)
            return aredis.Redis.from_url(url, retry=retry, **options)

        def make_node(name: str) -> Any:
            if refused is not None:
                raise refused
            # one try, the deadline on its socket: .aio_fanout owns retries and deadline
            once = {**options, "retry": Retry(NoBackoff(), 0)}
            once["socket_connect_timeout"] = min(connect_timeout, socket_timeout)
            if cluster_nodes is None and url is not None:
                return aredis.Redis.from_url(url, **once)
            host, port = _host_port(name)
            if cluster_nodes is None:  # a standalone client was passed: its database too
                return aredis.Redis(**once)
            return aredis.Redis(host=host, port=port, **once)

        standalone = "" if conn.is_cluster else conn.node_of("")
        return cls(make, conn.is_cluster, make_node, standalone, socket_timeout, retries)

    def client(self) -> Any:
        """The client of the running event loop (made on its first call).

        Raises:
            CacheClosedError: after :meth:`close`.
        """
        check_open(self)
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            with self._lock:
                for old in [old for old in self._clients if old.is_closed()]:
                    del self._clients[old]  # not closed in time: nothing can close it now
                client = self._clients.get(loop)
                if client is None:
                    with mapped_errors("connect"):
                        client = self._clients[loop] = self._make()
                    self._closers[loop] = _close_at_shutdown(self, loop, client)
        return client

    def _forget(self, loop: asyncio.AbstractEventLoop, client: Any) -> list[Any]:
        """Forget ``loop``'s clients; its node clients, to be closed."""
        with self._lock:
            if self._clients.get(loop) is client:
                del self._clients[loop]
            self._closers.pop(loop, None)
            return list(self._nodes.pop(loop, {}).values())

    # --- one node at a time (.aio_fanout) -------------------------------------------------

    def node_client(self, name: str) -> Any:
        """The running loop's client of node ``name`` (made on first use)."""
        self.client()  # the loop's closer closes node clients too
        loop = asyncio.get_running_loop()
        with self._lock:
            nodes = self._nodes.setdefault(loop, {})
            found = nodes.get(name)
            if found is None:
                assert self._make_node is not None
                with mapped_errors("connect"):
                    found = nodes[name] = self._make_node(name)
            return found

    def node_of(self, key: str) -> str:
        """``host:port`` of the primary owning ``key``, from the client's slot map (see
        :meth:`ready`)."""
        if not self.is_cluster:
            return self._standalone_name
        return str(self.client().get_node_from_key(key).name)

    async def ready(self) -> None:
        """Make sure the running loop's cluster client knows the slot layout."""
        if self.is_cluster:
            with mapped_errors("connect"):
                await self.client().initialize()

    async def refresh(self) -> None:
        """Ask the cluster for its slot layout again (after MOVED, a refused node, ...)."""
        if self.is_cluster:
            with mapped_errors("refresh cluster layout"):
                await self.client().nodes_manager.initialize()

    def pipeline(self) -> Any:
        """A non-transactional pipeline on the running loop's client."""
        return self.client().pipeline(transaction=False)

    async def scan(self, pattern: str) -> AsyncIterator[Any]:
        """Every key matching ``pattern`` on every primary (duplicates possible)."""
        kwargs: dict[str, Any] = {"match": pattern, "count": 1000}
        if self.is_cluster:
            kwargs["target_nodes"] = RedisCluster.PRIMARIES
        async for name in self.client().scan_iter(**kwargs):
            yield name

    async def aclose(self) -> None:
        """Close the running loop's client (a later call makes a new one)."""
        with self._lock:
            loop = asyncio.get_running_loop()
            client = self._clients.pop(loop, None)
            self._closers.pop(loop, None)
            nodes = list(self._nodes.pop(loop, {}).values())
        with mapped_errors("close"):
            await _aclose_all([client, *nodes])

    def close(self) -> None:
        """Close every client whose loop allows it from here, and forget them all; later
        calls raise CacheClosedError."""
        with self._lock:
            self.closed = True
            clients, self._clients = self._clients, {}
            nodes, self._nodes = self._nodes, {}
            self._closers = {}
        try:
            here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        for loop, client in clients.items():
            if loop.is_closed():
                continue
            closing = _aclose_all([client, *nodes.get(loop, {}).values()])
            if loop is here:  # called from a coroutine of that loop: close soon after
                task = loop.create_task(closing)
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
            elif loop.is_running():
                asyncio.run_coroutine_threadsafe(closing, loop)
            else:
                with mapped_errors("close"):
                    loop.run_until_complete(closing)


async def _aclose_all(clients: list[Any]) -> None:
    """Close every client of ``clients`` (None skipped), the first error raised last."""
    error: BaseException | None = None
    for client in clients:
        if client is None:
            continue
        try:
            await client.aclose()
        except Exception as exc:  # close the others all the same
            error = error or exc
    if error is not None:
        raise error


def _host_port(name: str) -> tuple[str, int]:
    host, _, port = name.rpartition(":")
    return host, int(port)


def _client_options(conn: Connection) -> dict[str, Any]:
    """Address, database, credentials and TLS settings of a sync client (a cluster's: of a
    node): a unix socket stays a unix socket, TLS stays TLS.

    Raises:
        CapabilityError: a connection class of another kind (its own ``connect``): the
            async client could only guess at it, and would reach another server.
    """
    _, node = conn.primaries()[0]
    pool = node.connection_pool
    kwargs = pool.connection_kwargs
    kind = pool.connection_class
    if kind not in (redis.Connection, redis.SSLConnection, redis.UnixDomainSocketConnection):
        raise CapabilityError(
            f"async calls cannot copy this client's connection class {kind.__qualname__}; "
            "give RedisBackend url= or cluster_nodes= (with its options) for them"
        )
    wanted = ("username", "password", "client_name", "credential_provider")
    found = {name: kwargs[name] for name in wanted if kwargs.get(name) is not None}
    if kind is redis.SSLConnection:
        found["ssl"] = True
        found.update(
            (name, value)
            for name, value in kwargs.items()
            if name in _ASYNC_SSL_OPTIONS and value is not None
        )
    if kind is redis.UnixDomainSocketConnection:
        found.update(unix_socket_path=kwargs["path"], db=kwargs.get("db", 0))
    elif not conn.is_cluster:
        found.update(
            host=kwargs.get("host", "localhost"),
            port=kwargs.get("port", 6379),
            db=kwargs.get("db", 0),
        )
    return found


_ASYNC_SSL_OPTIONS = frozenset(
    name for name in inspect.signature(aredis.Redis).parameters if name.startswith("ssl_")
)


def _close_at_shutdown(
    owner: AsyncConnection, loop: asyncio.AbstractEventLoop, client: Any
) -> AsyncGenerator[None, None]:
    """An async generator, started on ``loop`` and left suspended, whose ``finally``
    closes ``client``: a loop shutting down the usual way (``asyncio.run``, pytest-asyncio,
    ``loop.shutdown_asyncgens()``) closes every async generator still open, so the client
    never outlives its loop unclosed. The owner keeps the generator (the loop holds it
    weakly)."""

    async def closer() -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            nodes = owner._forget(loop, client)
            with contextlib.suppress(Exception):
                await _aclose_all([client, *nodes])

    generator = closer()
    loop.create_task(generator.__anext__())
    return generator
