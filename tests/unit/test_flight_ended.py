"""A ``get_or_compute`` miss looks the key up once more before computing only when a flight
ended since its first lookup (:attr:`~semcache_core.flight.FlightTable.ended`): a leader
that stored the key in between is seen, and the function is not called twice.

The race is made deterministic with a backend whose lookup, having missed, lets another
caller compute and store the same key before it returns the miss.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semcache_core import SemCache
from semcache_core.backends import LocalBackend
from semcache_core.stored_values import MISSING


class MissThenRun(LocalBackend):
    """A local backend whose next missing lookup runs ``on_miss`` before it returns, and
    which counts the uncounted lookups (``count=False``: a flight leader's second look)."""

    def __init__(self) -> None:
        super().__init__(index="flat")
        self.on_miss: Callable[[], None] | None = None
        self.second_looks = 0

    def read_value(self, namespace: str, key: str, now: float) -> Any:
        found = super().read_value(namespace, key, now)
        hook, self.on_miss = self.on_miss, None
        if found is MISSING and hook is not None:
            hook()
        return found

    def get(self, namespace: str, key: str, now: float, count: bool = True) -> Any:
        if not count:
            self.second_looks += 1
        return super().get(namespace, key, now, count=count)


def in_another_thread(call: Callable[[], Any]) -> Callable[[], None]:
    def run() -> None:
        thread = threading.Thread(target=call)
        thread.start()
        thread.join(10)
        assert not thread.is_alive()

    return run


def refusing(key: str) -> list[float]:
    raise AssertionError(f"computed {key!r} again after another caller stored it")


@pytest.mark.parametrize("stored", [[0.6, 0.8], "a plain value"])
def test_a_miss_that_another_flight_stored_meanwhile_returns_that_value(stored: Any) -> None:
    backend = MissThenRun()
    cache = SemCache(backend=backend)
    cache.get_or_compute("first", lambda _: [1.0, 0.0])  # the namespace's index
    other = in_another_thread(lambda: cache.get_or_compute("k", lambda _: stored))
    backend.on_miss = other
    want = pytest.approx(stored, rel=1e-6) if isinstance(stored, list) else stored
    assert cache.get_or_compute("k", refusing) == want
    assert cache.get("k") == want
    assert backend.second_looks == 1
    assert cache.stats().computes == 2  # "first" and the other caller's


def test_a_flight_of_another_key_ending_meanwhile_costs_only_a_second_look() -> None:
    backend = MissThenRun()
    cache = SemCache(backend=backend)
    backend.on_miss = in_another_thread(lambda: cache.get_or_compute("other", lambda _: 1))
    assert cache.get_or_compute("k", lambda _: [0.5, 0.5]) == [0.5, 0.5]
    assert backend.second_looks == 1
    assert cache.get("other") == 1


@settings(max_examples=30, deadline=None)
@given(keys=st.lists(st.text("abc", min_size=1, max_size=3), min_size=1, max_size=30))
def test_misses_with_no_flight_ending_between_look_the_key_up_once(keys: list[str]) -> None:
    backend = MissThenRun()
    cache = SemCache(backend=backend)
    for key in keys:
        cache.get_or_compute(key, lambda k: [float(len(k)), 1.0])
    assert backend.second_looks == 0
    assert cache.stats().computes == len(set(keys))
    assert cache.stats().misses == len(set(keys))


def test_every_way_a_flight_ends_moves_the_count_on() -> None:
    """Stored, failed, interrupted (abandoned), and the batch and async leaders' flights:
    each leaves the table with :attr:`ended` moved on, after what it stored."""
    cache = SemCache()
    flights = cache._flights
    seen = [flights.ended]

    def moved() -> None:
        assert flights.ended > seen[-1]
        seen.append(flights.ended)

    cache.get_or_compute("a", lambda _: 1)
    moved()
    with pytest.raises(ValueError):
        cache.get_or_compute("b", lambda _: (_ for _ in ()).throw(ValueError("no")))
    moved()

    def interrupted(_: str) -> Any:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.get_or_compute("c", interrupted)
    moved()
    cache.get_or_compute_many(["d", "e"], lambda keys: [1, 2])
    moved()

    async def compute(_: str) -> int:
        return 3

    assert asyncio.run(cache.aget_or_compute("f", compute)) == 3
    moved()
