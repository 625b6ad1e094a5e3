"""Several workers (RedisBackend objects) on one server: a namespace one of them cleared
and another wrote again stays visible to every worker, with each key in one shard
(found by review: the meta hash was recreated without its shard count, hiding the
namespace from new workers, and workers with different shard counts kept two copies)."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import redis
from semcache_core import SemCache
from semcache_core.backends.base import EntryWrite
from semcache_core.backends.redis import RedisBackend
from semcache_core.codec import encode_metadata

NOW = 1_000.0


def write(key: str, value: bytes, vector: Any = None) -> EntryWrite:
    unit = None if vector is None else np.asarray(vector, dtype=np.float32)
    return EntryWrite(key, value, encode_metadata({}), "", None, unit)


def test_a_write_after_another_workers_clear_is_seen_by_every_worker(
    redis_client: redis.Redis,
) -> None:
    first, second = RedisBackend(client=redis_client), RedisBackend(client=redis_client)
    first.set_many([write("k1", b"1", [1.0, 0.0, 0.0])], NOW)
    second.clear("")
    first.set_many([write("k2", b"2", [1.0, 0.0, 0.0])], NOW)  # its shard count is cached
    fresh = RedisBackend(client=redis_client)
    found = fresh.get("", "k2", NOW)
    assert found is not None and found.value == b"2"
    assert fresh.scan("", "", None, NOW) == ["k2"] and fresh.count(NOW, "") == 1
    hits = fresh.search(np.array([[1.0, 0.0, 0.0]], np.float32), 5, "", None, NOW)[0]
    assert [entry.key for entry, _ in hits] == ["k2"]


def test_workers_with_other_shard_counts_keep_one_copy_of_a_key(
    redis_client: redis.Redis,
) -> None:
    one = RedisBackend(client=redis_client)  # one shard (standalone)
    two = RedisBackend(client=redis_client, shards=2)
    one.set_many([write("x", b"v1")], NOW)
    two.clear("")
    two.set_many([write("x", b"v2")], NOW)  # the namespace now has two shards
    one.set_many([write("x", b"v3")], NOW)  # follows the meta's count, not its cached one
    reader = RedisBackend(client=redis_client)
    assert reader.scan("", "", None, NOW) == ["x"]
    for backend in (one, two, reader):
        found = backend.get("", "x", NOW)
        assert found is not None and found.value == b"v3"
    assert reader.delete("", "x", NOW) and one.get("", "x", NOW) is None


LATE = {f"k{i}": np.eye(6, dtype=np.float32)[i] for i in range(2, 6)}  # keys of every shard


def seen_by_a_fresh_worker(client: Any) -> dict[str, tuple[Any, ...]]:
    """For each key of :data:`LATE`, what a worker that just started sees of it: its
    value by ``get``, ``exists``, found by ``search`` of its own vector, listed by ``scan``."""
    fresh = RedisBackend(client=client)
    listed = fresh.scan("", "", None, NOW)
    seen = {}
    for key, vector in LATE.items():
        found = fresh.get("", key, NOW)
        hits = fresh.search(vector[None, :], 1, "", None, NOW)[0]
        seen[key] = (
            None if found is None else found.value,
            fresh.exists("", key, NOW),
            [entry.key for entry, _ in hits] == [key],
            key in listed,
        )
    return seen


def whole(key: str) -> tuple[Any, ...]:
    return (key.encode(), True, True, True)


GONE = (None, False, False, False)


@pytest.mark.parametrize("topology", ["standalone", "cluster"])
@pytest.mark.parametrize(
    "moment", ["_entry_names", "_drop_shards"], ids=["after-the-scan", "after-the-shards-went"]
)
def test_a_write_during_another_workers_clear_stays_whole_or_goes_whole(
    topology: str, moment: str, request: pytest.FixtureRequest
) -> None:
    """Found by review: a write landing between ``clear``'s SCAN and its removals lost its
    vector (the vector set was in the scan) and, with the meta hash removed last, hid the
    entry from ``get``/``search`` of every new worker while ``count``/``scan`` listed it.
    A write during a clear may go or stay, but whole."""
    fixture = "redis_client" if topology == "standalone" else "cluster_client"
    client = request.getfixturevalue(fixture)
    clearing, writing = RedisBackend(client=client), RedisBackend(client=client)
    writing.set_many([write(f"k{i}", b"old", np.ones(6)) for i in range(2)], NOW)
    original = getattr(clearing, moment)
    late = [write(key, key.encode(), vector) for key, vector in LATE.items()]

    def then_the_other_worker_writes(*args: Any) -> Any:
        result = original(*args)
        if late:  # the first call only
            writing.set_many(late, NOW)
            late.clear()
        return result

    setattr(clearing, moment, then_the_other_worker_writes)
    clearing.clear("")
    assert not late  # every late write landed during the clear
    seen = seen_by_a_fresh_worker(client)
    assert all(state in (whole(key), GONE) for key, state in seen.items()), seen
    assert RedisBackend(client=client).count(NOW, "") == sum(s != GONE for s in seen.values())
    if moment == "_drop_shards":  # written after every shard went: nothing takes them
        assert all(state == whole(key) for key, state in seen.items())
    assert writing.get("", "k0", NOW) is None and writing.get("", "k1", NOW) is None


@pytest.mark.parametrize("topology", ["standalone", "cluster"])
def test_entries_stay_readable_when_their_namespace_meta_is_evicted(
    topology: str, request: pytest.FixtureRequest
) -> None:
    """``allkeys-lru`` (the eviction policy the docs advise) may evict the small, rarely
    read meta hash while the entries live: every read of the namespace then missed."""
    fixture = "redis_client" if topology == "standalone" else "cluster_client"
    client = request.getfixturevalue(fixture)
    writer = RedisBackend(client=client)
    writer.set_many([write(key, key.encode(), vector) for key, vector in LATE.items()], NOW)
    client.delete(writer._keys.meta_key(""))
    assert seen_by_a_fresh_worker(client) == {key: whole(key) for key in LATE}


ODD_KEY = st.lists(
    st.sampled_from(["}:v", "}:x", ":v", ":x", "{", "}", ":e:", "a", "*", "\u00e9"]),
    min_size=1,
    max_size=4,
).map("".join)


@pytest.mark.parametrize("topology", ["standalone", "cluster"])
@settings(max_examples=10, deadline=None, derandomize=True, database=None)
@given(keys=st.lists(ODD_KEY, min_size=1, max_size=6, unique=True), with_vectors=st.booleans())
def test_clear_leaves_nothing_whatever_the_keys_end_with(
    topology: str, keys: list[str], with_vectors: bool, request: pytest.FixtureRequest
) -> None:
    """Found by review: ``clear`` took every scanned name ending in ``}:v`` or ``}:x`` for
    a shard's vector or expiry set; an entry whose *key* ends so, with no vector and no
    TTL, is in neither set, so it survived the clear and was served after it."""
    fixture = "redis_client" if topology == "standalone" else "cluster_client"
    client = request.getfixturevalue(fixture)
    backend = RedisBackend(client=client)
    vectors = [np.eye(4)[i % 4] + 0.5 if with_vectors else None for i in range(len(keys))]
    backend.set_many([write(key, b"v", vector) for key, vector in zip(keys, vectors)], NOW)
    backend.clear("")
    fresh = RedisBackend(client=client)
    assert [key for key in keys if fresh.get("", key, NOW) is not None] == []
    assert fresh.count(NOW, "") == 0 and fresh.scan("", "", None, NOW) == []


@pytest.mark.parametrize("topology", ["standalone", "cluster"])
@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("namespace", ["docs", "docs2", "n3", "n4"])
def test_a_worker_follows_a_namespace_written_again_with_another_shard_count(
    topology: str, asynchronous: bool, namespace: str, request: pytest.FixtureRequest
) -> None:
    """Found by review: a worker kept the shard count it had read for a namespace after
    another worker cleared the namespace and wrote it again with another count; its
    search, get and exists then missed live entries, and delete/touch answered False while
    the entry lived on. Search comes first (it reads no meta of its own otherwise), and
    some namespaces' one-shard tag is a tag of the six shards too (a partial miss)."""
    fixture = "redis_client" if topology == "standalone" else "cluster_client"
    client = request.getfixturevalue(fixture)
    reader = SemCache(backend=RedisBackend(client=client, shards=1))
    writer = SemCache(backend=RedisBackend(client=client, shards=6))
    reader.set("old", "v0", vector=[1.0, 0.0], namespace=namespace)  # one shard, cached
    assert writer.get("old", namespace=namespace) == "v0"  # cached by the writer too
    writer.clear(namespace)  # the writer forgets it; the reader cannot know
    keys = [f"k{i}" for i in range(12)]
    for key in keys:  # the namespace again, with the writer's six shards
        writer.set(key, key.upper(), vector=[1.0, 0.0], namespace=namespace)

    async def reads() -> tuple[int, list[Any], list[bool], bool, list[bool]]:
        seen = (
            len(await reader.asearch([1.0, 0.0], k=20, namespace=namespace)),
            [await reader.aget(key, namespace=namespace) for key in keys],
            [await reader.aexists(key, namespace=namespace) for key in keys],
            await reader.atouch(keys[0], 60.0, namespace=namespace),
            [await reader.adelete(key, namespace=namespace) for key in keys],
        )
        await reader.aclose()  # this loop's client, before the loop ends
        return seen

    if asynchronous:
        found, values, present, touched, deleted = asyncio.run(reads())
    else:
        found = len(reader.search([1.0, 0.0], k=20, namespace=namespace))
        values = [reader.get(key, namespace=namespace) for key in keys]
        present = [reader.exists(key, namespace=namespace) for key in keys]
        touched = reader.touch(keys[0], 60.0, namespace=namespace)
        deleted = [reader.delete(key, namespace=namespace) for key in keys]
    assert found == len(keys)
    assert values == [key.upper() for key in keys] and all(present)
    assert touched and all(deleted)
    assert [writer.get(key, namespace=namespace) for key in keys] == [None] * len(keys)
    reader.close()
    writer.close()


@pytest.mark.parametrize("topology", ["standalone", "cluster"])
def test_a_worker_keeps_its_shard_count_when_the_meta_is_evicted(
    topology: str, request: pytest.FixtureRequest
) -> None:
    """Found by review: after the meta hash was evicted (``allkeys-lru``), one miss made a
    worker drop the count it held for the default, so it missed live entries and its next
    write recorded the default in the meta, orphaning the entries for every worker."""
    fixture = "redis_client" if topology == "standalone" else "cluster_client"
    client = request.getfixturevalue(fixture)
    writer = SemCache(backend=RedisBackend(client=client, shards=6))
    reader = SemCache(backend=RedisBackend(client=client, shards=1))
    keys = [f"k{i}" for i in range(12)]
    for key in keys:
        writer.set(key, key.upper(), vector=[1.0, 0.0], namespace="ns")
    assert [reader.get(key, namespace="ns") for key in keys] == [k.upper() for k in keys]
    client.delete(reader.backend._keys.meta_key("ns"))  # what allkeys-lru may do
    assert reader.get("absent", namespace="ns") is None  # a miss reads the meta: gone
    assert [reader.get(key, namespace="ns") for key in keys] == [k.upper() for k in keys]
    reader.set("new", "NEW", vector=[1.0, 0.0], namespace="ns")  # records the meta again
    fresh = SemCache(backend=RedisBackend(client=client, shards=6))
    assert [fresh.get(key, namespace="ns") for key in [*keys, "new"]] == [
        k.upper() for k in [*keys, "new"]
    ]
    assert len(fresh.search([1.0, 0.0], k=20, namespace="ns")) == len(keys) + 1
    for cache in (writer, reader, fresh):
        cache.close()
