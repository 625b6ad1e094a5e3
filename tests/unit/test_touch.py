"""``SemCache.touch`` / ``atouch``: a live entry's expiry moves, nothing else changes.

The tests written against ``SemCache(clock=...)`` run on Redis too (listed in
tests/redis/test_suite_backends.py); the durable ones need ``path=`` and run here only.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from fakeclock import FakeClock

from semcache_core import SemCache
from semcache_core.errors import InvalidArgumentError, InvalidKeyError
from semcache_core.persist.durable import ENTRY_PREFIX, entry_id, open_journal
from semcache_core.persist.journal import write_from

T0 = 1_000_000.0


def test_touch_moves_the_expiry_from_now() -> None:
    clock = FakeClock(T0)
    cache = SemCache(clock=clock)
    cache.set("k", "v", ttl=10)
    clock.advance(8)
    assert cache.touch("k", ttl=10) is True
    entry = cache.get_entry("k")
    assert entry is not None and entry.expires_at == T0 + 18
    clock.advance(8)  # past the first expiry
    assert cache.get("k") == "v"
    clock.advance(2)  # at the new one
    assert cache.get("k") is None


def test_a_touched_vector_stays_searchable_past_its_first_expiry() -> None:
    clock = FakeClock(T0)
    cache = SemCache(clock=clock)
    cache.set("a", 1, vector=[1.0, 0.0], ttl=5, metadata={"tag": "x"})
    cache.set("b", 2, vector=[0.0, 1.0], ttl=5)
    assert cache.touch("a", ttl=50)
    clock.advance(10)
    assert cache.purge_expired() == 1  # "b" only
    assert [hit.key for hit in cache.search([1.0, 0.1], k=5)] == ["a"]
    assert [hit.key for hit in cache.search([1.0, 0.1], k=5, filters={"tag": "x"})] == ["a"]
    assert len(cache) == 1 and cache.scan() == ["a"]
    clock.advance(41)
    assert cache.search([1.0, 0.1], k=5) == [] and len(cache) == 0


def test_touch_keeps_value_vector_metadata_and_namespace() -> None:
    clock = FakeClock(T0)
    cache = SemCache(clock=clock)
    cache.set("k", {"answer": [1, 2]}, vector=[0.6, 0.8], metadata={"m": 1}, ttl=5, namespace="n")
    cache.set("k", "other", ttl=5)  # the same key in the default namespace
    assert cache.touch("k", ttl=100, namespace="n")
    clock.advance(20)
    entry = cache.get_entry("k", namespace="n")
    assert entry is not None
    assert (entry.value, entry.metadata, entry.expires_at) == (
        {"answer": [1, 2]},
        {"m": 1},
        T0 + 100,
    )
    hits = cache.search([0.6, 0.8], k=1, namespace="n", with_vectors=True)
    assert hits[0].key == "k" and np.allclose(hits[0].vector, [0.6, 0.8])
    assert cache.get("k") is None  # the other namespace's entry was not touched


def test_touch_of_a_missing_or_expired_key_is_false_and_creates_nothing() -> None:
    clock = FakeClock(T0)
    cache = SemCache(clock=clock)
    assert cache.touch("nothing", ttl=10) is False
    assert cache.touch("nothing", ttl=10, namespace="other") is False
    cache.set("gone", 1, vector=[1.0, 0.0], ttl=1)
    clock.advance(1)
    assert cache.touch("gone", ttl=10) is False
    assert cache.get("gone") is None and len(cache) == 0
    assert cache.search([1.0, 0.0], k=3) == []


def test_touch_without_ttl_takes_the_cache_default_or_none() -> None:
    clock = FakeClock(T0)
    with_default = SemCache(clock=clock, ttl=30)
    with_default.set("k", 1, ttl=5)
    assert with_default.touch("k")
    entry = with_default.get_entry("k")
    assert entry is not None and entry.expires_at == T0 + 30
    plain = SemCache(clock=clock)
    plain.set("k", 1, ttl=5)
    assert plain.touch("k")  # no default ttl: the entry no longer expires
    clock.advance(10_000)
    entry = plain.get_entry("k")
    assert entry is not None and entry.expires_at is None and plain.get("k") == 1
    plain.set("v", 2, vector=[1.0, 0.0], ttl=5)
    assert plain.touch("v")
    clock.advance(10_000)
    assert [hit.key for hit in plain.search([1.0, 0.0], k=1)] == ["v"]
    assert plain.touch("v", ttl=1)  # and back to expiring
    clock.advance(1)
    assert plain.search([1.0, 0.0], k=1) == [] and plain.get("v") is None


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), float("inf"), "10"])
def test_bad_ttl_raises_and_changes_nothing(ttl: object) -> None:
    clock = FakeClock(T0)
    cache = SemCache(clock=clock)
    cache.set("k", 1, ttl=5)
    with pytest.raises(InvalidArgumentError, match="ttl"):
        cache.touch("k", ttl=ttl)  # type: ignore[arg-type]
    entry = cache.get_entry("k")
    assert entry is not None and entry.expires_at == T0 + 5


def test_bad_key_and_namespace_raise() -> None:
    cache = SemCache()
    with pytest.raises(InvalidKeyError):
        cache.touch(3, ttl=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="namespace"):
        cache.touch("k", ttl=1, namespace=3)  # type: ignore[arg-type]


def test_atouch_is_the_async_twin() -> None:
    clock = FakeClock(T0)
    cache = SemCache(clock=clock)

    async def scenario() -> None:
        await cache.aset("k", 1, vector=[1.0, 0.0], ttl=5, namespace="n")
        assert await cache.atouch("k", ttl=60, namespace="n") is True
        assert await cache.atouch("missing", ttl=60, namespace="n") is False
        with pytest.raises(InvalidArgumentError, match="ttl"):
            await cache.atouch("k", ttl=-3, namespace="n")
        clock.advance(30)
        assert await cache.aget("k", namespace="n") == 1
        hits = await cache.asearch([1.0, 0.0], 1, namespace="n")
        assert [hit.key for hit in hits] == ["k"]

    asyncio.run(scenario())


# --- durable mode: the new expiry is journaled ------------------------------------------


def test_durable_touch_is_journaled_and_survives_a_reopen(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    with SemCache(path=tmp_path, clock=clock) as cache:
        cache.set("a", "kept", vector=[1.0, 0.0], ttl=10)
        cache.set("b", "lost", vector=[0.0, 1.0], ttl=10)
    clock.advance(5)
    cache = SemCache(path=tmp_path, clock=clock)  # touched after the checkpoint: the log
    assert cache.touch("a", ttl=100)
    journal = open_journal(tmp_path)  # what a kill -9 now would leave
    try:
        record = journal.get(ENTRY_PREFIX + entry_id("", "a"))
        assert write_from(entry_id("", "a"), record).expires_at == T0 + 105
    finally:
        journal.close()
    clock.advance(50)
    cache.close()
    with SemCache(path=tmp_path, clock=clock) as reopened:
        assert reopened.get("a") == "kept" and reopened.get("b") is None
        assert [hit.key for hit in reopened.search([1.0, 0.0], k=2)] == ["a"]
        clock.advance(51)
        assert reopened.get("a") is None


def test_durable_touch_of_an_expired_entry_writes_nothing(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    with SemCache(path=tmp_path, clock=clock) as cache:
        cache.set("a", 1, ttl=1)
        clock.advance(2)
        assert cache.touch("a", ttl=100) is False
    with SemCache(path=tmp_path, clock=clock) as reopened:
        assert reopened.get("a") is None and len(reopened) == 0


def test_touching_one_hot_entry_many_times_keeps_the_expiry_heap_bounded() -> None:
    """Sliding TTL touches an entry on every hit: the stale expiry items of a hot entry
    must be compacted away, not kept until their due times (memory growing with hits)."""
    clock = FakeClock(T0)
    cache = SemCache(clock=clock)
    backend = cache._backend
    cache.set("hot", "v", ttl=3600)
    for _ in range(5_000):
        clock.advance(0.001)
        assert cache.touch("hot", ttl=3600)
    assert len(backend._expiry) <= 2 * 1 + 1024 + 1  # type: ignore[attr-defined]
    clock.advance(3599)
    assert cache.get("hot") == "v"  # the newest expiry still rules
    clock.advance(2)
    assert cache.get("hot") is None


@pytest.mark.parametrize("ttl", [1e10 + 1, 1e300])
def test_a_ttl_past_the_longest_is_refused_by_set_and_touch_and_changes_nothing(
    ttl: float,
) -> None:
    clock = FakeClock(T0)
    cache = SemCache(clock=clock)
    cache.set("k", "v", vector=[1.0, 0.0], ttl=60)
    with pytest.raises(InvalidArgumentError, match="at most 1e\\+10 seconds"):
        cache.touch("k", ttl=ttl)
    with pytest.raises(InvalidArgumentError, match="at most"):
        cache.set("k", "other", ttl=ttl)
    entry = cache.get_entry("k")
    assert entry is not None and entry.value == "v" and entry.expires_at == T0 + 60
    cache.set("long", "v", ttl=1e10)  # the longest taken
    assert cache.touch("long", ttl=1e10)
