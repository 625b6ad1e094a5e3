"""A cache's entries stay out of the garbage collector's lists (``semcache_core.untracked``)
and are still freed with the cache.

Every entry used to add an entry object and an embedding's marker (and heap items with a
``ttl`` or ``max_entries``) to every full collection; filling 100k embeddings ran 2.8x
slower with the collector on. These tests count the objects the collector tracks as a
cache grows, along every path that makes an entry or a heap item, and check that dropping
a cache frees what its entries held (an untracked object in a reference cycle would never
be freed).
"""

from __future__ import annotations

import gc
import tracemalloc
import weakref
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semcache_core import SemCache


def tracked_objects() -> int:
    gc.collect()
    return len(gc.get_objects())


def fill(cache: SemCache, start: int, count: int, rng: np.random.Generator) -> None:
    """Entries made every way a cache makes them: computed embeddings, plain values,
    vectors with metadata, a ttl, reads (which requeue on eviction) and touches."""
    for i in range(start, start + count):
        key = f"k{i}"
        match i % 5:
            case 0:
                cache.get_or_compute(key, lambda _k: rng.normal(size=8).tolist())
            case 1:
                cache.set(key, {"answer": i}, metadata={"n": i}, ttl=3600)
            case 2:
                cache.set(key, "text", vector=rng.normal(size=8), metadata={"tag": "x"})
            case 3:
                cache.set_many({key: i}, ttl=60)
                cache.touch(key, ttl=120)
            case _:
                cache.get_or_compute(key, lambda _k: b"bytes")
        cache.get(f"k{rng.integers(start, i + 1)}")


@settings(max_examples=12, deadline=None)
@given(st.sampled_from([None, 300, 5000]), st.integers(0, 2**32 - 1))
def test_growing_a_cache_adds_no_objects_for_the_collector_to_walk(
    max_entries: int | None, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    cache = SemCache(index="flat", max_entries=max_entries)
    fill(cache, 0, 500, rng)  # namespaces, indexes and heaps made: fixed costs
    before = tracked_objects()
    fill(cache, 500, 2000, rng)
    cache.search(rng.normal(size=8), k=5, filters={"tag": "x"})
    grown = tracked_objects() - before
    assert grown < 300, f"{grown} more objects tracked after 2000 more entries"  # a path: 400
    assert len(cache) <= (max_entries or 2500)


def test_a_restored_cache_thaws_entries_the_collector_does_not_walk(tmp_path) -> None:
    rng = np.random.default_rng(1)
    source = SemCache(index="flat", max_entries=10_000)
    fill(source, 0, 3000, rng)
    source.dump(tmp_path / "snap")
    restored = SemCache(index="flat", max_entries=10_000)
    restored.load(tmp_path / "snap")
    before = tracked_objects()
    for i in range(3000):
        restored.get(f"k{i}")  # each read thaws one entry
    assert tracked_objects() - before < 100


def test_a_dropped_cache_frees_what_its_entries_held() -> None:
    rng = np.random.default_rng(2)
    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            cache = SemCache(index="flat", max_entries=1500)
            fill(cache, 0, 2000, rng)
            cache.search(rng.normal(size=8), k=5, filters={"n": {"$gte": 3}})
            del cache
            gc.collect()
        left = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert left < 200_000, f"{left} bytes still held after the caches were dropped"


class Tagged(str):
    """A caller's str subclass: it may carry attributes, here a way back to the cache."""


class TickingClock:
    """A clock whose times are float subclasses that lead back to their owner."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.owner: object = None

    def __call__(self) -> float:
        self.now += 1.0
        stamp = TaggedTime(self.now)
        stamp.owner = self.owner
        return stamp


class TaggedTime(float):
    """A time that stays tagged through arithmetic (``now + ttl``)."""

    owner: object

    def __add__(self, other: Any) -> TaggedTime:
        later = TaggedTime(float(self) + other)
        later.owner = self.owner
        return later


STORES = {
    "set(key)": lambda cache, tagged: cache.set(tagged, "v"),
    "get_or_compute(key)": lambda cache, tagged: cache.get_or_compute(
        tagged, lambda _key: [1.0, 2.0, 3.0, 4.0]
    ),
    "set(namespace=)": lambda cache, tagged: cache.set("k", "v", namespace=tagged),
    "set_many(key)": lambda cache, tagged: cache.set_many({tagged: 1}, ttl=30),
    "set(value=)": lambda cache, tagged: cache.set("k", tagged),
    "touch(key)": lambda cache, tagged: (cache.set(tagged, 1), cache.touch(tagged, ttl=5)),
}


@pytest.mark.parametrize("store", STORES.values(), ids=STORES.keys())
def test_a_cycle_through_a_callers_str_subclass_is_still_collected(store: Any) -> None:
    """A key or namespace of the caller's own str subclass stays tracked: otherwise a
    cycle through it (key -> its owner -> the cache -> the entry -> key) would never be
    freed, nor a durable cache's directory lock released."""

    class Owner:
        cache: SemCache

    owner = Owner()
    owner.cache = SemCache(dim=4, max_entries=100, ttl=60)
    tagged = Tagged("k")
    tagged.owner = owner  # type: ignore[attr-defined]
    store(owner.cache, tagged)
    gone = weakref.ref(owner)
    del owner, tagged
    gc.collect()
    assert gone() is None


def test_a_clock_whose_times_lead_back_to_the_cache_leaks_nothing() -> None:
    class Owner:
        cache: SemCache

    clock = TickingClock()
    owner = Owner()
    clock.owner = owner
    owner.cache = SemCache(dim=4, max_entries=100, ttl=60, clock=clock)
    owner.cache.set("a", 1)
    owner.cache.set("b", 2, ttl=5)
    owner.cache.touch("a", ttl=9)
    owner.cache.get_or_compute("c", lambda _key: [1.0, 0.0, 0.0, 0.0])
    gone = weakref.ref(owner)
    del owner, clock
    gc.collect()
    assert gone() is None
