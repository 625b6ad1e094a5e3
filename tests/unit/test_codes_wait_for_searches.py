"""Rows added one at a time wait for their int8 codes until a search wants them
(:mod:`semcache_core.index.flat`): a cache used only to remember embeddings never codes a
row; a search codes the few rows waiting itself, and leaves many (a fill by misses) to the
index's background thread, scanning float32 rows meanwhile. Answers stay exact throughout.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from semcache_core import SemCache
from semcache_core.index.flat import _QUANTISED_MIN_ROWS

DIM = 8


def filled(rows: np.ndarray, cache: SemCache | None = None, start: int = 0) -> SemCache:
    cache = cache or SemCache(index="flat")
    for i, row in enumerate(rows, start):
        cache.get_or_compute(f"t{i}", lambda _, row=row: row.tolist())
    return cache


def coded(rows: np.ndarray) -> tuple[SemCache, Any]:
    """A cache of ``rows`` (at least ``_QUANTISED_MIN_ROWS``) whose rows all have their codes
    (a search started the coding, which has finished), and its index."""
    cache = filled(rows)
    index = cache.backend.index_for("")  # type: ignore[attr-defined]
    cache.search(rows[0], k=1)
    assert index.wait_until_built(timeout=60)
    assert index.flat.uncoded == 0
    return cache, index


def watch_background_starts(index: Any) -> list[int]:
    """How many rows waited each time the index was asked to start its background work."""
    starts: list[int] = []
    start = index.start_background_work

    def recording() -> None:
        starts.append(index.flat.uncoded)
        start()

    index.start_background_work = recording
    return starts


def assert_exact(cache: SemCache, rows: np.ndarray, queries: np.ndarray, k: int) -> None:
    """Each search finds the brute-force top ``k`` (keys, and scores to float32 rounding)."""
    units = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    for query in queries:
        hits = cache.search(query, k=k)
        scores = units @ (query / np.linalg.norm(query))
        best = np.argsort(-scores, kind="stable")[:k]
        assert [hit.key for hit in hits] == [f"t{i}" for i in best]
        assert np.allclose([hit.score for hit in hits], scores[best], atol=1e-5)


def test_a_fill_by_misses_codes_nothing_until_a_search_then_codes_in_the_background() -> None:
    rng = np.random.default_rng(3)
    rows = rng.standard_normal((_QUANTISED_MIN_ROWS + 900, DIM)).astype(np.float32)
    cache = filled(rows)
    index = cache.backend.index_for("")  # type: ignore[attr-defined]
    starts = watch_background_starts(index)
    assert index.flat.uncoded == len(rows)  # nothing coded while filling
    queries = rng.standard_normal((5, DIM)).astype(np.float32)
    assert_exact(cache, rows, queries, k=7)  # float32 scans: too many wait to code first
    assert starts and starts[0] == len(rows)
    assert index.wait_until_built(timeout=60)
    assert index.flat.uncoded == 0
    assert_exact(cache, rows, queries, k=7)  # the int8 pass now


def test_a_search_codes_the_few_rows_waiting_itself() -> None:
    rng = np.random.default_rng(4)
    rows = rng.standard_normal((_QUANTISED_MIN_ROWS + 200, DIM)).astype(np.float32)
    cache, index = coded(rows[:_QUANTISED_MIN_ROWS])
    starts = watch_background_starts(index)
    filled(rows[_QUANTISED_MIN_ROWS:], cache, start=_QUANTISED_MIN_ROWS)
    assert index.flat.uncoded == 200
    assert_exact(cache, rows, rng.standard_normal((3, DIM)).astype(np.float32), k=5)
    assert index.flat.uncoded == 0 and starts == []  # coded by the search, no thread


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, _QUANTISED_MIN_ROWS - 1), seed=st.integers(0, 2**32 - 1))
def test_a_cache_too_small_for_the_int8_pass_never_codes_a_row(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((n, DIM)).astype(np.float32)
    cache = filled(rows)
    index = cache.backend.index_for("")  # type: ignore[attr-defined]
    starts = watch_background_starts(index)
    assert_exact(cache, rows, rng.standard_normal((2, DIM)).astype(np.float32), k=3)
    cache.search_batch(rng.standard_normal((4, DIM)).astype(np.float32), k=3)
    assert index.flat.uncoded == n and starts == []


def test_a_filtered_search_over_few_rows_codes_nothing() -> None:
    """A search the int8 pass does not pay for (a filter leaving few rows) scans those rows
    in float32: coding the rows waiting, there or in a thread, would be work for nothing
    (the next search that wants them codes them)."""
    rng = np.random.default_rng(5)
    rows = rng.standard_normal((_QUANTISED_MIN_ROWS + 300, DIM)).astype(np.float32)
    cache, index = coded(rows[:_QUANTISED_MIN_ROWS])
    for i, row in enumerate(rows[_QUANTISED_MIN_ROWS:], _QUANTISED_MIN_ROWS):
        metadata = {"few": True} if i % 30 == 0 else None
        cache.get_or_compute(f"t{i}", lambda _, row=row: row.tolist(), metadata=metadata)
    starts = watch_background_starts(index)
    hits = cache.search(rows[-1], k=3, filters={"few": True})
    assert len(hits) == 3 and all(int(hit.key[1:]) % 30 == 0 for hit in hits)
    assert index.flat.uncoded == 300 and starts == []  # nor a thread to code them
    assert_exact(cache, rows, rng.standard_normal((2, DIM)).astype(np.float32), k=4)
    assert index.flat.uncoded == 0
