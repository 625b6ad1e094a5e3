"""Ctrl-C wherever it lands in a miss or a write leaves nothing stuck and nothing broken.

CPython delivers a signal's ``KeyboardInterrupt`` only where its eval loop checks for one:
at a Python function's entry and right after a call to a C function returns (and at a
loop's backward jump). :class:`Interrupter`, a profile function, raises one at the n-th
such point in the engine's code (but a generator's resumption); each test tries every n
a call reaches, one call each.

After each interrupt of a ``get_or_compute`` miss: a thread that joined the interrupted
flight still gets the value (it computes it itself if need be), the flight table is
empty, the backend's lock is free, every key reads back its own vector (an entry the
write had made without its row is taken out again: no ``KeyError``), searches find their
own keys, and the same key works from the interrupted thread too (its context does not
still take it for a computation of its own). Before this was checked, 26 of the 66 points
of a joined miss outside the write left the waiter and every later caller of the key
waiting forever, one (right after the read path's ``lock.acquire()``) the whole cache,
and 3 inside the write a key raising ``KeyError`` until deleted.

After each interrupt of ``set``, an overwrite, ``set_many`` or ``delete``: each key reads
back its old value, its new one, or nothing, its own vector finds it, no search finds a
key that is gone, a bounded cache evicts in recency order again, and in durable mode the
journal agrees with the view. Before, a ``delete`` or an overwrite stopped inside the
flat index's removal left a row whose label no longer led to it (searches raised
``KeyError``), or a deleted key that searches still returned; a ``set_many`` stopped
inside its index's batch add left labelled rows whose vectors were never written (a key
holding its new value that its own vector could not find); an eviction stopped after
its heap pop kept that entry for good; a write undone in the view stayed journaled.

The same over 1,000 entries, where searches go through the HNSW graph: before, a write
stopped between the flat copy and the graph left a key the graph never found, or a
deleted key it still returned (then every such search raised ``KeyError``).

Not tried here: coroutines. ``asyncio.run`` turns Ctrl-C into the main task's
cancellation; a loop driven by ``run_until_complete`` can take the interrupt inside
asyncio's own callbacks, which then leave its tasks never woken (the flights of such a
loop, once it is closed, are orphans: the next caller to join abandons them).
"""

from __future__ import annotations

import inspect
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import semcache_core
from semcache_core import SemCache
from semcache_core.flight import _COMPUTING
from semcache_core.persist.journal import entry_id

CORE = str(Path(semcache_core.__file__).parent)
BOUND = 10.0  # seconds any wait may take before the test fails
KEY = "k"
RESUMABLE = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
MOST_POINTS = 400  # far more than a miss reaches: the loop below must end before


def vector(i: int) -> list[float]:
    values = [0.0] * 8
    values[i % 8], values[(i + 1) % 8] = 1.0, 0.5
    return values


class Interrupter:
    """``sys.setprofile`` function raising ``KeyboardInterrupt`` at the ``at``-th point
    where a signal can be delivered in the engine's code."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.seen = 0
        self.fired: str | None = None

    def __call__(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_flags & RESUMABLE:
            return  # a generator resumed, or closed by the collector wherever it runs
        if event == "call":  # the callee's entry: engine code or called by it
            caller = frame.f_back
            inside = _engine(frame) or (
                caller is not None
                and _engine(caller)
                and not frame.f_code.co_filename.endswith("_weakrefset.py")
            )  # a weak set's callback runs where a collection happens to free an item
        elif event == "c_return":  # back from a C call made by engine code
            inside = _engine(frame)
        else:
            return
        if not inside:
            return
        self.seen += 1
        if self.seen == self.at:
            self.fired = f"{event} in {frame.f_code.co_name}:{frame.f_lineno}"
            raise KeyboardInterrupt


def _engine(frame: Any) -> bool:
    return str(frame.f_code.co_filename).startswith(CORE)


def interrupted(call: Callable[[], Any], at: int) -> Interrupter:
    """Run ``call`` in this thread with an interrupt at point ``at`` (if it gets there)."""
    interrupter = Interrupter(at)
    sys.setprofile(interrupter)
    try:
        call()
    except KeyboardInterrupt:
        assert interrupter.fired is not None  # only ours
    finally:
        sys.setprofile(None)
    return interrupter


def in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    got: dict[str, Any] = {}

    def run() -> None:
        try:
            got["value"] = call()
        except BaseException as exc:  # reported by the test
            got["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, got


def finished(thread: threading.Thread, got: dict[str, Any], where: str) -> Any:
    thread.join(BOUND)
    assert not thread.is_alive(), f"{where}: still waiting after {BOUND} s"
    assert "error" not in got, f"{where}: {got.get('error')!r}"
    return got["value"]


def holding(cache: SemCache, key: str) -> Callable[[str], list[float]]:
    """The leader's function: returns once a waiter has joined ``key``'s flight."""

    def fn(_: str) -> list[float]:
        deadline = time.monotonic() + BOUND
        while cache._flights.waiting(("", key)) < 1 and time.monotonic() < deadline:
            time.sleep(0.0005)
        return vector(1)

    return fn


def joiner(cache: SemCache, leading: threading.Event, call: Callable[[], Any]) -> dict[str, Any]:
    """Start ``call`` in a thread once this thread's flight is in the table (or never, if
    the leader ends first): ``{"thread", "got"}`` once started; :func:`joined` waits
    for that decision."""
    started: dict[str, Any] = {"decided": threading.Event()}

    def start() -> None:
        try:
            while not cache._flights._flights:
                if leading.is_set():
                    return
                time.sleep(0.0002)
            started["thread"], started["got"] = in_thread(call)
        finally:
            started["decided"].set()

    threading.Thread(target=start, daemon=True).start()
    return started


def joined(waiter: dict[str, Any], where: str) -> Any:
    """The joiner's value, or None when it never started: decided first (under load the
    starter may see the leader's flight just before it ends, and start late: its call
    must not still run when the table is checked)."""
    assert waiter["decided"].wait(BOUND), f"{where}: the joiner never decided"
    if "thread" not in waiter:
        return None
    return finished(waiter["thread"], waiter["got"], where)


def check_nothing_stuck(cache: SemCache, keys: list[str], where: str) -> None:
    """From another thread (bounded), then from this one: nothing waits forever, every
    key gives its vector, the flight table is empty."""

    def use() -> list[Any]:
        return [cache.get_or_compute(key, lambda _: vector(1)) for key in keys]

    assert _COMPUTING.get() is None, where  # no mark left on this thread's context
    index = cache.backend.index_for("")  # type: ignore[attr-defined]
    assert index is None or index.wait_until_built(BOUND), where  # no worker left unstarted
    assert finished(*in_thread(use), where) == [vector(1)] * len(keys)
    assert not cache._flights._flights, f"{where}: {cache._flights._flights}"
    assert [cache.get_or_compute(key, lambda _: vector(1)) for key in keys] == [vector(1)] * len(
        keys
    ), where  # the interrupted thread too: no RecursionError, no stale mark
    assert cache.search(vector(1), k=1)[0].score > 0.99, where
    assert cache.search(vector(5), k=1)[0].key == "p2", where


def prepared(index: Any, **options: Any) -> SemCache:
    """A cache holding p0, p1, p2 (vectors 3, 4, 5)."""
    cache = SemCache(index=index, **{"hnsw_threshold": 2, **options})
    for i in range(3):
        cache.set(f"p{i}", vector(i + 3), vector=vector(i + 3))
    return cache


def every_point(trial: Callable[[int], Interrupter]) -> int:
    """Run ``trial(at)`` for at = 1, 2, ... until the call ends before ``at``; how many
    points there were."""
    for at in range(1, MOST_POINTS):
        if trial(at).fired is None:
            return at - 1
    raise AssertionError(f"more than {MOST_POINTS} interrupt points: the filter is wrong")


@pytest.mark.parametrize(
    ("index", "threshold"), [("flat", 2), ("hnsw", 2), ("auto", 2), ("auto", 4)]
)  # auto at 4: the miss is the write that starts the graph, and its builder
def test_an_interrupt_anywhere_in_a_joined_miss_strands_no_one(index: str, threshold: int) -> None:
    joins = 0

    def trial(at: int) -> Interrupter:
        nonlocal joins
        cache = prepared(index, hnsw_threshold=threshold)
        leading = threading.Event()
        waiter = joiner(cache, leading, lambda: cache.get_or_compute(KEY, lambda _: vector(1)))
        try:
            interrupter = interrupted(lambda: cache.get_or_compute(KEY, holding(cache, KEY)), at)
        finally:
            leading.set()
        where = f"{index}, {interrupter.fired}"
        value = joined(waiter, where)
        assert value in (None, vector(1))
        joins += value is not None
        check_nothing_stuck(cache, [KEY], where)
        return interrupter

    assert every_point(trial) > 40
    assert joins > 0  # the waiter joined in some trials: a join was exercised


def test_an_interrupt_anywhere_in_a_batch_miss_strands_no_one() -> None:
    keys = ["a", "b", KEY]
    joins = 0

    def trial(at: int) -> Interrupter:
        nonlocal joins
        cache = prepared("flat")

        def fn(texts: list[str]) -> list[list[float]]:
            holding(cache, KEY)(KEY)
            return [vector(1) for _ in texts]

        leading = threading.Event()
        waiter = joiner(cache, leading, lambda: cache.get_or_compute(KEY, lambda _: vector(1)))
        try:
            interrupter = interrupted(lambda: cache.get_or_compute_many(keys, fn), at)
        finally:
            leading.set()
        where = f"batch, {interrupter.fired}"
        value = joined(waiter, where)
        assert value in (None, vector(1))
        joins += value is not None
        check_nothing_stuck(cache, keys, where)
        return interrupter

    assert every_point(trial) > 40
    assert joins > 0


def test_an_interrupt_anywhere_in_a_follower_taking_over_strands_no_one() -> None:
    """The leader's computation is interrupted (its own Ctrl-C, in another thread); this
    thread, following, leads again, and is interrupted at each point in turn."""

    def trial(at: int) -> Interrupter:
        cache = prepared("flat")
        following, left = threading.Event(), threading.Event()

        def interrupted_leader(_: str) -> list[float]:
            assert following.wait(BOUND)
            deadline = time.monotonic() + BOUND
            while cache._flights.waiting(("", KEY)) < 1 and not left.is_set():
                assert time.monotonic() < deadline
                time.sleep(0.0005)
            raise KeyboardInterrupt  # the leader's own: its followers start over

        leader, got = in_thread(lambda: cache.get_or_compute(KEY, interrupted_leader))
        while not cache._flights._flights:
            time.sleep(0.0002)

        def follow() -> Any:
            following.set()
            return cache.get_or_compute(KEY, lambda _: vector(1))

        try:
            interrupter = interrupted(follow, at)
        finally:
            left.set()  # interrupted before it joined: the leader waits no more
        leader.join(BOUND)
        assert not leader.is_alive() and isinstance(got.get("error"), KeyboardInterrupt)
        check_nothing_stuck(cache, [KEY], f"follower, {interrupter.fired}")
        return interrupter

    assert every_point(trial) > 20


BEFORE = {"p0": vector(3), "p1": vector(4), "p2": vector(5)}  # prepared()'s
NEW_VECTORS = {KEY: vector(1), "p1": vector(1), "q": vector(7)}
WRITES: dict[str, Callable[[SemCache], Any]] = {
    "set a new key": lambda cache: cache.set(KEY, "new", vector=vector(1)),
    "overwrite a key": lambda cache: cache.set("p1", "new", vector=vector(1)),
    "set_many, new and old keys": lambda cache: cache.set_many(
        [(key, "new") for key in NEW_VECTORS], vectors=list(NEW_VECTORS.values())
    ),
    "delete": lambda cache: cache.delete("p1"),
}


def check_keys_whole(cache: SemCache, where: str) -> None:
    """Each key a write may touch reads back its old value, its new one, or nothing; one
    present is found by its own vector; no search, filtered or not, finds a key gone."""
    for key in ("p0", "p1", "p2", KEY, "q"):
        value = cache.get(key)
        assert value in (None, "new", BEFORE.get(key)), where
        if value is not None:
            own = NEW_VECTORS[key] if value == "new" else BEFORE[key]
            hits = cache.search(own, k=5)
            assert key in [hit.key for hit in hits if hit.score > 0.99], where
    for query in range(8):
        for hits in (
            cache.search(vector(query), k=10),
            cache.search(vector(query), k=10, filters={"no": {"$ne": 1}}),
        ):
            assert all(cache.get(hit.key) == hit.value for hit in hits), where


@pytest.mark.parametrize(
    ("index", "bounded"), [("flat", False), ("hnsw", False), ("flat", True), ("hnsw", True)]
)
@pytest.mark.parametrize("write", sorted(WRITES))
def test_an_interrupt_anywhere_in_a_write_leaves_every_key_whole(
    index: str, bounded: bool, write: str
) -> None:
    """Each key touched reads back its old value, its new one, or nothing (an overwrite
    stopped half way has removed the old one; ``bounded``: a cache of at most 4 entries
    may evict any, and holds 4 again after the next write); every key present is found by
    its own vector; no search finds a key that is gone; the untouched keys are as they
    were (unless evicted); nothing raises."""

    def trial(at: int) -> Interrupter:
        cache = prepared(index, **({"max_entries": 4} if bounded else {}))
        interrupter = interrupted(lambda: WRITES[write](cache), at)
        where = f"{index}, {bounded}, {write}, {interrupter.fired}"
        check_keys_whole(cache, where)
        if not bounded:
            assert cache.get("p0") == BEFORE["p0"] and cache.get("p2") == BEFORE["p2"], where
        assert len(cache) == sum(cache.exists(key) for key in ("p0", "p1", "p2", KEY, "q"))
        cache.set("after", "x", vector=vector(6))  # the cache still takes writes
        assert cache.get("after") == "x", where
        assert len(cache) <= 4 or not bounded, where  # the bound holds again after it
        if bounded:  # and least recent goes first: no entry is left out of the order
            for i in range(4):
                cache.set(f"later{i}", i, vector=vector(i))
            assert sorted(cache.scan()) == [f"later{i}" for i in range(4)], where
        return interrupter

    assert every_point(trial) > 5


def test_an_interrupted_durable_write_leaves_the_view_and_the_journal_agreeing(
    tmp_path: Path,
) -> None:
    """Durable mode journals a write before the view takes it: a write the view undid
    (stopped half way) must leave the journal by the next journal change (else a crash
    would bring it back), and a key the view holds must not go missing on reopening."""

    def trial(at: int) -> Interrupter:
        directory = tmp_path / str(at)
        cache = SemCache(path=directory)
        cache.set("k", "old", vector=vector(3))
        interrupter = interrupted(lambda: cache.set("k", "new", vector=vector(1)), at)
        where = f"durable, {interrupter.fired}"
        seen = cache.get("k")
        assert seen in (None, "old", "new"), where
        cache.set("other", "x", vector=vector(6))  # the next journal change
        journaled = cache.backend._record(entry_id("", "k"))  # type: ignore[attr-defined]
        assert (journaled is None) == (seen is None), where  # what a crash would reopen
        cache.close()
        with SemCache(path=directory) as reopened:
            assert reopened.get("k") == seen, where
            assert reopened.get("other") == "x", where
        return interrupter

    assert every_point(trial) > 5


GRAPHED = 1_000  # a namespace this big is searched through its HNSW graph


def graphed(index: Any) -> SemCache:
    """:func:`prepared` with another 1,000 entries (random vectors): searched by graph."""
    cache = prepared(index)
    rows = np.random.default_rng(7).standard_normal((GRAPHED, 8)).astype(np.float32)
    cache.set_many([(f"b{i}", i) for i in range(GRAPHED)], vectors=rows)
    built = cache.backend.index_for("")  # type: ignore[attr-defined]
    assert built.wait_until_built(BOUND) and built.kind == "hnsw"
    return cache


@pytest.mark.parametrize("index", ["hnsw", "auto"])
@pytest.mark.parametrize("write", ["set a new key", "delete", "set_many, new and old keys"])
def test_an_interrupt_anywhere_in_a_write_to_a_graph_leaves_every_key_whole(
    index: str, write: str
) -> None:
    """As above, with the namespace searched through its graph: the graph must find
    each key present by its own vector (a row the graph missed is queued for it, and
    searched exactly meanwhile) and never return one that is gone."""

    def trial(at: int) -> Interrupter:
        cache = graphed(index)
        interrupter = interrupted(lambda: WRITES[write](cache), at)
        where = f"{index}, {write}, {interrupter.fired}"
        check_keys_whole(cache, where)
        cache.delete("p0")  # every key can still go
        assert not cache.exists("p0") and cache.get("b1") == 1, where
        return interrupter

    assert every_point(trial) > 5


@pytest.mark.parametrize("how", ["evicted", "expired"])
def test_an_interrupt_anywhere_in_dropping_a_loaded_entry_loses_nothing(
    tmp_path: Path, how: str
) -> None:
    """A load leaves entries cold (in columns) until touched; evicting or purging one
    thaws it first. Interrupted anywhere there, the entry is either still held, whole,
    or gone: searches never raise, and the cache holds what it counts."""
    clock = [1000.0]
    source = prepared("flat", clock=lambda: clock[0])
    source.set("t", "soon", vector=vector(7), ttl=10)
    snapshot = tmp_path / "cache.semcache"
    source.dump(snapshot)

    def trial(at: int) -> Interrupter:
        clock[0] = 1000.0
        cache = SemCache(max_entries=4, clock=lambda: clock[0])
        cache.load(snapshot)
        drop: Callable[[], Any]
        if how == "evicted":
            drop = lambda: cache.set(KEY, "new", vector=vector(1))  # noqa: E731
        else:
            clock[0] = 2000.0  # "t" has expired
            drop = cache.purge_expired
        interrupter = interrupted(drop, at)
        where = f"{how}, {interrupter.fired}"
        for query in range(8):
            hits = cache.search(vector(query), k=10)
            assert all(cache.get(hit.key) == hit.value for hit in hits), where
        held = [key for key in ("p0", "p1", "p2", "t", KEY) if cache.exists(key)]
        assert len(cache) == len(held), where
        for i in range(4):  # the cache goes on, within its bound
            cache.set(f"later{i}", i, vector=vector(i))
        assert sorted(cache.scan()) == [f"later{i}" for i in range(4)], where
        return interrupter

    assert every_point(trial) > 5
