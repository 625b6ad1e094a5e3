"""A namespace past ``exact_below`` on Redis (the graph's side), against the local backend:
selective filters find every match, and a ``set_many`` larger than a script's batch is
written whole, in scripts of :data:`~semcache_core.backends.redis.plan.SET_BATCH`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from semcache_core import SemCache
from semcache_core.backends.redis import RedisBackend
from semcache_core.backends.redis.plan import SET_BATCH
from semcache_core.redis_local import LocalServer

N, DIM = 3000, 16


@pytest.fixture(scope="module")
def filled(redis_standalone: LocalServer) -> Iterator[tuple[SemCache, SemCache, np.ndarray]]:
    """The same 3,000 entries (one set_many: six scripts) locally and on one Redis shard."""
    vectors = np.random.default_rng(3).standard_normal((N, DIM)).astype(np.float32)
    metadatas = [{"r": i, "g": i % 500} for i in range(N)]
    items = [(f"k{i}", i) for i in range(N)]
    local = SemCache()
    remote = SemCache(backend=RedisBackend(redis_standalone.url, prefix=uuid.uuid4().hex[:8]))
    for cache in (local, remote):
        cache.set_many(items, vectors=vectors, metadatas=metadatas)
    try:
        yield local, remote, vectors
    finally:
        remote.clear()


def test_a_set_many_larger_than_a_script_batch_is_written_whole(
    filled: tuple[SemCache, SemCache, np.ndarray],
) -> None:
    local, remote, vectors = filled
    assert N > 5 * SET_BATCH
    assert len(remote) == len(local) == N
    for i in (0, SET_BATCH - 1, SET_BATCH, N - 1):
        entry = remote.get_entry(f"k{i}")
        assert entry is not None and entry.value == i and entry.metadata == {"r": i, "g": i % 500}
        assert remote.search(vectors[i], k=1)[0].key == f"k{i}"


SELECTIVE: list[tuple[dict[str, Any], int]] = [
    ({"r": {"$gt": N - 11}}, 10),  # the last 10 entries: exactly k match
    ({"r": {"$gt": N - 5}}, 10),  # fewer match than k
    ({"r": {"$lt": 20}}, 20),
    ({"r": {"$in": [7, 700, 1400, 2100, 2800]}}, 5),
    ({"g": 123}, 10),  # 6 match
]


@pytest.mark.parametrize(("spec", "k"), SELECTIVE, ids=[str(s) for s, _ in SELECTIVE])
def test_a_selective_filter_finds_every_match(
    filled: tuple[SemCache, SemCache, np.ndarray], spec: dict[str, Any], k: int
) -> None:
    """The graph's filtered walk missed some (12 of 800 such searches came back short),
    though the docs promise k results whenever k entries match."""
    local, remote, _ = filled
    for query in np.random.default_rng(7).standard_normal((25, DIM)):
        expected = {h.key: h.score for h in local.search(query, k=k, filters=spec)}
        found = {h.key: h.score for h in remote.search(query, k=k, filters=spec)}
        assert found.keys() == expected.keys()
        assert all(abs(found[key] - expected[key]) < 1e-4 for key in found)  # float32 sums
