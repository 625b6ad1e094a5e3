"""Entries a load leaves cold (``backends/entries.py``) behave exactly like written ones.

A load keeps the snapshot's entries as columns until a call reaches them. The state machine
runs every call on two caches at once: one only ever written, and one that reloads its own
snapshot now and then (so it holds cold entries, some thawed, some not). Every answer,
the LRU victims, expiry and the counters must agree. The tests after it pin the cases one
by one: each way an entry leaves the cold columns, LRU order across thawing, the durable
mode's checkpoint, and a damaged vector block read in the background.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
from fakeclock import FakeClock
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from semcache_core import SemCache
from semcache_core.backends.entries import ColdEntries
from semcache_core.errors import SnapshotError
from semcache_core.persist.container import open_container
from semcache_core.persist.snapshot import read_snapshot

T0 = 1_000_000.0
DIM = 8
MAX_ENTRIES = 7
KEYS = st.sampled_from([f"k{i}" for i in range(10)])
NAMESPACES = st.sampled_from(["", "", "b"])
TTLS = st.sampled_from([None, None, 1.0, 4.0])


def _vector(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)


def _answers(hits: list[Any]) -> list[tuple[str, Any, dict[str, Any], str]]:
    return [(hit.key, hit.value, hit.metadata, hit.namespace) for hit in hits]


class RestoredCacheAnswersLikeAWrittenOne(RuleBasedStateMachine):
    """``written`` only takes calls; ``restored`` takes the same calls and reloads itself."""

    @initialize()
    def start(self) -> None:
        self.clock = FakeClock(T0)
        self.snapshot = Path(tempfile.mkdtemp()) / "cache.semcache"
        options: dict[str, Any] = {"index": "flat", "max_entries": MAX_ENTRIES}
        self.written = SemCache(clock=self.clock, **options)
        self.restored = SemCache(clock=self.clock, **options)
        self.writes = 0  # every write gets a vector of its own: no exact ties in scores
        self.reloads = 0

    def _both(self, call: str, *args: Any, **kwargs: Any) -> Any:
        expected = getattr(self.written, call)(*args, **kwargs)
        got = getattr(self.restored, call)(*args, **kwargs)
        return expected, got

    def _same(self, call: str, *args: Any, **kwargs: Any) -> Any:
        expected, got = self._both(call, *args, **kwargs)
        assert got == expected, (call, args, kwargs)
        return got

    @rule(
        key=KEYS,
        namespace=NAMESPACES,
        group=st.integers(0, 2),
        ttl=TTLS,
        with_vector=st.booleans(),
        mutable=st.booleans(),
    )
    def set(
        self,
        key: str,
        namespace: str,
        group: int,
        ttl: float | None,
        with_vector: bool,
        mutable: bool,
    ) -> None:
        self.writes += 1
        value = {"n": self.writes} if mutable else self.writes
        vector = _vector(self.writes) if with_vector else None
        metadata = {"g": group}
        self._same(
            "set", key, value, vector=vector, metadata=metadata, ttl=ttl, namespace=namespace
        )

    @rule(keys=st.lists(KEYS, min_size=1, max_size=4, unique=True), namespace=NAMESPACES)
    def set_many(self, keys: list[str], namespace: str) -> None:
        first = self.writes + 1
        self.writes += len(keys)
        vectors = np.stack([_vector(first + i) for i in range(len(keys))])
        items = {key: f"v{first + i}" for i, key in enumerate(keys)}
        self._same("set_many", items, vectors=vectors, namespace=namespace)

    @rule(key=KEYS, namespace=NAMESPACES)
    def get(self, key: str, namespace: str) -> None:
        self._same("get", key, namespace=namespace)

    @rule(key=KEYS, namespace=NAMESPACES)
    def exists(self, key: str, namespace: str) -> None:
        self._same("exists", key, namespace=namespace)

    @rule(key=KEYS, namespace=NAMESPACES)
    def delete(self, key: str, namespace: str) -> None:
        self._same("delete", key, namespace=namespace)

    @rule(
        seed=st.integers(0, 10**6),
        k=st.integers(1, 8),
        namespace=NAMESPACES,
        group=st.none() | st.integers(0, 2),
    )
    def search(self, seed: int, k: int, namespace: str, group: int | None) -> None:
        filters = None if group is None else {"g": group}
        query = _vector(10**7 + seed)
        expected, got = self._both("search", query, k, namespace=namespace, filters=filters)
        assert _answers(got) == _answers(expected)
        assert [hit.score for hit in got] == pytest.approx(
            [hit.score for hit in expected], abs=1e-5
        )

    @rule(seeds=st.lists(st.integers(0, 10**6), min_size=2, max_size=3))
    def search_batch(self, seeds: list[int]) -> None:
        queries = np.stack([_vector(10**7 + seed) for seed in seeds])
        expected, got = self._both("search_batch", queries, 3)
        assert [_answers(hits) for hits in got] == [_answers(hits) for hits in expected]

    @rule(seconds=st.sampled_from([0.5, 1.0, 3.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def reload(self) -> None:
        self.reloads += 1
        self.restored.dump(self.snapshot)
        self.restored.load(self.snapshot)

    @precondition(lambda self: self.reloads > 0)
    @rule()
    def reload_into_a_fresh_cache(self) -> None:
        """A new cache from the snapshot (statistics start again: compare them apart)."""
        self.restored.dump(self.snapshot)
        fresh = SemCache.from_snapshot(self.snapshot, clock=self.clock)
        assert fresh.namespaces() == self.written.namespaces()
        for namespace in fresh.namespaces():
            assert fresh.scan(namespace=namespace) == self.written.scan(namespace=namespace)
            # every cache reads every key, in the same order
            for key in fresh.scan(namespace=namespace):
                got = fresh.get(key, namespace=namespace)
                assert got == self._same("get", key, namespace=namespace)
        fresh.close()

    @invariant()
    def same_content_and_counters(self) -> None:
        self._same("__len__")
        for namespace in self._same("namespaces"):
            self._same("scan", namespace=namespace)
            self._same("count", namespace)
        for field in ("evictions", "expirations", "hits", "misses", "size"):
            assert getattr(self.restored.stats(), field) == getattr(self.written.stats(), field)

    def teardown(self) -> None:
        self.written.close()
        self.restored.close()
        shutil.rmtree(self.snapshot.parent, ignore_errors=True)


RestoredCacheAnswersLikeAWrittenOne.TestCase.settings = settings(
    max_examples=80, stateful_step_count=40, deadline=None
)
test_restored_cache_answers_like_a_written_one = RestoredCacheAnswersLikeAWrittenOne.TestCase


# --- one case at a time ------------------------------------------------------------------


def _loaded(tmp_path: Path, entries: int = 6, **options: Any) -> tuple[SemCache, FakeClock]:
    """A cache loaded from a snapshot of ``k0..`` (written in that order, so k0 is LRU)."""
    clock = FakeClock(T0)
    source = SemCache(clock=clock, index="flat")
    for i in range(entries):
        source.set(f"k{i}", {"i": i}, vector=_vector(i), metadata={"g": i % 2}, ttl=10.0 + i)
    source.dump(tmp_path / "s.semcache")
    source.close()
    cache = SemCache(clock=clock, index="flat", **options)
    cache.load(tmp_path / "s.semcache")
    return cache, clock


def test_every_call_reaches_cold_entries(tmp_path: Path) -> None:
    cache, _ = _loaded(tmp_path)
    assert len(cache) == 6 and cache.scan("k") == [f"k{i}" for i in range(6)]
    assert cache.search(_vector(3), 1)[0].key == "k3"  # a hit thaws it
    assert cache.get("k1") == {"i": 1}
    assert cache.exists("k2")
    assert cache.delete("k4") and not cache.exists("k4") and len(cache) == 5
    assert "k4" not in {hit.key for hit in cache.search(_vector(4), 10)}
    cache.set("k5", "new", vector=_vector(50))  # replaces a cold entry and its vector
    assert cache.get("k5") == "new"
    assert cache.search(_vector(5), 1)[0].key != "k5"
    assert {hit.key for hit in cache.search(_vector(0), 10, filters={"g": 0})} == {"k0", "k2"}


def test_lru_order_holds_across_thawing(tmp_path: Path) -> None:
    cache, _ = _loaded(tmp_path, max_entries=6)
    assert cache.exists("k0")  # thawed, but not read: still the least recently used
    cache.get("k1")  # read: now the most recently used
    cache.set("n1", 1)
    cache.set("n2", 2)
    cache.set("n3", 3)
    assert cache.scan() == ["k1", "k4", "k5", "n1", "n2", "n3"]
    assert cache.stats().evictions == 3


def test_cold_entries_expire_on_time(tmp_path: Path) -> None:
    cache, clock = _loaded(tmp_path)
    clock.advance(12.5)  # past k0..k2's expiry (10, 11, 12 s)
    assert cache.get("k1") is None
    assert len(cache) == 3
    assert cache.stats().expirations == 3
    assert {hit.key for hit in cache.search(_vector(0), 10)} == {"k3", "k4", "k5"}


def test_a_dump_after_partial_thawing_keeps_lru_order(tmp_path: Path) -> None:
    cache, clock = _loaded(tmp_path)
    cache.get("k2")
    cache.exists("k0")
    cache.dump(tmp_path / "again.semcache")
    bounded = SemCache(clock=clock, index="flat", max_entries=6)
    bounded.load(tmp_path / "again.semcache")
    for i in range(5):
        bounded.set(f"n{i}", i)
    assert bounded.scan("k") == ["k2"]  # k0, k1, k3, k4, k5 went first, k2 was read last


def test_durable_reopen_serves_cold_entries_and_journals_changes(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    with SemCache(path=tmp_path / "d", clock=clock, index="flat") as cache:
        for i in range(20):
            cache.set(f"k{i}", i, vector=_vector(i), ttl=None if i % 2 else 100.0)
    with SemCache(path=tmp_path / "d", clock=clock, index="flat") as cache:
        assert cache.get("k3") == 3
        cache.delete("k4")
        cache.set("k5", "five", vector=_vector(55))
        clock.advance(150.0)  # the even keys expire
        assert len(cache) == 10  # the odd keys
    with SemCache(path=tmp_path / "d", clock=clock, index="flat") as cache:
        assert sorted(cache.scan()) == sorted(f"k{i}" for i in range(1, 20, 2))
        assert cache.get("k5") == "five"
        assert cache.search(_vector(55), 1)[0].key == "k5"


def _flip_a_vector_byte(path: Path) -> None:
    with open_container(path) as container:
        at = container.sections["vectors"].offset + 5
    data = bytearray(path.read_bytes())
    data[at] ^= 0x40
    path.write_bytes(bytes(data))


def test_a_damaged_vector_block_read_in_the_background_changes_nothing(tmp_path: Path) -> None:
    cache, _ = _loaded(tmp_path)
    _flip_a_vector_byte(tmp_path / "s.semcache")
    before = sorted(cache.scan())
    with pytest.raises(SnapshotError, match="'vectors' fails its checksum"):
        cache.load(tmp_path / "s.semcache")
    with pytest.raises(SnapshotError, match="'vectors' fails its checksum"):
        SemCache.from_snapshot(tmp_path / "s.semcache")
    assert sorted(cache.scan()) == before and cache.get("k1") == {"i": 1}
    state, _ = read_snapshot(tmp_path / "s.semcache", wait=False)
    with pytest.raises(SnapshotError, match="fails its checksum"):
        state.wait_for_vectors()
    with pytest.raises(SnapshotError, match="fails its checksum"):
        read_snapshot(tmp_path / "s.semcache")


def test_a_thawed_row_leaves_its_value_to_the_entry() -> None:
    """Once thawed, an entry alone holds its value: replacing or deleting it frees it, even
    while other rows stay cold."""
    values = [msgpack.packb(f"value number {i}") for i in range(3)]
    value = values[1]
    cold, _ = ColdEntries.from_columns(
        ["a", "b", "c"], values, [b"\x80"] * 3, [""] * 3, [None] * 3, [None] * 3, now=0.0
    )
    held = sys.getrefcount(value)
    assert cold.thaw("a:", "b") is None  # "b" of namespace "" only
    entry = cold.thaw("", "b")
    assert entry is not None and entry.value is value and entry.plain == "value number 1"
    del entry
    assert sys.getrefcount(value) == held - 1
    assert len(cold) == 2 and cold.thaw("", "b") is None
    assert cold.count_in("") == 2 and sorted(cold.keys_in("")) == ["a", "c"]
