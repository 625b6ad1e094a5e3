"""The SemCache seed's API (PyPI ``semcache-rs``) on semcache's engine: a seed user changes
the import and nothing else.

Example::

    >>> from semcache_core.rs_compat import SemCache  # was: from semcache_rs import SemCache
    >>> cache = SemCache(ttl=0)  # 0 (or None): never expire, as in the seed
    >>> cache.get_or_compute("hello", lambda text: [0.1, 0.2, 0.3])
    [0.1, 0.2, 0.3]
    >>> cache.put("bye", [0.3, 0.2, 0.1])
    >>> cache.get_similar([0.1, 0.2, 0.31], 0.9)
    [0.1, 0.2, 0.3]
    >>> cache.size()
    2

Every call keeps the seed's name, arguments and return values: ``get_or_compute(text,
generator)``, ``get(text)``, ``put(text, vector)``, ``get_similar(query_vec, threshold)``,
``dump(path)``, ``load(path)`` (the number of entries loaded), ``size()``, ``clean()``
(empties the cache). Values are embeddings, as in the seed: a generator's result or a
``put`` vector that is not a sequence of numbers raises
:class:`~semcache_core.errors.InvalidValueError`, a ``TypeError`` as the seed's; ints and
bools are stored as floats. An embedding comes back as the exact floats given (float64),
as from the seed.

``get_similar`` answers as the seed's scan does: the entry with the highest cosine
similarity (computed exactly in float64, at most 1), returned only when that similarity
is strictly above ``threshold``, whatever the threshold (above 1 or NaN: ``None``; below
-1: the best entry whose similarity is above -1). The seed stores vectors the index cannot
hold, and so does this layer: empty, all-zero, with NaN or infinite components. They live
in the engine's namespace :data:`UNINDEXED` and are scored as the seed scores them: two
all-zero (or two empty) vectors have similarity 1, an all-zero one and another 0, and a
NaN or an infinity on either side makes it 1 (the seed's NaN distance clipped to 0).
Vectors of different lengths never match. A vector beyond float32's range is indexed
scaled down (its cosine does not change). Where the seed's rounding decides, this layer
gives the exact answer: the seed's reciprocal square root is approximate (on an AVX2 CPU,
``[1, 0]`` and ``[-1, 0]`` score -0.99999995, above a threshold of -1), and where a
squared norm is beyond float32's range its similarities depend on the CPU.

What differs, because it is semcache underneath: files are semcache snapshots
(checksummed, atomic, never unpickled; not the seed's format); the vectors the index holds
share one dimension per cache (storing or querying one of another dimension raises
:class:`~semcache_core.errors.DimensionMismatchError`, where the seed keeps it and never
matches it); threads missing one text together call the generator once; and
``cache.engine`` is the :class:`~semcache_core.SemCache` underneath, for everything the
seed lacks (search with filters, namespaces).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from .cache import SemCache as Engine
from .checks import as_real, check_key
from .errors import InvalidArgumentError, InvalidValueError, shown
from .flight import FlightTable, Handoff

__all__ = ["UNINDEXED", "SemCache"]

UNINDEXED = "semcache-rs:unindexed"
"""The engine's namespace for the vectors its index cannot hold (empty, all-zero, NaN or
infinite components); every other vector is in the default namespace ``""``."""

# How far a float32 score of the index may be from the exact cosine (unit vectors rounded
# to float32, then a float32 dot product): hits this close to the best are re-scored.
_SCORE_SLACK = 1e-4

FloatArray = npt.NDArray[np.float64]
Best = tuple[float, list[float] | None]


def _number(value: Any) -> float | None:
    """``value`` as a float when the seed reads it as one (a real number or a bool)."""
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    return as_real(value)


def _floats(value: Any, what: str) -> list[float]:
    """``value`` (a sequence of numbers) as a new list of floats, as the seed extracts it.

    Raises:
        InvalidValueError: a str, bytes, dict, set or other non-sequence (a generator), or
            not a sequence of real numbers or bools.
    """
    if value.__class__ is list and set(map(type, value)) <= {float}:  # an embedder's list
        return value.copy()
    # the seed reads a Sequence: a dict, a set or a generator is none
    sequence = hasattr(value, "__len__") and hasattr(value, "__getitem__")
    if isinstance(value, (str, bytes, dict)) or not sequence:
        raise InvalidValueError(
            f"{what} must be a sequence of numbers, got a {type(value).__name__}"
        )
    try:
        numbers = [_number(x) for x in value]
    except TypeError:
        raise InvalidValueError(
            f"{what} must be a sequence of numbers, got {shown(value)}"
        ) from None
    if any(number is None for number in numbers):
        raise InvalidValueError(f"{what} must hold numbers only, got {shown(value)}")
    return numbers  # type: ignore[return-value]


def _scaled(values: Iterable[float] | FloatArray) -> FloatArray | None:
    """``values`` divided by their largest magnitude, which keeps every component within
    float32's range and the cosine as it was; ``None`` for a vector the index cannot
    hold (empty, all zeros, a NaN or an infinity)."""
    array = np.asarray(values, dtype=np.float64)
    top = float(np.abs(array).max(initial=0.0))
    if top == 0.0 or not math.isfinite(top):
        return None
    return array / top


class _Query:
    """A query vector prepared once for :meth:`similarity` to each candidate."""

    __slots__ = ("finite", "shape", "unit", "unit_norm_sq")

    def __init__(self, query: FloatArray) -> None:
        self.shape = query.shape
        self.finite = bool(np.isfinite(query).all())
        self.unit = _scaled(query) if self.finite else None  # None: all zeros (or not finite)
        self.unit_norm_sq = 0.0 if self.unit is None else float(self.unit @ self.unit)

    def similarity(self, values: list[float]) -> float | None:
        """The seed's cosine similarity of the query and a stored vector, computed
        exactly; ``None`` for vectors of different lengths, which the seed never matches.

        The seed's SimSIMD distance is 0 for two zero vectors, 1 when the dot product is
        0, else ``1 - cos`` clipped to at least 0, where a NaN (from a NaN or an infinity)
        clips to 0 as well.
        """
        vector = np.asarray(values, dtype=np.float64)
        if vector.shape != self.shape:
            return None
        if not (self.finite and np.isfinite(vector).all()):
            return 1.0
        unit = _scaled(vector)  # scaled, no square overflows or underflows
        if self.unit is None or unit is None:
            return 1.0 if self.unit is None and unit is None else 0.0
        return min(1.0, float(self.unit @ unit) / math.sqrt(self.unit_norm_sq * float(unit @ unit)))


def _best_of(query: _Query, candidates: Iterable[list[float]], best: Best) -> Best:
    """``best`` (similarity, vector) or the first candidate more similar to ``query``."""
    best_similarity, best_vector = best
    for values in candidates:
        similarity = query.similarity(values)
        if similarity is not None and similarity > best_similarity:
            best_similarity, best_vector = similarity, values
    return best_similarity, best_vector


class _Lists(Handoff):
    """Single flight's callers each get a list of their own, as the seed returns one."""

    def publish(self, value: list[float]) -> list[float]:
        return value.copy()

    def copy(self, value: list[float]) -> list[float]:
        return value.copy()


_LISTS = _Lists()


class SemCache:
    """``semcache_rs.SemCache`` on semcache's engine (see the module docstring).

    Args:
        ttl: seconds an entry lives; 0 or ``None`` (the seed's default is 0): forever.

    Raises:
        InvalidArgumentError: ``ttl`` negative or not a number.
    """

    def __init__(self, ttl: int | None = 0) -> None:
        seconds = 0.0 if ttl is None else as_real(ttl)
        if seconds is None or seconds < 0:
            raise InvalidArgumentError(f"ttl must be a number of seconds >= 0, got {shown(ttl)}")
        # flat: exact search, as the seed scans every entry (HNSW from 2,000 entries could
        # miss its best match)
        self.engine = Engine(ttl=None if seconds == 0 else seconds, index="flat")
        self._flights = FlightTable()

    def get_or_compute(self, text: str, generator: Callable[[str], Any]) -> list[float]:
        """The embedding of ``text``: cached, or ``generator(text)`` computed once and kept."""
        found = self.get(text)
        if found is not None:
            return found
        return self._flights.run(text, self._compute, text, generator, handoff=_LISTS)

    def _compute(self, text: str, generator: Callable[[str], Any]) -> list[float]:
        """A flight leader's work: ``generator(text)`` stored, unless stored since the miss."""
        found = self.get(text)
        if found is not None:
            return found
        values = _floats(generator(text), "the generator's result")
        self._store(text, values)
        return values

    def get(self, text: str) -> list[float] | None:
        """The embedding cached for ``text``, or ``None``."""
        found = self.engine.get(text)
        return self.engine.get(text, namespace=UNINDEXED) if found is None else found

    def put(self, text: str, vector: Any) -> None:
        """Cache ``vector`` as the embedding of ``text`` (replacing any)."""
        check_key(text)
        self._store(text, _floats(vector, "vector"))

    def _store(self, text: str, values: list[float]) -> None:
        """Keep ``values`` exactly as the value of ``text``: in the index when it can hold
        them, else in :data:`UNINDEXED`. The new entry is written before the old one in
        the other namespace is deleted, so a reader always finds one of them."""
        scaled = _scaled(values)
        if scaled is None:
            self.engine.set(text, values, namespace=UNINDEXED)
            self.engine.delete(text)
        else:
            self.engine.set(text, values, vector=scaled)
            self.engine.delete(text, namespace=UNINDEXED)

    def get_similar(self, query_vec: Any, threshold: float) -> list[float] | None:
        """The embedding most similar to ``query_vec`` if its cosine similarity is above
        ``threshold`` (strictly), else ``None``.

        Raises:
            InvalidValueError: ``query_vec`` not a sequence of numbers, or ``threshold``
                not a number (``TypeError`` s, as the seed's).
            DimensionMismatchError: ``query_vec`` finite, non-zero and of another
                dimension than the vectors in the index.
        """
        query = np.asarray(_floats(query_vec, "query_vec"), dtype=np.float64)
        bar = _number(threshold)
        if bar is None:
            raise InvalidValueError(f"threshold must be a number, got {shown(threshold)}")
        if not bar < 1.0:  # NaN too: no similarity is above it
            return None
        prepared = _Query(query)
        similarity, best = _best_of(prepared, self._unindexed(), self._indexed_best(prepared, bar))
        return best if similarity > bar else None

    def _indexed_best(self, query: _Query, bar: float) -> Best:
        """The entry of the index most similar to ``query`` by the exact similarity, with
        that similarity; ``(-1.0, None)`` (the seed's start) when none is above -1.

        The index ranks by float32 scores, so every hit within ``_SCORE_SLACK`` of the
        best exact similarity is re-scored: the result is the exact answer, not a near tie.
        """
        best: Best = (-1.0, None)
        dim = self.engine.dim_of()
        if dim is None:
            return best
        scaled = query.unit
        if scaled is None:  # all zeros, NaN or infinite: it scores every entry alike
            if query.shape != (dim,):
                return best
            hits = self.engine.search(np.eye(1, dim)[0], 1)
            return _best_of(query, (hit.value for hit in hits), best)
        floor = max(-1.0, bar - _SCORE_SLACK)  # an entry below cannot pass the threshold
        k = 8
        while True:
            hits = self.engine.search(scaled, k, threshold=floor)
            best = _best_of(query, (hit.value for hit in hits), best)
            if len(hits) < k or hits[-1].score + _SCORE_SLACK < best[0]:
                return best
            k *= 8

    def _unindexed(self) -> list[list[float]]:
        """The live vectors of :data:`UNINDEXED`."""
        texts = self.engine.scan(namespace=UNINDEXED)
        found = self.engine.get_many(texts, namespace=UNINDEXED)
        return [values for values in found if values is not None]

    def dump(self, path: str | os.PathLike[str]) -> None:
        """Save every entry to ``path`` (a semcache snapshot)."""
        self.engine.dump(path)

    def load(self, path: str | os.PathLike[str]) -> int:
        """Replace the content with the snapshot at ``path``; the number of entries."""
        self.engine.load(path)
        return len(self.engine)

    def size(self) -> int:
        """The number of entries."""
        return len(self.engine)

    def clean(self) -> None:
        """Remove every entry."""
        self.engine.clear()
