"""Persistence, found in review: the LRU order of reads in durable mode, and snapshot,
checkpoint and journal content that passes its checksums but was never written by semcache
(NaN expiry, odd header types, a huge HNSW capacity, metadata and values ``set`` refuses,
non-finite vectors, malformed journal records). Each test failed before its fix.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from isal.isal_zlib import crc32

from semcache_core import DurableBackend, Entry, LocalBackend, SemCache, SnapshotError
from semcache_core.codec import decode, encode
from semcache_core.errors import InvalidArgumentError, InvalidValueError
from semcache_core.index.hnsw import HNSWIndex
from semcache_core.index.hybrid import IndexMode
from semcache_core.persist.container import (
    _PREAMBLE,
    FORMAT_VERSION,
    MAGIC,
    open_container,
    write_container,
)
from semcache_core.persist.durable import CHECKPOINT_FILE
from semcache_core.persist.journal import ENTRY_PREFIX, entry_id, open_journal

NOW = 1_000_000.0
MAX_ENTRIES = 3


def clock() -> float:
    return NOW


# --- helpers: rewrite a valid file with valid checksums ---------------------------------


def read_all(path: Path) -> tuple[str, dict[str, Any], dict[str, bytes]]:
    with open_container(path) as container:
        sections = {name: bytes(container.section(name)) for name in container.sections}
        return container.kind, dict(container.meta), sections


def rewrite(
    src: Path,
    dst: Path,
    columns: Callable[[dict[str, Any]], None] | None = None,
    sections: Callable[[dict[str, bytes]], None] | None = None,
    meta: Callable[[dict[str, Any]], None] | None = None,
) -> Path:
    """``src`` with its entry columns, sections or meta changed, checksums made valid."""
    kind, saved_meta, saved = read_all(src)
    if columns is not None:
        table = msgpack.unpackb(saved["entries"], raw=False)
        columns(table)
        saved["entries"] = msgpack.packb(table, use_bin_type=True)
    if sections is not None:
        sections(saved)
    if meta is not None:
        meta(saved_meta)
    write_container(dst, kind, saved_meta, saved)
    return dst


def durable(cache: SemCache) -> DurableBackend:
    assert isinstance(cache.backend, DurableBackend)
    return cache.backend


def entry(cache: SemCache, key: str) -> Entry:
    found = cache.get_entry(key)
    assert found is not None
    return found


def base_snapshot(tmp_path: Path, index: IndexMode = "flat") -> Path:
    """A snapshot of two entries with vectors ("a" with metadata and a TTL) and one without."""
    cache = SemCache(index=index, clock=clock)
    cache.set("a", {"x": 1}, vector=[1, 0, 0], metadata={"m": 1}, ttl=100)
    cache.set("b", "two", vector=[0, 1, 0])
    cache.set("c", 3)
    path = tmp_path / "base.semcache"
    cache.dump(path)
    return path


def target() -> SemCache:
    """A cache with content of its own: a refused load must leave it as it was."""
    cache = SemCache(clock=clock)
    cache.set("keep", "me", vector=[0.0, 0.0, 1.0])
    return cache


def assert_refused(path: Path, *words: str) -> None:
    """Loading ``path`` raises SnapshotError naming ``words``; the target is unchanged."""
    cache = target()
    with pytest.raises(SnapshotError) as caught:
        cache.load(path)
    for word in words:
        assert word in str(caught.value)
    assert cache.scan() == ["keep"] and cache.get("keep") == "me"
    with pytest.raises(SnapshotError):
        SemCache.from_snapshot(path, clock=clock)


def column_at(name: str, row: int, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(columns: dict[str, Any]) -> None:
        columns[name][columns["keys"].index("abc"[row])] = value

    return change


# --- 1: durable mode keeps the LRU order of reads across a clean close ------------------


def test_a_read_only_session_keeps_its_lru_order(tmp_path: Path) -> None:
    """close() skipped its checkpoint when nothing was written: the read was forgotten."""
    with SemCache(path=tmp_path, max_entries=MAX_ENTRIES) as cache:
        for key in "abc":
            cache.set(key, key)
    with SemCache(path=tmp_path, max_entries=MAX_ENTRIES) as cache:
        assert cache.get("a") == "a"
    with SemCache(path=tmp_path, max_entries=MAX_ENTRIES) as cache:
        cache.set("d", "d")
        assert sorted(cache.scan()) == ["a", "c", "d"]


def test_reads_write_nothing_until_close_and_idle_sessions_write_nothing(tmp_path: Path) -> None:
    """Recency is saved cheaply: not on each read, only by close() (or checkpoint())."""
    checkpoint = tmp_path / CHECKPOINT_FILE
    with SemCache(path=tmp_path, max_entries=MAX_ENTRIES) as cache:
        cache.set("a", 1)
        cache.set("b", 2)
    with SemCache(path=tmp_path, max_entries=MAX_ENTRIES):
        pass  # neither reads nor writes
    saved = checkpoint.stat()
    cache = SemCache(path=tmp_path, max_entries=MAX_ENTRIES)
    for _ in range(5):
        cache.get("a")
    assert checkpoint.stat().st_mtime_ns == saved.st_mtime_ns
    assert checkpoint.stat().st_ino == saved.st_ino
    assert durable(cache).checkpoint() is True  # an explicit checkpoint saves the order
    assert durable(cache).checkpoint() is False  # and then nothing is left to save
    cache.close()
    assert checkpoint.stat().st_ino != saved.st_ino


def test_an_unbounded_cache_read_only_rewrites_nothing_on_close(tmp_path: Path) -> None:
    """Without ``max_entries`` the LRU order evicts nothing: a read-only session must not
    rewrite a whole checkpoint on close."""
    checkpoint = tmp_path / CHECKPOINT_FILE
    with SemCache(path=tmp_path) as cache:
        cache.set("a", 1)
    saved = checkpoint.stat()
    with SemCache(path=tmp_path) as cache:
        assert cache.get("a") == 1
    assert checkpoint.stat().st_ino == saved.st_ino


KEYS = st.sampled_from("abcd")  # one more than the bound: writes evict
READ = st.tuples(st.just("get"), KEYS)
WRITE = st.tuples(st.just("set"), KEYS)
SESSIONS = st.lists(  # each session on a reopened cache; some of them read only
    st.one_of(st.lists(READ, min_size=1, max_size=4), st.lists(READ | WRITE, max_size=6)),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sessions=SESSIONS)
@example(sessions=[[("get", "a")], [("set", "d")]])  # the review's case
def test_reads_and_writes_across_reopens_evict_as_one_memory_cache(
    tmp_path_factory: pytest.TempPathFactory, sessions: list[list[tuple[str, str]]]
) -> None:
    """Sessions of reads and writes, each closed and reopened, hold what one in-memory
    cache given the same calls holds after each call (a first session fills it)."""
    directory = tmp_path_factory.mktemp("lru")
    reference = SemCache(max_entries=MAX_ENTRIES)
    number = 0
    for session in [[("set", "a"), ("set", "b"), ("set", "c")], *sessions]:
        with SemCache(path=directory, max_entries=MAX_ENTRIES) as durable:
            for operation, key in session:
                number += 1
                if operation == "set":
                    reference.set(key, number)
                    durable.set(key, number)
                else:
                    assert durable.get(key) == reference.get(key)
                assert sorted(durable.scan()) == sorted(reference.scan())
    with SemCache(path=directory, max_entries=MAX_ENTRIES) as durable:
        assert sorted(durable.scan()) == sorted(reference.scan())


# --- 2: non-finite expiry times ---------------------------------------------------------


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(expiry=st.one_of(st.floats(), st.sampled_from([math.nan, math.inf, -math.inf])))
def test_a_snapshot_loads_an_expiry_only_when_it_is_a_finite_time(
    tmp_path_factory: pytest.TempPathFactory, expiry: float
) -> None:
    """A NaN expiry loaded and stalled the expiry of every other entry."""
    tmp_path = tmp_path_factory.mktemp("expiry")
    crafted = rewrite(
        base_snapshot(tmp_path), tmp_path / "x.semcache", column_at("expires_at", 0, expiry)
    )
    if not math.isfinite(expiry):
        assert_refused(crafted, "expires_at")
        return
    cache = SemCache.from_snapshot(crafted, clock=clock)
    assert ("a" in cache.scan()) == (expiry > NOW)


# --- 3: a huge HNSW capacity in a tiny file ----------------------------------------------


def test_a_graph_claiming_a_huge_capacity_loads_right_sized(tmp_path: Path) -> None:
    """hnswlib allocated every one of max_elements' slots: gigabytes for a 6 kB file."""
    rng = np.random.default_rng(0)
    cache = SemCache(index="hnsw", clock=clock)
    vectors = rng.standard_normal((20, 8)).astype(np.float32)
    cache.set_many({f"k{i}": i for i in range(20)}, vectors=vectors)
    source = tmp_path / "graph.semcache"
    cache.dump(source)

    def huge(sections: dict[str, bytes]) -> None:
        graph = decode(sections["graph/0"])
        graph["max_elements"] = 10**6
        sections["graph/0"] = encode(graph)

    crafted = rewrite(source, tmp_path / "huge.semcache", sections=huge)
    loaded = SemCache(index="hnsw", clock=clock)
    loaded.load(crafted)
    assert isinstance(loaded.backend, LocalBackend)
    index = loaded.backend.index_for("")
    assert index is not None and index.hnsw is not None
    graph = index.hnsw._graph
    assert graph.get_max_elements() <= 2 * 20 + 16
    assert [hit.key for hit in loaded.search(vectors[3], k=1)] == ["k3"]
    more = rng.standard_normal((100, 8)).astype(np.float32)
    loaded.set_many({f"n{i}": i for i in range(100)}, vectors=more)  # grows as needed
    assert [hit.key for hit in loaded.search(more[50], k=1)] == ["n50"]


def test_a_graph_state_whose_level_table_outgrows_its_capacity_is_resized() -> None:
    """hnswlib copies element_levels whole into a table of max_elements levels."""
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((20, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = HNSWIndex(8, capacity=1000)
    index.add(np.arange(20), vectors)
    state = index.graph_state()
    assert len(state["element_levels"]) == 1000
    for claimed in (20, 40, 10**12):
        restored = HNSWIndex.from_graph_state(
            8, None, {**state, "max_elements": claimed}, np.arange(20)
        )
        assert 20 <= restored._graph.get_max_elements() <= min(claimed, 56)
        assert restored.search(vectors[7], k=1)[0].tolist() == [7]


# --- 4: header fields of the wrong type -------------------------------------------------


def craft_header(path: Path, header: dict[str, Any], body: bytes = b"x") -> Path:
    """A container whose header is ``header`` (valid CRC), with one 64-byte section."""
    body = body.ljust(64, b"\0")
    packed = msgpack.packb(header, use_bin_type=True)
    preamble = _PREAMBLE.pack(MAGIC, FORMAT_VERSION, 64 + len(body), len(packed), crc32(packed))
    path.write_bytes(preamble.ljust(64, b"\0") + body + packed)
    return path


GOOD_SECTION = ["entries", 64, 1, 0]
ODD_HEADERS = {
    "offset str": {"sections": [["entries", "64", 1, 0]]},
    "length str": {"sections": [["entries", 64, "1", 0]]},
    "length float": {"sections": [["entries", 64, 1.0, 0]]},
    "crc str": {"sections": [["entries", 64, 1, "0"]]},
    "name int": {"sections": [[5, 64, 1, 0]]},
    "kind list": {"kind": ["snapshot"]},
    "created_at str": {"created_at": "now"},
    "meta list": {"meta": [1, 2]},
}


@pytest.mark.parametrize("change", ODD_HEADERS.values(), ids=ODD_HEADERS.keys())
def test_header_fields_of_another_type_raise_snapshot_error(
    tmp_path: Path, change: dict[str, Any]
) -> None:
    """A str offset raised TypeError from the range check, outside the header's try."""
    header = {"kind": "snapshot", "created_at": time.time(), "meta": {}, "sections": [GOOD_SECTION]}
    path = craft_header(tmp_path / "odd.semcache", {**header, **change})
    with pytest.raises(SnapshotError, match="header"), open_container(path):
        pass
    assert_refused(path)


def durable_with_two_entries(directory: Path) -> Path:
    with SemCache(path=directory) as cache:
        cache.set("a", 1, vector=[1, 0])
        cache.set("b", 2)
    return directory / CHECKPOINT_FILE


def damage_offset(checkpoint: Path) -> None:
    kind, meta, _ = read_all(checkpoint)
    header = {"kind": kind, "created_at": time.time(), "meta": meta}
    craft_header(checkpoint, {**header, "sections": [["entries", "64", 1, 0]]})


def epoch_of(value: Any) -> Callable[[Path], None]:
    def damage(checkpoint: Path) -> None:
        rewrite(checkpoint, checkpoint, meta=lambda meta: meta.update(epoch=value))

    return damage


DAMAGED_CHECKPOINTS = {
    "offset str": damage_offset,
    "epoch str": epoch_of("0"),
    "epoch float": epoch_of(0.0),
    "epoch negative": epoch_of(-1),
    "epoch missing": epoch_of(None),
}


@pytest.mark.parametrize("damage", DAMAGED_CHECKPOINTS.values(), ids=DAMAGED_CHECKPOINTS.keys())
def test_a_damaged_checkpoint_falls_back_to_the_journal(
    tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    """The open crashed with TypeError instead of rebuilding from the journal."""
    damage(durable_with_two_entries(tmp_path))
    with SemCache(path=tmp_path) as cache:
        assert durable(cache).opened_from == "journal"
        assert (cache.get("a"), cache.get("b")) == (1, 2)
    with SemCache(path=tmp_path) as cache:  # the rebuild wrote a sound checkpoint
        assert durable(cache).opened_from == "checkpoint"
        assert [hit.key for hit in cache.search([1, 0], k=1)] == ["a"]


# --- 5: snapshot content set() refuses ------------------------------------------------


METADATA_KEYS = st.one_of(st.text(max_size=3), st.integers(-3, 3), st.binary(max_size=2), st.none())
METADATA = st.dictionaries(
    METADATA_KEYS,
    st.recursive(
        st.one_of(st.integers(-5, 5), st.text(max_size=3)),
        lambda inner: (
            st.dictionaries(METADATA_KEYS, inner, max_size=2) | st.lists(inner, max_size=2)
        ),
        max_leaves=4,
    ),
    max_size=3,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(metadata=METADATA)
def test_a_snapshot_loads_exactly_the_metadata_set_accepts(
    tmp_path_factory: pytest.TempPathFactory, metadata: dict[Any, Any]
) -> None:
    """An int key (at the top or nested) loaded, then broke every filtered search."""
    tmp_path = tmp_path_factory.mktemp("metadata")
    try:
        SemCache().set("z", 1, metadata=metadata)
        accepted = True
    except InvalidValueError:
        accepted = False
    blob = msgpack.packb(metadata, use_bin_type=True)
    crafted = rewrite(
        base_snapshot(tmp_path), tmp_path / "m.semcache", column_at("metadata", 0, blob)
    )
    if not accepted:
        assert_refused(crafted, "metadata")
        return
    cache = SemCache.from_snapshot(crafted, clock=clock)
    assert entry(cache, "a").metadata == metadata
    cache.search([1, 0, 0], k=2, filters={"m": 1})  # a filtered search reads every entry's


def vector_blob(kind: bytes, norm: float) -> bytes:
    return b"\xd8\x02" + kind.ljust(8, b"\0") + np.float64(norm).astype("<f8").tobytes()


BAD_VALUES = {
    "unknown extension": msgpack.packb(msgpack.ExtType(42, b"zz")),
    "vector value as ext 8": b"\xc7\x10\x02" + bytes(16),
    "vector value of 2 bytes": msgpack.packb(msgpack.ExtType(2, b"zz")),
    "vector value NaN norm": vector_blob(b"list", math.nan),
    "vector value infinite norm": vector_blob(b"list", math.inf),
    "vector value zero norm": vector_blob(b"list", 0.0),
    "vector value unknown kind": vector_blob(b"<i4", 1.0),
}


@pytest.mark.parametrize("blob", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_a_value_of_an_extension_type_set_never_writes_is_refused(
    tmp_path: Path, blob: bytes
) -> None:
    """msgpack.ExtType(42) loaded silently and was handed out as a value."""
    crafted = rewrite(
        base_snapshot(tmp_path), tmp_path / "v.semcache", column_at("values", 0, blob)
    )
    assert_refused(crafted)


def test_extension_values_set_writes_still_load(tmp_path: Path) -> None:
    """The checks refuse nothing a cache stores: ndarrays and embeddings of every kind."""
    cache = SemCache(clock=clock)
    values = {
        "array": np.arange(6, dtype=np.int16).reshape(2, 3),
        "list": [0.6, 0.8],
        "f16": np.array([0.6, 0.8], dtype=np.float16),
        "f32": np.array([3.0, 4.0], dtype=np.float32),
        "f64": np.array([0.0, 2.0], dtype=np.float64),
    }
    for key, value in values.items():
        vector = None if key == "array" else value
        cache.set(key, value, vector=vector)
    path = tmp_path / "ext.semcache"
    cache.dump(path)
    loaded = SemCache.from_snapshot(path, clock=clock)
    for key, value in values.items():
        got = loaded.get(key)
        assert np.allclose(np.asarray(got, dtype=np.float64), np.asarray(value, np.float64))

    def one_bad_kind(columns: dict[str, Any]) -> None:  # among markers of other kinds
        columns["values"][columns["keys"].index("f32")] = vector_blob(b"<i4", 1.0)

    assert_refused(rewrite(path, tmp_path / "kind.semcache", one_bad_kind), "not a vector")


@pytest.mark.parametrize("index", ["flat", "hnsw"])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_vector_that_is_not_finite_is_refused(
    tmp_path: Path, index: IndexMode, bad: float
) -> None:
    """A NaN vector loaded and scored NaN in every search."""
    source = base_snapshot(tmp_path, index)
    section = "vectors" if index == "flat" else "graph/0/level0"
    _, _, sections = read_all(source)
    vectors = np.frombuffer(sections[section], np.float32).copy()
    if index == "flat":
        at = 0
    else:  # the first component of slot 0's vector
        graph = decode(sections["graph/0"])
        at = int(graph["offset_data"]) // 4
    assert vectors[at] in (0.0, 1.0)  # a component of a unit vector

    def poison(saved: dict[str, bytes]) -> None:
        vectors[at] = bad
        saved[section] = vectors.tobytes()

    crafted = rewrite(source, tmp_path / "nan.semcache", sections=poison)
    assert_refused(crafted, "not finite")


# --- 6: journal records at durable open -------------------------------------------------


EMPTY = msgpack.packb({})
BAD_RECORDS = {
    "empty value": [b"", EMPTY, "", None, None],
    "int metadata key": [msgpack.packb(1), msgpack.packb({1: 2}), "", None, None],
    "nested int metadata key": [msgpack.packb(1), msgpack.packb({"a": {1: 2}}), "", None, None],
    "bytes metadata key": [msgpack.packb(1), msgpack.packb({b"k": 2}), "", None, None],
    "metadata not a map": [msgpack.packb(1), msgpack.packb([1]), "", None, None],
    "metadata garbage": [msgpack.packb(1), b"\xc1", "", None, None],
    "NaN expiry": [msgpack.packb(1), EMPTY, "", math.nan, None],
    "infinite expiry": [msgpack.packb(1), EMPTY, "", math.inf, None],
    "unknown extension value": [msgpack.packb(msgpack.ExtType(42, b"")), EMPTY, "", None, None],
}


@pytest.mark.parametrize("record", BAD_RECORDS.values(), ids=BAD_RECORDS.keys())
def test_a_malformed_journal_record_is_a_damaged_journal(tmp_path: Path, record: list) -> None:
    """An empty value raised IndexError; an int metadata key or NaN expiry opened silently."""
    with SemCache(path=tmp_path) as cache:
        cache.set("ok", 1)
    journal = open_journal(tmp_path)
    journal.set(ENTRY_PREFIX + entry_id("", "bad"), msgpack.packb(record, use_bin_type=True))
    journal.close()
    (tmp_path / CHECKPOINT_FILE).unlink()  # the open reads every record
    with pytest.raises(SnapshotError, match=r"bad.*damaged|damaged.*bad"):
        SemCache(path=tmp_path)
    with pytest.raises(SnapshotError):  # the directory is released: the same error again
        SemCache(path=tmp_path)


# --- 7: from_snapshot into a backend ------------------------------------------------------


@pytest.mark.parametrize("kind", ["local", "durable"])
def test_from_snapshot_fills_the_backend_passed(tmp_path: Path, kind: str) -> None:
    """backend= was always refused: the saved settings were passed to the constructor too."""
    source = SemCache(max_entries=10, ttl=50, index="flat", clock=clock)
    source.set("a", 1, vector=[1, 0])
    source.set("b", 2, vector=[0, 1])
    path = tmp_path / "s.semcache"
    source.dump(path)
    backend = LocalBackend(max_entries=5) if kind == "local" else DurableBackend(tmp_path / "d")
    cache = SemCache.from_snapshot(path, backend=backend, clock=clock)
    try:
        assert cache.backend is backend
        assert sorted(cache.scan()) == ["a", "b"]
        assert [hit.key for hit in cache.search([0, 1], k=1)] == ["b"]
        assert backend.settings()["max_entries"] == (5 if kind == "local" else None)
        cache.set("c", 3)
        assert entry(cache, "c").expires_at == NOW + 50  # the saved default TTL applies
    finally:
        cache.close()
    with pytest.raises(InvalidArgumentError):
        SemCache.from_snapshot(path, backend=LocalBackend(), max_entries=3)
