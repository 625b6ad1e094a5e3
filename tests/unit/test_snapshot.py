"""Snapshots: ``dump`` / ``load`` / ``from_snapshot`` and the container file format.

Covered: identical answers after a round trip (flat, HNSW and auto; saved graphs are reused,
not rebuilt), caches without vectors, labels never reused after a restore, settings, expiry
at load time, LRU order, a loaded cache that keeps working (checked against brute force),
truncated / corrupted / foreign / future files (each one raises ``SnapshotError`` and
changes nothing), dimension checks, atomic writes (with a real SIGKILL in the middle of a
dump), the async twins, CRC-valid files with garbage fields, and ``write_container`` /
``open_container`` themselves.

Every time goes through an injected :class:`FakeClock`, so expiry is exact and nothing sleeps
(except the SIGKILL test, which races a real child process on purpose).
"""

from __future__ import annotations

import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
from fakeclock import FakeClock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import semcache_core
from semcache_core import HNSWParams, SemCache
from semcache_core.codec import decode
from semcache_core.errors import SemCacheError, SnapshotError
from semcache_core.index.hnsw import HNSWIndex
from semcache_core.persist.container import (
    FORMAT_VERSION,
    MAGIC,
    open_container,
    write_container,
)
from semcache_core.vectors import as_unit_vector

T0 = 1_000_000.0  # with the dyadic steps below, clock sums are exact
DIM = 16
NAMESPACES = ("", "docs", "ns/ü")
PREAMBLE = struct.Struct("<16sIQII")  # magic, version, header offset, header length, CRC
VERSION_AT = 16  # the u32 version follows the 16-byte magic field

VALUES: dict[str, Any] = {
    "v/str": "hello ü ✓",
    "v/empty-str": "",
    "v/bytes": b"\x00\x01\xff",
    "v/empty-bytes": b"",
    "v/int": -(2**63),
    "v/uint": 2**64 - 1,
    "v/float": 0.1,
    "v/neg-zero": -0.0,
    "v/inf": float("inf"),
    "v/bool": True,
    "v/none": None,
    "v/dict": {"a": [1, 2, {"b": b"x"}], "n": None, "f": 2.5},
    "v/list": [1, "two", 3.0, [b"4"], {}],
    "v/array": np.arange(12, dtype=np.float64).reshape(3, 4),
    "v/array-int8": np.array([-1, 2, 3], dtype=np.int8),
    "v/array-0d": np.array(5, dtype=np.int32),
    "v/array-complex": np.array([1 + 2j, -3j], dtype=np.complex64),
}

SEARCH_OPTIONS: list[dict[str, Any]] = [
    {},
    {"k": 40},
    {"k": 5, "namespace": "docs"},
    {"k": 3, "namespace": "ns/ü"},
    {"k": 8, "filters": {"group": 2}},
    {"k": 8, "namespace": "docs", "filters": {"tag": {"$in": ["t0", "t2"]}}},
    {"k": 10, "threshold": 0.3},
    {"k": 4, "with_vectors": True},
]


# --- helpers -------------------------------------------------------------------------------


def canon(value: Any) -> Any:
    """A comparable, type-exact form of a value (numpy arrays by dtype, shape and bytes)."""
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, dict):
        return ("dict", sorted((repr(k), canon(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", [canon(v) for v in value])
    if isinstance(value, float):
        return ("float", value.hex())  # tells -0.0 from 0.0
    return (type(value).__name__, value)


Probe = str | tuple[str, str]  # a key of namespace "", or (namespace, key)


def split_probe(probe: Probe) -> tuple[str, str]:
    """``(namespace, key)`` of a probe."""
    return ("", probe) if isinstance(probe, str) else probe


def canon_entry(cache: SemCache, probe: Probe) -> Any:
    namespace, key = split_probe(probe)
    entry = cache.get_entry(key, namespace=namespace)
    if entry is None:
        return None
    return (
        entry.key,
        canon(entry.value),
        canon(entry.metadata),
        entry.namespace,
        entry.expires_at,
    )


def canon_hits(hits: list) -> list:
    return [
        (
            h.key,
            h.score,
            canon(h.value),
            canon(h.metadata),
            h.namespace,
            None if h.vector is None else h.vector.tobytes(),
        )
        for h in hits
    ]


def observe(cache: SemCache, keys: list[Probe], queries: np.ndarray) -> dict[str, Any]:
    """Everything a user can see: sizes, keys of every namespace, entries, values and
    search answers (``keys``: the entries to probe)."""
    pairs = [split_probe(probe) for probe in keys]
    return {
        "len": len(cache),
        "namespaces": cache.namespaces(),
        "counts": [cache.count(ns) for ns in NAMESPACES],
        "scan": {ns: cache.scan(namespace=ns) for ns in cache.namespaces()},
        "scan_prefix": [cache.scan("v/", limit=5, namespace=ns) for ns in NAMESPACES],
        "get": [canon(cache.get(key, "<missing>", namespace=ns)) for ns, key in pairs],
        "entries": [canon_entry(cache, pair) for pair in pairs],
        "exists": [cache.exists(key, namespace=ns) for ns, key in pairs],
        "in": [key in cache for ns, key in pairs if ns == ""],
        "search": [
            canon_hits(cache.search(query, **options))
            for query in queries
            for options in SEARCH_OPTIONS
        ],
        "batch": [canon_hits(hits) for hits in cache.search_batch(queries, k=6)],
    }


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def temp_files(directory: Path) -> list[str]:
    """Files a write in progress leaves: the new file (.tmp), the replaced one's link (.old)."""
    return sorted(name for name in os.listdir(directory) if name.endswith((".tmp", ".old")))


def build_rich_cache(index: str, clock: FakeClock) -> tuple[SemCache, list[Probe], np.ndarray]:
    """A cache with several namespaces, metadata, TTLs, values of many types, entries with
    and without vectors, deletes and overwrites (deleted slots in the HNSW graphs).

    Returns the cache, the keys to probe (deleted and never-set ones included) and queries.
    """
    rng = np.random.default_rng(7)
    cache = SemCache(index=index, hnsw_threshold=300, clock=clock)
    n = 1300  # the graph answers unfiltered searches from 1,000 vectors on
    main = rng.standard_normal((n, DIM), dtype=np.float32)
    keys = [f"m/{i:04d}" for i in range(n)]
    metas = [{"group": i % 4, "tag": f"t{i % 3}", "i": i} for i in range(n)]
    third = n // 3
    for lo, hi, ttl in ((0, third, None), (third, 2 * third, 500), (2 * third, n, 2000)):
        cache.set_many(
            {keys[i]: i for i in range(lo, hi)},
            vectors=main[lo:hi],
            metadatas=metas[lo:hi],
            ttl=ttl,
        )
    # auto builds its graph in the background: let it finish, so the deletes below leave
    # deleted slots in it
    assert cache.backend.index_for("").wait_until_built(timeout=60)
    for j, (key, value) in enumerate(VALUES.items()):
        cache.set(
            key,
            value,
            vector=rng.standard_normal(DIM) if j % 2 == 0 else None,
            metadata={"kind": key, "j": j, "nested": {"x": [j, None]}, "group": j % 4},
            ttl=1000 if j % 4 == 0 else None,
            namespace=NAMESPACES[j % 3],
        )
    docs = rng.standard_normal((120, DIM), dtype=np.float32)
    cache.set_many(
        {f"docs/{i:03d}": f"doc {i}" for i in range(120)},
        vectors=docs,
        metadatas=[{"tag": f"t{i % 3}"} for i in range(120)],
        namespace="docs",
    )
    cache.set_many(
        {f"u/{i}": [i] for i in range(5)},
        vectors=rng.standard_normal((5, DIM), dtype=np.float32),
        namespace="ns/ü",
    )
    cache.set_many({f"plain/{i}": {"i": i} for i in range(20)}, ttl=700)  # no vectors
    for i in range(0, n, 9):
        cache.delete(keys[i])
    for i in range(1, n, 50):  # overwrite: the old vector's slot is deleted
        cache.set(keys[i], f"new {i}", vector=rng.standard_normal(DIM), metadata={"group": 1})
    assert cache.delete("docs/003", namespace="docs")
    assert cache.delete("u/2", namespace="ns/ü")
    # the newest vector is deleted: its graph slot keeps the highest label ever used
    cache.set("z/gone", "gone", vector=rng.standard_normal(DIM), metadata={"group": 0})
    cache.set("z/last", "last", vector=rng.standard_normal(DIM), metadata={"group": 0})
    cache.delete("z/gone")
    for ns in NAMESPACES:
        assert cache.backend.index_for(ns).wait_until_built(timeout=60)
    probe: list[Probe] = [*keys]
    probe += [(NAMESPACES[j % 3], key) for j, key in enumerate(VALUES)]
    probe += [("docs", f"docs/{i:03d}") for i in range(0, 120, 7)]
    probe += [("ns/ü", "u/1"), ("ns/ü", "u/2"), "plain/3", "z/last", "z/gone", "never/set"]
    # a key of one namespace is absent from the others
    probe += [("docs", "m/0001"), ("ns/ü", "docs/010"), "u/1", ("docs", "never/set")]
    queries = np.concatenate([rng.standard_normal((8, DIM)), main[[5, 6, 700]], docs[[10]]])
    return cache, probe, queries.astype(np.float32)


def graph_fingerprint(cache: SemCache, namespace: str) -> dict[str, bytes] | None:
    """The saved-graph arrays of a namespace (None without a complete graph)."""
    index = cache.backend.index_for(namespace)
    if index is None or index.kind != "hnsw":
        return None
    state = index.hnsw.graph_state()
    names = ("data_level0", "link_lists", "element_levels")
    return {name: np.asarray(state[name]).tobytes() for name in names} | {
        "entry": state["enterpoint_node"],
        "count": state["cur_element_count"],
    }


# --- 1. round trips ------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["load", "from_snapshot"])
@pytest.mark.parametrize("index", ["flat", "hnsw", "auto"])
def test_round_trip_gives_identical_answers(tmp_path: Path, index: str, how: str) -> None:
    clock = FakeClock(T0)
    cache, probe, queries = build_rich_cache(index, clock)
    if index != "flat":  # the graph being saved has deleted slots
        state = cache.backend.index_for("").hnsw.graph_state()
        assert (state["data_level0"][:, 2] & 1).any()  # hnswlib's delete mark
    path = tmp_path / "cache.semcache"
    cache.dump(path)
    assert temp_files(tmp_path) == []

    if how == "load":
        loaded = SemCache(index=index, hnsw_threshold=300, clock=clock)
        loaded.load(path)
    else:
        loaded = SemCache.from_snapshot(path, clock=clock)
    again = tmp_path / "again.semcache"
    loaded.dump(again)  # before any read moves the LRU order (filtered scans follow it)

    # saved graphs answer at once, the very same graphs: nothing is rebuilt
    for ns in NAMESPACES:
        assert loaded.backend.index_for(ns).kind == cache.backend.index_for(ns).kind, ns
        assert graph_fingerprint(loaded, ns) == graph_fingerprint(cache, ns), ns
    expected_kind = "flat" if index == "flat" else "hnsw"
    assert loaded.backend.index_for("").kind == expected_kind
    if index == "flat":
        assert all(loaded.backend.index_for(ns).hnsw is None for ns in NAMESPACES)

    assert loaded.dim == cache.dim == DIM
    expected = observe(cache, probe, queries)
    assert observe(loaded, probe, queries) == expected
    assert expected["len"] == len(cache) > 1000 and expected["search"][0]  # not vacuous
    if index != "flat":  # unfiltered searches are the graph's answers
        graph = loaded.backend.index_for("")
        assert len(graph) >= 1000, "below 1,000 vectors searches are exact, not the graph's"
        key_of = {label: key for ns, key, label in loaded.backend.live_labels() if ns == ""}
        for query in queries:
            labels, _ = graph.hnsw.search(as_unit_vector(query, DIM), 10)
            found = [hit.key for hit in loaded.search(query, k=10)]
            assert found == [key_of[label] for label in labels.tolist()]

    # a snapshot of the loaded cache holds the same again
    assert observe(SemCache.from_snapshot(again, clock=clock), probe, queries) == expected

    # absolute expiry times survive: both caches lose the same entries at the same moments
    for step in (499.5, 0.5, 500.0, 1000.0):  # T0+499.5, +500, +1000, +2000
        clock.advance(step)
        assert observe(loaded, probe, queries) == observe(cache, probe, queries)
    assert len(loaded) < expected["len"]


def test_load_replaces_existing_content_and_keeps_statistics(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    source, probe, queries = build_rich_cache("flat", clock)
    path = tmp_path / "s.semcache"
    source.dump(path)

    target = SemCache(clock=clock)
    target.set("old/vec", "x", vector=np.ones(8), namespace="docs")  # another dimension
    target.set("old/plain", 1, namespace="elsewhere")
    assert target.get("old/plain", namespace="elsewhere") == 1  # one hit
    assert target.get("old/none") is None  # one miss
    assert target.dim == target.dim_of("docs") == 8 and target.dim_of("") is None
    target.load(path)

    assert target.get("old/vec", namespace="docs") is None
    assert target.get("old/plain", namespace="elsewhere") is None
    assert "elsewhere" not in target.namespaces()
    assert "old/vec" not in target.scan(namespace="docs")
    assert target.dim == target.dim_of("docs") == DIM
    # the statistics are kept (plus the two misses just above)
    assert (target.stats().hits, target.stats().misses) == (1, 3)
    assert observe(target, probe, queries) == observe(source, probe, queries)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    entries=st.lists(
        st.tuples(
            st.text(max_size=8),
            st.recursive(
                st.none()
                | st.booleans()
                | st.integers(-(2**63), 2**64 - 1)
                | st.floats(allow_nan=False)
                | st.text(max_size=10)
                | st.binary(max_size=10),
                lambda children: (
                    st.lists(children, max_size=3)
                    | st.dictionaries(st.text(max_size=4), children, max_size=3)
                ),
                max_leaves=8,
            ),
            st.dictionaries(
                st.text(max_size=5),
                st.none() | st.integers(-5, 5) | st.text(max_size=4) | st.lists(st.booleans()),
                max_size=3,
            ),
            st.booleans(),
            st.sampled_from(NAMESPACES),
        ),
        max_size=6,
        unique_by=lambda entry: (entry[4], entry[0]),  # the same key in two namespaces: two
    )
)
def test_values_and_metadata_survive_a_round_trip(tmp_path: Path, entries: list) -> None:
    rng = np.random.default_rng(len(entries))
    cache = SemCache(index="flat")
    for key, value, metadata, with_vector, namespace in entries:
        vector = rng.standard_normal(4) if with_vector else None
        cache.set(key, value, vector=vector, metadata=metadata, namespace=namespace)
    path = tmp_path / "h.semcache"
    cache.dump(path)
    loaded = SemCache.from_snapshot(path)
    pairs = [(entry[4], entry[0]) for entry in entries]
    assert len(loaded) == len(entries)
    assert loaded.namespaces() == sorted({ns for ns, _ in pairs})
    for ns in NAMESPACES:
        assert loaded.scan(namespace=ns) == sorted(k for n, k in pairs if n == ns)
    assert [canon_entry(loaded, p) for p in pairs] == [canon_entry(cache, p) for p in pairs]
    for key, value, _, _, ns in entries:
        assert canon(loaded.get(key, namespace=ns)) == canon(value)
        got = loaded.get(key, namespace=ns)
        if isinstance(got, (list, dict)):  # a fresh copy for every reader
            got.clear()
            assert canon(loaded.get(key, namespace=ns)) == canon(value)
    query = rng.standard_normal(4)
    for ns in NAMESPACES:
        mine = loaded.search(query, k=10, namespace=ns, with_vectors=True)
        assert canon_hits(mine) == canon_hits(
            cache.search(query, k=10, namespace=ns, with_vectors=True)
        )


def vectorless_caches() -> dict[str, SemCache]:
    empty = SemCache()
    plain = SemCache(ttl=30)
    plain.set_many({"a": 1, "b": [2]}, metadatas=[{"m": 1}, None], namespace="n")
    all_deleted = SemCache(index="hnsw")
    all_deleted.set_many({"v/0": 0, "v/1": 1}, vectors=np.eye(2, 8))
    all_deleted.set("p", "plain")
    all_deleted.delete("v/0")
    all_deleted.delete("v/1")
    cleared = SemCache()
    cleared.set("x", 1, vector=np.ones(8))
    cleared.clear()
    return {"empty": empty, "plain": plain, "all-deleted": all_deleted, "cleared": cleared}


@pytest.mark.parametrize("name", ["empty", "plain", "all-deleted", "cleared"])
def test_caches_without_vectors_round_trip(tmp_path: Path, name: str) -> None:
    cache = vectorless_caches()[name]
    path = tmp_path / f"{name}.semcache"
    cache.dump(path)
    with open_container(path) as container:
        assert container.verify() == []
    keys: list[Probe] = ["a", "b", "p", "x", "v/0", ("n", "a"), ("n", "b"), ("n", "p")]
    fresh = SemCache.from_snapshot(path)
    target = SemCache()
    target.set_many({"old": 1, "a": "old"}, vectors=np.eye(2, 4))  # replaced by the load
    target.load(path)
    for loaded in (fresh, target):
        assert loaded.namespaces() == cache.namespaces()
        for ns in ("", "n"):
            assert loaded.scan(namespace=ns) == cache.scan(namespace=ns)
        assert [canon_entry(loaded, k) for k in keys] == [canon_entry(cache, k) for k in keys]
        assert loaded.search(np.ones(8), k=5) == []
        loaded.set("new", "n", vector=np.arange(1, 9))  # any dimension may come next
        assert loaded.search(np.arange(1, 9), k=1)[0].key == "new"


@pytest.mark.parametrize("index", ["flat", "hnsw", "auto"])
def test_labels_are_never_reused_after_a_restore(tmp_path: Path, index: str) -> None:
    """Deleted graph slots keep their labels: a restored cache must not hand them out again
    (hnswlib would then lose track of one of the two owners, and a delete would fail)."""
    rng = np.random.default_rng(131)
    cache = SemCache(index=index, hnsw_threshold=50)
    vectors = rng.standard_normal((120, DIM))
    cache.set_many({f"k/{i}": i for i in range(120)}, vectors=vectors)
    assert cache.backend.index_for("").wait_until_built(timeout=60)
    for i in range(100, 120):  # the newest vectors, so the highest labels, are deleted
        cache.delete(f"k/{i}")
    path = tmp_path / "labels.semcache"
    for generation in range(2):  # and again from a snapshot of the restored cache
        cache.dump(path)
        cache = SemCache.from_snapshot(path)
        index_ = cache.backend.index_for("")
        assert index_.kind == ("flat" if index == "flat" else "hnsw")
        fresh = rng.standard_normal((40, DIM))
        keys = [f"n{generation}/{i}" for i in range(40)]
        cache.set_many(dict.fromkeys(keys, generation), vectors=fresh)
        assert index_.wait_until_built(timeout=60)
        for key in keys[:30]:
            assert cache.delete(key)
        live = {key: label for _, key, label in cache.backend.live_labels()}
        assert len(set(live.values())) == len(live) == len(index_) == len(cache)
        assert sorted(index_.flat.labels.tolist()) == sorted(live.values())
        if index_.hnsw is not None:
            assert len(index_.hnsw) == len(live)
        for i, key in enumerate(keys):
            found = {hit.key for hit in cache.search(fresh[i], k=5)}
            assert (key in found) == (i >= 30), key


# --- 2. settings ---------------------------------------------------------------------------


def settings_source(tmp_path: Path, clock: FakeClock) -> tuple[SemCache, Path, list[str]]:
    """An auto cache with non-default settings, dumped; returns it, the path and its keys
    from least to most recently used."""
    params = HNSWParams(m=8, ef_construction=40, ef_search=20, seed=3)
    cache = SemCache(
        ttl=60,
        max_entries=400,
        index="auto",
        hnsw_threshold=100,
        hnsw_params=params,
        clock=clock,
    )
    rng = np.random.default_rng(3)
    keys = [f"k/{i:03d}" for i in range(150)]
    cache.set_many(dict.fromkeys(keys, 1), vectors=rng.standard_normal((150, DIM)))
    for key in keys[:20]:  # read: now the most recently used
        cache.get(key)
    assert cache.backend.index_for("").wait_until_built(timeout=60)
    assert cache.backend.index_for("").kind == "hnsw"
    path = tmp_path / "settings.semcache"
    cache.dump(path)
    return cache, path, keys[20:] + keys[:20]


def test_from_snapshot_restores_the_settings(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    cache, path, _ = settings_source(tmp_path, clock)
    loaded = SemCache.from_snapshot(path, clock=clock)

    assert loaded.backend.settings() == {
        "index": "auto",
        "max_entries": 400,
        "hnsw_threshold": 100,
        "hnsw_params": [8, 40, 20, 3],
    }
    assert loaded.backend.settings() == cache.backend.settings()
    index = loaded.backend.index_for("")
    assert index.kind == "hnsw"
    assert index.hnsw.params == HNSWParams(m=8, ef_construction=40, ef_search=20, seed=3)
    # saved entries keep their expiry; new ones get the restored default TTL
    assert loaded.get_entry("k/000").expires_at == T0 + 60
    clock.advance(10)
    loaded.set("fresh", 1)
    assert loaded.get_entry("fresh").expires_at == T0 + 70
    # the restored threshold: a namespace gets its graph at 100 vectors, not 2,000
    rng = np.random.default_rng(4)
    loaded.set_many(
        {f"o/{i}": i for i in range(99)}, vectors=rng.standard_normal((99, DIM)), namespace="o"
    )
    assert loaded.backend.index_for("o").hnsw is None
    loaded.set("o/99", 99, vector=rng.standard_normal(DIM), namespace="o")
    assert loaded.backend.index_for("o").wait_until_built(timeout=60)
    assert loaded.backend.index_for("o").kind == "hnsw"
    # the restored LRU bound
    loaded.set_many({f"fill/{i:03d}": i for i in range(400)})
    assert len(loaded) == 400
    assert loaded.scan() == [f"fill/{i:03d}" for i in range(400)]


def test_from_snapshot_options_override_the_saved_settings(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    _, path, lru_order = settings_source(tmp_path, clock)
    calls: list[str] = []

    def embed(text: str) -> np.ndarray:
        calls.append(text)
        return np.arange(1, DIM + 1, dtype=np.float32)

    later = FakeClock(T0 + 10)
    loaded = SemCache.from_snapshot(
        path,
        embedder=embed,
        ttl=5,
        max_entries=50,
        index="flat",
        hnsw_threshold=7,
        hnsw_params=HNSWParams(m=4),
        clock=later,
    )
    assert loaded.backend.settings() == {
        "index": "flat",
        "max_entries": 50,
        "hnsw_threshold": 7,
        "hnsw_params": [4, 100, 64, 100],
    }
    index = loaded.backend.index_for("")
    assert index.kind == "flat" and index.hnsw is None  # the saved graph is not used
    # a smaller bound keeps the most recently used entries
    assert len(loaded) == 50
    assert loaded.scan() == sorted(lru_order[-50:])
    loaded.set("fresh", 1)
    assert loaded.get_entry("fresh").expires_at == T0 + 15
    assert loaded.get_entry(lru_order[-1]).expires_at == T0 + 60  # saved expiry kept
    loaded.put("p", "some text")
    assert calls == ["some text"]
    assert loaded.search(np.arange(1, DIM + 1), k=1)[0].key == "p"


def test_load_keeps_the_target_caches_own_settings(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    _, path, lru_order = settings_source(tmp_path, clock)

    target = SemCache(index="flat", max_entries=30, ttl=9, clock=clock)
    own = target.backend.settings()
    target.load(path)
    assert target.backend.settings() == own
    assert target.backend.index_for("").kind == "flat"
    assert target.backend.index_for("").hnsw is None
    assert target.scan() == sorted(lru_order[-30:])
    target.set("fresh", 1)
    assert target.get_entry("fresh").expires_at == T0 + 9

    # a snapshot without a graph, loaded into an hnsw cache: the graph is built afterwards
    flat_source = SemCache(index="flat", clock=clock)
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((200, DIM))
    flat_source.set_many({f"f/{i}": i for i in range(200)}, vectors=vectors)
    flat_path = tmp_path / "flat.semcache"
    flat_source.dump(flat_path)
    graph_target = SemCache(index="hnsw", clock=clock)
    graph_target.load(flat_path)
    index = graph_target.backend.index_for("")
    assert index.wait_until_built(timeout=60)
    assert index.kind == "hnsw" and len(index.hnsw) == 200
    for i in range(0, 200, 20):
        hit = graph_target.search(vectors[i], k=1)[0]
        assert hit.key == f"f/{i}" and hit.score == pytest.approx(1.0, abs=1e-5)


# --- 3. expiry at load time ----------------------------------------------------------------


@pytest.mark.parametrize("how", ["load", "from_snapshot"])
@pytest.mark.parametrize("index", ["flat", "hnsw"])
def test_entries_expired_at_load_time_are_not_loaded(tmp_path: Path, index: str, how: str) -> None:
    clock = FakeClock(T0)
    cache = SemCache(index=index, clock=clock)
    rng = np.random.default_rng(11)
    vectors = rng.standard_normal((60, DIM), dtype=np.float32)
    groups = {
        "short": (0, 20, 10),
        "edge": (20, 30, 15),
        "long": (30, 45, 20),
        "keep": (45, 60, None),
    }
    for name, (lo, hi, ttl) in groups.items():
        cache.set_many({f"{name}/{i}": i for i in range(lo, hi)}, vectors=vectors[lo:hi], ttl=ttl)
        cache.set(f"{name}/plain", name, ttl=ttl)  # no vector
    cache.set("keep/last", "last", vector=rng.standard_normal(DIM))
    cache.backend.index_for("").wait_until_built(timeout=60)
    path = tmp_path / "exp.semcache"
    cache.dump(path)  # at T0 everything is live
    assert len(cache) == 65

    load_clock = FakeClock(T0 + 15)  # "edge" expires exactly now: expires_at <= now
    if how == "load":
        loaded = SemCache(index=index, clock=load_clock)
        loaded.load(path)
    else:
        loaded = SemCache.from_snapshot(path, clock=load_clock)

    live = [f"long/{i}" for i in range(30, 45)] + [f"keep/{i}" for i in range(45, 60)]
    live += ["long/plain", "keep/plain", "keep/last"]
    gone = [f"short/{i}" for i in range(20)] + [f"edge/{i}" for i in range(20, 30)]
    gone += ["short/plain", "edge/plain"]
    assert loaded.scan() == sorted(live)
    assert len(loaded) == len(live)
    for key in gone:
        assert loaded.get(key) is None and loaded.get_entry(key) is None and key not in loaded
    # gone from the index too, so never found
    index_ = loaded.backend.index_for("")
    assert sorted(index_.flat.labels.tolist()) == sorted(
        label for _, _, label in loaded.backend.live_labels()
    )
    assert len(index_) == 31
    if index == "hnsw":
        assert index_.kind == "hnsw" and len(index_.hnsw) == 31
    for i in range(0, 30, 3):
        hits = loaded.search(vectors[i], k=60)
        assert len(hits) == 31
        assert all(h.key.startswith(("long/", "keep/")) for h in hits)
    # live entries keep their absolute expiry
    for i in range(30, 45):
        assert loaded.get_entry(f"long/{i}").expires_at == T0 + 20
    assert loaded.get_entry("keep/45").expires_at is None
    load_clock.advance(4.75)
    assert loaded.get("long/30") == 30
    load_clock.advance(0.25)
    assert loaded.get("long/30") is None
    assert loaded.scan() == sorted(
        [f"keep/{i}" for i in range(45, 60)] + ["keep/last", "keep/plain"]
    )
    assert {h.key for h in loaded.search(vectors[35], k=60)} == {
        f"keep/{i}" for i in range(45, 60)
    } | {"keep/last"}


# --- 4. LRU order --------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["load", "from_snapshot"])
def test_lru_order_survives_a_round_trip(tmp_path: Path, how: str) -> None:
    clock = FakeClock(T0)
    capacity = 40
    cache = SemCache(max_entries=capacity, index="flat", clock=clock)
    rng = np.random.default_rng(21)
    order: OrderedDict[str, None] = OrderedDict()  # least recently used first
    vectors = {}
    for i in range(capacity):
        key = f"k/{i:02d}"
        vector = rng.standard_normal(DIM) if i % 2 else None
        vectors[key] = vector
        cache.set(key, i, vector=vector)
        order[key] = None
    for i in rng.permutation(capacity)[:25]:  # reads refresh recency
        key = f"k/{int(i):02d}"
        assert cache.get(key) == int(i)
        order.move_to_end(key)
    for hit in cache.search(rng.standard_normal(DIM), k=4):  # so do search hits
        order.move_to_end(hit.key)
    cache.set("k/07", "replaced")  # and writes
    order.move_to_end("k/07")
    path = tmp_path / "lru.semcache"
    cache.dump(path)
    expected = list(order)
    assert expected != sorted(expected)  # the order is not the insertion order

    if how == "load":
        loaded = SemCache(max_entries=capacity, index="flat", clock=clock)
        loaded.load(path)
    else:
        loaded = SemCache.from_snapshot(path, clock=clock)
    for i in range(capacity):
        before = set(cache.scan())
        cache.set(f"new/{i:02d}", i)
        loaded.set(f"new/{i:02d}", i)
        assert before - set(cache.scan()) == {expected[i]}  # the original's eviction
        assert loaded.scan() == cache.scan()  # and the loaded cache's
    assert loaded.stats().evictions == capacity

    smaller = SemCache(max_entries=10)
    smaller.load(path)
    assert smaller.scan() == sorted(expected[-10:])


# --- 5. a loaded cache keeps working -------------------------------------------------------


def check_against_brute_force(
    cache: SemCache, reference: dict[str, np.ndarray], queries: np.ndarray, k: int = 10
) -> None:
    keys = list(reference)
    matrix = unit(np.stack([reference[key] for key in keys]))
    for query in queries:
        scores = matrix @ unit(query)
        order = np.argsort(-scores)[:k]
        hits = cache.search(query, k=k)
        assert len(hits) == k
        got = np.array([h.score for h in hits])
        np.testing.assert_allclose(got, scores[order], atol=1e-5)
        kth = scores[order[-1]]
        must = {keys[i] for i in order if scores[i] > kth + 1e-5}  # up to ties at the edge
        assert must <= {h.key for h in hits}


def test_loaded_flat_cache_keeps_working_and_matches_brute_force(tmp_path: Path) -> None:
    n = 4200  # >= 4096 rows: searches take the int8 first pass once the codes are computed
    rng = np.random.default_rng(31)
    vectors = rng.standard_normal((n, DIM), dtype=np.float32)
    cache = SemCache(index="flat")
    keys = [f"k/{i}" for i in range(n)]
    cache.set_many(
        dict(zip(keys, range(n))), vectors=vectors, metadatas=[{"odd": i % 2} for i in range(n)]
    )
    path = tmp_path / "big.semcache"
    cache.dump(path)

    loaded = SemCache.from_snapshot(path)
    index = loaded.backend.index_for("")
    assert index.wait_until_built(timeout=60)  # the background int8 coding finishes
    assert index.flat.uncoded == 0
    reference = dict(zip(keys, vectors))
    queries = rng.standard_normal((15, DIM)).astype(np.float32)
    check_against_brute_force(loaded, reference, queries)

    # grow beyond the restored rows, delete, overwrite
    extra = rng.standard_normal((700, DIM), dtype=np.float32)
    loaded.set_many({f"x/{i}": i for i in range(700)}, vectors=extra)
    reference.update(zip((f"x/{i}" for i in range(700)), extra))
    for i in range(0, n, 13):
        assert loaded.delete(keys[i])
        del reference[keys[i]]
    for i in range(5, n, 101):
        new = rng.standard_normal(DIM).astype(np.float32)
        loaded.set(keys[i], "moved", vector=new, metadata={"odd": 1})
        reference[keys[i]] = new
    assert len(index) == len(reference) == len(loaded)
    assert index.wait_until_built(timeout=60)
    check_against_brute_force(loaded, reference, queries)
    for i in range(0, 700, 70):
        hit = loaded.search(extra[i], k=1)[0]
        assert (hit.key, hit.value) == (f"x/{i}", i)
    for i in range(0, n, 13 * 20):
        assert keys[i] not in {h.key for h in loaded.search(vectors[i], k=5)}
    # filtered search against brute force over the matching entries
    odd = {k: v for k, v in reference.items() if loaded.get_entry(k).metadata.get("odd") == 1}
    matrix = unit(np.stack(list(odd.values())))
    for query in queries[:5]:
        hits = loaded.search(query, k=5, filters={"odd": 1})
        best = np.sort(matrix @ unit(query))[::-1][:5]
        np.testing.assert_allclose([h.score for h in hits], best, atol=1e-5)
        assert all(h.key in odd for h in hits)


def test_loaded_hnsw_cache_keeps_working(tmp_path: Path) -> None:
    rng = np.random.default_rng(41)
    n = 1500
    vectors = rng.standard_normal((n, DIM), dtype=np.float32)
    cache = SemCache(index="hnsw")
    cache.set_many({f"k/{i}": i for i in range(n)}, vectors=vectors)
    for i in range(9, n, 10):  # deleted slots, the newest vector's (k/1499) among them
        cache.delete(f"k/{i}")
    path = tmp_path / "graph.semcache"
    cache.dump(path)

    loaded = SemCache.from_snapshot(path)
    index = loaded.backend.index_for("")
    assert index.kind == "hnsw"
    reference = {f"k/{i}": vectors[i] for i in range(n) if i % 10 != 9}
    extra = rng.standard_normal((400, DIM), dtype=np.float32)  # reuses slots, then grows
    loaded.set_many({f"x/{i}": i for i in range(400)}, vectors=extra)
    reference.update({f"x/{i}": extra[i] for i in range(400)})
    for i in range(0, 400, 4):
        assert loaded.delete(f"x/{i}")
        del reference[f"x/{i}"]
    for i in range(1, n, 40):
        assert loaded.delete(f"k/{i}")
        del reference[f"k/{i}"]
    assert index.kind == "hnsw"
    assert len(index.hnsw) == len(index) == len(reference) == len(loaded)
    assert sorted(index.flat.labels.tolist()) == sorted(
        label for _, _, label in loaded.backend.live_labels()
    )
    for i in range(1, 400, 7):
        hits = loaded.search(extra[i], k=3)
        if i % 4:
            assert hits[0].key == f"x/{i}" and hits[0].score == pytest.approx(1.0, abs=1e-5)
        else:
            assert f"x/{i}" not in {h.key for h in hits}
    # recall against brute force
    keys = list(reference)
    matrix = unit(np.stack(list(reference.values())))
    found = 0
    queries = rng.standard_normal((20, DIM))
    for query in queries:
        truth = {keys[i] for i in np.argsort(-(matrix @ unit(query)))[:10]}
        found += len(truth & {h.key for h in loaded.search(query, k=10)})
    assert found / 200 >= 0.9


# --- 6. corruption -------------------------------------------------------------------------


def sample_snapshot(path: Path) -> bytes:
    """A small snapshot with every kind of section (two graphs, and namespace "C" without
    one), returned as bytes."""
    clock = FakeClock(T0)
    cache = SemCache(index="auto", hnsw_threshold=10, clock=clock)
    rng = np.random.default_rng(51)
    cache.set_many(
        {f"s/{i}": {"i": i} for i in range(60)},
        vectors=rng.standard_normal((60, 8)),
        metadatas=[{"g": i % 3} for i in range(60)],
        ttl=10_000,
    )
    cache.set_many(
        {f"b/{i}": i for i in range(12)}, vectors=rng.standard_normal((12, 8)), namespace="B"
    )
    cache.set_many(
        {f"c/{i}": i for i in range(5)}, vectors=rng.standard_normal((5, 8)), namespace="C"
    )
    cache.set("plain", b"raw")
    cache.delete("s/3")
    cache.set("s/last", "last", vector=rng.standard_normal(8))
    for namespace in ("", "B"):
        assert cache.backend.index_for(namespace).wait_until_built(timeout=60)
    cache.dump(path)
    return path.read_bytes()


class Target:
    """A cache holding its own content, and a way to check that it did not change."""

    def __init__(self) -> None:
        self.clock = FakeClock(T0)
        self.cache = SemCache(index="hnsw", clock=self.clock)
        rng = np.random.default_rng(61)
        self.cache.set_many(
            {f"t/{i}": f"value {i}" for i in range(30)},
            vectors=rng.standard_normal((30, 8)),
            metadatas=[{"g": i % 2} for i in range(30)],
        )
        self.cache.set("t/plain", [1, 2], ttl=100)
        self.keys = [*(f"t/{i}" for i in range(30)), "t/plain", "s/1", "plain"]
        self.queries = rng.standard_normal((3, 8)).astype(np.float32)
        self.before = self.observe()

    def observe(self) -> Any:
        c = self.cache
        return (
            len(c),
            c.namespaces(),
            c.scan(),
            c.dim,
            [canon_entry(c, key) for key in self.keys],
            [canon_hits(c.search(q, k=5)) for q in self.queries],
            [canon_hits(c.search(q, k=5, filters={"g": 1})) for q in self.queries],
            c.backend.index_for("").kind,
        )

    def assert_unchanged(self) -> None:
        assert self.observe() == self.before


def section_table(path: Path) -> list[tuple[str, int, int]]:
    with open_container(path) as container:
        return [(i.name, i.offset, i.length) for i in container.sections.values()]


def header_span(data: bytes) -> tuple[int, int]:
    _, _, at, length, _ = PREAMBLE.unpack_from(data)
    return at, length


def test_sample_snapshot_is_sound(tmp_path: Path) -> None:
    path = tmp_path / "s.semcache"
    data = sample_snapshot(path)
    table = section_table(path)
    assert [name for name, _, _ in table] == [
        "entries",
        "vectors",
        "labels",
        "graph/0/level0",
        "graph/0",
        "graph/1/level0",
        "graph/1",
    ]
    with open_container(path) as container:
        assert container.verify() == []
        assert container.kind == "snapshot"
        assert container.meta["dim"] is None  # no dim=: each namespace has its own
        assert container.meta["spaces"] == [
            ["", 60, True, 8],
            ["B", 12, True, 8],
            ["C", 5, False, 8],
        ]
        assert container.meta["entries"] == 78
    at, length = header_span(data)
    assert at + length == len(data)
    target = Target()
    target.cache.load(path)
    assert len(target.cache) == 78 and target.cache.get("plain") == b"raw"


def truncation_points(data: bytes, table: list[tuple[str, int, int]]) -> list[int]:
    at, _ = header_span(data)
    size = len(data)
    points = {0, 1, 2, 15, 16, 20, 35, 36, 63, 64, 65, at, at + 1, size - 2, size - 1}
    for _, offset, length in table:
        points |= {offset, offset + 1, offset + length // 2, offset + length - 1, offset + length}
    points |= {int(x) for x in np.linspace(0, size - 1, 25)}
    return sorted(p for p in points if 0 <= p < size)


def test_truncated_snapshots_raise_and_change_nothing(tmp_path: Path) -> None:
    good = tmp_path / "good.semcache"
    data = sample_snapshot(good)
    points = truncation_points(data, section_table(good))
    assert len(points) >= 50 and points[0] == 0 and points[-1] == len(data) - 1
    target = Target()
    bad = tmp_path / "bad.semcache"
    for cut in points:
        bad.write_bytes(data[:cut])
        with pytest.raises(SnapshotError) as info:
            target.cache.load(bad)
        if cut >= len(MAGIC):  # the signature is there: the rest is missing
            assert "truncated" in str(info.value), cut
        else:
            assert "not a semcache snapshot" in str(info.value), cut
        target.assert_unchanged()
        if cut % 3 == 0:
            with pytest.raises(SnapshotError):
                SemCache.from_snapshot(bad)


def flip_points(data: bytes, table: list[tuple[str, int, int]]) -> list[tuple[int, str]]:
    """(offset, region) pairs: every preamble field byte, spots inside each section and
    inside the header (padding between sections is not checksummed, so it is left out)."""
    rng = random.Random(71)
    # every byte of the 64-byte preamble: the signature, the fields and the zero padding
    preamble = list(range(64))
    points = [(offset, "preamble") for offset in preamble]
    for name, offset, length in table:
        assert length > 0, name
        inside = {offset, offset + 1, offset + length // 2, offset + length - 1}
        inside |= {rng.randrange(offset, offset + length) for _ in range(8)}
        points += [(p, name) for p in sorted(inside)]
    at, length = header_span(data)
    inside = {at, at + 1, at + length // 3, at + length // 2, at + length - 1}
    inside |= {rng.randrange(at, at + length) for _ in range(10)}
    points += [(p, "header") for p in sorted(inside)]
    return points


def test_flipped_bytes_raise_and_change_nothing(tmp_path: Path) -> None:
    good = tmp_path / "good.semcache"
    data = sample_snapshot(good)
    points = flip_points(data, section_table(good))
    assert len(points) >= 90
    target = Target()
    bad = tmp_path / "bad.semcache"
    for count, (offset, region) in enumerate(points):
        damaged = bytearray(data)
        damaged[offset] ^= 0xFF
        bad.write_bytes(damaged)
        with pytest.raises(SnapshotError) as info:
            target.cache.load(bad)
        message = str(info.value)
        if region == "header":
            assert "header fails its checksum" in message, offset
        elif region != "preamble":
            assert f"section {region!r} fails its checksum" in message, offset
        elif offset < len(MAGIC):
            assert "not a semcache snapshot" in message, offset
        elif offset < VERSION_AT + 4:
            assert f"version {PREAMBLE.unpack_from(damaged)[1]};" in message, offset
        target.assert_unchanged()
        if count % 4 == 0:
            with pytest.raises(SnapshotError):
                SemCache.from_snapshot(bad)
    # and the good file still loads
    target.cache.load(good)
    assert len(target.cache) == 78


@pytest.mark.parametrize("extra", [b"\x00", b"x" * 64, None], ids=["1", "64", "copy"])
def test_trailing_bytes_raise_and_change_nothing(tmp_path: Path, extra: bytes | None) -> None:
    good = tmp_path / "good.semcache"
    data = sample_snapshot(good)
    bad = tmp_path / "bad.semcache"
    bad.write_bytes(data + (data if extra is None else extra))
    target = Target()
    with pytest.raises(SnapshotError, match="trailing"):
        target.cache.load(bad)
    target.assert_unchanged()
    with pytest.raises(SnapshotError, match="trailing"):
        SemCache.from_snapshot(bad)


def foreign_files(tmp_path: Path) -> dict[str, bytes]:
    good = tmp_path / "good.semcache"
    data = sample_snapshot(good)
    return {
        "json": json.dumps({"keys": ["a"], "dim": 8}).encode(),
        "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64),
        "random": np.random.default_rng(81).bytes(4096),
        "empty": b"",
        "text": b"semcache snapshot\n" * 10,
        "crlf-damaged": data.replace(b"\r\n", b"\n"),  # a text-mode copy of a snapshot
    }


@pytest.mark.parametrize("kind", ["json", "png", "random", "empty", "text", "crlf-damaged"])
def test_foreign_files_are_not_snapshots(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.bin"
    path.write_bytes(foreign_files(tmp_path)[kind])
    target = Target()
    with pytest.raises(SnapshotError, match="is not a semcache snapshot"):
        target.cache.load(path)
    target.assert_unchanged()
    with pytest.raises(SnapshotError, match="is not a semcache snapshot"):
        SemCache.from_snapshot(path)


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, 7, 2**32 - 1, 0])
def test_other_format_versions_are_refused_by_number(tmp_path: Path, version: int) -> None:
    good = tmp_path / "good.semcache"
    data = bytearray(sample_snapshot(good))
    struct.pack_into("<I", data, VERSION_AT, version)  # nothing else recomputed
    assert PREAMBLE.unpack_from(data)[1] == version
    path = tmp_path / "future.semcache"
    path.write_bytes(data)
    target = Target()
    with pytest.raises(SnapshotError, match=f"version {version};") as info:
        target.cache.load(path)
    assert f"reads version {FORMAT_VERSION}" in str(info.value)
    target.assert_unchanged()
    with pytest.raises(SnapshotError, match=f"version {version};"):
        SemCache.from_snapshot(path)


def test_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    target = Target()
    missing = tmp_path / "nope.semcache"
    with pytest.raises(FileNotFoundError) as info:
        target.cache.load(missing)
    assert not isinstance(info.value, SemCacheError)
    target.assert_unchanged()
    with pytest.raises(FileNotFoundError):
        SemCache.from_snapshot(missing)
    assert SnapshotError.__mro__[1:3] == (SemCacheError, ValueError)


# --- 7. dimensions -------------------------------------------------------------------------


def test_loading_another_dimension_into_a_fixed_dim_cache(tmp_path: Path) -> None:
    rng = np.random.default_rng(91)
    source = SemCache()
    vectors64 = rng.standard_normal((10, 64))
    source.set_many({f"w/{i}": i for i in range(10)}, vectors=vectors64)
    path = tmp_path / "d64.semcache"
    source.dump(path)

    target = SemCache(dim=32)
    target.set_many({f"n/{i}": i for i in range(5)}, vectors=rng.standard_normal((5, 32)))
    target.set("n/plain", "p")
    query = rng.standard_normal(32)
    before = (target.scan(), canon_hits(target.search(query, k=5)), target.dim)
    with pytest.raises(SnapshotError) as info:
        target.load(path)
    message = str(info.value)
    assert "dimension 64" in message and "dim=32" in message
    assert (target.scan(), canon_hits(target.search(query, k=5)), target.dim) == before
    target.set("n/more", 1, vector=rng.standard_normal(32))  # still a 32-dim cache
    assert len(target) == 7

    fits = SemCache(dim=64)  # the same file fits a 64-dim cache
    fits.load(path)
    assert fits.search(vectors64[3], k=1)[0].key == "w/3"


# --- 8. atomic writes ----------------------------------------------------------------------


def test_dump_over_an_existing_snapshot_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "c.semcache"
    first = SemCache()
    first.set("a", 1, vector=np.ones(4))
    first.dump(path)
    assert os.listdir(tmp_path) == ["c.semcache"]
    second = SemCache()
    second.set("b", 2, vector=np.arange(1, 5))
    second.set("c", 3)
    second.dump(path)
    assert os.listdir(tmp_path) == ["c.semcache"]
    loaded = SemCache.from_snapshot(path)
    assert loaded.scan() == ["b", "c"]
    second.dump(tmp_path / "d.semcache")
    assert sorted(os.listdir(tmp_path)) == ["c.semcache", "d.semcache"]


def test_failed_dump_removes_its_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = SemCache()
    cache.set("a", 1, vector=np.ones(4))

    def full_disk(source: Any, target: Any) -> None:  # the rename is the last step
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        cache.dump(tmp_path / "snap.semcache")
    assert os.listdir(tmp_path) == []


CHILD = """
import sys
import numpy as np
from semcache_core import SemCache

rng = np.random.default_rng(0)
cache = SemCache(index="flat")
rows = 12_000
cache.set_many(
    {f"big/{i}": i for i in range(rows)},
    vectors=rng.standard_normal((rows, 512), dtype=np.float32),
)
print("dumping", flush=True)
while True:
    cache.dump(sys.argv[1])
"""


def test_dump_killed_mid_write_leaves_a_complete_snapshot(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    original = SemCache(clock=clock)
    rng = np.random.default_rng(101)
    original.set_many({f"old/{i}": i for i in range(20)}, vectors=rng.standard_normal((20, 512)))
    path = tmp_path / "live.semcache"
    queries = rng.standard_normal((2, 512)).astype(np.float32)
    keys = [f"old/{i}" for i in range(20)]
    expected = observe(original, keys, queries)
    src = str(Path(semcache_core.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])),
    }
    pause = random.Random(103)
    outcomes = []
    for longest in (0.003, 0.003, 0.01, 0.03, 0.06):  # the first dump takes tens of ms
        original.dump(path)  # the previous snapshot, in place before every attempt
        with subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        ) as child:
            try:
                line = child.stdout.readline()
                if line != "dumping\n":
                    child.kill()
                    pytest.fail(f"child did not start: {line!r} {child.stderr.read()}")
                deadline = time.monotonic() + 30
                while not temp_files(tmp_path) and time.monotonic() < deadline:
                    time.sleep(0.0002)  # the temporary file appears: the write has begun
                time.sleep(pause.uniform(0, longest))
                child.send_signal(signal.SIGKILL)
            finally:
                child.kill()
                child.wait()
        assert child.returncode == -signal.SIGKILL
        leftovers = temp_files(tmp_path)
        assert all(name.startswith(".live.semcache.") for name in leftovers)
        assert sorted(os.listdir(tmp_path)) == sorted(["live.semcache", *leftovers])
        # the file at the path is the previous snapshot or a complete new one
        loaded = SemCache.from_snapshot(path, clock=clock)
        outcomes.append((bool(leftovers), len(loaded)))
        if len(loaded) == 20:
            assert observe(loaded, keys, queries) == expected
        else:
            assert len(loaded) == 12_000 and loaded.get("big/11999") == 11_999
            with open_container(path) as container:
                assert container.verify() == []
        for name in leftovers:
            (tmp_path / name).unlink()
    # at least one kill landed in the middle of the first write, which left the old file
    assert (True, 20) in outcomes, outcomes


# --- 9. async twins ------------------------------------------------------------------------


async def test_adump_and_aload(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    cache, probe, queries = build_rich_cache("auto", clock)
    path = tmp_path / "a.semcache"
    await cache.adump(path)
    assert temp_files(tmp_path) == []
    loaded = SemCache(index="auto", hnsw_threshold=300, clock=clock)
    await loaded.aload(path)
    assert loaded.backend.index_for("").kind == "hnsw"
    assert observe(loaded, probe, queries) == observe(cache, probe, queries)

    before = observe(loaded, probe, queries)
    bad = tmp_path / "bad.semcache"
    bad.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(SnapshotError, match="truncated"):
        await loaded.aload(bad)
    with pytest.raises(FileNotFoundError):
        await loaded.aload(tmp_path / "missing.semcache")
    assert observe(loaded, probe, queries) == before


# --- 10. CRC-valid files with garbage fields -----------------------------------------------


def read_parts(path: Path) -> tuple[dict[str, Any], dict[str, bytes], dict[str, Any]]:
    with open_container(path) as container:
        meta = dict(container.meta)
        sections = {name: bytes(container.section(name)) for name in container.sections}
    return meta, sections, msgpack.unpackb(sections["entries"], raw=False)


def with_entries(sections: dict[str, bytes], entries: dict[str, Any], **changes: Any) -> dict:
    return {**sections, "entries": msgpack.packb({**entries, **changes}, use_bin_type=True)}


GARBAGE: dict[str, Callable[[dict, dict, dict], tuple[str, dict, dict]]] = {
    "junk entries": lambda m, s, e: ("snapshot", {"dim": 4}, {"entries": b"junk"}),
    "entries not a map": lambda m, s, e: ("snapshot", m, {**s, "entries": msgpack.packb([1])}),
    "another kind": lambda m, s, e: ("directory", m, s),
    "dim too small": lambda m, s, e: ("snapshot", {**m, "dim": 7}, s),
    "dim not a number": lambda m, s, e: ("snapshot", {**m, "dim": "x"}, s),
    "spaces miscounted": lambda m, s, e: ("snapshot", {**m, "spaces": [["", 60, True]]}, s),
    "no spaces": lambda m, s, e: ("snapshot", {k: v for k, v in m.items() if k != "spaces"}, s),
    "keys repeat": lambda m, s, e: ("snapshot", m, with_entries(s, e, keys=["k"] * len(e["keys"]))),
    "keys not str": lambda m, s, e: (
        "snapshot",
        m,
        with_entries(s, e, keys=list(range(len(e["keys"])))),
    ),
    "namespace number out of range": lambda m, s, e: (
        "snapshot",
        m,
        with_entries(s, e, namespace=[99] * len(e["keys"])),
    ),
    "column too short": lambda m, s, e: (
        "snapshot",
        m,
        with_entries(s, e, values=e["values"][:-1]),
    ),
    "labels of no vector": lambda m, s, e: (
        "snapshot",
        m,
        with_entries(s, e, labels=[None if x is None else x + 1000 for x in e["labels"]]),
    ),
    "expiry not a number": lambda m, s, e: (
        "snapshot",
        m,
        with_entries(s, e, expires_at=["soon"] * len(e["keys"])),
    ),
    "empty value blobs": lambda m, s, e: (
        "snapshot",
        m,
        with_entries(s, e, values=[b""] * len(e["keys"])),
    ),
    "undecodable scalar values": lambda m, s, e: (
        "snapshot",
        m,
        with_entries(s, e, values=[b"\xc1"] * len(e["keys"])),
    ),
    "graph junk": lambda m, s, e: ("snapshot", m, {**s, "graph/0": b"junk"}),
    "graph missing": lambda m, s, e: (
        "snapshot",
        m,
        {k: v for k, v in s.items() if k != "graph/1"},
    ),
    "vectors short": lambda m, s, e: ("snapshot", m, {**s, "vectors": s["vectors"][:-4]}),
    "labels repeat": lambda m, s, e: (
        "snapshot",
        m,
        {**s, "labels": bytes(len(s["labels"]))},
    ),
    "graphs swapped": lambda m, s, e: (
        "snapshot",
        m,
        {**s, "graph/0": s["graph/1"], "graph/1": s["graph/0"]},
    ),
    "graph link out of range": lambda m, s, e: (
        "snapshot",
        m,
        {**s, "graph/0/level0": level0_with(s, 0, at=4, raw=np.uint32(10**9).tobytes())},
    ),
    "graph slot marked deleted": lambda m, s, e: (
        "snapshot",
        m,
        {**s, "graph/1/level0": level0_with(s, 1, at=2, raw=b"\x01")},
    ),
    "graph slot label changed": lambda m, s, e: (
        "snapshot",
        m,
        {**s, "graph/1/level0": level0_with(s, 1, at=-8, raw=np.int64(999).tobytes())},
    ),
    "level0 short": lambda m, s, e: (
        "snapshot",
        m,
        {**s, "graph/0/level0": s["graph/0/level0"][:-1]},
    ),
    "level0 missing": lambda m, s, e: (
        "snapshot",
        m,
        {k: v for k, v in s.items() if k != "graph/1/level0"},
    ),
    "labels in another order": lambda m, s, e: (
        "snapshot",
        m,
        {**s, "labels": np.frombuffer(s["labels"], np.int64)[::-1].tobytes()},
    ),
    "next label not an int": lambda m, s, e: ("snapshot", m, with_entries(s, e, next_label="x")),
    "next label huge": lambda m, s, e: ("snapshot", m, with_entries(s, e, next_label=2**63 - 1)),
    "next label a float": lambda m, s, e: ("snapshot", m, with_entries(s, e, next_label=1e300)),
    "metadata not maps": lambda m, s, e: (
        "snapshot",
        m,
        with_entries(s, e, metadata=[b"\x01"] * len(e["keys"])),
    ),
    "values not one object each": lambda m, s, e: (
        "snapshot",
        m,
        with_entries(s, e, values=[b"\x91\xc1"] * len(e["keys"])),
    ),
}


def level0_with(sections: dict[str, bytes], space: int, at: int, raw: bytes) -> bytes:
    """Graph ``space``'s level-0 block with ``raw`` written at offset ``at`` of its first
    slot (negative: from the slot's end). At 4, a link: a billion slots away, hnswlib
    would follow it straight out of its memory."""
    size = decode(sections[f"graph/{space}"])["size_data_per_element"]
    slots = bytearray(sections[f"graph/{space}/level0"])
    start = at % size
    slots[start : start + len(raw)] = raw
    return bytes(slots)


@pytest.mark.parametrize("name", list(GARBAGE))
def test_checksummed_garbage_raises_snapshot_error(tmp_path: Path, name: str) -> None:
    good = tmp_path / "good.semcache"
    sample_snapshot(good)
    kind, meta, sections = GARBAGE[name](*read_parts(good))
    bad = tmp_path / "bad.semcache"
    write_container(bad, kind, meta, sections)
    with open_container(bad) as container:  # every CRC holds: only the content is wrong
        assert container.verify() == []
    target = Target()
    with pytest.raises(SnapshotError):
        target.cache.load(bad)
    target.assert_unchanged()
    with pytest.raises(SnapshotError):
        SemCache.from_snapshot(bad)


def test_a_graph_state_must_hold_exactly_the_given_labels() -> None:
    index = HNSWIndex(8)
    index.add(np.arange(20), unit(np.random.default_rng(3).standard_normal((20, 8))).astype("f4"))
    index.remove(np.array([4]))
    state = index.graph_state()
    live = np.array([label for label in range(20) if label != 4])
    rebuilt = HNSWIndex.from_graph_state(8, None, state, live[::-1])  # any order
    assert rebuilt.live_labels == set(live.tolist())
    for labels in (live[1:], np.append(live, 4), np.append(live[1:], 99)):
        with pytest.raises(ValueError, match="does not hold the saved labels"):
            HNSWIndex.from_graph_state(8, None, state, labels)


def test_a_graph_state_is_the_callers_own_copy() -> None:
    vectors = unit(np.random.default_rng(5).standard_normal((30, 8))).astype("f4")
    index = HNSWIndex(8)
    index.add(np.arange(30), vectors)

    def answers() -> list[list[int]]:
        return [index.search(v, 3)[0].tolist() for v in vectors[:5]]

    before = answers()
    state = index.graph_state()
    state["data_level0"][:] = 0  # a snapshot writer may scrub or reuse it
    assert answers() == before
    assert index.graph_state()["data_level0"].any()


def test_ids_past_a_link_lists_size_are_ignored(tmp_path: Path) -> None:
    """hnswlib reads only ``size`` links of a list: a stale id past it is no reason to refuse
    a snapshot (the bounds check looks closer before it refuses one)."""
    good = tmp_path / "good.semcache"
    sample_snapshot(good)
    meta, sections, _ = read_parts(good)
    graph = decode(sections["graph/0"])
    room, size = graph["max_M0"], graph["size_data_per_element"]
    slots = np.frombuffer(sections["graph/0/level0"], np.uint8).reshape(-1, size)
    lengths = slots[:, :2].copy().view(np.uint16).ravel()
    slot = int(np.flatnonzero(lengths < room)[0])  # a slot with room left in its list
    at = slot * size + 4 + 4 * int(lengths[slot])
    far = bytearray(sections["graph/0/level0"])
    far[at : at + 4] = np.uint32(10**9).tobytes()
    bad_link = bytearray(far)
    at_used = slot * size + 4  # the list's first link, which hnswlib does follow
    bad_link[at_used : at_used + 4] = np.uint32(10**9).tobytes()
    write_container(
        tmp_path / "far.semcache", "snapshot", meta, {**sections, "graph/0/level0": bytes(far)}
    )
    loaded = SemCache.from_snapshot(tmp_path / "far.semcache", clock=FakeClock(T0))
    assert loaded.backend.index_for("").kind == "hnsw" and len(loaded.search(np.ones(8), 5)) == 5
    write_container(
        tmp_path / "bad.semcache", "snapshot", meta, {**sections, "graph/0/level0": bytes(bad_link)}
    )
    with pytest.raises(SnapshotError, match="link outside"):
        SemCache.from_snapshot(tmp_path / "bad.semcache", clock=FakeClock(T0))


SETTINGS_GARBAGE = {
    "index": "bogus",
    "hnsw_params": "x",
    "ttl": -5,
    "max_entries": 0,
    "hnsw_threshold": "many",
}


@pytest.mark.parametrize("name", list(SETTINGS_GARBAGE))
def test_from_snapshot_refuses_settings_no_cache_accepts(tmp_path: Path, name: str) -> None:
    good = tmp_path / "good.semcache"
    sample_snapshot(good)
    meta, sections, _ = read_parts(good)
    bad = tmp_path / "bad.semcache"
    write_container(bad, "snapshot", {**meta, name: SETTINGS_GARBAGE[name]}, sections)
    with pytest.raises(SnapshotError, match="settings no cache accepts"):
        SemCache.from_snapshot(bad)
    target = Target()
    target.cache.load(bad)  # load keeps the target's own settings: the content is fine
    assert len(target.cache) == 78


def test_from_snapshot_with_short_hnsw_params_is_refused(tmp_path: Path) -> None:
    good = tmp_path / "good.semcache"
    sample_snapshot(good)
    meta, sections, _ = read_parts(good)
    write_container(good, "snapshot", {**meta, "hnsw_params": [1, 2]}, sections)
    with pytest.raises(SnapshotError, match="hnsw_params"):
        SemCache.from_snapshot(good)


def test_from_snapshot_dim_option_must_match_the_vectors(tmp_path: Path) -> None:
    path = tmp_path / "s.semcache"
    sample_snapshot(path)
    assert SemCache.from_snapshot(path, dim=8).dim == 8
    with pytest.raises(SnapshotError, match=r"dimension 8.*dim=64"):
        SemCache.from_snapshot(path, dim=64)


def test_a_fixed_dim_without_vectors_survives_a_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "s.semcache"
    cache = SemCache(dim=8)
    cache.set("no vector", 1)
    cache.dump(path)
    loaded = SemCache.from_snapshot(path)
    assert loaded.dim == 8 and loaded.get("no vector") == 1
    with pytest.raises(ValueError, match="dimension 4"):
        loaded.set("wrong", 1, vector=np.ones(4))


# --- 11. the container ---------------------------------------------------------------------


def container_sections() -> dict[str, Any]:
    return {
        "text": b"hello",
        "empty": b"",
        "floats": np.arange(100, dtype=np.float32).reshape(25, 4),
        "ints": np.arange(-7, 7, dtype=np.int64),
        "aligned": bytearray(range(64)),
        "view": memoryview(b"xyz" * 101),
        "odd/name ü": np.random.default_rng(111).bytes(1000),
    }


def test_container_sections_come_back_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "c.bin"
    sections = container_sections()
    meta = {"dim": 3, "nested": {"x": [1, 2.5, None]}, "name": "ü"}
    size = write_container(path, "thing", meta, sections)
    assert size == path.stat().st_size
    assert os.listdir(tmp_path) == ["c.bin"]
    data = path.read_bytes()
    assert data.startswith(MAGIC)
    with open_container(path) as container:
        assert container.kind == "thing"
        assert container.meta == meta
        assert list(container.sections) == list(sections)
        for name, original in sections.items():
            raw = original.tobytes() if isinstance(original, np.ndarray) else bytes(original)
            info = container.sections[name]
            assert info.offset % 64 == 0 and info.length == len(raw)
            assert data[info.offset : info.offset + info.length] == raw
            assert bytes(container.section(name)) == raw
        assert container.verify() == []
        with pytest.raises(SnapshotError, match="lacks the 'missing' section"):
            container.section("missing")
    floats = np.frombuffer(open_container_section(path, "floats"), dtype=np.float32)
    np.testing.assert_array_equal(floats.reshape(25, 4), sections["floats"])


def open_container_section(path: Path, name: str) -> bytes:
    with open_container(path) as container:
        return bytes(container.section(name))


def test_verify_names_the_damaged_section(tmp_path: Path) -> None:
    path = tmp_path / "c.bin"
    sections = container_sections()
    write_container(path, "thing", {}, sections)
    data = path.read_bytes()
    table = section_table(path)
    damaged_path = tmp_path / "damaged.bin"
    for name, offset, length in table:
        if length == 0:
            continue
        for spot in (offset, offset + length // 2, offset + length - 1):
            damaged = bytearray(data)
            damaged[spot] ^= 0x01
            damaged_path.write_bytes(damaged)
            with open_container(damaged_path) as container:
                assert container.verify() == [name], (name, spot)
                with pytest.raises(SnapshotError, match=f"section {name!r} fails its checksum"):
                    container.section(name)
                for other, *_ in table:  # the others still read back intact
                    if other != name:
                        raw = container.section(other)
                        start = container.sections[other].offset
                        assert bytes(raw) == data[start : start + len(raw)]


def test_snapshot_sections_are_plain_data(tmp_path: Path) -> None:
    """The snapshot's sections hold the vectors as raw float32 rows and labels as int64."""
    rng = np.random.default_rng(121)
    vectors = rng.standard_normal((5, 8)).astype(np.float32)
    cache = SemCache(index="flat")
    cache.set_many({f"k/{i}": i for i in range(5)}, vectors=vectors)
    path = tmp_path / "p.semcache"
    cache.dump(path)
    with open_container(path) as container:
        stored = np.frombuffer(container.section("vectors"), dtype=np.float32).reshape(5, 8)
        labels = np.frombuffer(container.section("labels"), dtype=np.int64)
        entries = msgpack.unpackb(container.section("entries"), raw=False)
        assert container.meta["spaces"] == [["", 5, False, 8]]
        assert container.meta["dim"] is None
    np.testing.assert_allclose(stored, unit(vectors), atol=1e-6)
    assert labels.tolist() == [0, 1, 2, 3, 4]
    assert entries["keys"] == [f"k/{i}" for i in range(5)]
    assert entries["labels"] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("index", ["flat", "hnsw"])
def test_the_vectors_can_be_memory_mapped_straight_from_the_file(
    tmp_path: Path, index: str
) -> None:
    """Flat: one raw float32 block. With a graph: raw float32 at a fixed stride inside the
    graph's level-0 block (hnswlib's slots), so a strided map reads them without a copy."""
    rng = np.random.default_rng(122)
    vectors = unit(rng.standard_normal((40, 8))).astype(np.float32)
    cache = SemCache(index=index)  # type: ignore[arg-type]
    cache.set_many({f"k/{i}": i for i in range(40)}, vectors=vectors)
    assert cache.backend.index_for("").wait_until_built(timeout=60)
    path = tmp_path / "m.semcache"
    cache.dump(path)
    with open_container(path) as container:
        sections = container.sections
        graph = decode(container.section("graph/0")) if index == "hnsw" else None
    mapped = np.memmap(path, dtype=np.uint8, mode="r")
    if graph is None:
        at = sections["vectors"].offset
        rows = np.ndarray((40, 8), np.float32, buffer=mapped, offset=at)
    else:
        at = sections["graph/0/level0"].offset + graph["offset_data"]
        stride = graph["size_data_per_element"]
        rows = np.ndarray((40, 8), np.float32, buffer=mapped, offset=at, strides=(stride, 4))
        label_at = sections["graph/0/level0"].offset + graph["label_offset"]
        slot_labels = np.ndarray((40,), np.int64, buffer=mapped, offset=label_at, strides=(stride,))
        rows = rows[np.argsort(slot_labels)]  # slots in the graph's order; labels 0..39
    np.testing.assert_allclose(rows, vectors, atol=1e-6)
