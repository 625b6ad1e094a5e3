"""Several workers (RedisBackend objects) on one server: a namespace one of them cleared
and another wrote again stays visible to every worker, with each key in one shard
(found by review: the meta hash was recreated without its shard count, hiding the
namespace from new workers, and workers with different shard counts kept two copies)."""

from __future__ import annotations

from typing import Any

import numpy as np

import redis
from semcache_core.backends.base import EntryWrite
from semcache_core.backends.redis import RedisBackend
from semcache_core.codec import encode_metadata

NOW = 1_000.0


def write(key: str, value: bytes, vector: Any = None) -> EntryWrite:
    unit = None if vector is None else np.asarray(vector, dtype=np.float32)
    return EntryWrite(key, value, encode_metadata({}), "", None, unit)


def test_a_write_after_another_workers_clear_is_seen_by_every_worker(
    redis_client: redis.Redis,
) -> None:
    first, second = RedisBackend(client=redis_client), RedisBackend(client=redis_client)
    first.set_many([write("k1", b"1", [1.0, 0.0, 0.0])], NOW)
    second.clear("")
    first.set_many([write("k2", b"2", [1.0, 0.0, 0.0])], NOW)  # its shard count is cached
    fresh = RedisBackend(client=redis_client)
    found = fresh.get("", "k2", NOW)
    assert found is not None and found.value == b"2"
    assert fresh.scan("", "", None, NOW) == ["k2"] and fresh.count(NOW, "") == 1
    hits = fresh.search(np.array([[1.0, 0.0, 0.0]], np.float32), 5, "", None, NOW)[0]
    assert [entry.key for entry, _ in hits] == ["k2"]


def test_workers_with_other_shard_counts_keep_one_copy_of_a_key(
    redis_client: redis.Redis,
) -> None:
    one = RedisBackend(client=redis_client)  # one shard (standalone)
    two = RedisBackend(client=redis_client, shards=2)
    one.set_many([write("x", b"v1")], NOW)
    two.clear("")
    two.set_many([write("x", b"v2")], NOW)  # the namespace now has two shards
    one.set_many([write("x", b"v3")], NOW)  # follows the meta's count, not its cached one
    reader = RedisBackend(client=redis_client)
    assert reader.scan("", "", None, NOW) == ["x"]
    for backend in (one, two, reader):
        found = backend.get("", "x", NOW)
        assert found is not None and found.value == b"v3"
    assert reader.delete("", "x", NOW) and one.get("", "x", NOW) is None
