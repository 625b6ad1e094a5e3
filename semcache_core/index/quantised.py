"""The int8 first pass of exact flat search: codes, error bounds, and candidate rows.

Each row (and each query) is scalar quantised on its own scale, as in faiss's SQ8. For a
unit query ``q`` and row ``x`` with quantisation residuals ``e = x - x~`` and ``f = q - q~``::

    |x.q - x~.q~| <= |e| + (1 + |e|) |f|          (Cauchy-Schwarz, |x| = |q| = 1)

so each int8 score brackets the true score. A row whose upper bound falls below the k-th
largest lower bound cannot be in the top k: :func:`candidates` keeps the rest (typically a
few hundred of 100k), which the caller re-scores in float32.

:func:`batch_candidates` does the same for many queries at once. One int8 matrix product
(numkong, VNNI kernels where the CPU has them) scores every row against every query, in
cache-sized chunks of rows spread over threads. Each chunk's block maxima (the best row of
every 32) give a running lower bound on each query's k-th best score, so a chunk keeps only
the pairs that can still matter, and no full score matrix is ever built. The survivors then
go through the same bounds as a single search, so each query gets **the same candidate
rows**, hence bit-identical results, as :func:`candidates` would give it.

Example::

    >>> rows = np.eye(4, dtype=np.float32)[:3]
    >>> codes, scales, errors = quantise_rows(rows)
    >>> query = quantise_queries(np.array([[0.6, 0.8, 0, 0]], np.float32))
    >>> dots = (codes.astype(np.int32) @ query.codes[0].astype(np.int32)).astype(np.float64)
    >>> [found.tolist() for found in candidates(dots, scales, errors, query, [0, 3], k=1)]
    [[1]]
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import threading
from collections.abc import Iterator, Sequence
from typing import ClassVar, cast

import numkong
import numpy as np
import numpy.typing as npt

from ..parallel import run_in_threads, worker_count
from ..vectors import FloatMatrix, FloatVector

__all__ = [
    "QuantisedQueries",
    "batch_candidates",
    "candidates",
    "quantise_queries",
    "quantise_rows",
]

Codes = npt.NDArray[np.int8]
Positions = npt.NDArray[np.intp]

# Float32 rounding of the exact re-score and of the bounds themselves.
_ROUNDING_SLACK = 1e-5
# Block maxima: the best scaled score of each run of this many rows in a chunk.
_BLOCK_ROWS = 32
# (row, query) scores per chunk: 4 MB of int32, so a chunk's passes stay in cache.
_CHUNK_SCORES = 1 << 20
# A thread of a batch scans at least this many rows (fewer are not worth a thread).
_PART_MIN_ROWS = 2048


def quantise_rows(vectors: FloatMatrix) -> tuple[Codes, FloatVector, FloatVector]:
    """Per-row symmetric int8 quantisation: codes, scales, and residual norms."""
    if len(vectors) == 1:
        return _quantise_row(vectors)
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


def _quantise_row(vectors: FloatMatrix) -> tuple[Codes, FloatVector, FloatVector]:
    """:func:`quantise_rows` of one row, with the same float32 arithmetic in fewer numpy
    calls (a ``get_or_compute`` miss adds one row at a time)."""
    row = vectors[0]
    peak = max(row.max(), -row.min())
    scale = np.float32(peak / np.float32(127.0))
    work = row / scale
    np.rint(work, out=work)
    np.clip(work, -127, 127, out=work)
    codes = work.astype(np.int8)
    work *= scale
    np.subtract(row, work, out=work)  # the residual
    # einsum, as quantise_rows sums: BLAS's dot sums in another order (the last bit differs)
    error = np.sqrt(np.einsum("i,i->", work, work))
    return codes[None, :], np.array([scale], np.float32), np.array([error], np.float32)


@dataclasses.dataclass(frozen=True)
class QuantisedQueries:
    """Unit queries' int8 codes (a row each), their scales, and the norms of what they lose.

    The float32 factors of the bounds are kept as :func:`candidates` uses them, so one query
    gets the same bounds whether it is searched alone or in a batch.
    """

    codes: Codes
    scales: npt.NDArray[np.float64]
    errors: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.codes)

    def factors(self) -> tuple[FloatVector, FloatVector, FloatVector]:
        """Per query, in float32: the scale, ``1 + error`` and ``error + slack``."""
        return (
            self.scales.astype(np.float32),
            (1.0 + self.errors).astype(np.float32),
            (self.errors + _ROUNDING_SLACK).astype(np.float32),
        )


def quantise_queries(queries: FloatMatrix) -> QuantisedQueries:
    """Each row of ``queries`` (unit float32) on its own int8 scale, as :func:`quantise_rows`."""
    scales = np.abs(queries).max(axis=1).astype(np.float64) / 127.0
    scales32 = scales.astype(np.float32)[:, None]
    codes = np.rint(queries / scales32).clip(-127, 127).astype(np.int8)
    residuals = queries - codes.astype(np.float32) * scales32
    # one row at a time: a row's norm must not depend on how many queries came with it
    errors = np.array([np.sqrt(residual.dot(residual)) for residual in residuals], np.float64)
    return QuantisedQueries(codes, scales, errors)


def candidates(
    dots: npt.NDArray[np.float64],
    scales: FloatVector,
    errors: FloatVector,
    queries: QuantisedQueries,
    starts: Sequence[int],
    k: int,
) -> list[Positions]:
    """Per query, the positions (ascending) of the rows that may be in its exact top ``k``.

    Query ``j`` owns the pairs ``starts[j]:starts[j + 1]``: ``dots`` holds each pair's int8
    dot product (row codes with query codes, as float64), ``scales`` and ``errors`` the
    pair's row's own (from :func:`quantise_rows`). Positions count from ``starts[j]``.
    """
    # one query: numpy scalars, which numpy's loops take faster than a broadcast array
    query_of = np.repeat(np.arange(len(queries)), np.diff(starts)) if len(queries) > 1 else 0
    query_scale, one_plus_error, error_slack = (factor[query_of] for factor in queries.factors())
    approx = dots * (scales * query_scale)
    bound = errors * one_plus_error + error_slack
    lower = approx - bound
    kth_lower = np.full(len(queries), -np.inf)
    spans = list(itertools.pairwise(starts))
    for query, (start, stop) in enumerate(spans):
        if stop > start:
            kth = stop - start - min(k, stop - start)
            kth_lower[query] = np.partition(lower[start:stop], kth)[kth]
    survives = approx + bound >= kth_lower[query_of]
    return [np.flatnonzero(survives[start:stop]) for start, stop in spans]


@dataclasses.dataclass
class _Survivors:
    """What one thread's rows leave for the final cut: pairs and its best block maxima."""

    best: npt.NDArray[np.float32]  # (queries, <= k) largest block maxima, in scaled units
    rows: Positions
    queries: Positions
    dots: npt.NDArray[np.int32]
    scaled: npt.NDArray[np.float32]  # dots * row scale: the score before the query's scale


def batch_candidates(
    codes: Codes,
    scales: FloatVector,
    errors: FloatVector,
    queries: FloatMatrix,
    k: int,
    *,
    chunk_scores: int = _CHUNK_SCORES,
) -> list[Positions]:
    """:func:`candidates` for every query, from one threaded int8 matrix product.

    ``codes``, ``scales`` and ``errors`` describe the rows to search (C-contiguous codes).
    Returns, per query, the same positions :func:`candidates` returns for it. Each thread
    scores about ``chunk_scores`` (row, query) pairs at a time.
    """
    n, m = len(codes), len(queries)
    k = min(k, n)
    quantised = quantise_queries(queries)
    packed = numkong.dots_pack(quantised.codes)
    _, one_plus_error, error_slack = quantised.factors()
    # the widest bound any row has for each query: the same float32 steps as candidates()
    widest = np.float32(errors.max()) * one_plus_error + error_slack
    # A survivor's approximate score is at least the k-th best minus two bounds: in scaled
    # units (before the query's scale), with slack for the float32 scaling itself.
    margin = (2.0 * widest + _ROUNDING_SLACK) / quantised.scales
    threads = min(worker_count(), max(1, n // _PART_MIN_ROWS))
    edges = np.linspace(0, n, threads + 1).astype(int).tolist()
    parts = run_in_threads(
        lambda span: _scan(codes, scales, packed, span, k, margin, chunk_scores, threads),
        list(itertools.pairwise(edges)),
    )
    best = np.concatenate([part.best for part in parts], axis=1)
    floor = _kth_largest(best, k) - margin
    rows = np.concatenate([part.rows for part in parts])
    query_of = np.concatenate([part.queries for part in parts])
    dots = np.concatenate([part.dots for part in parts])
    keep = np.concatenate([part.scaled for part in parts]) >= floor[query_of]
    rows, query_of, dots = rows[keep], query_of[keep], dots[keep]
    order = np.argsort(query_of, kind="stable")  # by query; rows stay ascending within one
    rows, dots = rows[order], dots[order]
    starts = np.searchsorted(query_of[order], np.arange(m + 1)).tolist()
    found = candidates(dots.astype(np.float64), scales[rows], errors[rows], quantised, starts, k)
    return [rows[start:][positions] for start, positions in zip(starts, found)]


def _scan(
    codes: Codes,
    scales: FloatVector,
    packed: numkong.PackedMatrix,
    span: tuple[int, int],
    k: int,
    margin: npt.NDArray[np.float64],
    chunk_scores: int,
    threads: int,
) -> _Survivors:
    """Rows ``span`` against every packed query, chunk by chunk, keeping what may matter."""
    first, last = span
    m = len(margin)
    chunk = max(_BLOCK_ROWS, chunk_scores // m // _BLOCK_ROWS * _BLOCK_ROWS)
    best = np.empty((m, 0), dtype=np.float32)
    floor = np.full(m, -np.inf, dtype=np.float32)
    kept: list[tuple[Positions, Positions, npt.NDArray[np.int32], npt.NDArray[np.float32]]] = []
    with _Scratch.lent(min(chunk, last - first) * m, keep=threads) as scratch:
        for start in range(first, last, chunk):
            stop = min(start + chunk, last)
            out, scaled, above = scratch.views(stop - start, m)
            numkong.dots_packed(codes[start:stop], packed, out=out)
            dots = np.asarray(out)
            # in float32 (int32 * float32 would compute in float64): its rounding, far below
            # the slack in the margin, only decides what is pruned, never a survivor
            np.multiply(dots, scales[start:stop, None], out=scaled, dtype=np.float32)
            best = np.concatenate([best, _block_maxima(scaled)], axis=1)
            if best.shape[1] > k:
                best = np.partition(best, best.shape[1] - k, axis=1)[:, -k:]
            if best.shape[1] == k:
                # round down: the float32 threshold must not drop what the float64 one keeps
                floor = np.nextafter((best.min(axis=1) - margin).astype(np.float32), -np.inf)
            flat = np.flatnonzero(np.greater_equal(scaled, floor, out=above))
            row, query = np.divmod(flat, m)
            kept.append((row + start, query, dots.reshape(-1)[flat], scaled.reshape(-1)[flat]))
    return _Survivors(best, *(np.concatenate(column) for column in zip(*kept)))


class _Scratch:
    """Chunk buffers for one scan, kept between calls: fresh ones would cost a page fault
    per 4 kB on every chunk (about 9,000 per 100-query batch over 100k rows).

    One set is lent to each running scan; between calls at most one set per worker thread
    waits for the next batch (about 9 MB each at the default chunk size).
    """

    _spare: ClassVar[list[_Scratch]] = []
    _spare_lock = threading.Lock()

    def __init__(self, scores: int) -> None:
        self.scores = scores
        self.dots = numkong.empty((scores,), dtype="int32")
        self.scaled = np.empty(scores, dtype=np.float32)
        self.above = np.empty(scores, dtype=bool)

    @classmethod
    @contextlib.contextmanager
    def lent(cls, scores: int, keep: int) -> Iterator[_Scratch]:
        """A set holding at least ``scores`` scores; ``keep`` sets at most wait afterwards."""
        with cls._spare_lock:
            fitting = [spare for spare in cls._spare if spare.scores >= scores]
            if fitting:
                cls._spare.remove(fitting[0])
        scratch = fitting[0] if fitting else cls(scores)
        try:
            yield scratch
        finally:
            with cls._spare_lock:
                cls._spare.append(scratch)
                cls._spare.sort(key=lambda spare: -spare.scores)
                del cls._spare[keep:]  # the largest stay: they fit any smaller scan

    def views(
        self, rows: int, queries: int
    ) -> tuple[numkong.Tensor, npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
        """``(rows, queries)`` views: int32 dots (a numkong output), scaled scores, a mask."""
        size = rows * queries
        dots = cast(numkong.Tensor, self.dots[:size])  # a slice: a Tensor, never a float
        return (
            dots.reshape(rows, queries),
            self.scaled[:size].reshape(rows, queries),
            self.above[:size].reshape(rows, queries),
        )


def _block_maxima(scaled: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """``(queries, blocks)``: each query's best score in every run of ``_BLOCK_ROWS`` rows."""
    whole = len(scaled) // _BLOCK_ROWS * _BLOCK_ROWS
    maxima = scaled[:whole].reshape(-1, _BLOCK_ROWS, scaled.shape[1]).max(axis=1)
    if whole < len(scaled):  # a shorter last run (faster than np.maximum.reduceat)
        maxima = np.vstack([maxima, scaled[whole:].max(axis=0)])
    return maxima.T


def _kth_largest(values: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.float64]:
    """Each row's ``k``-th largest value; ``-inf`` where a row has fewer than ``k``."""
    if values.shape[1] < k:
        return np.full(len(values), -np.inf)
    kth = values.shape[1] - k
    return np.partition(values, kth, axis=1)[:, kth].astype(np.float64)
