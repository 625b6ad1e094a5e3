"""A ``get_or_compute`` miss looks the key up again before computing only when the
backend stored an entry since the first lookup (:attr:`LocalBackend.entered`, moved on
under the backend's lock with each store): whatever stored the key in between (another
caller's flight, a late store of an abandoned async flight, a ``set``, another facade on
the same backend) is seen, and the function is not called.

The race is made deterministic with a backend whose lookup, having missed, runs a store of
the same key before it returns the miss.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semcache_core import SemCache
from semcache_core.backends import LocalBackend
from semcache_core.backends.base import StoredEntry
from semcache_core.codec import encode
from semcache_core.stored_values import MISSING


class Probe:
    """A plain :class:`LocalBackend` (so the cache trusts its count of entries) whose next
    missing lookup runs ``on_miss`` before it returns, and which counts the uncounted
    lookups (``count=False``: a flight leader's second look). Instance attributes, not a
    subclass: a subclass that overrides reads is never trusted."""

    def __init__(self) -> None:
        self.backend = LocalBackend(index="flat")
        self.on_miss: Callable[[], None] | None = None
        self.second_looks = 0
        read_value, get = self.backend.read_value, self.backend.get

        def hooked_read_value(namespace: str, key: str, now: float) -> Any:
            found = read_value(namespace, key, now)
            hook, self.on_miss = self.on_miss, None
            if found is MISSING and hook is not None:
                hook()
            return found

        def counting_get(namespace: str, key: str, now: float, count: bool = True) -> Any:
            if not count:
                self.second_looks += 1
            return get(namespace, key, now, count=count)

        self.backend.read_value = hooked_read_value  # type: ignore[method-assign]
        self.backend.get = counting_get  # type: ignore[method-assign]


def in_another_thread(call: Callable[[], Any]) -> Callable[[], None]:
    def run() -> None:
        thread = threading.Thread(target=call)
        thread.start()
        thread.join(10)
        assert not thread.is_alive()

    return run


def refusing(key: str) -> list[float]:
    raise AssertionError(f"computed {key!r} again after something stored it")


def started(stored: Any) -> tuple[Probe, SemCache, Any]:
    probe = Probe()
    cache = SemCache(backend=probe.backend)
    cache.get_or_compute("first", lambda _: [1.0, 0.0])  # the namespace's index
    want = pytest.approx(stored, rel=1e-6) if isinstance(stored, list) else stored
    return probe, cache, want


@pytest.mark.parametrize("stored", [[0.6, 0.8], "a plain value"])
@pytest.mark.parametrize("how", ["get_or_compute", "set", "another facade"])
def test_a_miss_whose_key_was_stored_meanwhile_returns_that_value(stored: Any, how: str) -> None:
    probe, cache, want = started(stored)
    other = SemCache(backend=probe.backend) if how == "another facade" else cache
    store: Callable[[], Any] = {
        "get_or_compute": lambda: cache.get_or_compute("k", lambda _: stored),
        "set": lambda: cache.set("k", stored),
        "another facade": lambda: other.get_or_compute("k", lambda _: stored),
    }[how]
    probe.on_miss = in_another_thread(store)
    assert cache.get_or_compute("k", refusing) == want
    assert cache.get("k") == want
    assert probe.second_looks == 1


def test_an_abandoned_async_flights_late_store_is_seen() -> None:
    """``asyncio.run`` cancels a leader whose caller timed out: its flight leaves the table
    at once, and its plain ``fn``, still running in a worker thread, stores the key later.
    A caller whose lookup missed just before that store must not compute again."""
    probe, cache, want = started([0.6, 0.8])
    running, release = threading.Event(), threading.Event()

    def slow(_: str) -> list[float]:
        running.set()
        assert release.wait(10)
        return [0.6, 0.8]

    async def timed_out() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(cache.aget_or_compute("k", slow), timeout=0.2)

    loop = threading.Thread(target=lambda: asyncio.run(timed_out()))
    loop.start()
    assert running.wait(10)
    while cache._flights._flights:  # abandoned: its flight left the table
        time.sleep(0.005)

    def late_store() -> None:
        release.set()
        while not probe.backend.holds("", "k"):
            time.sleep(0.001)

    probe.on_miss = late_store
    assert cache.get_or_compute("k", refusing) == want
    loop.join(10)


def test_an_entry_of_another_key_stored_meanwhile_costs_only_a_second_look() -> None:
    probe, cache, _ = started(None)
    probe.on_miss = in_another_thread(lambda: cache.get_or_compute("other", lambda _: 1))
    assert cache.get_or_compute("k", lambda _: [0.5, 0.5]) == [0.5, 0.5]
    assert probe.second_looks == 1
    assert cache.get("other") == 1


@settings(max_examples=30, deadline=None)
@given(keys=st.lists(st.text("abc", min_size=1, max_size=3), min_size=1, max_size=30))
def test_misses_with_nothing_stored_between_look_the_key_up_once(keys: list[str]) -> None:
    probe = Probe()
    cache = SemCache(backend=probe.backend)
    for key in keys:
        cache.get_or_compute(key, lambda k: [float(len(k)), 1.0])
    assert probe.second_looks == 0
    assert cache.stats().computes == len(set(keys))
    assert cache.stats().misses == len(set(keys))


def test_every_store_moves_the_count_on_and_nothing_moves_it_back(tmp_path: Path) -> None:
    cache = SemCache(index="flat")
    backend = cache.backend
    assert isinstance(backend, LocalBackend)
    seen = [backend.entered]

    def moved(by: int = 1) -> None:
        assert backend.entered >= seen[-1] + by
        seen.append(backend.entered)

    cache.set("a", 1)
    moved()
    cache.set("a", 2)  # a replacement is a store too
    moved()
    cache.set_many({"b": 1, "c": 2})
    moved(2)
    cache.get_or_compute("d", lambda _: [0.5, 0.5])  # the general write (first vector)
    moved()
    cache.get_or_compute("e", lambda _: [0.6, 0.8])  # the one-step write
    moved()
    cache.get_or_compute("f", lambda _: 7)
    moved()
    cache.set("g", "text", vector=np.array([0.6, 0.8], np.float32))
    moved()
    cache.put("h", "a text to embed", namespace="texts")
    moved()
    cache.dump(tmp_path / "snap")
    cache.delete("a")
    cache.clear()
    assert backend.entered == seen[-1]  # removals never move it back
    cache.load(tmp_path / "snap")
    moved()


class ReadThrough(LocalBackend):
    """Reads that also find what a second tier (another process's store, say) holds."""

    def __init__(self) -> None:
        super().__init__(index="flat")
        self.tier: dict[str, Any] = {}
        self.on_miss: Callable[[], None] | None = None

    def get(
        self, namespace: str, key: str, now: float, count: bool = True, touch: bool = True
    ) -> Any:
        found = super().get(namespace, key, now, count, touch)
        if found is None and key in self.tier:
            return StoredEntry(key, encode(self.tier[key]), encode({}), namespace, None, None)
        return found

    def read_value(self, namespace: str, key: str, now: float) -> Any:
        found = super().read_value(namespace, key, now)
        if found is MISSING and key in self.tier:
            return self.tier[key]
        hook, self.on_miss = self.on_miss, None
        if found is MISSING and hook is not None:
            hook()
        return found


def test_a_backend_whose_reads_see_more_than_its_entries_is_always_looked_at_again() -> None:
    """Its count of entries says nothing of the other tier: the second look stays."""
    backend = ReadThrough()
    cache = SemCache(backend=backend)
    backend.on_miss = lambda: backend.tier.__setitem__("k", "from the other tier")
    assert cache.get_or_compute("k", refusing) == "from the other tier"


def test_a_subclass_that_reads_another_tier_keeps_the_one_step_write() -> None:
    """Only the second look depends on its reads; its writes are still LocalBackend's."""
    backend = ReadThrough()
    cache = SemCache(backend=backend)
    assert cache._add_float_list is not None and cache._entry_counter is None
    cache.get_or_compute("first", lambda _: [1.0, 0.0])
    assert cache.get_or_compute("k", lambda _: [0.5, 0.5]) == [0.5, 0.5]
    assert cache.get("k") == [0.5, 0.5]
