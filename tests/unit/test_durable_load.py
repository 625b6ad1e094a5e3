"""A load into a durable cache is as durable as any write, whatever the old content did.

The defect this pins: loading a snapshot whose keys had an *expired* copy in the cache
queued those keys for deletion from the journal while the load wrote them, and the queue
was drained after the write: the journal lost entries the load had acknowledged, and a
``kill -9`` (no checkpoint to hide it) lost them for good.

A real ``SIGKILL`` (``durable_writer.py``) checks the case itself; a state machine then
mixes writes, deletes, reads that expire entries, loads, checkpoints and reopenings of
the directory as a kill leaves it (a copy of its files taken while the cache is open: the
committed journal and whatever checkpoint was last written), and compares every answer
with a reference model.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from durable_writer import HNSW, embedder
from fakeclock import FakeClock
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule
from test_durable import (
    assert_content,
    journal_keys,
    open_cache,
    run_writer,
    set_written,
)

from semcache_core import SemCache
from semcache_core.persist.directory_lock import LOCK_FILE
from semcache_core.persist.durable import CHECKPOINT_FILE

# --- the case itself, with a real SIGKILL ------------------------------------------------


def test_load_over_expired_copies_survives_sigkill(tmp_path: Path) -> None:
    snapshot = tmp_path / "fresh.semcache"
    source = SemCache(hnsw_params=HNSW, embedder=embedder())
    model = set_written(source, 0, 6, offset=100)  # the same keys, no expiry
    source.dump(snapshot)
    directory = tmp_path / "cache"
    steps = [["set", 0, 6, 0, 0.2], ["sleep", 0.5], ["load", str(snapshot)]]
    # the old copies expired before the load; SIGKILL right after it, no checkpoint
    run_writer(directory, {"interval": None, "steps": steps, "exit": "hang"}, True)
    assert not (directory / CHECKPOINT_FILE).exists()
    assert journal_keys(directory) == set(model)
    with open_cache(directory) as cache:
        assert cache.backend.opened_from == "journal"
        assert_content(cache, model)


# --- a reference model -------------------------------------------------------------------

T0 = 1_000_000.0
DIM = 4
KEYS = st.sampled_from(["a", "b", "c"])
TTLS = st.sampled_from([None, 5.0])
Row = tuple[int, int | None, float | None]  # value, vector seed, expires_at


def _vector(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)


PROBE = _vector(10_000)


class DurableCacheMatchesAModel(RuleBasedStateMachine):
    """A durable cache on a fake clock against ``key -> (value, vector, expiry)``."""

    @initialize()
    def start(self) -> None:
        self.clock = FakeClock(T0)
        self.root = Path(tempfile.mkdtemp())
        self.generation = 1
        self.model: dict[str, Row] = {}
        self.cache = self._open(self.root / "cache0")
        for i, key in enumerate(["a", "b", "c"]):  # expiring copies for a load to meet
            self.set(key, i, i, 5.0)

    def teardown(self) -> None:
        try:
            self.crash_and_reopen()
            self.same_content()
        finally:
            self.cache.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def _open(self, directory: Path) -> SemCache:
        return SemCache(path=directory, index="flat", clock=self.clock, embedder=embedder())

    def _live(self) -> dict[str, Row]:
        now = self.clock()
        return {k: row for k, row in self.model.items() if row[2] is None or row[2] > now}

    def _expiry(self, ttl: float | None) -> float | None:
        return None if ttl is None else self.clock() + ttl

    @rule(key=KEYS, value=st.integers(0, 999), seed=st.none() | st.integers(0, 99), ttl=TTLS)
    def set(self, key: str, value: int, seed: int | None, ttl: float | None) -> None:
        vector = None if seed is None else _vector(seed)
        self.cache.set(key, value, vector=vector, ttl=ttl)
        self.model[key] = (value, seed, self._expiry(ttl))

    @rule(key=KEYS)
    def delete(self, key: str) -> None:
        self.cache.delete(key)
        self.model.pop(key, None)

    @rule(seconds=st.sampled_from([3.0, 10.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(how=st.sampled_from(["read", "search", "all"]), key=KEYS)
    def observe(self, how: str, key: str) -> None:
        """Read one key, search, or read everything: each expires what is due."""
        live = self._live()
        if how == "read":
            row = live.get(key)
            assert self.cache.get(key) == (None if row is None else row[0])
        elif how == "search":
            found = {hit.key for hit in self.cache.search(PROBE, k=10)}
            assert found == {k for k, row in live.items() if row[1] is not None}
        else:
            self.same_content()

    @rule(
        rows=st.lists(
            st.tuples(st.integers(0, 999), st.none() | st.integers(0, 99), TTLS),
            min_size=3,
            max_size=3,
        ),
        drop=KEYS,
        later=st.sampled_from([0.0, 10.0]),
    )
    def load(
        self, rows: list[tuple[int, int | None, float | None]], drop: str, later: float
    ) -> None:
        """``later`` seconds on, load a snapshot holding every key but ``drop`` (so it
        often meets copies that expired meanwhile, which no read has purged yet)."""
        self.clock.advance(later)
        content = dict(zip(["a", "b", "c"], rows))
        del content[drop]
        source = SemCache(index="flat", clock=self.clock, embedder=embedder())
        for key, (value, seed, ttl) in content.items():
            source.set(key, value, vector=None if seed is None else _vector(seed), ttl=ttl)
        snapshot = self.root / f"load{self.generation}.semcache"
        self.generation += 1
        source.dump(snapshot)
        self.cache.load(snapshot)
        self.model = {k: (v, s, self._expiry(t)) for k, (v, s, t) in content.items()}

    @rule(how=st.sampled_from(["checkpoint", "crash", "close"]))
    def persist(self, how: str) -> None:
        """Checkpoint, or reopen the directory after a crash or a close."""
        if how == "checkpoint":
            self.cache.backend.checkpoint()  # type: ignore[attr-defined]
        elif how == "crash":
            self.crash_and_reopen()
        else:
            path = Path(self.cache.backend.path)  # type: ignore[attr-defined]
            self.cache.close()
            self.cache = self._open(path)

    def crash_and_reopen(self) -> None:
        """Reopen the directory as ``kill -9`` would leave it now (no close, no checkpoint)."""
        old = Path(self.cache.backend.path)  # type: ignore[attr-defined]
        crashed = self.root / f"cache{self.generation}"
        self.generation += 1
        shutil.copytree(old, crashed, ignore=shutil.ignore_patterns(LOCK_FILE))
        self.cache.close()
        self.cache = self._open(crashed)

    def same_content(self) -> None:
        """Every live entry and nothing else (not an invariant: reading expires entries,
        and the defects hide behind what reads do)."""
        live = self._live()
        assert self.cache.scan() == sorted(live)
        for key, (value, _, expires_at) in live.items():
            entry = self.cache.get_entry(key)
            assert entry is not None and (entry.value, entry.expires_at) == (value, expires_at)


DurableCacheMatchesAModel.TestCase.settings = settings(
    max_examples=100, stateful_step_count=15, deadline=None
)
test_durable_cache_matches_a_model = DurableCacheMatchesAModel.TestCase
