"""Many-key calls: ``get_many``, ``delete_many``, ``get_or_compute_many`` and async twins.

The concurrency tests hold ``fn`` until every caller has missed its keys
(``stats().misses``), so the callers provably overlap; no test sleeps to create overlap.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import numpy as np
import pytest
from float32 import float32_close
from hypothesis import given, settings
from hypothesis import strategies as st
from threads import run_threads, wait_until

from semcache_core import InvalidArgumentError, InvalidKeyError, SemCache

DIM = 8


def vector_of(key: str) -> np.ndarray:
    seed = sum(key.encode()) * 7919 + len(key)
    return np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)


class Recorder:
    """``fn`` for get_or_compute_many: a vector per key; records every batch it gets."""

    def __init__(self, gate: Callable[[], None] | None = None) -> None:
        self.batches: list[list[str]] = []
        self.lock = threading.Lock()
        self.gate = gate

    def __call__(self, keys: list[str]) -> list[np.ndarray]:
        with self.lock:
            self.batches.append(list(keys))
        if self.gate is not None:
            self.gate()
        return [vector_of(key) for key in keys]

    def computed(self) -> list[str]:
        return [key for batch in self.batches for key in batch]


# --- get_many / delete_many --------------------------------------------------------------


async def test_get_many_in_order_with_repeats_and_defaults():
    cache = SemCache()
    cache.set_many({"a": b"1", "b": [1, 2]})
    assert cache.get_many(["a", "x", "b", "a"]) == [b"1", None, [1, 2], b"1"]
    assert cache.get_many(["x"], default=0) == [0]
    assert cache.get_many([]) == []
    first, second = cache.get_many(["b", "b"])
    first.append(3)  # every reader gets a fresh copy
    assert second == [1, 2] and cache.get("b") == [1, 2]
    assert await cache.aget_many(["b", "x"]) == [[1, 2], None]
    stats = cache.stats()
    assert (stats.hits, stats.misses) == (7, 3)


async def test_delete_many_counts_live_entries_and_drops_vectors():
    cache = SemCache()
    cache.set_many({"a": 1, "b": 2, "c": 3}, vectors=np.eye(3, dtype=np.float32))
    assert cache.delete_many(["a", "missing", "a"]) == 1
    assert await cache.adelete_many(["b"]) == 1
    assert [hit.key for hit in cache.search([1.0, 1.0, 1.0], k=3)] == ["c"]


async def test_many_calls_check_every_key_first():
    cache = SemCache()
    cache.set("a", 1)
    fn = Recorder()
    for call in (cache.get_many, cache.delete_many):
        with pytest.raises(InvalidKeyError):
            call(["a", 2])
        with pytest.raises(InvalidArgumentError):
            call("a")
    with pytest.raises(InvalidKeyError):
        cache.get_or_compute_many(["new", None], fn)
    with pytest.raises(InvalidKeyError):
        await cache.aget_or_compute_many([b"new"], fn)
    with pytest.raises(InvalidArgumentError):
        cache.get_or_compute_many(["new"], fn, ttl=-1)
    with pytest.raises(InvalidArgumentError):
        await cache.aget_or_compute_many(["new"], fn, namespace=3)
    assert cache.get("a") == 1 and fn.batches == [] and len(cache) == 1


# --- get_or_compute_many -----------------------------------------------------------------


def test_misses_are_computed_in_one_call_and_repeats_once():
    cache = SemCache()
    fn = Recorder()
    values = cache.get_or_compute_many(["a", "b", "a", "c"], fn, namespace="ns")
    assert fn.batches == [["a", "b", "c"]]
    assert float32_close([v.tolist() for v in values], [vector_of(k).tolist() for k in "abac"])
    again = cache.get_or_compute_many(["c", "d", "a"], fn, namespace="ns")
    assert fn.batches[1:] == [["d"]]
    assert float32_close([v.tolist() for v in again], [vector_of(k).tolist() for k in "cda"])
    assert cache.stats().computes == 4
    for key in "abcd":  # vector results are indexed in the namespace
        (hit,) = cache.search(vector_of(key), k=1, namespace="ns")
        assert hit.key == key
    assert cache.get_or_compute_many([], fn) == [] and len(fn.batches) == 2


def test_non_vector_results_are_stored_not_indexed():
    cache = SemCache()
    values = cache.get_or_compute_many(["x", "y", "z"], lambda keys: [k.upper() for k in keys])
    assert values == ["X", "Y", "Z"] and cache.get("y") == "Y"
    assert cache.dim is None


def test_results_of_two_dimensions_index_the_first_and_store_the_other():
    cache = SemCache()
    cache.get_or_compute_many(["a", "b"], lambda keys: [np.ones(4), np.ones(3)])
    assert cache.dim == 4 and cache.get("b").shape == (3,)
    assert [hit.key for hit in cache.search(np.ones(4), k=5)] == ["a"]


@pytest.mark.parametrize("bad", [lambda keys: [1], lambda keys: None, lambda keys: [1, 2, 3]])
async def test_fn_with_the_wrong_number_of_results_stores_nothing(bad):
    cache = SemCache()
    with pytest.raises(InvalidArgumentError):
        cache.get_or_compute_many(["a", "b"], bad)
    with pytest.raises(InvalidArgumentError):
        await cache.aget_or_compute_many(["a", "b"], bad)
    assert len(cache) == 0
    assert cache.get_or_compute_many(["a", "b"], lambda keys: keys) == ["a", "b"]  # no stale flight


UNORDERED = {
    "dict": lambda keys: {key: f"answer to {key}" for key in keys},
    "dict keys": lambda keys: {key: 1 for key in keys}.keys(),
    "set": lambda keys: {f"answer to {key}" for key in keys},
    "frozenset": lambda keys: frozenset(f"answer to {key}" for key in keys),
    "str": lambda keys: "x" * len(keys),
    "bytes": lambda keys: b"x" * len(keys),
}


@pytest.mark.parametrize("bad", list(UNORDERED.values()), ids=list(UNORDERED))
@settings(max_examples=20, deadline=None, derandomize=True, database=None)
@given(keys=st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=6, unique=True))
def test_fn_returning_results_without_the_keys_order_is_refused(bad, keys):
    """A mapping or set of the right size, or a str with one character per key, was taken
    as the results in order: the keys themselves, or characters, or another key's value,
    were stored as the answers (a wrong cached value)."""
    cache = SemCache()
    with pytest.raises(InvalidArgumentError, match="one row per key"):
        cache.get_or_compute_many(keys, bad)
    with pytest.raises(InvalidArgumentError, match="one row per key"):
        asyncio.run(cache.aget_or_compute_many(keys, bad))
    assert len(cache) == 0
    expected = [f"answer to {key}" for key in keys]
    assert cache.get_or_compute_many(keys, lambda ks: [f"answer to {k}" for k in ks]) == expected


def test_an_exception_reaches_the_waiters_and_stores_nothing():
    cache = SemCache()
    callers = 6

    def failing(keys: list[str]) -> list[object]:
        wait_until(lambda: cache.stats().misses >= callers)
        raise RuntimeError("model down")

    errors: list[BaseException] = []

    def call() -> None:
        try:
            cache.get_or_compute_many(["k"], failing)
        except RuntimeError as exc:
            errors.append(exc)

    run_threads([call] * callers, timeout=30)
    assert len(errors) == callers and len(cache) == 0
    assert cache.get_or_compute_many(["k"], lambda keys: [1]) == [1]


def test_threads_with_overlapping_batches_compute_each_key_once():
    cache = SemCache()
    threads = 10
    # reversed orders too: two callers each leading one key the other waits for
    batches = [
        [f"own{i}", "s1", "s2", f"pair{i // 2}"][:: 1 if i % 2 else -1] for i in range(threads)
    ]
    fn = Recorder(gate=lambda: wait_until(lambda: cache.stats().misses >= 4 * threads))
    results: dict[int, list[np.ndarray]] = {}

    def call(i: int) -> Callable[[], None]:
        return lambda: results.__setitem__(i, cache.get_or_compute_many(batches[i], fn))

    run_threads([call(i) for i in range(threads)], timeout=30)
    assert sorted(fn.computed()) == sorted({key for batch in batches for key in batch})
    for i, batch in enumerate(batches):
        assert float32_close(results[i], [vector_of(k) for k in batch])
    assert cache.stats().computes == len(fn.computed())


async def test_coroutines_and_threads_share_flights():
    cache = SemCache()
    coroutines, threads = 10, 4
    total_misses = 2 * (coroutines + threads)
    computed: list[str] = []

    async def afn(keys: list[str]) -> list[np.ndarray]:
        computed.extend(keys)
        while cache.stats().misses < total_misses:
            await asyncio.sleep(0.001)
        return [vector_of(key) for key in keys]

    sync_fn = Recorder(gate=lambda: wait_until(lambda: cache.stats().misses >= total_misses))
    outcomes: list[list[np.ndarray]] = []
    workers = [
        threading.Thread(
            target=lambda: outcomes.append(cache.get_or_compute_many(["x", "y"], sync_fn)),
            daemon=True,
        )
        for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    results = await asyncio.wait_for(
        asyncio.gather(
            *(cache.aget_or_compute_many(["y", "x", "y"], afn) for _ in range(coroutines))
        ),
        30,
    )
    for worker in workers:
        await asyncio.to_thread(worker.join, 30)
    assert sorted(computed + sync_fn.computed()) == ["x", "y"]
    for values in results:
        assert float32_close([v.tolist() for v in values], [vector_of(k).tolist() for k in "yxy"])
    for values in outcomes:
        assert float32_close([v.tolist() for v in values], [vector_of(k).tolist() for k in "xy"])


async def test_async_plain_fn_runs_in_a_thread_and_results_are_stored():
    cache = SemCache()
    loop_thread = threading.get_ident()
    seen: list[int] = []

    def fn(keys: list[str]) -> list[str]:
        seen.append(threading.get_ident())
        return [key * 2 for key in keys]

    assert await cache.aget_or_compute_many(["a", "b", "a"], fn, ttl=60) == ["aa", "bb", "aa"]
    assert seen and seen[0] != loop_thread
    assert cache.get_entry("a").expires_at is not None
    assert await cache.aget_or_compute_many(["b"], fn) == ["bb"] and len(seen) == 1
