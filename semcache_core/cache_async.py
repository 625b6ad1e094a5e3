"""Async twins of every :class:`~semcache_core.SemCache` call.

Each runs the sync call in a worker thread (after awaiting the embedder's async method for
text), so the event loop never blocks; ``aget_or_compute`` shares the sync twin's single
flight, so threads and coroutines missing one key together compute it once.
"""

# Each method annotates ``self: SemCache`` to reach the sync calls; mypy reports a self-type
# naming a subclass as "misc" although it resolves every call through it.
# mypy: disable-error-code="misc"

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .checks import check_index, check_key, check_ttl
from .records import CacheStats, Entry, Hit
from .stored_values import fresh, outcome_of

if TYPE_CHECKING:
    from .cache import SemCache

__all__ = ["AsyncTwins"]


class AsyncTwins:
    """Mixed into :class:`~semcache_core.SemCache`: ``await cache.aget(key)`` and the rest."""

    async def aget(self: SemCache, key: str, default: Any = None) -> Any:
        return await asyncio.to_thread(self.get, key, default)

    async def aget_entry(self: SemCache, key: str) -> Entry | None:
        return await asyncio.to_thread(self.get_entry, key)

    async def aset(self: SemCache, key: str, value: Any, **options: Any) -> None:
        await asyncio.to_thread(lambda: self.set(key, value, **options))

    async def aset_many(self: SemCache, items: Any, **options: Any) -> None:
        await asyncio.to_thread(lambda: self.set_many(items, **options))

    async def adelete(self: SemCache, key: str) -> bool:
        return await asyncio.to_thread(self.delete, key)

    async def aexists(self: SemCache, key: str) -> bool:
        return await asyncio.to_thread(self.exists, key)

    async def alen(self: SemCache) -> int:
        return await asyncio.to_thread(len, self)

    async def ascan(self: SemCache, prefix: str = "", limit: int | None = None) -> list[str]:
        return await asyncio.to_thread(self.scan, prefix, limit)

    async def aclear(self: SemCache) -> None:
        await asyncio.to_thread(self.clear)

    async def astats(self: SemCache) -> CacheStats:
        return await asyncio.to_thread(self.stats)

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
        namespace: str | None = None,
    ) -> None:
        check_key(key)
        if not isinstance(value, str):
            self._embed_value(value)  # raises the same error as put()
        vector = await self._embedder.aembed_document(value)
        await asyncio.to_thread(
            lambda: self.set(
                key, value, vector=vector, metadata=metadata, ttl=ttl, namespace=namespace
            )
        )

    async def aput_json(
        self: SemCache, key: str, obj: Any, ttl: float | None = None, metadata: Any = None
    ) -> None:
        await asyncio.to_thread(self.put_json, key, obj, ttl, metadata)

    async def aget_json(self: SemCache, key: str, default: Any = None) -> Any:
        return await asyncio.to_thread(self.get_json, key, default)

    async def aput_string(
        self: SemCache, key: str, text: str, ttl: float | None = None, metadata: Any = None
    ) -> None:
        await asyncio.to_thread(self.put_string, key, text, ttl, metadata)

    async def aget_string(self: SemCache, key: str, default: str | None = None) -> str | None:
        return await asyncio.to_thread(self.get_string, key, default)

    async def _aquery(self: SemCache, vector_or_text: Any) -> Any:
        if isinstance(vector_or_text, str):
            return await self._embedder.aembed_query(vector_or_text)
        return vector_or_text

    async def asearch(
        self: SemCache, vector_or_text: Any, k: int = 10, **options: Any
    ) -> list[Hit]:
        query = await self._aquery(vector_or_text)
        return await asyncio.to_thread(lambda: self.search(query, k, **options))

    async def asearch_batch(
        self: SemCache, queries: Any, k: int = 10, **options: Any
    ) -> list[list[Hit]]:
        if not isinstance(queries, np.ndarray):
            queries = [await self._aquery(q) for q in queries]
        return await asyncio.to_thread(lambda: self.search_batch(queries, k, **options))

    async def aget_similar(
        self: SemCache, vector_or_text: Any, threshold: float = 0.95, **options: Any
    ) -> Any:
        query = await self._aquery(vector_or_text)
        return await asyncio.to_thread(lambda: self.get_similar(query, threshold, **options))

    async def aget_or_compute(
        self: SemCache,
        key: str,
        fn: Callable[[str], Any],
        *,
        ttl: float | None = None,
        namespace: str | None = None,
        metadata: dict[str, Any] | None = None,
        index: bool | None = None,
    ) -> Any:
        """Async :meth:`get_or_compute`; ``fn`` may be a plain or an ``async`` function.

        A plain ``fn`` runs in a worker thread; waiters share the leader's single flight
        with threads calling the sync twin.
        """
        check_key(key)
        check_ttl(ttl)
        check_index(index)
        found, value = await asyncio.to_thread(self._lookup, key)
        if found:
            return value
        flight, leader = self._flights.join(key)
        if not leader:
            return fresh(await flight.await_outcome())
        try:
            entry = await asyncio.to_thread(self._peek, key)
            if entry is not None:
                outcome = outcome_of(entry)
            else:
                if inspect.iscoroutinefunction(fn):
                    result = await fn(key)
                else:
                    result = await asyncio.to_thread(fn, key)
                    if inspect.isawaitable(result):
                        result = await result
                outcome = await asyncio.to_thread(
                    self._store_computed, key, result, ttl, namespace, metadata, index
                )
            flight.finish(outcome)
        except BaseException as exc:
            flight.fail(exc)
            raise
        finally:
            self._flights.leave(key, flight)
        return fresh(outcome)
