"""Durable mode at its edges: crafted journal rows (never unpickled), calls after close,
and a cache dropped without close."""

from __future__ import annotations

import gc
import pickle
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from semcache_core import CacheClosedError, SemCache, UnsafeRecordError
from semcache_core.persist.durable import CHECKPOINT_FILE, JOURNAL_DIR, entry_id

VECTOR = np.array([1.0, 0.0, 0.0], dtype=np.float32)


class _Plant:
    """Unpickling this creates the file ``path``: proof that a pickle ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


def _journal_rows(directory: Path) -> list[tuple[Any, int, int]]:
    with sqlite3.connect(directory / JOURNAL_DIR / "cache.db") as db:
        return db.execute("SELECT key, raw, mode FROM Cache").fetchall()


def _craft(directory: Path, key: str, column: str, payload: bytes) -> None:
    """Rewrite the row of ``key`` as diskcache's pickle mode would store it."""
    with sqlite3.connect(directory / JOURNAL_DIR / "cache.db") as db:
        if column == "value":
            db.execute("UPDATE Cache SET mode = 4, value = ? WHERE key = ?", (payload, key))
        else:
            db.execute("UPDATE Cache SET raw = 0, key = ? WHERE key = ?", (payload, key))


@pytest.mark.parametrize("column", ["value", "key"])
def test_a_pickled_journal_row_is_refused_unread(tmp_path: Path, column: str) -> None:
    directory = tmp_path / "cache"
    with SemCache(path=directory) as cache:
        cache.set("victim", "v", vector=VECTOR)
        cache.set("other", "o")
    (directory / CHECKPOINT_FILE).unlink()  # the open reads every journal row
    marker = tmp_path / "pwned"
    _craft(directory, "e" + entry_id("", "victim"), column, pickle.dumps(_Plant(marker)))
    with pytest.raises(UnsafeRecordError, match="victim" if column == "value" else "raw = 0"):
        SemCache(path=directory)
    assert not marker.exists()
    with pytest.raises(UnsafeRecordError):  # refused again: the directory was released
        SemCache(path=directory)
    assert not marker.exists()


def test_the_journal_never_writes_pickle(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    with SemCache(path=directory, max_entries=50) as cache:
        cache.set_many({f"k{i}": i for i in range(60)}, ttl=100)  # evictions, expiry times
        cache.delete("k59")
        cache.backend.checkpoint()  # type: ignore[attr-defined]
        cache.set("big", {"nested": ["x" * 100_000, 1.5]}, metadata={"a": 1})  # over 32 KB
        cache.put("text", "some words to embed", metadata={"b": [1, 2]})
    rows = _journal_rows(directory)
    assert rows and {(raw, mode) for _, raw, mode in rows} == {(1, 1)}  # raw keys, raw values
    assert not list((directory / JOURNAL_DIR).rglob("*.val"))  # no side files either


def _after_close_calls(cache: SemCache, snapshot: Path) -> list[Callable[[], Any]]:
    return [
        lambda: cache.get("a"),
        lambda: cache.get_entry("a"),
        lambda: cache.exists("a"),
        lambda: len(cache),
        cache.scan,
        lambda: cache.search(VECTOR, k=3),
        lambda: cache.search(VECTOR, k=3, filters={"x": 1}),
        lambda: cache.get_many(["a", "b"]),
        cache.stats,
        lambda: cache.dump(snapshot),
        lambda: cache.load(snapshot),
        lambda: cache.set("b", 2),
        lambda: cache.delete("a"),
        cache.clear,
        cache.backend.checkpoint,  # type: ignore[attr-defined]
    ]


def test_every_call_on_a_closed_durable_cache_raises(tmp_path: Path) -> None:
    snapshot = tmp_path / "snap.semcache"
    cache = SemCache(path=tmp_path / "cache")
    cache.set("a", 1, vector=VECTOR)
    cache.dump(snapshot)
    cache.close()
    for call in _after_close_calls(cache, snapshot):
        with pytest.raises(CacheClosedError, match="closed"):
            call()
    cache.close()  # a second close is harmless
    with SemCache(path=tmp_path / "cache") as again:
        assert again.get("a") == 1


@pytest.mark.parametrize("interval", [None, 60.0])
def test_a_dropped_durable_cache_releases_its_directory(tmp_path: Path, interval: Any) -> None:
    from semcache_core import DurableBackend

    directory = tmp_path / "cache"
    cache = SemCache(backend=DurableBackend(directory, checkpoint_interval=interval))
    cache.set("a", 1, vector=VECTOR)
    del cache  # no close(): the checkpoint ticker must not keep it alive either
    gc.collect()
    with SemCache(path=directory) as again:  # opens here, in the same process
        assert again.backend.opened_from == "journal"  # type: ignore[attr-defined]
        assert again.get("a") == 1
