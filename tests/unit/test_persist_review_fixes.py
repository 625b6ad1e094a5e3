"""Persistence, found in a second review: a crafted HNSW graph that crashed the process on
its first search (or whose label table misnamed its slots), a forked child writing to its
parent's durable directory, numpy values over 100 MiB that never read back, snapshot and
journal vectors that are not unit length, and ``from_snapshot(file, path=dir)``. Each test
failed before its fix, but the properties that the new checks refuse nothing a write
stores.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from rich.console import Console

from semcache_core import DurableBackend, SemCache, SnapshotError, codec
from semcache_core.codec import decode, encode
from semcache_core.errors import DirectoryLockedError, InvalidValueError
from semcache_core.index.hnsw import HNSWParams
from semcache_core.persist.container import open_container, write_container
from semcache_core.persist.durable import CHECKPOINT_FILE
from semcache_core.persist.journal import ENTRY_PREFIX, entry_id, open_journal
from semcache_integrations.cli import inspect

RNG = np.random.default_rng(11)
VECTORS = RNG.standard_normal((300, 8))


def read_all(path: Path) -> tuple[str, dict[str, Any], dict[str, bytes]]:
    with open_container(path) as container:
        sections = {name: bytes(container.section(name)) for name in container.sections}
        return container.kind, dict(container.meta), sections


def rewrite(path: Path, dst: Path, section: str, change: Any) -> Path:
    """``path`` with ``change(section's content)`` in place of one section, checksums valid."""
    kind, meta, sections = read_all(path)
    sections[section] = change(sections[section])
    write_container(dst, kind, meta, sections)
    return dst


def hnsw_cache(**options: Any) -> SemCache:
    cache = SemCache(index="hnsw", hnsw_params=HNSWParams(m=4), **options)  # many levels
    cache.set_many({f"k{i}": i for i in range(len(VECTORS))}, vectors=VECTORS)
    return cache


def inspect_passes(path: Path) -> bool:
    output = io.StringIO()
    code = inspect(str(path), Console(file=output, width=300))
    assert "Traceback" not in output.getvalue()
    return code == 0


def assert_refused(path: Path) -> None:
    """Loading ``path`` raises SnapshotError and changes nothing; inspect fails it."""
    cache = SemCache()
    cache.set("keep", "me", vector=[1.0] + [0.0] * 7)
    with pytest.raises(SnapshotError):
        cache.load(path)
    assert cache.scan() == ["keep"] and cache.get("keep") == "me"
    with pytest.raises(SnapshotError):
        SemCache.from_snapshot(path)
    assert not inspect_passes(path)


# --- 1: upper levels of an HNSW graph ---------------------------------------------------


def upper_rows(graph: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The graph's levels, its ``link_lists`` as rows (a writable copy) and each row's level."""
    levels = graph["element_levels"][: graph["cur_element_count"]]
    rows = graph["link_lists"].copy().view(np.uint32).reshape(-1, 1 + graph["max_M"])
    row_level = np.concatenate([np.arange(1, level + 1) for level in levels if level])
    return levels, rows, row_level


def entry_point_below_the_top(graph: dict[str, Any]) -> None:
    levels, _, _ = upper_rows(graph)
    graph["enterpoint_node"] = int(np.flatnonzero(levels < graph["max_level"])[0])


def link_to_a_lower_element(graph: dict[str, Any], level: int) -> None:
    """One link of a list on ``level`` now names an element whose top level is below it."""
    levels, rows, row_level = upper_rows(graph)
    row = int(np.flatnonzero((row_level == level) & (rows[:, 0] & 0xFFFF > 0))[0])
    rows[row, 1] = int(np.flatnonzero(levels == level - 1)[0])
    graph["link_lists"] = rows.view(np.int8).reshape(-1)


GRAPH_EDITS = {
    "entry point below the top": entry_point_below_the_top,
    "level-1 link to a level-0 element": lambda graph: link_to_a_lower_element(graph, 1),
    "level-2 link to a level-1 element": lambda graph: link_to_a_lower_element(graph, 2),
}


def edited_graph(source: Path, dst: Path, edit: Any) -> Path:
    def change(blob: bytes) -> bytes:
        graph = decode(np.frombuffer(blob, np.uint8))
        assert graph["max_level"] >= 2  # the edits need two upper levels
        edit(graph)
        return encode(graph)

    return rewrite(source, dst, "graph/0", change)


@pytest.mark.parametrize("edit", GRAPH_EDITS.values(), ids=GRAPH_EDITS.keys())
def test_a_graph_hnswlib_would_read_outside_of_is_a_snapshot_error(
    tmp_path: Path, edit: Any
) -> None:
    """Each loaded, and the first search crashed the process (SIGSEGV)."""
    source = tmp_path / "good.semcache"
    hnsw_cache().dump(source)
    assert_refused(edited_graph(source, tmp_path / "bad.semcache", edit))


@pytest.mark.parametrize("edit", GRAPH_EDITS.values(), ids=GRAPH_EDITS.keys())
def test_a_checkpoint_graph_hnswlib_would_read_outside_of_is_rebuilt(
    tmp_path: Path, edit: Any
) -> None:
    with reopened_after_edit(tmp_path, edit) as cache:
        assert [hit.key for hit in cache.search(VECTORS[9], k=1)] == ["k9"]


def reopened_after_edit(tmp_path: Path, edit: Any) -> SemCache:
    """A durable HNSW cache reopened after ``edit`` to its checkpoint's graph: rebuilt
    from its journal."""
    directory = tmp_path / "durable"
    with hnsw_cache(path=directory):
        pass
    checkpoint = directory / CHECKPOINT_FILE
    edited_graph(checkpoint, checkpoint, edit)
    cache = SemCache(path=directory, index="hnsw", hnsw_params=HNSWParams(m=4))
    assert cache.backend.opened_from == "journal"  # type: ignore[attr-defined]
    return cache


def swap_two_labels(graph: dict[str, Any]) -> None:
    """The label table names two slots by each other's label."""
    external = graph["label_lookup_external"].copy()
    external[[0, 1]] = external[[1, 0]]
    graph["label_lookup_external"] = external


def test_a_graph_whose_label_table_misnames_its_slots_is_refused(tmp_path: Path) -> None:
    """It loaded, and the next ``set`` of one of the two keys wrote its vector into the
    other's slot (hnswlib finds a slot through that table): the second key's ``set`` then
    raised RuntimeError("Label not found")."""
    source = tmp_path / "good.semcache"
    hnsw_cache().dump(source)
    assert_refused(edited_graph(source, tmp_path / "bad.semcache", swap_two_labels))
    with reopened_after_edit(tmp_path, swap_two_labels) as cache:
        for i in range(len(VECTORS)):
            cache.set(f"k{i}", -i, vector=-VECTORS[i])
        assert [hit.key for hit in cache.search(-VECTORS[1], k=1)] == ["k1"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.sampled_from(["set", "delete"]), st.integers(0, 39), st.integers(0, 299)),
        max_size=120,
    )
)
def test_every_graph_a_cache_writes_has_a_label_table_that_loads(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, int, int]]
) -> None:
    """The label-table check refuses no graph that writes, overwrites and deletes leave
    (deleted slots reused, vectors replaced in place), and the loaded cache keeps
    finding each key by its vector."""
    cache = hnsw_cache()
    vectors = {f"k{i}": VECTORS[i] for i in range(len(VECTORS))}
    for action, number, row in steps:
        if action == "set":
            cache.set(f"k{number}", row, vector=VECTORS[row])
            vectors[f"k{number}"] = VECTORS[row]
        elif cache.delete(f"k{number}"):
            del vectors[f"k{number}"]
    path = tmp_path_factory.mktemp("labels") / "s.semcache"
    cache.dump(path)
    loaded = SemCache.from_snapshot(path)
    for key in sorted(vectors)[:40]:
        loaded.set(key, "again", vector=vectors[key])
        found = {hit.key for hit in loaded.search(vectors[key], k=45)}  # ties: one row, 40 keys
        assert key in found


# --- 2: a forked child and its parent's durable directory -------------------------------


def in_child(work: Any) -> int:
    """Run ``work()`` in a forked child; its exit status (0: it returned True)."""
    pid = os.fork()
    if pid == 0:  # never return into pytest
        code = 1
        try:
            code = 0 if work() else 2
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_a_forked_child_cannot_use_its_parents_durable_cache(tmp_path: Path) -> None:
    """The child's set was acknowledged, then lost at the parent's checkpoint (and
    resurrected by a journal rebuild)."""
    cache = SemCache(path=tmp_path)
    cache.set("before", 1, vector=[1.0, 0.0])

    def child() -> bool:
        calls = [
            lambda: cache.set("child", 2),
            lambda: cache.delete("before"),
            lambda: cache.clear(),
            lambda: cache.get("before"),
            lambda: cache.search([1.0, 0.0], k=1),
            lambda: cache.backend.checkpoint(force=True),  # type: ignore[attr-defined]
        ]
        for call in calls:
            try:
                call()
            except DirectoryLockedError:
                continue
            return False
        cache.close()  # lets go of its copies, writes nothing
        return True

    assert in_child(child) == 0
    cache.set("after", 3)  # the parent still owns the directory
    assert cache.get("before") == 1
    cache.close()
    with SemCache(path=tmp_path) as reopened:
        assert sorted(reopened.scan()) == ["after", "before"]
    (tmp_path / CHECKPOINT_FILE).unlink()
    with SemCache(path=tmp_path) as rebuilt:  # nothing of the child's in the journal either
        assert sorted(rebuilt.scan()) == ["after", "before"]


# --- 3: numpy values over msgpack's default buffer bound (100 MiB) ----------------------


def test_a_numpy_value_over_100_mib_reads_back() -> None:
    """Accepted by set, then every read raised BufferFull; nested, set refused it with a
    message about dict keys."""
    array = np.zeros(100 * 2**20 + 8, dtype=np.uint8)
    array[-1] = 7
    back = decode(encode(array))
    assert back.shape == array.shape and back[-1] == 7
    nested = decode(encode({"a": array}))["a"]
    assert nested.shape == array.shape and nested[-1] == 7
    del back, nested
    cache = SemCache()
    cache.set("big", array)
    assert cache.get("big")[-1] == 7


def test_encode_reads_a_top_level_array_back_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """encode skipped its read-back check for an ndarray: what no read could decode was
    accepted (as the arrays over 100 MiB were)."""

    def unreadable(data: bytes) -> np.ndarray:
        raise ValueError("no reader takes this array")

    monkeypatch.setattr(codec, "_array_of", unreadable)
    with pytest.raises(InvalidValueError, match="no reader takes this array"):
        encode(np.arange(3.0))


def test_a_value_that_does_not_read_back_names_the_error() -> None:
    with pytest.raises(InvalidValueError, match=r"would not read back \(TypeError: "):
        encode({(1, 2): "tuple key"})


# --- 4: vectors that are not unit length -------------------------------------------------


@pytest.mark.parametrize("index", ["flat", "hnsw"])
@pytest.mark.parametrize("scale", [10.0, 0.0, 1.01, 0.5])
def test_a_snapshot_vector_that_is_not_unit_length_is_refused(
    tmp_path: Path, index: str, scale: float
) -> None:
    """A vector x10 loaded and scored 1.0 against a query it is far from."""
    cache = hnsw_cache() if index == "hnsw" else SemCache(index="flat")
    if index == "flat":
        cache.set_many({f"k{i}": i for i in range(20)}, vectors=VECTORS[:20])
    source = tmp_path / "good.semcache"
    cache.dump(source)
    section = "vectors" if index == "flat" else "graph/0/level0"
    if index == "flat":
        start, width = 0, 8
    else:
        graph = decode(np.frombuffer(read_all(source)[2]["graph/0"], np.uint8))
        start, width = int(graph["offset_data"]) // 4, int(graph["size_data_per_element"]) // 4

    def scaled(blob: bytes) -> bytes:
        vectors = np.frombuffer(blob, np.float32).copy()
        vectors[start + width : start + width + 8] *= scale  # the second row's vector
        return vectors.tobytes()

    assert_refused(rewrite(source, tmp_path / "bad.semcache", section, scaled))


@pytest.mark.parametrize("scale", [10.0, 0.0, 1.01])
def test_a_journal_vector_that_is_not_unit_length_is_a_damaged_journal(
    tmp_path: Path, scale: float
) -> None:
    with SemCache(path=tmp_path) as cache:
        cache.set("ok", 1, vector=[1.0, 0.0])
    vector = (np.array([0.6, 0.8], np.float32) * scale).astype(np.float32)
    record = [msgpack.packb(2), msgpack.packb({}), "", None, vector.tobytes()]
    journal = open_journal(tmp_path)
    journal.set(ENTRY_PREFIX + entry_id("", "bad"), msgpack.packb(record, use_bin_type=True))
    journal.close()
    (tmp_path / CHECKPOINT_FILE).unlink()  # the open reads every record
    with pytest.raises(SnapshotError, match="damaged"):
        SemCache(path=tmp_path)


VECTOR_ROWS = st.tuples(st.integers(1, 4), st.sampled_from([1, 2, 3, 8, 384, 1536])).flatmap(
    lambda shape: arrays(
        np.float32, shape, elements=st.floats(width=32, allow_nan=False, allow_infinity=False)
    )
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=VECTOR_ROWS)
def test_every_vector_a_write_stores_still_loads(
    tmp_path_factory: pytest.TempPathFactory, rows: np.ndarray
) -> None:
    """The unit check refuses no vector that set or get_or_compute stores (subnormal,
    huge, sparse, of one to 1,536 dimensions), in a snapshot or a journal."""
    rows[~rows.any(axis=1), 0] = 1.0  # an all-zero vector is refused by set
    directory = tmp_path_factory.mktemp("unit")
    with SemCache(path=directory / "d") as cache:
        for i, row in enumerate(rows):
            cache.set(f"k{i}", i, vector=row)
            cache.get_or_compute(f"v{i}", lambda _, row=row: np.asarray(row, np.float32))
            cache.get_or_compute(f"l{i}", lambda _, row=row: row.tolist())
        cache.dump(directory / "s.semcache")
    (directory / "d" / CHECKPOINT_FILE).unlink()  # the reopen reads every record
    with SemCache(path=directory / "d") as reopened:
        assert len(reopened) == 3 * len(rows)
    loaded = SemCache.from_snapshot(directory / "s.semcache")
    assert len(loaded) == 3 * len(rows)


# --- 5: from_snapshot(file, path=dir) ----------------------------------------------------


def test_from_snapshot_with_path_makes_a_durable_cache(tmp_path: Path) -> None:
    """path= collided with the snapshot's own parameter: an untyped TypeError."""
    source = SemCache()
    source.set("a", 1, vector=[1.0, 0.0])
    source.dump(tmp_path / "s.semcache")
    with SemCache.from_snapshot(tmp_path / "s.semcache", path=tmp_path / "d") as cache:
        assert isinstance(cache.backend, DurableBackend)
        assert cache.get("a") == 1
    with SemCache(path=tmp_path / "d") as reopened:
        assert reopened.get("a") == 1 and math.isclose(
            reopened.search([1.0, 0.0], k=1)[0].score, 1.0, abs_tol=1e-6
        )
