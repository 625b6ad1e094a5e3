"""Defects a review of the Redis backend found, each on real local Redis servers: an
eviction policy that can drop a whole vector set, a timed-out delete retried behind the
caller's back, raw redis-py errors escaping, and clients that decode replies."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from semcache_core import SemCache
from semcache_core.backends.redis import RedisBackend
from semcache_core.errors import BackendUnavailableError, CacheClosedError, InvalidArgumentError
from semcache_core.redis_local import LocalCluster, LocalServer, start_cluster, start_standalone


@contextmanager
def _standalone(run_dir: Path, *extra: str) -> Iterator[LocalServer]:
    server = start_standalone(run_dir=run_dir, persist=False, extra_config=list(extra))
    try:
        yield server
    finally:
        server.stop()


# --- 1. eviction policy ------------------------------------------------------------------


def test_allkeys_policy_with_maxmemory_warns(tmp_path: Path) -> None:
    with _standalone(tmp_path / "s", "maxmemory 16mb", "maxmemory-policy allkeys-lru") as s:
        with pytest.warns(RuntimeWarning, match="allkeys-lru.*volatile-lru"):
            backend = RedisBackend(s.url)
        backend.close()


def test_volatile_policy_does_not_warn(tmp_path: Path) -> None:
    with _standalone(tmp_path / "s", "maxmemory 16mb", "maxmemory-policy volatile-lru") as s:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            backend = RedisBackend(s.url)
        backend.close()


def test_volatile_lru_with_ttl_keeps_every_live_entry_searchable(tmp_path: Path) -> None:
    """Under the documented policy only entry hashes are evicted: every entry ``get`` still
    returns is found by ``search`` (the vector sets, expiry sets and metas stay)."""
    config = ("maxmemory 12mb", "maxmemory-policy volatile-lru", "maxmemory-samples 10")
    with _standalone(tmp_path / "s", *config) as s:
        cache = SemCache(backend=RedisBackend(s.url), ttl=3600)
        probe = s.client()
        try:
            vectors = np.random.RandomState(0).rand(200, 32) + 0.01
            cache.set_many({f"doc{i}": i for i in range(200)}, vectors=vectors, namespace="faq")
            blob = "x" * 100_000
            for i in range(400):  # ~40 MB into a 12 MB server: evictions must happen
                if i % 20 == 0:
                    for j in range(200):
                        cache.get(f"doc{j}", namespace="faq")
                cache.set(f"big{i}", blob, namespace="bulk")
            assert int(probe.info("stats")["evicted_keys"]) > 0

            def alive() -> set[str]:
                keys = (f"doc{i}" for i in range(200))
                return {key for key in keys if cache.get(key, namespace="faq") is not None}

            # a command may still evict (Redis evicts before any command while over its
            # maxmemory): what search finds lies between what lived before and after it
            before = alive()
            assert before
            hits = cache.search(vectors[0], k=len(before), namespace="faq")
            after = alive()
            assert after <= {hit.key for hit in hits} <= before
        finally:
            probe.close()
            cache.close()


# --- 2. a timed-out delete is not retried --------------------------------------------------


def _stall(server: LocalServer, seconds: float) -> threading.Timer:
    """SIGSTOP the server now and SIGCONT it after ``seconds`` (longer than the socket
    timeout: the first attempt times out, the command is still run once it resumes)."""
    node = server.nodes[0]
    server.pause(node)
    timer = threading.Timer(seconds, lambda: server.resume(node))
    timer.start()
    return timer


def _check_delete_outcome(run_delete, cache: SemCache) -> None:  # type: ignore[no-untyped-def]
    try:
        removed = run_delete()
    except BackendUnavailableError:
        return  # a failure, reported as one (the entry may or may not be gone)
    gone = cache.get("k", "MISS") == "MISS"
    assert (removed, gone) == (True, True), "delete removed the entry but answered False"


def test_timed_out_delete_is_true_or_raises(redis_standalone: LocalServer) -> None:
    cache = SemCache(backend=RedisBackend(redis_standalone.url, socket_timeout=1.0, retries=2))
    try:
        cache.clear()
        cache.set("k", "v")
        timer = _stall(redis_standalone, 1.3)
        try:
            outcome = _delete_or_error(lambda: cache.delete("k"))
        finally:
            timer.join()
        _check_delete_outcome(lambda: _reraise(outcome), cache)
    finally:
        cache.close()


def test_timed_out_adelete_is_true_or_raises(redis_standalone: LocalServer) -> None:
    import asyncio

    cache = SemCache(backend=RedisBackend(redis_standalone.url, socket_timeout=1.0, retries=2))

    async def main() -> object:
        await cache.aset("k", "v")
        timer = _stall(redis_standalone, 1.3)
        try:
            return await cache.adelete("k")
        except BackendUnavailableError as exc:
            return exc
        finally:
            await asyncio.to_thread(timer.join)
            await cache.aclose()

    try:
        cache.clear()
        outcome = asyncio.run(main())
        _check_delete_outcome(lambda: _reraise(outcome), cache)
    finally:
        cache.close()


def _delete_or_error(call):  # type: ignore[no-untyped-def]
    """``call()``'s result, or the BackendUnavailableError it raised."""
    try:
        return call()
    except BackendUnavailableError as exc:
        return exc


def _reraise(outcome: object) -> object:
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


# --- 3. no raw redis-py or builtin error escapes ---------------------------------------------


def test_unreachable_cluster_nodes_raise_backend_unavailable() -> None:
    with pytest.raises(BackendUnavailableError):
        RedisBackend(cluster_nodes=["127.0.0.1:1"], connect_timeout=0.5)


def test_standalone_given_as_cluster_nodes_raises_backend_unavailable(
    redis_standalone: LocalServer,
) -> None:
    with pytest.raises(BackendUnavailableError):
        RedisBackend(cluster_nodes=redis_standalone.nodes, connect_timeout=0.5)


def test_url_without_scheme_is_an_invalid_argument() -> None:
    with pytest.raises(InvalidArgumentError, match="localhost:6379"):
        RedisBackend("localhost:6379")


def test_calls_after_close_raise_cache_closed(redis_cluster: LocalCluster) -> None:
    import asyncio

    cache = SemCache(backend=RedisBackend(cluster_nodes=redis_cluster.nodes))
    cache.set("k", 1, vector=[1.0, 0.0], namespace="closing")
    cache.close()
    calls = {
        "get": lambda: cache.get("k", namespace="closing"),
        "set": lambda: cache.set("k", 2, namespace="closing"),
        "count": lambda: cache.count(),
        "search": lambda: cache.search([1.0, 0.0], namespace="closing"),
        "delete": lambda: cache.delete("k", namespace="closing"),
        "aget": lambda: asyncio.run(cache.aget("k", namespace="closing")),
        "acount": lambda: asyncio.run(cache.acount()),
    }
    for name, call in calls.items():
        with pytest.raises(CacheClosedError):
            call()
            pytest.fail(f"{name} after close did not raise")


def test_async_calls_on_a_down_cluster_raise_backend_unavailable(tmp_path: Path) -> None:
    import asyncio

    cluster = start_cluster(primaries=3, replicas=0, run_dir=tmp_path / "c", persist=False)
    try:
        backend = RedisBackend(cluster_nodes=cluster.nodes, socket_timeout=1, connect_timeout=0.5)
        cache = SemCache(backend=backend)
        cache.set("k", 1, vector=[1.0, 0.0])
    finally:
        cluster.stop()
    try:
        calls = {
            "aget": lambda: cache.aget("k"),
            "asearch": lambda: cache.asearch([1.0, 0.0]),
            "acount": lambda: cache.acount(),
            "aset": lambda: cache.aset("k", 2),
        }
        for call in calls.values():
            with pytest.raises(BackendUnavailableError):
                asyncio.run(call())
    finally:
        cache.close()


# --- 4. a client that decodes replies ------------------------------------------------------


def test_client_with_decode_responses_is_refused(redis_standalone: LocalServer) -> None:
    import redis

    client = redis.Redis.from_url(redis_standalone.url, decode_responses=True)
    try:
        with pytest.raises(InvalidArgumentError, match="decode_responses"):
            RedisBackend(client=client)
    finally:
        client.close()


def test_cluster_client_with_decode_responses_is_refused(redis_cluster: LocalCluster) -> None:
    client = redis_cluster.client(decode_responses=True)
    try:
        with pytest.raises(InvalidArgumentError, match="decode_responses"):
            RedisBackend(client=client)
    finally:
        client.close()


# --- 5. calls that visit every primary learn of a failover -----------------------------


def test_keyspace_calls_recover_after_a_failover_without_a_keyed_call(
    disposable_cluster: LocalCluster,
) -> None:
    """Found by review: count, scan and namespaces visit every primary of the client's
    cached map; after a failover they failed on the dead node at every attempt, until a
    keyed call happened to refresh the map."""
    backend = RedisBackend(cluster_nodes=disposable_cluster.nodes, socket_timeout=1.0)
    cache = SemCache(backend=backend)
    # a second client, its map learned before the kill too, for clear_by_node
    clearing = RedisBackend(cluster_nodes=disposable_cluster.nodes, socket_timeout=1.0)
    try:
        cache.set_many({f"k{i}": i for i in range(30)})
        assert cache.count() == 30
        assert clearing.count(now=0.0) == 30
        disposable_cluster.kill(backend.node_of("", "k1"))
        disposable_cluster.wait_ready(60)
        assert cache.count() == 30  # no keyed call since the kill
        assert cache.namespaces() == [""]
        assert sorted(cache.scan()) == sorted(f"k{i}" for i in range(30))
        assert sum(clearing.clear_by_node().values()) == 30  # its first call since
        assert cache.count() == 0
    finally:
        clearing.close()
        cache.close()
