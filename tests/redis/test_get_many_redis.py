"""``RedisBackend.get_many`` / ``aget_many`` (standalone and cluster): the answers and the
hit / miss counts of a loop of ``get``, in one pipeline per ``MANY_READS`` keys where the
loop takes one round trip per key; and what reads through them (``SemCache.get_many``,
``get_or_compute_many``, verified mode's recall) on Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import redis
from semcache_core import SemCache
from semcache_core.backends.base import EntryWrite, read_many
from semcache_core.backends.redis import RedisBackend
from semcache_core.backends.redis.entry_codec import MANY_READS
from semcache_core.codec import encode_metadata

NOW = 1_000.0
KEYS = [f"k{i}" for i in range(12)]


@pytest.fixture(params=["standalone", "cluster"])
def client(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(
        "redis_client" if request.param == "standalone" else "cluster_client"
    )


def flush(client: Any) -> None:
    if isinstance(client, redis.RedisCluster):
        client.flushall(target_nodes=redis.RedisCluster.PRIMARIES)
    else:
        client.flushall()


def write(key: str, expires_at: float | None, vector: bool) -> EntryWrite:
    unit = np.array([1.0, 0.0, 0.0], dtype=np.float32) if vector else None
    return EntryWrite(key, key.encode(), encode_metadata({"of": key}), "", expires_at, unit)


def answers(found: list[Any]) -> list[Any]:
    return [None if e is None else (e.key, e.value, e.metadata, e.expires_at) for e in found]


class CountedPipelines:
    """Counts the pipelines a backend's (sync or async) connection hands out (the real
    ones)."""

    def __init__(self, backend: Any) -> None:
        self.made = 0
        original = backend._conn.pipeline

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.made += 1
            return original(*args, **kwargs)

        backend._conn.pipeline = counted  # type: ignore[method-assign]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    stored=st.dictionaries(
        st.sampled_from(KEYS), st.tuples(st.sampled_from([None, NOW - 1, NOW + 60]), st.booleans())
    ),
    asked=st.lists(st.sampled_from(KEYS), max_size=30),
)
def test_get_many_answers_and_counts_as_a_loop_of_get(
    client: Any, stored: dict[str, tuple[float | None, bool]], asked: list[str]
) -> None:
    flush(client)
    backend = RedisBackend(client=client)
    writes = [write(key, expires, vector) for key, (expires, vector) in stored.items()]
    backend.set_many(writes, NOW - 10)
    before = backend.counters()
    looped = [backend.get("", key, NOW) for key in asked]
    middle = backend.counters()
    assert answers(backend.get_many("", asked, NOW)) == answers(looped)
    after = backend.counters()
    assert (after.hits - middle.hits, after.misses - middle.misses) == (
        middle.hits - before.hits,
        middle.misses - before.misses,
    )
    assert answers(backend.get_many("", asked, NOW, count=False)) == answers(looped)
    assert (backend.counters().hits, backend.counters().misses) == (after.hits, after.misses)

    async def read() -> list[Any]:
        assert backend.aio is not None
        try:
            return await backend.aio.aget_many("", asked, NOW)
        finally:
            await backend.aio.aclose()

    assert answers(asyncio.run(read())) == answers(looped)
    backend.close()


def test_get_many_is_one_pipeline_per_many_reads_keys(client: Any) -> None:
    backend = RedisBackend(client=client)
    keys = [f"key:{i}" for i in range(MANY_READS + 88)]
    backend.set_many([write(key, None, False) for key in keys], NOW)
    counted = CountedPipelines(backend)
    found = backend.get_many("", keys, NOW)
    assert [entry.key for entry in found if entry is not None] == keys
    assert counted.made == 2  # every key found: no shard count to check again
    backend.close()


def test_a_worker_with_a_stale_shard_count_finds_every_key(redis_client: redis.Redis) -> None:
    one = RedisBackend(client=redis_client)  # one shard (standalone)
    one.set_many([write("x", None, False)], NOW)  # its shard count (1) is cached
    two = RedisBackend(client=redis_client, shards=2)
    two.clear("")
    two.set_many([write(key, None, False) for key in KEYS], NOW)  # now two shards
    assert [entry.key for entry in one.get_many("", KEYS, NOW) if entry is not None] == KEYS

    async def read() -> list[Any]:
        two.clear("")
        stale = RedisBackend(client=redis_client)
        stale.set_many([write("y", None, False)], NOW)  # caches one shard, then two moves it
        two.clear("")
        two.set_many([write(key, None, False) for key in KEYS], NOW)
        assert stale.aio is not None
        try:
            return await stale.aio.aget_many("", KEYS, NOW)
        finally:
            await stale.aio.aclose()

    assert [entry.key for entry in asyncio.run(read()) if entry is not None] == KEYS


@pytest.fixture
def cache(client: Any) -> Iterator[SemCache]:
    made = SemCache(backend=RedisBackend(client=client))
    yield made
    made.close()


def test_the_facade_reads_many_keys_in_pipelines(cache: SemCache) -> None:
    keys = [f"doc:{i}" for i in range(MANY_READS * 2 + 5)]
    cache.set_many([(key, {"n": i}) for i, key in enumerate(keys) if i % 3])
    counted = CountedPipelines(cache._backend)  # type: ignore[arg-type]
    asked = [*keys, keys[1], "absent"]
    expected = [None if i % 3 == 0 else {"n": i} for i in range(len(keys))]
    assert cache.get_many(asked, default=None) == [*expected, {"n": 1}, None]
    assert 3 <= counted.made <= 3 + 3  # three batches, read again once for the stale-count check
    aio = cache._backend.aio  # type: ignore[attr-defined]
    counted_async = CountedPipelines(aio)
    assert asyncio.run(cache.aget_many(asked)) == [*expected, {"n": 1}, None]
    assert 3 <= counted_async.made <= 3 + 3

    computed: list[list[str]] = []

    def embed(batch: list[str]) -> list[int]:
        computed.append(batch)
        return [len(key) for key in batch]

    values = cache.get_or_compute_many(keys, embed)
    assert computed == [[key for i, key in enumerate(keys) if i % 3 == 0]]
    assert values == [len(key) if i % 3 == 0 else {"n": i} for i, key in enumerate(keys)]


def test_read_many_of_a_backend_without_get_many_reads_each_key(client: Any) -> None:
    """A backend of one's own (here: a wrapper hiding ``get_many``) reads as before."""
    redis_backend = RedisBackend(client=client)
    redis_backend.set_many([write("a", None, False)], NOW)

    class OwnBackend:
        def get(self, namespace: str, key: str, now: float, count: bool = True) -> Any:
            return redis_backend.get(namespace, key, now, count)

    found = read_many(OwnBackend(), "", ["a", "b", "a"], NOW, count=False, touch=False)  # type: ignore[arg-type]
    assert answers(found) == answers([redis_backend.get("", k, NOW) for k in ("a", "b", "a")])
    redis_backend.close()
