"""What ``fn`` raises reaches its callers, on every path (found by review: a StopIteration
or a BaseException such as GreenletExit hung the async twins, fn asking the cache for its
own key deadlocked, and a model's None components were cached as NaN)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings

from semcache_core import EmbedderError, SemCache
from semcache_integrations.langchain import CachedEmbeddings


class Stop(BaseException):
    """Like gevent's GreenletExit or pytest's Failed: not an Exception, not an interrupt."""


def stop_iteration(key: Any) -> Any:
    return next(x for x in [] if x)  # StopIteration


def base_exception(key: Any) -> Any:
    raise Stop


async def async_base_exception(key: Any) -> Any:
    raise Stop


CALLS: dict[str, Callable[[SemCache, Callable[..., Any]], Any]] = {
    "aget_or_compute": lambda cache, fn: cache.aget_or_compute("k", fn),
    "aget_or_compute_many": lambda cache, fn: cache.aget_or_compute_many(["k", "j"], fn),
}


async def _bounded(awaitable: Any) -> Any:
    return await asyncio.wait_for(awaitable, timeout=10)


@pytest.mark.parametrize("call", list(CALLS))
def test_a_stop_iteration_from_a_plain_fn_is_raised_not_a_hang(call: str) -> None:
    cache = SemCache()
    with pytest.raises(RuntimeError, match="StopIteration") as info:
        asyncio.run(_bounded(CALLS[call](cache, stop_iteration)))
    assert isinstance(info.value.__cause__, StopIteration)
    assert len(cache) == 0
    # the key is free again: nothing waits on a flight that never ends
    assert asyncio.run(_bounded(cache.aget_or_compute("k", lambda key: 1))) == 1


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("fn", [base_exception, async_base_exception], ids=["sync", "async"])
def test_a_base_exception_from_fn_is_raised_once_not_retried_forever(
    call: str, fn: Callable[..., Any]
) -> None:
    calls = 0

    def counted(key: Any) -> Any:
        nonlocal calls
        calls += 1
        return fn(key)

    async def acounted(key: Any) -> Any:
        nonlocal calls
        calls += 1
        return await fn(key)

    cache = SemCache()
    wrapped = acounted if asyncio.iscoroutinefunction(fn) else counted
    with pytest.raises(Stop):
        asyncio.run(_bounded(CALLS[call](cache, wrapped)))
    assert calls == 1 and len(cache) == 0


def test_fn_asking_for_its_own_key_is_an_error_not_a_deadlock() -> None:
    cache = SemCache()
    outcome: list[BaseException] = []

    def fallback(key: str) -> Any:
        return cache.get_or_compute(key, lambda k: [0.6, 0.8])

    def call() -> None:
        try:
            cache.get_or_compute("k", fallback)
        except RecursionError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive()
    assert len(outcome) == 1 and "asked the cache for that key" in str(outcome[0])
    assert cache.get_or_compute("k", lambda k: [0.6, 0.8]) == pytest.approx([0.6, 0.8])
    assert cache.get_or_compute("other", lambda k: cache.get_or_compute("k", fallback)) == (
        pytest.approx([0.6, 0.8])  # another key's fn may read a cached one
    )


def test_an_async_fn_asking_for_its_own_key_is_an_error_not_a_deadlock() -> None:
    cache = SemCache()

    async def fallback(key: str) -> Any:
        return await cache.aget_or_compute(key, lambda k: [0.6, 0.8])

    with pytest.raises(RecursionError, match="asked the cache for that key"):
        asyncio.run(_bounded(cache.aget_or_compute("k", fallback)))


OUTER = {  # the call whose fn asks again: single or batch, sync or async
    "get_or_compute": lambda cache, key, inner: cache.get_or_compute(key, inner),
    "get_or_compute_many": lambda cache, key, inner: cache.get_or_compute_many(
        [key, "sibling"], lambda keys: [inner(k) for k in keys]
    ),
}
INNER = {  # how it asks for its own key again
    "get_or_compute": lambda cache: lambda key: cache.get_or_compute(key, lambda k: 1),
    "get_or_compute_many": lambda cache: (
        lambda key: cache.get_or_compute_many([key], lambda keys: [1] * len(keys))[0]
    ),
}


@pytest.mark.parametrize("inner", INNER, ids=INNER.keys())
@pytest.mark.parametrize("outer", OUTER, ids=OUTER.keys())
def test_fn_asking_for_its_own_key_by_any_call_is_an_error_and_leaves_no_flight(
    outer: str, inner: str
) -> None:
    """A batch call joined its flights without the check: the call waited for itself and
    every later miss of the key waited forever (review)."""
    cache = SemCache()
    outcome: list[Any] = []

    def call() -> None:
        try:
            OUTER[outer](cache, "k", INNER[inner](cache))
        except RecursionError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "deadlocked"
    assert len(outcome) == 1 and "asked the cache for that key" in str(outcome[0])
    assert cache._flights._flights == {}
    assert cache.get_or_compute("k", lambda k: 42) == 42  # the key is free again


@pytest.mark.parametrize("inner_batch", [False, True], ids=["single", "batch"])
@pytest.mark.parametrize("outer_batch", [False, True], ids=["single", "batch"])
def test_an_async_fn_asking_for_its_own_key_by_any_call_is_an_error(
    outer_batch: bool, inner_batch: bool
) -> None:
    cache = SemCache()

    async def again(key: str) -> Any:
        if inner_batch:
            return (await cache.aget_or_compute_many([key], lambda keys: [1] * len(keys)))[0]
        return await cache.aget_or_compute(key, lambda k: 1)

    async def outer() -> Any:
        if outer_batch:

            async def many(keys: list[str]) -> list[Any]:
                return [await again(key) for key in keys]

            return await cache.aget_or_compute_many(["k"], many)
        return await cache.aget_or_compute("k", again)

    with pytest.raises(RecursionError, match="asked the cache for that key"):
        asyncio.run(_bounded(outer()))
    assert cache.get_or_compute("k", lambda k: 42) == 42


class Model(Embeddings):
    def __init__(self, vector: list[Any]) -> None:
        self.vector = vector
        self.calls = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return [self.vector for _ in texts]

    def embed_query(self, text: str) -> list[float]:
        self.calls += 1
        return self.vector


@pytest.mark.parametrize(
    ("vector", "said"),
    [
        ([None, 1.0], "NoneType"),
        (["0.5", "0.25"], "str"),
        ([True, False], "bools"),
        ([float("nan"), 1.0], "NaN or infinite"),
        ([float("-inf"), 1.0], "NaN or infinite"),
    ],
    ids=["none", "str", "bool", "nan", "inf"],
)
def test_a_model_vector_that_is_not_finite_numbers_is_refused_not_cached(
    vector: list[Any], said: str
) -> None:
    model = Model(vector)
    embeddings = CachedEmbeddings(model)
    for _ in range(2):
        with pytest.raises(EmbedderError, match=said):
            embeddings.embed_documents(["a"])
    assert model.calls == 2 and len(embeddings.cache) == 0


def test_fn_of_a_batch_or_of_an_async_call_asking_for_its_key_is_an_error() -> None:
    """The first fix caught the sync call only: a batch's fn, and an async call's plain
    fn asking through the sync API (in a worker thread), still waited for themselves."""
    cache = SemCache()
    with pytest.raises(RecursionError, match="asked the cache for that key"):
        cache.get_or_compute_many(["s"], lambda keys: [cache.get_or_compute("s", lambda k: 1)])

    def plain(key: str) -> Any:
        return cache.get_or_compute(key, lambda k: 2)

    with pytest.raises(RecursionError, match="asked the cache for that key"):
        asyncio.run(_bounded(cache.aget_or_compute("a", plain)))
    with pytest.raises(RecursionError, match="asked the cache for that key"):
        asyncio.run(_bounded(cache.aget_or_compute_many(["b"], lambda ks: [plain("b")])))
    # other keys, and the same key after the computation ended, are fine
    assert cache.get_or_compute_many(["x"], lambda ks: [cache.get_or_compute("y", len)]) == [1]
    assert asyncio.run(_bounded(cache.aget_or_compute("a", lambda k: 3))) == 3


def test_another_caches_same_key_is_another_computation() -> None:
    """Two levels of cache (an in-process one in front of a shared one) ask the same key
    of each other: not a recursion."""
    shared, local = SemCache(), SemCache()

    def from_shared(key: str) -> Any:
        return shared.get_or_compute(key, lambda k: [0.6, 0.8])

    assert local.get_or_compute("k", from_shared) == pytest.approx([0.6, 0.8])

    async def afrom_shared(key: str) -> Any:
        return await shared.aget_or_compute(key, lambda k: [0.6, 0.8])

    assert asyncio.run(_bounded(local.aget_or_compute("j", afrom_shared))) == pytest.approx(
        [0.6, 0.8]
    )
    [many] = local.get_or_compute_many(["m"], lambda ks: [from_shared("m")])
    assert many == pytest.approx([0.6, 0.8])
