"""The facade's async calls on a backend with native async calls (``backend.aio``, e.g.
:class:`~semcache_core.backends.redis.RedisBackend` on ``redis.asyncio``): the same
validation, encoding and results as the sync calls, with each backend call awaited on the
event loop instead of run in a worker thread.

:mod:`.cache_async` and :mod:`.cache_batch` call these when
:func:`~semcache_core.backends.base.async_backend` finds the async calls, and run the sync
calls in a worker thread otherwise (the in-process backend, whose calls do no I/O).

Example::

    cache = SemCache(backend=RedisBackend("redis://127.0.0.1:6379"))
    async def main():
        await cache.aset("k", "v")        # redis.asyncio, no worker thread
        assert await cache.aget("k") == "v"
        await cache.aclose()
"""

# Functions take ``cache: SemCache`` and use its helpers, as cache_async.py's twins do.

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .backends.base import AsyncBackend, AsyncKeyspace, aread_many, checks_query_dimension
from .checks import (
    check_fn,
    check_index,
    check_key,
    check_keys,
    check_namespace,
    check_scan,
    check_search,
    check_write_options,
)
from .entry_writes import as_queries, naming
from .errors import DimensionMismatchError
from .filters import FilterLike
from .flight import in_thread
from .records import CacheStats, Entry, Hit
from .search_hits import abackend_search, marked
from .stored_values import Outcome, entry_record, fresh, outcome_of, peeked, value_of
from .vectors import FloatMatrix

if TYPE_CHECKING:
    from .cache import SemCache

__all__ = [
    "count",
    "delete",
    "delete_many",
    "dim",
    "dim_of",
    "exists",
    "get",
    "get_entry",
    "get_many",
    "get_or_compute",
    "namespaces",
    "peek_many",
    "scan",
    "search_vectors",
    "set_",
    "set_many",
    "stats",
    "store_computed_many",
]


async def dim_of(cache: SemCache, aio: AsyncBackend, namespace: str) -> int | None:
    """:meth:`SemCache.dim_of` for a checked ``namespace``."""
    if cache._fixed_dim is not None:
        return cache._fixed_dim
    return await aio.adim_of(namespace, cache._clock())


async def dim(cache: SemCache, keyspace: AsyncKeyspace) -> int | None:
    """:attr:`SemCache.dim`."""
    if cache._fixed_dim is not None:
        return cache._fixed_dim
    dims = set((await keyspace.adims()).values())
    return dims.pop() if len(dims) == 1 else None


# --- keyspace ----------------------------------------------------------------------------


async def count(cache: SemCache, keyspace: AsyncKeyspace, namespace: str | None) -> int:
    if namespace is not None:
        check_namespace(namespace)
    return await keyspace.acount(cache._clock(), namespace)


async def namespaces(cache: SemCache, keyspace: AsyncKeyspace) -> list[str]:
    return await keyspace.anamespaces(cache._clock())


async def scan(
    cache: SemCache, keyspace: AsyncKeyspace, prefix: Any, limit: Any, namespace: Any
) -> list[str]:
    prefix, limit, namespace = check_scan(prefix, limit, namespace)
    return await keyspace.ascan(namespace, prefix, limit, cache._clock())


async def stats(cache: SemCache, keyspace: AsyncKeyspace) -> CacheStats:
    """:meth:`SemCache.stats`: the counters (no I/O) and the live size, counted here."""
    return cache._stats_of(await keyspace.acount(cache._clock()))


# --- exact key/value ---------------------------------------------------------------------


async def get(cache: SemCache, aio: AsyncBackend, key: str, default: Any, namespace: Any) -> Any:
    check_key(key)
    namespace = check_namespace(namespace)
    entry = await aio.aget(namespace, key, cache._clock())
    return default if entry is None else value_of(entry)


async def get_entry(
    cache: SemCache, aio: AsyncBackend, key: str, namespace: Any, count: bool = False
) -> Entry | None:
    check_key(key)
    entry = await aio.aget(check_namespace(namespace), key, cache._clock(), count=count is True)
    if entry is None:
        return None
    return entry_record(entry)


async def set_(
    cache: SemCache,
    aio: AsyncBackend,
    key: str,
    value: Any,
    *,
    vector: Any = None,
    metadata: dict[str, Any] | None = None,
    ttl: float | None = None,
    namespace: str = "",
) -> None:
    namespace, write = cache._set_write(key, value, vector, metadata, ttl, namespace)
    with naming(namespace):
        await aio.aset_many([write], cache._clock())


async def set_many(
    cache: SemCache,
    aio: AsyncBackend,
    items: Mapping[str, Any] | Iterable[tuple[str, Any]],
    *,
    vectors: Sequence[Any] | FloatMatrix | None = None,
    metadatas: Sequence[dict[str, Any] | None] | None = None,
    ttl: float | None = None,
    namespace: str = "",
) -> None:
    namespace = check_namespace(namespace)
    dim = await dim_of(cache, aio, namespace) if vectors is not None else None
    writes = cache._many_writes(items, vectors, metadatas, ttl, namespace, dim)
    await aio.aset_many(writes, cache._clock())


async def delete(cache: SemCache, aio: AsyncBackend, key: str, namespace: Any) -> bool:
    check_key(key)
    return await aio.adelete(check_namespace(namespace), key, cache._clock())


async def touch(cache: SemCache, aio: AsyncBackend, key: str, ttl: Any, namespace: Any) -> bool:
    check_key(key)
    namespace = check_namespace(namespace)
    return await aio.atouch(namespace, key, cache._expires_at(ttl), cache._clock())


async def exists(cache: SemCache, aio: AsyncBackend, key: str, namespace: Any) -> bool:
    check_key(key)
    return await aio.aexists(check_namespace(namespace), key, cache._clock())


async def get_many(
    cache: SemCache, aio: AsyncBackend, keys: Sequence[str], default: Any, namespace: Any
) -> list[Any]:
    keys = check_keys(keys)
    entries = await aread_many(aio, check_namespace(namespace), keys, cache._clock())
    return [default if entry is None else value_of(entry) for entry in entries]


async def delete_many(
    cache: SemCache, aio: AsyncBackend, keys: Sequence[str], namespace: Any
) -> int:
    keys = check_keys(keys)
    namespace = check_namespace(namespace)
    now = cache._clock()
    return sum([await aio.adelete(namespace, key, now) for key in keys])


# --- get_or_compute ----------------------------------------------------------------------


async def peek_many(
    cache: SemCache, aio: AsyncBackend, keys: list[str], namespace: str
) -> tuple[dict[str, Outcome], list[str]]:
    """What a leader that just finished stored for ``keys``; the keys still to compute."""
    return peeked(keys, await aread_many(aio, namespace, keys, cache._clock(), count=False))


async def store_computed_many(
    cache: SemCache,
    aio: AsyncBackend,
    keys: list[str],
    results: list[Any],
    ttl: Any,
    namespace: str,
    metadata: Any,
    index: Any,
) -> list[Outcome]:
    """:meth:`SemCache._store_computed_many` with the backend's async calls."""
    for retry in (False, True):
        dim = await dim_of(cache, aio, namespace)
        writes, outcomes = cache._computed_writes(
            keys, results, ttl, namespace, metadata, index, dim
        )
        try:
            await aio.aset_many(writes, cache._clock())
            break
        except DimensionMismatchError:
            if index or retry:
                raise
            # another writer fixed the namespace's dimension meanwhile: guess again
    with cache._counters.lock:
        cache._counters.computes += len(writes)
    return outcomes


async def get_or_compute(
    cache: SemCache,
    aio: AsyncBackend,
    key: str,
    fn: Callable[[str], Any],
    ttl: float | None,
    namespace: Any,
    metadata: dict[str, Any] | None,
    index: bool | None,
) -> Any:
    """:meth:`SemCache.aget_or_compute` on the backend's async calls (same single flight:
    the computation is a task no waiter owns; a plain ``fn`` runs in a worker thread)."""
    check_key(key)
    check_write_options(ttl, namespace, metadata)
    check_index(index)
    namespace = check_namespace(namespace)
    entry = await aio.aget(namespace, key, cache._clock())
    if entry is not None:
        return value_of(entry)
    check_fn(fn)  # a hit has no use for it: checked where it would be called, as in sync

    async def compute() -> Outcome:
        stored = await aio.aget(namespace, key, cache._clock(), count=False)
        if stored is not None:  # a leader just stored it
            return outcome_of(stored)
        if inspect.iscoroutinefunction(fn):
            result = await fn(key)
        else:
            result = await in_thread(fn, key)
            if inspect.isawaitable(result):
                result = await result
        outcomes = await store_computed_many(
            cache, aio, [key], [result], ttl, namespace, metadata, index
        )
        return outcomes[0]

    return fresh(await cache._flights.arun((namespace, key), compute))


# --- semantic ----------------------------------------------------------------------------


async def search_vectors(
    cache: SemCache,
    aio: AsyncBackend,
    vectors: Any,
    k: int = 10,
    *,
    threshold: float | None = None,
    namespace: str = "",
    filters: FilterLike = None,
    with_vectors: bool = False,
    allow_partial: bool = False,
) -> list[list[Hit]]:
    """:meth:`SemCache._search_vectors` with the backend's async calls (``allow_partial``
    passed to a backend whose shards can fail one at a time)."""
    k, threshold, namespace, node = check_search(k, threshold, namespace, filters)
    dim = cache._fixed_dim  # the backend's search checks the query's dimension
    if not checks_query_dimension(cache._backend):
        dim = await dim_of(cache, aio, namespace)
    with naming(namespace):
        matrix = as_queries(vectors, dim)
    args = (matrix, k, namespace, node, cache._clock(), with_vectors, threshold)
    found = await abackend_search(aio, *args, allow_partial=allow_partial)
    return [
        marked(hits, [cache._hit(entry, score, with_vectors) for entry, score in hits])
        for hits in found
    ]
