"""The in-process engine, found in review: expired entries held for good by a workload
of writes and keyed reads, and ``put_json`` / ``get_json`` of deeply nested JSON. Each
test failed before its fix.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakeclock import FakeClock
from hypothesis import given, settings
from hypothesis import strategies as st

from semcache_core import SemCache
from semcache_core.errors import InvalidValueError
from semcache_core.json_text import MAX_JSON_DEPTH, json_depth
from semcache_core.persist.journal import ENTRY_PREFIX

T0 = 1_000_000.0


def held(cache: SemCache) -> int:
    """Entries the local backend holds, expired or not (what ``len`` would purge first)."""
    backend: Any = getattr(cache.backend, "_memory", cache.backend)  # a durable one's view
    return int(backend._size())


def rows(cache: SemCache) -> int:
    """Vectors in the default namespace's index, expired entries' too."""
    backend: Any = cache.backend
    return int(backend.vector_count(""))


def vector(i: int) -> np.ndarray:
    return np.array([1.0, float(i % 7), 2.0], dtype=np.float32)


def read_all(cache: SemCache, keys: list[str]) -> dict[str, Any]:
    """``get_many`` as a dict of the keys found."""
    values = cache.get_many(keys, MISS)
    return {key: value for key, value in zip(keys, values) if value is not MISS}


MISS = object()


# --- expired entries are reclaimed by writes ---------------------------------------------


def write_round(cache: SemCache, write: str, i: int) -> dict[str, Any]:
    """One round of ``write`` (as an exact cache or a ByteStore does); the values written."""
    if write == "set":
        cache.set(f"k{i}", f"v{i}")
        return {f"k{i}": f"v{i}"}
    if write == "set-vector":
        cache.set(f"k{i}", f"v{i}", vector=vector(i))
        return {f"k{i}": f"v{i}"}
    pairs = {f"a{i}": f"x{i}".encode(), f"b{i}": f"y{i}".encode()}
    if write == "set_many-vector":
        cache.set_many(pairs, vectors=[vector(i), vector(i + 1)])
    else:
        cache.set_many(pairs)
    return pairs


WRITES = ["set", "set-vector", "set_many", "set_many-vector"]


@pytest.mark.parametrize("write", WRITES)
def test_writes_and_reads_alone_reclaim_expired_entries(write: str) -> None:
    """Entries live 1 s and the clock moves 0.1 s a round: about ten rounds' entries are
    live. Only ``len``, ``scan``, search and ``count`` purged, so a workload of writes and
    keyed reads held every entry it ever wrote, index rows too."""
    clock = FakeClock(T0)
    cache = SemCache(ttl=1.0, clock=clock)
    written: list[tuple[float, dict[str, Any]]] = []
    for i in range(2_000):
        pairs = write_round(cache, write, i)
        written.append((clock.now + 1.0, pairs))
        live = {k: v for expires_at, p in written if expires_at > clock.now for k, v in p.items()}
        assert read_all(cache, list(live)) == live  # nothing live is ever dropped
        assert held(cache) <= len(live) + 2
        assert rows(cache) <= held(cache)
        clock.advance(0.1)


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(WRITES),
            st.floats(0.0, 3.0, allow_nan=False),
            st.integers(0, 30),
        ),
        min_size=1,
        max_size=60,
    ),
    ttl=st.sampled_from([0.5, 1.0, 4.0]),
)
def test_held_entries_track_live_ones_under_any_clock(
    steps: list[tuple[str, float, int]], ttl: float
) -> None:
    """Any mix of writes (with and without vectors, keys written again), any clock moves:
    every live key reads back its value, the expired entries held never outnumber those
    held before plus those that expired since, and later writes reclaim them all."""
    clock = FakeClock(T0)
    cache = SemCache(ttl=ttl, clock=clock)
    model: dict[str, tuple[Any, float]] = {}
    live: dict[str, Any] = {}
    lag = written = 0
    for write, advance, key in steps:
        expired_since = sum(1 for k in live if model[k][1] <= clock.now)
        pairs = write_round(cache, write, key)
        written += len(pairs)
        model.update((k, (v, clock.now + ttl)) for k, v in pairs.items())
        live = {k: v for k, (v, expires_at) in model.items() if expires_at > clock.now}
        assert read_all(cache, list(model)) == live  # nothing live dropped, nothing dead read
        assert held(cache) - len(live) <= lag + expired_since
        lag = held(cache) - len(live)
        assert rows(cache) <= held(cache)
        clock.advance(advance)
    clock.advance(ttl)  # everything expired: each write takes more than it adds
    for i in range(written):  # at most one expiry item each
        cache.set(f"fresh{i}", i, ttl=1_000.0)
    assert held(cache) == written  # the fresh keys alone


def test_a_write_reclaims_a_backlog_a_little_at_a_time() -> None:
    """A clock jump expires 10k entries at once: the next write does not pay for them all,
    and the writes after it reclaim them, index rows too."""
    clock = FakeClock(T0)
    cache = SemCache(ttl=1.0, clock=clock)
    cache.set_many({f"k{i}": i for i in range(10_000)}, vectors=[vector(i) for i in range(10_000)])
    clock.advance(2.0)
    cache.set("one", 1, vector=vector(1))
    assert 9_900 <= held(cache) <= 10_000  # a bounded step, not the whole backlog
    for i in range(5_000):
        cache.set(f"new{i}", i, ttl=1_000.0)
    assert held(cache) == 5_001
    assert rows(cache) == 1


def test_writes_reclaim_expired_entries_restored_cold(tmp_path: Path) -> None:
    """A loaded snapshot's entries stay cold until something reaches them: those that expire
    are reclaimed by later writes as well."""
    clock = FakeClock(T0)
    source = SemCache(clock=clock)
    source.set_many({f"k{i}": i for i in range(100)}, ttl=1.0)
    source.dump(tmp_path / "snap")
    cache = SemCache(clock=clock)
    cache.load(tmp_path / "snap")
    clock.advance(2.0)
    for i in range(100):
        cache.set(f"new{i}", i)
    assert held(cache) == 100
    assert read_all(cache, [f"k{i}" for i in range(100)]) == {}


def test_reclaimed_entries_leave_the_durable_journal(tmp_path: Path) -> None:
    """A durable cache reclaims on writes too, and the journal drops those records as it
    drops those of every entry the view expires: the directory does not grow either."""
    clock = FakeClock(T0)
    expiry: dict[str, float] = {}
    with SemCache(path=tmp_path, ttl=1.0, clock=clock) as cache:
        for i in range(300):
            cache.set_many({f"a{i}": i, f"b{i}": i})
            expiry.update({f"a{i}": clock.now + 1.0, f"b{i}": clock.now + 1.0})
            assert cache.get_many([f"a{i}", f"b{i}"]) == [i, i]
            clock.advance(0.1)
        journal = cache.backend._journal  # type: ignore[attr-defined]
        records = sum(1 for name in journal.iterkeys() if str(name).startswith(ENTRY_PREFIX))
        assert records <= 2 * 10 + 2
        assert held(cache) <= 2 * 10 + 2
    live = sorted(key for key, expires_at in expiry.items() if expires_at > clock.now)
    with SemCache(path=tmp_path, ttl=1.0, clock=clock) as reopened:
        assert sorted(reopened.scan()) == live


# --- put_json / get_json and nesting -----------------------------------------------------


def nested(depth: int, leaf: Any = 0, kind: str = "list") -> Any:
    """``leaf`` inside ``depth`` lists (or dicts)."""
    value = leaf
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


def from_deeper(frames: int, call: Callable[[], Any]) -> Any:
    """``call()`` made ``frames`` Python frames deeper than here."""
    return call() if frames == 0 else from_deeper(frames - 1, call)


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 2_000, 100_000])
def test_put_json_refuses_deep_nesting_with_a_typed_error(depth: int) -> None:
    """Nesting too deep for ``json.dumps`` raised an untyped ``RecursionError``; less deep,
    it was stored and then did not read back from a deeper stack. Nothing is stored."""
    cache = SemCache()
    with pytest.raises(InvalidValueError, match=str(MAX_JSON_DEPTH)):
        cache.put_json("deep", nested(depth))
    assert not cache.exists("deep")


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_json_at_the_depth_limit_reads_back_anywhere(kind: str) -> None:
    """Accepted JSON reads back from a caller deep in its own calls, and in ``aget_json``
    (whose worker thread adds frames)."""
    cache = SemCache()
    value = nested(MAX_JSON_DEPTH, "leaf", kind)
    cache.put_json("j", value)
    assert from_deeper(500, lambda: cache.get_json("j")) == value
    assert from_deeper(500, lambda: asyncio.run(cache.aget_json("j"))) == value
    with pytest.raises(InvalidValueError, match=str(MAX_JSON_DEPTH)):
        cache.put_json("j", nested(MAX_JSON_DEPTH + 1, "leaf", kind))
    assert cache.get_json("j") == value  # the refused write changed nothing


def test_brackets_inside_strings_do_not_count() -> None:
    cache = SemCache()
    value = {"[" * 1_000: ["{" * 1_000, '"\\]' * 300, "x"]}
    cache.put_json("j", value)
    assert cache.get_json("j") == value


def test_get_json_of_text_too_deep_to_parse_raises_a_typed_error() -> None:
    """Deep JSON stored as a string (``put_string`` does not cap it) raised an untyped
    ``RecursionError`` from ``get_json`` and ``aget_json``."""
    cache = SemCache()
    cache.put_string("deep", "[" * 5_000 + "]" * 5_000)
    with pytest.raises(InvalidValueError, match="too deep"):
        cache.get_json("deep")
    with pytest.raises(InvalidValueError, match="too deep"):
        asyncio.run(cache.aget_json("deep"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab', max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=8,
)


def depth_of(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


@settings(max_examples=200, deadline=None)
@given(
    inner=json_values,
    extra=st.integers(MAX_JSON_DEPTH - 12, MAX_JSON_DEPTH + 2),
    kind=st.sampled_from(["list", "dict"]),
)
def test_put_json_accepts_exactly_what_nests_within_the_limit(
    inner: Any, extra: int, kind: str
) -> None:
    value = nested(extra, inner, kind)
    depth = depth_of(value)
    assert json_depth(json.dumps(value)) == depth
    cache = SemCache()
    if depth > MAX_JSON_DEPTH:
        with pytest.raises(InvalidValueError, match=str(MAX_JSON_DEPTH)):
            cache.put_json("j", value)
        assert not cache.exists("j")
    else:
        cache.put_json("j", value)
        assert from_deeper(500, lambda: cache.get_json("j")) == value
