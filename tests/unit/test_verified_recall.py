"""Verified mode after a restart: the cache-wide curve starts from the observations the
entries carry (real engines: in-process, durable, snapshot), not from nothing."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from restart_stock import (
    CARRIED,
    MODEL,
    TAUGHT,
    YOUNG,
    prompt,
    responses,
    restarted_lookups,
    stock,
)

from semcache_core import SemCache
from semcache_core.backends.base import EntryWrite
from semcache_core.backends.local import LocalBackend
from semcache_core.codec import encode
from semcache_core.errors import BackendUnavailableError, UnsafeRecordError
from semcache_core.verified import Observation, Observations
from semcache_core.verified_responses import (
    Candidate,
    Verifier,
    _interleaved,
    stored_observations,
)


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_restarted_cache_serves_from_the_curve_its_entries_carry(asynchronous: bool) -> None:
    engine = SemCache()
    stock(engine)
    assert restarted_lookups(engine, asynchronous) >= YOUNG * 3 // 4  # 17 of 20 here
    bare = SemCache()
    stock(bare, carried=None)  # the same entries, nothing learned
    assert restarted_lookups(bare, asynchronous) == 0  # the curve starts from nothing


def test_the_curve_is_recalled_from_a_durable_reopen_and_a_snapshot(tmp_path: Path) -> None:
    durable = SemCache(path=tmp_path / "durable")
    stock(durable)
    durable.dump(tmp_path / "snap.bin")
    durable.close()
    with SemCache(path=tmp_path / "durable") as reopened:
        assert restarted_lookups(reopened) >= YOUNG * 3 // 4
    loaded = SemCache()
    loaded.load(tmp_path / "snap.bin")
    assert restarted_lookups(loaded) >= YOUNG * 3 // 4


def test_wrong_observations_carried_keep_a_restarted_cache_exploring() -> None:
    engine = SemCache()
    stock(engine, carried=[[0.96, 0], [0.97, 0], [0.5, 0]])  # wrong even above 0.95
    assert restarted_lookups(engine) == 0


def test_the_entries_are_read_once_by_one_of_many_threads() -> None:
    engine = SemCache()
    stock(engine)
    verifier = Verifier(0.05, judge=None, rng=random.Random(1))
    waiting = threading.Semaphore(0)

    def first_lookup() -> None:
        waiting.release()
        verifier.recall(engine, "llm:default")

    threads = [threading.Thread(target=first_lookup) for _ in range(4)]
    with verifier._recall_lock:  # all four get past the first look at the flag
        for thread in threads:
            thread.start()
        for _ in threads:
            waiting.acquire()
        time.sleep(0.2)
    for thread in threads:
        thread.join()
    assert len(verifier._population.items) == TAUGHT * len(CARRIED)  # once, not four times


def test_a_lookup_after_the_first_reads_the_entries_no_more() -> None:
    engine = SemCache()
    stock(engine)
    cache = responses(engine)
    cache.lookup(prompt(f"asked {TAUGHT}"), MODEL)
    assert len(cache._verifier._population.items) == TAUGHT * len(CARRIED)
    cache.lookup(prompt(f"asked {TAUGHT + 1}"), MODEL)
    assert len(cache._verifier._population.items) == TAUGHT * len(CARRIED)


def test_what_was_learned_before_the_recall_stays_the_newest() -> None:
    engine = SemCache()
    stock(engine)
    verifier = Verifier(0.05, judge=None, rng=random.Random(1))
    verifier.learned(Candidate("k", 0.777, None, None), False)
    verifier.recall(engine, "llm:default")
    items = verifier._population.items
    assert len(items) == TAUGHT * len(CARRIED) + 1 and items[-1] == Observation(0.777, False)
    verifier.recall(engine, "llm:default")  # once only
    assert verifier._population.items == items


def test_a_static_cache_reads_nothing() -> None:
    engine = SemCache()
    stock(engine)
    static = Verifier(None, judge=None)
    assert static.recalled
    static.recall(engine, "llm:default")
    assert static._population.items == ()


def test_stored_observations_reads_at_most_the_entries_asked_for() -> None:
    engine = SemCache()
    stock(engine)
    everything = list(stored_observations(engine, "llm:default"))
    assert len(everything) == TAUGHT + YOUNG
    assert sum(len(r.items) for r in everything) == TAUGHT * len(CARRIED)
    assert len(list(stored_observations(engine, "llm:default", entries=7))) == 7
    assert list(stored_observations(engine, "another")) == []


@settings(max_examples=300, deadline=None)
@given(lengths=st.lists(st.integers(0, 48), max_size=12), limit=st.integers(0, 200))
def test_interleaving_takes_the_newest_of_each_entry_in_turn(
    lengths: list[int], limit: int
) -> None:
    # every observation told apart by its similarity: (record * 50 + position) / 1000
    records = [
        Observations(tuple(Observation((r * 50 + i) / 1000, i % 3 != 0) for i in range(n)))
        for r, n in enumerate(lengths)
    ]
    taken = _interleaved(records, limit)
    assert len(taken) == min(limit, sum(lengths))
    assert len(set(taken)) == len(taken)
    depths = []
    for record in records:
        mine = [o for o in taken if o in record.items]
        depth = len(mine)
        assert mine == list(record.items[len(record.items) - depth :])  # its newest, in order
        depths.append(depth)
    for n, depth in zip(lengths, depths):
        if depth < n:  # it had more to give: no record gave two more than it
            assert max(depths) <= depth + 1
    # oldest first: a deeper round never comes after a shallower one
    places = [divmod(round(o.similarity * 1000), 50) for o in taken]  # (record, position)
    rounds = [lengths[record] - position for record, position in places]
    assert rounds == sorted(rounds, reverse=True)


@pytest.mark.parametrize("durable", [False, True])
def test_reading_the_observations_leaves_the_lru_order_as_it_was(
    durable: bool, tmp_path: Path
) -> None:
    path = tmp_path / "durable" if durable else None
    engine = SemCache(path=path, max_entries=TAUGHT + YOUNG)
    stock(engine)
    static = responses(engine, max_error_rate=None)
    for i in reversed(range(TAUGHT + YOUNG)):  # "stored 49" is now the least recently used
        assert static.lookup(prompt(f"stored {i}"), MODEL) == f"answer {i}"
    cache = responses(engine)
    cache.lookup(prompt(f"asked {TAUGHT}"), MODEL)  # the first candidate: entries read
    assert len(cache._verifier._population.items) == TAUGHT * len(CARRIED)
    newer = range(TAUGHT + YOUNG, TAUGHT + YOUNG + 10)
    for i in newer:
        cache.update(prompt(f"stored {i}"), MODEL, f"answer {i}")
    kept = [i for i in range(TAUGHT + YOUNG) if static.lookup(prompt(f"stored {i}"), MODEL)]
    assert kept == list(range(TAUGHT + YOUNG - 10))  # the ten least recently used went


class _OldBackend(LocalBackend):
    """A backend written before ``get`` took ``touch`` (``Backend`` is public)."""

    def get(self, namespace: str, key: str, now: float, count: bool = True) -> Any:
        return super().get(namespace, key, now, count)


class _FailingPeeks(LocalBackend):
    """A backend whose reads of stored observations fail (a shard gone meanwhile)."""

    def get(
        self, namespace: str, key: str, now: float, count: bool = True, touch: bool = True
    ) -> Any:
        if not touch:
            raise BackendUnavailableError("node 127.0.0.1:1 did not answer")
        return super().get(namespace, key, now, count, touch)


class _PeekThreads(LocalBackend):
    """A backend noting the threads that read stored observations."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()

    def get(
        self, namespace: str, key: str, now: float, count: bool = True, touch: bool = True
    ) -> Any:
        if not touch:
            self.threads.add(threading.get_ident())
        return super().get(namespace, key, now, count, touch)


def test_a_backend_whose_get_takes_no_touch_is_still_read() -> None:
    engine = SemCache(backend=_OldBackend())
    stock(engine)
    assert restarted_lookups(engine) >= YOUNG * 3 // 4


def test_a_backend_failing_while_the_entries_are_read_fails_no_lookup() -> None:
    engine = SemCache(backend=_FailingPeeks())
    stock(engine)
    cache = responses(engine)
    with pytest.warns(RuntimeWarning, match="BackendUnavailableError"):
        assert cache.lookup(prompt(f"asked {TAUGHT}"), MODEL) is None  # explored
    assert cache._verifier.recalled and cache._verifier._population.items == ()
    cache.lookup(prompt(f"asked {TAUGHT + 1}"), MODEL)  # warned once: read no more


def test_an_entry_whose_metadata_does_not_decode_is_passed_over() -> None:
    engine = SemCache()
    stock(engine)
    foreign = EntryWrite("foreign", encode("x"), b"\xc1 not msgpack", "llm:default", None)
    engine._backend.set_many([foreign], engine.now())
    with pytest.raises(UnsafeRecordError):
        engine.get_entry("foreign", namespace="llm:default")  # what a full read meets
    assert restarted_lookups(engine) >= YOUNG * 3 // 4


def test_an_async_lookup_reads_the_entries_off_the_event_loop() -> None:
    backend = _PeekThreads()
    engine = SemCache(backend=backend)
    stock(engine)
    loop_thread: list[int] = []

    async def first() -> None:
        loop_thread.append(threading.get_ident())
        await responses(engine).alookup(prompt(f"asked {TAUGHT}"), MODEL)

    asyncio.run(first())
    assert backend.threads and loop_thread[0] not in backend.threads
