"""``read_value``, the one-step read behind ``get`` and every ``get_or_compute`` hit on the
local and durable backends, gives exactly what the general read (``backend.get`` then
``value_of``) gives: the same values, hits and misses, LRU order, expiries and cold
(restored) entries, and never another entry's vector while rows move under it.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from semcache_core import SemCache
from semcache_core.errors import SemCacheError
from semcache_core.stored_values import MISSING, read_value

DIM = 8
KEYS = [f"k{i}" for i in range(4)]
NAMESPACES = ["", "b"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def embedding(seed: int, kind: str) -> Any:
    """A value for ``fn`` to return: list and ndarray embeddings, and plain values."""
    rng = np.random.default_rng(seed)
    if kind == "list":
        return rng.standard_normal(DIM).tolist()  # float64 values: rounding shows
    if kind == "array":
        return rng.standard_normal(DIM).astype(np.float32)
    if kind == "dict":
        return {"seed": seed, "items": [seed, seed + 1]}
    return seed  # an immutable plain value


def general_reader(cache: SemCache) -> SemCache:
    """``cache`` reading through ``backend.get`` + ``value_of`` (what a backend without a
    ``read_value`` of its own gets), instead of the backend's ``read_value``."""
    cache._read_value = functools.partial(read_value, cache._backend)
    return cache


def counts(cache: SemCache) -> tuple[int, int, int, int]:
    found = cache._backend.counters()
    return found.hits, found.misses, found.evictions, found.expirations


def same(got: Any, want: Any) -> bool:
    if isinstance(want, np.ndarray):
        return isinstance(got, np.ndarray) and got.dtype == want.dtype and np.array_equal(got, want)
    return type(got) is type(want) and got == want


# one flat tuple per step, its action drawn from a weighted list: (action, key, namespace,
# what fn returns, ttl, seed, seconds to wait)
OPS = st.lists(
    st.tuples(
        st.sampled_from(["compute"] * 3 + ["get"] * 4 + ["delete", "wait", "wait", "reload"]),
        st.sampled_from(KEYS),
        st.sampled_from(NAMESPACES),
        st.sampled_from(["list", "array", "dict", "int"]),
        st.sampled_from([None, 5.0]),
        st.integers(0, 50),
        st.sampled_from([1.0, 6.0]),
    ),
    min_size=5,
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(ops=OPS, max_entries=st.sampled_from([None, 3, 5]))
@example(  # an expired embedding is a miss, even where nothing purged it yet
    ops=[
        ("compute", "k0", "", "list", 5.0, 1, 1.0),
        ("wait", "k0", "", "list", None, 1, 6.0),
        ("get", "k0", "", "list", None, 1, 1.0),
    ],
    max_entries=None,
)
@example(  # a read makes its entry the most recently used: k1 is evicted, not k0
    ops=[("compute", key, "", "list", None, 1, 1.0) for key in ("k0", "k1", "k2")]
    + [("get", "k0", "", "list", None, 1, 1.0), ("compute", "k3", "", "list", None, 2, 1.0)],
    max_entries=3,
)
def test_read_value_agrees_with_the_general_read(
    ops: list[tuple[Any, ...]], max_entries: int | None, tmp_path_factory: Any
) -> None:
    clock = Clock()
    fast = SemCache(index="flat", max_entries=max_entries, clock=clock)
    general = general_reader(SemCache(index="flat", max_entries=max_entries, clock=clock))
    folder: Path = tmp_path_factory.mktemp("reload")
    for step, op in enumerate(ops):
        action, key, namespace, kind, ttl, seed, seconds = op
        if action == "compute":
            compute = functools.partial(lambda _key, s, k: embedding(s, k), s=seed, k=kind)
            results = [
                cache.get_or_compute(key, compute, namespace=namespace, ttl=ttl)
                for cache in (fast, general)
            ]
            assert same(*results), op
        elif action == "get":
            results = [cache.get(key, MISSING, namespace=namespace) for cache in (fast, general)]
            assert same(*results), op
        elif action == "delete":
            assert fast.delete(key, namespace=namespace) == general.delete(key, namespace=namespace)
        elif action == "wait":
            clock.now += seconds
        else:  # dump and load into fresh caches: their entries are cold until read
            reloaded = []
            for name, cache in (("fast", fast), ("general", general)):
                path = folder / f"{step}-{name}.semcache"
                cache.dump(path)
                fresh = SemCache(index="flat", max_entries=max_entries, clock=clock)
                fresh.load(path)
                reloaded.append(fresh)
            fast, general = reloaded[0], general_reader(reloaded[1])
        # the backends' counters, read without purging expired entries (as stats() and
        # scan() do, which would hide an expired entry served)
        assert counts(fast) == counts(general), op
    for namespace in NAMESPACES:  # the same entries survived LRU and TTL
        assert fast.scan(namespace=namespace) == general.scan(namespace=namespace)


def test_a_list_embedding_is_fresh_for_each_reader() -> None:
    cache = SemCache(index="flat")
    vector = [3.0, 4.0] + [0.0] * (DIM - 2)
    first = cache.get_or_compute("v", lambda _k: vector)
    second = cache.get_or_compute("v", lambda _k: vector)
    assert first == second == [3.0, 4.0] + [0.0] * (DIM - 2)
    second[0] = 99.0
    assert cache.get("v") == first  # a reader's change reaches no other reader
    assert cache.stats().hits == 2


def test_read_value_never_serves_another_entrys_row_while_rows_move() -> None:
    """A delete moves the last row into the freed one (see FlatIndex.remove): a read that
    took a row without the backend's lock could serve a neighbour's vector."""
    cache = SemCache(index="flat")
    target = np.random.default_rng(1).standard_normal(DIM).tolist()
    want = cache.get_or_compute("target", lambda _k: target)
    stop = threading.Event()

    def churn() -> None:
        rng = np.random.default_rng(2)
        i = 0
        while not stop.is_set():
            i += 1
            for j in range(20):
                cache.get_or_compute(f"n{i}-{j}", lambda _k: rng.standard_normal(DIM).tolist())
            for j in range(20):
                cache.delete(f"n{i}-{j}")

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        for _ in range(20_000):
            assert cache.get_or_compute("target", lambda _k: target) == want
    finally:
        stop.set()
        worker.join()


def test_durable_read_value_refuses_a_closed_cache(tmp_path: Path) -> None:
    cache = SemCache(path=tmp_path / "store")
    cache.get_or_compute("v", lambda _k: [1.0] * DIM)
    assert cache.get_or_compute("v", lambda _k: [2.0] * DIM) == [1.0] * DIM  # a hit
    cache.close()
    with pytest.raises(SemCacheError):
        cache.get("v")
    with pytest.raises(SemCacheError):
        cache.get_or_compute("v", lambda _k: [2.0] * DIM)
