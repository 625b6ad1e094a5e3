"""TTL (with an injected fake clock, never sleeping) and LRU eviction (``max_entries``)."""

from __future__ import annotations

import numpy as np
import pytest
from fakeclock import FakeClock

from semcache_core import SemCache

T0 = 1_000_000.0  # with dyadic steps below, clock sums are exact
DIM = 8


def vec(i: int, dim: int = DIM) -> np.ndarray:
    """A distinct direction per ``i``, all close to the first axis (so all are near each
    other and to ``near_query``)."""
    rng = np.random.default_rng(i)
    v = np.zeros(dim, dtype=np.float32)
    v[0] = 10.0
    v[1:] = rng.standard_normal(dim - 1)
    return v


def near_query(dim: int = DIM) -> np.ndarray:
    q = np.zeros(dim, dtype=np.float32)
    q[0] = 1.0
    return q


def index_labels(cache: SemCache, namespace: str = "") -> set[int]:
    index = cache.backend.index_for(namespace)
    return set() if index is None else set(index.flat.labels.tolist())


def live_vector_labels(cache: SemCache) -> set[int]:
    return {label for _, _, label in cache.backend.live_labels()}


def assert_index_consistent(cache: SemCache, namespaces=("",)) -> None:
    """Every namespace index holds exactly the labels of the live entries with vectors."""
    cache.purge_expired()
    by_ns: dict[str, set[int]] = {ns: set() for ns in namespaces}
    for namespace, key, label in cache.backend.live_labels():
        entry = cache.get_entry(key, namespace=namespace)
        assert entry is not None, key
        by_ns.setdefault(entry.namespace, set()).add(label)
    for ns, labels in by_ns.items():
        index = cache.backend.index_for(ns)
        if index is None:
            assert not labels
            continue
        assert index_labels(cache, ns) == labels, ns
        assert len(index) == len(labels)


# --- TTL ---------------------------------------------------------------------------------


def test_default_ttl_expires_exactly_at_deadline():
    clock = FakeClock()
    cache = SemCache(ttl=10, clock=clock)
    cache.set("a", "A")
    entry = cache.get_entry("a")
    assert entry is not None and entry.expires_at == pytest.approx(T0 + 10)
    clock.advance(9.75)
    assert cache.get("a") == "A"
    clock.advance(0.25)  # expires_at <= now: gone
    assert cache.get("a") is None
    assert cache.get("a", "dflt") == "dflt"
    assert cache.stats().expirations == 1


def test_no_ttl_never_expires():
    clock = FakeClock()
    cache = SemCache(clock=clock)
    cache.set("a", 1, vector=vec(1))
    clock.advance(10**9)
    assert cache.get("a") == 1
    assert cache.get_entry("a").expires_at is None
    assert cache.stats().expirations == 0


def test_per_entry_ttl_overrides_default_both_ways():
    clock = FakeClock()
    cache = SemCache(ttl=10, clock=clock)
    cache.set("default", 0)
    cache.set("long", 1, ttl=100)
    cache.set("short", 2, ttl=0.5)
    assert cache.get_entry("long").expires_at == pytest.approx(T0 + 100)
    assert cache.get_entry("short").expires_at == pytest.approx(T0 + 0.5)
    clock.advance(0.5)
    assert cache.get("short") is None
    assert cache.get("default") == 0
    clock.advance(9.5)
    assert cache.get("default") is None
    assert cache.get("long") == 1
    clock.advance(89.75)
    assert cache.get("long") == 1
    clock.advance(0.25)
    assert cache.get("long") is None
    assert cache.stats().expirations == 3


def _expiring_cache():
    """3 live + 4 expiring entries (vectors near one another) in ``""`` and ``"ns"``."""
    clock = FakeClock()
    cache = SemCache(clock=clock, index="flat")
    for i in range(3):
        cache.set(f"live{i}", f"L{i}", vector=vec(i), metadata={"t": "x"})
    for i in range(3):
        cache.set(f"dead{i}", f"D{i}", vector=vec(100 + i), metadata={"t": "x"}, ttl=5)
    cache.set("deadns", "DN", vector=vec(200), ttl=5, namespace="ns")
    cache.set("livens", "LN", vector=vec(201), namespace="ns")
    assert cache.backend.vector_count("") == 6
    clock.advance(5)
    return cache, clock


DEAD = ["dead0", "dead1", "dead2", "deadns"]
LIVE = ["live0", "live1", "live2", "livens"]


def ns_of(key: str) -> str:
    """The namespace ``_expiring_cache`` put ``key`` in."""
    return "ns" if key.endswith("ns") else ""


def _check_get(cache):
    assert cache.get("dead0") is None
    return ["dead0"]


def _check_exists(cache):
    assert not cache.exists("dead0")
    return ["dead0"]


def _check_in(cache):
    assert "dead0" not in cache
    return ["dead0"]


def _check_get_entry(cache):
    assert cache.get_entry("dead0") is None
    return ["dead0"]


def _check_len(cache):
    assert len(cache) == 4
    return DEAD


def _check_scan(cache):
    assert cache.scan() == ["live0", "live1", "live2"]
    assert cache.scan(namespace="ns") == ["livens"]
    assert cache.scan("dead") == [] and cache.scan("dead", namespace="ns") == []
    return DEAD


def _check_search(cache):
    hits = cache.search(near_query(), 10)
    assert sorted(h.key for h in hits) == ["live0", "live1", "live2"]
    return DEAD


def _check_search_filtered(cache):
    hits = cache.search(near_query(), 10, filters={"t": "x"})
    assert sorted(h.key for h in hits) == ["live0", "live1", "live2"]
    return DEAD


def _check_search_batch(cache):
    for hits in cache.search_batch([near_query(), vec(100), vec(101)], 10):
        assert sorted(h.key for h in hits) == ["live0", "live1", "live2"]
    return DEAD


def _check_get_similar(cache):
    # the exact vector of an expired entry: only a live one may answer
    assert cache.get_similar(vec(100), threshold=0.999) is None
    assert cache.get_similar(vec(200), threshold=0.999, namespace="ns") is None
    return DEAD


def _check_get_or_compute(cache):
    calls = []
    value = cache.get_or_compute("dead0", lambda key: calls.append(key) or "fresh")
    assert value == "fresh" and calls == ["dead0"]
    assert cache.get("dead0") == "fresh"
    # storing the result reads its namespace's dimension, which reclaims every expired
    # entry first (an expired namespace fixes no dimension)
    return DEAD


def _check_delete(cache):
    assert cache.delete("dead0") is False  # expired: nothing live was removed
    return ["dead0"]


def _check_purge(cache):
    assert cache.purge_expired() == 4
    return DEAD


@pytest.mark.parametrize(
    "check",
    [
        _check_get,
        _check_exists,
        _check_in,
        _check_get_entry,
        _check_len,
        _check_scan,
        _check_search,
        _check_search_filtered,
        _check_search_batch,
        _check_get_similar,
        _check_get_or_compute,
        _check_delete,
        _check_purge,
    ],
    ids=lambda f: f.__name__.removeprefix("_check_"),
)
def test_expired_entries_are_never_returned_and_leave_the_index(check):
    cache, _ = _expiring_cache()
    label_of = {key: label for _, key, label in cache.backend.live_labels()}
    dead_labels = {label_of[key] for key in DEAD}
    before = index_labels(cache, "") | index_labels(cache, "ns")
    reclaimed = check(cache)

    assert cache.backend.counters().expirations == len(reclaimed)  # stats() would purge
    now = index_labels(cache, "") | index_labels(cache, "ns")
    assert now == before - {label_of[key] for key in reclaimed}
    recomputed = check is _check_get_or_compute  # stored again, without a vector
    live_now = {label for _, _, label in cache.backend.live_labels()}
    for key in reclaimed:
        assert cache.exists(key, namespace=ns_of(key)) == (recomputed and key == "dead0")
        assert label_of[key] not in live_now
    assert cache.stats().computes == int(recomputed)

    # whatever the first reader reclaimed, nothing expired is visible afterwards either
    for key in DEAD:
        if not (recomputed and key == "dead0"):
            assert cache.get(key, namespace=ns_of(key)) is None
            assert not cache.exists(key, namespace=ns_of(key))
    assert cache.stats().expirations == 4
    assert not dead_labels & (index_labels(cache, "") | index_labels(cache, "ns"))
    assert cache.backend.vector_count("") == 3
    assert cache.backend.vector_count("ns") == 1
    for key in LIVE:
        assert cache.exists(key, namespace=ns_of(key))
    assert "livens" not in cache  # ``in`` looks in "" only
    assert_index_consistent(cache, ("", "ns"))


def test_expirations_counted_once_each():
    clock = FakeClock()
    cache = SemCache(ttl=1, clock=clock)
    for i in range(50):
        cache.set(f"k{i}", i, vector=vec(i) if i % 2 else None)
    clock.advance(1)
    assert cache.get("k0") is None  # one by a read
    assert len(cache) == 0  # the rest by a purge
    assert cache.purge_expired() == 0
    assert len(cache) == 0
    assert cache.stats().expirations == 50
    assert cache.backend.vector_count("") == 0
    assert cache.backend.live_labels() == []


def test_resetting_a_key_refreshes_its_expiry():
    clock = FakeClock()
    cache = SemCache(ttl=10, clock=clock, index="flat")
    cache.set("a", 1, vector=vec(1))
    clock.advance(8)
    cache.set("a", 2, vector=vec(2))  # now expires at T0 + 18
    assert cache.backend.vector_count("") == 1
    clock.advance(2)  # T0 + 10: the first write's deadline must not expire the second
    assert cache.get("a") == 2
    assert len(cache) == 1
    assert cache.purge_expired() == 0
    hits = cache.search(vec(2), 1)
    assert [h.key for h in hits] == ["a"] and hits[0].value == 2
    clock.advance(7.75)
    assert cache.get("a") == 2
    clock.advance(0.25)
    assert cache.get("a") is None
    assert cache.backend.vector_count("") == 0
    assert cache.stats().expirations == 1


def test_resetting_without_ttl_removes_the_deadline():
    clock = FakeClock()
    cache = SemCache(clock=clock)
    cache.set("a", 1, ttl=5)
    cache.set("a", 2)
    clock.advance(100)
    assert cache.get("a") == 2
    assert cache.stats().expirations == 0


def test_filtered_search_with_many_expired_neighbours_returns_k_live():
    clock = FakeClock()
    cache = SemCache(clock=clock, index="flat")
    q = near_query()
    for i in range(300):  # very close to the query, all expiring
        v = q.copy()
        v[1 + i % (DIM - 1)] = 1e-3 * (1 + i)
        cache.set(f"near{i}", i, vector=v, metadata={"t": "x"}, ttl=3)
    for i in range(20):  # farther away, live
        cache.set(f"far{i}", i, vector=vec(1000 + i) - 9.0 * q, metadata={"t": "x"})
    for i in range(20):  # live, but filtered out
        cache.set(f"other{i}", i, vector=q, metadata={"t": "y"})
    clock.advance(3)
    for hits in (
        cache.search(q, 5, filters={"t": "x"}),
        cache.search_batch([q, q], 5, filters={"t": "x"})[1],
    ):
        assert len(hits) == 5
        assert all(h.key.startswith("far") for h in hits)
    unfiltered = cache.search(q, 25)
    assert len(unfiltered) == 25
    assert not any(h.key.startswith("near") for h in unfiltered)
    assert cache.backend.vector_count("") == 40
    assert cache.stats().expirations == 300


def test_get_or_compute_recomputes_after_expiry():
    clock = FakeClock()
    cache = SemCache(clock=clock)
    calls = []

    def fn(key):
        calls.append(key)
        return f"{key}#{len(calls)}"

    assert cache.get_or_compute("k", fn, ttl=5) == "k#1"
    clock.advance(4.75)
    assert cache.get_or_compute("k", fn, ttl=5) == "k#1"
    clock.advance(0.25)
    assert cache.get_or_compute("k", fn, ttl=5) == "k#2"
    assert cache.get_entry("k").expires_at == pytest.approx(clock.now + 5)
    assert calls == ["k", "k"]
    stats = cache.stats()
    assert stats.computes == 2 and stats.expirations == 1


def test_get_or_compute_expired_vector_result_leaves_index():
    clock = FakeClock()
    cache = SemCache(dim=DIM, clock=clock)
    cache.get_or_compute("k", lambda key: vec(5), ttl=5)
    assert cache.backend.vector_count("") == 1
    clock.advance(5)
    assert cache.get_similar(vec(5), threshold=0.9) is None
    assert cache.backend.vector_count("") == 0


# --- LRU ---------------------------------------------------------------------------------


def test_lru_evicts_least_recently_written():
    cache = SemCache(max_entries=3)
    for key in "abcd":
        cache.set(key, key)
    assert cache.scan() == ["b", "c", "d"]
    assert len(cache) == 3
    assert cache.get("a") is None
    assert cache.stats().evictions == 1


def test_get_refreshes_recency():
    cache = SemCache(max_entries=3)
    for key in "abc":
        cache.set(key, key)
    assert cache.get("a") == "a"
    cache.set("d", "d")
    assert cache.scan() == ["a", "c", "d"]  # b was the least recently used
    cache.set("e", "e")
    assert cache.scan() == ["a", "d", "e"]


def test_rewrite_refreshes_recency():
    cache = SemCache(max_entries=3)
    for key in "abc":
        cache.set(key, key)
    cache.set("a", "A")
    cache.set("d", "d")
    assert cache.scan() == ["a", "c", "d"]
    assert cache.get("a") == "A"
    assert cache.stats().evictions == 1


@pytest.mark.parametrize("mode", ["flat", "hnsw"])
def test_search_hits_refresh_recency(mode):
    cache = SemCache(max_entries=3, index=mode)
    for i, key in enumerate("abc"):
        cache.set(key, key, vector=vec(i))
    hits = cache.search(vec(0), 1)
    assert [h.key for h in hits] == ["a"]
    cache.set("d", "d", vector=vec(3))
    assert cache.scan() == ["a", "c", "d"]
    assert cache.get_similar(vec(2), threshold=0.999) == "c"
    cache.set("e", "e", vector=vec(4))
    cache.set("f", "f", vector=vec(5))
    assert cache.scan() == ["c", "e", "f"]


def test_search_batch_hits_refresh_recency():
    cache = SemCache(max_entries=4, index="flat")
    for i, key in enumerate("abcd"):
        cache.set(key, key, vector=vec(i))
    cache.search_batch([vec(0), vec(1)], 1)
    cache.set("e", "e", vector=vec(4))
    cache.set("f", "f", vector=vec(5))
    assert cache.scan() == ["a", "b", "e", "f"]


def test_search_below_threshold_does_not_refresh_recency():
    """A hit the threshold drops is not returned, so it is not a read of that entry: a
    get_similar miss must not keep the nearest (unrelated) entry alive."""
    cache = SemCache(max_entries=3, index="flat")
    axes = np.eye(DIM, dtype=np.float32)
    for i, key in enumerate("abc"):
        cache.set(key, key, vector=axes[i])
    query = axes[0] + 0.5 * axes[3]  # nearest is "a", cosine ~0.89
    assert cache.search(query, 1, threshold=0.99) == []
    assert cache.get_similar(query, threshold=0.99) is None
    cache.set("d", "d", vector=axes[4])
    assert cache.scan() == ["b", "c", "d"]


def test_exists_does_not_refresh_recency():
    cache = SemCache(max_entries=3)
    for key in "abc":
        cache.set(key, key)
    assert cache.exists("a")
    assert "a" in cache
    cache.set("d", "d")
    assert cache.scan() == ["b", "c", "d"]


def test_exists_and_stats_do_not_count_as_lookups():
    cache = SemCache(max_entries=3)
    cache.set("a", 1)
    cache.exists("a")
    cache.exists("zzz")
    assert cache.stats().hits == 0 and cache.stats().misses == 0
    cache.get("a")
    cache.get("zzz")
    assert cache.stats().hits == 1 and cache.stats().misses == 1


@pytest.mark.parametrize("mode", ["flat", "hnsw", "auto"])
def test_eviction_removes_vectors_from_index(mode):
    cache = SemCache(max_entries=10, index=mode, hnsw_threshold=5)
    for i in range(60):
        cache.set(f"k{i}", i, vector=None if i % 3 == 0 else vec(i), namespace=f"n{i % 2}")
    assert cache.namespaces() == ["n0", "n1"] and cache.scan() == []
    for ns in ("n0", "n1"):  # LRU runs across namespaces: the 10 newest stay
        want = sorted(f"k{i}" for i in range(50, 60) if f"n{i % 2}" == ns)
        assert cache.scan(namespace=ns) == want
    assert len(cache) == 10
    stats = cache.stats()
    assert stats.evictions == 50 and stats.size == 10
    live_with_vectors = {(f"n{i % 2}", f"k{i}") for i in range(50, 60) if i % 3}
    assert {(ns, key) for ns, key, _ in cache.backend.live_labels()} == live_with_vectors
    for ns in ("n0", "n1"):
        index = cache.backend.index_for(ns)
        assert index.wait_until_built(timeout=30)
        expected = {i for i in range(50, 60) if i % 3 and f"n{i % 2}" == ns}
        assert len(index) == len(expected)
        if index.hnsw is not None:
            assert len(index.hnsw) == len(expected)
        for i in range(60):
            hits = cache.search(vec(i), 10, namespace=ns)
            assert {h.key for h in hits} == {f"k{j}" for j in expected}
    assert_index_consistent(cache, ("n0", "n1"))


def test_expired_entries_are_purged_before_live_ones_are_evicted():
    clock = FakeClock()
    cache = SemCache(max_entries=3, clock=clock)
    cache.set("old1", 1, ttl=1, vector=vec(1))
    cache.set("keep", 2, vector=vec(2))
    cache.set("old2", 3, ttl=1, vector=vec(3))
    clock.advance(1)
    cache.set("new1", 4, vector=vec(4))
    cache.set("new2", 5, vector=vec(5))
    assert cache.scan() == ["keep", "new1", "new2"]
    stats = cache.stats()
    assert stats.evictions == 0 and stats.expirations == 2
    assert cache.backend.vector_count("") == 3


def test_lru_and_ttl_together_keep_index_consistent():
    clock = FakeClock()
    cache = SemCache(max_entries=25, ttl=7, clock=clock, index="flat")
    rng = np.random.default_rng(11)
    for step in range(400):
        key = f"k{int(rng.integers(0, 60))}"
        action = int(rng.integers(0, 5))
        if action == 0:
            cache.set(key, step, vector=vec(step))
        elif action == 1:
            cache.set(key, step, ttl=float(rng.uniform(0.5, 3)))
        elif action == 2:
            cache.get(key)
        elif action == 3:
            cache.search(vec(step), 3)
        else:
            cache.delete(key)
        clock.advance(float(rng.uniform(0, 0.2)))
        if step % 50 == 0:
            assert len(cache) <= 25
            assert_index_consistent(cache)
    assert len(cache) == len(cache.scan()) <= 25
    assert_index_consistent(cache)


@pytest.mark.parametrize("write", ["get_or_compute", "set", "set_many"])
def test_rewriting_deleted_keys_keeps_the_recency_heap_bounded(write: str) -> None:
    """Every write pushes an LRU heap item, and a deleted or replaced entry's stays there:
    the writes themselves must compact them away (a cache that never fills up evicts
    nothing, and each stale item holds its entry's value)."""
    cache = SemCache(max_entries=100)
    backend = cache._backend
    for i in range(5_000):
        key = f"k{i % 50}"
        if write == "get_or_compute":
            cache.get_or_compute(key, lambda k: k * 3)
        elif write == "set":
            cache.set(key, i)
        else:
            cache.set_many({key: i, f"other{i % 7}": i})
        cache.delete(key)
    heap = len(backend._recency)  # type: ignore[attr-defined]
    assert heap <= 2 * len(cache) + 1024 + 2  # len() purges (and compacts): read it after
