"""Every public call of :class:`semcache_core.SemCache`, sync and async.

Expected answers are computed independently with numpy (brute-force cosine similarity over
the raw vectors), never read back from the cache under test.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from typing import Any

import numpy as np
import pytest

from semcache_core import (
    CacheStats,
    EmbedderError,
    Entry,
    Filter,
    FilterGroup,
    HashingEmbedder,
    Hit,
    HNSWParams,
    InvalidArgumentError,
    InvalidValueError,
    LocalBackend,
    SemCache,
    SemCacheError,
)

MISSING = object()
DIM = 16


# --- helpers ---------------------------------------------------------------------------------


def unit(v: Any) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def cosine(a: Any, b: Any) -> float:
    return float(unit(a) @ unit(b))


def brute_force(
    vectors: dict[str, np.ndarray], query: Any, k: int, keep: Any = None
) -> list[tuple[str, float]]:
    """The k (key, cosine) pairs closest to ``query``, best first, computed with numpy."""
    q = unit(query)
    scored = [(key, float(unit(v) @ q)) for key, v in vectors.items() if keep is None or keep(key)]
    scored.sort(key=lambda pair: -pair[1])
    return scored[:k]


def assert_hits_match(hits: list[Hit], expected: list[tuple[str, float]]) -> None:
    assert [h.key for h in hits] == [key for key, _ in expected]
    for hit, (_, score) in zip(hits, expected):
        assert type(hit.score) is float
        assert hit.score == pytest.approx(score, abs=1e-5)


def hit_summary(hits: list[Hit]) -> list[tuple[str, float, Any, dict, str]]:
    return [(h.key, h.score, h.value, h.metadata, h.namespace) for h in hits]


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


@pytest.fixture
def vector_cache(rng: np.random.Generator) -> tuple[SemCache, dict[str, np.ndarray]]:
    """200 random vectors with metadata, all in the default namespace."""
    cache = SemCache()
    vectors = {}
    for i in range(200):
        v = rng.standard_normal(DIM).astype(np.float32)
        key = f"doc:{i:03d}"
        vectors[key] = v
        cache.set(key, {"i": i}, vector=v, metadata={"i": i, "parity": i % 2})
    return cache, vectors


# --- get / set -------------------------------------------------------------------------------


def test_get_missing_key_returns_default() -> None:
    cache = SemCache()
    assert cache.get("absent") is None
    assert cache.get("absent", 42) == 42
    sentinel = object()
    assert cache.get("absent", sentinel) is sentinel


@pytest.mark.parametrize(
    "value",
    [
        b"\x00\xffraw bytes",
        b"",
        "text with unicode \u00e9\u4e2d",
        "",
        0,
        -7,
        2**62,
        3.25,
        -0.0,
        None,
        True,
        False,
        [1, "a", None, 2.5, [b"x"]],
        [],
        {"a": {"b": [1, 2]}, "c": b"x", "d": None},
        {},
    ],
    ids=repr,
)
def test_set_get_round_trip_keeps_value_and_type(value: Any) -> None:
    cache = SemCache()
    cache.set("k", value)
    got = cache.get("k", MISSING)
    assert got is not MISSING
    assert got == value
    assert type(got) is type(value)
    if isinstance(value, float):
        assert math.copysign(1.0, got) == math.copysign(1.0, value)


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.arange(5, dtype=np.int64) - 2,
        np.array([[True, False], [False, True]]),
        np.array([1 + 2j, 3 - 4j], dtype=np.complex64),
        np.array(7, dtype=np.uint8),
        np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
        np.arange(4, dtype=">f4"),
        np.zeros((0, 3), dtype=np.int16),
        np.arange(24, dtype=np.float16).reshape(2, 3, 4),
    ],
    ids=lambda a: f"{a.dtype.str}{a.shape}",
)
def test_numpy_arrays_round_trip_with_dtype_and_shape(array: np.ndarray) -> None:
    cache = SemCache()
    cache.set("arr", array)
    got = cache.get("arr")
    assert isinstance(got, np.ndarray)
    assert got.dtype == array.dtype
    assert got.shape == array.shape
    np.testing.assert_array_equal(got, array)


def test_numpy_arrays_nested_in_containers_round_trip() -> None:
    cache = SemCache()
    value = {"emb": np.arange(3, dtype=np.float32), "rows": [np.ones((2, 2), dtype=np.int8)]}
    cache.set("k", value)
    got = cache.get("k")
    assert got["emb"].dtype == np.float32
    np.testing.assert_array_equal(got["emb"], value["emb"])
    assert got["rows"][0].dtype == np.int8
    assert got["rows"][0].shape == (2, 2)


def test_tuples_come_back_as_lists() -> None:
    cache = SemCache()
    cache.set("t", (1, "two", (3, 4)))
    assert cache.get("t") == [1, "two", [3, 4]]
    assert type(cache.get("t")) is list
    cache.set("d", {"pair": (1, 2)})
    assert cache.get("d") == {"pair": [1, 2]}


def test_set_replaces_previous_value() -> None:
    cache = SemCache()
    cache.set("k", "first")
    cache.set("k", {"second": 2})
    assert cache.get("k") == {"second": 2}
    assert len(cache) == 1


def test_get_returns_fresh_copies_of_mutable_values() -> None:
    cache = SemCache()
    cache.set("d", {"a": [1, 2], "b": {"c": 3}})
    cache.set("l", [1, [2, 3]])
    cache.set("arr", np.arange(4, dtype=np.float32))

    d = cache.get("d")
    d["a"].append(99)
    d["b"]["c"] = -1
    d["new"] = True
    lst = cache.get("l")
    lst.append(4)
    lst[1][0] = "changed"
    arr = cache.get("arr")
    arr[0] = 123.0

    assert cache.get("d") == {"a": [1, 2], "b": {"c": 3}}
    assert cache.get("l") == [1, [2, 3]]
    np.testing.assert_array_equal(cache.get("arr"), np.arange(4, dtype=np.float32))
    assert cache.get("d") is not cache.get("d")


def test_mutating_the_stored_object_after_set_does_not_change_the_cache() -> None:
    cache = SemCache()
    original = {"a": [1, 2]}
    array = np.arange(3, dtype=np.int32)
    cache.set("d", original)
    cache.set("arr", array)
    original["a"].append(3)
    array[:] = 0
    assert cache.get("d") == {"a": [1, 2]}
    np.testing.assert_array_equal(cache.get("arr"), [0, 1, 2])


def test_other_readers_also_return_fresh_copies() -> None:
    cache = SemCache()
    v = np.array([1.0, 0.0, 0.0])
    cache.set("d", {"a": [1]}, vector=v, metadata={"tags": ["x"]})

    hit = cache.search(v, k=1)[0]
    hit.value["a"].append(2)
    hit.metadata["tags"].append("y")
    entry = cache.get_entry("d")
    assert entry is not None
    assert entry.value == {"a": [1]}
    assert entry.metadata == {"tags": ["x"]}
    entry.value["a"].append(3)
    entry.metadata["tags"].append("z")

    computed = cache.get_or_compute("d", lambda key: pytest.fail("must not recompute"))
    assert computed == {"a": [1]}
    computed["a"].append(4)

    similar = cache.get_similar(v, threshold=0.9)
    assert similar == {"a": [1]}
    similar["a"].append(5)

    assert cache.get("d") == {"a": [1]}
    assert cache.search(v, k=1)[0].metadata == {"tags": ["x"]}


# --- delete / exists / len / scan / clear ----------------------------------------------------


def test_delete_reports_whether_a_live_entry_was_removed() -> None:
    cache = SemCache()
    v = np.array([1.0, 2.0, 3.0])
    cache.set("a", 1, vector=v)
    cache.set("b", 2)
    assert cache.delete("a") is True
    assert cache.delete("a") is False
    assert cache.delete("never") is False
    assert cache.get("a") is None
    assert cache.search(v, k=5) == []
    assert cache.get("b") == 2
    assert len(cache) == 1


def test_exists_and_in() -> None:
    cache = SemCache()
    cache.set("present", None)
    assert cache.exists("present") is True
    assert "present" in cache
    assert cache.exists("absent") is False
    assert "absent" not in cache
    cache.delete("present")
    assert cache.exists("present") is False
    assert "present" not in cache


def test_exists_does_not_count_as_a_lookup() -> None:
    cache = SemCache()
    cache.set("k", 1)
    cache.exists("k")
    cache.exists("nope")
    _ = "k" in cache
    stats = cache.stats()
    assert (stats.hits, stats.misses) == (0, 0)


def test_len_counts_live_entries() -> None:
    cache = SemCache()
    assert len(cache) == 0
    for i in range(5):
        cache.set(f"k{i}", i)
    assert len(cache) == 5
    cache.set("k0", "overwrite")
    assert len(cache) == 5
    cache.delete("k1")
    assert len(cache) == 4


def test_scan_prefix_limit_sorted() -> None:
    cache = SemCache()
    for key in ["user:3", "user:1", "item:9", "user:2", "user:10", "u", "item:1"]:
        cache.set(key, key)
    assert cache.scan() == sorted(
        ["user:3", "user:1", "item:9", "user:2", "user:10", "u", "item:1"]
    )
    assert cache.scan("user:") == ["user:1", "user:10", "user:2", "user:3"]
    assert cache.scan("user:", limit=2) == ["user:1", "user:10"]
    assert cache.scan("user:", limit=0) == []
    assert cache.scan("user:", limit=100) == ["user:1", "user:10", "user:2", "user:3"]
    assert cache.scan("item") == ["item:1", "item:9"]
    assert cache.scan("nothing") == []
    cache.delete("user:10")
    assert cache.scan("user:") == ["user:1", "user:2", "user:3"]


def test_clear_removes_everything_but_keeps_stats() -> None:
    cache = SemCache()
    v = np.array([0.5, 0.5, 0.0, 1.0])
    cache.set("a", 1, vector=v)
    cache.set("b", 2, vector=-v, namespace="other")
    cache.set("c", 3)
    assert cache.get("a") == 1
    assert cache.get("zzz") is None
    cache.clear()
    assert len(cache) == 0 and cache.namespaces() == []
    assert cache.get("a") is None
    assert cache.get_entry("b", namespace="other") is None  # no stats counted
    assert cache.scan() == []
    assert cache.search(v) == []
    assert cache.search(v, namespace="other") == []
    stats = cache.stats()
    assert stats.hits == 1
    assert stats.misses == 2
    assert stats.size == 0
    # the dimension was only fixed by the stored vectors, so a new one may be used now
    cache.set("d", 4, vector=np.ones(6))
    assert [h.key for h in cache.search(np.ones(6))] == ["d"]


# --- put and friends -------------------------------------------------------------------------


def test_put_embeds_with_the_default_hashing_embedder() -> None:
    cache = SemCache()
    cache.put("faq:1", "How do I reset my password?")
    cache.put("faq:2", "What is the weather in Paris today?")
    cache.put("faq:3", "Which payment methods do you accept?")
    assert cache.get("faq:1") == "How do I reset my password?"
    assert cache.get_similar("how do I reset my password", threshold=0.8) == (
        "How do I reset my password?"
    )
    assert cache.get_similar("weather in paris today", threshold=0.6) == (
        "What is the weather in Paris today?"
    )
    assert cache.get_similar("a totally unrelated sentence about bananas", threshold=0.8) is None

    embedder = HashingEmbedder()
    reference = embedder.embed_document("Which payment methods do you accept?")
    hits = cache.search(reference, k=1, with_vectors=True)
    assert hits[0].key == "faq:3"
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(hits[0].vector, reference, atol=1e-6)


def test_put_accepts_metadata_ttl_and_namespace() -> None:
    clock = FakeClock()
    cache = SemCache(clock=clock)
    cache.put("k", "some text here", 30, {"lang": "en"}, namespace="docs")
    entry = cache.get_entry("k", namespace="docs")
    assert entry == Entry("k", "some text here", {"lang": "en"}, "docs", clock.now + 30)
    assert cache.get_entry("k") is None  # only in "docs"
    assert cache.search("some text here") == []
    hits = cache.search("some text here", namespace="docs", filters={"lang": "en"})
    assert [h.key for h in hits] == ["k"]
    clock.now += 30
    assert cache.get("k", namespace="docs") is None


def test_put_json_get_json() -> None:
    cache = SemCache()
    obj = {"answer": 42, "items": [1, 2.5, "x", None, True], "nested": {"t": (1, 2)}}
    cache.put_json("j", obj)
    assert cache.get_json("j") == {
        "answer": 42,
        "items": [1, 2.5, "x", None, True],
        "nested": {"t": [1, 2]},
    }
    assert cache.get("j") == json.dumps(obj)
    assert cache.get_json("missing") is None
    assert cache.get_json("missing", {"d": 1}) == {"d": 1}
    cache.put_json("list", [1, 2, 3])
    assert cache.get_json("list") == [1, 2, 3]
    cache.put_json("null", None)
    assert cache.get_json("null", "default") is None


def test_put_json_stores_nothing_embedded_and_accepts_ttl_and_metadata() -> None:
    clock = FakeClock()
    cache = SemCache(clock=clock)
    cache.put_json("j", {"a": 1}, 5, {"src": "test"})
    entry = cache.get_entry("j")
    assert entry is not None
    assert entry.metadata == {"src": "test"}
    assert entry.expires_at == clock.now + 5
    assert cache.search(HashingEmbedder().embed_query('{"a": 1}')) == []


def test_get_json_type_errors() -> None:
    cache = SemCache()
    cache.set("int", 5)
    cache.set("bytes", b"{}")
    cache.set("text", "not json {")
    with pytest.raises(InvalidValueError, match="int") as info:
        cache.get_json("int")
    assert isinstance(info.value, TypeError)
    with pytest.raises(InvalidValueError, match="bytes"):
        cache.get_json("bytes")
    with pytest.raises(InvalidValueError, match="JSON"):
        cache.get_json("text")


def test_put_json_rejects_unserialisable_objects() -> None:
    cache = SemCache()
    with pytest.raises(InvalidValueError, match="JSON"):
        cache.put_json("j", {1, 2})
    with pytest.raises(InvalidValueError, match="JSON"):
        cache.put_json("j", {"x": float("nan")})
    assert "j" not in cache


def test_put_string_get_string() -> None:
    cache = SemCache()
    cache.put_string("s", "plain text")
    cache.put_string("empty", "")
    assert cache.get_string("s") == "plain text"
    assert cache.get_string("empty", "default") == ""
    assert cache.get_string("missing") is None
    assert cache.get_string("missing", "fallback") == "fallback"
    assert cache.get("s") == "plain text"
    # not embedded: nothing to find by meaning
    assert cache.search("plain text") == []


def test_put_string_and_get_string_type_errors() -> None:
    cache = SemCache()
    cache.set("int", 5)
    cache.set("bytes", b"raw")
    cache.set("list", ["a"])
    for key, type_name in [("int", "int"), ("bytes", "bytes"), ("list", "list")]:
        with pytest.raises(InvalidValueError, match=type_name) as info:
            cache.get_string(key)
        assert isinstance(info.value, TypeError)
    with pytest.raises(InvalidValueError, match="int") as info:
        cache.put_string("s", 5)  # type: ignore[arg-type]
    assert isinstance(info.value, TypeError)
    assert "s" not in cache


def test_put_string_accepts_ttl_and_metadata() -> None:
    clock = FakeClock()
    cache = SemCache(clock=clock)
    cache.put_string("s", "text", 10, {"m": 1})
    assert cache.get_entry("s") == Entry("s", "text", {"m": 1}, "", clock.now + 10)


# --- get_entry -------------------------------------------------------------------------------


def test_get_entry_fields_and_no_stats() -> None:
    clock = FakeClock()
    cache = SemCache(clock=clock, ttl=100)
    cache.set("a", [1, 2], metadata={"x": 1}, namespace="ns", vector=[1.0, 0.0])
    cache.set("b", "forever", ttl=None)
    assert cache.get_entry("a") is None  # "a" lives in "ns" only
    entry = cache.get_entry("a", namespace="ns")
    assert isinstance(entry, Entry)
    assert entry.key == "a"
    assert entry.value == [1, 2]
    assert entry.metadata == {"x": 1}
    assert entry.namespace == "ns"
    assert entry.expires_at == clock.now + 100
    b = cache.get_entry("b")
    assert b is not None
    assert b.metadata == {}
    assert b.namespace == ""
    assert b.expires_at == clock.now + 100  # the cache default applies when ttl is None
    assert cache.get_entry("missing") is None
    stats = cache.stats()
    assert (stats.hits, stats.misses) == (0, 0)


# --- get_similar -----------------------------------------------------------------------------


def test_get_similar_threshold_semantics() -> None:
    cache = SemCache()
    stored = np.array([1.0, 0.0, 0.0, 0.0])
    cache.set("a", "value-a", vector=stored)
    # a query with cosine exactly 0.8 to the stored vector
    query = np.array([0.8, 0.6, 0.0, 0.0])
    assert cosine(query, stored) == pytest.approx(0.8)
    assert cache.get_similar(query, threshold=0.79) == "value-a"
    assert cache.get_similar(query, threshold=0.81) is None
    assert cache.get_similar(query) is None  # default threshold 0.95
    assert cache.get_similar(stored) == "value-a"
    assert cache.get_similar(-stored, threshold=-1.0) == "value-a"
    assert cache.get_similar(-stored, threshold=-0.9) is None


def test_get_similar_returns_the_most_similar_value() -> None:
    cache = SemCache()
    cache.set("x", "X", vector=[1.0, 0.0, 0.0])
    cache.set("xy", "XY", vector=[1.0, 1.0, 0.0])
    cache.set("y", "Y", vector=[0.0, 1.0, 0.0])
    assert cache.get_similar([1.0, 0.2, 0.0], threshold=0.5) == "X"
    assert cache.get_similar([0.9, 1.0, 0.0], threshold=0.5) == "XY"
    assert cache.get_similar([0.0, 1.0, 0.1], threshold=0.5) == "Y"
    assert cache.get_similar([0.0, 0.0, 1.0], threshold=0.5) is None


def test_get_similar_on_empty_cache_and_with_namespace_and_filters() -> None:
    cache = SemCache()
    assert cache.get_similar([1.0, 0.0], threshold=-1.0) is None
    cache.set("a", "A", vector=[1.0, 0.0], metadata={"lang": "en"})
    cache.set("b", "B", vector=[1.0, 0.1], metadata={"lang": "fr"})
    cache.set("c", "C", vector=[1.0, 0.0], namespace="other")
    assert cache.get_similar([1.0, 0.1], threshold=0.5) == "B"
    assert cache.get_similar([1.0, 0.1], threshold=0.5, filters={"lang": "en"}) == "A"
    assert cache.get_similar([1.0, 0.1], threshold=0.5, namespace="other") == "C"
    assert cache.get_similar([1.0, 0.1], threshold=0.5, namespace="none") is None


# --- search ----------------------------------------------------------------------------------


def test_search_matches_brute_force(vector_cache, rng: np.random.Generator) -> None:
    cache, vectors = vector_cache
    for _ in range(5):
        query = rng.standard_normal(DIM)
        for k in (1, 5, 17):
            hits = cache.search(query, k=k)
            assert len(hits) == k
            assert_hits_match(hits, brute_force(vectors, query, k))
            scores = [h.score for h in hits]
            assert scores == sorted(scores, reverse=True)


def test_search_default_k_is_10_and_k_larger_than_size(vector_cache, rng) -> None:
    cache, vectors = vector_cache
    query = rng.standard_normal(DIM)
    assert len(cache.search(query)) == 10
    hits = cache.search(query, k=1000)
    assert len(hits) == len(vectors)
    assert_hits_match(hits, brute_force(vectors, query, 1000))


def test_search_threshold_drops_hits_below_it(vector_cache, rng) -> None:
    cache, vectors = vector_cache
    query = rng.standard_normal(DIM)
    expected = brute_force(vectors, query, len(vectors))
    # a threshold halfway between the 7th and 8th best scores
    threshold = (expected[6][1] + expected[7][1]) / 2
    hits = cache.search(query, k=50, threshold=threshold)
    assert_hits_match(hits, expected[:7])
    assert all(h.score >= threshold for h in hits)
    # k still bounds the answer
    assert_hits_match(cache.search(query, k=3, threshold=threshold), expected[:3])
    # threshold above every score: nothing
    assert cache.search(query, k=50, threshold=min(1.0, expected[0][1] + 0.01)) == []
    # threshold -1 keeps everything
    assert len(cache.search(query, k=50, threshold=-1.0)) == 50
    # the boundary is inclusive: a hit whose score equals the threshold is kept
    best = cache.search(query, k=1)[0]
    assert [h.key for h in cache.search(query, k=5, threshold=best.score)] == [best.key]
    assert cache.get_similar(query, threshold=best.score) == best.value


def test_search_hit_fields() -> None:
    cache = SemCache()
    cache.set("a", {"v": 1}, vector=[3.0, 4.0, 0.0], metadata={"lang": "en", "n": 2})
    cache.set("b", [1, 2], vector=[0.0, 0.0, 1.0], namespace="")
    hits = cache.search([3.0, 4.0, 0.0], k=2)
    assert len(hits) == 2
    first, second = hits
    assert isinstance(first, Hit)
    assert first.key == "a"
    assert first.value == {"v": 1}
    assert first.score == pytest.approx(1.0, abs=1e-6)
    assert first.metadata == {"lang": "en", "n": 2}
    assert first.namespace == ""
    assert first.vector is None
    assert second.key == "b"
    assert second.value == [1, 2]
    assert second.score == pytest.approx(0.0, abs=1e-6)
    assert second.metadata == {}


def test_search_scores_stay_within_minus_one_and_one(rng: np.random.Generator) -> None:
    """Hit.score is documented as a cosine similarity in [-1, 1], also for exact matches."""
    cache = SemCache()
    vectors = rng.standard_normal((300, 64)).astype(np.float32)
    for i, v in enumerate(vectors):
        cache.set(f"k{i}", i, vector=v)
    for i, v in enumerate(vectors):
        for hit in cache.search(v, k=1) + cache.search(-v, k=300)[-1:]:
            assert -1.0 <= hit.score <= 1.0, (i, hit.key, hit.score)


def test_search_with_vectors_returns_unit_vectors(vector_cache, rng) -> None:
    cache, vectors = vector_cache
    query = rng.standard_normal(DIM)
    hits = cache.search(query, k=8, with_vectors=True)
    assert len(hits) == 8
    for hit in hits:
        assert isinstance(hit.vector, np.ndarray)
        assert hit.vector.dtype == np.float32
        assert hit.vector.shape == (DIM,)
        assert float(np.linalg.norm(hit.vector)) == pytest.approx(1.0, abs=1e-5)
        np.testing.assert_allclose(hit.vector, unit(vectors[hit.key]), atol=1e-6)
        assert float(hit.vector @ unit(query)) == pytest.approx(hit.score, abs=1e-5)
    assert_hits_match(hits, brute_force(vectors, query, 8))


def test_search_accepts_lists_tuples_and_arrays_of_any_scale() -> None:
    cache = SemCache()
    cache.set("a", 1, vector=(1, 2, 3))
    cache.set("b", 2, vector=np.array([-1, 0, 0], dtype=np.int32))
    for query in ([10, 20, 30], (0.1, 0.2, 0.3), np.array([1e-3, 2e-3, 3e-3], np.float64)):
        hits = cache.search(query, k=2)
        assert [h.key for h in hits] == ["a", "b"]
        assert hits[0].score == pytest.approx(1.0, abs=1e-6)
        assert hits[1].score == pytest.approx(cosine([1, 2, 3], [-1, 0, 0]), abs=1e-6)


def test_search_on_empty_cache_returns_nothing() -> None:
    cache = SemCache()
    assert cache.search([1.0, 2.0]) == []
    assert cache.search("text") == []


def test_large_unfiltered_search_is_exact() -> None:
    """5000 vectors: beyond the size where the flat index uses its int8 first pass."""
    rng = np.random.default_rng(7)
    cache = SemCache()
    matrix = rng.standard_normal((5000, 32)).astype(np.float32)
    vectors = {f"k{i}": v for i, v in enumerate(matrix)}
    for key, v in vectors.items():
        cache.set(key, key, vector=v)
    for _ in range(10):
        query = rng.standard_normal(32)
        assert_hits_match(cache.search(query, k=10), brute_force(vectors, query, 10))
    # a stored vector finds itself first
    assert cache.search(matrix[1234], k=1)[0].key == "k1234"


# --- search_batch ----------------------------------------------------------------------------


def test_search_batch_equals_individual_searches(vector_cache, rng) -> None:
    cache, _ = vector_cache
    queries = rng.standard_normal((6, DIM))
    as_matrix = cache.search_batch(queries, k=7)
    as_list = cache.search_batch([list(q) for q in queries], k=7)
    singles = [cache.search(q, k=7) for q in queries]
    assert len(as_matrix) == len(as_list) == 6
    for batch_hits, list_hits, single_hits in zip(as_matrix, as_list, singles):
        assert [h.key for h in batch_hits] == [h.key for h in single_hits]
        assert [h.key for h in list_hits] == [h.key for h in single_hits]
        for a, b in zip(batch_hits, single_hits):
            assert type(a.score) is float
            assert a.score == pytest.approx(b.score, abs=1e-5)
            assert (a.value, a.metadata, a.namespace) == (b.value, b.metadata, b.namespace)


def test_search_batch_with_options_equals_individual_searches(vector_cache, rng) -> None:
    cache, _ = vector_cache
    queries = rng.standard_normal((4, DIM))
    options: dict[str, Any] = {"threshold": 0.1, "filters": {"parity": 1}, "with_vectors": True}
    batch = cache.search_batch(queries, k=5, **options)
    for q, hits in zip(queries, batch):
        single = cache.search(q, k=5, **options)
        assert [h.key for h in hits] == [h.key for h in single]
        assert all(h.metadata["parity"] == 1 and h.score >= 0.1 for h in hits)
        for a, b in zip(hits, single):
            np.testing.assert_allclose(a.vector, b.vector)
    assert cache.search_batch(queries, k=3, namespace="empty") == [[], [], [], []]


def test_search_batch_single_query_and_text_queries() -> None:
    cache = SemCache()
    cache.put("a", "the quick brown fox")
    cache.put("b", "jumps over the lazy dog")
    batch = cache.search_batch(["quick brown fox", "lazy dog"], k=2)
    assert [h.key for h in batch[0]] == [h.key for h in cache.search("quick brown fox", k=2)]
    assert [h.key for h in batch[1]] == [h.key for h in cache.search("lazy dog", k=2)]
    assert batch[0][0].key == "a"
    assert batch[1][0].key == "b"
    one = cache.search_batch([HashingEmbedder().embed_query("lazy dog")], k=1)
    assert [[h.key for h in hits] for hits in one] == [["b"]]


# --- namespaces ------------------------------------------------------------------------------


def test_namespaces_are_isolated_even_when_the_other_is_closer() -> None:
    rng = np.random.default_rng(3)
    cache = SemCache()
    query = rng.standard_normal(8)
    far = {}
    for i in range(10):
        v = -query + 0.5 * rng.standard_normal(8)  # far from the query
        far[f"a{i}"] = v
        cache.set(f"a{i}", f"A{i}", vector=v, namespace="A")
    for i in range(10):
        cache.set(f"b{i}", f"B{i}", vector=query + 0.01 * rng.standard_normal(8), namespace="B")
    hits = cache.search(query, k=5, namespace="A")
    assert len(hits) == 5
    assert all(h.namespace == "A" and h.key.startswith("a") for h in hits)
    assert_hits_match(hits, brute_force(far, query, 5))
    assert all(h.namespace == "B" for h in cache.search(query, k=20, namespace="B"))
    assert len(cache.search(query, k=20, namespace="B")) == 10
    # the default namespace is its own namespace, and empty here
    assert cache.search(query, k=5) == []
    assert cache.search(query, k=5, namespace=None) == []
    assert cache.get_similar(query, threshold=0.9, namespace="A") is None
    assert cache.get_similar(query, threshold=0.9, namespace="B").startswith("B")
    # exact reads are per namespace too
    assert cache.get("a3", namespace="A") == "A3"
    assert cache.get("a3") is None and cache.get("a3", namespace="B") is None
    assert len(cache) == 20


def test_the_same_key_in_two_namespaces_is_two_entries() -> None:
    cache = SemCache()
    v = np.array([1.0, 2.0, 3.0])
    cache.set("k", "old", vector=v, namespace="A")
    cache.set("other", "o", vector=-v, namespace="A")
    cache.set("k", "new", vector=v, namespace="B")
    hits = cache.search(v, k=5, namespace="A")
    assert [(h.key, h.value, h.namespace) for h in hits] == [("k", "old", "A"), ("other", "o", "A")]
    hits = cache.search(v, k=5, namespace="B")
    assert [(h.key, h.value, h.namespace) for h in hits] == [("k", "new", "B")]
    assert len(cache) == 3 and (cache.count("A"), cache.count("B")) == (2, 1)
    assert cache.namespaces() == ["A", "B"]
    entry = cache.get_entry("k", namespace="B")
    assert entry is not None and (entry.value, entry.namespace) == ("new", "B")
    assert cache.get_entry("k") is None and "k" not in cache  # nothing in ""
    # re-set without a vector: no longer found by search in its namespace; B is untouched
    cache.set("k", "plain", namespace="A")
    assert [h.key for h in cache.search(v, k=5, namespace="A")] == ["other"]
    assert [h.key for h in cache.search(v, k=5, namespace="B")] == ["k"]
    assert cache.get("k", namespace="A") == "plain"
    assert cache.get("k", namespace="B") == "new"
    # a delete removes one namespace's entry only
    assert cache.delete("k", namespace="B")
    assert cache.get("k", namespace="A") == "plain" and cache.namespaces() == ["A"]
    assert cache.search(v, k=5, namespace="B") == []


# --- metadata filters through search ---------------------------------------------------------


@pytest.fixture(scope="module")
def rare_cache() -> tuple[SemCache, dict[str, np.ndarray], set[str], np.ndarray]:
    """5000 vectors, 4985 of them close to ``query``; only 15 (far away) are "rare"."""
    rng = np.random.default_rng(11)
    cache = SemCache()
    query = rng.standard_normal(DIM)
    vectors: dict[str, np.ndarray] = {}
    rare: set[str] = set()
    rare_slots = set(rng.choice(5000, size=15, replace=False).tolist())
    for i in range(5000):
        key = f"e{i:04d}"
        if i in rare_slots:
            v = rng.standard_normal(DIM) - 0.5 * unit(query) * np.sqrt(DIM)
            meta = {"group": "rare", "year": 2000 + i % 30, "tags": ["x", "rare"]}
            rare.add(key)
        else:
            v = query + 0.3 * rng.standard_normal(DIM)
            meta = {"group": "common", "year": 2000 + i % 30, "tags": ["x"]}
        vectors[key] = v.astype(np.float32)
        cache.set(key, i, vector=vectors[key], metadata=meta)
    return cache, vectors, rare, query


def test_filtered_search_returns_k_matches_even_when_far(rare_cache) -> None:
    cache, vectors, rare, query = rare_cache
    unfiltered = cache.search(query, k=15)
    assert not any(h.key in rare for h in unfiltered)

    expected = brute_force(vectors, query, 15, keep=rare.__contains__)
    assert len(expected) == 15
    for spec in (
        {"group": "rare"},
        {"group": {"$eq": "rare"}},
        {"tags": {"$contains": "rare"}},
        Filter("group", "==", "rare"),
        FilterGroup.all_of(Filter("group", "==", "rare"), Filter("tags", "any", ["x"])),
        FilterGroup.none_of(Filter("group", "==", "common")),
    ):
        hits = cache.search(query, k=15, filters=spec)
        assert_hits_match(hits, expected)
        assert all(h.metadata["group"] == "rare" for h in hits)
    assert_hits_match(cache.search(query, k=4, filters={"group": "rare"}), expected[:4])
    assert len(cache.search(query, k=50, filters={"group": "rare"})) == 15


def test_filtered_search_with_compound_filters_matches_brute_force(rare_cache) -> None:
    cache, vectors, rare, query = rare_cache
    meta = {
        key: {"group": "rare" if key in rare else "common", "year": 2000 + int(key[1:]) % 30}
        for key in vectors
    }
    cases = [
        (
            {"year": {"$gte": 2025}, "group": "common"},
            lambda m: m["year"] >= 2025 and m["group"] == "common",
        ),
        (
            {"$or": [{"group": "rare"}, {"year": 2003}]},
            lambda m: m["group"] == "rare" or m["year"] == 2003,
        ),
        (
            FilterGroup.any_of(
                Filter("year", "in", [2001, 2002]),
                FilterGroup.all_of(Filter("group", "==", "rare"), Filter("year", "<", 2010)),
            ),
            lambda m: m["year"] in (2001, 2002) or (m["group"] == "rare" and m["year"] < 2010),
        ),
        ({"year": {"$nin": [2000, 2001]}}, lambda m: m["year"] not in (2000, 2001)),
    ]
    for spec, predicate in cases:
        expected = brute_force(vectors, query, 12, keep=lambda key, p=predicate: p(meta[key]))
        assert_hits_match(cache.search(query, k=12, filters=spec), expected)


def test_filtered_search_with_a_large_allowed_set_is_exact(rare_cache) -> None:
    """Most entries match: the int8 first pass runs with a mask and must still be exact."""
    cache, vectors, rare, _ = rare_cache
    rng = np.random.default_rng(5)
    for _ in range(5):
        query = rng.standard_normal(DIM)
        expected = brute_force(vectors, query, 10, keep=lambda key: key not in rare)
        assert_hits_match(cache.search(query, k=10, filters={"group": "common"}), expected)


def test_filter_matching_nothing_returns_nothing(rare_cache) -> None:
    cache, _, _, query = rare_cache
    assert cache.search(query, k=5, filters={"group": "nope"}) == []
    assert cache.search(query, k=5, filters={"missing_key": 1}) == []


# --- stats -----------------------------------------------------------------------------------


def test_stats_counts_every_kind_of_lookup() -> None:
    cache = SemCache()
    assert cache.stats() == CacheStats(0, 0, 0, 0, 0, 0, 0, 0)
    assert cache.stats().hit_rate == 0.0
    cache.set("a", 1, vector=[1.0, 0.0])
    cache.set("b", 2)
    cache.get("a")
    cache.get("b")
    cache.get("zzz")
    cache.get_similar([1.0, 0.0], threshold=0.9)
    cache.get_similar([0.0, 1.0], threshold=0.9)
    cache.get_similar([0.0, 1.0], threshold=0.9)
    cache.get_or_compute("c", lambda key: key.upper())  # miss + compute
    cache.get_or_compute("c", lambda key: pytest.fail("cached"))  # hit
    cache.get_entry("a")  # not counted
    cache.exists("a")  # not counted
    cache.search([1.0, 0.0])  # not counted
    stats = cache.stats()
    assert stats.hits == 3
    assert stats.misses == 2
    assert stats.semantic_hits == 1
    assert stats.semantic_misses == 2
    assert stats.computes == 1
    assert stats.size == 3
    assert stats.hit_rate == pytest.approx(3 / 5)
    assert stats.as_dict()["computes"] == 1


def test_stats_counts_evictions_and_expirations() -> None:
    clock = FakeClock()
    cache = SemCache(max_entries=2, clock=clock)
    cache.set("a", 1)
    cache.set("b", 2, ttl=5)
    cache.set("c", 3)  # evicts a
    assert cache.stats().evictions == 1
    clock.now += 5
    assert cache.get("b") is None
    stats = cache.stats()
    assert stats.expirations == 1
    assert stats.size == 1


# --- TTL, LRU, purge_expired, properties -----------------------------------------------------


def test_ttl_expiry_with_a_fake_clock() -> None:
    clock = FakeClock()
    cache = SemCache(ttl=10, clock=clock)
    cache.set("default", 1, vector=[1.0, 0.0])
    cache.set("short", 2, ttl=2, vector=[1.0, 0.1])
    cache.set("long", 3, ttl=100)
    clock.now += 2
    assert cache.get("short") is None
    assert "short" not in cache
    assert [h.key for h in cache.search([1.0, 0.1])] == ["default"]
    clock.now += 7.5
    assert cache.get("default") == 1
    clock.now += 0.5
    assert cache.get("default") is None
    assert cache.search([1.0, 0.0]) == []
    assert cache.delete("long") is True
    assert len(cache) == 0


def test_purge_expired_returns_how_many() -> None:
    clock = FakeClock()
    cache = SemCache(clock=clock)
    for i in range(4):
        cache.set(f"t{i}", i, ttl=1 + i)
    cache.set("forever", 0)
    assert cache.purge_expired() == 0
    clock.now += 2
    assert cache.purge_expired() == 2
    assert cache.scan() == ["forever", "t2", "t3"]
    clock.now += 10
    assert cache.purge_expired() == 2
    assert cache.purge_expired() == 0
    assert len(cache) == 1


def test_lru_eviction_refreshed_by_reads_and_searches() -> None:
    cache = SemCache(max_entries=3)
    cache.set("a", 1, vector=[1.0, 0.0, 0.0])
    cache.set("b", 2, vector=[0.0, 1.0, 0.0])
    cache.set("c", 3, vector=[0.0, 0.0, 1.0])
    cache.get("a")
    cache.search([0.0, 1.0, 0.0], k=1)  # refreshes b
    cache.set("d", 4)  # evicts c, the least recently used
    assert cache.scan() == ["a", "b", "d"]
    assert "c" not in cache  # exists() does not refresh recency
    cache.exists("a")
    cache.set("e", 5)
    assert cache.scan() == ["b", "d", "e"]


def test_dim_property_and_repr() -> None:
    cache = SemCache()
    assert cache.dim is None
    cache.set("a", 1, vector=[1.0, 2.0, 3.0])
    assert cache.dim == 3
    assert SemCache(dim=5).dim == 5
    assert "dim=3" in repr(cache)
    assert isinstance(cache.backend, LocalBackend)
    assert isinstance(SemCache().embedder, HashingEmbedder)


# --- get_or_compute --------------------------------------------------------------------------


def test_get_or_compute_computes_once_and_stores() -> None:
    cache = SemCache()
    calls: list[str] = []

    def fn(key: str) -> dict:
        calls.append(key)
        return {"computed": key}

    assert cache.get_or_compute("k", fn) == {"computed": "k"}
    assert cache.get_or_compute("k", fn) == {"computed": "k"}
    assert calls == ["k"]
    assert cache.get("k") == {"computed": "k"}


def test_get_or_compute_options_and_vector_results_are_indexed() -> None:
    clock = FakeClock()
    cache = SemCache(dim=4, clock=clock)
    vec = np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32)
    result = cache.get_or_compute("emb", lambda key: vec, ttl=5, namespace="n", metadata={"m": 1})
    np.testing.assert_array_equal(result, vec)
    assert cache.get_entry("emb") is None
    entry = cache.get_entry("emb", namespace="n")
    assert entry is not None
    assert (entry.namespace, entry.metadata, entry.expires_at) == ("n", {"m": 1}, clock.now + 5)
    found = cache.get_similar(vec, threshold=0.99, namespace="n")
    np.testing.assert_array_equal(found, vec)
    # a result that is not a vector of the cache's dimension is stored but not indexed
    cache.get_or_compute("short", lambda key: [1.0, 2.0])
    assert cache.get("short") == [1.0, 2.0]
    assert [h.key for h in cache.search([1.0, 2.0, 3.0, 4.0], namespace="n")] == ["emb"]


def test_get_or_compute_exception_stores_nothing() -> None:
    cache = SemCache()

    def boom(key: str) -> Any:
        raise RuntimeError("compute failed")

    with pytest.raises(RuntimeError, match="compute failed"):
        cache.get_or_compute("k", boom)
    assert "k" not in cache
    assert cache.get_or_compute("k", lambda key: 7) == 7


def test_get_or_compute_single_flight_across_threads() -> None:
    cache = SemCache()
    calls = []
    lock = threading.Lock()

    def slow(key: str) -> list[int]:
        with lock:
            calls.append(key)
        time.sleep(0.2)
        return [1, 2, 3]

    results: list[Any] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        results.append(cache.get_or_compute("shared", slow))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == [[1, 2, 3]] * 8
    assert calls == ["shared"]
    assert cache.stats().computes == 1


# --- embedder adapters -----------------------------------------------------------------------

TOY_VECTORS = {
    "cat": [1.0, 0.0, 0.0, 0.0],
    "kitten": [0.9, 0.1, 0.0, 0.0],
    "dog": [0.0, 1.0, 0.0, 0.0],
    "car": [0.0, 0.0, 1.0, 0.0],
}


def toy_embed(text: str) -> list[float]:
    return TOY_VECTORS[text]


def test_plain_callable_embedder() -> None:
    cache = SemCache(embedder=toy_embed)
    for word in ("cat", "dog", "car"):
        cache.put(f"key:{word}", word)
    hits = cache.search("kitten", k=3)
    assert [h.key for h in hits] == ["key:cat", "key:dog", "key:car"]
    assert hits[0].score == pytest.approx(cosine(TOY_VECTORS["kitten"], TOY_VECTORS["cat"]))
    assert cache.get_similar("kitten", threshold=0.9) == "cat"
    assert cache.get_similar("kitten", threshold=0.999) is None
    assert cache.dim == 4


async def test_async_callable_embedder_via_aput_and_asearch() -> None:
    seen: list[str] = []

    async def embed(text: str) -> np.ndarray:
        await asyncio.sleep(0)
        seen.append(text)
        return np.array(TOY_VECTORS[text])

    cache = SemCache(embedder=embed)
    await cache.aput("k1", "cat")
    await cache.aput("k2", "car")
    hits = await cache.asearch("kitten", k=2)
    assert [h.key for h in hits] == ["k1", "k2"]
    assert await cache.aget_similar("kitten", threshold=0.9) == "cat"
    batch = await cache.asearch_batch(["cat", "car"], k=1)
    assert [[h.key for h in hits] for hits in batch] == [["k1"], ["k2"]]
    assert seen == ["cat", "car", "kitten", "kitten", "cat", "car"]
    # the sync API cannot drive an async embedder, and says so without storing anything
    with pytest.raises(EmbedderError, match="async"):
        cache.put("k3", "dog")
    with pytest.raises(EmbedderError, match="async"):
        cache.search("dog")
    assert "k3" not in cache


class FakeLangChainEmbeddings:
    """The LangChain ``Embeddings`` surface: queries and documents embed differently."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(("embed_documents", list(texts)))
        return [TOY_VECTORS[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.calls.append(("embed_query", text))
        return [x + 0.01 for x in TOY_VECTORS[text]]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(("aembed_documents", list(texts)))
        return [TOY_VECTORS[t] for t in texts]

    async def aembed_query(self, text: str) -> list[float]:
        self.calls.append(("aembed_query", text))
        return [x + 0.01 for x in TOY_VECTORS[text]]


def test_langchain_style_embedder_uses_documents_for_put_and_query_for_search() -> None:
    model = FakeLangChainEmbeddings()
    cache = SemCache(embedder=model)
    cache.put("k1", "cat")
    cache.put("k2", "dog")
    hits = cache.search("kitten", k=2)
    assert [(h.key, h.value) for h in hits] == [("k1", "cat"), ("k2", "dog")]
    query = [x + 0.01 for x in TOY_VECTORS["kitten"]]
    assert hits[0].score == pytest.approx(cosine(query, TOY_VECTORS["cat"]), abs=1e-6)
    assert model.calls == [
        ("embed_documents", ["cat"]),
        ("embed_documents", ["dog"]),
        ("embed_query", "kitten"),
    ]


async def test_langchain_style_embedder_async_methods() -> None:
    model = FakeLangChainEmbeddings()
    cache = SemCache(embedder=model)
    await cache.aput("k", "car")
    hits = await cache.asearch("car", k=1)
    assert (hits[0].key, hits[0].value) == ("k", "car")
    assert model.calls == [("aembed_documents", ["car"]), ("aembed_query", "car")]


class FakeLlamaIndexEmbedding:
    """The LlamaIndex ``BaseEmbedding`` surface."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def get_text_embedding(self, text: str) -> list[float]:
        self.calls.append(("get_text_embedding", text))
        return TOY_VECTORS[text]

    def get_query_embedding(self, query: str) -> list[float]:
        self.calls.append(("get_query_embedding", query))
        return [x - 0.01 for x in TOY_VECTORS[query]]

    async def aget_text_embedding(self, text: str) -> list[float]:
        self.calls.append(("aget_text_embedding", text))
        return TOY_VECTORS[text]

    async def aget_query_embedding(self, query: str) -> list[float]:
        self.calls.append(("aget_query_embedding", query))
        return [x - 0.01 for x in TOY_VECTORS[query]]


def test_llama_index_style_embedder() -> None:
    model = FakeLlamaIndexEmbedding()
    cache = SemCache(embedder=model)
    cache.put("k1", "dog")
    cache.put("k2", "car")
    assert cache.get_similar("dog", threshold=0.99) == "dog"
    assert [h.key for h in cache.search("car", k=2)] == ["k2", "k1"]
    assert model.calls == [
        ("get_text_embedding", "dog"),
        ("get_text_embedding", "car"),
        ("get_query_embedding", "dog"),
        ("get_query_embedding", "car"),
    ]


async def test_llama_index_style_embedder_async_methods() -> None:
    model = FakeLlamaIndexEmbedding()
    cache = SemCache(embedder=model)
    await cache.aput("k", "dog")
    assert await cache.aget_similar("dog", threshold=0.99) == "dog"
    assert model.calls == [("aget_text_embedding", "dog"), ("aget_query_embedding", "dog")]


def test_embedder_that_returns_garbage_raises_embedder_error() -> None:
    cache = SemCache(embedder=lambda text: "not a vector")
    with pytest.raises(EmbedderError) as info:
        cache.put("k", "text")
    assert isinstance(info.value, SemCacheError)
    assert "k" not in cache


# --- context manager -------------------------------------------------------------------------


class RecordingBackend(LocalBackend):
    """A real local backend that remembers being closed."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = 0

    def close(self) -> None:
        self.closed += 1
        super().close()


def test_context_manager_returns_the_cache_and_closes_the_backend() -> None:
    backend = RecordingBackend()
    with SemCache(backend=backend) as cache:
        assert isinstance(cache, SemCache)
        assert cache.backend is backend
        cache.set("k", "v")
        assert cache.get("k") == "v"
        assert backend.closed == 0
    assert backend.closed == 1


def test_context_manager_closes_on_error_and_propagates() -> None:
    backend = RecordingBackend()
    with pytest.raises(KeyError, match="inside"), SemCache(backend=backend):
        raise KeyError("inside")
    assert backend.closed == 1


def test_backend_options_beside_a_backend_say_where_each_goes() -> None:
    backend = RecordingBackend()
    with pytest.raises(InvalidArgumentError, match=r"set it on that backend: LocalBackend\(max_e"):
        SemCache(max_entries=10, backend=backend)
    with pytest.raises(InvalidArgumentError, match=r"takes no path \(for a durable cache"):
        SemCache(path="unused", backend=backend)
    with pytest.raises(InvalidArgumentError, match=r"index, hnsw_params configure"):
        SemCache(index="flat", hnsw_params=HNSWParams(), backend=backend)
    assert backend.closed == 0  # refused before the cache took it


# --- async twins -----------------------------------------------------------------------------


async def test_async_kv_twins_match_sync() -> None:
    cache = SemCache()
    await cache.aset("a", {"x": [1]}, metadata={"m": 1}, vector=[1.0, 0.0], namespace="ns")
    cache.set("b", "B")
    ns = {"namespace": "ns"}
    assert await cache.aget("a", **ns) == cache.get("a", **ns) == {"x": [1]}
    assert await cache.aget("a") is None
    assert await cache.aget("missing", 5) == cache.get("missing", 5) == 5
    assert await cache.aget_entry("a", **ns) == cache.get_entry("a", **ns)
    assert (await cache.aget_entry("a", **ns)).namespace == "ns"
    assert await cache.aget_entry("a") is None
    assert await cache.aget_entry("missing") is None
    assert await cache.aexists("a", **ns) is True
    assert await cache.aexists("a") is False
    assert await cache.aexists("missing") is False
    assert await cache.alen() == len(cache) == 2
    assert await cache.acount("ns") == cache.count("ns") == 1
    assert await cache.anamespaces() == cache.namespaces() == ["", "ns"]
    assert await cache.ascan() == cache.scan() == ["b"]
    assert await cache.ascan(**ns) == cache.scan(**ns) == ["a"]
    assert await cache.ascan("a", 1, **ns) == cache.scan("a", 1, **ns) == ["a"]
    assert await cache.ascan("a", 1) == cache.scan("a", 1) == []
    assert await cache.astats() == cache.stats()
    assert await cache.adelete("b") is True
    assert await cache.adelete("b") is False
    assert cache.get("b") is None
    await cache.aclear()
    assert len(cache) == 0
    assert cache.search([1.0, 0.0], namespace="ns") == []


async def test_async_text_twins_match_sync() -> None:
    sync_cache, async_cache = SemCache(), SemCache()
    texts = {"q1": "how to bake bread", "q2": "how to fix a bike", "q3": "best bread recipes"}
    for key, text in texts.items():
        sync_cache.put(key, text, metadata={"len": len(text)}, namespace="n")
        await async_cache.aput(key, text, metadata={"len": len(text)}, namespace="n")
    sync_cache.put_json("j", {"a": (1, 2)})
    await async_cache.aput_json("j", {"a": (1, 2)})
    sync_cache.put_string("s", "str")
    await async_cache.aput_string("s", "str")

    assert await async_cache.aget_json("j") == sync_cache.get_json("j") == {"a": [1, 2]}
    assert await async_cache.aget_json("missing", 1) == 1
    assert await async_cache.aget_string("s") == sync_cache.get_string("s") == "str"
    assert await async_cache.aget_string("missing", "d") == "d"
    for key in texts:
        entry = sync_cache.get_entry(key, namespace="n")
        assert entry is not None and entry.value == texts[key]
        assert await async_cache.aget_entry(key, namespace="n") == entry

    query = "bread"
    expected = hit_summary(sync_cache.search(query, k=3, namespace="n"))
    assert hit_summary(await async_cache.asearch(query, k=3, namespace="n")) == expected
    assert hit_summary(await sync_cache.asearch(query, k=3, namespace="n")) == expected
    filtered = {"len": {"$lt": 18}}
    assert hit_summary(
        await async_cache.asearch(query, k=3, namespace="n", filters=filtered, threshold=0.0)
    ) == hit_summary(sync_cache.search(query, k=3, namespace="n", filters=filtered, threshold=0.0))
    batch = await async_cache.asearch_batch(["bread", "bike"], k=2, namespace="n")
    assert [hit_summary(h) for h in batch] == [
        hit_summary(h) for h in sync_cache.search_batch(["bread", "bike"], k=2, namespace="n")
    ]
    matrix = np.stack([HashingEmbedder().embed_query(t) for t in ("bread", "bike")])
    assert [hit_summary(h) for h in await async_cache.asearch_batch(matrix, 2, namespace="n")] == [
        hit_summary(h) for h in sync_cache.search_batch(matrix, 2, namespace="n")
    ]
    for threshold in (0.3, 0.99):
        assert await async_cache.aget_similar(
            "how to bake bread", threshold, namespace="n"
        ) == sync_cache.get_similar("how to bake bread", threshold, namespace="n")
    assert await async_cache.aget_similar("how to bake bread", namespace="n") == texts["q1"]
    assert await async_cache.aget_similar("how to bake bread") is None
    assert await async_cache.astats() == async_cache.stats()


async def test_async_get_string_type_error() -> None:
    cache = SemCache()
    cache.set("n", 5)
    with pytest.raises(InvalidValueError, match="int"):
        await cache.aget_string("n")
    with pytest.raises(InvalidValueError, match="int"):
        await cache.aget_json("n")


async def test_aget_or_compute_with_sync_and_async_fn() -> None:
    cache = SemCache()
    calls: list[str] = []

    def sync_fn(key: str) -> dict:
        calls.append(key)
        return {"v": key}

    async def async_fn(key: str) -> list:
        await asyncio.sleep(0)
        calls.append(key)
        return [key, 1]

    assert await cache.aget_or_compute("s", sync_fn) == {"v": "s"}
    assert await cache.aget_or_compute("s", sync_fn) == {"v": "s"}
    assert await cache.aget_or_compute("a", async_fn) == ["a", 1]
    assert await cache.aget_or_compute("a", async_fn) == ["a", 1]
    assert calls == ["s", "a"]
    assert cache.get_or_compute("s", sync_fn) == await cache.aget_or_compute("s", sync_fn)
    stats = cache.stats()
    assert stats.computes == 2
    assert (stats.hits, stats.misses) == (4, 2)


async def test_aget_or_compute_options_and_single_flight() -> None:
    clock = FakeClock()
    cache = SemCache(dim=3, clock=clock)
    calls = 0

    async def embed(key: str) -> np.ndarray:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return np.array([1.0, 2.0, 2.0])

    results = await asyncio.gather(
        *(
            cache.aget_or_compute("v", embed, ttl=3, namespace="n", metadata={"m": 1})
            for _ in range(5)
        )
    )
    assert calls == 1
    for r in results:
        np.testing.assert_array_equal(r, [1.0, 2.0, 2.0])
    assert cache.get_entry("v") is None
    entry = cache.get_entry("v", namespace="n")
    assert entry is not None
    assert (entry.namespace, entry.metadata, entry.expires_at) == ("n", {"m": 1}, clock.now + 3)
    hits = await cache.asearch([1.0, 2.0, 2.0], k=1, namespace="n")
    assert hits[0].key == "v"

    async def failing(key: str) -> Any:
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope"):
        await cache.aget_or_compute("bad", failing)
    assert not await cache.aexists("bad")
