"""RedisBackend behind SemCache, on a standalone server and on the 3-primary cluster:
the same answers as the local backend on the same data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fakeclock import FakeClock

import redis
from semcache_core import SemCache
from semcache_core.backends.local import LocalBackend
from semcache_core.backends.redis import RedisBackend
from semcache_core.errors import (
    CapabilityError,
    DimensionMismatchError,
    FilterValueError,
    InvalidArgumentError,
    InvalidKeyError,
    InvalidVectorError,
)


@pytest.fixture(params=["standalone", "cluster"])
def backend(request: pytest.FixtureRequest) -> Iterator[RedisBackend]:
    if request.param == "standalone":
        client: Any = request.getfixturevalue("redis_client")
    else:
        client = request.getfixturevalue("cluster_client")
    made = RedisBackend(client=client)
    yield made
    made.close()


def _pair(backend: RedisBackend) -> tuple[SemCache, SemCache, FakeClock]:
    clock = FakeClock()
    local = SemCache(backend=LocalBackend(index="flat"), clock=clock)
    remote = SemCache(backend=backend, clock=clock)
    return local, remote, clock


def _data(n: int, dim: int, seed: int = 7) -> tuple[np.ndarray, list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    metadatas: list[dict[str, Any]] = []
    for i in range(n):
        meta: dict[str, Any] = {"year": 2000 + i % 25, "lang": ["en", "fr", "de"][i % 3]}
        if i % 4:
            meta["tags"] = ["a", "b"] if i % 2 else ["c"]
        if i % 5 == 0:
            meta["title"] = f"Doc é{i}"
        metadatas.append(meta)
    return vectors, metadatas


def test_get_set_ttl_delete_exists_scan_count(backend: RedisBackend) -> None:
    local, remote, clock = _pair(backend)
    for cache in (local, remote):
        cache.set("a", {"x": [1, 2]}, metadata={"m": 1})
        cache.set("b", b"raw", ttl=10)
        cache.set("ab", 3.5, namespace="other")
        cache.set("a:1", "v")
    for cache in (local, remote):
        assert cache.get("a") == {"x": [1, 2]}
        assert cache.get_entry("a").metadata == {"m": 1}  # type: ignore[union-attr]
        assert cache.get("b") == b"raw"
        assert cache.exists("b") and "a" in cache and not cache.exists("zz")
    assert remote.scan() == local.scan() == ["a", "a:1", "b"]
    assert remote.scan("a", limit=1) == local.scan("a", limit=1) == ["a"]
    assert remote.scan(namespace="other") == ["ab"]
    assert remote.namespaces() == local.namespaces() == ["", "other"]
    assert len(remote) == len(local) == 4 and remote.count("") == 3
    clock.advance(10)  # "b" expires (on the cache's clock, not Redis's)
    for cache in (local, remote):
        assert cache.get("b") is None and not cache.exists("b")
        assert len(cache) == 3 and cache.scan() == ["a", "a:1"]
        assert cache.delete("a") and not cache.delete("a")
    assert remote.purge_expired() == 1
    remote.clear(namespace="other")
    assert remote.namespaces() == [""] and remote.get("ab", namespace="other") is None
    assert remote.get("a:1") == "v"
    remote.clear()
    assert len(remote) == 0 and remote.dim is None


def test_search_matches_local_with_threshold_and_filters(backend: RedisBackend) -> None:
    local, remote, _ = _pair(backend)
    vectors, metadatas = _data(300, 16)
    keys = [f"k{i}" for i in range(len(vectors))]
    for cache in (local, remote):
        cache.set_many(dict.fromkeys(keys, "v"), vectors=vectors, metadatas=metadatas)
    queries = np.random.default_rng(1).normal(size=(5, 16)).astype(np.float32)
    filters: list[Any] = [
        None,
        {"year": {"$gte": 2010}},  # sent to the server
        {"lang": {"$in": ["en", "de"]}, "year": {"$lt": 2005}},
        {"lang": {"$ne": "en"}},  # client-side only
        {"tags": {"$any": ["c"]}},  # client-side only (a list field)
        {"$or": [{"year": 2003}, {"lang": "fr"}]},  # two fields: client-side
        {"$not": [{"year": {"$lte": 2020}}]},
        {"title": {"$text_match": "é1"}},  # non-ASCII, rare: the exhaustive pass
        {"year": 1999},  # nothing matches
    ]
    for spec in filters:
        for threshold in (None, 0.2):
            for query in queries:
                want = local.search(query, k=7, filters=spec, threshold=threshold)
                got = remote.search(query, k=7, filters=spec, threshold=threshold)
                assert [h.key for h in got] == [h.key for h in want], spec
                assert np.allclose([h.score for h in got], [h.score for h in want], atol=1e-5)
                assert [h.metadata for h in got] == [h.metadata for h in want]
    batch = remote.search_batch(queries, k=3)
    assert [[h.key for h in hits] for hits in batch] == [
        [h.key for h in hits] for hits in local.search_batch(queries, k=3)
    ]
    hit = remote.search(vectors[3], k=1, with_vectors=True)[0]
    assert hit.key == "k3" and hit.score == pytest.approx(1.0, abs=1e-6)
    assert np.allclose(hit.vector, vectors[3] / np.linalg.norm(vectors[3]), atol=1e-7)


def test_expired_entries_never_found_and_swept(backend: RedisBackend) -> None:
    local, remote, clock = _pair(backend)
    for cache in (local, remote):
        cache.set("old", 1, vector=[1.0, 0.0], ttl=5)
        cache.set("gone", 1, vector=[1.0, 0.1], ttl=5)
        cache.set("new", 2, vector=[0.9, 0.1])
    clock.advance(5)
    for cache in (local, remote):
        assert [h.key for h in cache.search([1.0, 0.0], k=3)] == ["new"]
        assert cache.purge_expired() == 0  # the search's dimension check swept them
        assert cache.stats().expirations == 2
    raw: Any = backend._conn.client
    tags = backend._shards("", create=False)
    assert tags is not None
    assert sum(int(raw.execute_command("VCARD", backend._keys.vset_key(t))) for t in tags) == 1
    remote.set("later", 1, vector=[0.0, 1.0], ttl=1)
    clock.advance(1)
    assert remote.purge_expired() == 1


def test_vector_value_round_trip(backend: RedisBackend) -> None:
    _, remote, _ = _pair(backend)
    embedding = [0.5, 0.25, 3.0]
    assert remote.get_or_compute("hello", lambda text: embedding) == embedding
    again = remote.get_or_compute("hello", lambda text: pytest.fail("computed twice"))
    assert np.allclose(again, embedding, rtol=1e-6)
    array = np.array([1.0, 2.0, 2.0], dtype=np.float64)
    got = remote.get_or_compute("arr", lambda text: array)
    assert remote.get("arr").dtype == np.float64 and np.allclose(remote.get("arr"), got)
    hits = remote.search([0.5, 0.25, 3.0], k=1)
    assert hits[0].key == "hello" and np.allclose(hits[0].value, embedding, rtol=1e-6)


def test_bad_input_raises_as_local(backend: RedisBackend) -> None:
    local, remote, _ = _pair(backend)
    for cache in (local, remote):
        cache.set("a", 1, vector=[1.0, 0.0, 0.0], metadata={"year": "2021"})
        cache.set("b", 1, vector=[0.0, 1.0, 0.0], namespace="two")
    cases = [
        (DimensionMismatchError, lambda c: c.set("x", 1, vector=[1.0, 0.0])),
        (DimensionMismatchError, lambda c: c.search([1.0, 0.0])),
        (InvalidVectorError, lambda c: c.search([0.0, 0.0, 0.0])),
        (InvalidArgumentError, lambda c: c.search([1.0, 0.0, 0.0], k=0)),
        (InvalidKeyError, lambda c: c.set(5, 1)),
        (FilterValueError, lambda c: c.search([1.0, 0.0, 0.0], filters={"year": {"$gt": 2000}})),
    ]
    for error, call in cases:
        for cache in (local, remote):
            with pytest.raises(error):
                call(cache)
    assert remote.scan() == local.scan() == ["a"]  # nothing changed
    # a namespace has its own dimension; emptied, it forgets it
    remote.set("c", 1, vector=[1.0, 0.0], namespace="three")
    remote.delete("b", namespace="two")
    remote.set("d", 1, vector=[1.0, 0.0, 0.0, 0.0], namespace="two")
    assert remote.dim_of("two") == 4 and remote.dim_of("three") == 2


def test_evicted_entry_skipped_and_k_still_returned(backend: RedisBackend) -> None:
    local, remote, _ = _pair(backend)
    vectors, _ = _data(40, 8)
    for cache in (local, remote):
        cache.set_many({f"k{i}": i for i in range(40)}, vectors=vectors)
    query = vectors[0]
    best = [h.key for h in remote.search(query, k=5)]
    # the hashes of the 3 best vanish behind the backend's back (as maxmemory evicts)
    raw: Any = backend._conn.client
    tags = backend._shards("", create=False)
    assert tags is not None
    for key in best[:3]:
        raw.delete(backend._keys.entry_key(backend._tag_of(tags, key), key))
        local.delete(key)
    got = remote.search(query, k=5)
    assert [h.key for h in got] == [h.key for h in local.search(query, k=5)]
    assert len(got) == 5
    vcard = sum(int(raw.execute_command("VCARD", backend._keys.vset_key(t))) for t in tags)
    assert vcard == 37  # their vectors left the sets


def test_cluster_entries_land_on_every_primary(cluster_client: Any) -> None:
    backend = RedisBackend(client=cluster_client)
    cache = SemCache(backend=backend)
    vectors, _ = _data(60, 8)
    cache.set_many({f"k{i}": i for i in range(60)}, vectors=vectors)
    per_node = {}
    for name, node in backend._conn.primaries():
        keys = list(node.scan_iter(match="semcache:*"))
        sets = [k for k in keys if k.endswith(b":v")]
        per_node[name] = (len(keys), len(sets))
    assert len(per_node) == 3
    assert all(entries > 0 and sets > 0 for entries, sets in per_node.values()), per_node
    assert len(cache) == 60
    cache.close()  # its node clients' sockets (a fan-out's), not the fixture's client


def test_max_entries_and_other_apps_keys(redis_client: redis.Redis) -> None:
    with pytest.raises(CapabilityError, match="maxmemory"):
        RedisBackend(client=redis_client, max_entries=10)
    redis_client.set("someone-else", "x")
    cache = SemCache(backend=RedisBackend(client=redis_client))
    cache.set("a", 1, vector=[1.0, 0.0])
    cache.clear()
    assert redis_client.get("someone-else") == b"x"
    assert [k for k in redis_client.scan_iter() if k != b"someone-else"] == []
    cache.close()


def test_engine_options_beside_a_redis_backend_say_what_to_do_instead(
    redis_client: redis.Redis,
) -> None:
    """``RedisBackend`` takes no ``max_entries`` either: the engine's refusal must not send
    the caller there, but to Redis's own bound (docs/redis.md, Bounds)."""
    backend = RedisBackend(client=redis_client)
    try:
        with pytest.raises(InvalidArgumentError) as raised:
            SemCache(max_entries=10, backend=backend)
        message = str(raised.value)
        assert "maxmemory" in message and "volatile-lru" in message and "ttl=" in message
        assert "RedisBackend(max_entries" not in message
        with pytest.raises(InvalidArgumentError, match=r"RedisBackend\(hnsw_m="):
            SemCache(index="flat", backend=backend)
    finally:
        backend.close()


def test_unreachable_server_is_a_typed_error() -> None:
    import socket

    from semcache_core.errors import BackendUnavailableError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once closed
    with pytest.raises(BackendUnavailableError):
        RedisBackend(f"redis://127.0.0.1:{port}", connect_timeout=0.5, retries=0)


def test_a_match_beyond_one_shards_page_still_beats_another_shards_matches(
    redis_client: redis.Redis,
) -> None:
    """Shard A's best candidates all fail a filter the server cannot evaluate (``!=``) and
    its one match lies beyond the page it returned; shard B's matches score lower. The
    top hit is A's match: a full page from A means A may hold better matches."""
    backend = RedisBackend(client=redis_client, shards=2, exact_below=0)
    cache = SemCache(backend=backend)
    shard_of = backend._keys.shard_of
    a_keys = (f"a{i}" for i in range(1000) if shard_of(f"a{i}", 2) == 0)
    b_keys = (f"b{i}" for i in range(1000) if shard_of(f"b{i}", 2) == 1)
    query = np.eye(8, dtype=np.float32)[0]
    wanted = ""
    for rank in range(30):  # A: cosine 0.99 down to 0.70, only the 21st is not tagged x
        key = next(a_keys)
        angle = np.arccos(0.99 - rank * 0.01)
        vector = np.cos(angle) * query + np.sin(angle) * np.eye(8, dtype=np.float32)[1]
        tag = "y" if rank == 20 else "x"
        wanted = key if rank == 20 else wanted
        cache.set(key, rank, vector=vector, metadata={"tag": tag})
    for i in range(5):  # B: matches, cosine 0.3 and below
        vector = (0.3 - i * 0.01) * query + np.eye(8, dtype=np.float32)[2]
        cache.set(next(b_keys), 100 + i, vector=vector, metadata={"tag": "y"})
    (hit,) = cache.search(query, 1, filters={"tag": {"$ne": "x"}})
    assert hit.key == wanted and hit.score == pytest.approx(0.79, abs=1e-4)
    cache.close()


def test_a_search_is_one_round_to_each_node_with_no_dimension_read_first(
    redis_client: redis.Redis,
) -> None:
    """The shards' search scripts check the query's dimension (and sweep expired entries)
    in the search's own round: no VCARD / meta read before it; the meta's shard count (a
    worker follows another's change of it) is read in that same round."""
    cache = SemCache(backend=RedisBackend(client=redis_client))
    cache.set("a", 1, vector=[1.0, 0.0, 0.0])

    def calls(command: str) -> int:
        stats = redis_client.info("commandstats").get(f"cmdstat_{command}", {})
        return int(stats.get("calls", 0))

    before = calls("vcard"), calls("hget"), calls("eval")
    for _ in range(3):
        assert [hit.key for hit in cache.search([1.0, 0.1, 0.0], 1)] == ["a"]
    assert (calls("vcard"), calls("hget")) == (before[0], before[1] + 3)
    assert calls("eval") == before[2] + 3 * 2  # per search: the shard's sweep and search
    with pytest.raises(DimensionMismatchError):
        cache.search([1.0, 0.0], 1)  # refused by the shard's script
    cache.close()
