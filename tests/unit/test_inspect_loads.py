"""``semcache inspect`` checks what a load checks: a file whose checksums hold but whose
content does not fit together is reported as not loadable, with a non-zero exit."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from semcache_core import HNSWParams, SemCache, SnapshotError
from semcache_core.backends.base import BackendState
from semcache_core.persist.durable import CHECKPOINT_FILE, CHECKPOINT_KIND
from semcache_core.persist.snapshot import read_snapshot, write_snapshot
from semcache_integrations.cli import inspect

DIM = 8


def _cache(index: str) -> SemCache:
    cache = SemCache(index=index, hnsw_params=HNSWParams(m=8, ef_construction=40))
    rng = np.random.default_rng(5)
    cache.set_many({f"k{i}": {"i": i} for i in range(60)}, vectors=rng.standard_normal((60, DIM)))
    cache.set("plain", "no vector")
    return cache


def _label_of_a_missing_vector(state: BackendState) -> None:
    row = next(r for r, label in enumerate(state.labels) if label is not None)
    state.labels[row] = 10_000  # an entry whose vector is not stored


def _link_outside_the_graph(state: BackendState) -> None:
    graph = state.spaces[0].graph
    assert graph is not None
    level0 = np.array(graph["data_level0"], copy=True)
    level0[0, 0:2] = np.array([1, 0], dtype=np.int8)  # slot 0 has one level-0 link...
    level0[0, 4:8] = np.frombuffer(np.uint32(999_999).tobytes(), dtype=np.int8)  # ...outside
    graph["data_level0"] = level0


def _vectors_of_another_count(state: BackendState) -> None:
    space = state.spaces[0]
    assert space.vectors is not None
    space.vectors = space.vectors[:-1]


CASES: list[tuple[str, str, Callable[[BackendState], None]]] = [
    ("flat", "label", _label_of_a_missing_vector),
    ("hnsw", "link", _link_outside_the_graph),
    ("flat", "rows", _vectors_of_another_count),
]


@pytest.mark.parametrize(("index", "name", "damage"), CASES, ids=[c[1] for c in CASES])
def test_inspect_fails_a_file_that_cannot_be_loaded(
    tmp_path: Path, index: str, name: str, damage: Callable[[BackendState], None]
) -> None:
    cache = _cache(index)
    state = cache.backend.export_state(0.0)  # type: ignore[attr-defined]
    if name == "rows":  # sections must stay self-consistent for the writer: fewer labels too
        state.spaces[0].labels = state.spaces[0].labels[:-1]
    damage(state)
    path = tmp_path / "bad.semcache"
    write_snapshot(path, state, cache._settings())  # fresh, correct checksums
    with pytest.raises(SnapshotError):
        SemCache().load(path)  # the load refuses it...
    output = io.StringIO()
    assert inspect(str(path), Console(file=output, width=200)) == 1  # ...so inspect fails
    text = output.getvalue()
    assert "cannot be loaded" in text and "checksums OK" not in text


def test_inspect_passes_a_file_that_loads(tmp_path: Path) -> None:
    path = tmp_path / "good.semcache"
    _cache("hnsw").dump(path)
    output = io.StringIO()
    assert inspect(str(path), Console(file=output, width=200)) == 0
    assert "checksums OK; the content loads" in output.getvalue()


def test_inspect_reports_an_unloadable_checkpoint_of_a_durable_directory(tmp_path: Path) -> None:
    directory = tmp_path / "durable"
    with SemCache(path=directory, index="flat") as cache:
        cache.set_many({f"k{i}": i for i in range(5)}, vectors=np.eye(5, DIM))
        state = cache.backend.export_state(0.0)  # type: ignore[attr-defined]
        settings = dict(cache._settings())
    _, meta = read_snapshot(directory / CHECKPOINT_FILE, CHECKPOINT_KIND)
    settings.update(epoch=meta["epoch"], journal_id=meta["journal_id"])
    _label_of_a_missing_vector(state)
    write_snapshot(directory / CHECKPOINT_FILE, state, settings, CHECKPOINT_KIND)
    output = io.StringIO()
    assert inspect(str(directory), Console(file=output, width=200)) == 1
    assert "cannot be loaded" in output.getvalue()
