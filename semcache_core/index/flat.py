"""Exact search over one contiguous float32 matrix, made faster by an int8 first pass.

Rows ``[0, n)`` of ``_vectors`` are the live unit vectors; deleting a row moves the last
row into its place (O(dim), no rebuild). Beside the float32 matrix sits an int8 copy
(scalar quantised per row, as in faiss's SQ8) which is 4x smaller, so a scan of it reads a
quarter of the memory: single-query search is bound by memory bandwidth, and this is
what makes it beat a plain ``X @ q``. A batch scores its queries with one int8 matrix
product instead, which does four times the work of a float32 one per instruction.

The result is still **exact**: each int8 score comes with an error bound
(:mod:`.quantised`), and only the rows that may be in the top k (typically a few hundred)
are re-scored in float32 and ranked. Same ids and scores as brute force, and a batch gives
each query the same candidates, so the same answer, as a single search.

A bulk restore (:meth:`FlatIndex.restore`, used when a snapshot loads) adopts the float32
rows as they are and leaves the int8 codes to :meth:`FlatIndex.code_pending`, which the
owner calls in small steps from a background thread; until every row has its code,
searches scan the float32 rows (exact, just slower). A row added on its own (a
``get_or_compute`` miss) waits for its code too, until a search needs it: a cache used
only to remember embeddings never pays for codes, and rows are coded in bulk (one row at
a time would cost ten times as much). A search codes the rows waiting when they are few
against the rows it scans (``_CODE_AT_SEARCH``); when they are many (a fill by misses, a
restore) it scans float32 and the owner codes them in the background. A code does not
depend on when it is computed, so neither do results.

Example::

    >>> index = FlatIndex(dim=3)
    >>> index.add(np.array([7, 8]), np.eye(3, dtype=np.float32)[:2])
    >>> index.search(np.array([1, 0, 0], np.float32), k=1)
    (array([7]), array([1.], dtype=float32))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import simsimd

from ..vector_values import float_list_into, float_list_of
from ..vectors import FloatMatrix, FloatVector
from .base import Labels, SearchResult, empty_result, top_k, top_k_rows
from .quantised import batch_candidates, candidates, quantise_queries, quantise_rows

__all__ = ["FlatIndex"]

# Below this many candidate rows, the plain float32 product is as fast as the int8 pass.
_QUANTISED_MIN_ROWS = 4096
# A batch takes the int8 product from this many queries on (fewer: one scan per query) ...
_QUANTISED_BATCH_MIN_QUERIES = 4
# ... and this many rows per wanted result (its block-maxima bound needs many more blocks
# than results to be tight).
_QUANTISED_BATCH_ROWS_PER_RESULT = 512
# From this many labels on, rows are found by one sort and a binary search, not a dict each.
_SORTED_LOOKUP_MIN = 8192
# search_batch's float32 path scores at most this many (query, row) pairs at once: 128 MB.
_BATCH_SCORES = 1 << 25
# A search codes the rows waiting for their codes first when at most this many wait, or
# one in _CODE_AT_SEARCH_SHARE of the rows: coding a row (0.6-1 µs at 384 dims) costs three
# to five times what scanning it in float32 instead of int8 adds (0.2 µs), so beyond that
# one float32 scan is cheaper (see the module docstring).
_CODE_AT_SEARCH = 1024
_CODE_AT_SEARCH_SHARE = 8


class FlatIndex:
    """Exact cosine search; ``add`` upserts by label, ``remove`` swaps in the last row."""

    kind = "flat"

    def __init__(self, dim: int, capacity: int = 1) -> None:
        self.dim = dim
        capacity = max(1, capacity)  # rows grow by doubling: a small namespace stays small
        self._vectors = np.empty((capacity, dim), dtype=np.float32)
        self._codes = np.empty((capacity, dim), dtype=np.int8)
        self._scales = np.empty(capacity, dtype=np.float32)
        self._errors = np.empty(capacity, dtype=np.float32)
        self._labels = np.empty(capacity, dtype=np.int64)
        self._coded = np.ones(capacity, dtype=bool)  # False: row restored, code pending
        self._row_of: dict[int, int] = {}
        self._n = 0
        self._uncoded = 0
        # moves on whenever rows are taken, moved or the matrix replaced: the free row
        # write_float_list wrote is still free and as written only while it stands
        self._layout = 0
        self._written_at = -1

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
        """Compute the int8 codes of up to ``max_rows`` rows waiting for them (restored,
        or added one at a time); True while some remain."""
        if self._uncoded:
            rows = np.flatnonzero(~self._coded[: self._n])[:max_rows]
            self._codes[rows], self._scales[rows], self._errors[rows] = quantise_rows(
                self._vectors[rows]
            )
            self._coded[rows] = True
            self._uncoded -= len(rows)
        return self._uncoded > 0

    def _code_waiting(self, rows: npt.NDArray[np.intp] | None) -> None:
        """Before a search over ``rows`` that the int8 pass pays for: code the rows waiting
        for it when they are few (when many, the search scans float32 rows and the owner
        codes them in the background)."""
        if 0 < self._uncoded <= self._coded_at_search() and self._int8_pays(rows):
            self.code_pending(self._uncoded)

    def _coded_at_search(self) -> int:
        """The most waiting rows a search codes itself (see ``_CODE_AT_SEARCH``)."""
        return max(_CODE_AT_SEARCH, self._n // _CODE_AT_SEARCH_SHARE)

    def __len__(self) -> int:
        return self._n

    def __contains__(self, label: int) -> bool:
        return label in self._row_of

    @property
    def uncoded(self) -> int:
        """Rows still waiting for their int8 codes (see :meth:`code_pending`)."""
        return self._uncoded

    @property
    def coding_backlog(self) -> int:
        """Rows waiting for int8 codes that are the owner's to code in the background: more
        than a search codes itself, in an index large enough for the int8 pass (0 else)."""
        if self._uncoded > self._coded_at_search() and self._int8_pays(None):
            return self._uncoded
        return 0

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

    def vector_of(self, label: int) -> FloatVector:
        """A copy of the unit vector of ``label`` (``KeyError`` when not held)."""
        return self._vectors[self._row_of[label]].copy()

    def float_list(self, label: int, norm: float) -> list[float]:
        """``vector_of(label) * norm`` as a list of floats, rounded to float32 per component
        (:func:`~semcache_core.vector_values.float_list_of`), read in place: no copy of the
        row (``KeyError`` when not held)."""
        return float_list_of(self._vectors[self._row_of[label]], norm)

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
        grown = []
        arrays = (self._vectors, self._codes, self._scales, self._errors, self._labels, self._coded)
        for old in arrays:
            new = np.empty((new_capacity, *old.shape[1:]), dtype=old.dtype)
            new[: self._n] = old[: self._n]
            grown.append(new)
        # one statement without a call: an interrupt (Ctrl-C) cannot land between the
        # swaps and leave arrays of two capacities
        self._vectors, self._codes, self._scales, self._errors, self._labels, self._coded = grown
        self._layout += 1

    def add_one(self, label: int, vector: FloatVector) -> None:
        """:meth:`add` of one row, whose int8 code waits (see the module docstring)."""
        row = self._row_of.get(label)
        if row is None:
            row = self._free_row()
            self._vectors[row] = vector
            self._append(label)
        else:
            self._vectors[row] = vector
            if self._coded[row]:  # else already waiting (restored, or added before)
                self._mark_uncoded(row)

    def write_float_list(self, values: list[Any]) -> tuple[float, list[float], bytes] | None:
        """A list of floats made a unit row in one pass, straight into the matrix's free
        row (:func:`~semcache_core.vector_values.float_list_into`): its ``(norm, read
        back, row bytes)``, or None for a list the general path must judge. The row is
        nobody's until :meth:`append_written` gives it a label: meanwhile the index
        holds what it held (the matrix may have grown)."""
        row = self._free_row()  # first: growing moves the matrix
        # before the call: an allocation inside it may already run a finaliser
        self._written_at = self._layout
        return float_list_into(values, self._vectors, row)

    def append_written(self, label: int, row_bytes: bytes) -> None:
        """Give the row :meth:`write_float_list` wrote (``row_bytes``, its copy) to a new
        ``label``; its code waits (see the module docstring). Code that ran in between on this
        thread (a finaliser started by an allocation, re-entering the lock) may have taken
        or moved that row: it is written again then."""
        if self._layout != self._written_at:
            self._vectors[self._free_row()] = np.frombuffer(row_bytes, np.float32)
        self._written_at = -1
        self._append(label)

    def _free_row(self) -> int:
        """The row the next new label takes, room made for it."""
        if self._n == len(self._labels):
            self._grow(self._n + 1)
        return self._n

    def _append(self, label: int) -> None:
        """Take the free row, its vector written, for a new ``label``; its code waits."""
        self._layout += 1
        row = self._n
        # no call from here on (not even _mark_uncoded's): an interrupt (Ctrl-C) cannot
        # leave the row labelled with a stale code counted as its own
        self._coded[row] = False
        self._uncoded += 1
        self._row_of[label] = row
        self._labels[row] = label
        self._n = row + 1

    def _mark_uncoded(self, row: int) -> None:
        self._coded[row] = False
        self._uncoded += 1

    def add(self, labels: Labels, vectors: FloatMatrix) -> None:
        """Insert or replace rows; ``vectors`` must already be unit-length float32."""
        if len(labels) == 1:
            self.add_one(int(labels[0]), vectors[0])
            return
        labels = np.asarray(labels, dtype=np.int64)
        codes, scales, errors = quantise_rows(vectors)
        rows = np.empty(len(labels), dtype=np.intp)
        self._grow(self._n + len(labels))
        self._layout += 1
        new: dict[int, int] = {}  # label -> the free row it takes
        for i, label in enumerate(labels.tolist()):
            row = self._row_of.get(label)
            if row is None:
                row = new.setdefault(label, self._n + len(new))
            rows[i] = row
        # every row written before a new label points at it: an interrupt (Ctrl-C) between
        # two labels below leaves each row whole and labelled, or free
        self._vectors[rows] = vectors
        self._codes[rows] = codes
        self._scales[rows] = scales
        self._errors[rows] = errors
        for label, row in new.items():
            self._row_of[label] = row
            self._labels[row] = label
            self._coded[row] = True
            self._n = row + 1
        for row in rows.tolist():
            if not self._coded[row]:  # a replaced row waiting for its code: it has it now
                self._coded[row] = True
                self._uncoded -= 1

    def remove(self, labels: Labels) -> None:
        """Delete rows by label (unknown labels are ignored)."""
        self._layout += 1
        for label in np.asarray(labels, dtype=np.int64).tolist():
            row = self._row_of.get(label)
            if row is None:
                continue
            last = self._n - 1
            moved = int(self._labels[last])
            # from here on no call: an interrupt (Ctrl-C) cannot land half way
            self._uncoded -= not self._coded[row]
            if row != last:
                self._vectors[row] = self._vectors[last]
                self._codes[row] = self._codes[last]
                self._scales[row] = self._scales[last]
                self._errors[row] = self._errors[last]
                self._coded[row] = self._coded[last]
                self._labels[row] = moved
                self._row_of[moved] = row
            del self._row_of[label]
            self._n = last

    def search(self, query: FloatVector, k: int, allowed: Labels | None = None) -> SearchResult:
        """Top ``k`` labels by cosine similarity, best first; ``allowed`` restricts labels."""
        if self._n == 0 or (allowed is not None and len(allowed) == 0):
            return empty_result()
        rows = None if allowed is None else self._allowed_rows(allowed)
        self._code_waiting(rows)
        return self._search_rows(query, k, rows)

    def _search_rows(
        self, query: FloatVector, k: int, rows: npt.NDArray[np.intp] | None
    ) -> SearchResult:
        """:meth:`search` among ``rows`` (ascending; None: every row)."""
        if not self._quantised(rows):
            return self._rescored(rows, query, k)
        n = self._n
        quantised = quantise_queries(query[None])
        dots = simsimd.cdist(quantised.codes, self._codes[:n], metric="dot", threads=1)
        dots = np.asarray(dots)[0]
        if rows is None:
            found = candidates(dots, self._scales[:n], self._errors[:n], quantised, [0, n], k)[0]
            return self._rescored(found, query, k)
        scales, errors = self._scales[rows], self._errors[rows]
        found = candidates(dots[rows], scales, errors, quantised, [0, len(rows)], k)[0]
        return self._rescored(rows[found], query, k)

    def search_batch(
        self, queries: FloatMatrix, k: int, allowed: Labels | None = None
    ) -> list[SearchResult]:
        """Top ``k`` for each query, the same answers as :meth:`search` gives each one,
        scores within float32 rounding of its (about 1e-7: a matrix product may sum in
        another order than one query's product), well inside the thresholds' tolerance.

        From four queries on, one int8 matrix product (:func:`.quantised.batch_candidates`,
        on every core) finds each query's candidates. ``allowed`` restricts labels, as in
        :meth:`search`: its rows are found once for the whole batch.
        """
        if self._n == 0 or (allowed is not None and len(allowed) == 0):
            return [empty_result() for _ in range(len(queries))]
        rows = None if allowed is None else self._allowed_rows(allowed)
        self._code_waiting(rows)
        searched = self._n if rows is None else len(rows)
        if not self._quantised(rows) or searched < _QUANTISED_BATCH_ROWS_PER_RESULT * k:
            return self._rescored_batch(rows, queries, k)
        if len(queries) < _QUANTISED_BATCH_MIN_QUERIES:
            return [self._search_rows(query, k, rows) for query in queries]
        if rows is None:
            n = self._n
            codes, scales, errors = self._codes[:n], self._scales[:n], self._errors[:n]
        else:  # gathered once for the whole batch
            codes, scales, errors = self._codes[rows], self._scales[rows], self._errors[rows]
        per_query = batch_candidates(codes, scales, errors, queries, k)
        if rows is not None:
            per_query = [rows[found] for found in per_query]
        return [self._rescored(found, query, k) for found, query in zip(per_query, queries)]

    def _allowed_rows(self, allowed: Labels) -> npt.NDArray[np.intp]:
        """Rows of ``allowed``, ascending: scores then do not depend on the labels' order."""
        return np.sort(self._rows(allowed))

    def _quantised(self, rows: npt.NDArray[np.intp] | None) -> bool:
        """Whether a search over ``rows`` (None: every row) takes the int8 pass: it pays,
        and every row has its code."""
        return not self._uncoded and self._int8_pays(rows)

    def _int8_pays(self, rows: npt.NDArray[np.intp] | None) -> bool:
        """Whether the int8 pass pays for a search over ``rows`` (None: every row)."""
        if self._n < _QUANTISED_MIN_ROWS:
            return False
        return rows is None or len(rows) >= max(_QUANTISED_MIN_ROWS, self._n // 8)

    def _rescored(
        self, rows: npt.NDArray[np.intp] | None, query: FloatVector, k: int
    ) -> SearchResult:
        """The exact top ``k`` among ``rows`` (ascending; None: every row) in float32."""
        if rows is None:
            ids, scores = top_k(_products(self._vectors[: self._n], query), k)
            return self._labels[ids], scores
        ids, scores = top_k(_products(self._vectors[rows], query), k)
        return self._labels[rows[ids]], scores

    def _rescored_batch(
        self, rows: npt.NDArray[np.intp] | None, queries: FloatMatrix, k: int
    ) -> list[SearchResult]:
        """:meth:`_rescored` for each query from float32 matrix products (BLAS threads)."""
        matrix = self._vectors[: self._n] if rows is None else self._vectors[rows]
        results: list[SearchResult] = []
        step = max(1, _BATCH_SCORES // len(matrix))  # bounds the score matrix's memory
        for start in range(0, len(queries), step):
            scores = _products(queries[start : start + step], matrix.T)
            results += [
                (self._labels[found if rows is None else rows[found]], best)
                for found, best in top_k_rows(scores, k)
            ]
        return results


def _products(left: Any, right: Any) -> Any:
    """``left @ right`` of finite float32 rows (every vector is checked on the way in).
    OpenBLAS may set the floating-point "invalid" flag by itself, now and then (numpy
    #24067, OpenBLAS #1924), which numpy reports as a ``RuntimeWarning``: an error that
    fails at random a caller's test suite run with ``-W error`` (ours did, once in CI)."""
    with np.errstate(invalid="ignore"):
        return left @ right
