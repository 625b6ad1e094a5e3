"""Partial search on a real cluster: one primary paused (SIGSTOP) makes ``search`` raise
:class:`BackendUnavailableError` within its deadline, or with ``allow_partial=True``
return the other shards' hits marked partial; resumed, all is well again. The local
backend's results are never partial."""

from __future__ import annotations

import time

import numpy as np
import pytest

from semcache_core import SemCache
from semcache_core.backends.local import LocalBackend
from semcache_core.backends.redis import RedisBackend
from semcache_core.errors import BackendUnavailableError
from semcache_core.redis_local import LocalCluster
from semcache_core.search_hits import SearchHits

DEADLINE = 1.0  # socket_timeout: the deadline of a search, every shard together


def _fill(cache: SemCache, n: int = 60, dim: int = 8) -> np.ndarray:
    vectors = np.random.default_rng(3).normal(size=(n, dim)).astype(np.float32)
    for i, vector in enumerate(vectors):
        cache.set(f"k{i}", i, vector=vector)
    return vectors


def test_local_results_are_never_partial() -> None:
    cache = SemCache(backend=LocalBackend())
    _fill(cache)
    for allow in (False, True):
        hits = cache.search(np.ones(8, dtype=np.float32), k=5, allow_partial=allow)
        assert isinstance(hits, SearchHits) and hits.partial is False and hits.unreachable == []
        assert len(hits) == 5
    batch = cache.search_batch([np.ones(8), -np.ones(8)], k=3, allow_partial=True)
    assert all(isinstance(h, SearchHits) and not h.partial for h in batch)


def test_paused_shard_raises_within_deadline_or_gives_a_marked_partial_result(
    disposable_cluster: LocalCluster,
) -> None:
    backend = RedisBackend(
        cluster_nodes=disposable_cluster.nodes[:1], socket_timeout=DEADLINE, retries=1
    )
    cache = SemCache(backend=backend)
    vectors = _fill(cache)
    query = vectors[0]
    full = cache.search(query, k=60)
    assert len(full) == 60 and not full.partial
    owner = {hit.key: disposable_cluster.node_for_key(_entry_key(backend, hit.key)) for hit in full}
    victim = owner["k0"]  # the shard holding the best hit
    kept = sorted(key for key, node in owner.items() if node != victim)
    assert kept and len(kept) < 60  # the other shards hold some, the victim holds some

    disposable_cluster.pause(victim)
    try:
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError, match=victim) as caught:
            cache.search(query, k=60)
        took = time.monotonic() - started
        assert "not reachable within" in str(caught.value)
        # within its deadline (+ slack for a loaded 2-core machine; no timing assertion
        # tighter than "did not retry for seconds")
        assert took < DEADLINE * 4, took

        partial = cache.search(query, k=60, allow_partial=True)
        assert isinstance(partial, SearchHits)
        assert partial.partial is True and partial.unreachable == [victim]
        assert sorted(hit.key for hit in partial) == kept  # only the other shards' hits
        assert "k0" not in {hit.key for hit in partial}
        scores = [hit.score for hit in partial]
        assert scores == sorted(scores, reverse=True)
        # get_similar never goes partial: a None here would be a silent miss
        with pytest.raises(BackendUnavailableError):
            cache.get_similar(query, threshold=0.9)
    finally:
        disposable_cluster.resume(victim)

    again = cache.search(query, k=60, allow_partial=True)
    assert not again.partial and [h.key for h in again] == [h.key for h in full]
    assert cache.get_similar(query, threshold=0.99) == 0
    cache.close()


def _entry_key(backend: RedisBackend, key: str, namespace: str = "") -> str:
    tags = backend._shards(namespace, create=False)
    assert tags is not None
    return backend._keys.entry_key(backend._tag_of(tags, key), key)
