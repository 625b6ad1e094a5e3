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

import numpy as np
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
