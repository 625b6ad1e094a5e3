"""Filtered searches reuse a namespace's recent filter results only while they are current."""

from __future__ import annotations

import numpy as np
from fakeclock import FakeClock

from semcache_core import SemCache


def keys(cache: SemCache, filters: object, k: int = 50) -> set[str]:
    return {hit.key for hit in cache.search(np.ones(4), k, filters=filters)}


def filled(clock: FakeClock | None = None) -> SemCache:
    cache = SemCache(clock=clock or FakeClock(1_000.0))
    rng = np.random.default_rng(2)
    for i in range(12):
        tenant = "a" if i % 2 else "b"
        cache.set(f"k{i}", i, vector=rng.random(4) + 0.1, metadata={"tenant": tenant, "n": i})
    return cache


def test_a_repeated_filter_sees_every_later_write() -> None:
    cache = filled()
    assert keys(cache, {"tenant": "a"}) == {f"k{i}" for i in range(1, 12, 2)}
    cache.set("new", 0, vector=np.ones(4), metadata={"tenant": "a"})
    assert "new" in keys(cache, {"tenant": "a"})
    cache.delete("k1")
    assert "k1" not in keys(cache, {"tenant": "a"})
    cache.set("k3", 3, vector=np.ones(4), metadata={"tenant": "b"})  # moved to tenant b
    assert "k3" not in keys(cache, {"tenant": "a"}) and "k3" in keys(cache, {"tenant": "b"})
    cache.set_many({"m1": 1, "m2": 2}, vectors=np.ones((2, 4)), metadatas=[{"tenant": "a"}] * 2)
    assert {"m1", "m2"} <= keys(cache, {"tenant": "a"})


def test_a_repeated_filter_drops_expired_and_evicted_entries() -> None:
    clock = FakeClock(1_000.0)
    cache = filled(clock)
    cache.set("brief", 0, vector=np.ones(4), metadata={"tenant": "a"}, ttl=5)
    assert "brief" in keys(cache, {"tenant": "a"})
    clock.advance(6)
    assert "brief" not in keys(cache, {"tenant": "a"})
    bounded = SemCache(max_entries=2)
    for i in range(3):
        bounded.set(f"e{i}", i, vector=np.ones(4) + i, metadata={"tenant": "a"})
        assert keys(bounded, {"tenant": "a"}) == {f"e{j}" for j in range(max(0, i - 1), i + 1)}


def test_filters_that_compare_equal_are_not_confused() -> None:
    cache = SemCache()
    cache.set("int", 1, vector=[1.0, 0.0], metadata={"flag": 1})
    cache.set("bool", 2, vector=[0.0, 1.0], metadata={"flag": True})
    cache.set("float", 3, vector=[1.0, 1.0], metadata={"flag": 1.0})
    for value in (1, True, 1.0, 1, True):  # warm and repeat, in turns
        fresh = SemCache()
        for key in ("int", "bool", "float"):
            entry = cache.get_entry(key)
            assert entry is not None
            fresh.set(key, entry.value, vector=[1.0, 0.5], metadata=entry.metadata)
        expected = {h.key for h in fresh.search([1.0, 0.5], 5, filters={"flag": value})}
        got = {h.key for h in cache.search([1.0, 0.5], 5, filters={"flag": value})}
        assert got == expected, value
