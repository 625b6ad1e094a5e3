"""DistributedSemanticKV with nodes down, found by review: a dead replica stopped every new
``replication_factor=2`` client from starting; ``clear_all`` with a primary down cleared
the others and raised, without counts; ``cluster_stats`` kept a dead primary as a primary
(the migration doc's recipe raised ``KeyError``) and lacked the seed's per-node counters;
the doc did not say that ``search`` matches values where the seed matched keys."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import redis
from semcache_core import DistributedSemanticKV
from semcache_core.backends.redis import RedisBackend
from semcache_core.errors import ReplicationError
from semcache_core.redis_local import LocalCluster, LocalServer

ROOT = Path(__file__).resolve().parents[2]

SEED_NODE_KEYS = {  # the seed node's _action_stats
    "node_id",
    "location",
    "total_keys",
    "index_size",
    "embedding_dim",
    "uptime_seconds",
    "metrics",
    "hit_rate",
    "total_ops",
}


def _until(check: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.1)


def _node(address: str) -> redis.Redis:
    host, port = address.split(":")
    return redis.Redis(host=host, port=int(port))


def _entries_on(address: str) -> int:
    node = _node(address)
    try:
        return sum(1 for _ in node.scan_iter(match="semcache:{*}:e:*"))
    finally:
        node.close()


def _recipe(stats: dict[str, Any]) -> int:
    """The migration doc's count of entries: total_keys summed over the primaries."""
    return sum(
        n["total_keys"] for a, n in stats.items() if a != "_client" and n["role"] == "primary"
    )


def test_a_dead_replica_stops_no_client_from_starting(disposable_cluster: LocalCluster) -> None:
    """Found by review: ``replication_factor=2`` with one replica dead raised
    ReplicationError ("every write would fail") at construction, even for reads."""
    cluster = disposable_cluster
    keys = [f"k{i}" for i in range(30)]
    with DistributedSemanticKV([cluster.urls[0]], 2) as kv:
        for key in keys:
            kv.put(key, f"value of {key}".encode())
        holder = {key: kv.cache.backend.node_of(kv.namespace, key) for key in keys}
    shard = cluster.shards()[0]
    orphan, (victim,) = shard.primary, shard.replicas
    cluster.kill(victim)
    orphan_client = _node(orphan)
    _until(lambda: orphan_client.info("replication")["connected_slaves"] == 0, "replica gone")
    orphan_client.close()

    with DistributedSemanticKV([cluster.urls[0]], 2, search_timeout=1.0) as kv:
        assert [kv.get(key) for key in keys] == [f"value of {key}".encode() for key in keys]
        on_orphan = next(key for key in keys if holder[key] == orphan)
        elsewhere = next(key for key in keys if holder[key] != orphan)
        assert kv.put(elsewhere, b"acknowledged")  # its primary still has its replica
        with pytest.raises(ReplicationError, match="0 of 1 replica"):
            kv.put(on_orphan, b"applied, not acknowledged")
        assert kv.get(on_orphan) == b"applied, not acknowledged"

    # RedisBackend itself keeps its documented refusal, unless told not to check
    with pytest.raises(ReplicationError, match=f"primary {orphan} .* every write to it"):
        RedisBackend(cluster_nodes=[cluster.nodes[0]], min_replica_acks=1)
    RedisBackend(cluster_nodes=[cluster.nodes[0]], min_replica_acks=1, check_replicas=False).close()


def test_a_dead_primary_in_stats_and_clear_all_before_and_after_its_failover(
    disposable_cluster: LocalCluster,
) -> None:
    """Found by review: the dead primary stayed ``role: "primary"`` (without total_keys:
    the doc's recipe raised KeyError); ``clear_all`` cleared the live primaries and raised
    (the seed: ``-1`` for the failed node, counts for the others); after the failover an
    rf=2 client's ``clear_all`` raised ReplicationError for the promoted primary."""
    cluster = disposable_cluster
    keys = [f"k{i}" for i in range(60)]
    kv = DistributedSemanticKV([cluster.urls[0]], 2, search_timeout=1.0)
    try:
        for key in keys:
            kv.put(key, f"value of {key}".encode())  # each on a replica too (rf=2)
        holder = {key: kv.cache.backend.node_of(kv.namespace, key) for key in keys}
        shard = cluster.shards()[0]
        victim, (heir,) = shard.primary, shard.replicas
        others = [p for p in cluster.primaries if p != victim]
        on_victim = sum(1 for key in keys if holder[key] == victim)
        heir_client = _node(heir)
        heir_client.config_set("cluster-replica-no-failover", "yes")  # not yet: see below
        cluster.kill(victim)

        stats = kv.cluster_stats()
        assert stats[victim]["role"] is None and stats[victim]["last_role"] == "primary"
        assert "error" in stats[victim] and stats["_client"]["primaries"] == 2
        assert _recipe(stats) == len(keys) - on_victim

        removed = kv.clear_all()
        assert removed == {
            victim: -1,
            **{p: sum(1 for k in keys if holder[k] == p) for p in others},
        }
        assert all(_entries_on(p) == 0 for p in others)
        assert kv.cluster_stats()["_client"]["metrics"]["errors"] == 1

        heir_client.config_set("cluster-replica-no-failover", "no")
        _until(lambda: heir in cluster.primaries, "the replica is promoted")
        heir_client.close()
        stats = kv.cluster_stats()
        assert stats[victim]["role"] is None and stats["_client"]["primaries"] == 3
        assert _recipe(stats) == on_victim == stats[heir]["total_keys"] > 0
        # the heir has no replica now: its deletions are not acknowledged, but applied
        assert kv.clear_all() == {heir: on_victim, **dict.fromkeys(others, 0)}
        assert _entries_on(heir) == 0 and kv.scan() == []
        with pytest.raises(ReplicationError):
            kv.put(next(k for k in keys if holder[k] == victim), b"applied")
    finally:
        kv.close()


@pytest.fixture
def kv(redis_standalone: LocalServer, redis_client: redis.Redis) -> Iterator[DistributedSemanticKV]:
    client = DistributedSemanticKV([redis_standalone.url])
    yield client
    client.close()


def test_node_stats_have_the_seeds_keys_from_the_servers_info(
    kv: DistributedSemanticKV, redis_standalone: LocalServer, redis_client: redis.Redis
) -> None:
    """Found by review: no ``uptime_seconds``/``metrics``/``hit_rate``/``total_ops``, and
    ``embedding_dim`` None until a text value was stored (the seed: its provider's)."""
    (address,) = redis_standalone.nodes
    assert kv.cluster_stats()[address]["embedding_dim"] == 256  # the built-in embedder's
    kv.put("k", b"some text")
    kv.get("k")
    kv.get("absent")
    before = redis_client.info()
    node = kv.cluster_stats()[address]
    after = redis_client.info()
    assert set(node) >= SEED_NODE_KEYS and node["embedding_dim"] == 256

    def between(value: Any, field: str) -> bool:
        return bool(before[field] <= value <= after[field])

    assert between(node["uptime_seconds"], "uptime_in_seconds")
    assert between(node["total_ops"], "total_commands_processed")
    metrics = node["metrics"]
    assert metrics["commands"] == node["total_ops"]
    assert between(metrics["keyspace_hits"], "keyspace_hits") and metrics["keyspace_hits"] > 0
    assert between(metrics["keyspace_misses"], "keyspace_misses")
    lookups = metrics["keyspace_hits"] + metrics["keyspace_misses"]
    assert node["hit_rate"] == metrics["keyspace_hits"] / lookups


def test_search_matches_values_not_keys_as_the_migration_doc_says(
    kv: DistributedSemanticKV,
) -> None:
    """Found by review: the seed's node embedded keys (its README said values); ours
    embeds values, and the doc's table of differences did not say so."""
    kv.put("user:alice:profile", b"senior backend engineer")
    assert kv.search("user:alice:profile") == []
    assert kv.search("senior backend engineer")[0][0] == "user:alice:profile"
    doc = (ROOT / "docs" / "migration" / "semantic-kv.md").read_text()
    rows = [line for line in doc.splitlines() if line.startswith("| `search` compared")]
    assert len(rows) == 1 and "*keys*" in rows[0] and "*values*" in rows[0]
