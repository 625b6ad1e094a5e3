"""A threshold is met within SCORE_TOLERANCE (found by review: float32 rounding put a
vector at 0.99999988 against itself locally, so ``threshold=1.0`` missed identical vectors
that Redis found, and ``calibrate`` could recommend exactly 1.0)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from semcache_core import SemCache
from semcache_core.calibration import table
from semcache_core.vectors import SCORE_TOLERANCE, score_floor

vectors = st.integers(2, 384).flatmap(
    lambda dim: arrays(
        np.float32, dim, elements=st.floats(-1e3, 1e3, allow_nan=False, width=32)
    ).filter(lambda v: bool(np.any(np.abs(v) > 1e-3)))
)


@pytest.mark.parametrize("index", ["flat", "hnsw"])
@settings(max_examples=150, deadline=None)
@given(vector=vectors)
def test_a_vector_meets_threshold_one_against_itself(index: str, vector: np.ndarray) -> None:
    cache = SemCache(index=index)
    cache.set("same", "v", vector=vector)
    hits = cache.search(vector, 1, threshold=1.0)
    assert [hit.key for hit in hits] == ["same"]
    assert hits[0].score <= 1.0  # scores stay in [-1, 1]


def test_the_tolerance_is_far_below_what_tells_texts_apart() -> None:
    cache = SemCache()
    cache.set("near", "v", vector=[1.0, 0.0])
    slightly_off = [np.cos(1e-3), np.sin(1e-3)]  # cosine 0.9999995: 5e-7 below one
    far_enough = [np.cos(2e-3), np.sin(2e-3)]  # cosine 0.999998
    assert [hit.key for hit in cache.search(slightly_off, 1, threshold=1.0)] == ["near"]
    assert cache.search(far_enough, 1, threshold=1.0) == []
    assert score_floor(None) < -1.0 and score_floor(0.5) == 0.5 - SCORE_TOLERANCE


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-1, 1), st.booleans()), min_size=1, max_size=20),
    st.floats(-1, 1),
)
def test_calibration_counts_a_pair_served_exactly_when_the_cache_would(
    scored: list[tuple[float, bool]], threshold: float
) -> None:
    row = table([s for s, _ in scored], [same for _, same in scored], [threshold])[0]
    served = [same for score, same in scored if score >= threshold - SCORE_TOLERANCE]
    assert (row.served, row.hits) == (len(served), sum(served))
