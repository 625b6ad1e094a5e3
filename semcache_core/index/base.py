"""The interface every in-process vector index implements, and shared helpers.

An index maps int64 *labels* (assigned by the backend) to unit float32 vectors and answers
top-k cosine queries. Scores are cosine similarities in [-1, 1], best first.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from ..vectors import FloatMatrix, FloatVector

__all__ = [
    "Labels",
    "SearchResult",
    "VectorIndex",
    "empty_result",
    "first_not_unit",
    "rank",
    "top_k",
    "top_k_rows",
]

Labels = npt.NDArray[np.int64]
SearchResult = tuple[Labels, npt.NDArray[np.float32]]


UNIT_TOLERANCE = 1e-4
"""How far a stored vector's squared norm may be from 1: what every write stores, a unit
vector rounded to float32, is off by ~1e-7 (~1e-6 at 12,288 dimensions)."""


def first_not_unit(vectors: FloatMatrix) -> int | None:
    """The first row of ``vectors`` (2-D) that is not a unit vector within
    :data:`UNIT_TOLERANCE` (all zeros, NaN or infinite components included), or None.

    Stored vectors are normalised, so an inner product is a cosine: one of norm 10 would
    score 10x, and make a distant entry the best hit. One pass that releases the GIL.
    """
    with np.errstate(all="ignore"):
        squared = np.einsum("ij,ij->i", vectors, vectors)
        off = ~(np.abs(squared - 1) <= UNIT_TOLERANCE)  # NaN compares False: off too
    return int(np.argmax(off)) if off.any() else None


class VectorIndex(Protocol):
    """A vector index over unit vectors keyed by int64 labels."""

    kind: str
    dim: int

    def __len__(self) -> int: ...

    def __contains__(self, label: int) -> bool: ...

    def add(self, labels: Labels, vectors: FloatMatrix) -> None: ...

    def remove(self, labels: Labels) -> None: ...

    def search(self, query: FloatVector, k: int, allowed: Labels | None = None) -> SearchResult: ...

    def search_batch(
        self, queries: FloatMatrix, k: int, allowed: Labels | None = None
    ) -> list[SearchResult]: ...


def empty_result() -> SearchResult:
    return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)


def top_k(scores: npt.NDArray[np.floating], k: int) -> tuple[npt.NDArray[np.intp], npt.NDArray]:
    """Positions and values of the ``k`` largest scores, largest first (ties: lower first)."""
    n = len(scores)
    part = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
    return rank(part, scores)


# top_k_rows samples this fraction of each row's columns ...
_SAMPLE_SHARE = 16
# ... in this many contiguous blocks spread over the row (whole cache lines, not strides) ...
_SAMPLE_BLOCKS = 16
# ... once the sample holds this many columns per wanted result (a tight estimate).
_SAMPLE_PER_RESULT = 32


def top_k_rows(
    scores: npt.NDArray[np.float32], k: int
) -> list[tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]]:
    """:func:`top_k` of every row of a ``(queries, n)`` score matrix, without a Python loop.

    The ``k``-th best score of a sample of a row's columns is a lower bound of the row's
    true ``k``-th best, so every top-``k`` column scores at least that: one comparison pass
    and one ``flatnonzero`` find a few hundred candidates per row, where a full
    ``argpartition`` would reorder all ``n``. Each row is ordered as :func:`top_k` orders it:
    best first, ties by lower position (and, as there, which of several columns tied at the
    cut make it is not specified).

    Example::

        >>> [p.tolist() for p, _ in top_k_rows(np.array([[0.1, 0.9, 0.5]], np.float32), 2)]
        [[1, 2]]
    """
    queries, n = scores.shape
    k = min(k, n)
    if n >= _SAMPLE_SHARE * _SAMPLE_PER_RESULT * k:
        width = n // (_SAMPLE_SHARE * _SAMPLE_BLOCKS)
        blocks = np.linspace(0, n - width, _SAMPLE_BLOCKS).astype(np.intp)
        sample = np.concatenate([scores[:, start : start + width] for start in blocks], axis=1)
        kth = sample.shape[1] - k
        floors = np.partition(sample, kth, axis=1)[:, kth]
        flat = np.flatnonzero(scores >= floors[:, None])
        # A skewed row order can make the sample unrepresentative: then partition in full.
        if len(flat) <= queries * n // _SAMPLE_SHARE:
            row_of, columns = np.divmod(flat, n)
            values = scores.reshape(-1)[flat]
            order = np.lexsort((-values, row_of))  # stable: equal scores keep column order
            row_of, columns, values = row_of[order], columns[order], values[order]
            firsts = np.searchsorted(row_of, np.arange(queries))  # where each row's run starts
            return [(columns[first : first + k], values[first : first + k]) for first in firsts]
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < n else None
    return [
        rank(np.arange(n) if part is None else part[row], scores[row]) for row in range(queries)
    ]


def rank(
    positions: npt.NDArray[np.intp], scores: npt.NDArray[np.floating]
) -> tuple[npt.NDArray[np.intp], npt.NDArray]:
    """``positions`` ordered by their score, best first (ties: lower position first)."""
    order = positions[np.lexsort((positions, -scores[positions]))]
    return order, scores[order].astype(np.float32, copy=False)
