"""The local backend's entries: :class:`LocalEntry` objects, and :class:`ColdEntries`, the
entries a restore brought in that no call has touched yet, kept as columns.

A restore of 100k entries as objects costs about 15 ms of allocations and 8 ms more when
the garbage collector first walks them, twice what reading the snapshot's vectors takes.
A cache loaded to serve a few keys would pay that for nothing, so a restore keeps the
snapshot's columns as they were decoded, with a ``namespace -> key -> row`` map, and the
backend makes a row into an entry ("thaws" it) the first time a call reaches it: a
``get``, a ``set`` or ``delete`` of its key, a search hit, its expiry or its eviction.
Calls that visit every entry (a filtered search, an export) thaw them all first, in bulk.

Row ``r`` stands for an entry whose LRU tick is ``r + 1``: rows run from least to most
recently used, and everything written or read after the restore gets a larger tick, so
the oldest cold row and the backend's recency heap together give the exact LRU order. A
thawed entry keeps its tick until a read moves it on.

Example::

    >>> cold, expired = ColdEntries.from_columns(
    ...     ["a", "b"], [b"\\x01", b"\\x02"], [b"\\x80", b"\\x80"], ["", ""], [None, 5.0],
    ...     [0, 1], now=10.0)
    >>> expired, len(cold), cold.oldest()
    ([1], 1, ('', 'a'))
    >>> cold.thaw("", "a").plain, len(cold)
    (1, 0)
"""

from __future__ import annotations

import heapq
import itertools
import operator
import struct
from collections.abc import Iterator
from typing import Any

import msgpack
import numpy as np

from ..codec import EXTENSION, decode_many, decode_metadata
from ..untracked import untrack
from ..vector_values import VECTOR_EXT, VECTOR_HEAD, VectorValue
from .base import NOT_DECODED, StoredEntry

__all__ = [
    "EXTENSION_HEADS",
    "ColdEntries",
    "LocalEntry",
    "check_extensions",
    "check_metadata",
]

_SCALARS = frozenset([str, bytes, int, float, bool, type(None)])  # kept decoded (immutable)


class LocalEntry(StoredEntry):
    """A stored entry plus what the local backend needs to find it again."""

    __slots__ = ("decoded_metadata", "label", "tick")

    def __init__(
        self,
        key: str,
        value: bytes,
        metadata: bytes,
        namespace: str,
        expires_at: float | None,
        plain: Any,
        label: int | None,
        tick: int,
    ) -> None:
        # every slot set here, without StoredEntry.__init__: thawing many entries at once
        # makes one of these per entry, and the extra call is a fifth of that time
        self.key = key
        self.value = value
        self.metadata = metadata
        self.namespace = namespace
        self.expires_at = expires_at
        self.vector = None
        self.plain = plain
        self.label = label
        self.decoded_metadata: dict | None = None
        self.tick = tick
        if _made_by_the_cache(key, namespace, expires_at, plain):
            untrack(self, plain)  # nothing it holds leads back to it: see untracked.py

    def metadata_dict(self) -> dict:
        if self.decoded_metadata is None:
            self.decoded_metadata = decode_metadata(self.metadata)
        return self.decoded_metadata


def _made_by_the_cache(key: str, namespace: str, expires_at: Any, plain: Any) -> bool:
    """Whether an entry's fields are all of the cache's own making (exact built-in types):
    a caller's ``str`` subclass as a key or namespace, or a float subclass from a clock,
    may carry attributes that lead back to the entry, a cycle the collector must see."""
    foreign_marker = plain.__class__ is VectorValue and (
        plain.kind.__class__ is not str or plain.norm.__class__ is not float
    )
    return (
        not foreign_marker
        and key.__class__ is str
        and namespace.__class__ is str
        and (expires_at is None or expires_at.__class__ is float)
    )


def _plain(decoded: Any) -> Any:
    return decoded if type(decoded) in _SCALARS else NOT_DECODED


class ColdEntries:
    """Restored entries no call has touched yet: parallel columns and ``(namespace, key) ->
    row``.

    Build with :meth:`from_columns`; rows leave through :meth:`thaw` and :meth:`thaw_all`.
    """

    __slots__ = (
        "_count",
        "_decoded",
        "_expires_at",
        "_expiry",
        "_keys",
        "_labels",
        "_metadata",
        "_namespaces",
        "_oldest",
        "_row_of",
        "_values",
    )

    def __init__(
        self,
        keys: list[str],
        values: list[bytes],
        metadata: list[bytes],
        namespaces: list[str],
        expires_at: list[float | None],
        labels: list[int | None],
        decoded: list[Any],
        row_of: dict[str, dict[str, int]],
        expiry: list[tuple[float, int]],
    ) -> None:
        self._keys = keys
        # bytes, or None once a row is thawed (the entry holds them then)
        self._values: list[Any] = values
        self._metadata: list[Any] = metadata
        self._namespaces = namespaces
        self._expires_at = expires_at
        self._labels = labels
        self._decoded = decoded  # each value's plain (a scalar) or NOT_DECODED
        self._row_of = row_of  # namespace -> key -> row, of the rows still cold
        self._count = sum(map(len, row_of.values()))
        self._expiry = expiry  # heap of (expires_at, row)
        self._oldest = 0  # no row before this one is still cold

    @classmethod
    def from_columns(
        cls,
        keys: list[str],
        values: list[bytes],
        metadata: list[bytes],
        namespaces: list[str],
        expires_at: list[float | None],
        labels: list[int | None],
        now: float,
    ) -> tuple[ColdEntries, list[int]]:
        """The columns' entries, least recently used first, and the rows expired at ``now``
        (left out). Every value and metadata blob is decoded once, to check it. The table
        owns the lists from then on: thawing a row clears its slots in them.

        Raises:
            ValueError: the columns are inconsistent or hold blobs that do not decode.
        """
        count = len(keys)
        columns: tuple[list[Any], ...] = (values, metadata, namespaces, expires_at, labels)
        if any(len(column) != count for column in columns):
            raise ValueError("entry columns differ in length")
        row_of = _rows_by_namespace(keys, namespaces)
        if sum(map(len, row_of.values())) != count:
            raise ValueError("a key appears twice in one namespace")
        # decoded to check them; only immutable scalars are kept (a thawed entry hands them
        # out as they are), never a copy of a dict or list that nothing would read
        values_decoded = decode_many(values)
        check_extensions(values, values_decoded)
        decoded = list(map(_plain, values_decoded))
        # metadata blobs repeat (often all empty): decode each distinct one once
        check_metadata(list(set(metadata)))
        expired: list[int] = []
        expiry: list[tuple[float, int]] = []
        if expires_at.count(None) != count:
            for row, when in enumerate(expires_at):
                if when is None:
                    continue
                if when <= now:
                    expired.append(row)
                    del row_of[namespaces[row]][keys[row]]
                else:
                    expiry.append((when, row))
            heapq.heapify(expiry)
        cold = cls(keys, values, metadata, namespaces, expires_at, labels, decoded, row_of, expiry)
        return cold, expired

    def __len__(self) -> int:
        return self._count

    def count_in(self, namespace: str) -> int:
        """How many of ``namespace``'s entries are cold."""
        rows = self._row_of.get(namespace)
        return 0 if rows is None else len(rows)

    def keys_in(self, namespace: str) -> Iterator[str]:
        """The cold keys of ``namespace``."""
        return iter(self._row_of.get(namespace, ()))

    def is_cold(self, namespace: str, key: str) -> bool:
        rows = self._row_of.get(namespace)
        return rows is not None and key in rows

    def namespaces(self) -> list[str]:
        """The namespaces that still have cold entries."""
        return [name for name, rows in self._row_of.items() if rows]

    def labelled(self) -> dict[str, tuple[list[int], list[str]]]:
        """``namespace -> (labels, keys)`` of every row with a vector, expired ones too."""
        keys, labels, namespaces = self._keys, self._labels, self._namespaces
        has_label = [label is not None for label in labels]
        named = list(itertools.compress(namespaces, has_label))
        labelled = list(itertools.compress(labels, has_label))
        chosen = list(itertools.compress(keys, has_label))
        if len(set(named)) <= 1:  # the common case: two C-level passes
            return {named[0]: (labelled, chosen)} if named else {}  # type: ignore[dict-item]
        groups: dict[str, tuple[list[int], list[str]]] = {}
        for namespace, label, key in zip(named, labelled, chosen):
            group = groups.setdefault(namespace, ([], []))
            group[0].append(label)  # type: ignore[arg-type]
            group[1].append(key)
        return groups

    def rows(self) -> Iterator[tuple[str, bytes, bytes, str, float | None, int | None]]:
        """(key, value, metadata, namespace, expires_at, label) of each cold entry."""
        for rows in self._row_of.values():
            for row in rows.values():
                yield (
                    self._keys[row],
                    self._values[row],
                    self._metadata[row],
                    self._namespaces[row],
                    self._expires_at[row],
                    self._labels[row],
                )

    def thaw(self, namespace: str, key: str) -> LocalEntry | None:
        """The entry of ``key`` as an object, leaving the cold rows; None if not cold."""
        rows = self._row_of.get(namespace)
        if rows is None or key not in rows:
            return None
        row = rows[key]
        entry = LocalEntry(
            key,
            self._values[row],
            self._metadata[row],
            self._namespaces[row],
            self._expires_at[row],
            _plain(self._decoded[row]),
            self._labels[row],
            row + 1,
        )
        # made: it leaves the rows in code without a call, where an interrupt (Ctrl-C)
        # cannot land; the entry owns its values now: once it is replaced or deleted,
        # nothing keeps them
        del rows[key]
        self._count -= 1
        if not rows:
            del self._row_of[namespace]
        self._values[row] = self._metadata[row] = self._decoded[row] = None
        return entry

    def thaw_all(self) -> list[LocalEntry]:
        """Every cold entry as an object, least recently used first; none stay cold."""
        rows = sorted(row for rows in self._row_of.values() for row in rows.values())
        every_row = len(rows) == len(self._keys)  # nothing thawed or expired yet
        self._row_of = {}
        self._count = 0
        self._expiry = []

        def column(values: list[Any]) -> list[Any]:
            return values if every_row else [values[row] for row in rows]

        return list(
            map(
                LocalEntry,
                column(self._keys),
                column(self._values),
                column(self._metadata),
                column(self._namespaces),
                column(self._expires_at),
                map(_plain, column(self._decoded)),
                column(self._labels),
                range(1, len(rows) + 1) if every_row else [row + 1 for row in rows],
            )
        )

    def oldest(self) -> tuple[str, str] | None:
        """(namespace, key) of the least recently used cold entry (tick ``row + 1``)."""
        keys, namespaces = self._keys, self._namespaces
        while self._oldest < len(keys) and not self._is_cold(self._oldest):
            self._oldest += 1
        row = self._oldest
        return (namespaces[row], keys[row]) if row < len(keys) else None

    def _is_cold(self, row: int) -> bool:
        rows = self._row_of.get(self._namespaces[row])
        return rows is not None and rows.get(self._keys[row]) == row

    def next_due(self, now: float) -> tuple[str, str] | None:
        """(namespace, key) of a cold entry expired at ``now``, or None: the caller thaws
        (and expires) it, and the next call drops its expiry item. Items leave only once
        their entry is thawed: an interrupt (Ctrl-C) must not lose one, or its entry would
        never expire while cold."""
        heap = self._expiry
        while heap and heap[0][0] <= now:
            _, row = heap[0]
            if self._is_cold(row):  # not thawed since
                return self._namespaces[row], self._keys[row]
            heapq.heappop(heap)
        return None


_NDARRAY_EXT = 1  # the codec's extension code of an ndarray
_EXT_CODE_AT = {0xC7: 2, 0xC8: 3, 0xC9: 5, **dict.fromkeys(range(0xD4, 0xD9), 1)}
"""Where the code of a msgpack extension lies, by its first byte (ext 8/16/32, fixext)."""
EXTENSION_HEADS = frozenset(_EXT_CODE_AT)
"""First bytes of a msgpack extension: a value starting with one is checked by
:func:`check_extensions`."""
_VECTOR_BLOB_SIZE = len(VECTOR_HEAD) + 16  # the head, then the kind (8 bytes) and norm
_NORM_AT = len(VECTOR_HEAD) + 8
_UNIT_NORM = struct.pack("<d", 1.0)
_FIRST = operator.itemgetter(0)
_EXTENSIONS = itertools.repeat(EXTENSION)


def check_metadata(blobs: list[bytes]) -> None:
    """Check encoded metadata as :func:`~semcache_core.codec.encode_metadata` accepts it:
    a map with ``str`` keys at its top, and ``str`` or ``bytes`` keys below (what
    :func:`~semcache_core.codec.decode_metadata`, the filters' reader, takes). One msgpack
    call for all of ``blobs``.

    Raises:
        ValueError: a blob that does not decode, is not a map, or has another key.
    """
    header = msgpack.Packer().pack_array_header(len(blobs))
    try:  # strict_map_key: str or bytes keys at every level, as decode_metadata reads
        decoded = msgpack.unpackb(header + b"".join(blobs), raw=False)
    except Exception as exc:  # msgpack raises several types for malformed input
        raise ValueError(
            f"an entry's metadata does not decode as a filter reads it: {exc!r}"
        ) from None
    if not isinstance(decoded, list) or len(decoded) != len(blobs):
        raise ValueError("stored metadata do not decode one by one")
    if not set(map(type, decoded)) <= {dict}:
        raise ValueError("an entry's metadata is not a map")
    if not set(map(type, itertools.chain.from_iterable(decoded))) <= {str}:
        raise ValueError("an entry's metadata has a key that is not a str")


def check_extensions(values: list[bytes], decoded: list[Any]) -> None:
    """Check the values that are an extension type as a whole (``decoded``: their
    :func:`~semcache_core.codec.decode_many`, where each is ``EXTENSION``), as
    :func:`~semcache_core.codec.encode` writes them: an ndarray, or a vector value (head,
    a kind :class:`VectorValue` knows, a finite positive norm); never another code.

    An ndarray's payload is checked when it is read (decoding each would cost a restore
    a copy of every array). Vector values are checked all at once, with numpy.

    Raises:
        ValueError: another extension code, or a vector value semcache never writes.
    """
    if EXTENSION not in decoded:  # the common case, in C
        return
    # C loops throughout (a cache of embeddings has an extension value per entry): the
    # values grouped by their first byte, which says where their code lies
    blobs = list(itertools.compress(values, map(operator.is_, decoded, _EXTENSIONS)))
    firsts = list(map(_FIRST, blobs))
    heads = set(firsts)
    for head in heads:
        chosen = (
            blobs if len(heads) == 1 else list(itertools.compress(blobs, map(head.__eq__, firsts)))
        )
        codes = list(map(operator.itemgetter(_EXT_CODE_AT[head]), chosen))
        known = {_NDARRAY_EXT, VECTOR_EXT} if head == VECTOR_HEAD[0] else {_NDARRAY_EXT}
        if not set(codes) <= known:
            raise ValueError(f"a value is of msgpack extension type {min(set(codes) - known)}")
        markers = codes.count(VECTOR_EXT) if head == VECTOR_HEAD[0] else 0
        if markers:
            every = markers == len(chosen)
            _check_vector_markers(
                chosen if every else list(itertools.compress(chosen, map(VECTOR_EXT.__eq__, codes)))
            )


def _check_vector_markers(blobs: list[bytes]) -> None:
    """Check encoded :class:`VectorValue` markers (msgpack fixext 16 of code 2)."""
    joined = b"".join(blobs)
    if len(joined) != _VECTOR_BLOB_SIZE * len(blobs):
        raise ValueError("a vector value is not 16 bytes")
    rows = np.frombuffer(joined, dtype=np.uint8).reshape(-1, _VECTOR_BLOB_SIZE)
    norms = rows[:, _NORM_AT:].copy().view("<f8").ravel()
    if not ((norms > 0) & (norms < np.inf)).all():  # False for NaN too
        raise ValueError("a vector value's norm is not a finite positive number")
    kinds = rows[:, len(VECTOR_HEAD) : _NORM_AT].copy().view("<u8").ravel()
    # usually a single kind: no sort then
    raw = (kinds[:1] if (kinds == kinds[0]).all() else np.unique(kinds)).tobytes()
    for start in range(0, len(raw), 8):  # each distinct kind once
        VectorValue.from_payload(raw[start : start + 8] + _UNIT_NORM)  # raises for another


def _rows_by_namespace(keys: list[str], namespaces: list[str]) -> dict[str, dict[str, int]]:
    """namespace -> key -> row (a repeated key in one namespace keeps its last row)."""
    names = set(namespaces)
    if len(names) <= 1:  # the common case, in C
        return {names.pop(): dict(zip(keys, range(len(keys))))} if keys else {}
    grouped: dict[str, dict[str, int]] = {}
    for row, (namespace, key) in enumerate(zip(namespaces, keys)):
        grouped.setdefault(namespace, {})[key] = row
    return grouped
