"""FlatIndex internals that the cache-level tests reach only at large sizes."""

from __future__ import annotations

import numpy as np
import pytest

from semcache_core.index.flat import _BATCH_SCORES, _SORTED_LOOKUP_MIN, FlatIndex


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def churned() -> tuple[FlatIndex, np.ndarray, np.ndarray, np.ndarray]:
    """20k rows under scattered labels, 2k of them deleted (rows moved by swap-removes)."""
    rng = np.random.default_rng(5)
    labels = rng.permutation(60_000)[:20_000].astype(np.int64) * 7
    vectors = unit(rng.standard_normal((20_000, 16)))
    index = FlatIndex(16)
    index.add(labels, vectors)
    index.remove(labels[::10])
    keep = np.ones(20_000, dtype=bool)
    keep[::10] = False
    return index, labels[keep], vectors[keep], labels[::10]


def test_many_labels_map_to_their_own_rows(churned: tuple) -> None:
    index, labels, vectors, _ = churned
    wanted = np.random.default_rng(6).permutation(labels)
    assert len(wanted) >= _SORTED_LOOKUP_MIN  # the sorted lookup, not the dict one
    by_label = dict(zip(labels.tolist(), vectors))
    got = index.vectors(wanted)
    assert np.array_equal(got, np.stack([by_label[label] for label in wanted.tolist()]))


def test_many_labels_with_an_unknown_one_raise_key_error(churned: tuple) -> None:
    index, labels, _, removed = churned
    for unknown in (int(labels.max()) + 1, int(removed[3])):  # never held; held, then removed
        with pytest.raises(KeyError, match=str(unknown)):
            index.vectors(np.concatenate([labels[:_SORTED_LOOKUP_MIN], [unknown]]))


def test_filtered_search_over_many_allowed_labels_is_exact(churned: tuple) -> None:
    index, labels, vectors, _ = churned
    rng = np.random.default_rng(7)
    allowed = rng.choice(labels, size=_SORTED_LOOKUP_MIN + 500, replace=False)
    chosen = np.isin(labels, allowed)
    for query in unit(rng.standard_normal((5, 16))):
        found, scores = index.search(query, 10, allowed)
        truth = vectors[chosen] @ query
        best = np.argsort(-truth, kind="stable")[:10]
        assert found.tolist() == labels[chosen][best].tolist()
        assert np.allclose(scores, truth[best], atol=1e-6)


@pytest.mark.parametrize("size", [0, 1, 300, _SORTED_LOOKUP_MIN + 500, 17_000])
def test_a_filtered_batch_is_exact_and_answers_like_single_searches(
    churned: tuple, size: int
) -> None:
    """The allowed rows are gathered once for the batch; each query still gets its exact
    top k among them (the large sizes take the sampled-floor selection)."""
    index, labels, vectors, removed = churned
    rng = np.random.default_rng(size)
    allowed = rng.choice(labels, size=size, replace=False)
    chosen = np.isin(labels, allowed)
    queries = unit(rng.standard_normal((12, 16)))
    batch = index.search_batch(queries, 10, allowed)
    assert len(batch) == len(queries)
    for query, (found, scores) in zip(queries, batch):
        truth = vectors[chosen] @ query
        best = np.argsort(-truth, kind="stable")[:10]
        assert found.tolist() == labels[chosen][best].tolist()
        assert np.allclose(scores, truth[best], atol=1e-6)
        single, _ = index.search(query, 10, allowed)
        assert found.tolist() == single.tolist()
    with pytest.raises(KeyError):
        index.search_batch(queries, 10, removed[:3])  # labels the index no longer holds


def test_a_batch_larger_than_one_score_matrix_is_searched_in_parts() -> None:
    rng = np.random.default_rng(9)
    rows = 20_000
    index = FlatIndex(8)
    index.add(np.arange(rows, dtype=np.int64) * 3, unit(rng.standard_normal((rows, 8))))
    queries = unit(rng.standard_normal((_BATCH_SCORES // rows * 2 + 5, 8)))  # three parts
    batch = index.search_batch(queries, 5)
    assert len(batch) == len(queries)
    for i in (0, len(queries) // 2, len(queries) - 1):  # one query from each part
        found, scores = batch[i]
        single, single_scores = index.search(queries[i], 5)
        assert found.tolist() == single.tolist()
        assert np.allclose(scores, single_scores, atol=1e-6)
