"""Turning user input into the unit-length float32 vectors the indexes hold.

Every vector entering semcache passes :func:`as_unit_vector` (or its batch twin): it must be
one-dimensional, numeric, finite, non-zero and of the cache's dimension. Vectors are stored
normalised, so an inner product is the cosine similarity, in [-1, 1].

Example::

    >>> v = as_unit_vector([3.0, 4.0], dim=2)
    >>> v.tolist()
    [0.6000000238418579, 0.800000011920929]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import DimensionMismatchError, InvalidVectorError

FloatVector = npt.NDArray[np.float32]
FloatMatrix = npt.NDArray[np.float32]

__all__ = [
    "SCORE_TOLERANCE",
    "FloatMatrix",
    "FloatVector",
    "as_unit_matrix",
    "as_unit_vector",
    "looks_like_vector",
    "score_floor",
]

SCORE_TOLERANCE = 1e-6
"""How far below a threshold a cosine similarity still meets it. Similarities are computed
from float32 vectors, each backend in its own order: the same pair scores up to ~5e-7
apart between the local index and Redis, and a vector against itself 0.99999988 locally
(so ``threshold=1.0`` found no identical vector). Far below any difference between
texts an embedding tells apart."""


def score_floor(threshold: float | None) -> float:
    """The lowest similarity that meets ``threshold`` (``None``: every one does)."""
    return -2.0 if threshold is None else threshold - SCORE_TOLERANCE


def looks_like_vector(obj: Any) -> bool:
    """True for a 1-D numeric array or a non-empty list/tuple of real numbers (not bools)."""
    if isinstance(obj, np.ndarray):
        return obj.ndim == 1 and obj.size > 0 and obj.dtype.kind in "fiu"
    if isinstance(obj, (list, tuple)) and obj:
        return all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in obj)
    return False


def _as_float32(obj: Any, what: str) -> FloatMatrix:
    if isinstance(obj, (str, bytes)):
        raise InvalidVectorError(f"{what} must be numeric, got {type(obj).__name__}")
    if isinstance(obj, np.ma.MaskedArray):
        raise InvalidVectorError(f"{what} is a masked array: its masked components have no value")
    try:
        array = np.asarray(obj)
    except (TypeError, ValueError) as exc:
        raise InvalidVectorError(f"{what} is not an array of numbers: {exc}") from exc
    if array.dtype.kind not in "fiu" or array.dtype == np.bool_:
        raise InvalidVectorError(f"{what} must hold real numbers, got dtype {array.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        converted = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(converted).all():
        if np.isfinite(array).all():
            raise InvalidVectorError(
                f"{what} has components outside the float32 range (|x| > 3.4e38)"
            )
        raise InvalidVectorError(f"{what} has NaN or infinite components")
    return converted


def as_unit_matrix(obj: Any, dim: int | None, what: str = "vectors") -> FloatMatrix:
    """Validate a 2-D batch of vectors and return a normalised float32 copy.

    Raises:
        InvalidVectorError: not 2-D, empty rows, NaN/inf components, or an all-zero row.
        DimensionMismatchError: the rows' dimension differs from ``dim``.
    """
    matrix = _as_float32(obj, what)
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise InvalidVectorError(f"{what} must be a 2-D array (n, dim), got shape {matrix.shape}")
    if dim is not None and matrix.shape[1] != dim:
        raise DimensionMismatchError(dim, matrix.shape[1])
    wide = matrix.astype(np.float64)  # float64: norms of near-max or subnormal rows stay exact
    norms = np.linalg.norm(wide, axis=1)
    if not (norms > 0).all():
        bad = int(np.flatnonzero(norms <= 0)[0])
        raise InvalidVectorError(
            f"{what}[{bad}] is all zeros: cosine similarity is undefined for it"
        )
    return (wide / norms[:, None]).astype(np.float32)


def as_unit_vector(obj: Any, dim: int | None, what: str = "vector") -> FloatVector:
    """Validate one vector and return a normalised float32 copy.

    Raises:
        InvalidVectorError: not 1-D, NaN/inf components, or all zeros.
        DimensionMismatchError: its dimension differs from ``dim``.
    """
    vector = _as_float32(obj, what)
    if vector.ndim != 1 or vector.size == 0:
        raise InvalidVectorError(f"{what} must be a non-empty 1-D array, got shape {vector.shape}")
    if dim is not None and vector.size != dim:
        raise DimensionMismatchError(dim, vector.size)
    wide = vector.astype(np.float64)  # float64: norms of near-max or subnormal vectors stay exact
    norm = float(np.linalg.norm(wide))
    if norm == 0.0:
        raise InvalidVectorError(f"{what} is all zeros: cosine similarity is undefined for it")
    return (wide / norm).astype(np.float32)
