"""Single flight: many callers missing the same key at once share one computation.

Threads wait on a :class:`threading.Event`; coroutines wait on an asyncio future resolved
from the leader's thread with ``call_soon_threadsafe``, so an async waiter never occupies a
worker thread (a pool full of waiters could otherwise starve the leader).

Example::

    flights = FlightTable()
    flight, leader = flights.join("k")
    if leader:
        try:
            flight.finish(compute())
        except BaseException as exc:
            flight.fail(exc)
            raise
        finally:
            flights.leave("k", flight)
    else:
        value = flight.wait()
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

__all__ = ["Flight", "FlightTable"]


class Flight:
    """One in-progress computation and everyone waiting for it."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._value: Any = None
        self._error: BaseException | None = None
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._thread_waiters = 0

    def finish(self, value: Any) -> None:
        self._value = value
        self._settle()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._settle()

    def _settle(self) -> None:
        with self._lock:
            self._done.set()
            waiters, self._async_waiters = self._async_waiters, []
        for loop, future in waiters:
            loop.call_soon_threadsafe(_resolve, future)

    def _outcome(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value

    def wait(self) -> Any:
        """Block until the leader finishes; its value, or its exception raised here."""
        with self._lock:
            self._thread_waiters += 1
        try:
            self._done.wait()
        finally:
            with self._lock:
                self._thread_waiters -= 1
        return self._outcome()

    async def await_outcome(self) -> Any:
        """Like :meth:`wait`, without blocking the event loop or a worker thread."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if not self._done.is_set():
                future: asyncio.Future[None] = loop.create_future()
                self._async_waiters.append((loop, future))
            else:
                future = None  # type: ignore[assignment]
        if future is not None:
            await future
        return self._outcome()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class FlightTable:
    """Flights by key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[Any, Flight] = {}

    def join(self, key: Any) -> tuple[Flight, bool]:
        """The flight for ``key`` and whether the caller leads it (must compute)."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None:
                return flight, False
            flight = self._flights[key] = Flight()
            return flight, True

    def waiting(self, key: Any) -> int:
        """How many callers wait for ``key``'s flight to end (0 without one): diagnostics."""
        with self._lock:
            flight = self._flights.get(key)
        if flight is None:
            return 0
        with flight._lock:
            return flight._thread_waiters + len(flight._async_waiters)

    def leave(self, key: Any, flight: Flight) -> None:
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
