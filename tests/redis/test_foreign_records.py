"""Redis data that semcache never writes (a crafted field, another program's write, a lost
field) is refused with :class:`UnsafeRecordError` naming the field, at every call that
reads it: never a raw decoding error, never unpickled. Found by review: ``float("abc")``
surfaced as a raw ``ValueError`` from get / exists / count / scan / delete / dump, foreign
msgpack as ``msgpack.FormatError``, a ``shards`` of 0 as ``ZeroDivisionError``."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Callable
from typing import Any

import msgpack
import pytest

import redis
from semcache_core import SemCache
from semcache_core.backends.redis import RedisBackend
from semcache_core.errors import (
    DimensionMismatchError,
    InvalidArgumentError,
    UnsafeRecordError,
)

ENTRY_FIELDS: dict[str, list[Any]] = {
    "x": [b"abc", b"nan", b""],  # "" is "never expires": fine
    "v": [b"\xc1", b"\x92\x01", pickle.dumps(object), b""],
    "m": [
        b"\xc1",
        msgpack.packb([1, 2]),
        msgpack.packb("text"),
        msgpack.packb({"n": msgpack.ExtType(1, b"x")}),  # an ndarray ext semcache never wrote
    ],
    "f": [b"\x00\x00\x80", b"\x00" * 12],  # not whole float32 values; 3 in a 2-d namespace
}
CALLS: dict[str, Callable[[SemCache], Any]] = {
    "get": lambda cache: cache.get("k"),
    "get_entry": lambda cache: cache.get_entry("k"),
    "exists": lambda cache: cache.exists("k"),
    "count": len,
    "scan": lambda cache: cache.scan(),
    "search": lambda cache: cache.search([1.0, 0.0], k=2),
    "search with vectors": lambda cache: cache.search([1.0, 0.0], k=2, with_vectors=True),
    "filtered search": lambda cache: cache.search([1.0, 0.0], k=2, filters={"n": {"$gt": 1}}),
    "aget": lambda cache: asyncio.run(cache.aget("k")),
}


def _entry_hash(client: redis.Redis, backend: RedisBackend) -> str:
    (tag,) = backend._keys.shard_tags("", 1)
    return backend._keys.entry_key(tag, "k")


@pytest.mark.parametrize(
    ("field", "raw"), [(f, raw) for f, values in ENTRY_FIELDS.items() for raw in values]
)
def test_a_foreign_entry_field_is_refused_by_name_at_every_read(
    redis_client: redis.Redis, field: str, raw: bytes, tmp_path: Any
) -> None:
    backend = RedisBackend(client=redis_client)
    cache = SemCache(backend=backend)
    cache.set("k", {"a": 1}, vector=[1.0, 0.0], metadata={"n": 2})
    redis_client.hset(_entry_hash(redis_client, backend), field, raw)
    cache.set("j", 2, vector=[0.0, 1.0], metadata={"n": 3})  # a sound neighbour
    calls = {**CALLS, "dump": lambda c: c.dump(tmp_path / "snapshot.bin")}
    refused = []
    for name, call in calls.items():
        try:
            call(cache)
        except UnsafeRecordError as exc:
            named = {"v": ["stored value"], "m": ["'m'", "stored metadata"]}.get(
                field, [repr(field)]
            )
            assert any(n in str(exc) for n in named), (name, str(exc))
            refused.append(name)
        # anything else raised fails the test: the point is which error
    harmless = (field, raw) == ("x", b"")  # what semcache writes for "never expires"
    assert not refused if harmless else refused  # foreign data is refused somewhere
    assert cache.delete("k") is True  # a foreign record can still be deleted
    assert len(cache) == 1


def test_a_vector_value_without_its_vector_is_refused(redis_client: redis.Redis) -> None:
    backend = RedisBackend(client=redis_client)
    cache = SemCache(backend=backend)
    cache.get_or_compute("k", lambda key: [0.6, 0.8])  # stored as the entry's vector
    redis_client.hdel(_entry_hash(redis_client, backend), "f")
    with pytest.raises(UnsafeRecordError, match="'f'"):
        cache.get("k")


@pytest.mark.parametrize(
    ("field", "raw"),
    [("shards", raw) for raw in (b"abc", b"0", b"-2", b"16385")]  # 16385: more than slots
    + [("dim", raw) for raw in (b"abc", b"0", b"-2")],
)
def test_a_foreign_meta_field_is_refused_by_name(
    redis_client: redis.Redis, field: str, raw: bytes
) -> None:
    backend = RedisBackend(client=redis_client)
    cache = SemCache(backend=backend)
    cache.set("k", 1, vector=[1.0, 0.0])
    redis_client.hset(backend._keys.meta_key(""), field, raw)
    fresh = SemCache(backend=RedisBackend(client=redis_client))  # reads the meta anew
    for call in (
        lambda: fresh.get("k"),
        lambda: fresh.search([1.0, 0.0], k=1),
        lambda: fresh.set("other", 2, vector=[0.0, 1.0]),
    ):
        try:
            call()
        except UnsafeRecordError as exc:
            assert repr(field) in str(exc)


def test_a_vector_set_element_that_is_not_utf8_is_refused(redis_client: redis.Redis) -> None:
    backend = RedisBackend(client=redis_client, exact_below=0)
    cache = SemCache(backend=backend)
    cache.set("k", 1, vector=[1.0, 0.0])
    (tag,) = backend._keys.shard_tags("", 1)
    element = b"\xff\xfe"
    redis_client.execute_command(
        "VADD", backend._keys.vset_key(tag), "VALUES", 2, 1.0, 0.1, element, "NOQUANT"
    )
    fields = {"v": msgpack.packb(1), "m": msgpack.packb({}), "x": b"", "k": element, "n": b""}
    redis_client.hset(backend._keys.entry_prefix(tag).encode() + element, mapping=fields)
    with pytest.raises(UnsafeRecordError, match="element"):
        cache.search([1.0, 0.0], k=5)


def test_a_refused_write_leaves_a_meta_it_did_not_claim(redis_client: redis.Redis) -> None:
    """Found by review: a refused write wrote back the dimension it had read a round
    earlier, over another worker's clear-and-rewrite in between: the meta said 2 while
    every vector was 3-d, and every later write of the namespace's own vectors failed."""
    writer = SemCache(backend=RedisBackend(client=redis_client))
    other = SemCache(backend=RedisBackend(client=redis_client))
    writer.set("a", 1, vector=[1.0, 0.0])
    read_dim = writer.backend.dim_of

    def racing(namespace: str, now: float | None = None) -> int | None:
        found = read_dim(namespace, now)
        other.clear()
        other.set("b", 1, vector=[0.0, 0.0, 1.0])  # the namespace is 3-d from now on
        return found

    writer.backend.dim_of = racing  # type: ignore[method-assign]
    with pytest.raises(DimensionMismatchError):
        writer.set("x", 1, vector=[1.0, 0.0, 0.0, 0.0])
    fresh = SemCache(backend=RedisBackend(client=redis_client))
    assert fresh.dim_of() == 3
    fresh.set("c", 1, vector=[0.0, 1.0, 0.0])


@pytest.mark.parametrize("shards", [0, 16385])
def test_a_shard_count_beyond_the_slots_is_refused_at_construction(
    redis_client: redis.Redis, shards: int
) -> None:
    """Found by review: past 16,384 shards (a cluster's hash slots) choosing each shard's
    slot range looped forever; the meta's count is refused above, the argument here."""
    with pytest.raises(InvalidArgumentError, match="shards"):
        RedisBackend(client=redis_client, shards=shards)
