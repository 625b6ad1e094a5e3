"""``mmr_select`` against a plain-Python reference, and its edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from semcache_core import InvalidArgumentError, InvalidVectorError
from semcache_core.mmr import mmr_select


def unit_rows(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def reference_mmr(query: np.ndarray, candidates: np.ndarray, k: int, lam: float) -> list[int]:
    """MMR written out as its definition: a loop over the remaining candidates per pick."""
    picked: list[int] = []
    remaining = list(range(len(candidates)))
    while remaining and len(picked) < k:
        best, best_score = -1, -math.inf
        for i in remaining:
            relevance = float(np.dot(query, candidates[i]))
            if picked:
                redundancy = max(float(np.dot(candidates[i], candidates[j])) for j in picked)
                score = lam * relevance - (1 - lam) * redundancy
            else:
                score = relevance
            if score > best_score:  # strict: ties go to the lower index
                best, best_score = i, score
        picked.append(best)
        remaining.remove(best)
    return picked


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("lam", [0.0, 0.25, 0.5, 0.75, 1.0])
def test_matches_reference(seed: int, lam: float) -> None:
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(1, 40)), int(rng.integers(2, 16))
    candidates = unit_rows(rng.normal(size=(n, d))).astype(np.float32)
    query = unit_rows(rng.normal(size=d)).astype(np.float32)
    for k in (1, 3, n, n + 5):
        expected = reference_mmr(query.astype(np.float64), candidates.astype(np.float64), k, lam)
        assert mmr_select(query, candidates, k, lam) == expected


def test_lambda_one_is_relevance_order() -> None:
    rng = np.random.default_rng(42)
    candidates = unit_rows(rng.normal(size=(30, 8)))
    query = unit_rows(rng.normal(size=8))
    order = np.argsort(-(candidates @ query), kind="stable").tolist()
    assert mmr_select(query, candidates, 10, 1.0) == order[:10]


def test_lambda_zero_spreads_over_clusters() -> None:
    # Three tight clusters along the axes; the query leans to the first one.
    rng = np.random.default_rng(7)
    centres = np.eye(3)
    rows = np.concatenate([c + 0.01 * rng.normal(size=(4, 3)) for c in centres])
    candidates = unit_rows(rows)
    query = unit_rows(np.array([1.0, 0.2, 0.1]))
    picked = mmr_select(query, candidates, 3, 0.0)
    assert picked[0] == int(np.argmax(candidates @ query))  # first: the most relevant
    assert sorted(i // 4 for i in picked) == [0, 1, 2]  # then one per cluster
    # Pure relevance stays inside the first cluster instead.
    assert {i // 4 for i in mmr_select(query, candidates, 3, 1.0)} == {0}


def test_near_duplicates_are_skipped_at_half_lambda() -> None:
    candidates = unit_rows(np.array([[1.0, 0.25], [1.0, 0.2], [0.2, 1.0]]))
    query = unit_rows(np.array([1.0, 0.3]))
    assert mmr_select(query, candidates, 2, 0.5) == [0, 2]
    assert mmr_select(query, candidates, 2, 1.0) == [0, 1]


def test_k_above_n_returns_every_candidate_once() -> None:
    rng = np.random.default_rng(3)
    candidates = unit_rows(rng.normal(size=(5, 4)))
    picked = mmr_select(unit_rows(rng.normal(size=4)), candidates, 50, 0.5)
    assert sorted(picked) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("empty", [[], np.empty((0, 4)), np.empty((0, 4), np.float32)])
def test_no_candidates(empty: object) -> None:
    assert mmr_select(np.ones(4) / 2, empty, 3, 0.5) == []


def test_k_zero_or_negative_picks_nothing() -> None:
    candidates = np.eye(3)
    assert mmr_select(candidates[0], candidates, 0, 0.5) == []
    assert mmr_select(candidates[0], candidates, -1, 0.5) == []


def test_accepts_lists() -> None:
    assert mmr_select([1.0, 0.0], [[0.0, 1.0], [1.0, 0.0]], 1, 0.5) == [1]


@pytest.mark.parametrize("lam", [-0.1, 1.5, math.nan, True, "0.5"])
def test_bad_lambda(lam: object) -> None:
    with pytest.raises(InvalidArgumentError):
        mmr_select(np.ones(2), np.eye(2), 1, lam)  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [1.5, True, "2"])
def test_bad_k(k: object) -> None:
    with pytest.raises(InvalidArgumentError):
        mmr_select(np.ones(2), np.eye(2), k, 0.5)  # type: ignore[arg-type]


def test_shape_mismatch() -> None:
    with pytest.raises(InvalidVectorError):
        mmr_select(np.ones(3), np.eye(2), 1, 0.5)
    with pytest.raises(InvalidVectorError):
        mmr_select(np.ones((1, 2)), np.eye(2), 1, 0.5)
    with pytest.raises(InvalidVectorError):
        mmr_select(np.ones(2), np.ones(2), 1, 0.5)
