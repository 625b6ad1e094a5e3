"""Maximal marginal relevance (MMR): pick results that are relevant *and* diverse.

Every adapter that offers MMR search (LangChain's ``max_marginal_relevance_search``,
LlamaIndex's ``mmr`` query mode) fetches candidates with
``SemCache.search(..., with_vectors=True)`` and picks among them with :func:`mmr_select`,
so the selection rule lives in one place.

At each step MMR picks the candidate ``c`` maximising::

    lambda_mult * cos(query, c) - (1 - lambda_mult) * max(cos(c, s) for s already picked)

The first pick is always the most relevant candidate (nothing is picked yet, so there is no
redundancy term), as in ``langchain_core.vectorstores.utils.maximal_marginal_relevance``.
``lambda_mult = 1`` is plain relevance order; ``lambda_mult = 0`` then picks, each time,
the candidate least similar to everything already picked.

Example::

    >>> def unit(*v): return np.array(v) / np.linalg.norm(v)
    >>> query = unit(1.0, 0.3)
    >>> candidates = np.stack([unit(1.0, 0.25), unit(1.0, 0.2), unit(0.2, 1.0)])
    >>> mmr_select(query, candidates, k=2, lambda_mult=1.0)  # pure relevance order
    [0, 1]
    >>> mmr_select(query, candidates, k=2, lambda_mult=0.5)  # skips the near-duplicate
    [0, 2]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from .checks import as_real
from .errors import InvalidArgumentError, InvalidVectorError, shown

__all__ = ["check_lambda_mult", "mmr_select"]


def check_lambda_mult(lambda_mult: Any) -> float:
    """MMR's ``lambda_mult``, a number in [0, 1] (1: relevance order, 0: most diverse), as
    a Python float; numpy scalars (``np.float32(0.5)``) count as numbers.

    Raises:
        InvalidArgumentError: not a number in [0, 1].
    """
    number = as_real(lambda_mult)
    if number is None or not 0.0 <= number <= 1.0:  # NaN fails both
        raise InvalidArgumentError(f"lambda_mult must be in [0, 1], got {shown(lambda_mult)}")
    return number


def mmr_select(
    query: npt.ArrayLike,
    candidates: npt.ArrayLike,
    k: int,
    lambda_mult: float = 0.5,
) -> list[int]:
    """Row indices of ``candidates`` chosen by MMR, in the order they were picked.

    Args:
        query: the query vector, shape ``(d,)``, unit length.
        candidates: one candidate per row, shape ``(n, d)``, unit length (as
            ``SemCache.search(..., with_vectors=True)`` returns them); an empty sequence or
            an array with no rows means no candidates.
        k: how many to pick; ``min(k, n)`` indices come back (``[]`` for ``k <= 0``).
        lambda_mult: in [0, 1]; 1 weighs only relevance to the query, 0 only diversity
            from the candidates already picked.

    Similarities are inner products, which are cosine similarities because the vectors
    are unit length; the function does not normalise them. Ties go to the lower index.
    Cost: O(k * n * d) time (one matrix-vector product per pick), O(n) extra memory.

    Raises:
        InvalidArgumentError: ``k`` is not an int, or ``lambda_mult`` is outside [0, 1].
        InvalidVectorError: the shapes do not fit (``query`` not 1-D, ``candidates`` not
            2-D, or their dimensions differ).
    """
    if isinstance(k, bool) or not isinstance(k, int):
        raise InvalidArgumentError(f"k must be an int, got {shown(k)}")
    lambda_mult = check_lambda_mult(lambda_mult)
    q = np.asarray(query, dtype=np.float64)
    if q.ndim != 1:
        raise InvalidVectorError(f"query must be 1-D, got shape {q.shape}")
    matrix: Any = np.asarray(candidates, dtype=np.float64)
    if matrix.size == 0 or k <= 0:
        return []
    if matrix.ndim != 2 or matrix.shape[1] != q.shape[0]:
        raise InvalidVectorError(
            f"candidates must have shape (n, {q.shape[0]}), got shape {matrix.shape}"
        )
    n = matrix.shape[0]
    relevance = matrix @ q
    # redundancy[i]: the highest similarity of candidate i to any candidate picked so far.
    redundancy = np.full(n, -math.inf)
    available = np.ones(n, dtype=bool)
    picked: list[int] = []
    for _ in range(min(k, n)):
        if picked:
            score = lambda_mult * relevance - (1.0 - lambda_mult) * redundancy
        else:
            score = relevance.copy()
        score[~available] = -math.inf
        best = int(np.argmax(score))
        picked.append(best)
        available[best] = False
        np.maximum(redundancy, matrix @ matrix[best], out=redundancy)
    return picked
