"""Many-key calls of :class:`~semcache_core.SemCache`, sync and async.

``get_many`` / ``delete_many`` read and remove batches of keys; ``get_or_compute_many`` is
:meth:`~semcache_core.SemCache.get_or_compute` for a batch: every key that misses is
computed by **one** call of ``fn(missing_keys)`` (one request to an embedding API for a
batch of texts), while single flight still holds per key. A key another caller is already
computing is awaited, not computed again, and the keys this call computes are awaited by
the others. Each call finishes the flights it leads before it waits for anyone else's, so
two calls whose batches overlap cannot wait for each other.

The sync and async twins drive one :class:`_ManyPlan` (lookups, flights, storing,
results) and differ only in how they wait: the async ones await the backend's async calls
when it has them (``backend.aio``, see :mod:`.cache_native_async`), else run storage
calls in a worker thread, and wait for other callers' flights without blocking the loop.

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

from . import cache_native_async as native
from .backends.base import StoredEntry, aread_many, async_backend, read_many
from .checks import (
    check_fn,
    check_index,
    check_keys,
    check_namespace,
    check_write_options,
    ordered_rows,
)
from .flight import Flight, check_not_computing, in_thread, launch, lead, settle_error
from .stored_values import Outcome, fresh, peeked, value_of

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
    or by another caller; see :mod:`.stored_values`). The flights this call leads are
    settled by :func:`~semcache_core.flight.lead` or :func:`~semcache_core.flight.launch`
    with what :func:`_compute` or :func:`_acompute` returns, whatever happens, so no
    follower waits forever.
    """

    def __init__(self, keys: list[str], namespace: str) -> None:
        self.keys = keys
        self.distinct = list(dict.fromkeys(keys))  # first-seen order
        self.namespace = namespace
        self.found: dict[str, StoredEntry | Outcome] = {}
        self.led: list[tuple[str, Flight]] = []
        self.followed: list[tuple[str, Flight]] = []

    def lookup(self, cache: SemCache) -> None:
        """Read every distinct key once (each counts as a hit or a miss)."""
        self._found(read_many(cache._backend, self.namespace, self.distinct, cache._clock()))

    async def alookup(self, cache: SemCache) -> None:
        """:meth:`lookup` without blocking the loop."""
        aio = async_backend(cache._backend)
        if aio is None:
            await asyncio.to_thread(self.lookup, cache)
            return
        self._found(await aread_many(aio, self.namespace, self.distinct, cache._clock()))

    def _found(self, entries: list[StoredEntry | None]) -> None:
        self.found.update((k, e) for k, e in zip(self.distinct, entries) if e is not None)

    def join(self, cache: SemCache) -> None:
        """Lead or follow a flight for every key that missed; ``RecursionError`` (before
        joining any) when the calling code computes one of them (see ``get_or_compute``)."""
        missed = [key for key in self.distinct if key not in self.found]
        for key in missed:
            check_not_computing(cache._flights, (self.namespace, key))
        for key in missed:
            flight, leader = cache._flights.join((self.namespace, key))
            (self.led if leader else self.followed).append((key, flight))

    def led_flights(self) -> list[Flight]:
        return [flight for _, flight in self.led]

    def led_keys(self) -> list[str]:
        return [key for key, _ in self.led]

    def values(self) -> list[Any]:
        return [_fresh(self.found[key]) for key in self.keys]


# ttl, namespace, metadata, index: as _store_computed_many takes them
_Options = tuple[Any, str, Any, Any]


def _compute(cache: SemCache, keys: list[str], fn: ManyFn, options: _Options) -> list[Outcome]:
    """A leader's work: the encoded values of ``keys``, the missing ones computed by one
    ``fn`` call and stored."""
    blobs, missing = _peek(cache, keys, options[1])
    if missing:
        results = _results_of(fn(list(missing)), len(missing))
        blobs.update(zip(missing, cache._store_computed_many(missing, results, *options)))
    return [blobs[key] for key in keys]


async def _acompute(
    cache: SemCache, keys: list[str], fn: ManyFn, options: _Options
) -> list[Outcome]:
    """Async :func:`_compute`: a plain ``fn`` runs in a worker thread, and storage calls
    too unless the backend has async ones."""
    aio = async_backend(cache._backend)
    if aio is None:
        blobs, missing = await asyncio.to_thread(_peek, cache, keys, options[1])
    else:
        blobs, missing = await native.peek_many(cache, aio, keys, options[1])
    if missing:
        if inspect.iscoroutinefunction(fn):
            computed = await fn(list(missing))
        else:
            computed = await in_thread(fn, list(missing))
            if inspect.isawaitable(computed):
                computed = await computed
        results = _results_of(computed, len(missing))
        if aio is None:
            stored = await asyncio.to_thread(cache._store_computed_many, missing, results, *options)
        else:
            stored = await native.store_computed_many(cache, aio, missing, results, *options)
        blobs.update(zip(missing, stored))
    return [blobs[key] for key in keys]


async def _acompute_one(cache: SemCache, key: str, fn: ManyFn, options: _Options) -> Outcome:
    return (await _acompute(cache, [key], fn, options))[0]


def _peek(cache: SemCache, keys: list[str], namespace: str) -> tuple[dict[str, Outcome], list[str]]:
    """What a leader that just finished stored for ``keys``; the keys still to compute."""
    return peeked(keys, read_many(cache._backend, namespace, keys, cache._clock(), count=False))


def _results_of(computed: Any, count: int) -> list[Any]:
    """``fn``'s results as a list, one per key in the order ``fn`` was given them (see
    :func:`~.checks.ordered_rows`: a dict, set or str is refused)."""
    return ordered_rows(computed, count, "fn's result", per="key")


class BatchCalls:
    """Mixed into :class:`~semcache_core.SemCache`: many-key calls and their async twins."""

    def get_many(
        self: SemCache, keys: Sequence[str], default: Any = None, *, namespace: str = ""
    ) -> list[Any]:
        """The values of ``keys`` in ``namespace``, in order (``default`` for a miss);
        repeats allowed.

        Raises:
            InvalidKeyError: a key is not a ``str`` (nothing is read).
        """
        keys = check_keys(keys)
        namespace = check_namespace(namespace)
        entries = read_many(self._backend, namespace, keys, self._clock())
        return [default if entry is None else _fresh(entry) for entry in entries]

    def delete_many(self: SemCache, keys: Sequence[str], *, namespace: str = "") -> int:
        """Remove ``keys`` of ``namespace`` and their vectors; how many held a live entry.

        Raises:
            InvalidKeyError: a key is not a ``str`` (nothing is removed).
        """
        keys = check_keys(keys)
        namespace = check_namespace(namespace)
        now = self._clock()
        return sum(self._backend.delete(namespace, key, now) for key in keys)

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
        first-seen order, and returns one result per key in that order (a list, tuple,
        generator or array; a dict, set or str is refused: it has no such order, or would
        be split into characters). Repeated keys are computed once.
        Results are stored (an embedding once, as its entry's vector, float32-rounded; see
        :meth:`get_or_compute` and its ``index=``) and returned in the order of ``keys``.
        An exception from ``fn`` stores nothing and reaches the callers waiting for those
        keys. ``fn`` must not compute its keys through this cache.

        Raises:
            InvalidKeyError, InvalidArgumentError: bad input, before anything is computed;
                InvalidArgumentError too when ``fn`` returns the wrong number of results,
                or results without an order (see above); nothing is stored then.
        """
        namespace = check_namespace(namespace)
        plan = _ManyPlan(check_keys(keys), namespace)
        check_fn(fn, "fn(keys)")
        check_write_options(ttl, namespace, metadata)
        check_index(index)
        options = (ttl, namespace, metadata, index)
        plan.lookup(self)
        try:  # an interrupt anywhere here leaves no flight of ours unsettled
            plan.join(self)
            if plan.led:
                led = plan.led_keys()
                blobs = lead(plan.led_flights(), lambda: _compute(self, led, fn, options))
                plan.found.update(zip(led, blobs))
        except BaseException as exc:
            settle_error(plan.led_flights(), exc)
            raise
        for key, flight in plan.followed:  # only after settling ours: no waiting in a cycle
            plan.found[key] = self._flights.follow(
                (namespace, key), flight, lambda key=key: _compute(self, [key], fn, options)[0]
            )
        return plan.values()

    async def aget_many(
        self: SemCache, keys: Sequence[str], default: Any = None, *, namespace: str = ""
    ) -> list[Any]:
        aio = async_backend(self._backend)
        if aio is not None:
            return await native.get_many(self, aio, keys, default, namespace)
        return await asyncio.to_thread(lambda: self.get_many(keys, default, namespace=namespace))

    async def adelete_many(self: SemCache, keys: Sequence[str], *, namespace: str = "") -> int:
        aio = async_backend(self._backend)
        if aio is not None:
            return await native.delete_many(self, aio, keys, namespace)
        return await asyncio.to_thread(lambda: self.delete_many(keys, namespace=namespace))

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

        A plain ``fn`` runs in a worker thread; flights are shared with sync callers. The
        computation runs as a task of its own: cancelling this call cancels only its wait,
        and the keys it computes still reach the other callers waiting for them.
        """
        namespace = check_namespace(namespace)
        plan = _ManyPlan(check_keys(keys), namespace)
        check_fn(fn, "fn(keys)")
        check_write_options(ttl, namespace, metadata)
        check_index(index)
        options = (ttl, namespace, metadata, index)
        await plan.alookup(self)
        try:  # on the loop, so a cancellation cannot strand a joined flight
            plan.join(self)
            if plan.led:  # a task of its own: cancelling this call leaves it to the followers
                led = plan.led_keys()
                launch(plan.led_flights(), lambda: _acompute(self, led, fn, options))
        except BaseException as exc:  # an interrupt before the launch is done
            settle_error(plan.led_flights(), exc)
            raise
        for key, flight in [*plan.led, *plan.followed]:
            plan.found[key] = await self._flights.afollow(
                (namespace, key), flight, lambda key=key: _acompute_one(self, key, fn, options)
            )
        return plan.values()
