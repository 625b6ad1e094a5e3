"""Exact search over one contiguous float32 matrix, made faster by an int8 first pass.

Rows ``[0, n)`` of ``_vectors`` are the live unit vectors; deleting a row moves the last
row into its place (O(dim), no rebuild). Beside the float32 matrix sits an int8 copy
(scalar quantised per row, as in faiss's SQ8) which is 4x smaller, so a scan of it reads a
quarter of the memory: single-query search is bound by memory bandwidth, and this is
what makes it beat a plain ``X @ q``.

The result is still **exact**. For a unit query ``q`` and row ``x`` with quantisation
residuals ``e = x - x~`` and ``f = q - q~``::

    |x.q - x~.q~| <= |e| + (1 + |e|) |f|          (Cauchy-Schwarz, |x| = |q| = 1)

so each int8 score brackets the true score. Any row whose upper bound falls below the k-th
largest lower bound cannot be in the top k; the remaining candidates (typically a few
hundred) are re-scored in float32 and ranked. Same ids and scores as brute force.

A bulk restore (:meth:`FlatIndex.restore`, used when a snapshot loads) adopts the float32
rows as they are and leaves the int8 codes to :meth:`FlatIndex.code_pending`, which the
owner calls in small steps from a background thread; until every row has its code,
searches scan the float32 rows (exact, just slower).

Example::

    >>> index = FlatIndex(dim=3)
    >>> index.add(np.array([7, 8]), np.eye(3, dtype=np.float32)[:2])
    >>> index.search(np.array([1, 0, 0], np.float32), k=1)
    (array([7]), array([1.], dtype=float32))
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import simsimd

from ..vectors import FloatMatrix, FloatVector
from .base import Labels, SearchResult, empty_result, top_k, top_k_rows

__all__ = ["FlatIndex"]

# Below this many candidate rows, the plain float32 product is as fast as the int8 pass.
_QUANTISED_MIN_ROWS = 4096
# From this many labels on, rows are found by one sort and a binary search, not a dict each.
_SORTED_LOOKUP_MIN = 8192
# search_batch scores at most this many (query, row) pairs at once: 128 MB of float32.
_BATCH_SCORES = 1 << 25
# Float32 rounding of the exact re-score and of the bounds themselves.
_ROUNDING_SLACK = 1e-5


def _quantise(vectors: FloatMatrix) -> tuple[npt.NDArray[np.int8], FloatVector, FloatVector]:
    """Per-row symmetric int8 quantisation: codes, scales, and residual norms."""
    peaks = np.maximum(vectors.max(axis=1), -vectors.min(axis=1))
    scales = (peaks / np.float32(127.0)).astype(np.float32)
    work = vectors / scales[:, None]  # one scratch matrix, reused in place below
    np.rint(work, out=work)
    np.clip(work, -127, 127, out=work)
    codes = work.astype(np.int8)
    np.multiply(work, scales[:, None], out=work)
    np.subtract(vectors, work, out=work)  # the residuals
    errors = np.sqrt(np.einsum("ij,ij->i", work, work)).astype(np.float32)
    return codes, scales, errors


class FlatIndex:
    """Exact cosine search; ``add`` upserts by label, ``remove`` swaps in the last row."""

    kind = "flat"

    def __init__(self, dim: int, capacity: int = 1024) -> None:
        self.dim = dim
        capacity = max(16, capacity)
        self._vectors = np.empty((capacity, dim), dtype=np.float32)
        self._codes = np.empty((capacity, dim), dtype=np.int8)
        self._scales = np.empty(capacity, dtype=np.float32)
        self._errors = np.empty(capacity, dtype=np.float32)
        self._labels = np.empty(capacity, dtype=np.int64)
        self._coded = np.ones(capacity, dtype=bool)  # False: row restored, code pending
        self._row_of: dict[int, int] = {}
        self._n = 0
        self._uncoded = 0

    @classmethod
    def restore(cls, labels: Labels, vectors: FloatMatrix) -> FlatIndex:
        """An index over ``vectors`` (unit float32 rows, adopted without a copy), in order.

        The int8 codes are left pending: call :meth:`code_pending` until it returns False.
        """
        n, dim = vectors.shape
        index = cls(dim, capacity=0)
        index._vectors = vectors
        index._labels = np.array(labels, dtype=np.int64)
        index._codes = np.empty((n, dim), dtype=np.int8)
        index._scales = np.empty(n, dtype=np.float32)
        index._errors = np.empty(n, dtype=np.float32)
        index._coded = np.zeros(n, dtype=bool)
        index._row_of = dict(zip(index._labels.tolist(), range(n)))
        index._n = index._uncoded = n
        if len(index._row_of) != n:
            raise ValueError("restored labels repeat")
        return index

    def code_pending(self, max_rows: int) -> bool:
        """Compute the int8 codes of up to ``max_rows`` restored rows; True while some remain."""
        if self._uncoded:
            rows = np.flatnonzero(~self._coded[: self._n])[:max_rows]
            self._codes[rows], self._scales[rows], self._errors[rows] = _quantise(
                self._vectors[rows]
            )
            self._coded[rows] = True
            self._uncoded -= len(rows)
        return self._uncoded > 0

    def __len__(self) -> int:
        return self._n

    def __contains__(self, label: int) -> bool:
        return label in self._row_of

    @property
    def uncoded(self) -> int:
        """Rows still waiting for their int8 codes (see :meth:`code_pending`)."""
        return self._uncoded

    @property
    def labels(self) -> Labels:
        """Live labels, a read-only view in row order."""
        view = self._labels[: self._n]
        view.flags.writeable = False
        return view

    def vectors(self, labels: Labels | None = None) -> FloatMatrix:
        """A copy of the stored unit vectors (all rows, or the given labels in order)."""
        if labels is None:
            return self._vectors[: self._n].copy()
        return self._vectors[self._rows(labels)]

    def _rows(self, labels: Labels) -> npt.NDArray[np.intp]:
        """Rows of ``labels``; raises ``KeyError`` for a label this index does not hold."""
        if len(labels) < _SORTED_LOOKUP_MIN:
            row_of = self._row_of
            return np.fromiter((row_of[int(label)] for label in labels), np.intp, len(labels))
        # many labels (a restore, a broad filter): one sort beats a dict lookup per label
        held = self._labels[: self._n]
        order = np.argsort(held, kind="stable")
        ranked = held[order]
        wanted = np.asarray(labels, dtype=np.int64)
        at = np.searchsorted(ranked, wanted).clip(0, max(self._n - 1, 0))
        if self._n == 0 or not np.array_equal(ranked[at], wanted):
            missing = wanted[ranked[at] != wanted] if self._n else wanted
            raise KeyError(int(missing[0]))
        return order[at].astype(np.intp, copy=False)

    def _grow(self, needed: int) -> None:
        capacity = len(self._labels)
        if needed <= capacity:
            return
        new_capacity = max(needed, capacity * 2)
        for name in ("_vectors", "_codes", "_scales", "_errors", "_labels", "_coded"):
            old = getattr(self, name)
            new = np.empty((new_capacity, *old.shape[1:]), dtype=old.dtype)
            new[: self._n] = old[: self._n]
            setattr(self, name, new)

    def add(self, labels: Labels, vectors: FloatMatrix) -> None:
        """Insert or replace rows; ``vectors`` must already be unit-length float32."""
        labels = np.asarray(labels, dtype=np.int64)
        codes, scales, errors = _quantise(vectors)
        rows = np.empty(len(labels), dtype=np.intp)
        self._grow(self._n + len(labels))
        for i, label in enumerate(labels.tolist()):
            row = self._row_of.get(label)
            if row is None:
                row = self._n
                self._row_of[label] = row
                self._labels[row] = label
                self._n += 1
                self._coded[row] = True
            elif not self._coded[row]:
                self._coded[row] = True
                self._uncoded -= 1
            rows[i] = row
        self._vectors[rows] = vectors
        self._codes[rows] = codes
        self._scales[rows] = scales
        self._errors[rows] = errors

    def remove(self, labels: Labels) -> None:
        """Delete rows by label (unknown labels are ignored)."""
        for label in np.asarray(labels, dtype=np.int64).tolist():
            row = self._row_of.pop(label, None)
            if row is None:
                continue
            self._uncoded -= not self._coded[row]
            last = self._n - 1
            if row != last:
                moved = int(self._labels[last])
                self._vectors[row] = self._vectors[last]
                self._codes[row] = self._codes[last]
                self._scales[row] = self._scales[last]
                self._errors[row] = self._errors[last]
                self._coded[row] = self._coded[last]
                self._labels[row] = moved
                self._row_of[moved] = row
            self._n = last

    def search(self, query: FloatVector, k: int, allowed: Labels | None = None) -> SearchResult:
        """Top ``k`` labels by cosine similarity, best first; ``allowed`` restricts labels."""
        if self._n == 0 or (allowed is not None and len(allowed) == 0):
            return empty_result()
        if allowed is not None and (
            self._uncoded or len(allowed) < max(_QUANTISED_MIN_ROWS, self._n // 8)
        ):
            rows = np.sort(self._rows(allowed))  # row order: scores independent of `allowed`
            ids, scores = top_k(self._vectors[rows] @ query, k)
            return self._labels[rows[ids]], scores
        if self._n < _QUANTISED_MIN_ROWS or self._uncoded:
            ids, scores = top_k(self._vectors[: self._n] @ query, k)
            return self._labels[ids], scores
        rows = self._candidates(query, k, allowed)
        ids, scores = top_k(self._vectors[rows] @ query, k)
        return self._labels[rows[ids]], scores

    def _candidates(self, query: FloatVector, k: int, allowed: Labels | None) -> npt.NDArray:
        """Rows that may be in the exact top ``k``, from the int8 scan and its error bounds."""
        n = self._n
        peak = float(np.abs(query).max())
        query_scale = peak / 127.0
        query_codes = np.rint(query / query_scale).clip(-127, 127).astype(np.int8)
        query_error = float(np.linalg.norm(query - query_codes.astype(np.float32) * query_scale))
        dots = np.asarray(
            simsimd.cdist(query_codes[None], self._codes[:n], metric="dot", threads=1)
        )[0]
        approx = dots * (self._scales[:n] * query_scale)
        bound = self._errors[:n] * (1.0 + query_error) + (query_error + _ROUNDING_SLACK)
        lower = approx - bound
        if allowed is not None:
            mask = np.zeros(n, dtype=bool)
            mask[self._rows(allowed)] = True
            lower[~mask] = -np.inf
            approx[~mask] = -np.inf
        k = min(k, n if allowed is None else len(allowed))
        kth_lower = np.partition(lower, n - k)[n - k]
        return np.flatnonzero(approx + bound >= kth_lower)

    def search_batch(
        self, queries: FloatMatrix, k: int, allowed: Labels | None = None
    ) -> list[SearchResult]:
        """Top ``k`` for each query from one matrix product (exact; BLAS may use every core).

        ``allowed`` restricts labels, as in :meth:`search`: its rows are gathered once for
        the whole batch.
        """
        if self._n == 0 or (allowed is not None and len(allowed) == 0):
            return [empty_result() for _ in range(len(queries))]
        if allowed is None:
            rows = None
            matrix = self._vectors[: self._n]
        else:
            rows = np.sort(self._rows(allowed))  # row order: scores independent of `allowed`
            matrix = self._vectors[rows]
        results: list[SearchResult] = []
        step = max(1, _BATCH_SCORES // len(matrix))  # bounds the score matrix's memory
        for start in range(0, len(queries), step):
            scores = queries[start : start + step] @ matrix.T
            results += [
                (self._labels[found if rows is None else rows[found]], best)
                for found, best in top_k_rows(scores, k)
            ]
        return results
