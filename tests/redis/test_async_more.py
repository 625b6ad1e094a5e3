"""More async twins on RedisBackend, each equal to its sync twin without a worker thread
(see ``_threadless`` in test_async_redis.py): the keyspace calls (count, scan, namespaces,
clear, purge_expired, dims, stats), replica acknowledgements (``min_replica_acks``) and
partial search within one deadline (``allow_partial``), on real servers."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from fakeclock import FakeClock
from test_async_redis import _threadless

import redis
from semcache_core import SemCache
from semcache_core.backends.redis import RedisBackend
from semcache_core.errors import (
    BackendUnavailableError,
    InvalidArgumentError,
    ReplicationError,
)
from semcache_core.redis_local import LocalCluster
from semcache_core.search_hits import SearchHits

DEADLINE = 1.0  # socket_timeout of the partial-search backend: every shard together


@pytest.fixture(params=["standalone", "cluster"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[RedisBackend]:
    if request.param == "standalone":
        client: Any = request.getfixturevalue("redis_client")
    else:
        client = request.getfixturevalue("cluster_client")
    made = RedisBackend(client=client)
    yield made
    assert made.aio is not None
    await made.aio.aclose()
    made.close()


def _fill(cache: SemCache) -> None:
    """Three namespaces, two of them with vectors (of different dimensions), some keys
    expiring after 5 s of the cache's clock."""
    rng = np.random.default_rng(7)
    cache.set_many(
        {f"doc:{i}": i for i in range(8)},
        vectors=rng.normal(size=(8, 4)).astype(np.float32),
        namespace="a",
    )
    cache.set_many({f"tmp:{i}": i for i in range(3)}, ttl=5, namespace="a")
    cache.set_many(
        {f"x{i}": str(i) for i in range(5)},
        vectors=rng.normal(size=(5, 3)).astype(np.float32),
        ttl=5,
        namespace="b",
    )
    cache.set_many({"p": 1, "q": 2, "doc:z": 3})  # the default namespace "", no vectors


async def test_keyspace_twins_match_sync_without_threads(backend: RedisBackend) -> None:
    clock = FakeClock()
    cache = SemCache(backend=backend, clock=clock)
    _fill(cache)

    async def reads() -> None:
        assert await cache.alen() == len(cache) == 19
        for namespace in (None, "", "a", "b", "none"):
            assert await cache.acount(namespace) == cache.count(namespace)
        assert await cache.anamespaces() == cache.namespaces() == ["", "a", "b"]
        for prefix, limit, namespace in (
            ("", None, "a"),
            ("doc:", 3, "a"),
            ("doc:", None, ""),
            ("tmp:", 0, "a"),
            ("zz", None, "b"),
        ):
            got = await cache.ascan(prefix, limit, namespace=namespace)
            assert got == cache.scan(prefix, limit, namespace=namespace)
        assert await cache.ascan("doc:", 3, namespace="a") == ["doc:0", "doc:1", "doc:2"]
        for namespace in ("", "a", "b", "none"):
            assert await cache.adim_of(namespace) == cache.dim_of(namespace)
        assert await cache.adim() is cache.dim is None  # "a" and "b" differ
        assert await cache.astats() == cache.stats()
        # bad input: the sync twin's exception, before any I/O
        for bad in (
            lambda: cache.ascan(3),  # type: ignore[arg-type]
            lambda: cache.ascan("", -1),
        ):
            with pytest.raises(InvalidArgumentError):
                await bad()
        with pytest.raises(InvalidArgumentError) as sync_error:
            cache.count(3)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError) as async_error:
            await cache.acount(3)  # type: ignore[arg-type]
        assert str(async_error.value) == str(sync_error.value)

    await _threadless(reads)

    clock.advance(10)  # "b" and a's tmp: keys expire, on the cache's clock

    async def after_expiry() -> None:
        assert await cache.alen() == len(cache) == 11
        assert await cache.anamespaces() == cache.namespaces() == ["", "a"]
        assert await cache.apurge_expired() == 8
        assert cache.purge_expired() == 0  # nothing left for the sync twin
        assert await cache.adim_of("b") is cache.dim_of("b") is None
        assert await cache.adim() == cache.dim == 4
        assert await cache.astats() == cache.stats()
        assert cache.stats().expirations == 8
        await cache.aclear("a")
        assert cache.namespaces() == [""] and cache.dim_of("a") is None
        assert await cache.acount() == cache.count() == 3

    await _threadless(after_expiry)

    # the same data, purged by the sync twin: the same count
    cache.clear()
    clock.advance(-10)
    _fill(cache)
    clock.advance(10)
    assert cache.purge_expired() == 8

    async def clear_all() -> None:
        await cache.aclear()
        assert await cache.alen() == 0 and await cache.anamespaces() == []
        assert await cache.adim() is None

    await _threadless(clear_all)
    assert len(cache) == 0 and backend.dims == {}


# --- min_replica_acks ----------------------------------------------------------------------


def _entry_key(backend: RedisBackend, key: str, namespace: str = "") -> str:
    tags = backend._shards(namespace, create=False)
    assert tags is not None
    return backend._keys.entry_key(backend._tag_of(tags, key), key)


def _replica_of(cluster: LocalCluster, replica: str) -> str:
    info = cluster.node(replica).client().info("replication")
    return f"{info['master_host']}:{info['master_port']}"


def _replica_for(cluster: LocalCluster, primary: str) -> str:
    return next(n for n in cluster.replicas if _replica_of(cluster, n) == primary)


async def test_acknowledged_async_writes_are_on_a_replica(
    redis_cluster: LocalCluster, cluster_client: Any
) -> None:
    backend = RedisBackend(client=cluster_client, min_replica_acks=1, replica_ack_timeout=2.0)
    assert backend.aio is not None  # with acks too
    cache = SemCache(backend=backend)
    vector = np.ones(4, np.float32)

    async def writes() -> None:
        for i in range(6):  # keys over several primaries
            await cache.aset(f"k{i}", i, vector=vector + i)
        await cache.aset_many({"m": "M"}, vectors=[vector], namespace="n")
        assert await cache.adelete("k5") is True

    await _threadless(writes)
    for key, present in [*((f"k{i}", True) for i in range(5)), ("k5", False)]:
        name = _entry_key(backend, key)
        host, _, port = _replica_for(redis_cluster, redis_cluster.node_for_key(name)).rpartition(
            ":"
        )
        reader = redis.Redis(host=host, port=int(port))
        try:
            reader.execute_command("READONLY")  # a replica serves its primary's slots
            # acknowledged: on the replica already (or gone from it), no waiting
            assert reader.exists(name) == int(present), key
        finally:
            reader.close()
    await _threadless(lambda: cache.aclear("n"))
    assert cache.count("n") == 0
    await cache.aclose()


async def test_a_paused_replica_makes_the_async_write_raise(
    disposable_cluster: LocalCluster,
) -> None:
    backend = RedisBackend(
        cluster_nodes=disposable_cluster.nodes[:1],
        min_replica_acks=1,
        replica_ack_timeout=0.2,
        socket_timeout=2.0,
    )
    cache = SemCache(backend=backend)
    await cache.aset("k", 1)  # confirmed by its replica
    primary = disposable_cluster.node_for_key(_entry_key(backend, "k"))
    replica = _replica_for(disposable_cluster, primary)
    disposable_cluster.pause(replica)
    try:

        async def unconfirmed() -> None:
            with pytest.raises(ReplicationError, match="0 of 1 replica") as caught:
                await cache.aset("k", 2)
            assert caught.value.node == primary and caught.value.acked == 0
            assert await cache.aget("k") == 2  # applied on the primary, not acknowledged
            with pytest.raises(ReplicationError):
                await cache.adelete("k")

        await _threadless(unconfirmed)
    finally:
        disposable_cluster.resume(replica)
    await cache.aclose()


# --- allow_partial -------------------------------------------------------------------------


async def test_paused_shard_async_search_raises_or_gives_a_marked_partial_result(
    disposable_cluster: LocalCluster,
) -> None:
    backend = RedisBackend(
        cluster_nodes=disposable_cluster.nodes[:1], socket_timeout=DEADLINE, retries=1
    )
    cache = SemCache(backend=backend)
    vectors = np.random.default_rng(3).normal(size=(60, 8)).astype(np.float32)
    cache.set_many({f"k{i}": i for i in range(60)}, vectors=vectors)
    query = vectors[0]
    full = await cache.asearch(query, k=60)
    assert len(full) == 60 and not full.partial  # type: ignore[attr-defined]
    owner = {h.key: disposable_cluster.node_for_key(_entry_key(backend, h.key)) for h in full}
    victim = owner["k0"]  # the shard holding the best hit
    kept = sorted(key for key, node in owner.items() if node != victim)
    assert kept and len(kept) < 60

    disposable_cluster.pause(victim)
    try:

        async def searches() -> None:
            started = time.monotonic()
            with pytest.raises(BackendUnavailableError, match=victim) as caught:
                await cache.asearch(query, k=60)
            took = time.monotonic() - started
            assert "not reachable within" in str(caught.value)
            assert took < DEADLINE * 4, took  # did not retry for seconds (as the sync test)

            partial = await cache.asearch(query, k=60, allow_partial=True)
            assert isinstance(partial, SearchHits)
            assert partial.partial is True and partial.unreachable == [victim]
            assert sorted(hit.key for hit in partial) == kept
            scores = [hit.score for hit in partial]
            assert scores == sorted(scores, reverse=True)
            batch = await cache.asearch_batch([query, -query], k=60, allow_partial=True)
            for hits in batch:
                assert isinstance(hits, SearchHits) and hits.unreachable == [victim]
                assert sorted(hit.key for hit in hits) == kept
            with pytest.raises(BackendUnavailableError):  # never partial: no silent miss
                await cache.aget_similar(query, 0.9)

        await _threadless(searches)
    finally:
        disposable_cluster.resume(victim)
    again = await _threadless(lambda: cache.asearch(query, k=60, allow_partial=True))
    assert not again.partial and [h.key for h in again] == [h.key for h in full]
    await cache.aclose()


@pytest.mark.parametrize("fn", [None, "embed"], ids=repr)
async def test_a_hit_answers_whatever_fn_is_as_the_sync_twin_does(
    backend: RedisBackend, fn: Any
) -> None:
    """As tests/unit/test_async_fn_check.py, on the native async calls: ``fn`` is checked
    on a miss only, where it would be called."""
    cache = SemCache(backend=backend)
    cache.set("k", "v")
    assert cache.get_or_compute("k", fn) == "v"
    assert await _threadless(lambda: cache.aget_or_compute("k", fn)) == "v"
    with pytest.raises(InvalidArgumentError, match="callable"):
        await cache.aget_or_compute("miss", fn)
    assert cache.get("miss") is None
