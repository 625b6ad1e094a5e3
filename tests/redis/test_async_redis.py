"""SemCache's async twins on RedisBackend (standalone and cluster): the same answers as
their sync twins on the same data, on ``redis.asyncio`` without a worker thread per call.

The observable for "no worker thread": every call runs on a loop whose default executor
refuses work (``asyncio.to_thread`` and ``run_in_executor(None, ...)`` go through it); the
same harness on the in-process backend does reach the executor, so the check has teeth.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from fakeclock import FakeClock

from semcache_core import SemCache
from semcache_core.backends.local import LocalBackend
from semcache_core.backends.redis import RedisBackend
from semcache_core.errors import (
    BackendUnavailableError,
    DimensionMismatchError,
    FilterValueError,
    InvalidKeyError,
)
from semcache_core.redis_local import start_standalone


class _NoThreads(ThreadPoolExecutor):
    """A default executor that refuses every job: a call needing a worker thread fails."""

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a worker thread was asked for")


async def _threadless(make: Callable[[], Awaitable[Any]]) -> Any:
    """``await make()`` with the running loop's default executor refusing work."""
    loop = asyncio.get_running_loop()
    refusing = _NoThreads(max_workers=1)
    loop.set_default_executor(refusing)
    try:
        return await make()
    finally:
        loop.set_default_executor(ThreadPoolExecutor(max_workers=4))
        refusing.shutdown()


@pytest.fixture(params=["standalone", "cluster"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[RedisBackend]:
    if request.param == "standalone":
        client: Any = request.getfixturevalue("redis_client")
    else:
        client = request.getfixturevalue("cluster_client")
    made = RedisBackend(client=client)
    yield made
    await made.aio.aclose()
    made.close()


def _data(n: int, dim: int, seed: int = 3) -> tuple[np.ndarray, list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    metadatas = [{"year": 2000 + i % 7, "lang": ["en", "fr"][i % 2]} for i in range(n)]
    return vectors, metadatas


def _same_hits(a: list[Any], b: list[Any]) -> None:
    assert [h.key for h in a] == [h.key for h in b]
    assert [h.value for h in a] == [h.value for h in b]
    assert [h.metadata for h in a] == [h.metadata for h in b]
    np.testing.assert_allclose([h.score for h in a], [h.score for h in b], atol=1e-6)


async def test_reads_match_sync_twins_without_threads(backend: RedisBackend) -> None:
    clock = FakeClock()
    cache = SemCache(backend=backend, clock=clock)
    vectors, metadatas = _data(40, 8)
    items = {f"k{i}": {"n": i} for i in range(40)}
    cache.set_many(items, vectors=vectors, metadatas=metadatas, namespace="ns")
    cache.set("short", "lived", ttl=5, namespace="ns")
    filters = {"lang": "fr", "year": {"$gte": 2003}}

    async def reads() -> None:
        assert await cache.aget("k3", namespace="ns") == cache.get("k3", namespace="ns")
        assert await cache.aget("nope", "dflt", namespace="ns") == "dflt"
        assert await cache.aget_entry("k4", namespace="ns") == cache.get_entry("k4", namespace="ns")
        assert await cache.aexists("k5", namespace="ns") is True
        assert await cache.aexists("k5") is False  # another namespace
        keys = ["k1", "zz", "k1", "k9"]
        assert await cache.aget_many(keys, namespace="ns") == cache.get_many(keys, namespace="ns")
        for q in vectors[:3]:
            for options in (
                {},
                {"filters": filters},
                {"threshold": 0.2},
                {"with_vectors": True, "filters": {"lang": "en"}},
            ):
                _same_hits(
                    await cache.asearch(q, 5, namespace="ns", **options),
                    cache.search(q, 5, namespace="ns", **options),
                )
        batch = await cache.asearch_batch(vectors[:4], 3, namespace="ns", filters=filters)
        for got, want in zip(
            batch, cache.search_batch(vectors[:4], 3, namespace="ns", filters=filters)
        ):
            _same_hits(got, want)
        near = await cache.aget_similar(vectors[7], 0.99, namespace="ns")
        assert near == cache.get_similar(vectors[7], 0.99, namespace="ns") == {"n": 7}
        assert await cache.aget("short", namespace="ns") == "lived"
        clock.advance(10)  # TTL on the cache's clock: expired for both twins
        assert await cache.aget("short", namespace="ns") is None
        assert await cache.aexists("short", namespace="ns") is cache.exists("short", namespace="ns")
        assert cache.get("short", namespace="ns") is None

    await _threadless(reads)


async def test_writes_match_sync_twins_without_threads(backend: RedisBackend) -> None:
    clock = FakeClock()
    cache = SemCache(backend=backend, clock=clock)
    vectors, metadatas = _data(12, 6, seed=5)

    async def writes() -> None:
        await cache.aset("a", [1, 2], vector=vectors[0], metadata={"lang": "en"}, ttl=30)
        await cache.aset_many(
            [(f"m{i}", f"v{i}") for i in range(1, 12)],
            vectors=vectors[1:],
            metadatas=metadatas[1:],
        )
        assert await cache.adelete("m2") is True
        assert await cache.adelete("m2") is False
        assert await cache.adelete_many(["m3", "m4", "none"]) == 2

    await _threadless(writes)
    # what the async writes stored, read back by the sync twins
    assert cache.get("a") == [1, 2]
    assert cache.get_entry("a").metadata == {"lang": "en"}  # type: ignore[union-attr]
    assert cache.get_entry("a").expires_at == clock() + 30  # type: ignore[union-attr]
    assert cache.get_many(["m1", "m2", "m3", "m5"]) == ["v1", None, None, "v5"]
    hits = cache.search(vectors[5], 3)
    assert hits[0].key == "m5" and hits[0].score == pytest.approx(1.0, abs=1e-6)
    assert {h.key for h in cache.search(vectors[0], 12)} == {
        "a",
        "m1",
        *[f"m{i}" for i in range(5, 12)],
    }
    clock.advance(31)
    assert cache.get("a") is None


async def test_bad_input_raises_what_sync_raises(backend: RedisBackend) -> None:
    cache = SemCache(backend=backend)
    cache.set("v", 1, vector=np.ones(4, np.float32), metadata={"year": "1999"})

    async def bad() -> None:
        with pytest.raises(InvalidKeyError):
            await cache.aget(3)  # type: ignore[arg-type]
        with pytest.raises(DimensionMismatchError) as sync_error:
            cache.set("w", 1, vector=np.ones(3, np.float32))
        with pytest.raises(DimensionMismatchError) as async_error:
            await cache.aset("w", 1, vector=np.ones(3, np.float32))
        assert str(async_error.value) == str(sync_error.value)
        with pytest.raises(FilterValueError):  # a range against a stored str, as sync
            await cache.asearch(np.ones(4, np.float32), 2, filters={"year": {"$gt": 5}})
        with pytest.raises(FilterValueError):
            cache.search(np.ones(4, np.float32), 2, filters={"year": {"$gt": 5}})
        with pytest.raises(TypeError):
            await cache.aget_similar(np.ones(4, np.float32), 0.5, with_vectors=True)

    await _threadless(bad)
    assert not cache.exists("w")


async def test_the_observable_sees_threads_on_the_local_backend() -> None:
    cache = SemCache(backend=LocalBackend())
    with pytest.raises(AssertionError, match="worker thread"):
        await _threadless(lambda: cache.aset("k", 1))


async def test_get_or_compute_single_flight_across_coroutines_and_threads(
    backend: RedisBackend,
) -> None:
    cache = SemCache(backend=backend)
    calls: list[str] = []
    release = asyncio.Event()

    async def embed(text: str) -> list[float]:
        calls.append(text)
        await release.wait()
        return [1.0, 2.0, 2.0]

    def never(text: str) -> Any:
        raise AssertionError("a second computation")

    leader = asyncio.create_task(cache.aget_or_compute("q", embed, namespace="e"))
    waiters = [
        asyncio.create_task(cache.aget_or_compute("q", embed, namespace="e")) for _ in range(3)
    ]
    results: list[Any] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(cache.get_or_compute("q", never, namespace="e"))
        )
        for _ in range(2)
    ]
    deadline = time.monotonic() + 30
    while cache._flights.waiting(("e", "q")) < 4:  # the leader and three coroutines wait
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    for thread in threads:
        thread.start()
    while cache._flights.waiting(("e", "q")) < 6:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    release.set()
    values = await asyncio.gather(leader, *waiters)
    for thread in threads:
        thread.join(30)
    assert calls == ["q"]
    for value in [*values, *results]:
        assert value == [1.0, 2.0, 2.0]
    assert len(results) == 2
    assert cache.stats().computes == 1
    assert cache.get("q", namespace="e") == [1.0, 2.0, 2.0]
    # stored as the entry's vector: found by a search, sync and async alike
    hit = (await cache.asearch([1.0, 2.0, 2.0], 1, namespace="e"))[0]
    assert hit.key == "q" and hit.score == pytest.approx(1.0)
    await cache.aclose()


async def test_cancelled_waiters_leave_the_flight_and_value_intact(backend: RedisBackend) -> None:
    cache = SemCache(backend=backend)
    release = asyncio.Event()
    calls = 0

    async def compute(key: str) -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return key.upper()

    leader = asyncio.create_task(cache.aget_or_compute("x", compute))
    other = asyncio.create_task(cache.aget_or_compute("x", compute))
    third = asyncio.create_task(cache.aget_or_compute("x", compute))
    deadline = time.monotonic() + 30
    while cache._flights.waiting(("", "x")) < 3:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    leader.cancel()
    third.cancel()
    release.set()
    assert await other == "X"
    for task in (leader, third):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert calls == 1
    assert cache.get("x") == "X"

    # every waiter cancelled: the computation still finishes and is stored
    gate = asyncio.Event()

    async def slow(key: str) -> str:
        await gate.wait()
        return "kept"

    alone = asyncio.create_task(cache.aget_or_compute("y", slow))
    while cache._flights.waiting(("", "y")) < 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    alone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await alone
    gate.set()
    while not await cache.aexists("y"):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    assert cache.get("y") == "kept"


async def test_get_or_compute_many_matches_sync_without_threads(backend: RedisBackend) -> None:
    cache = SemCache(backend=backend)
    cache.set_many({"a": "A", "b": "B"})
    batches: list[list[str]] = []

    async def upper(keys: list[str]) -> list[str]:
        batches.append(keys)
        return [key.upper() for key in keys]

    async def run() -> list[Any]:
        return await cache.aget_or_compute_many(["a", "c", "d", "c", "b"], upper)

    assert await _threadless(run) == ["A", "C", "D", "C", "B"]
    assert batches == [["c", "d"]]
    assert cache.get_or_compute_many(["c", "d", "e"], lambda ks: [k * 2 for k in ks]) == [
        "C",
        "D",
        "ee",
    ]
    hits_before = cache.stats().hits
    assert await _threadless(lambda: cache.aget_or_compute("e", upper)) == "ee"
    assert cache.stats().hits == hits_before + 1  # async lookups count as the sync ones


def test_each_event_loop_gets_its_own_client(redis_standalone: Any, redis_client: Any) -> None:
    backend = RedisBackend(redis_standalone.url)
    cache = SemCache(backend=backend)

    async def roundtrip(value: int, close: bool) -> Any:
        await cache.aset("k", value)
        got = await cache.aget("k")
        if close:
            await backend.aio.aclose()
        return got

    # a client bound to the first loop could not serve the second one
    assert asyncio.run(roundtrip(1, close=True)) == 1
    assert asyncio.run(roundtrip(2, close=True)) == 2
    # a loop in another thread, left open: close() from here closes its client
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever)
    runner.start()
    try:
        assert asyncio.run_coroutine_threadsafe(roundtrip(3, close=False), loop).result(30) == 3
        backend.close()
        assert asyncio.run_coroutine_threadsafe(_open_clients(backend), loop).result(30) == 0
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(30)
        loop.close()


def test_a_loops_client_is_closed_when_the_loop_shuts_down(redis_standalone: Any) -> None:
    """No ``aclose()``: ``asyncio.run`` shutting its loop down closes that loop's client
    (an unclosed one would warn, which fails the test: filterwarnings=error)."""
    backend = RedisBackend(redis_standalone.url)
    cache = SemCache(backend=backend)

    async def roundtrip(value: int) -> Any:
        await cache.aset("k", value)
        return await cache.aget("k")

    for value in range(3):
        assert asyncio.run(roundtrip(value)) == value
        assert backend.aio is not None and backend.aio._conn._clients == {}
    gc.collect()  # a client left unclosed would warn here at the latest
    cache.close()


async def _open_clients(backend: RedisBackend) -> int:
    await asyncio.sleep(0.05)  # let the scheduled close run
    return len(backend.aio._conn._clients)


async def test_unreachable_server_raises_the_sync_error(tmp_path: Any) -> None:
    server = start_standalone(run_dir=tmp_path, persist=False)
    try:
        backend = RedisBackend(server.url, connect_timeout=0.5, socket_timeout=0.5, retries=1)
        cache = SemCache(backend=backend)
        await cache.aset("k", "v")
    finally:
        server.stop()
    try:
        for sync_call, call in (
            (lambda: cache.get("k"), lambda: cache.aget("k")),
            (lambda: cache.set("k", "w"), lambda: cache.aset("k", "w")),
            (lambda: cache.delete("k"), lambda: cache.adelete("k")),
            (lambda: cache.search([1.0, 0.0], 1), lambda: cache.asearch([1.0, 0.0], 1)),
            (lambda: cache.get_or_compute("z", str), lambda: cache.aget_or_compute("z", str)),
            (lambda: len(cache), lambda: cache.alen()),
            (lambda: cache.scan(), lambda: cache.ascan()),
            (lambda: cache.clear(), lambda: cache.aclear()),
            (lambda: cache.purge_expired(), lambda: cache.apurge_expired()),
        ):
            with pytest.raises(BackendUnavailableError) as sync_error:
                sync_call()
            with pytest.raises(BackendUnavailableError) as async_error:
                await call()
            # the same call named, the same kind of failure (the OS's wording may differ)
            assert str(async_error.value).split(":")[0] == str(sync_error.value).split(":")[0]
            message = str(async_error.value)
            assert any(says in message for says in ("unreachable", "not reachable", "answered"))
    finally:
        await cache.aclose()
