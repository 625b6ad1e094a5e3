"""Failover on a real disposable cluster (3 primaries + 3 replicas, AOF on): under a
steady write/read load, SIGKILL one primary. Reads of keys on other shards keep working;
once its replica is promoted (bounded wait) every acknowledged key is readable; with
``min_replica_acks=1`` no acknowledged write is lost; the restarted node rejoins as a
replica. Plus: every failure class we can produce for real maps to a typed error."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import redis
from semcache_core import SemCache
from semcache_core.backends.redis import RedisBackend
from semcache_core.backends.redis.connection import map_error
from semcache_core.errors import (
    BackendError,
    BackendUnavailableError,
    CapabilityError,
    InvalidArgumentError,
    ReplicationError,
)
from semcache_core.redis_local import LocalCluster, start_standalone


def _wait(condition, what: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)


def _entry_node(cluster: LocalCluster, backend: RedisBackend, key: str) -> str:
    tags = backend._shards("", create=False)
    assert tags is not None
    return cluster.node_for_key(backend._keys.entry_key(backend._tag_of(tags, key), key))


def test_sigkill_a_primary_under_load_loses_no_acknowledged_write(
    disposable_cluster: LocalCluster,
) -> None:
    backend = RedisBackend(
        cluster_nodes=disposable_cluster.nodes[:1],
        socket_timeout=1.0,
        retries=2,
        min_replica_acks=1,
        replica_ack_timeout=1.0,
    )
    cache = SemCache(backend=backend)
    for i in range(30):
        cache.set(f"seed{i}", i)
    victim = _entry_node(disposable_cluster, backend, "seed0")
    others = [
        f"seed{i}"
        for i in range(30)
        if _entry_node(disposable_cluster, backend, f"seed{i}") != victim
    ]
    assert others

    acked: dict[str, int] = {}
    refused: list[str] = []
    stop = threading.Event()

    def load() -> None:
        i = 0
        while not stop.is_set():
            key = f"w{i}"
            try:
                cache.set(key, i)
                acked[key] = i
            except (BackendUnavailableError, ReplicationError) as exc:
                refused.append(f"{key}: {type(exc).__name__}")
            i += 1

    writer = threading.Thread(target=load)
    writer.start()
    try:
        _wait(lambda: len(acked) >= 20, "20 writes before the kill")
        disposable_cluster.kill(victim)
        # reads of keys on the other shards keep working while the victim is dead
        for key in others:
            assert cache.get(key) == int(key[4:])

        # its replica is promoted: the victim's keys read again
        def promoted() -> bool:
            try:
                return cache.get("seed0") == 0
            except BackendUnavailableError:
                return False

        _wait(promoted, "replica promoted")
        _wait(lambda: len(acked) >= 60, "writes go on after the failover")
    finally:
        stop.set()
        writer.join()
    # writes to the dead shard were refused with typed errors (never raw redis ones)
    assert all(r.endswith(("BackendUnavailableError", "ReplicationError")) for r in refused)
    for key, value in acked.items():
        assert cache.get(key) == value, key  # every acknowledged write survived
    for i in range(30):
        assert cache.get(f"seed{i}") == i

    disposable_cluster.restart(victim)
    _wait(lambda: disposable_cluster.roles().get(victim, "").startswith("replica of "), "rejoin")
    assert victim in disposable_cluster.replicas
    for key, value in acked.items():
        assert cache.get(key) == value
    cache.close()


def test_min_replica_acks_on_a_standalone_without_replicas_is_refused(
    redis_standalone,  # type: ignore[no-untyped-def]
) -> None:
    with pytest.raises(ReplicationError, match="has 0 replica"):
        RedisBackend(redis_standalone.url, min_replica_acks=1)
    for bad in (-1, 1.5, True):
        with pytest.raises(InvalidArgumentError, match="min_replica_acks"):
            RedisBackend(redis_standalone.url, min_replica_acks=bad)
    with pytest.raises(InvalidArgumentError, match="replica_ack_timeout"):
        RedisBackend(redis_standalone.url, replica_ack_timeout=0)


def test_a_write_the_replicas_do_not_confirm_raises_replication_error(
    disposable_cluster: LocalCluster,
) -> None:
    backend = RedisBackend(
        cluster_nodes=disposable_cluster.nodes[:1],
        min_replica_acks=1,
        replica_ack_timeout=0.2,
        socket_timeout=2.0,
    )
    cache = SemCache(backend=backend)
    cache.set("k", 1)  # confirmed by its replica
    primary = _entry_node(disposable_cluster, backend, "k")
    replica = next(
        n for n in disposable_cluster.replicas if _replica_of(disposable_cluster, n) == primary
    )
    disposable_cluster.pause(replica)
    try:
        with pytest.raises(ReplicationError, match="0 of 1 replica") as caught:
            cache.set("k", 2)
        assert caught.value.node == primary and caught.value.acked == 0
        assert cache.get("k") == 2  # applied on the primary, not acknowledged
        with pytest.raises(ReplicationError):
            cache.delete("k")
    finally:
        disposable_cluster.resume(replica)
    cache.close()


def _replica_of(cluster: LocalCluster, replica: str) -> str:
    info = cluster.node(replica).client().info("replication")
    return f"{info['master_host']}:{info['master_port']}"


def test_each_failure_class_maps_to_a_typed_error(tmp_path: Path) -> None:
    server = start_standalone(run_dir=tmp_path / "s", persist=False)
    backend = RedisBackend(server.url, socket_timeout=0.5, connect_timeout=0.5, retries=1)
    cache = SemCache(backend=backend)
    cache.set("a", 1)
    # a script error: the server refused; the message is the server's
    client = server.client()
    with pytest.raises(redis.exceptions.ResponseError) as raw:
        client.execute_command("EVAL", "return redis.call('NOPE')", 0)
    error = map_error(raw.value, "probe")
    assert type(error) is BackendError and "script" in str(error) and "probe" in str(error)
    # an unknown command: a missing capability
    with pytest.raises(redis.exceptions.ResponseError) as raw:
        client.execute_command("NOPE")
    assert isinstance(map_error(raw.value, "probe"), CapabilityError)
    # a paused server: timeout, within the retry budget
    server.pause(server.nodes[0])
    try:
        with pytest.raises(BackendUnavailableError, match="get: redis unreachable"):
            cache.get("a")
        with pytest.raises(BackendUnavailableError, match=server.nodes[0]):
            cache.search([1.0, 0.0], k=1)
    finally:
        server.resume(server.nodes[0])
    assert cache.get("a") == 1
    # a server that is gone: refused
    server.stop()
    with pytest.raises(BackendUnavailableError, match="unreachable"):
        cache.get("a")
    with pytest.raises(BackendUnavailableError):
        RedisBackend(server.url, connect_timeout=0.5)
    cache.close()


def test_cluster_down_for_a_slot_is_unavailable(disposable_cluster: LocalCluster) -> None:
    backend = RedisBackend(cluster_nodes=disposable_cluster.nodes[:1], socket_timeout=1.0)
    cache = SemCache(backend=backend)
    cache.set("k", 1)
    primary = _entry_node(disposable_cluster, backend, "k")
    replica = next(
        n for n in disposable_cluster.replicas if _replica_of(disposable_cluster, n) == primary
    )
    disposable_cluster.kill(replica)
    disposable_cluster.kill(primary)  # the slot has no one left to serve it
    with pytest.raises(BackendUnavailableError):
        cache.get("k")
    with pytest.raises(BackendUnavailableError):
        cache.set("k", 2)
    cache.close()
