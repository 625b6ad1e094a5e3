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
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import redis.asyncio as aredis
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.cluster import RedisCluster

from .connection import Connection, mapped_errors

__all__ = ["AsyncConnection"]


class AsyncConnection:
    """Makes and keeps one ``redis.asyncio`` client per event loop."""

    def __init__(self, make: Callable[[], Any], is_cluster: bool) -> None:
        self._make = make  # no I/O: a client connects on its first command
        self.is_cluster = is_cluster
        self._clients: dict[asyncio.AbstractEventLoop, Any] = {}
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
        if url is None and cluster_nodes is None:  # a client was passed: its address
            options.update(_client_options(conn))
            if conn.is_cluster:
                cluster_nodes = [name for name, _ in conn.primaries()]

        def make() -> Any:
            # bounded: redis-py's defaults can retry for seconds on a dead node
            retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), retries)
            if cluster_nodes is not None:
                nodes = [ClusterNode(*_host_port(name)) for name in cluster_nodes]
                return aredis.RedisCluster(startup_nodes=nodes, retry=retry, **options)
            if url is None:
                return aredis.Redis(retry=retry, **options)
            return aredis.Redis.from_url(url, retry=retry, **options)

        return cls(make, conn.is_cluster)

    def client(self) -> Any:
        """The client of the running event loop (made on its first call)."""
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

    def _forget(self, loop: asyncio.AbstractEventLoop, client: Any) -> None:
        with self._lock:
            if self._clients.get(loop) is client:
                del self._clients[loop]
            self._closers.pop(loop, None)

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
        if client is not None:
            with mapped_errors("close"):
                await client.aclose()

    def close(self) -> None:
        """Close every client whose loop allows it from here, and forget them all."""
        with self._lock:
            clients, self._clients = self._clients, {}
            self._closers = {}
        try:
            here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        for loop, client in clients.items():
            if loop.is_closed():
                continue
            if loop is here:  # called from a coroutine of that loop: close soon after
                task = loop.create_task(client.aclose())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
            elif loop.is_running():
                asyncio.run_coroutine_threadsafe(client.aclose(), loop)
            else:
                with mapped_errors("close"):
                    loop.run_until_complete(client.aclose())


def _host_port(name: str) -> tuple[str, int]:
    host, _, port = name.rpartition(":")
    return host, int(port)


def _client_options(conn: Connection) -> dict[str, Any]:
    """Address, database and credentials of a sync client (a cluster's: of a node)."""
    _, node = conn.primaries()[0]
    kwargs = node.connection_pool.connection_kwargs
    wanted = ("username", "password", "client_name")
    found = {name: kwargs[name] for name in wanted if kwargs.get(name) is not None}
    if not conn.is_cluster:
        found.update(
            host=kwargs.get("host", "localhost"),
            port=kwargs.get("port", 6379),
            db=kwargs.get("db", 0),
        )
    return found


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
            owner._forget(loop, client)
            with contextlib.suppress(Exception):
                await client.aclose()

    generator = closer()
    loop.create_task(generator.__anext__())
    return generator
