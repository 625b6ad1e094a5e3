"""Single flight when waiters go away: cancellation, interrupts and closed event loops.

DESIGN.md: "One waiter's cancellation, interrupt or closed event loop is its own: the shared
computation goes on for the others." Waiters here are threads, coroutines on loops running
in other threads, and the test's own coroutines. No test sleeps to create overlap: each one
holds the computation until the flight reports its waiters parked
(``FlightTable.waiting``), and every wait is bounded, so a lost wake-up fails, not hangs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import signal
import threading
import time
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from threads import wait_until

from semcache_core import SemCache

KEY = "hot"
VALUE = {"answer": 42, "items": [1, 2]}
BOUND = 20.0  # seconds any single wait may take before the test fails
CANCELLED = "cancelled"


@pytest.fixture(autouse=True)
def sigint_interrupts() -> Any:
    """Python's own SIGINT handler for each test, whatever the process inherited: a shell
    starts a background job (``make test &``) with SIGINT ignored, and then raising the
    signal would interrupt nothing."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class Computation:
    """Every waiter's ``fn``: counts its calls, holds until released, returns ``value``."""

    def __init__(self, value: Any = VALUE) -> None:
        self.value = value
        self.calls = 0
        self.lock = threading.Lock()
        self.started = threading.Event()
        self.release = threading.Event()

    def _enter(self) -> None:
        with self.lock:
            self.calls += 1
        self.started.set()

    def sync(self, key: str) -> Any:
        self._enter()
        assert self.release.wait(BOUND)
        return self.value

    async def coro(self, key: str) -> Any:
        self._enter()
        deadline = time.monotonic() + BOUND
        while not self.release.is_set():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.001)
        return self.value

    def many(self, keys: list[str]) -> list[Any]:
        self.sync(keys[0])
        return [f"{key}={self.value}" for key in keys]

    async def amany(self, keys: list[str]) -> list[Any]:
        await self.coro(keys[0])
        return [f"{key}={self.value}" for key in keys]


class LoopThread:
    """An event loop running forever in its own thread; coroutines submitted from anywhere."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        """Stop and close the loop, whatever still waits in it."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(BOUND)
        assert not self.thread.is_alive()
        self.loop.close()


class Outcomes:
    """What each waiter got: its value, ``CANCELLED``, or the exception it raised."""

    def __init__(self) -> None:
        self.got: dict[str, Any] = {}

    def has(self, name: str) -> bool:
        return name in self.got

    def thread(self, name: str, call: Callable[[], Any]) -> threading.Thread:
        def run() -> None:
            try:
                self.got[name] = call()
            except BaseException as exc:
                self.got[name] = exc

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    async def coroutine(
        self, name: str, call: Callable[[], Coroutine[Any, Any, Any]], cancel_at_start: bool
    ) -> None:
        inner = asyncio.ensure_future(call())
        if cancel_at_start:  # one step in: still looking the key up, or just joined
            await asyncio.sleep(0)
            inner.cancel()
        try:
            self.got[name] = await inner
        except asyncio.CancelledError:
            self.got[name] = CANCELLED
            raise
        except BaseException as exc:
            self.got[name] = exc
            raise


# --- the scenario: who waits where, who is cancelled when, which loop closes ---------------


@dataclass(frozen=True)
class Scenario:
    leader: str  # "thread", "coroutine-async-fn" or "coroutine-sync-fn" (on loop 0)
    cancel_leader: bool  # a coroutine leader only, while fn runs
    threads: int  # thread followers (uncancellable)
    coroutines: tuple[tuple[int, str], ...]  # (loop 0-2, "never" | "start" | "parked")
    closed_loop: int | None  # loop 1 or 2, closed while its followers wait


def run_scenario(s: Scenario) -> None:
    cache = SemCache()
    comp = Computation()
    loops = [LoopThread() for _ in range(3)]
    out = Outcomes()
    threads: list[threading.Thread] = []
    futures: dict[str, concurrent.futures.Future[Any]] = {}
    try:
        if s.leader == "thread":
            threads.append(out.thread("leader", lambda: cache.get_or_compute(KEY, comp.sync)))
        else:
            fn = comp.coro if s.leader == "coroutine-async-fn" else comp.sync
            call = out.coroutine("leader", lambda: cache.aget_or_compute(KEY, fn), False)
            futures["leader"] = loops[0].submit(call)
        assert comp.started.wait(BOUND)

        for i in range(s.threads):
            threads.append(out.thread(f"t{i}", lambda: cache.get_or_compute(KEY, comp.sync)))
        for i, (loop, when) in enumerate(s.coroutines):
            fn = comp.coro if i % 2 else comp.sync
            call = out.coroutine(
                f"c{i}", lambda fn=fn: cache.aget_or_compute(KEY, fn), when == "start"
            )
            futures[f"c{i}"] = loops[loop].submit(call)
        started_cancelled = [f"c{i}" for i, (_, when) in enumerate(s.coroutines) if when == "start"]
        wait_until(lambda: all(out.has(name) for name in started_cancelled), BOUND)
        # every follower parked, and a coroutine leader too: it waits like the others
        parked = s.threads + sum(when != "start" for _, when in s.coroutines)
        parked += s.leader != "thread"
        wait_until(lambda: cache._flights.waiting(("", KEY)) == parked, BOUND)

        cancelled = set(started_cancelled)
        if s.cancel_leader and s.leader != "thread":
            cancelled.add("leader")
        cancelled |= {f"c{i}" for i, (_, when) in enumerate(s.coroutines) if when == "parked"}
        closed = {f"c{i}" for i, (loop, _) in enumerate(s.coroutines) if loop == s.closed_loop}
        for name in cancelled - closed:
            futures[name].cancel()
        wait_until(lambda: all(out.has(name) for name in cancelled - closed), BOUND)
        if s.closed_loop is not None:
            loops[s.closed_loop].close()
        comp.release.set()

        for thread in threads:
            thread.join(BOUND)
            assert not thread.is_alive(), "a thread waiter never woke"
        for name, future in futures.items():
            if name in closed:
                continue
            if name in cancelled:
                with pytest.raises(concurrent.futures.CancelledError):
                    future.result(BOUND)
                assert out.got[name] == CANCELLED
            else:
                future.result(BOUND)
        expected = {name: VALUE for name in ["leader", *futures] if name not in closed}
        expected.update({f"t{i}": VALUE for i in range(s.threads)})
        expected.update({name: CANCELLED for name in cancelled - closed})
        assert {name: out.got.get(name) for name in expected} == expected
        wait_until(lambda: KEY in cache, BOUND)  # stored even when every waiter left
        assert cache.get(KEY) == VALUE
        assert comp.calls == 1
        wait_until(lambda: cache._flights.waiting(("", KEY)) == 0, BOUND)  # settles after storing
    finally:
        comp.release.set()
        for loop_thread in loops:
            loop_thread.close()


scenarios = st.builds(
    Scenario,
    leader=st.sampled_from(["thread", "coroutine-async-fn", "coroutine-sync-fn"]),
    cancel_leader=st.booleans(),
    threads=st.integers(0, 4),
    coroutines=st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(["never", "start", "parked"])),
        max_size=8,
    ).map(tuple),
    closed_loop=st.sampled_from([None, 1, 2]),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios)
def test_any_waiter_leaving_leaves_the_flight_to_the_others(scenario: Scenario) -> None:
    run_scenario(scenario)


@pytest.mark.parametrize("leader", ["coroutine-async-fn", "coroutine-sync-fn"])
def test_cancelled_leader_computes_once_for_threads_and_coroutines_in_three_loops(
    leader: str,
) -> None:
    coroutines = tuple((loop, "never") for loop in range(3) for _ in range(4))
    run_scenario(Scenario(leader, True, 6, coroutines, None))


def test_cancelled_followers_and_a_closed_loop_do_not_reach_the_others() -> None:
    coroutines = ((0, "parked"), (0, "never"), (1, "never"), (1, "parked"), (2, "never"))
    for leader in ["thread", "coroutine-async-fn", "coroutine-sync-fn"]:
        run_scenario(Scenario(leader, False, 3, coroutines * 2, 1))


def test_every_waiter_cancelled_still_stores_the_value() -> None:
    run_scenario(Scenario("coroutine-async-fn", True, 0, ((0, "parked"), (1, "parked")), None))


def test_closed_follower_loop_does_not_fail_a_thread_leader() -> None:
    """Deterministic: a thread leader is never a waiter, so ``waiting`` counts followers."""
    cache = SemCache()
    comp = Computation()
    doomed, alive = LoopThread(), LoopThread()
    out = Outcomes()
    try:
        leader = out.thread("leader", lambda: cache.get_or_compute(KEY, comp.sync))
        assert comp.started.wait(BOUND)
        doomed.submit(out.coroutine("doomed", lambda: cache.aget_or_compute(KEY, comp.sync), False))
        wait_until(lambda: cache._flights.waiting(("", KEY)) == 1, BOUND)
        doomed.close()
        later = [
            alive.submit(
                out.coroutine(f"c{i}", lambda: cache.aget_or_compute(KEY, comp.coro), False)
            )
            for i in range(3)
        ]
        wait_until(lambda: cache._flights.waiting(("", KEY)) == 4, BOUND)
        comp.release.set()
        leader.join(BOUND)
        assert out.got["leader"] == VALUE  # delivering to the closed loop did not raise here
        for future in later:
            future.result(BOUND)  # and did not strand the waiters after it
        assert [out.got[f"c{i}"] for i in range(3)] == [VALUE] * 3
        assert comp.calls == 1
    finally:
        comp.release.set()
        doomed.close()
        alive.close()


# --- a leader whose event loop shuts down, interrupts -------------------------------------


def test_leader_loop_shut_down_mid_computation_hands_the_key_to_a_waiter() -> None:
    """``asyncio.run`` cancels every task when its main coroutine returns: the abandoned
    computation is taken over by a waiter, which computes with its own ``fn``."""
    cache = SemCache()
    first = Computation()
    second = Computation(value="second")
    second.release.set()
    out = Outcomes()
    n = 4

    async def main() -> None:
        leader = asyncio.ensure_future(cache.aget_or_compute(KEY, first.coro))
        while not first.started.is_set() or cache._flights.waiting(("", KEY)) < n:
            await asyncio.sleep(0.001)
        assert not leader.done()  # returning leaves it, and its computation, to shutdown

    followers = []
    leader_loop = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    leader_loop.start()
    assert first.started.wait(BOUND)
    followers = [
        out.thread(f"t{i}", lambda: cache.get_or_compute(KEY, second.sync)) for i in range(n)
    ]
    leader_loop.join(BOUND)
    first.release.set()
    for thread in followers:
        thread.join(BOUND)
        assert not thread.is_alive()
    assert out.got == {f"t{i}": "second" for i in range(n)}
    assert (first.calls, second.calls) == (1, 1)
    assert cache.get(KEY) == "second"


def _orphan_a_flight(cache: SemCache, first: Computation) -> LoopThread:
    """An async leader computing on a loop that is then stopped and closed, its task not
    cancelled (a framework's loop thread): the computation is neither finished nor over."""
    leader_loop = LoopThread()
    leader_loop.submit(cache.aget_or_compute(KEY, first.coro))
    assert first.started.wait(BOUND)
    wait_until(lambda: cache._flights.waiting(("", KEY)) == 1, BOUND)  # the leader, parked
    return leader_loop


@pytest.mark.parametrize("caller", ["sync", "async"])
def test_closed_leader_loop_without_cancelling_frees_the_key(caller: str) -> None:
    cache = SemCache()
    first = Computation()
    later = Computation(value="later")
    later.release.set()
    out = Outcomes()
    leader_loop = _orphan_a_flight(cache, first)
    other = LoopThread()
    try:
        leader_loop.close()
        if caller == "sync":
            thread = out.thread("caller", lambda: cache.get_or_compute(KEY, later.sync))
            thread.join(BOUND)
            assert not thread.is_alive(), "the key's flight outlived its loop"
        else:
            future = other.submit(
                out.coroutine("caller", lambda: cache.aget_or_compute(KEY, later.coro), False)
            )
            future.result(BOUND)
        assert out.got == {"caller": "later"}
        assert (first.calls, later.calls) == (1, 1)
        assert cache.get(KEY) == "later"
    finally:
        first.release.set()
        leader_loop.close()
        other.close()


def test_waiters_of_a_leader_whose_loop_closed_take_over() -> None:
    """Waiters parked before the leader's loop closed start over; one computes for all."""
    cache = SemCache()
    first = Computation()
    later = Computation(value="later")
    later.release.set()
    out = Outcomes()
    leader_loop = _orphan_a_flight(cache, first)
    other = LoopThread()
    try:
        threads = [
            out.thread(f"t{i}", lambda: cache.get_or_compute(KEY, later.sync)) for i in range(2)
        ]
        futures = [
            other.submit(
                out.coroutine(f"c{i}", lambda: cache.aget_or_compute(KEY, later.coro), False)
            )
            for i in range(2)
        ]
        wait_until(lambda: cache._flights.waiting(("", KEY)) == 5, BOUND)
        leader_loop.close()
        for thread in threads:
            thread.join(BOUND)
            assert not thread.is_alive(), "a thread waiter never woke"
        for future in futures:
            future.result(BOUND)
        assert out.got == {name: "later" for name in ["t0", "t1", "c0", "c1"]}
        assert (first.calls, later.calls) == (1, 1)
        assert cache.get(KEY) == "later"
    finally:
        first.release.set()
        leader_loop.close()
        other.close()


def test_interrupted_thread_leader_is_its_own_the_others_compute_again() -> None:
    """SIGINT while the main thread computes: that caller gets KeyboardInterrupt, the
    waiting threads do not; one of them computes the value for all."""
    cache = SemCache()
    others = Computation(value="theirs")
    others.release.set()
    out = Outcomes()
    n = 5
    calls = []

    def interrupted(key: str) -> Any:
        calls.append(key)
        followers.extend(
            out.thread(f"t{i}", lambda: cache.get_or_compute(KEY, others.sync)) for i in range(n)
        )
        wait_until(lambda: cache._flights.waiting(("", KEY)) == n, BOUND)
        signal.raise_signal(signal.SIGINT)
        raise AssertionError("SIGINT did not interrupt")  # pragma: no cover

    followers: list[threading.Thread] = []
    with pytest.raises(KeyboardInterrupt):
        cache.get_or_compute(KEY, interrupted)
    for thread in followers:
        thread.join(BOUND)
        assert not thread.is_alive()
    assert out.got == {f"t{i}": "theirs" for i in range(n)}
    assert (len(calls), others.calls) == (1, 1)
    assert cache.get(KEY) == "theirs"


def test_interrupted_thread_waiter_is_its_own() -> None:
    """SIGINT while the main thread waits for another thread's computation."""
    cache = SemCache()
    comp = Computation()
    out = Outcomes()
    main = threading.main_thread().ident
    assert main == threading.get_ident()
    leader = out.thread("leader", lambda: cache.get_or_compute(KEY, comp.sync))
    assert comp.started.wait(BOUND)
    others = [out.thread(f"t{i}", lambda: cache.get_or_compute(KEY, comp.sync)) for i in range(3)]

    def interrupt_main() -> None:
        wait_until(lambda: cache._flights.waiting(("", KEY)) == 4, BOUND)
        signal.pthread_kill(main, signal.SIGINT)

    threading.Thread(target=interrupt_main, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        cache.get_or_compute(KEY, comp.sync)
    comp.release.set()
    for thread in [leader, *others]:
        thread.join(BOUND)
    assert out.got == {name: VALUE for name in ["leader", "t0", "t1", "t2"]}
    assert comp.calls == 1
    assert cache._flights.waiting(("", KEY)) == 0


# --- batches ------------------------------------------------------------------------------


@pytest.mark.parametrize("async_fn", [True, False])
async def test_cancelled_batch_leader_computes_for_its_followers(async_fn: bool) -> None:
    cache = SemCache()
    comp = Computation()
    out = Outcomes()
    fn = comp.amany if async_fn else comp.many
    leader = asyncio.ensure_future(cache.aget_or_compute_many(["a", "b"], fn))
    while not comp.started.is_set():
        await asyncio.sleep(0.001)
    threads = [out.thread("ta", lambda: cache.get_or_compute("a", comp.sync))]
    threads.append(out.thread("tb", lambda: cache.get_or_compute_many(["b", "a"], comp.many)))
    coroutines = [
        asyncio.ensure_future(
            out.coroutine("ca", lambda: cache.aget_or_compute("a", comp.coro), False)
        ),
        asyncio.ensure_future(
            out.coroutine("cab", lambda: cache.aget_or_compute_many(["a", "b"], comp.amany), False)
        ),
    ]
    while cache._flights.waiting(("", "a")) < 3 or cache._flights.waiting(("", "b")) < 1:
        await asyncio.sleep(0.001)
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    comp.release.set()
    await asyncio.wait_for(asyncio.gather(*coroutines), BOUND)
    for thread in threads:
        await asyncio.to_thread(thread.join, BOUND)
    a, b = f"a={VALUE}", f"b={VALUE}"
    assert out.got == {"ta": a, "tb": [b, a], "ca": a, "cab": [a, b]}
    assert comp.calls == 1
    assert cache.get_many(["a", "b"]) == [a, b]


def test_interrupted_batch_leader_is_its_own() -> None:
    cache = SemCache()
    others = Computation(value="theirs")
    others.release.set()
    out = Outcomes()
    followers: list[threading.Thread] = []

    def interrupted(keys: list[str]) -> list[Any]:
        followers.append(out.thread("ta", lambda: cache.get_or_compute("a", others.sync)))
        followers.append(
            out.thread("tab", lambda: cache.get_or_compute_many(["b", "a"], others.many))
        )
        wait_until(
            lambda: cache._flights.waiting(("", "a")) + cache._flights.waiting(("", "b")) == 2,
            BOUND,
        )
        signal.raise_signal(signal.SIGINT)
        raise AssertionError("SIGINT did not interrupt")  # pragma: no cover

    with pytest.raises(KeyboardInterrupt):
        cache.get_or_compute_many(["a", "b"], interrupted)
    for thread in followers:
        thread.join(BOUND)
        assert not thread.is_alive()
    assert out.got["ta"] in ("theirs", "a=theirs")  # whichever caller computed "a" again
    assert out.got["tab"][0] == "b=theirs" and out.got["tab"][1] == out.got["ta"]
    assert cache.get("a") == out.got["ta"]


# --- a leader whose loop cannot run it, and a failure shared by many -----------------------


def _in_thread(call: Callable[[], Any]) -> Any:
    """``call()`` in a thread of its own, bounded: a deadlock fails the test, not the run."""
    out = Outcomes()
    thread = out.thread("call", call)
    thread.join(BOUND)
    assert not thread.is_alive(), "deadlocked"
    if isinstance(out.got["call"], BaseException):
        raise out.got["call"]
    return out.got["call"]


def test_a_sync_call_on_the_loop_of_an_async_leader_computes_instead_of_deadlocking() -> None:
    """A sync ``get_or_compute`` inside a coroutine, while a task of that same loop
    computes the key: waiting would block the only thread that can finish it. The sync
    caller computes for itself (the flight is abandoned: the task's own caller starts
    over and reads that value)."""
    cache = SemCache()

    async def scenario() -> tuple[Any, Any]:
        started, never = asyncio.Event(), asyncio.Event()

        async def slow(key: str) -> str:
            started.set()
            await never.wait()  # still computing when the sync call comes
            return "async"

        leader = asyncio.ensure_future(cache.aget_or_compute(KEY, slow))
        await started.wait()
        blocking = cache.get_or_compute(KEY, lambda key: "sync")  # on the loop's thread
        return blocking, await leader

    assert _in_thread(lambda: asyncio.run(scenario())) == ("sync", "sync")
    assert cache.get(KEY) == "sync"  # the task was cancelled when asyncio.run ended
    assert cache._flights.waiting(("", KEY)) == 0


@pytest.mark.parametrize("caller", ["sync", "async"])
def test_a_leader_left_on_an_idle_loop_frees_the_key(caller: str) -> None:
    """``wait_for`` timing out under ``run_until_complete`` leaves the computation a task
    of a loop nobody runs now (neither running nor closed): every later caller of the key
    waited for it forever. They now compute."""
    cache = SemCache()
    first = Computation()
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(asyncio.TimeoutError):
            loop.run_until_complete(asyncio.wait_for(cache.aget_or_compute(KEY, first.coro), 0.05))
        assert first.calls == 1 and not loop.is_running() and not loop.is_closed()
        if caller == "sync":
            got = _in_thread(lambda: cache.get_or_compute(KEY, lambda key: "later"))
        else:

            async def later(key: str) -> str:
                return "later"

            got = _in_thread(lambda: asyncio.run(cache.aget_or_compute(KEY, later)))
        assert got == "later" and cache.get(KEY) == "later"
    finally:
        first.release.set()
        loop.run_until_complete(asyncio.sleep(0.05))  # the task ends, and writes its value
        loop.close()
    assert cache.get(KEY) == VALUE


def test_each_waiter_of_a_failed_flight_gets_the_leaders_traceback() -> None:
    """Every waiter raises the one exception the computation raised. Each raise added the
    raising frames to it, so a later waiter's traceback held every earlier waiter's
    frames (and kept them alive). The waiters here are coroutines of one loop, woken one
    after the other once the leader's raise is over: each records its traceback as caught."""
    cache = SemCache()
    entered, release = threading.Event(), threading.Event()

    def fails(key: str) -> Any:
        entered.set()
        assert release.wait(BOUND)
        raise ValueError("the model is down")

    def frames(error: ValueError) -> set[str]:
        assert str(error) == "the model is down"
        return {entry.name for entry in traceback.extract_tb(error.__traceback__)}

    async def waiter_alpha() -> set[str]:
        try:
            await cache.aget_or_compute(KEY, fails)
        except ValueError as error:
            return frames(error)
        raise AssertionError("no error")

    async def waiter_beta() -> set[str]:
        try:
            await cache.aget_or_compute(KEY, fails)
        except ValueError as error:
            return frames(error)
        raise AssertionError("no error")

    out = Outcomes()
    leader = out.thread("leader", lambda: cache.get_or_compute(KEY, fails))
    assert entered.wait(BOUND)

    async def scenario() -> list[set[str]]:
        waiters = [asyncio.ensure_future(waiter_alpha()), asyncio.ensure_future(waiter_beta())]
        deadline = time.monotonic() + BOUND
        while cache._flights.waiting(("", KEY)) < 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.001)
        release.set()
        leader.join(BOUND)  # blocks this loop: its waiters run after the leader's raise
        return list(await asyncio.gather(*waiters))

    alpha, beta = _in_thread(lambda: asyncio.run(scenario()))
    assert isinstance(out.got["leader"], ValueError)
    assert "fails" in alpha and "fails" in beta  # the leader's frames, where it failed
    assert "waiter_alpha" in alpha and "waiter_alpha" not in beta
    assert "waiter_beta" in beta and "waiter_beta" not in alpha
