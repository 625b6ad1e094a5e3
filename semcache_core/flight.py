"""Single flight: many callers missing the same key at once share one computation.

Threads wait on a :class:`threading.Event`; coroutines wait on an asyncio future resolved
from whichever thread settles the flight with ``call_soon_threadsafe``, so an async waiter
never occupies a worker thread (a pool full of waiters could otherwise starve the leader).

A waiter leaving is its own business (DESIGN.md, Concurrency):

- a sync leader computes in its own thread (:meth:`FlightTable.run`); an exception from
  the computation reaches every waiter, but an interrupt (``KeyboardInterrupt``,
  ``SystemExit``) is the leader's alone: the flight is *abandoned* and the waiters start
  over, one of them computing with its own function;
- an async leader starts the computation as a task that no waiter owns
  (:meth:`FlightTable.arun`) and then waits for it like everyone else, so cancelling any
  waiter, the leader included, cancels only that wait. When every waiter is cancelled the
  computation still finishes and its result is stored. Only the task's own cancellation
  (its event loop shutting down, as ``asyncio.run`` does on return) abandons the flight,
  and so does its loop being closed with the task never ended (``loop.stop(); loop.close()``
  in a framework's loop thread), or left not running (``wait_for`` timing out under
  ``run_until_complete``), or blocked by a thread that would wait for it (a sync call
  inside a coroutine of that loop): that flight is *orphaned*, and the first caller to see
  it (a new one joining, or a waiter checking every ``ORPHAN_CHECK_S`` seconds) abandons it;
- a waiter whose event loop is closed is skipped when the flight settles.

A sync leader that nobody has joined yet holds only a placeholder in the table (most
``get_or_compute`` misses are never joined); the first follower makes the flight.

Example::

    flights = FlightTable()
    value = flights.run("k", compute, "k")                    # in a thread: compute("k")
    value = await flights.arun("k", lambda: acompute("k"))    # in a coroutine
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any

__all__ = [
    "ORPHAN_CHECK_S",
    "SAME",
    "Flight",
    "FlightAbandoned",
    "FlightTable",
    "Handoff",
    "in_thread",
    "launch",
    "lead",
    "settle_error",
]

# How often a waiter that could outlive the computation's event loop (a thread, a coroutine
# on another loop) checks that loop is still open: what an orphaned flight delays it by.
ORPHAN_CHECK_S = 0.25


class FlightAbandoned(Exception):
    """Raised to a waiter whose flight ended without an outcome: it must start over.

    Internal to single flight: :class:`FlightTable` catches it and retries.
    """


class Flight:
    """One in-progress computation and everyone waiting for it.

    Settled exactly once, by :meth:`finish`, :meth:`fail` or :meth:`abandon`, each of which
    first takes the flight out of its table (so a caller arriving later starts afresh).
    """

    def __init__(self, table: FlightTable | None = None, key: Any = None) -> None:
        self._table = table  # the table to leave when settled, under ``key``
        self._key = key
        self._done = False
        # made by the first thread that waits: most flights (every get_or_compute miss)
        # have no waiter, and an Event costs more to make and set than the rest of a flight
        self._event: threading.Event | None = None
        self._lock = threading.Lock()
        self._kind: str | None = None  # the outcome: "value", "error" or "abandoned"
        self._value: Any = None
        self._error: BaseException | None = None
        self._traceback: TracebackType | None = None  # the error's, as the leader raised it
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._thread_waiters = 0
        self._task: asyncio.Future[Any] | None = None  # an async computation, kept alive

    def finish(self, value: Any) -> None:
        self._record("value", value)

    def fail(self, error: BaseException) -> None:
        self._record("error", error=error)

    def abandon(self) -> None:
        self._record("abandoned")

    def _record(self, kind: str, value: Any = None, error: BaseException | None = None) -> None:
        """Settle with the first outcome given; a later call only delivers it again. An
        interrupt (Ctrl-C) may stop a settlement half way: the leader's handler settles
        again (:func:`settle_error`), and that one reaches every waiter."""
        with self._lock:
            if self._kind is None:
                self._kind, self._value, self._error = kind, value, error
                self._traceback = None if error is None else error.__traceback__
        self._settle()

    def _settle(self) -> None:
        if self._table is not None:
            self._table._leave(self._key, self)
        with self._lock:
            self._done = True
            event = self._event
            waiters = list(self._async_waiters)  # kept: a settlement cut short is redone
            self._task = None
        if event is not None:
            event.set()
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # a closed loop: that waiter is gone
                loop.call_soon_threadsafe(_resolve, future)

    def abandon_if_orphaned(self, blocking: bool = False) -> bool:
        """Abandon this flight if its async computation cannot end while waited for: its
        event loop was closed before the task ended, or is not running (a caller that
        stopped waiting, ``wait_for`` timing out under ``run_until_complete``, left its
        task on a loop nobody runs now), or, for a thread about to block (``blocking``),
        it is the loop of that very thread (a sync call inside a coroutine), which the wait
        would stop for good. Nothing would settle it (its done callback runs on that loop).
        Whether it did; exactly one caller does. A task that goes on later still stores
        its value: the key is computed twice, and nobody hangs."""
        with self._lock:
            task = self._task
            if self._done or task is None or not _cannot_end(task.get_loop(), blocking):
                return False
            self._task = None  # claimed
        self.abandon()
        return True

    def _outcome(self) -> Any:
        if self._kind == "abandoned":
            raise FlightAbandoned
        if self._kind == "error":
            assert self._error is not None
            # the leader's traceback, not the last waiter's: each raise adds the raising
            # frames to the one exception every waiter shares (as an asyncio future does)
            raise self._error.with_traceback(self._traceback)
        return self._value

    def waiting(self) -> int:
        """How many callers wait for this flight to end."""
        with self._lock:
            return self._thread_waiters + len(self._async_waiters)

    def wait(self) -> Any:
        """Block until the flight settles: its value, or its exception raised here.

        Raises:
            FlightAbandoned: the computation was interrupted; start over.
        """
        with self._lock:
            self._thread_waiters += 1
            event = None
            if not self._done:
                event = self._event = self._event or threading.Event()
        try:
            if event is not None:
                while (
                    not self._done  # settled, its wake-up cut short by an interrupt
                    and not self.abandon_if_orphaned(blocking=True)
                    and not event.wait(ORPHAN_CHECK_S)
                ):
                    pass
        finally:
            with self._lock:
                self._thread_waiters -= 1
        return self._outcome()

    async def await_outcome(self) -> Any:
        """Like :meth:`wait`, without blocking the event loop or a worker thread.

        Cancelling this wait cancels nothing else.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._done:
                return self._outcome()
            waiter = (loop, loop.create_future())
            self._async_waiters.append(waiter)
            task = self._task
        try:
            if task is not None and task.get_loop() is loop:
                await waiter[1]  # the computation's own loop: it cannot close under us
            else:
                while not waiter[1].done() and not self._done and not self.abandon_if_orphaned():
                    await asyncio.wait((waiter[1],), timeout=ORPHAN_CHECK_S)
        except BaseException:
            with self._lock:
                if waiter in self._async_waiters:
                    self._async_waiters.remove(waiter)
            raise
        return self._outcome()


def _cannot_end(loop: asyncio.AbstractEventLoop, blocking: bool) -> bool:
    """Whether a task of ``loop`` cannot progress (see ``Flight.abandon_if_orphaned``)."""
    if loop.is_closed() or not loop.is_running():
        return True
    if not blocking:
        return False
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:  # no loop runs in this thread
        return False


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def settle_error(flights: Sequence[Flight], error: BaseException) -> None:
    """An exception from the computation reaches every waiter; an interrupt abandons
    (a flight settled already keeps its outcome)."""
    for flight in flights:
        if isinstance(error, Exception):
            flight.fail(error)
        else:
            flight.abandon()


def lead(flights: Sequence[Flight], compute: Callable[[], Sequence[Any]]) -> Sequence[Any]:
    """Run ``compute`` (one value per flight) in this thread and settle ``flights`` with it.

    An exception from ``compute`` fails the flights and is raised here; an interrupt
    abandons them (their waiters start over) and is raised here alone.
    """
    try:
        token = computing([(flight._table, flight._key) for flight in flights])
        try:
            values = compute()
        finally:
            _COMPUTING.reset(token)
        for flight, value in zip(flights, values):
            flight.finish(value)
    except BaseException as exc:
        for flight in reversed(flights):  # computing() marked them in order: last on top
            _unmark(flight._table, flight._key)
        settle_error(flights, exc)  # the flights finished meanwhile keep their value
        raise
    return values


class _Raised:
    """A ``CancelledError`` the computation raised itself (its task was not cancelled)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


async def _drive(acompute: Callable[[], Awaitable[Sequence[Any]]], keys: list[Any]) -> Any:
    computing(keys)  # in this task's own context: nothing to reset
    try:
        return await acompute()
    except asyncio.CancelledError as exc:
        task = asyncio.current_task()
        cancelling = getattr(task, "cancelling", None)  # Python 3.11+
        if cancelling is not None and not cancelling():
            return _Raised(exc)  # the function's own error, for every waiter
        raise
    except (KeyboardInterrupt, SystemExit):
        raise  # they stop the event loop: the flights are abandoned
    except BaseException as exc:  # Exception, and the like of GreenletExit: no waiter
        return _Raised(exc)  # owns the task to raise it alone, so every waiter does


async def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """``await asyncio.to_thread(fn, *args)``, a ``StopIteration`` from ``fn`` raised as a
    ``RuntimeError``: asyncio cannot set one on a future, whose task then never ends (nor
    the flight waiting on it)."""
    return await asyncio.to_thread(_stopped_as_error, fn, *args)


def _stopped_as_error(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except StopIteration as exc:
        raise RuntimeError("the function raised StopIteration (see __cause__)") from exc


def _on_done(flights: Sequence[Flight], task: asyncio.Future[Any]) -> None:
    if task.cancelled():
        for flight in flights:
            flight.abandon()
        return
    error = task.exception()  # KeyboardInterrupt/SystemExit stop the loop: abandon
    if error is not None:
        settle_error(flights, error)
        return
    result = task.result()
    if isinstance(result, _Raised):
        for flight in flights:
            flight.fail(result.error)
        return
    for flight, value in zip(flights, result):
        flight.finish(value)


def launch(flights: Sequence[Flight], acompute: Callable[[], Awaitable[Sequence[Any]]]) -> None:
    """Start ``acompute()`` (one value per flight) as a task of the running loop, owned by
    no waiter, that settles ``flights`` when it ends. Call from a coroutine."""
    coroutine = task = None
    try:
        keys = [(flight._table, flight._key) for flight in flights]
        coroutine = _drive(acompute, keys)
        task = asyncio.ensure_future(coroutine)
    except BaseException:
        if task is None and coroutine is not None:
            coroutine.close()  # never started: no "never awaited" warning
        for flight in flights:
            flight.abandon()
        raise
    for flight in flights:
        flight._task = task
    task.add_done_callback(lambda done: _on_done(flights, done))


class Handoff:
    """How :meth:`FlightTable.run` makes each caller's value from what its computation
    returned: as it is, here; a subclass gives each caller a copy of its own.

    - :meth:`own`: the leader's value (nothing else holds what it computed);
    - :meth:`publish`: what the flight's waiters are given, made by the leader before it
      returns (its caller may change what :meth:`own` gave it);
    - :meth:`copy`: a waiter's value from the published one, which every waiter shares.
    """

    def own(self, value: Any) -> Any:
        return value

    def publish(self, value: Any) -> Any:
        return value

    def copy(self, value: Any) -> Any:
        return value


SAME = Handoff()
"""Every caller gets the computation's value itself."""


class _Unwatched:
    """A sync leader's place in the table while nobody waits for it (:meth:`FlightTable.run`):
    most ``get_or_compute`` misses have no follower, and a :class:`Flight` costs more to
    make and settle than the rest of the miss. The first follower makes the flight."""

    __slots__ = ("flight",)

    def __init__(self) -> None:
        self.flight: Flight | None = None


class FlightTable:
    """Flights by key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[Any, Flight | _Unwatched] = {}

    def join(self, key: Any) -> tuple[Flight, bool]:
        """The flight for ``key`` and whether the caller leads it (must compute and settle
        it: :func:`lead`, :func:`launch`). An orphaned flight found there is abandoned
        (its waiters start over) and the caller joins afresh."""
        while True:
            made: Flight | None = None
            try:
                with self._lock:
                    found = self._flights.get(key)
                    if found is None:
                        made = self._flights[key] = Flight(self, key)
                    else:
                        flight = self._watched(key, found)
            except BaseException:
                if made is not None:  # interrupted before its leader got it
                    made.abandon()
                raise
            if made is not None:
                return made, True
            if not flight.abandon_if_orphaned():
                return flight, False

    def _watched(self, key: Any, found: Flight | _Unwatched) -> Flight:
        """The flight of what ``join`` found: an unwatched leader's made now (lock held)."""
        if isinstance(found, Flight):
            return found
        flight = found.flight = self._flights[key] = Flight(self, key)
        return flight

    def _leave(self, key: Any, flight: Flight) -> None:
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]

    def waiting(self, key: Any) -> int:
        """How many callers wait for ``key``'s flight to end (0 without one): diagnostics."""
        with self._lock:
            found = self._flights.get(key)
        return found.waiting() if isinstance(found, Flight) else 0

    def run(
        self, key: Any, compute: Callable[..., Any], *args: Any, handoff: Handoff = SAME
    ) -> Any:
        """``compute(*args)``, or the value of the flight already computing ``key``, each
        caller's value made by ``handoff`` from what ``compute`` returned.

        Whatever ends this call, an interrupt (Ctrl-C) included wherever it lands, leaves
        no flight of its own unsettled: nobody waits forever on a flight nobody leads."""
        place: _Unwatched | None = None
        try:
            with self._lock:
                found = self._flights.get(key)
                if found is None:
                    place = self._flights[key] = _Unwatched()
            if place is None:
                check_not_computing(self, key)  # a flight in progress: not this caller's own
                flight, value = self._lead_or_join(key, compute, args, handoff)
                if flight is None:
                    return value
                return self.follow(key, flight, lambda: compute(*args), handoff)
            # _lead_one from an unwatched place (written out: most get_or_compute misses
            # come here): the flight a follower made of it meanwhile, if any, is settled as
            # lead() settles it
            token = _COMPUTING.set(((self, key), _COMPUTING.get()))  # computing(), inlined
            try:
                value = compute(*args)
            finally:
                _COMPUTING.reset(token)
            made = self._vacate(key, place)
            if made is not None:
                made.finish(handoff.publish(value))
            return handoff.own(value)
        except BaseException as exc:
            if place is not None:
                _unmark(self, key)
                made = self._vacate(key, place)
                if made is not None:
                    settle_error((made,), exc)
            raise

    def _vacate(self, key: Any, place: _Unwatched) -> Flight | None:
        """Leave ``place``: the flight a follower made of it (it leaves when settled), or
        None. Again after that: the same answer, nothing else removed."""
        with self._lock:
            if place.flight is None and self._flights.get(key) is place:
                del self._flights[key]
            return place.flight

    def _lead_or_join(
        self, key: Any, compute: Callable[..., Any], args: tuple[Any, ...], handoff: Handoff
    ) -> tuple[Flight | None, Any]:
        """Join ``key``'s flight: ``(None, value)`` having led it (``compute(*args)``), or
        ``(flight, None)`` to follow. A flight this call leads is settled however the call
        ends (an interrupt at any point: abandoned, its waiters start over)."""
        flight: Flight | None = None
        leader = False
        try:
            flight, leader = self.join(key)
            if leader:
                return None, _lead_one(flight, compute, args, handoff)
        except BaseException as exc:
            if leader:
                assert flight is not None
                _unmark(self, key)
                settle_error((flight,), exc)
            raise
        return flight, None

    def follow(
        self, key: Any, flight: Flight, compute: Callable[[], Any], handoff: Handoff = SAME
    ) -> Any:
        """``flight``'s value; :meth:`run` again when it is abandoned."""
        while True:
            try:
                return handoff.copy(flight.wait())
            except FlightAbandoned:
                pass
            joined, value = self._lead_or_join(key, compute, (), handoff)
            if joined is None:
                return value
            flight = joined

    async def arun(self, key: Any, acompute: Callable[[], Awaitable[Any]]) -> Any:
        """Async :meth:`run`: ``acompute()`` runs as a task no waiter owns."""
        check_not_computing(self, key)
        flight = self._join_launching(key, acompute)
        return await self.afollow(key, flight, acompute)

    def _join_launching(self, key: Any, acompute: Callable[[], Awaitable[Any]]) -> Flight:
        """Join ``key``'s flight, launching ``acompute()`` when this call leads it; a flight
        it leads is abandoned when this ends in an interrupt before the launch is done."""
        flight: Flight | None = None
        leader = False
        try:
            flight, leader = self.join(key)
            if leader:
                launch([flight], lambda: _one(acompute))
        except BaseException:
            if leader:
                assert flight is not None
                flight.abandon()  # the task, if started, stores its result all the same
            raise
        return flight

    async def afollow(
        self, key: Any, flight: Flight, acompute: Callable[[], Awaitable[Any]]
    ) -> Any:
        """Async :meth:`follow`."""
        while True:
            try:
                return await flight.await_outcome()
            except FlightAbandoned:
                flight = self._join_launching(key, acompute)


_COMPUTING: ContextVar[tuple[Any, Any] | None] = ContextVar("semcache_computing", default=None)
"""The ``(table, key)`` pairs whose computation the current code runs inside, innermost
first, as a chain ``(pair, outer chain)``: a thread's, a task's, and the worker threads a
task hands ``fn`` to (``asyncio.to_thread`` copies the context)."""


def computing(keys: Sequence[tuple[Any, Any]]) -> Token[tuple[Any, Any] | None]:
    """Mark the current context as computing ``keys`` (``(table, key)`` pairs: another
    cache's same key is another computation); give the token to ``_COMPUTING.reset``."""
    chain = _COMPUTING.get()
    for key in keys:
        chain = (key, chain)
    return _COMPUTING.set(chain)


def _unmark(table: FlightTable | None, key: Any) -> None:
    """Take ``(table, key)`` off the top of the current context's computing chain if an
    interrupt left it there (it landed between marking it and the ``try`` that unmarks):
    the next call for that key would take itself for its own computation."""
    chain = _COMPUTING.get()
    if chain is not None and chain[0][0] is table and chain[0][1] == key:
        _COMPUTING.set(chain[1])


def check_not_computing(table: FlightTable, key: Any) -> None:
    """Raise ``RecursionError`` when the current context computes ``key`` of ``table``:
    its ``fn`` asked the cache for the very key it computes, and would wait for itself."""
    chain = _COMPUTING.get()
    while chain is not None:
        if chain[0][0] is table and chain[0][1] == key:
            raise RecursionError(
                f"the function computing {key!r} asked the cache for that key: it would "
                "wait for itself (compute it directly, or use another key)"
            )
        chain = chain[1]


def _lead_one(
    flight: Flight, compute: Callable[..., Any], args: tuple[Any, ...], handoff: Handoff
) -> Any:
    """:func:`lead` of one flight, without its lists."""
    token = computing(((flight._table, flight._key),))
    try:
        value = compute(*args)
    except BaseException as exc:
        settle_error((flight,), exc)
        raise
    finally:
        _COMPUTING.reset(token)
    flight.finish(handoff.publish(value))
    return handoff.own(value)  # the caller settles the flight if this is interrupted


async def _one(acompute: Callable[[], Awaitable[Any]]) -> list[Any]:
    return [await acompute()]
