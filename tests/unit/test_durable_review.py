"""Durable mode, found in review: the LRU order a reopen gives acknowledged writes after a
crash, a damaged journal record, and a new dimension once a namespace's entries expired.
Each test failed before its fix.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semcache_core import SemCache, SnapshotError
from semcache_core.persist.durable import CHECKPOINT_FILE
from semcache_core.persist.journal import ENTRY_PREFIX, by_last_change, open_journal

MAX_ENTRIES = 3


def crash_after(directory: Path, keys: list[str]) -> None:
    """Write ``keys`` in order in a durable cache of another process, which is then killed
    (SIGKILL: nothing closes, no checkpoint is written)."""
    code = f"""
        import os, signal
        from semcache_core import SemCache
        cache = SemCache(path={str(directory)!r}, max_entries={MAX_ENTRIES})
        for number, key in enumerate({keys!r}):
            cache.set(key, number)
        os.kill(os.getpid(), signal.SIGKILL)
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=False)
    assert done.returncode == -9


@pytest.mark.parametrize("checkpointed", [False, True], ids=["journal", "checkpoint"])
@pytest.mark.parametrize("seed", range(4))
def test_a_reopen_after_a_crash_keeps_the_lru_order_of_the_writes(
    tmp_path: Path, seed: int, checkpointed: bool
) -> None:
    """Replayed by a key's *first* logged change (after a checkpoint) or in key order
    (without one): reopening evicted the most recently written entry first."""
    rng = random.Random(seed)
    keys = [rng.choice("abcdef") for _ in range(8)]
    if checkpointed:  # a checkpoint exists, older than every write below
        with SemCache(path=tmp_path, max_entries=MAX_ENTRIES) as cache:
            cache.set("old", 0)
            cache.delete("old")
    crash_after(tmp_path, keys)
    reference = SemCache(max_entries=MAX_ENTRIES)
    for number, key in enumerate(keys):
        reference.set(key, number)
    with SemCache(path=tmp_path, max_entries=MAX_ENTRIES) as reopened:
        assert reopened.backend.opened_from == ("checkpoint" if checkpointed else "journal")
        for cache in (reference, reopened):
            cache.set("new", -1)  # evicts the least recently written
        assert sorted(reopened.scan()) == sorted(reference.scan())


@settings(max_examples=100, deadline=None)
@given(
    names=st.lists(st.sampled_from("abcdefg"), unique=True, max_size=7),
    log=st.lists(st.tuples(st.sampled_from("abcdefg"), st.integers(0, 3)), max_size=12),
)
def test_by_last_change_orders_by_the_last_logged_change(
    names: list[str], log: list[tuple[str, int]]
) -> None:
    ordered = by_last_change(names, log)
    assert sorted(ordered) == sorted(names)
    last = {name: position for position, (name, _) in enumerate(log)}
    unlogged = [name for name in ordered if name not in last]
    assert unlogged == [name for name in names if name not in last]  # first, as given
    positions = [last[name] for name in ordered if name in last]
    assert ordered[: len(unlogged)] == unlogged and positions == sorted(positions)


DAMAGED = {
    "not msgpack": b"\xc1garbage",
    "three fields": msgpack.packb([1, 2, 3]),
    "a vector of 5 bytes": msgpack.packb([b"\x01", b"\x80", "", None, b"12345"]),
    "another namespace": msgpack.packb([b"\x01", b"\x80", "other", None, None]),
    "a str value": msgpack.packb(["1", b"\x80", "", None, None]),
}


@pytest.mark.parametrize("record", list(DAMAGED.values()), ids=list(DAMAGED))
def test_a_damaged_journal_record_is_a_snapshot_error(tmp_path: Path, record: bytes) -> None:
    """A raw msgpack FormatError or ValueError ("not enough values to unpack") came out
    of the open."""
    with SemCache(path=tmp_path) as cache:
        cache.set("a", 1, vector=[1.0, 0.0])
        cache.set("b", 2)
    os.unlink(tmp_path / CHECKPOINT_FILE)  # the open re-reads every record
    journal = open_journal(tmp_path)
    name = next(k for k in journal.iterkeys() if k.startswith(ENTRY_PREFIX))
    journal.set(name, record)
    journal.close()
    with pytest.raises(SnapshotError, match="damaged"):
        SemCache(path=tmp_path)


def test_a_namespace_whose_entries_all_expired_takes_a_new_dimension(tmp_path: Path) -> None:
    """The in-memory cache took the new dimension; the durable one refused it unless
    something had purged the expired entries first."""
    now = [1000.0]
    for options in ({}, {"path": tmp_path}):
        with SemCache(clock=lambda: now[0], **options) as cache:
            cache.set("x", 1, vector=[1.0, 0.0, 0.0], ttl=5)
            now[0] += 10
            cache.set("y", 2, vector=[1.0, 0.0, 0.0, 0.0])
            assert cache.dim_of("") == 4 and cache.get("x") is None
