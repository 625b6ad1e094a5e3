"""``dump`` / ``load`` on a Redis-backed cache, both directions: Redis -> local, local ->
Redis, Redis -> Redis; streamed in small batches here so several batches run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakeclock import FakeClock
from suite_support import ClientPool

from semcache_core import SemCache
from semcache_core.backends.base import BackendState, SpaceState
from semcache_core.backends.local import LocalBackend
from semcache_core.backends.redis import RedisBackend, snapshots
from semcache_core.errors import SnapshotError


@pytest.fixture(scope="module")
def clients(request: pytest.FixtureRequest) -> Iterator[ClientPool]:
    pool = ClientPool(request)
    yield pool
    pool.close()


@pytest.fixture(params=["standalone", "cluster"])
def remote_backend(request: pytest.FixtureRequest, clients: ClientPool) -> Iterator[Any]:
    maker = clients.maker(request.param)
    yield maker
    maker.close()


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshots, "BATCH", 7)


def _fill(cache: SemCache, clock: FakeClock) -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((30, 5)).astype(np.float32)
    cache.set_many(
        {f"k{i:02d}": {"i": i, "b": b"\x00" * i} for i in range(30)},
        vectors=vectors,
        metadatas=[{"i": i, "lang": "en" if i % 2 else "fr"} for i in range(30)],
    )
    cache.set("plain", "no vector", ttl=100)
    cache.set("soon", 1, ttl=5)
    cache.set("k00", "other ns", vector=[1.0, 0.0, 0.0], namespace="three")
    cache.set("arr", np.arange(3, dtype=np.float64), namespace="arrays")


def _same_content(a: SemCache, b: SemCache) -> None:
    assert a.namespaces() == b.namespaces()
    for namespace in a.namespaces():
        keys = a.scan(namespace=namespace)
        assert keys == b.scan(namespace=namespace)
        assert a.dim_of(namespace) == b.dim_of(namespace)
        for key in keys:
            x, y = a.get_entry(key, namespace=namespace), b.get_entry(key, namespace=namespace)
            assert x is not None and y is not None
            assert repr(x.value) == repr(y.value) and x.metadata == y.metadata
            assert x.expires_at == y.expires_at
    query = np.random.default_rng(9).standard_normal(5)
    for filters in (None, {"lang": "en"}):
        want = a.search(query, k=6, filters=filters)
        got = b.search(query, k=6, filters=filters)
        assert [h.key for h in got] == [h.key for h in want]
        assert np.allclose([h.score for h in got], [h.score for h in want], atol=1e-6)


def test_redis_dump_loads_into_a_local_cache_and_back(remote_backend: Any, tmp_path: Path) -> None:
    clock = FakeClock()
    remote = SemCache(backend=remote_backend(), clock=clock)
    _fill(remote, clock)
    remote.dump(tmp_path / "redis.semcache")
    local = SemCache(backend=LocalBackend(), clock=clock)
    local.set("stale", 1)  # a load replaces the whole content
    local.load(tmp_path / "redis.semcache")
    _same_content(remote, local)
    assert local.get("stale") is None

    clock.advance(5)  # "soon" expires: left out of the next load
    local.set("new", 2, vector=np.ones(5))
    local.dump(tmp_path / "local.semcache")
    again = SemCache(backend=remote_backend(), clock=clock)
    again.set("stale", 1, namespace="gone")
    again.load(tmp_path / "local.semcache")
    _same_content(local, again)
    assert again.get("soon") is None and again.get("new") == 2
    assert "gone" not in again.namespaces()


def test_redis_to_redis_and_expired_entries_skipped(remote_backend: Any, tmp_path: Path) -> None:
    clock = FakeClock()
    source = SemCache(backend=remote_backend(), clock=clock)
    _fill(source, clock)
    source.dump(tmp_path / "a.semcache")
    clock.advance(5)
    target = SemCache(backend=remote_backend(), clock=clock)
    target.load(tmp_path / "a.semcache")
    assert target.get("soon") is None and len(target) == len(source) == 33
    _same_content(source, target)


def test_an_inconsistent_state_changes_nothing(remote_backend: Any) -> None:
    backend: RedisBackend = remote_backend()
    cache = SemCache(backend=backend)
    cache.set("keep", 1, vector=[1.0, 0.0])
    state = BackendState(None, keys=["a"], values=[b"\x01"], metadata=[b"\x80"])
    state.namespaces, state.expires_at, state.labels = [""], [None], [3]  # no such vector
    state.spaces = [SpaceState("", np.array([0]), np.ones((1, 2), np.float32), None, 2)]
    with pytest.raises(ValueError, match="label 3"):
        backend.restore_state(state, 0.0)
    assert cache.scan() == ["keep"]


def test_a_damaged_file_is_a_snapshot_error(remote_backend: Any, tmp_path: Path) -> None:
    cache = SemCache(backend=remote_backend())
    cache.set("keep", 1, vector=[1.0, 0.0])
    cache.dump(tmp_path / "s.semcache")
    raw = (tmp_path / "s.semcache").read_bytes()
    (tmp_path / "s.semcache").write_bytes(raw[:-40])  # truncated
    cache.set("more", 2)
    with pytest.raises(SnapshotError):
        cache.load(tmp_path / "s.semcache")
    assert cache.scan() == ["keep", "more"]
