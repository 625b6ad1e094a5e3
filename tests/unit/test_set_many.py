"""set_many: bulk writes that equal one-by-one sets, all or nothing."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semcache_core import (
    DimensionMismatchError,
    InvalidArgumentError,
    InvalidKeyError,
    InvalidVectorError,
    SemCache,
)

DIM = 16


def unit_rows(count: int, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((count, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def snapshot(cache: SemCache, query: np.ndarray) -> tuple:
    hits = cache.search(query, k=20)
    return len(cache), cache.scan(), [(h.key, h.value, round(h.score, 6)) for h in hits]


@pytest.mark.parametrize("index", ["flat", "hnsw", "auto"])
def test_set_many_equals_sequential_sets(index: str) -> None:
    vectors = unit_rows(3000)
    keys = [f"k{i}" for i in range(3000)]
    bulk = SemCache(index=index, hnsw_threshold=1000)
    one_by_one = SemCache(index=index, hnsw_threshold=1000)
    bulk.set_many(
        {key: i for i, key in enumerate(keys)},
        vectors=vectors,
        metadatas=[{"i": i} for i in range(3000)],
        namespace="ns",
    )
    for i, key in enumerate(keys):
        one_by_one.set(key, i, vector=vectors[i], metadata={"i": i}, namespace="ns")
    for cache in (bulk, one_by_one):
        index_ = cache.backend.index_for("ns")
        assert index_ is not None and index_.wait_until_built(30)
    for query in unit_rows(5, seed=1):
        got = bulk.search(query, k=10, namespace="ns")
        want = one_by_one.search(query, k=10, namespace="ns")
        if index == "flat":
            assert [h.key for h in got] == [h.key for h in want]
        assert got[0].key == want[0].key
        assert all(h.metadata == {"i": h.value} for h in got)
    assert bulk.search(vectors[1234], k=1, namespace="ns")[0].key == "k1234"
    assert bulk.backend.vector_count("ns") == 3000


def test_rows_without_vectors_and_pairs_input() -> None:
    cache = SemCache()
    vectors = unit_rows(3)
    cache.set_many(
        [("a", 1), ("b", {"x": [1]}), ("c", b"raw")], vectors=[vectors[0], None, vectors[2]]
    )
    assert cache.get("b") == {"x": [1]} and cache.get("c") == b"raw"
    assert {h.key for h in cache.search(vectors[1], k=10)} == {"a", "c"}


def test_repeated_key_keeps_last_value_and_vector() -> None:
    cache = SemCache(index="flat")
    vectors = unit_rows(2)
    cache.set_many([("a", 1), ("a", 2)], vectors=vectors)
    assert cache.get("a") == 2
    assert cache.backend.vector_count("") == 1
    assert cache.search(vectors[1], k=1)[0].score == pytest.approx(1.0, abs=1e-6)


def test_replacing_existing_keys_removes_their_old_vectors() -> None:
    cache = SemCache(index="flat")
    old, new = unit_rows(4, seed=2), unit_rows(4, seed=3)
    cache.set_many({f"k{i}": i for i in range(4)}, vectors=old)
    cache.set_many({f"k{i}": -i for i in range(4)}, vectors=new)
    assert cache.backend.vector_count("") == 4
    hit = cache.search(new[2], k=1)[0]
    assert (hit.key, hit.value) == ("k2", -2)


def test_max_entries_evicts_after_a_bulk_write() -> None:
    cache = SemCache(max_entries=5, index="flat")
    cache.set_many({f"k{i}": i for i in range(8)}, vectors=unit_rows(8))
    assert cache.scan() == ["k3", "k4", "k5", "k6", "k7"]
    assert cache.backend.vector_count("") == 5
    assert cache.stats().evictions == 3


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c: c.set_many({"x": 1, 2: 2}), InvalidKeyError, "keys must be str"),
        (
            lambda c: c.set_many({"x": 1, "y": 2}, vectors=[unit_rows(1)[0], np.zeros(DIM)]),
            InvalidVectorError,
            "vectors[1] is all zeros",
        ),
        (
            lambda c: c.set_many({"x": 1, "y": 2}, vectors=np.ones((2, DIM + 1), np.float32)),
            DimensionMismatchError,
            f"dimension {DIM + 1}",
        ),
        (
            lambda c: c.set_many({"x": 1, "y": 2}, vectors=unit_rows(3)),
            InvalidArgumentError,
            "vectors has 3 rows for 2 items",
        ),
        (
            lambda c: c.set_many({"x": 1}, metadatas=[{}, {}]),
            InvalidArgumentError,
            "metadatas has 2 rows for 1 items",
        ),
        (lambda c: c.set_many(["x"]), InvalidArgumentError, "(key, value) pair"),
        (lambda c: c.set_many({"x": object()}), TypeError, "cannot be stored"),
    ],
)
def test_bad_rows_store_nothing(call, error, message) -> None:
    cache = SemCache()
    cache.set_many({"keep": "me"}, vectors=unit_rows(1, seed=9))
    before = snapshot(cache, unit_rows(1, seed=9)[0])
    with pytest.raises(error, match=re.escape(message)):
        call(cache)
    assert snapshot(cache, unit_rows(1, seed=9)[0]) == before


async def test_aset_many_matches_set_many() -> None:
    cache = SemCache(index="flat")
    vectors = unit_rows(10)
    await cache.aset_many({f"k{i}": i for i in range(10)}, vectors=vectors, ttl=60)
    assert await cache.aget("k7") == 7
    assert (await cache.asearch(vectors[7], k=1))[0].key == "k7"
    entry = cache.get_entry("k7")
    assert entry is not None and entry.expires_at is not None


SHAPES = {
    "list": list,
    "tuple": tuple,
    "generator": lambda rows: (row for row in rows),
    "map": lambda rows: map(lambda row: row, rows),
}


@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
@settings(max_examples=15, deadline=None, derandomize=True, database=None)
@given(count=st.integers(0, 6), seed=st.integers(0, 1000), extra=st.integers(-2, 2))
def test_vectors_and_metadatas_may_be_any_iterable_of_rows(shape, count, seed, extra) -> None:
    """A generator of rows raised a raw ``TypeError`` (no ``len()``); any iterable of one
    row per item is taken now, and a wrong count is refused with nothing stored."""
    vectors = unit_rows(count, seed)
    metadatas = [{"i": i} for i in range(count)]
    items = {f"k{i}": i for i in range(count)}
    expected = SemCache()
    expected.set_many(items, vectors=list(vectors), metadatas=metadatas)
    cache = SemCache()
    cache.set_many(items, vectors=shape(list(vectors)), metadatas=shape(metadatas))
    query = unit_rows(1, seed + 1)[0]
    assert snapshot(cache, query) == snapshot(expected, query)
    assert [cache.get_entry(key).metadata for key in items] == metadatas

    if extra:  # one row too many or too few
        rows = [{"i": 0}] * max(count + extra, 0)
        if len(rows) != count:
            fresh = SemCache()
            with pytest.raises(InvalidArgumentError, match="metadatas has"):
                fresh.set_many(items, metadatas=shape(rows))
            assert len(fresh) == 0


@pytest.mark.parametrize("single", [{"topic": "a"}, "topic", b"x", {(1.0, 2.0)}])
def test_a_single_row_where_rows_are_expected_is_refused(single) -> None:
    cache = SemCache()
    with pytest.raises(InvalidArgumentError, match="one row per item"):
        cache.set_many({"a": 1}, metadatas=single)
    with pytest.raises(InvalidArgumentError, match="one row per item"):
        cache.set_many({"a": 1}, vectors=single)
    assert len(cache) == 0
