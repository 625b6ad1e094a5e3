"""Many-key calls of :class:`~semcache_core.SemCache`, sync and async.

``get_many`` / ``delete_many`` read and remove batches of keys; ``get_or_compute_many`` is
:meth:`~semcache_core.SemCache.get_or_compute` for a batch: every key that misses is
computed by **one** call of ``fn(missing_keys)`` (one request to an embedding API for a
batch of texts), while single flight still holds per key. A key another caller is already
computing is awaited, not computed again, and the keys this call computes are awaited by
the others. Each call finishes the flights it leads before it waits for anyone else's, so
two calls whose batches overlap cannot wait for each other.

The sync and async twins drive one :class:`_ManyPlan` (lookups, flights, storing,
results) and differ only in how they wait: the async ones run storage calls in a worker
thread and wait for other callers' flights without blocking the event loop.

Example::

    >>> import numpy as np
    >>> from semcache_core import SemCache
    >>> cache = SemCache()
    >>> def embed(texts):  # one call for the whole batch of misses
    ...     return [np.ones(4, np.float32) * len(t) for t in texts]
    >>> vectors = cache.get_or_compute_many(["a", "bb", "a"], embed)
    >>> [v.tolist() for v in vectors][1], cache.stats().computes
    ([2.0, 2.0, 2.0, 2.0], 2)
"""

# Each method annotates ``self: SemCache`` to reach the facade (as in cache_async.py).
# mypy: disable-error-code="misc"

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .backends.base import StoredEntry
from .checks import check_index, check_keys, check_namespace, check_ttl
from .errors import InvalidArgumentError
from .flight import Flight
from .stored_values import Outcome, fresh, outcome_of, value_of

if TYPE_CHECKING:
    from .cache import SemCache

__all__ = ["BatchCalls"]

ManyFn = Callable[[list[str]], Any]


def _fresh(found: StoredEntry | Outcome) -> Any:
    """A value for one reader: immutable ones as kept, others made anew."""
    if isinstance(found, StoredEntry):
        return value_of(found)
    return fresh(found)


class _ManyPlan:
    """One ``get_or_compute_many`` call: what was found, led, followed and computed.

    ``found`` maps each distinct key to a stored entry (a hit) or an outcome (computed here
    or by another caller; see :mod:`.stored_values`). Flights this call leads must reach
    :meth:`settle` (or :meth:`fail`) and :meth:`leave` whatever happens, so that no follower
    waits forever.
    """

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys
        self.found: dict[str, StoredEntry | Outcome] = {}
        self.led: list[tuple[str, Flight]] = []
        self.followed: list[tuple[str, Flight]] = []
        self.to_compute: list[str] = []

    def lookup(self, cache: SemCache) -> None:
        """Read every distinct key once (each counts as a hit or a miss)."""
        now = cache._clock()
        for key in dict.fromkeys(self.keys):
            entry = cache._backend.get(key, now)
            if entry is not None:
                self.found[key] = entry

    def join(self, cache: SemCache) -> None:
        """Lead or follow a flight for every key that missed."""
        for key in dict.fromkeys(self.keys):
            if key not in self.found:
                flight, leader = cache._flights.join(key)
                (self.led if leader else self.followed).append((key, flight))

    def peek(self, cache: SemCache) -> None:
        """Take what a leader that just finished stored; the rest is to compute."""
        now = cache._clock()
        for key, _ in self.led:
            entry = cache._backend.get(key, now, count=False)
            if entry is None:
                self.to_compute.append(key)
            else:
                self.found[key] = outcome_of(entry)

    def results_of(self, computed: Any) -> list[Any]:
        try:
            results = list(computed)
        except TypeError as exc:
            raise InvalidArgumentError(
                f"fn must return a sequence of results, got {type(computed).__name__}"
            ) from exc
        if len(results) != len(self.to_compute):
            raise InvalidArgumentError(
                f"fn returned {len(results)} results for {len(self.to_compute)} keys"
            )
        return results

    def store(
        self,
        cache: SemCache,
        results: list[Any],
        ttl: Any,
        namespace: Any,
        metadata: Any,
        index: bool | None,
    ) -> None:
        outcomes = cache._store_computed_many(
            self.to_compute, results, ttl, namespace, metadata, index
        )
        self.found.update(zip(self.to_compute, outcomes))

    def settle(self) -> None:
        for key, flight in self.led:
            found = self.found[key]
            flight.finish(outcome_of(found) if isinstance(found, StoredEntry) else found)

    def fail(self, exc: BaseException) -> None:
        for _, flight in self.led:
            flight.fail(exc)

    def leave(self, cache: SemCache) -> None:
        for key, flight in self.led:
            cache._flights.leave(key, flight)

    def values(self) -> list[Any]:
        return [_fresh(self.found[key]) for key in self.keys]


class BatchCalls:
    """Mixed into :class:`~semcache_core.SemCache`: many-key calls and their async twins."""

    def get_many(self: SemCache, keys: Sequence[str], default: Any = None) -> list[Any]:
        """The values of ``keys`` in order (``default`` for a miss); repeats allowed.

        Raises:
            InvalidKeyError: a key is not a ``str`` (nothing is read).
        """
        keys = check_keys(keys)
        now = self._clock()
        out = []
        for key in keys:
            entry = self._backend.get(key, now)
            out.append(default if entry is None else _fresh(entry))
        return out

    def delete_many(self: SemCache, keys: Sequence[str]) -> int:
        """Remove ``keys`` and their vectors; how many held a live entry.

        Raises:
            InvalidKeyError: a key is not a ``str`` (nothing is removed).
        """
        keys = check_keys(keys)
        now = self._clock()
        return sum(self._backend.delete(key, now) for key in keys)

    def get_or_compute_many(
        self: SemCache,
        keys: Sequence[str],
        fn: ManyFn,
        *,
        ttl: float | None = None,
        namespace: str | None = None,
        metadata: dict[str, Any] | None = None,
        index: bool | None = None,
    ) -> list[Any]:
        """The cached values of ``keys``, computing every miss with one ``fn(missing)`` call.

        ``fn`` receives the distinct keys that missed and nobody else is computing, in
        first-seen order, and returns one result per key. Repeated keys are computed once.
        Results are stored (an embedding once, as its entry's vector, float32-rounded; see
        :meth:`get_or_compute` and its ``index=``) and returned in the order of ``keys``.
        An exception from ``fn`` stores nothing and reaches the callers waiting for those
        keys. ``fn`` must not compute its keys through this cache.

        Raises:
            InvalidKeyError, InvalidArgumentError: bad input, before anything is computed;
                InvalidArgumentError too when ``fn`` returns the wrong number of results.
        """
        plan = _ManyPlan(check_keys(keys))
        check_ttl(ttl)
        check_namespace(namespace)
        check_index(index)
        plan.lookup(self)
        plan.join(self)
        try:
            plan.peek(self)
            if plan.to_compute:
                results = plan.results_of(fn(list(plan.to_compute)))
                plan.store(self, results, ttl, namespace, metadata, index)
            plan.settle()
        except BaseException as exc:
            plan.fail(exc)
            raise
        finally:
            plan.leave(self)
        for key, flight in plan.followed:  # only after settling ours: no waiting in a cycle
            plan.found[key] = flight.wait()
        return plan.values()

    async def aget_many(self: SemCache, keys: Sequence[str], default: Any = None) -> list[Any]:
        return await asyncio.to_thread(self.get_many, keys, default)

    async def adelete_many(self: SemCache, keys: Sequence[str]) -> int:
        return await asyncio.to_thread(self.delete_many, keys)

    async def aget_or_compute_many(
        self: SemCache,
        keys: Sequence[str],
        fn: ManyFn,
        *,
        ttl: float | None = None,
        namespace: str | None = None,
        metadata: dict[str, Any] | None = None,
        index: bool | None = None,
    ) -> list[Any]:
        """Async :meth:`get_or_compute_many`; ``fn`` may be a plain or an ``async`` function.

        A plain ``fn`` runs in a worker thread; flights are shared with sync callers.
        """
        plan = _ManyPlan(check_keys(keys))
        check_ttl(ttl)
        check_namespace(namespace)
        check_index(index)
        await asyncio.to_thread(plan.lookup, self)
        plan.join(self)  # on the loop, so a cancellation cannot strand a joined flight
        try:
            await asyncio.to_thread(plan.peek, self)
            if plan.to_compute:
                missing = list(plan.to_compute)
                if inspect.iscoroutinefunction(fn):
                    computed = await fn(missing)
                else:
                    computed = await asyncio.to_thread(fn, missing)
                    if inspect.isawaitable(computed):
                        computed = await computed
                results = plan.results_of(computed)
                await asyncio.to_thread(plan.store, self, results, ttl, namespace, metadata, index)
            plan.settle()
        except BaseException as exc:
            plan.fail(exc)
            raise
        finally:
            plan.leave(self)
        for key, flight in plan.followed:
            plan.found[key] = await flight.await_outcome()
        return plan.values()
