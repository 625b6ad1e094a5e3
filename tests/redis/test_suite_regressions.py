"""Defects of RedisBackend found by the backend suite and the congruence test, each
pinned by the smallest case that showed it."""

from __future__ import annotations

import zlib

import redis
from semcache_core import SemCache
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
