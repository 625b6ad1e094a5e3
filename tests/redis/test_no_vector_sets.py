"""A real Redis 8 whose user may not run the vector-set commands (an ACL in its config:
``user default ... -vadd -vsim ...``), standing for Redis 7 / Valkey: exact get/set/TTL
work, every semantic call raises :class:`CapabilityError` naming the missing commands, and
the backend says so once, at connect time, as a WARNING log line.

Why an ACL: Redis 8's vector sets are a built-in module, loaded after the config is read
(so ``rename-command VADD ""`` is refused) and never unloadable; a server that lacks them
for real is another build (the probe treats unknown and forbidden alike)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeclock import FakeClock

import redis
from semcache_core import SemCache
from semcache_core.backends.redis import RedisBackend
from semcache_core.backends.redis.connection import VECTOR_COMMANDS
from semcache_core.errors import CapabilityError
from semcache_core.redis_local import LocalServer, start_standalone


@pytest.fixture(scope="module")
def no_vsets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    removed = [f"user default on nopass ~* &* +@all -{' -'.join(VECTOR_COMMANDS).lower()}"]
    server = start_standalone(
        run_dir=tmp_path_factory.mktemp("redis-no-vsets"), persist=False, extra_config=removed
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def backend(no_vsets: LocalServer, caplog: pytest.LogCaptureFixture) -> Iterator[RedisBackend]:
    no_vsets.client().flushall()
    with caplog.at_level(logging.WARNING, logger="semcache.redis"):
        made = RedisBackend(no_vsets.url)
    yield made
    made.close()


def test_the_server_really_lacks_them(no_vsets: LocalServer) -> None:
    with pytest.raises(redis.exceptions.NoPermissionError, match="VCARD"):
        no_vsets.client().execute_command("VCARD", "x")


def test_announced_once_at_connect(backend: RedisBackend, caplog: pytest.LogCaptureFixture) -> None:
    lines = [r for r in caplog.get_records("setup") if r.name == "semcache.redis"]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    for name in VECTOR_COMMANDS:
        assert name in lines[0].getMessage()
    assert backend.vector_sets is False
    caplog.clear()
    cache = SemCache(backend=backend)
    for _ in range(2):
        with pytest.raises(CapabilityError):
            cache.search([1.0, 0.0], k=1)
    assert [r for r in caplog.records if r.name == "semcache.redis"] == []  # once only


def test_exact_get_set_ttl_delete_clear(backend: RedisBackend) -> None:
    clock = FakeClock()
    cache = SemCache(backend=backend, clock=clock)
    cache.set("a", {"answer": 42})
    cache.set("b", b"bytes", ttl=10, metadata={"m": 1})
    cache.set("c", "other", namespace="ns")
    assert cache.get("a") == {"answer": 42}
    assert cache.get("b") == b"bytes"
    assert cache.exists("b")
    assert cache.scan() == ["a", "b"]
    clock.advance(11)
    assert cache.get("b") is None
    assert cache.purge_expired() == 1
    assert cache.delete("a") is True
    assert cache.delete("a") is False
    assert cache.get("c", namespace="ns") == "other"
    cache.clear(namespace="ns")
    assert cache.get("c", namespace="ns") is None
    assert len(cache) == 0


def test_semantic_calls_name_the_missing_capability(backend: RedisBackend) -> None:
    cache = SemCache(backend=backend)
    cache.set("plain", "value")
    calls = {
        "search": lambda: cache.search([1.0, 0.0, 0.0], k=3),
        "search_batch": lambda: cache.search_batch([[1.0, 0.0]], k=1),
        "get_similar": lambda: cache.get_similar([1.0, 0.0], threshold=0.5),
        "set with a vector": lambda: cache.set("v", "x", vector=[1.0, 0.0]),
    }
    for what, call in calls.items():
        with pytest.raises(CapabilityError) as caught:
            call()
        message = str(caught.value)
        assert "vector-set commands" in message and "VADD" in message and "VSIM" in message, what
    # nothing changed: the refused vector write stored nothing
    assert cache.scan() == ["plain"]
    assert cache.get("v") is None


def test_missing_commands_are_named_one_by_one(tmp_path: Path) -> None:
    server = start_standalone(
        run_dir=tmp_path, persist=False, extra_config=["user default on nopass ~* &* +@all -vsim"]
    )
    try:
        backend = RedisBackend(server.url)
        with pytest.raises(CapabilityError, match=r"commands VSIM \("):
            SemCache(backend=backend).search([1.0, 0.0], k=1)
        backend.close()
    finally:
        server.stop()
