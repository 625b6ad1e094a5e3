"""How the facade turns values into :class:`~semcache_core.backends.base.EntryWrite` and
vectors into query rows, shared by the sync calls (:mod:`.cache`) and their twins on a
backend's native async calls (:mod:`.cache_native_async`): each caller reads what the
backend knows (the namespace's dimension) its own way, then calls these.

Example::

    writes, outcomes = computed_writes(["k"], [[0.6, 0.8]], dim=None, index=None,
                                       namespace="", encoded_metadata=EMPTY_METADATA,
                                       expires_at=None)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .backends.base import NOT_DECODED, EntryWrite
from .codec import encode, encode_metadata
from .errors import DimensionMismatchError, InvalidVectorError
from .stored_values import Outcome
from .vector_values import VectorValue, vector_value_of
from .vectors import FloatMatrix, as_unit_matrix, as_unit_vector

__all__ = [
    "EMPTY_METADATA",
    "IMMUTABLE",
    "as_queries",
    "computed_writes",
    "naming",
    "stored_metadata",
]

EMPTY_METADATA = encode_metadata({})


def stored_metadata(metadata: dict[str, Any] | None) -> bytes:
    """A write's metadata as stored (``None``: none, without encoding an empty dict)."""
    return EMPTY_METADATA if metadata is None else encode_metadata(metadata)


IMMUTABLE = (str, bytes, int, float, bool, type(None), VectorValue)
"""Values a backend may keep decoded (``EntryWrite.plain``): nobody can change them."""


@contextmanager
def naming(namespace: str) -> Iterator[None]:
    """A :class:`DimensionMismatchError` raised inside names ``namespace``."""
    try:
        yield
    except DimensionMismatchError as exc:
        if exc.namespace is not None:
            raise
        raise DimensionMismatchError(exc.expected, exc.got, namespace) from None


def as_queries(vectors: Any, dim: int | None) -> FloatMatrix:
    """Query vectors (a 2-D array or a sequence of vectors) as unit rows of ``dim``."""
    if isinstance(vectors, np.ndarray):
        if vectors.ndim != 2:  # a 1-D array would be taken for a batch of 1-element queries
            raise InvalidVectorError(
                f"a batch of queries is a 2-D array (a row a query) or a sequence of vectors, "
                f"got an array of shape {vectors.shape}"
            )
        return as_unit_matrix(vectors, dim, "queries")
    first = as_unit_vector(vectors[0], dim, "query")
    if len(vectors) == 1:  # the common single search: no stacking copy
        return first[None, :]
    # the first query fixes the others' dimension when the namespace's is not known here
    rows = [first] + [as_unit_vector(v, len(first), "query") for v in vectors[1:]]
    return np.stack(rows)


def computed_writes(
    keys: list[str],
    results: list[Any],
    *,
    dim: int | None,
    index: bool | None,
    namespace: str,
    encoded_metadata: bytes,
    expires_at: float | None,
) -> tuple[list[EntryWrite], list[Outcome]]:
    """The writes of ``get_or_compute`` results (keys, namespace and options checked by
    the caller) and what their waiters make their values from: a result that is a vector
    of ``dim`` (see :mod:`.vector_values`; ``index`` overrides the guess) is stored once,
    as the entry's vector with a small marker as its value."""
    writes = []
    outcomes: list[Outcome] = []
    for key, result in zip(keys, results):
        found = vector_value_of(result, dim, index)
        if found is None:
            value = encode(result)
            plain = result if type(result) in IMMUTABLE else NOT_DECODED
            outcomes.append(value)
            writes.append(
                EntryWrite(key, value, encoded_metadata, namespace, expires_at, None, plain)
            )
        else:
            marker, unit, read_back = found
            dim = len(unit)  # a batch fixing the dimension keeps to it
            outcomes.append((marker, unit) if read_back is None else read_back)
            writes.append(
                EntryWrite(
                    key, marker.encode(), encoded_metadata, namespace, expires_at, unit, marker
                )
            )
    return writes, outcomes
