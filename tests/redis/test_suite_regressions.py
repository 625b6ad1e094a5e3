"""Defects of RedisBackend found by the backend suite and the congruence test, each
pinned by the smallest case that showed it."""

from __future__ import annotations

import asyncio
import itertools
import time
import zlib
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import redis
from semcache_core import SemCache
from semcache_core.backends.base import EntryWrite
from semcache_core.backends.local import LocalBackend
from semcache_core.backends.redis import RedisBackend
from semcache_core.codec import encode_metadata
from semcache_core.errors import DimensionMismatchError, InvalidArgumentError
from semcache_core.filters import compile_filter, parse_filters


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
    # (compared by client id: connections of earlier tests' backends may close meanwhile)
    def ids() -> set[str]:
        return {client["id"] for client in redis_client.client_list()}

    before = ids()
    backend = RedisBackend(client=redis_client, exact_below=1_000_000)
    cache = SemCache(backend=backend)
    cache.set("v", 1, vector=[1.0, 0.0])
    assert [h.key for h in cache.search([1.0, 0.0], k=1)] == ["v"]
    assert ids() - before  # the search's own connection
    cache.close()
    deadline = time.monotonic() + 5.0  # the server drops a closed connection soon after
    while ids() - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not ids() - before  # closed, not left to the collector


def _write(key: str, metadata: dict[str, object], vector: np.ndarray) -> EntryWrite:
    unit = (vector / np.linalg.norm(vector)).astype(np.float32)
    return EntryWrite(key, b"\x01", encode_metadata(metadata), "", None, unit)


def test_a_selective_filter_on_a_large_shard_finds_its_few_matches(
    redis_client: redis.Redis,
) -> None:
    # Found in review: the server's FILTER examines at most FILTER-EF (1000) candidates;
    # on a larger shard a selective filter came back short (here: empty) and a short
    # reply was taken as "nothing more matches", so the exhaustive pass never ran.
    backend = RedisBackend(client=redis_client, shards=1, exact_below=100)
    rng = np.random.default_rng(0)
    base = rng.normal(size=4)  # (sizes that missed the matches every time before the fix)
    writes = [_write(f"k{i}", {"g": 0}, base + 0.3 * rng.normal(size=4)) for i in range(3000)]
    far = -base + 0.3 * rng.normal(size=4)  # the only matches, far from the query
    writes += [_write(f"m{j}", {"g": 1}, far + 0.01 * j) for j in range(3)]
    now = time.time()
    for start in range(0, len(writes), 500):
        backend.set_many(writes[start : start + 500], now)
    query = (base / np.linalg.norm(base)).astype(np.float32).reshape(1, -1)
    for filters in ({"g": 1}, {"g": {"$in": [1]}}):
        (hits,) = backend.search(query, 3, "", parse_filters(filters), now)
        assert sorted(entry.key for entry, _ in hits) == ["m0", "m1", "m2"]
    backend.close()


_NUMBERS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),  # what msgpack stores
    st.sampled_from([2**53 - 1, 2**53, 2**53 + 1, -(2**53), float("inf"), float("-inf")]),
    st.floats(allow_nan=False, min_value=-1e17, max_value=1e17),
    st.sampled_from([1e300, -1e300, 9007199254740994.0, 1e-7]),
)
_OPS = st.sampled_from(["$gt", "$gte", "$lt", "$lte", "$eq", "$in"])
_PREFIXES = itertools.count()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(values=st.lists(_NUMBERS, min_size=1, max_size=6), op=_OPS, literal=_NUMBERS)
def test_the_server_filter_keeps_every_number_the_exact_filter_accepts(
    redis_client: redis.Redis, values: list[int | float], op: str, literal: int | float
) -> None:
    # Found in review: ints beyond 2**53 and +-inf were left out of the vector's
    # attributes, and the server fails the whole FILTER for an element lacking the field,
    # so `n >= 5` lost {"n": 2**60} and {"n": inf}: the FILTER was no superset.
    backend = RedisBackend(client=redis_client, prefix=f"sup{next(_PREFIXES)}", exact_below=0)
    now = time.time()
    writes = [
        _write(f"e{i}", {"n": value}, np.array([1.0, 0.01 * i, 0.0]))
        for i, value in enumerate(values)
    ]
    backend.set_many(writes, now)
    filters = parse_filters({"n": {op: [literal] if op == "$in" else literal}})
    accepts = compile_filter(filters)
    expected = sorted(f"e{i}" for i, value in enumerate(values) if accepts({"n": value}))
    (hits,) = backend.search(np.array([[1.0, 0.0, 0.0]], np.float32), 10, "", filters, now)
    assert sorted(entry.key for entry, _ in hits) == expected
    backend.clear()
    backend.close()


@pytest.mark.parametrize("prefix", ["app:meta", "a:", ":"])
def test_a_prefix_with_a_colon_is_refused(redis_client: redis.Redis, prefix: str) -> None:
    # Found in review: prefix "app" globbed "app:meta:{n*}", which matched keys of prefix
    # "app:meta", so one backend's clear() removed the other's entries.
    with pytest.raises(InvalidArgumentError, match="prefix"):
        RedisBackend(client=redis_client, prefix=prefix)
    assert redis_client.dbsize() == 0


def test_foreign_keys_under_the_prefix_are_skipped_not_parsed_or_removed(
    redis_client: redis.Redis,
) -> None:
    # Found in review: a key under the backend's prefix that matched its glob patterns
    # but was not its own (here: namespace ids that are no hex / no UTF-8) made dims
    # raise a bare ValueError, and clear() removed it.
    foreign = ["app:meta:{nzz}", "app:meta:{nff}", "app:{nzz.0.0}:e:k", "app:{n.0.0}:e"]
    for name in foreign:
        redis_client.set(name, "theirs")
    backend = RedisBackend(client=redis_client, prefix="app")
    now = time.time()
    backend.set_many([_write("mine", {}, np.array([1.0, 0.0]))], now)
    assert backend.dims == {"": 2}
    assert backend.namespaces(now) == [""]
    assert backend.scan("", "", None, now) == ["mine"]
    assert backend.count(now) == 1
    backend.clear()
    assert sorted(n.decode() for n in redis_client.keys("*")) == sorted(foreign)
    backend.close()


@pytest.mark.parametrize("bad", [None, "many", -5, 1.5, True])
def test_exact_below_must_be_an_int_of_at_least_zero(
    redis_client: redis.Redis, bad: object
) -> None:
    # Found in review: None / "many" were accepted and every later search failed with a
    # script error; -5 was accepted.
    with pytest.raises(InvalidArgumentError, match="exact_below"):
        RedisBackend(client=redis_client, exact_below=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("use_async", [False, True])
def test_a_range_filter_skips_foreign_keys_under_the_prefix(
    redis_client: redis.Redis, use_async: bool
) -> None:
    # Found in review: the async range-filter check read every key its SCAN pattern matched,
    # not only the backend's own (as the sync one does): a foreign string key there made
    # the search fail with WRONGTYPE.
    foreign = "fk:{n.zz}:e:theirs"
    redis_client.set(foreign, "a foreign string key under the prefix")
    cache = SemCache(backend=RedisBackend(client=redis_client, prefix="fk"))
    cache.set("mine", 1, vector=[1.0, 0.0], metadata={"year": 2021})
    filters = {"year": {"$gte": 2020}}

    async def searched() -> list[str]:
        try:
            found = [h.key for h in await cache.asearch([1.0, 0.0], k=5, filters=filters)]
            await cache.aclear()
            return found
        finally:
            await cache.aclose()  # closes the backend: later calls raise CacheClosedError

    if use_async:
        found = asyncio.run(searched())
    else:
        found = [h.key for h in cache.search([1.0, 0.0], k=5, filters=filters)]
        cache.clear()
        cache.close()
    assert found == ["mine"]
    assert redis_client.get(foreign) == b"a foreign string key under the prefix"


def test_long_strings_are_cut_in_the_attributes_and_long_literals_stay_client_side() -> None:
    # Found in review: every string went whole into the vector's FILTER attributes, which
    # the server re-reads per condition per candidate: a 20 KB summary behind a 20-term OR
    # blocked the server for 0.7 s a search; a 2 MB one timed it out.
    from semcache_core.backends.redis.entry_codec import ATTRIBUTE_STRING_MAX, attributes
    from semcache_core.backends.redis.filter_expr import to_expression

    stored = attributes({"summary": "s" * 20_000, "lang": "en"}, None)
    assert len(stored) < ATTRIBUTE_STRING_MAX + 100
    assert '"lang":"en"' in stored
    at_most = "s" * ATTRIBUTE_STRING_MAX
    assert to_expression(parse_filters({"summary": at_most})) == f'.summary == "{at_most}"'
    assert to_expression(parse_filters({"summary": at_most + "s"})) is None
    assert to_expression(parse_filters({"summary": {"$in": ["a", at_most + "s"]}})) is None


def test_filters_on_strings_around_the_cut_agree_with_the_local_backend(
    redis_client: redis.Redis,
) -> None:
    # The stored attribute holds a long string's first ATTRIBUTE_STRING_MAX characters: a
    # longer literal sent to the server would miss the entry that holds it exactly.
    from semcache_core.backends.redis.entry_codec import ATTRIBUTE_STRING_MAX

    cut = ATTRIBUTE_STRING_MAX
    values = ["L" * (cut - 1), "L" * cut, "L" * cut + "a", "L" * cut + "b", "L" * 3 * cut]
    remote = SemCache(backend=RedisBackend(client=redis_client, prefix="cut"))
    local = SemCache(backend=LocalBackend(index="flat"))
    for cache in (local, remote):
        for i, value in enumerate(values):
            cache.set(f"k{i}", i, vector=[1.0, 0.1 * i], metadata={"s": value})
    filters = [{"s": value} for value in values]
    filters += [{"s": {"$in": [value, "other"]}} for value in values]
    for condition in filters:
        want = sorted(h.key for h in local.search([1.0, 0.0], k=10, filters=condition))
        got = sorted(h.key for h in remote.search([1.0, 0.0], k=10, filters=condition))
        assert got == want, condition
    remote.clear()
    remote.close()


@pytest.mark.parametrize("k", [2**30, 2**40, 2**53, 2**63 - 1])
@pytest.mark.parametrize("filtered", [False, True])
def test_a_huge_k_finds_what_the_local_backend_finds(
    redis_client: redis.Redis, k: int, filtered: bool
) -> None:
    # Found by review: k went to VSIM unchanged (COUNT 4k, EF k, FILTER-EF 400k): from
    # 2**30 the server's COUNT overflowed and nothing came back, and at 2**53 or
    # sys.maxsize the server spun and grew without limit (one SIGSEGV in VSIM at 2**33).
    # The script caps them at the set's size: no search can return more.
    filters = {"g": 1} if filtered else None
    local = SemCache()
    remote = SemCache(backend=RedisBackend(client=redis_client, exact_below=0))
    for cache in (local, remote):
        for i in range(3):
            cache.set(f"k{i}", i, vector=[1.0, 0.1 * i, 0.0], metadata={"g": 1})
        cache.set("other", 9, vector=[0.0, 1.0, 0.0], metadata={"g": 2})
    want = [h.key for h in local.search([1.0, 0.0, 0.0], k=k, filters=filters)]
    got = [h.key for h in remote.search([1.0, 0.0, 0.0], k=k, filters=filters)]
    assert got == want and len(want) == (3 if filtered else 4)
    assert redis_client.ping()  # the server still answers


@pytest.mark.parametrize("batch", [1, 30])
def test_a_lost_meta_hash_refuses_a_write_of_another_dimension_whole(
    redis_client: redis.Redis, batch: int
) -> None:
    # Found by review: with the meta hash gone (evicted under allkeys-lru, as the docs
    # allow) a write of another dimension claimed the namespace afresh; the shards holding
    # the old vectors refused their part and the others wrote theirs (20 of 30 stored),
    # and every search failed after. The claim now checks a fresh dimension against the
    # vectors held, restores the meta, and writes nothing.
    backend = RedisBackend(client=redis_client, shards=4)
    cache = SemCache(backend=backend)
    cache.set("old", "o", vector=[1.0, 0.0, 0.0])
    redis_client.delete(backend._keys.meta_key(""))
    writes = {f"new{i}": i for i in range(batch)}
    with pytest.raises(DimensionMismatchError):
        if batch == 1:
            cache.set("new0", 0, vector=[1.0, 0.0, 0.0, 0.0])
        else:
            cache.set_many(writes, vectors=[[1.0, 0.0, 0.0, float(i)] for i in range(batch)])
    assert len(cache) == 1 and cache.get("new0") is None
    assert [h.key for h in cache.search([1.0, 0.0, 0.0], k=5)] == ["old"]
    assert cache.dim_of() == 3
    cache.set("more", "m", vector=[0.0, 1.0, 0.0])  # the namespace's own dimension still
    assert len(cache) == 2


def test_a_lost_meta_hash_refuses_an_async_write_of_another_dimension(
    redis_client: redis.Redis,
) -> None:
    backend = RedisBackend(client=redis_client, shards=4)
    cache = SemCache(backend=backend)
    cache.set("old", "o", vector=[1.0, 0.0, 0.0])
    redis_client.delete(backend._keys.meta_key(""))

    async def write() -> None:
        await cache.aset("new", 1, vector=[1.0, 0.0, 0.0, 0.0])

    with pytest.raises(DimensionMismatchError):
        asyncio.run(write())
    assert len(cache) == 1 and cache.dim_of() == 3


# --- threshold 1.0 and float32 rounding (review) ------------------------------------------


@pytest.mark.parametrize("threshold", [1.0, 0.9999999])
def test_threshold_one_finds_identical_vectors_on_both_backends(
    redis_client: Any, redis_standalone: Any, threshold: float
) -> None:
    """Found by review: locally a vector scores 0.99999988 against itself (float32), on
    Redis 1.0 from its (cos + 1) / 2 score: threshold=1.0 found every identical vector on
    Redis and some on the local backend. A score within SCORE_TOLERANCE meets it now."""
    from semcache_core.backends.redis import RedisBackend

    texts = ["hello world", "how to install the system", "REST API endpoints", "a b c"]
    found = {}
    for name, cache in (
        ("local", SemCache()),
        ("redis", SemCache(backend=RedisBackend(redis_standalone.url))),
    ):
        with cache:
            for i, text in enumerate(texts):
                cache.set(f"k{i}", text, vector=cache.embedder.embed_document(text))
            found[name] = [
                [
                    hit.key
                    for hit in cache.search(
                        cache.embedder.embed_document(t), 1, threshold=threshold
                    )
                ]
                for t in texts
            ]
    assert found["local"] == found["redis"] == [[f"k{i}"] for i in range(len(texts))]
