"""Defects of RedisBackend found by the backend suite and the congruence test, each
pinned by the smallest case that showed it."""

from __future__ import annotations

import time
import zlib

import redis
from semcache_core import SemCache
from semcache_core.backends.local import LocalBackend
from semcache_core.backends.redis import RedisBackend


def _on_shard(shard: int, count: int, stem: str) -> list[str]:
    """``count`` keys that land on ``shard`` of 2 (the backend's crc32 placement)."""
    keys = (f"{stem}{i}" for i in range(1000))
    return [key for key in keys if zlib.crc32(key.encode()) % 2 == shard][:count]


def test_filtered_top_k_looks_past_a_full_shard_of_non_matches(
    redis_client: redis.Redis,
) -> None:
    # Shard 0's first candidates all fail a client-side filter; its best match ranks
    # below them but above shard 1's only match. The first pass found k (= 1) matches
    # from shard 1 and stopped: the better match on shard 0 was never looked at.
    cache = SemCache(backend=RedisBackend(client=redis_client, shards=2))
    crowd = _on_shard(0, 6, "crowd")
    for i, key in enumerate(crowd[:5]):
        cache.set(key, i, vector=[1.0, 0.01 * i], metadata={"tag": "no"})
    cache.set(crowd[5], "best", vector=[1.0, 0.5], metadata={"tag": "yes"})
    (other,) = _on_shard(1, 1, "other")
    cache.set(other, "worse", vector=[0.1, 1.0], metadata={"tag": "yes"})
    hits = cache.search([1.0, 0.0], k=1, filters={"tag": {"$ne": "no"}})  # client-side
    assert [h.value for h in hits] == ["best"]


def test_a_namespace_whose_vectors_all_left_has_no_dimension(redis_client: redis.Redis) -> None:
    # Found by test_congruence_ops: the local backend kept the dimension of a namespace's
    # last vector while vector-less entries stayed in it (refusing vectors of another
    # dimension), and forgot it when the namespace emptied for a moment (replacing its
    # only entry), so the answer hung on history. Redis answers from the vectors held.
    local = SemCache(backend=LocalBackend())
    remote = SemCache(backend=RedisBackend(client=redis_client, exact_below=1_000_000))
    for cache in (local, remote):
        cache.set("plain", 0)
        cache.set("v", 1, vector=[1.0, 0.0, 0.0, 0.0])
        cache.set("v", 1)  # the namespace's only vector leaves; "plain" stays
        assert cache.dim_of() is None and cache.dim is None
        assert cache.search([1.0, 0.0, 0.0], k=3) == []
        cache.set("w", 2, vector=[0.0, 1.0, 0.0])  # another dimension: no vector clashes
        assert cache.dim_of() == 3
        assert [h.key for h in cache.search([0.0, 1.0, 0.0], k=3)] == ["w"]


def test_close_closes_the_connections_of_its_per_node_clients(redis_client: redis.Redis) -> None:
    # Found by a long run of test_congruence_ops: a search's per-node clients were closed
    # without their connection pools (redis-py closes a pool it was handed only when told),
    # so their sockets stayed open until the garbage collector met them.
    before = len(redis_client.client_list())
    backend = RedisBackend(client=redis_client, exact_below=1_000_000)
    cache = SemCache(backend=backend)
    cache.set("v", 1, vector=[1.0, 0.0])
    assert [h.key for h in cache.search([1.0, 0.0], k=1)] == ["v"]
    assert len(redis_client.client_list()) > before  # the search's own connection
    cache.close()
    deadline = time.monotonic() + 5.0  # the server drops a closed connection soon after
    while len(redis_client.client_list()) != before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(redis_client.client_list()) == before  # closed, not left to the collector
