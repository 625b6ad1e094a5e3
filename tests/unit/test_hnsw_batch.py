"""HNSWIndex.search_batch: one parallel hnswlib call that answers exactly like search."""

from __future__ import annotations

import threading

import numpy as np

from semcache_core.index.hnsw import HNSWIndex, HNSWParams
from semcache_core.index.hybrid import HybridIndex


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def add_in_order(index: HNSWIndex | HybridIndex, labels: np.ndarray, vectors: np.ndarray) -> None:
    """Add a few rows at a time: hnswlib inserts small adds on one thread, so the graph (and
    the churn damage these tests rely on) comes out the same on every run."""
    for start in range(0, len(labels), 8):
        index.add(labels[start : start + 8], vectors[start : start + 8])


def assert_batch_equals_singles(index: HNSWIndex, queries: np.ndarray, k: int) -> None:
    batch = index.search_batch(queries, k)
    assert len(batch) == len(queries)
    for query, (labels, scores) in zip(queries, batch):
        single_labels, single_scores = index.search(query, k)
        assert labels.dtype == np.int64 and scores.dtype == np.float32
        np.testing.assert_array_equal(labels, single_labels)
        np.testing.assert_array_equal(scores, single_scores)


def test_a_batch_answers_like_single_searches() -> None:
    rng = np.random.default_rng(8)
    index = HNSWIndex(32)
    index.add(np.arange(3_000), unit(rng.standard_normal((3_000, 32))))
    index.remove(np.arange(0, 3_000, 4))
    queries = unit(rng.standard_normal((40, 32)))  # parallel path
    for k in (1, 10, 100):
        assert_batch_equals_singles(index, queries, k)
    assert_batch_equals_singles(index, queries[:2], 10)  # one-thread path
    allowed = np.arange(1, 3_000, 7)
    for (labels, scores), query in zip(index.search_batch(queries, 10, allowed), queries):
        single_labels, single_scores = index.search(query, 10, allowed)
        np.testing.assert_array_equal(labels, single_labels)
        np.testing.assert_array_equal(scores, single_scores)
        assert set(labels.tolist()) <= set(allowed.tolist())
    labels, scores = index.search_batch(queries[:1], 5_000)[0]  # k beyond the live count
    assert sorted(labels.tolist()) == sorted(set(range(3_000)) - set(range(0, 3_000, 4)))
    assert np.all(np.diff(scores) <= 0)


def test_a_churned_graph_that_cannot_reach_k_answers_each_query_alone() -> None:
    """Slot reuse after heavy churn can cut a small graph apart; hnswlib then raises for
    the whole batch, and every query gets what a single search gets (here: nothing)."""
    rng = np.random.default_rng(0)
    index = HNSWIndex(8, HNSWParams(m=2, ef_construction=4, ef_search=4, seed=0))
    next_label, live = 0, []
    for _ in range(30):
        labels = np.arange(next_label, next_label + 20)
        next_label += 20
        add_in_order(index, labels, unit(rng.standard_normal((20, 8))))
        live += labels.tolist()
        doomed = set(rng.choice(live, size=min(len(live) - 3, 19), replace=False).tolist())
        index.remove(np.array(sorted(doomed)))
        live = [label for label in live if label not in doomed]
    queries = unit(rng.standard_normal((6, 8)))
    assert len(index.search(queries[0], len(live))[0]) < len(live)  # the premise
    assert_batch_equals_singles(index, queries, len(live))
    assert_batch_equals_singles(index, queries, 2)


def test_the_hybrid_answers_short_graph_results_exactly() -> None:
    """Past the exact-search size, a query the churned graph cannot serve in full is
    answered by the exact index, in a batch as alone."""
    rng = np.random.default_rng(0)
    lock = threading.RLock()
    params = HNSWParams(m=2, ef_construction=4, ef_search=4, seed=0)
    index = HybridIndex(8, "hnsw", lock, 1, params)
    next_label, live = 0, []
    with lock:
        for _ in range(30):
            labels = np.arange(next_label, next_label + 400)
            next_label += 400
            add_in_order(index, labels, unit(rng.standard_normal((400, 8))))
            live += labels.tolist()
            if len(live) > 1_100:
                doomed = set(rng.choice(live, size=len(live) - 1_100, replace=False).tolist())
                index.remove(np.array(sorted(doomed)))
                live = [label for label in live if label not in doomed]
        queries = unit(rng.standard_normal((6, 8)))
        assert index.kind == "hnsw" and len(index.flat) == 1_100
        assert index.hnsw is not None and len(index.hnsw.search(queries[0], 1_000)[0]) == 0
        batch = index.search_batch(queries, 1_000)
        for query, (labels, scores) in zip(queries, batch):
            exact_labels, exact_scores = index.flat.search(query, 1_000)
            np.testing.assert_array_equal(labels, exact_labels)
            np.testing.assert_array_equal(scores, exact_scores)
        for query, (labels, _) in zip(queries, index.search_batch(queries, 10)):
            np.testing.assert_array_equal(labels, index.search(query, 10)[0])
