"""The interface every in-process vector index implements, and shared helpers.

An index maps int64 *labels* (assigned by the backend) to unit float32 vectors and answers
top-k cosine queries. Scores are cosine similarities in [-1, 1], best first.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from ..vectors import FloatMatrix, FloatVector

__all__ = ["Labels", "SearchResult", "VectorIndex", "empty_result", "rank", "top_k"]

Labels = npt.NDArray[np.int64]
SearchResult = tuple[Labels, npt.NDArray[np.float32]]


class VectorIndex(Protocol):
    """A vector index over unit vectors keyed by int64 labels."""

    kind: str
    dim: int

    def __len__(self) -> int: ...

    def __contains__(self, label: int) -> bool: ...

    def add(self, labels: Labels, vectors: FloatMatrix) -> None: ...

    def remove(self, labels: Labels) -> None: ...

    def search(self, query: FloatVector, k: int, allowed: Labels | None = None) -> SearchResult: ...

    def search_batch(self, queries: FloatMatrix, k: int) -> list[SearchResult]: ...


def empty_result() -> SearchResult:
    return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)


def top_k(scores: npt.NDArray[np.floating], k: int) -> tuple[npt.NDArray[np.intp], npt.NDArray]:
    """Positions and values of the ``k`` largest scores, largest first (ties: lower first)."""
    n = len(scores)
    part = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
    return rank(part, scores)


def rank(
    positions: npt.NDArray[np.intp], scores: npt.NDArray[np.floating]
) -> tuple[npt.NDArray[np.intp], npt.NDArray]:
    """``positions`` ordered by their score, best first (ties: lower position first)."""
    order = positions[np.lexsort((positions, -scores[positions]))]
    return order, scores[order].astype(np.float32, copy=False)
