"""Thread safety, single flight (threads and coroutines), and computed-vector indexing.

No test sleeps to create overlap: the single-flight tests make ``fn`` wait until every
caller has *missed* the key (``stats().misses``), so all of them are provably inside the
flight while ``fn`` runs.
"""

from __future__ import annotations

import asyncio
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fakeclock import FakeClock
from threads import run_threads, wait_for

from semcache_core import SemCache
from semcache_core.index.hybrid import _BUILD_CHUNK

DIM = 16
NAMESPACES = ["", "a", "b"]
KEYS = 1200
MAX_ENTRIES = 400
WORKLOAD_SECONDS = 2.0
MATCH_ALL = {"tid": {"$ne": -1}}  # missing keys match "!=", so this keeps every entry


async def async_wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.001)
    return True


async def within(awaitable, timeout: float = 30.0):
    """Await with a time limit, so a lost wake-up fails the test instead of hanging it."""
    return await asyncio.wait_for(awaitable, timeout)


# --- (a) mixed workload, then key table and indexes must agree -------------------------


def value_ok(key: str, value: object) -> bool:
    if isinstance(value, str):
        return value.startswith(key + "|")
    if isinstance(value, np.ndarray):
        return value.shape == (DIM,)
    return False


def compute(key: str):
    """``get_or_compute``'s fn: an embedding for even keys (indexed), text for odd ones."""
    number = int(key[1:])
    if number % 2 == 0:
        return np.random.default_rng(number).standard_normal(DIM).astype(np.float32)
    return f"{key}|computed"


def check_hits(hits, k: int, namespace: str, filtered: bool = False) -> None:
    assert len(hits) <= k
    keys = [h.key for h in hits]
    assert len(set(keys)) == len(keys), keys
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True), scores
    for hit in hits:
        assert -1.0 - 1e-4 <= hit.score <= 1.0 + 1e-4
        assert hit.namespace == namespace
        assert value_ok(hit.key, hit.value), (hit.key, hit.value)
        if filtered:
            assert hit.metadata.get("p", 0) < 3


def worker(tid: int, cache: SemCache, clock: FakeClock, deadline: float, errors: list) -> None:
    rng = np.random.default_rng(1000 + tid)
    try:
        step = 0
        while time.monotonic() < deadline and not errors:
            step += 1
            key = f"k{int(rng.integers(0, KEYS))}"
            ns = NAMESPACES[int(rng.integers(0, len(NAMESPACES)))]
            op = int(rng.integers(0, 100))
            if tid == 0 and step % 10 == 0:
                clock.advance(0.05)
            ttl = [None, None, 0.25, 1.0, 5.0][int(rng.integers(0, 5))]
            if op < 30:
                cache.set(
                    key,
                    f"{key}|{tid}|{step}",
                    vector=rng.standard_normal(DIM).astype(np.float32),
                    metadata={"tid": tid, "p": step % 7},
                    ttl=ttl,
                    namespace=ns,
                )
            elif op < 38:
                cache.set(key, f"{key}|plain", ttl=ttl, namespace=ns)
            elif op < 52:
                value = cache.get(key, namespace=ns)
                assert value is None or value_ok(key, value), (key, value)
            elif op < 60:
                cache.delete(key, namespace=ns)
            elif op < 72:
                k = [1, 5, 20][int(rng.integers(0, 3))]
                check_hits(cache.search(rng.standard_normal(DIM), k, namespace=ns), k, ns)
            elif op < 77:
                hits = cache.search(
                    rng.standard_normal(DIM), 5, namespace=ns, filters={"p": {"$lt": 3}}
                )
                check_hits(hits, 5, ns, filtered=True)
            elif op < 83:
                batch = cache.search_batch(rng.standard_normal((3, DIM)), 5, namespace=ns)
                assert len(batch) == 3
                for hits in batch:
                    check_hits(hits, 5, ns)
            elif op < 92:
                value = cache.get_or_compute(key, compute, ttl=ttl, namespace=ns)
                assert value_ok(key, value), (key, value)
            elif op < 95:
                value = cache.get_similar(rng.standard_normal(DIM), 0.3, namespace=ns)
                assert value is None or isinstance(value, (str, np.ndarray))
            elif op < 97:
                cache.exists(key, namespace=ns)
                _ = key in cache
            elif op < 99:
                assert len(cache) <= MAX_ENTRIES
                assert all(k.startswith("k1") for k in cache.scan("k1", namespace=ns))
            else:
                stats = cache.stats()
                assert stats.size <= MAX_ENTRIES
    except BaseException:
        errors.append(f"thread {tid}:\n{traceback.format_exc()}")


def assert_table_and_indexes_agree(cache: SemCache, mode: str) -> None:
    backend = cache.backend
    cache.purge_expired()  # the clock is still now; nothing may expire past this point
    for ns in NAMESPACES:
        index = backend.index_for(ns)
        if index is not None:
            assert index.wait_until_built(timeout=60)

    live = backend.live_labels()
    labels = [label for _, _, label in live]
    assert len(set(labels)) == len(labels), "two live entries share a label"
    by_ns: dict[str, dict[int, str]] = {ns: {} for ns in NAMESPACES}
    for ns, key, label in live:
        entry = cache.get_entry(key, namespace=ns)
        assert entry is not None, f"{(ns, key)} has a label but no live entry"
        assert entry.namespace == ns
        by_ns[ns][label] = key

    queries = np.random.default_rng(5).standard_normal((10, DIM)).astype(np.float32)
    for ns in NAMESPACES:
        index = backend.index_for(ns)
        expected = set(by_ns[ns])
        if index is None:
            assert not expected
            continue
        flat_labels = set(index.flat.labels.tolist())
        assert flat_labels == expected, (
            f"namespace {ns!r}: {len(flat_labels - expected)} stale labels in the index, "
            f"{len(expected - flat_labels)} live labels missing from it"
        )
        assert len(index) == len(flat_labels) == len(index.flat.labels)
        if mode == "flat":
            assert index.hnsw is None
        if mode == "hnsw":
            assert index.hnsw is not None and index.kind == "hnsw"
        if index.hnsw is not None:
            assert len(index.hnsw) == len(flat_labels)
            assert all(label in index.hnsw for label in flat_labels)
            if len(flat_labels):
                for q in queries:  # the graph itself returns live labels only
                    unit = q / np.linalg.norm(q)
                    found, _ = index.hnsw.search(unit, min(50, len(flat_labels)))
                    assert set(found.tolist()) <= flat_labels
        # exact (filtered, so flat) search over everything sees exactly the live entries
        everything = cache.search(queries[0], len(expected) + 5, namespace=ns, filters=MATCH_ALL)
        assert {h.key for h in everything} == set(by_ns[ns].values())
        for q in queries:
            for hit in cache.search(q, 20, namespace=ns):
                assert cache.exists(hit.key, namespace=ns)
                entry = cache.get_entry(hit.key, namespace=ns)
                assert entry is not None and entry.namespace == ns

    spaces = cache.namespaces()
    assert set(spaces) <= set(NAMESPACES)
    keys = [(ns, key) for ns in spaces for key in cache.scan(namespace=ns)]
    assert len(keys) == len(set(keys)) == len(cache) == cache.stats().size
    assert [cache.count(ns) for ns in spaces] == [sum(n == ns for n, _ in keys) for ns in spaces]
    assert len(keys) <= MAX_ENTRIES
    assert all(cache.get_entry(key, namespace=ns) is not None for ns, key in keys)
    assert {(ns, key) for ns, key, _ in live} <= set(keys)


@pytest.mark.parametrize("mode", ["flat", "hnsw", "auto"])
def test_mixed_workload_keeps_table_and_indexes_consistent(mode):
    clock = FakeClock()
    cache = SemCache(
        max_entries=MAX_ENTRIES,
        index=mode,
        clock=clock,
        hnsw_threshold=60,
    )
    errors: list[str] = []
    deadline = time.monotonic() + WORKLOAD_SECONDS
    run_threads([lambda tid=tid: worker(tid, cache, clock, deadline, errors) for tid in range(8)])
    assert not errors, errors[0]

    stats = cache.stats()
    assert stats.evictions > 0, "the workload never reached max_entries"
    assert stats.expirations > 0, "the workload never expired anything"
    if mode == "auto":
        built = [cache.backend.index_for(ns) for ns in NAMESPACES]
        assert any(index is not None and index.hnsw is not None for index in built)
    assert_table_and_indexes_agree(cache, mode)


# --- (b) single flight with threads -----------------------------------------------------


def get_or_compute_together(cache: SemCache, key: str, fn: Any, n: int) -> list:
    """``cache.get_or_compute(key, fn)`` from ``n`` threads released at once: each result."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def call(i: int) -> None:
        barrier.wait()
        results[i] = cache.get_or_compute(key, fn)

    run_threads([lambda i=i: call(i) for i in range(n)])
    return results


def test_single_flight_calls_fn_once_for_16_threads():
    cache = SemCache()
    n = 16
    calls: list[str] = []
    lock = threading.Lock()

    def fn(key):
        with lock:
            calls.append(key)
        # every caller has missed, so each one is waiting in this flight
        everyone_missed = wait_for(lambda: cache.stats().misses >= n)
        return {"key": key, "everyone_missed": everyone_missed, "items": [1, 2, 3]}

    results = get_or_compute_together(cache, "hot", fn, n)
    assert calls == ["hot"]
    assert results[0] == {"key": "hot", "everyone_missed": True, "items": [1, 2, 3]}
    assert all(r == results[0] for r in results)
    assert len({id(r) for r in results}) == n  # every caller got its own copy
    stats = cache.stats()
    assert stats.computes == 1 and stats.misses == n
    assert cache.get("hot") == results[0]


def test_single_flight_waiters_of_a_computed_embedding_get_their_own_lists():
    """Every waiter gets a list of its own, bit for bit what a later read gives (the
    computing call's list shares float objects with ``fn``'s, never the list itself)."""
    cache = SemCache()
    n = 8
    embedding = [0.1 * i - 0.35 for i in range(12)]  # not float32 values: rounded

    def fn(key):
        wait_for(lambda: cache.stats().misses >= n)
        return embedding

    results = get_or_compute_together(cache, "hot", fn, n)
    read = cache.get_or_compute("hot", fn)
    assert len({id(r) for r in [*results, read, embedding]}) == n + 2
    as_bits = [np.asarray(r, dtype=np.float64).tobytes() for r in [*results, read]]
    assert len(set(as_bits)) == 1
    assert results[0] != embedding  # rounded to float32, as every read of it
    results[0][0] = 99.0  # a caller's own list: nobody else sees the change
    assert cache.get_or_compute("hot", fn) == read and results[1] == read
    assert embedding[0] == -0.35


def test_single_flight_exception_reaches_every_waiter_and_stores_nothing():
    cache = SemCache()
    n = 16
    calls: list[str] = []
    lock = threading.Lock()

    class Boom(Exception):
        pass

    def fn(key):
        with lock:
            calls.append(key)
        wait_for(lambda: cache.stats().misses >= n)
        raise Boom("compute failed")

    barrier = threading.Barrier(n)
    outcomes: list = [None] * n

    def call(i):
        barrier.wait()
        try:
            outcomes[i] = ("value", cache.get_or_compute("hot", fn))
        except Exception as exc:
            outcomes[i] = ("error", exc)

    run_threads([lambda i=i: call(i) for i in range(n)])
    assert calls == ["hot"]
    assert all(kind == "error" and isinstance(exc, Boom) for kind, exc in outcomes), outcomes
    assert all(str(exc) == "compute failed" for _, exc in outcomes)
    assert "hot" not in cache
    assert cache.get_entry("hot") is None
    assert len(cache) == 0
    assert cache.stats().computes == 0
    # the failed flight is gone: the next call computes again
    assert cache.get_or_compute("hot", lambda key: f"{key}!") == "hot!"
    assert cache.get("hot") == "hot!"
    assert cache.stats().computes == 1


def test_fn_runs_without_the_backend_lock():
    cache = SemCache()
    n = 4
    other_done = threading.Event()
    seen: dict = {}

    def other():
        cache.set("other", "O", vector=np.ones(DIM, np.float32))
        seen["get"] = cache.get("other")
        seen["search"] = [h.key for h in cache.search(np.ones(DIM), 1)]
        seen["len"] = len(cache)
        other_done.set()

    def fn(key):
        wait_for(lambda: cache.stats().misses >= n)  # waiters are parked in the flight
        helper = threading.Thread(target=other, daemon=True)
        helper.start()
        finished = other_done.wait(timeout=5)  # would time out if a cache lock were held
        helper.join(timeout=5)
        return finished

    results = get_or_compute_together(cache, "slow", fn, n)
    assert results == [True] * n
    assert seen == {"get": "O", "search": ["other"], "len": 1}


def test_distinct_keys_do_not_share_a_flight():
    cache = SemCache()
    calls: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def fn(key):
        with lock:
            calls.append(key)
        return key.upper()

    results: dict[str, str] = {}

    def call(i):
        barrier.wait()
        results[f"key{i}"] = cache.get_or_compute(f"key{i}", fn)

    run_threads([lambda i=i: call(i) for i in range(8)])
    assert sorted(calls) == [f"key{i}" for i in range(8)]
    assert results == {f"key{i}": f"KEY{i}" for i in range(8)}


# --- (c) async single flight ----------------------------------------------------------


async def test_aget_or_compute_async_fn_runs_once_for_50_coroutines():
    cache = SemCache()
    n = 50
    calls: list[str] = []

    async def fn(key):
        calls.append(key)
        ok = await async_wait_for(lambda: cache.stats().misses >= n)
        return {"key": key, "everyone_missed": ok}

    results = await within(asyncio.gather(*(cache.aget_or_compute("hot", fn) for _ in range(n))))
    assert calls == ["hot"]
    assert all(r == {"key": "hot", "everyone_missed": True} for r in results)
    assert cache.stats().computes == 1
    assert await cache.aget("hot") == results[0]


async def test_aget_or_compute_plain_fn_runs_once_for_50_coroutines():
    cache = SemCache()
    n = 50
    calls: list[str] = []
    lock = threading.Lock()

    def fn(key):
        with lock:
            calls.append(key)
        ok = wait_for(lambda: cache.stats().misses >= n)
        return f"{key}:{ok}"

    results = await within(asyncio.gather(*(cache.aget_or_compute("hot", fn) for _ in range(n))))
    assert calls == ["hot"]
    assert results == ["hot:True"] * n
    assert cache.stats().computes == 1


async def test_aget_or_compute_exception_reaches_all_coroutines():
    cache = SemCache()
    n = 20
    calls: list[str] = []

    async def fn(key):
        calls.append(key)
        await async_wait_for(lambda: cache.stats().misses >= n)
        raise KeyError("nope")

    outcomes = await within(
        asyncio.gather(
            *(cache.aget_or_compute("hot", fn) for _ in range(n)), return_exceptions=True
        )
    )
    assert calls == ["hot"]
    assert all(isinstance(o, KeyError) for o in outcomes), outcomes
    assert not await cache.aexists("hot")
    assert await cache.aget_or_compute("hot", lambda key: 7) == 7


@pytest.mark.parametrize("leader", ["thread", "coroutine"])
async def test_threads_and_coroutines_share_one_flight(leader):
    cache = SemCache()
    n_threads, n_coroutines = 6, 20
    total = n_threads + n_coroutines
    calls: list[str] = []
    lock = threading.Lock()

    def fn(key):
        with lock:
            calls.append(key)
        ok = wait_for(lambda: cache.stats().misses >= total)
        return {"ok": ok}

    thread_results: list = []

    def call():
        thread_results.append(cache.get_or_compute("hot", fn))

    threads = [threading.Thread(target=call, daemon=True) for _ in range(n_threads)]
    coroutines = [cache.aget_or_compute("hot", fn) for _ in range(n_coroutines)]
    if leader == "thread":
        threads[0].start()
        assert await async_wait_for(lambda: bool(calls))
        for thread in threads[1:]:
            thread.start()
        coroutine_results = await within(asyncio.gather(*coroutines))
    else:
        gathered = asyncio.gather(*coroutines)
        assert await async_wait_for(lambda: bool(calls))
        for thread in threads:
            thread.start()
        coroutine_results = await within(gathered)
    for thread in threads:
        await asyncio.to_thread(thread.join, 30)
        assert not thread.is_alive()
    assert calls == ["hot"]
    assert thread_results == [{"ok": True}] * n_threads
    assert coroutine_results == [{"ok": True}] * n_coroutines
    assert cache.stats().computes == 1


async def test_slow_sync_fn_does_not_block_the_event_loop():
    cache = SemCache()
    started = threading.Event()
    ticked = threading.Event()
    ticks: list[int] = []

    def slow(key):
        started.set()
        return ticked.wait(timeout=5)  # True only if the loop kept running meanwhile

    async def ticker():
        assert await async_wait_for(started.is_set)
        for i in range(5):
            await asyncio.sleep(0.002)
            ticks.append(i)
        await cache.aset("side", "S")  # the cache stays usable from the loop, too
        assert await cache.aget("side") == "S"
        ticked.set()

    value, _ = await within(asyncio.gather(cache.aget_or_compute("slow", slow), ticker()))
    assert value is True
    assert ticks == [0, 1, 2, 3, 4]
    assert await cache.aget("slow") is True


# --- (d) computed vectors are indexed ------------------------------------------------


def test_get_or_compute_vector_result_is_indexed():
    cache = SemCache(dim=8)
    vector = np.arange(1, 9, dtype=np.float32)
    result = cache.get_or_compute("emb", lambda key: vector.copy(), namespace="docs")
    np.testing.assert_array_equal(result, vector)
    index = cache.backend.index_for("docs")
    assert index is not None and len(index) == 1
    assert {key for _, key, _ in cache.backend.live_labels()} == {"emb"}
    np.testing.assert_array_equal(cache.get_similar(vector * 3, 0.999, namespace="docs"), vector)
    hits = cache.search(vector, 1, namespace="docs")
    assert [h.key for h in hits] == ["emb"] and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert cache.get_similar(vector, 0.999) is None  # another namespace

    def fail(key):
        raise AssertionError("cached: must not recompute")

    np.testing.assert_array_equal(cache.get_or_compute("emb", fail, namespace="docs"), vector)
    assert len(index) == 1


def test_get_or_compute_list_vector_result_is_indexed():
    cache = SemCache(dim=3)
    assert cache.get_or_compute("lst", lambda key: [0.0, 3.0, 4.0]) == [0.0, 3.0, 4.0]
    assert cache.get_similar([0.0, 0.6, 0.8], 0.999) == [0.0, 3.0, 4.0]


def test_get_or_compute_non_vector_results_are_not_indexed():
    cache = SemCache(dim=8)
    cache.set("anchor", "A", vector=np.ones(8, np.float32))
    results = {
        "text": "hello",
        "dict": {"a": 1},
        "wrong-dim": np.ones(3, np.float32),
        "zeros": np.zeros(8, np.float32),
        "bools": [True, False, True, True, False, True, False, True],
        "2d": np.ones((2, 8), np.float32),
        "number": 3.5,
    }
    for key, value in results.items():
        got = cache.get_or_compute(key, lambda k, value=value: value)
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(got, value)
        else:
            assert got == value
    assert cache.backend.vector_count("") == 1
    assert {key for _, key, _ in cache.backend.live_labels()} == {"anchor"}
    assert len(cache) == 1 + len(results)
    assert all(hit.key == "anchor" for hit in cache.search(np.ones(8), 10))


async def test_aget_or_compute_vector_result_is_indexed():
    cache = SemCache(dim=4)

    async def embed(key):
        return np.array([1.0, 2.0, 2.0, 0.0], np.float32)

    await cache.aget_or_compute("async-emb", embed)
    await cache.aget_or_compute("async-text", lambda key: "not a vector")
    assert {key for _, key, _ in cache.backend.live_labels()} == {"async-emb"}
    hits = await cache.asearch([1.0, 2.0, 2.0, 0.0], 5)
    assert [h.key for h in hits] == ["async-emb"]


def test_callers_are_served_while_the_graph_builds_in_the_background():
    """The builder hands the lock over between chunks: a get waits for about one chunk of
    graph inserts, not for the whole graph (Python locks are not fair: a builder that
    re-took the lock at once could keep every caller out for seconds)."""
    rng = np.random.default_rng(11)
    cache = SemCache(index="auto", hnsw_threshold=1_000)
    rows = 12_000
    vectors = rng.standard_normal((rows, 256))
    cache.set_many({f"k{i}": i for i in range(rows)}, vectors=vectors)
    index = cache.backend.index_for("")
    assert index is not None and index.hnsw is not None
    built_during_a_get = []
    for i in range(40):
        before = len(index._pending)
        assert cache.get(f"k{i}") == i
        if before and index._pending:  # the build was running throughout this get
            built_during_a_get.append(before - len(index._pending))
        time.sleep(0.002)  # the caller's own work, during which the builder runs freely
    assert len(built_during_a_get) >= 20, built_during_a_get
    assert np.median(built_during_a_get) <= 4 * _BUILD_CHUNK, built_during_a_get
    assert wait_for(lambda: index.kind == "hnsw", timeout=120)
    assert [h.key for h in cache.search(vectors[7], 1)] == ["k7"]
