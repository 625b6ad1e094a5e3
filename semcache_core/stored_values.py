"""What a reader gets from a stored entry: a fresh value, whatever way it was stored.

A value is kept by the backend as is (an immutable scalar), as encoded bytes (decoded anew
for each reader, who may then mutate it freely), or, for an embedding, as the entry's own
vector plus a :class:`~semcache_core.vector_values.VectorValue` marker (the backend attaches
the vector to the entry it returns). Single flight hands its followers an *outcome*: the
encoded bytes, ``(marker, unit vector)``, or, for an embedding just computed as a list,
the list of floats a read would give, from which each makes its own fresh value. The
leader takes its outcome as it is (:data:`OUTCOMES`): for an embedding list written in
one step that reads back as the function returned it, that is the function's own list (a
:data:`~semcache_core.vector_values.ComputedList`), and its waiters get theirs made from
the stored row, whatever becomes of that list.

Example::

    >>> from semcache_core.codec import encode
    >>> fresh(encode([1, 2]))
    [1, 2]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .backends.base import NOT_DECODED, Backend, StoredEntry
from .codec import decode
from .errors import UnsafeRecordError
from .flight import Handoff
from .records import Entry
from .vector_values import ComputedList, VectorValue
from .vectors import FloatVector

__all__ = [
    "MISSING",
    "OUTCOMES",
    "Outcome",
    "entry_record",
    "fresh",
    "outcome_of",
    "peeked",
    "read_value",
    "stored",
    "value_of",
]

Outcome = bytes | tuple[VectorValue, FloatVector] | list[float] | ComputedList

MISSING: Any = object()
"""What :func:`read_value` gives for a key holding no live entry (any value can be
cached, ``None`` included)."""


def stored(blob: bytes, key: str | None, what: str = "value") -> Any:
    """A stored value (or metadata, ``what``) decoded; one that does not decode (a remote
    store's record written by something else) raises :class:`~semcache_core.errors.
    UnsafeRecordError` naming the entry (``key``, when known), not msgpack's own error;
    metadata must be a dict."""
    entry = "an entry" if key is None else f"entry {key!r}"
    try:
        decoded = decode(blob)
    except Exception as exc:  # whatever msgpack makes of foreign bytes
        raise UnsafeRecordError(
            f"{entry}: its stored {what} does not decode as semcache writes it "
            f"({type(exc).__name__}: {exc})"
        ) from None
    if what == "metadata" and not isinstance(decoded, dict):
        raise UnsafeRecordError(f"{entry}: its stored metadata is not a dict")
    return decoded


def value_of(entry: StoredEntry) -> Any:
    """The entry's value for one reader: immutable ones as kept, others made anew."""
    value = entry.plain
    if value is NOT_DECODED:
        value = stored(entry.value, entry.key)
    if value.__class__ is VectorValue:
        return value.restore(entry.vector)
    return value


def read_value(backend: Backend, namespace: str, key: str, now: float) -> Any:
    """The value of ``(namespace, key)`` for one reader (a counted read), or
    :data:`MISSING`: for a backend without a ``read_value`` of its own (the local backend
    has one, see :mod:`.backends.local_reads`)."""
    entry = backend.get(namespace, key, now)
    return MISSING if entry is None else value_of(entry)


def outcome_of(entry: StoredEntry) -> Outcome:
    """What followers of a flight need to make their own copy of ``entry``'s value."""
    value = entry.plain
    if value is NOT_DECODED:  # decoded to check it (and find a marker): rare, a peek
        value = stored(entry.value, entry.key)
    if value.__class__ is VectorValue:
        return (value, entry.vector)  # type: ignore[return-value]
    return entry.value


def peeked(
    keys: Sequence[str], entries: Sequence[StoredEntry | None]
) -> tuple[dict[str, Outcome], list[str]]:
    """The outcomes of ``keys`` whose entry (in ``entries``, in the same order) was found,
    and the keys not found: what a flight's leader finds stored before it computes."""
    blobs = {key: outcome_of(entry) for key, entry in zip(keys, entries) if entry is not None}
    return blobs, [key for key, entry in zip(keys, entries) if entry is None]


def fresh(outcome: Outcome) -> Any:
    """A fresh value from a flight's outcome."""
    if isinstance(outcome, list):  # floats are immutable: a shallow copy is fresh
        return outcome.copy()
    if isinstance(outcome, tuple):
        if len(outcome) == 3:  # a ComputedList: made from what was stored
            _, marker, row = outcome
            return marker.restore(np.frombuffer(row, np.float32))
        marker, unit = outcome
        return marker.restore(unit)
    return decode(outcome)


class _OutcomeHandoff(Handoff):
    """Single flight's callers' values from an outcome (see the module docstring)."""

    def own(self, value: Outcome) -> Any:
        if value.__class__ is list:  # made for this call: nobody else holds it
            return value
        if value.__class__ is tuple and len(value) == 3:  # a ComputedList
            return value[0]
        return fresh(value)

    def publish(self, value: Outcome) -> Outcome:
        if isinstance(value, list):
            return value.copy()
        if isinstance(value, tuple) and len(value) == 3:  # not the function's own list
            return fresh(value)
        return value

    def copy(self, value: Outcome) -> Any:
        return fresh(value)


OUTCOMES = _OutcomeHandoff()
"""``get_or_compute``'s :class:`~semcache_core.flight.Handoff`: the leader takes a list made
for it as it is; everyone else gets a fresh value of their own."""


def entry_record(entry: StoredEntry) -> Entry:
    """What ``get_entry`` (and its async twin) returns for a stored entry."""
    return Entry(
        entry.key,
        value_of(entry),
        stored(entry.metadata, entry.key, "metadata"),
        entry.namespace,
        entry.expires_at,
    )
