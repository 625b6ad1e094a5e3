"""A ``RedisBackend`` given a ``redis.Redis`` client: its async calls reach the same server
as its sync ones, through the same kind of connection. Before, a client on a unix socket
gave an async twin that dialled localhost:6379 (another server, or none)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import redis
from semcache_core import SemCache
from semcache_core.backends.redis import RedisBackend
from semcache_core.backends.redis.aio_connection import _client_options
from semcache_core.errors import CapabilityError
from semcache_core.redis_local import start_standalone


def test_a_client_on_a_unix_socket_gives_async_calls_the_same_socket(tmp_path: Path) -> None:
    socket = tmp_path / "redis.sock"
    server = start_standalone(
        run_dir=tmp_path / "run", persist=False, extra_config=[f"unixsocket {socket}"]
    )
    try:
        cache = SemCache(backend=RedisBackend(client=redis.Redis(unix_socket_path=str(socket))))
        cache.set("sync", "written in sync")

        async def main() -> tuple[object, object]:
            read = await cache.aget("sync")
            await cache.aset("async", "written in async")
            written = cache.get("async")  # sync
            await cache.aclose()
            return read, written

        assert asyncio.run(main()) == ("written in sync", "written in async")
    finally:
        server.stop()


def test_tls_settings_and_the_database_carry_over() -> None:
    """No I/O: the options the async client is made with (a TLS client keeps its CA and
    verification; a database number stays)."""

    class Sync:
        is_cluster = False

        def __init__(self, client: redis.Redis) -> None:
            self.client = client

        def primaries(self) -> list[tuple[str, redis.Redis]]:
            return [("node", self.client)]

    tls = redis.Redis(host="h", port=7000, db=3, ssl=True, ssl_ca_certs="/ca.pem",
                      ssl_cert_reqs="required", password="secret")  # fmt: skip
    options = _client_options(Sync(tls))  # type: ignore[arg-type]
    assert options["ssl"] is True and options["ssl_ca_certs"] == "/ca.pem"
    assert options["ssl_cert_reqs"] == "required" and options["password"] == "secret"
    assert (options["host"], options["port"], options["db"]) == ("h", 7000, 3)
    unix = _client_options(Sync(redis.Redis(unix_socket_path="/s.sock", db=2)))  # type: ignore[arg-type]
    assert unix["unix_socket_path"] == "/s.sock" and unix["db"] == 2 and "host" not in unix

    class Custom(redis.Connection):
        pass

    custom = redis.Redis(connection_pool=redis.ConnectionPool(connection_class=Custom))
    with pytest.raises(CapabilityError, match="Custom"):
        _client_options(Sync(custom))  # type: ignore[arg-type]
