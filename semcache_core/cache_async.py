"""Async twins of every :class:`~semcache_core.SemCache` call.

On a backend with native async calls (``backend.aio``, e.g. Redis on ``redis.asyncio``),
the per-entry calls, searches (``allow_partial`` too), ``aget_or_compute`` and, when it
has them (:class:`~.backends.base.AsyncKeyspace`), the keyspace calls (``alen``,
``acount``, ``ascan``, ``anamespaces``, ``aclear``, ``apurge_expired``, ``astats``,
``adim``) await them (see :mod:`.cache_native_async`): no worker thread per call.
``adump`` / ``aload`` always use one (a snapshot is file I/O). Otherwise (the in-process
backend) each runs the sync call in a worker thread (after awaiting the embedder's async method for
text), so the event loop never blocks. ``aget_or_compute`` shares the sync twin's single
flight, so threads and coroutines missing one key together compute it once.
"""

# Each method annotates ``self: SemCache`` to reach the sync calls; mypy reports a self-type
# naming a subclass as "misc" although it resolves every call through it.
# mypy: disable-error-code="misc"

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from . import cache_native_async as native
from .backends.base import async_backend, async_keyspace
from .checks import (
    check_fn,
    check_index,
    check_key,
    check_namespace,
    check_search,
    check_sequence,
    check_threshold,
    check_write_options,
)
from .errors import InvalidArgumentError
from .flight import in_thread
from .records import CacheStats, Entry, Hit
from .stored_values import Outcome, fresh, outcome_of

if TYPE_CHECKING:
    from .cache import SemCache

__all__ = ["AsyncTwins"]


class AsyncTwins:
    """Mixed into :class:`~semcache_core.SemCache`: ``await cache.aget(key)`` and the rest."""

    async def aget(self: SemCache, key: str, default: Any = None, *, namespace: str = "") -> Any:
        aio = async_backend(self._backend)
        if aio is not None:
            return await native.get(self, aio, key, default, namespace)
        return await asyncio.to_thread(lambda: self.get(key, default, namespace=namespace))

    async def aget_entry(
        self: SemCache, key: str, *, namespace: str = "", count: bool = False
    ) -> Entry | None:
        aio = async_backend(self._backend)
        if aio is not None:
            return await native.get_entry(self, aio, key, namespace, count)
        return await asyncio.to_thread(
            lambda: self.get_entry(key, namespace=namespace, count=count)
        )

    async def aset(self: SemCache, key: str, value: Any, **options: Any) -> None:
        aio = async_backend(self._backend)
        if aio is not None:
            return await native.set_(self, aio, key, value, **options)
        await asyncio.to_thread(lambda: self.set(key, value, **options))

    async def aset_many(self: SemCache, items: Any, **options: Any) -> None:
        aio = async_backend(self._backend)
        if aio is not None:
            return await native.set_many(self, aio, items, **options)
        await asyncio.to_thread(lambda: self.set_many(items, **options))

    async def adelete(self: SemCache, key: str, *, namespace: str = "") -> bool:
        aio = async_backend(self._backend)
        if aio is not None:
            return await native.delete(self, aio, key, namespace)
        return await asyncio.to_thread(lambda: self.delete(key, namespace=namespace))

    async def atouch(
        self: SemCache, key: str, ttl: float | None = None, *, namespace: str = ""
    ) -> bool:
        aio = async_backend(self._backend)
        if aio is not None:
            return await native.touch(self, aio, key, ttl, namespace)
        return await asyncio.to_thread(lambda: self.touch(key, ttl, namespace=namespace))

    async def aexists(self: SemCache, key: str, *, namespace: str = "") -> bool:
        aio = async_backend(self._backend)
        if aio is not None:
            return await native.exists(self, aio, key, namespace)
        return await asyncio.to_thread(lambda: self.exists(key, namespace=namespace))

    async def aclose(self: SemCache) -> None:
        """Async :meth:`close`: closes this event loop's async client too (call it before
        the loop ends, e.g. at the end of ``asyncio.run``'s coroutine)."""
        aio = async_backend(self._backend)
        if aio is None:
            await asyncio.to_thread(self.close)
            return
        await aio.aclose()
        self.close()  # a Redis client's close is local: it does no I/O to wait for

    async def alen(self: SemCache) -> int:
        keyspace = async_keyspace(self._backend)
        if keyspace is not None:
            return await native.count(self, keyspace, None)
        return await asyncio.to_thread(len, self)

    async def acount(self: SemCache, namespace: str | None = None) -> int:
        keyspace = async_keyspace(self._backend)
        if keyspace is not None:
            return await native.count(self, keyspace, namespace)
        return await asyncio.to_thread(self.count, namespace)

    async def anamespaces(self: SemCache) -> list[str]:
        keyspace = async_keyspace(self._backend)
        if keyspace is not None:
            return await native.namespaces(self, keyspace)
        return await asyncio.to_thread(self.namespaces)

    async def ascan(
        self: SemCache, prefix: str = "", limit: int | None = None, *, namespace: str = ""
    ) -> list[str]:
        keyspace = async_keyspace(self._backend)
        if keyspace is not None:
            return await native.scan(self, keyspace, prefix, limit, namespace)
        return await asyncio.to_thread(lambda: self.scan(prefix, limit, namespace=namespace))

    async def aclear(self: SemCache, namespace: str | None = None) -> None:
        keyspace = async_keyspace(self._backend)
        if keyspace is not None:
            await keyspace.aclear(None if namespace is None else check_namespace(namespace))
            return
        await asyncio.to_thread(self.clear, namespace)

    async def apurge_expired(self: SemCache) -> int:
        """Async :meth:`purge_expired`."""
        keyspace = async_keyspace(self._backend)
        if keyspace is not None:
            return await keyspace.apurge_expired(self._clock())
        return await asyncio.to_thread(self.purge_expired)

    async def astats(self: SemCache) -> CacheStats:
        keyspace = async_keyspace(self._backend)
        if keyspace is not None:
            return await native.stats(self, keyspace)
        return await asyncio.to_thread(self.stats)

    async def adim_of(self: SemCache, namespace: str = "") -> int | None:
        """Async :meth:`dim_of`."""
        aio = async_backend(self._backend)
        if aio is not None:
            return await native.dim_of(self, aio, check_namespace(namespace))
        return await asyncio.to_thread(self.dim_of, namespace)

    async def adim(self: SemCache) -> int | None:
        """Async :attr:`dim` (a property cannot be awaited)."""
        keyspace = async_keyspace(self._backend)
        if keyspace is not None:
            return await native.dim(self, keyspace)
        return await asyncio.to_thread(lambda: self.dim)

    # adump / aload keep a worker thread: a snapshot streams file I/O (compression,
    # checksums) through the sync snapshot code, which an event loop must not run inline
    async def adump(self: SemCache, path: str | os.PathLike[str]) -> None:
        await asyncio.to_thread(self.dump, path)

    async def aload(self: SemCache, path: str | os.PathLike[str]) -> None:
        await asyncio.to_thread(self.load, path)

    async def aput(
        self: SemCache,
        key: str,
        value: str,
        ttl: float | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        namespace: str = "",
    ) -> None:
        self._check_put(key, value, ttl, metadata, namespace)
        vector = await self._embedder.aembed_document(value)
        await self.aset(key, value, vector=vector, metadata=metadata, ttl=ttl, namespace=namespace)

    async def aput_json(
        self: SemCache,
        key: str,
        obj: Any,
        ttl: float | None = None,
        metadata: Any = None,
        *,
        namespace: str = "",
    ) -> None:
        await asyncio.to_thread(lambda: self.put_json(key, obj, ttl, metadata, namespace=namespace))

    async def aget_json(
        self: SemCache, key: str, default: Any = None, *, namespace: str = ""
    ) -> Any:
        return await asyncio.to_thread(lambda: self.get_json(key, default, namespace=namespace))

    async def aput_string(
        self: SemCache,
        key: str,
        text: str,
        ttl: float | None = None,
        metadata: Any = None,
        *,
        namespace: str = "",
    ) -> None:
        await asyncio.to_thread(
            lambda: self.put_string(key, text, ttl, metadata, namespace=namespace)
        )

    async def aget_string(
        self: SemCache, key: str, default: str | None = None, *, namespace: str = ""
    ) -> str | None:
        return await asyncio.to_thread(lambda: self.get_string(key, default, namespace=namespace))

    async def _aquery(self: SemCache, vector_or_text: Any) -> Any:
        if isinstance(vector_or_text, str):
            return await self._embedder.aembed_query(vector_or_text)
        return vector_or_text

    async def asearch(
        self: SemCache, vector_or_text: Any, k: int = 10, **options: Any
    ) -> list[Hit]:
        _check_search_options(k, options)
        query = await self._aquery(vector_or_text)
        aio = async_backend(self._backend)
        if aio is not None:
            return (await native.search_vectors(self, aio, [query], k, **options))[0]
        return await asyncio.to_thread(lambda: self.search(query, k, **options))

    async def asearch_batch(
        self: SemCache, queries: Any, k: int = 10, **options: Any
    ) -> list[list[Hit]]:
        _check_search_options(k, options)
        if not isinstance(queries, np.ndarray):
            queries = [await self._aquery(q) for q in check_sequence(queries, "queries")]
        aio = async_backend(self._backend)
        if aio is None:
            return await asyncio.to_thread(lambda: self.search_batch(queries, k, **options))
        if not isinstance(queries, np.ndarray) and not queries:
            raise InvalidArgumentError("search_batch needs at least one query")
        return await native.search_vectors(self, aio, queries, k, **options)

    async def aget_similar(
        self: SemCache, vector_or_text: Any, threshold: float = 0.95, **options: Any
    ) -> Any:
        check_threshold(threshold)
        options = _similar_options(**options)  # get_similar's keywords only, as the sync twin
        _check_search_options(1, options)  # before the query is embedded
        query = await self._aquery(vector_or_text)
        aio = async_backend(self._backend)
        if aio is None:
            return await asyncio.to_thread(lambda: self.get_similar(query, threshold, **options))
        hits = (await native.search_vectors(self, aio, [query], 1, threshold=threshold, **options))[
            0
        ]
        self._count("semantic_hits" if hits else "semantic_misses")
        return hits[0].value if hits else None

    async def aget_or_compute(
        self: SemCache,
        key: str,
        fn: Callable[[str], Any],
        *,
        ttl: float | None = None,
        namespace: str = "",
        metadata: dict[str, Any] | None = None,
        index: bool | None = None,
    ) -> Any:
        """Async :meth:`get_or_compute`; ``fn`` may be a plain or an ``async`` function.

        A plain ``fn`` runs in a worker thread; waiters share the leader's single flight
        with threads calling the sync twin. The computation runs as a task of its own:
        cancelling this call (the one that started it, or any other waiter) cancels only
        this wait; the value is still computed, stored and given to the other waiters,
        and stored even when every waiter was cancelled.
        """
        aio = async_backend(self._backend)
        if aio is not None:
            return await native.get_or_compute(self, aio, key, fn, ttl, namespace, metadata, index)
        check_key(key)
        check_write_options(ttl, namespace, metadata)
        check_index(index)
        namespace = check_namespace(namespace)
        found, value = await asyncio.to_thread(self._lookup, namespace, key)
        if found:
            return value
        check_fn(fn)  # a hit has no use for it: checked where it would be called, as in sync

        async def compute() -> Outcome:
            if not inspect.iscoroutinefunction(fn):
                done = await in_thread(
                    _compute_plain, self, key, fn, ttl, namespace, metadata, index
                )
                if not isinstance(done, _Pending):
                    return done
                result = await done.awaitable
            else:
                entry = await asyncio.to_thread(self._peek, namespace, key)
                if entry is not None:
                    return outcome_of(entry)
                result = await fn(key)
            return await asyncio.to_thread(
                self._store_computed, key, result, ttl, namespace, metadata, index
            )

        return fresh(await self._flights.arun((namespace, key), compute))


def _similar_options(*, namespace: str = "", filters: Any = None) -> dict[str, Any]:
    return {"namespace": namespace, "filters": filters}


class _Pending:
    """A plain ``fn`` returned an awaitable: the loop awaits it, then stores the result."""

    def __init__(self, awaitable: Awaitable[Any]) -> None:
        self.awaitable = awaitable


def _compute_plain(
    cache: SemCache,
    key: str,
    fn: Callable[[str], Any],
    ttl: Any,
    namespace: str,
    metadata: Any,
    index: Any,
) -> Outcome | _Pending:
    """A leader's work for a plain ``fn``, in one worker-thread hop: ``fn(key)`` stored,
    unless a leader just stored it."""
    entry = cache._peek(namespace, key)
    if entry is not None:
        return outcome_of(entry)
    result = fn(key)
    if inspect.isawaitable(result):
        return _Pending(result)
    return cache._store_computed(key, result, ttl, namespace, metadata, index)


def _check_search_options(k: Any, options: dict[str, Any]) -> None:
    """Check an async search's options before its queries are embedded (the search checks
    them again, as its sync twin does); an unknown keyword is a ``TypeError``, as there."""
    _search_keywords(k, **options)


def _search_keywords(
    k: Any,
    *,
    threshold: Any = None,
    namespace: Any = "",
    filters: Any = None,
    with_vectors: Any = False,
    allow_partial: Any = False,
) -> None:
    """:meth:`SemCache.search`'s keywords: the call raises for any other, as search does."""
    check_search(k, threshold, namespace, filters)
