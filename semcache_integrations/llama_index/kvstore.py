"""``SemCacheKVStore``: a LlamaIndex ``BaseKVStore`` over a :class:`semcache_core.SemCache`.

Example (an ingestion cache that survives restarts, so unchanged documents are not
split or embedded again)::

    from llama_index.core.ingestion import IngestionCache, IngestionPipeline
    from semcache_core import SemCache
    from semcache_integrations.llama_index.kvstore import SemCacheKVStore

    store = SemCacheKVStore(SemCache(path="./ingestion-cache"))
    pipeline = IngestionPipeline(
        transformations=[splitter, embed_model], cache=IngestionCache(cache=store)
    )

It also backs ``KVDocumentStore(store)`` and ``KVIndexStore(store)``.

Key scheme: key ``k`` of collection ``c`` is the key ``f"{escape(c)}:{k}"`` of the engine
namespace ``"li-kv:{namespace}"`` (see :mod:`semcache_core.namespaces`), so no other
adapter sees or clears it. ``escape`` writes ``"%"`` as ``"%25"`` and ``":"`` as
``"%3A"``, so an escaped collection holds no ``":"`` and the first ``":"`` always ends it:
LlamaIndex's collections (``"docstore/data"``, ``"index_store/data"``, ``"llama_cache"``)
read as they are, any collection may contain ``":"``, keys may contain anything, and no two
``(collection, key)`` pairs share a cache key.

Values are dicts stored encoded (msgpack), so every read is a fresh copy and the caller's
dict is not kept; tuples inside come back as lists. Expiry, eviction and persistence are
the cache's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.storage.kvstore.types import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_COLLECTION,
    BaseKVStore,
)

from semcache_core import SemCache
from semcache_core.checks import check_key, check_ttl, encodes_as_utf8
from semcache_core.codec import encode
from semcache_core.engine_arg import check_engine
from semcache_core.errors import InvalidArgumentError, InvalidKeyError, InvalidValueError, shown
from semcache_core.namespaces import adapter_namespace

__all__ = ["SemCacheKVStore"]


def _escape(collection: Any) -> str:
    if not isinstance(collection, str):
        raise InvalidArgumentError(
            f"collection must be a str, got {type(collection).__name__} {shown(collection)}"
        )
    if not encodes_as_utf8(collection):
        raise InvalidArgumentError(
            f"collection {shown(collection)} is not valid text: it holds a lone surrogate"
        )
    return collection.replace("%", "%25").replace(":", "%3A")


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be an int >= 1, got {shown(batch_size)}")
    return batch_size


def _encodable(items: list[tuple[str, dict]], prefix: str) -> None:
    """Raise :class:`InvalidValueError` (naming the key) when a value cannot be encoded."""
    start = len(prefix)
    for cache_key, value in items:
        try:
            encode(value)
        except InvalidValueError as exc:
            raise InvalidValueError(f"value of key {shown(cache_key[start:])}: {exc}") from exc


class SemCacheKVStore(BaseKVStore):
    """A LlamaIndex key-value store whose collections live in a :class:`~semcache_core.SemCache`.

    Args:
        cache: the cache to store into; default a fresh in-process ``SemCache()``. Pass a
            durable one (``SemCache(path=...)``) to keep collections across restarts.
        namespace: the store's share of the cache: the engine namespace
            ``"li-kv:{namespace}"`` holds its entries (``engine_namespace``).
        ttl: seconds each value written lives; ``None``: the cache's default TTL.

    Every call raises before anything is stored or read when given a key that is not a
    ``str`` (:class:`~semcache_core.errors.InvalidKeyError`), a collection that is not a
    ``str`` or a bad ``batch_size`` (:class:`~semcache_core.errors.InvalidArgumentError`),
    or a value that is not a ``dict`` or holds something msgpack cannot encode
    (:class:`~semcache_core.errors.InvalidValueError`).

    Raises:
        InvalidArgumentError: a namespace that is not a non-empty str, or a bad
            ``ttl``.
    """

    def __init__(
        self,
        cache: SemCache | None = None,
        *,
        namespace: str = "default",
        ttl: float | None = None,
    ) -> None:
        self.engine_namespace = adapter_namespace("li-kv", namespace)
        self.namespace = namespace
        self.ttl = check_ttl(ttl)
        cache = check_engine(cache, "SemCacheKVStore")
        self.cache = SemCache() if cache is None else cache

    def __repr__(self) -> str:
        return f"SemCacheKVStore(namespace={self.namespace!r}, cache={self.cache!r})"

    # --- translation between (collection, key) and cache keys (all validation here) ------

    def _prefix(self, collection: str) -> str:
        """The cache-key prefix of one collection: no other collection's keys start so."""
        return f"{_escape(collection)}:"

    def _cache_key(self, key: str, collection: str) -> str:
        if not isinstance(key, str):
            raise InvalidKeyError(f"store keys must be str, got {type(key).__name__} {shown(key)}")
        check_key(key)  # a lone surrogate, named as the caller wrote the key
        return self._prefix(collection) + key

    def _item(self, key: str, val: dict, collection: str) -> tuple[str, dict]:
        cache_key = self._cache_key(key, collection)
        if not isinstance(val, dict):
            raise InvalidValueError(
                f"values of a KV store must be dicts, got {type(val).__name__} for key {shown(key)}"
            )
        return cache_key, val

    def _batches(
        self, kv_pairs: Sequence[tuple[str, dict]], collection: str, batch_size: int
    ) -> list[list[tuple[str, dict]]]:
        """Every pair checked before any is written; then cut into ``batch_size`` chunks.

        Values are only encoded by the cache's ``set_many``, which validates its whole
        batch first: a value msgpack cannot store is caught here by encoding it once, so
        a bad pair in a later batch cannot leave the earlier batches written.
        """
        batch_size = _check_batch_size(batch_size)
        prefix = self._prefix(collection)
        if isinstance(kv_pairs, (str, bytes, dict)):
            raise InvalidArgumentError("kv_pairs must be a sequence of (key, value) pairs")
        items = []
        for i, pair in enumerate(kv_pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise InvalidArgumentError(
                    f"kv_pairs[{i}] must be a (key, value) pair, got {shown(pair)}"
                )
            items.append(self._item(pair[0], pair[1], collection))
        if len(items) > batch_size:
            _encodable(items, prefix)
        return [items[i : i + batch_size] for i in range(0, len(items), batch_size)]

    def _collect(self, cache_keys: list[str], values: list[Any], prefix: str) -> dict[str, dict]:
        start = len(prefix)
        # Entries that expired between the scan and the read come back as None: skip them.
        return {
            cache_key[start:]: value
            for cache_key, value in zip(cache_keys, values)
            if isinstance(value, dict)
        }

    @staticmethod
    def _dict_or_none(value: Any) -> dict | None:
        # Only this store writes under its prefix, so anything else is a foreign write: a miss.
        return value if isinstance(value, dict) else None

    # --- sync ----------------------------------------------------------------------------

    def put(self, key: str, val: dict, collection: str = DEFAULT_COLLECTION) -> None:
        """Store ``val`` (a copy: later changes to it are not seen) under ``key``."""
        self.cache.set_many(
            [self._item(key, val, collection)], ttl=self.ttl, namespace=self.engine_namespace
        )

    def put_all(
        self,
        kv_pairs: Sequence[tuple[str, dict]],
        collection: str = DEFAULT_COLLECTION,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        """Store every pair, one engine ``set_many`` per ``batch_size`` pairs.

        All pairs are validated first: when one is bad, none is stored. A later repeat of
        a key wins.
        """
        for batch in self._batches(kv_pairs, collection, batch_size):
            self.cache.set_many(batch, ttl=self.ttl, namespace=self.engine_namespace)

    def get(self, key: str, collection: str = DEFAULT_COLLECTION) -> dict | None:
        """A fresh copy of the value of ``key``, or ``None``."""
        return self._dict_or_none(
            self.cache.get(self._cache_key(key, collection), namespace=self.engine_namespace)
        )

    def get_all(self, collection: str = DEFAULT_COLLECTION) -> dict[str, dict]:
        """Every live ``key -> value`` of ``collection`` (fresh copies; ``{}`` when empty)."""
        prefix = self._prefix(collection)
        ns = self.engine_namespace
        cache_keys = self.cache.scan(prefix, namespace=ns)
        return self._collect(cache_keys, self.cache.get_many(cache_keys, namespace=ns), prefix)

    def delete(self, key: str, collection: str = DEFAULT_COLLECTION) -> bool:
        """Remove ``key``; True when it held a live value."""
        return self.cache.delete(self._cache_key(key, collection), namespace=self.engine_namespace)

    # --- async: the cache's async twins, so the event loop never blocks ------------------

    async def aput(self, key: str, val: dict, collection: str = DEFAULT_COLLECTION) -> None:
        item = self._item(key, val, collection)
        await self.cache.aset_many([item], ttl=self.ttl, namespace=self.engine_namespace)

    async def aput_all(
        self,
        kv_pairs: Sequence[tuple[str, dict]],
        collection: str = DEFAULT_COLLECTION,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        for batch in self._batches(kv_pairs, collection, batch_size):
            await self.cache.aset_many(batch, ttl=self.ttl, namespace=self.engine_namespace)

    async def aget(self, key: str, collection: str = DEFAULT_COLLECTION) -> dict | None:
        cache_key = self._cache_key(key, collection)
        return self._dict_or_none(await self.cache.aget(cache_key, namespace=self.engine_namespace))

    async def aget_all(self, collection: str = DEFAULT_COLLECTION) -> dict[str, dict]:
        prefix = self._prefix(collection)
        ns = self.engine_namespace
        cache_keys = await self.cache.ascan(prefix, namespace=ns)
        values = await self.cache.aget_many(cache_keys, namespace=ns)
        return self._collect(cache_keys, values, prefix)

    async def adelete(self, key: str, collection: str = DEFAULT_COLLECTION) -> bool:
        cache_key = self._cache_key(key, collection)
        return await self.cache.adelete(cache_key, namespace=self.engine_namespace)
