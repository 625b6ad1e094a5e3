"""top_k_rows: the batch search's selection, checked against a full sort of each row."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semcache_core.index.base import top_k_rows


def reference(row: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k best, best first, ties by lower position (a full stable sort)."""
    return np.lexsort((np.arange(len(row)), -row))[:k]


@settings(max_examples=40, deadline=None)
@given(
    n=st.sampled_from([1, 7, 600, 5_000, 20_000]),
    queries=st.integers(1, 6),
    k=st.integers(1, 40),
    decimals=st.sampled_from([None, 1, 2]),  # rounding makes many exact ties
    seed=st.integers(0, 2**32 - 1),
)
def test_every_row_equals_a_full_sort(n, queries, k, decimals, seed) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((queries, n)).astype(np.float32)
    if decimals is not None:
        scores = np.round(scores, decimals).astype(np.float32)
    for row, (positions, values) in zip(scores, top_k_rows(scores, k)):
        expected = reference(row, k)
        np.testing.assert_array_equal(values, row[expected])
        if len(row) <= k or row[expected[-1]] != np.sort(row)[::-1][k]:
            np.testing.assert_array_equal(positions, expected)  # no tie across the cut
        else:  # a tie across the cut: any of the tied columns may be kept
            np.testing.assert_array_equal(row[positions], values)
            assert len(set(positions.tolist())) == len(positions)


def test_sampled_rows_break_ties_by_lower_position() -> None:
    rng = np.random.default_rng(2)
    scores = rng.uniform(-1.0, 0.0, (3, 40_000)).astype(np.float32)
    scores[:, [39_000, 5]] = 0.5
    scores[:, [30_000, 100, 20_000]] = 0.25  # three tied for the last two places
    for positions, values in top_k_rows(scores, 4):
        assert positions.tolist() == [5, 39_000, 100, 20_000]
        assert values.tolist() == [0.5, 0.5, 0.25, 0.25]


@pytest.mark.parametrize("k", [1, 10])
def test_a_row_the_sample_misjudges_still_gets_its_top_k(k: int) -> None:
    """Constant rows with a few high columns: the sample admits everything, so the
    selection falls back to a full partition; one ordinary row rides along unharmed."""
    rng = np.random.default_rng(3)
    n = 60_000
    scores = np.full((3, n), 0.25, dtype=np.float32)
    high = rng.choice(n, size=k, replace=False)
    scores[0, high] = np.linspace(0.9, 0.5, k)
    scores[2] = rng.standard_normal(n)
    got = top_k_rows(scores, k)
    assert got[0][0].tolist() == high.tolist()
    np.testing.assert_array_equal(got[0][1], np.linspace(0.9, 0.5, k).astype(np.float32))
    np.testing.assert_array_equal(got[1][1], np.full(k, 0.25, np.float32))
    np.testing.assert_array_equal(got[2][0], reference(scores[2], k))


def test_k_beyond_the_row_returns_every_column_ranked() -> None:
    scores = np.array([[0.2, 0.9, 0.2], [0.0, -1.0, 1.0]], dtype=np.float32)
    got = top_k_rows(scores, 10)
    assert [positions.tolist() for positions, _ in got] == [[1, 0, 2], [2, 0, 1]]
