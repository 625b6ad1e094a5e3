"""``SemCacheByteStore``: a LangChain ``ByteStore`` over a :class:`semcache_core.SemCache`.

Example (an embedding cache that pays for each text once)::

    from langchain_classic.embeddings import CacheBackedEmbeddings
    from semcache_core import SemCache
    from semcache_integrations.langchain.byte_store import SemCacheByteStore

    store = SemCacheByteStore(SemCache(path="./embeddings-cache"))
    embedder = CacheBackedEmbeddings.from_bytes_store(
        underlying, store, namespace=underlying.model, key_encoder="blake2b"
    )

Store key ``k`` lives in the cache under ``f"{namespace}:{k}"`` (the namespace may not
contain ``":"``, so two stores never share a cache key), tagged with the engine namespace
``namespace``. Other users of the same cache neither see the store's entries nor are seen
by :meth:`SemCacheByteStore.yield_keys`. Expiry, eviction and persistence are the cache's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.stores import ByteStore

from semcache_core import SemCache
from semcache_core.checks import check_key_namespace, check_keys, check_ttl
from semcache_core.engine_arg import check_engine
from semcache_core.errors import InvalidArgumentError, InvalidValueError

__all__ = ["SemCacheByteStore"]


class SemCacheByteStore(ByteStore):
    """A ``BaseStore[str, bytes]`` whose entries live in a :class:`~semcache_core.SemCache`.

    Args:
        cache: the cache to store into; default a fresh in-process ``SemCache()``. Pass a
            durable one (``SemCache(path=...)``) to keep values across restarts.
        namespace: the store's share of the cache: its key prefix (``f"{namespace}:"``) and
            the engine namespace of its entries. No ``":"`` inside.
        ttl: seconds each value written lives; ``None``: the cache's default TTL.

    Raises:
        InvalidArgumentError: a namespace that is not a str or contains ``":"``, or a bad
            ``ttl``.
    """

    def __init__(
        self,
        cache: SemCache | None = None,
        *,
        namespace: str = "langchain-bytes",
        ttl: float | None = None,
    ) -> None:
        self.namespace = check_key_namespace(namespace)
        self.ttl = check_ttl(ttl)
        cache = check_engine(cache, "SemCacheByteStore")
        self.cache = SemCache() if cache is None else cache
        self._prefix = f"{namespace}:"

    def __repr__(self) -> str:
        return f"SemCacheByteStore(namespace={self.namespace!r}, cache={self.cache!r})"

    # --- translation between store keys and cache keys (all validation happens here) -----

    def _cache_keys(self, keys: Sequence[str]) -> list[str]:
        return check_keys(keys, self._prefix, "store keys")

    def _cache_items(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        """Every pair checked before any is written: a bad one means nothing is stored."""
        if isinstance(key_value_pairs, (str, bytes)):
            raise InvalidArgumentError("key_value_pairs must be a sequence of (key, value)")
        items = []
        for i, pair in enumerate(key_value_pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise InvalidArgumentError(
                    f"key_value_pairs[{i}] must be a (key, value) pair, got {pair!r}"
                )
            key, value = pair
            (cache_key,) = self._cache_keys([key])
            if not isinstance(value, bytes):
                raise InvalidValueError(
                    f"values of a ByteStore must be bytes, got {type(value).__name__} "
                    f"for key {key!r}"
                )
            items.append((cache_key, value))
        return items

    def _scan_prefix(self, prefix: str | None) -> str:
        if prefix is None:
            return self._prefix
        if not isinstance(prefix, str):
            raise InvalidArgumentError(f"prefix must be a str, got {type(prefix).__name__}")
        return self._prefix + prefix

    def _store_keys(self, cache_keys: list[str]) -> Iterator[str]:
        start = len(self._prefix)
        for cache_key in cache_keys:
            yield cache_key[start:]

    @staticmethod
    def _bytes_or_none(values: list[Any]) -> list[bytes | None]:
        # Only this store writes under its prefix, so anything else is a foreign write: a miss.
        return [value if isinstance(value, bytes) else None for value in values]

    # --- sync ----------------------------------------------------------------------------

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        """The values of ``keys`` in order, ``None`` for a miss; repeated keys allowed."""
        return self._bytes_or_none(self.cache.get_many(self._cache_keys(keys)))

    def mset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        """Store every pair, or none of them when one is bad (a later repeat of a key wins).

        Raises:
            InvalidKeyError: a key is not a ``str``.
            InvalidValueError: a value is not ``bytes``.
            InvalidArgumentError: an item is not a ``(key, value)`` pair.
        """
        items = self._cache_items(key_value_pairs)
        if items:
            self.cache.set_many(items, ttl=self.ttl, namespace=self.namespace)

    def mdelete(self, keys: Sequence[str]) -> None:
        """Remove ``keys``; missing ones are ignored."""
        self.cache.delete_many(self._cache_keys(keys))

    def yield_keys(self, *, prefix: str | None = None) -> Iterator[str]:
        """This store's live keys (those starting with ``prefix``), sorted, as a generator."""
        return self._store_keys(self.cache.scan(self._scan_prefix(prefix)))

    # --- async: the cache's async twins, so the event loop never blocks ------------------

    async def amget(self, keys: Sequence[str]) -> list[bytes | None]:
        return self._bytes_or_none(await self.cache.aget_many(self._cache_keys(keys)))

    async def amset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        items = self._cache_items(key_value_pairs)
        if items:
            await self.cache.aset_many(items, ttl=self.ttl, namespace=self.namespace)

    async def amdelete(self, keys: Sequence[str]) -> None:
        await self.cache.adelete_many(self._cache_keys(keys))

    def ayield_keys(self, *, prefix: str | None = None) -> AsyncIterator[str]:
        """Async :meth:`yield_keys` (an async generator; the prefix is checked at the call)."""
        return self._ayield_keys(self._scan_prefix(prefix))

    async def _ayield_keys(self, cache_prefix: str) -> AsyncIterator[str]:
        for key in self._store_keys(await self.cache.ascan(cache_prefix)):
            yield key
