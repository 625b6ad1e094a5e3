"""Durable mode and snapshots, found in review: a relative path followed a later
``os.chdir`` (acknowledged writes went to another directory's journal), ``clear()``
committed in batches (a kill left part of the cache), a damaged journal raised raw
errors, and paths that are not paths got bare ``TypeError`` / ``FileExistsError`` or,
for ``""``, the current directory. Each test failed before its fix.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from semcache_core import InvalidArgumentError, SemCache, SnapshotError, UnsafeRecordError
from semcache_core.persist.durable import CHECKPOINT_FILE
from semcache_core.persist.inspect import inspect_path
from semcache_core.persist.journal import JOURNAL_DIR


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[Path]:
    """Run in ``tmp_path / "home"``; yield ``tmp_path / "other"`` to change into later."""
    home, other = tmp_path / "home", tmp_path / "other"
    home.mkdir()
    other.mkdir()
    before = os.getcwd()
    os.chdir(home)
    try:
        yield other
    finally:
        os.chdir(before)


def test_a_relative_path_stays_where_it_was_opened_after_chdir(elsewhere: Path) -> None:
    cache = SemCache(path="cache-dir")
    cache.set("before", 1)
    os.chdir(elsewhere)
    # a new thread opens its own SQLite connection: before, from the relative path anew
    worker = threading.Thread(target=cache.set, args=("from-thread", 2))
    worker.start()
    worker.join()
    asyncio.run(cache.aset("from-async", 3))
    cache.close()
    assert not (elsewhere / "cache-dir").exists()
    with SemCache(path=elsewhere.parent / "home" / "cache-dir") as reopened:
        assert len(reopened) == 3
        assert [reopened.get(k) for k in ("before", "from-thread", "from-async")] == [1, 2, 3]


def _filled(directory: Path, count: int) -> None:
    code = f"""
        from semcache_core import SemCache
        with SemCache(path={str(directory)!r}) as cache:
            cache.set_many({{f"k{{i}}": i for i in range({count})}})
    """
    subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True)


@pytest.mark.parametrize("delay", [0.02, 0.05, 0.1, 0.2])
def test_a_clear_killed_midway_leaves_all_or_nothing(tmp_path: Path, delay: float) -> None:
    """diskcache's clear() commits every 100 rows: a kill between two left 10,102 of 30,000."""
    base, directory = tmp_path / "base", tmp_path / "cache"
    _filled(base, 30_000)
    shutil.copytree(base, directory)
    code = f"""
        import time
        from semcache_core import SemCache
        cache = SemCache(path={str(directory)!r})
        print("open", flush=True)
        cache.clear()
        print("cleared", flush=True)
        time.sleep(60)
    """
    with subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        assert child.stdout.readline() == "open\n"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        acknowledged = "cleared" in child.stdout.read()
    with SemCache(path=directory) as reopened:
        # all or nothing; a clear killed after its commit but before it returned (not
        # acknowledged) may have happened
        assert len(reopened) in (0, 30_000)
        if acknowledged:
            assert len(reopened) == 0


def test_a_clear_that_fails_midway_changes_nothing(tmp_path: Path) -> None:
    """The same without a kill: the journal's second batch of deletions fails."""
    directory = tmp_path / "cache"
    _filled(directory, 1_000)
    cache = SemCache(path=directory)
    journal = cache.backend._journal
    transactions = 0
    transact = journal._transact

    def third_fails(*args: Any, **kwargs: Any) -> Any:
        """Without the fix, two batches of 100 deletions commit before this fails."""
        nonlocal transactions
        transactions += 1
        if transactions == 3:
            raise OSError("disk gone")
        return transact(*args, **kwargs)

    journal._transact = third_fails
    with pytest.raises(OSError, match="disk gone"):
        cache.clear()
    cache.backend._stop.set()
    cache.backend._finalizer()  # as a crash: no checkpoint of the content in memory
    with SemCache(path=directory) as reopened:
        assert reopened.backend.opened_from == "journal"
        assert len(reopened) == 1_000


def _damaged_settings(tmp_path: Path, key: str) -> Path:
    directory = tmp_path / "cache"
    with SemCache(path=directory) as cache:
        cache.set("k", "v")
    with closing(sqlite3.connect(directory / JOURNAL_DIR / "cache.db")) as database:
        database.execute(f"UPDATE Settings SET key = {key} WHERE key = 'statistics'")
        database.commit()
    return directory


@pytest.mark.parametrize("key", ["X'7374'", "X''"], ids=["blob", "empty-blob"])
def test_a_journal_whose_settings_do_not_decode_is_a_snapshot_error(
    tmp_path: Path, key: str
) -> None:
    """diskcache raised TypeError / AttributeError / UnicodeDecodeError reading its Settings
    table (the review flipped bytes; here a row's key is made a blob)."""
    directory = _damaged_settings(tmp_path, key)
    with pytest.raises(SnapshotError, match="the journal is damaged"):
        SemCache(path=directory)
    report = inspect_path(directory)  # a report naming the damage, not a traceback
    assert not report.ok and any("journal" in line for line in report.damaged)
    SemCache(path=tmp_path / "fresh").close()  # nothing was left locked or half-open


def test_a_log_row_without_its_epoch_is_refused_by_name(tmp_path: Path) -> None:
    """A damaged log row's tag read as None and failed later with a raw TypeError."""
    directory = tmp_path / "cache"
    cache = SemCache(path=directory)
    cache.set_many({f"k{i}": i for i in range(5)})
    cache.backend._stop.set()
    cache.backend._finalizer()  # as a crash: the change log stays
    with closing(sqlite3.connect(directory / JOURNAL_DIR / "cache.db")) as database:
        changed = database.execute("UPDATE Cache SET tag = NULL WHERE tag IS NOT NULL").rowcount
        database.commit()
    assert changed == 5
    with pytest.raises(UnsafeRecordError, match="the journal is damaged"):
        SemCache(path=directory)


@pytest.mark.parametrize("path", [123, None, b"cache-dir", 1.5, ["cache-dir"], ""], ids=repr)
def test_a_path_that_names_nothing_is_refused_by_name(
    path: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    if path is not None:  # SemCache(path=None): in memory
        with pytest.raises(InvalidArgumentError, match="path"):
            SemCache(path=path)
    cache = SemCache()
    cache.set("k", "v")
    for call in (cache.dump, cache.load, SemCache.from_snapshot, inspect_path):
        with pytest.raises(InvalidArgumentError, match="path"):
            call(path)
    assert len(cache) == 1 and cache.get("k") == "v"
    assert list(tmp_path.iterdir()) == []  # "" wrote LOCK, checkpoint and journal here


def test_a_file_is_not_a_durable_directory_and_a_directory_is_not_a_snapshot(
    tmp_path: Path,
) -> None:
    (tmp_path / "a-file").write_text("mine")
    with pytest.raises(InvalidArgumentError, match="is a file: durable mode needs a directory"):
        SemCache(path=tmp_path / "a-file")
    assert (tmp_path / "a-file").read_text() == "mine"
    cache = SemCache()
    cache.set("k", "v")
    with pytest.raises(InvalidArgumentError, match="is a directory"):
        cache.dump(tmp_path)  # was IsADirectoryError about a hidden temporary name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]
    assert not (tmp_path / CHECKPOINT_FILE).exists()


def test_a_directory_where_the_checkpoint_goes_is_refused_at_open(tmp_path: Path) -> None:
    """It was opened, took writes, and then every close and open failed on it."""
    (tmp_path / CHECKPOINT_FILE / "mine").mkdir(parents=True)
    with pytest.raises(InvalidArgumentError, match=f"{CHECKPOINT_FILE} is not a file"):
        SemCache(path=tmp_path, dim=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_FILE]  # no lock, journal
    (tmp_path / CHECKPOINT_FILE / "mine").rmdir()
    (tmp_path / CHECKPOINT_FILE).rmdir()
    cache = SemCache(path=tmp_path, dim=4)
    cache.set("k", "v")
    cache.close()
    reopened = SemCache(path=tmp_path, dim=4)
    assert reopened.get("k") == "v"
    reopened.close()
