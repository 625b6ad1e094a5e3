"""``SemCacheByteStore``: a LangChain ``ByteStore`` over a :class:`semcache_core.SemCache`.

Example (an embedding cache that pays for each text once)::

    from langchain_classic.embeddings import CacheBackedEmbeddings
    from semcache_core import SemCache
    from semcache_integrations.langchain.byte_store import SemCacheByteStore

    store = SemCacheByteStore(SemCache(path="./embeddings-cache"))
    embedder = CacheBackedEmbeddings.from_bytes_store(
        underlying, store, namespace=underlying.model, key_encoder="blake2b"
    )

Store key ``k`` is the key ``k`` of the engine namespace ``"lc-bytes:{namespace}"`` (see
:mod:`semcache_core.namespaces`): other users of the same cache neither see the store's
entries nor are seen by :meth:`SemCacheByteStore.yield_keys`, whatever names they pick.
Expiry, eviction and persistence are the cache's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.stores import ByteStore

from semcache_core import SemCache
from semcache_core.checks import check_keys, check_ttl
from semcache_core.engine_arg import check_engine
from semcache_core.errors import InvalidArgumentError, InvalidValueError, shown
from semcache_core.namespaces import adapter_namespace

__all__ = ["SemCacheByteStore"]


class SemCacheByteStore(ByteStore):
    """A ``BaseStore[str, bytes]`` whose entries live in a :class:`~semcache_core.SemCache`.

    Args:
        cache: the cache to store into; default a fresh in-process ``SemCache()``. Pass a
            durable one (``SemCache(path=...)``) to keep values across restarts.
        namespace: the store's share of the cache: the engine namespace
            ``"lc-bytes:{namespace}"`` holds its entries (``engine_namespace``).
        ttl: seconds each value written lives; ``None``: the cache's default TTL.

    Raises:
        InvalidArgumentError: a namespace that is not a non-empty str, or a bad ``ttl``.
    """

    def __init__(
        self,
        cache: SemCache | None = None,
        *,
        namespace: str = "default",
        ttl: float | None = None,
    ) -> None:
        self.engine_namespace = adapter_namespace("lc-bytes", namespace)
        self.namespace = namespace
        self.ttl = check_ttl(ttl)
        cache = check_engine(cache, "SemCacheByteStore")
        self.cache = SemCache() if cache is None else cache

    def __repr__(self) -> str:
        return f"SemCacheByteStore(namespace={self.namespace!r}, cache={self.cache!r})"

    # --- translation between store keys and cache keys (all validation happens here) -----

    @staticmethod
    def _cache_keys(keys: Sequence[str]) -> list[str]:
        return check_keys(keys, what="store keys")

    def _cache_items(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        """Every pair checked before any is written: a bad one means nothing is stored."""
        if isinstance(key_value_pairs, (str, bytes)):
            raise InvalidArgumentError("key_value_pairs must be a sequence of (key, value)")
        items = []
        for i, pair in enumerate(key_value_pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise InvalidArgumentError(
                    f"key_value_pairs[{i}] must be a (key, value) pair, got {shown(pair)}"
                )
            key, value = pair
            (cache_key,) = self._cache_keys([key])
            if not isinstance(value, bytes):
                raise InvalidValueError(
                    f"values of a ByteStore must be bytes, got {type(value).__name__} "
                    f"for key {shown(key)}"
                )
            items.append((cache_key, value))
        return items

    @staticmethod
    def _scan_prefix(prefix: str | None) -> str:
        if prefix is None:
            return ""
        if not isinstance(prefix, str):
            raise InvalidArgumentError(f"prefix must be a str, got {type(prefix).__name__}")
        return prefix

    @staticmethod
    def _bytes_or_none(values: list[Any]) -> list[bytes | None]:
        # Only this store writes in its namespace: anything else is a foreign write, a miss.
        return [value if isinstance(value, bytes) else None for value in values]

    # --- sync ----------------------------------------------------------------------------

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        """The values of ``keys`` in order, ``None`` for a miss; repeated keys allowed."""
        return self._bytes_or_none(
            self.cache.get_many(self._cache_keys(keys), namespace=self.engine_namespace)
        )

    def mset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        """Store every pair, or none of them when one is bad (a later repeat of a key wins).

        Raises:
            InvalidKeyError: a key is not a ``str``.
            InvalidValueError: a value is not ``bytes``.
            InvalidArgumentError: an item is not a ``(key, value)`` pair.
        """
        items = self._cache_items(key_value_pairs)
        if items:
            self.cache.set_many(items, ttl=self.ttl, namespace=self.engine_namespace)

    def mdelete(self, keys: Sequence[str]) -> None:
        """Remove ``keys``; missing ones are ignored."""
        self.cache.delete_many(self._cache_keys(keys), namespace=self.engine_namespace)

    def yield_keys(self, *, prefix: str | None = None) -> Iterator[str]:
        """This store's live keys (those starting with ``prefix``), sorted, as a generator.

        The prefix is checked at the call.
        """
        return self._yield_keys(self._scan_prefix(prefix))

    def _yield_keys(self, prefix: str) -> Iterator[str]:
        yield from self.cache.scan(prefix, namespace=self.engine_namespace)

    # --- async: the cache's async twins, so the event loop never blocks ------------------

    async def amget(self, keys: Sequence[str]) -> list[bytes | None]:
        return self._bytes_or_none(
            await self.cache.aget_many(self._cache_keys(keys), namespace=self.engine_namespace)
        )

    async def amset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        items = self._cache_items(key_value_pairs)
        if items:
            await self.cache.aset_many(items, ttl=self.ttl, namespace=self.engine_namespace)

    async def amdelete(self, keys: Sequence[str]) -> None:
        await self.cache.adelete_many(self._cache_keys(keys), namespace=self.engine_namespace)

    def ayield_keys(self, *, prefix: str | None = None) -> AsyncIterator[str]:
        """Async :meth:`yield_keys` (an async generator; the prefix is checked at the call)."""
        return self._ayield_keys(self._scan_prefix(prefix))

    async def _ayield_keys(self, cache_prefix: str) -> AsyncIterator[str]:
        for key in await self.cache.ascan(cache_prefix, namespace=self.engine_namespace):
            yield key
