"""The durable journal's records: its diskcache, the names of its entries, their bytes.

An entry ``(namespace, key)`` is the row ``ENTRY_PREFIX + entry_id(namespace, key)``; its
value is :func:`record_of` the write (value, metadata, namespace, expiry, vector).

Example::

    >>> name = entry_id("tenant-a", "q")
    >>> split_entry_id(name)
    ('tenant-a', 'q')
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from math import isfinite
from pathlib import Path
from typing import Any

import diskcache
import msgpack
import numpy as np

from ..backends.base import NOT_DECODED, EntryWrite
from ..backends.entries import EXTENSION_HEADS, check_extensions
from ..codec import decode, decode_many, decode_metadata, is_scalar
from ..errors import SnapshotError
from .journal_disk import RawDisk

__all__ = [
    "by_last_change",
    "damaged_journal",
    "ENTRY_PREFIX",
    "JOURNAL_DIR",
    "entry_id",
    "open_journal",
    "record_of",
    "split_entry_id",
    "with_expiry",
    "write_from",
]

JOURNAL_DIR = "journal"
ENTRY_PREFIX = "e"  # prefix of entry records: user keys never collide with log or meta keys


def open_journal(directory: Path) -> diskcache.Cache:
    """The diskcache under a durable directory, configured never to drop a record itself,
    and never to pickle or unpickle one (:class:`RawDisk`).

    Raises:
        sqlite3.DatabaseError: SQLite cannot read it, or diskcache cannot read its settings
            (a damaged row raises ``UnicodeDecodeError``, ``AttributeError``... there).
    """
    try:
        return diskcache.Cache(
            str(directory / JOURNAL_DIR),
            disk=RawDisk,
            eviction_policy="none",  # diskcache's default culls past 1 GB: a journal never may
            cull_limit=0,
            tag_index=True,  # the log of a finished epoch is dropped by tag
        )
    except (ValueError, TypeError, AttributeError) as exc:  # UnicodeDecodeError is a ValueError
        raise sqlite3.DatabaseError(f"unreadable settings: {type(exc).__name__}: {exc}") from exc


def damaged_journal(directory: Path, exc: Exception) -> SnapshotError:
    """The error for a journal SQLite cannot read (``sqlite3.DatabaseError``): semcache
    does not repair it."""
    return SnapshotError(
        f"{directory / JOURNAL_DIR}: the journal is damaged ({exc}); semcache does not "
        "repair it: load a snapshot or a backup of the directory"
    )


def entry_id(namespace: str, key: str) -> str:
    """The journal's name for an entry: unambiguous whatever the namespace and key hold.

    >>> entry_id("a:b", "c"), entry_id("a", "b:c")
    ('3:a:bc', '1:ab:c')
    """
    return f"{len(namespace)}:{namespace}{key}"


def split_entry_id(name: str) -> tuple[str, str]:
    """``(namespace, key)`` of an :func:`entry_id`.

    Raises:
        ValueError: ``name`` is not an entry id.
    """
    length, _, rest = name.partition(":")
    size = int(length)
    if not 0 <= size <= len(rest):
        raise ValueError(f"{name!r} is not an entry id")
    return rest[:size], rest[size:]


def record_of(write: EntryWrite) -> bytes:
    """The journal record of ``write`` (msgpack; the vector as raw float32 bytes)."""
    vector = None if write.vector is None else write.vector.tobytes()
    return msgpack.packb(
        [write.value, write.metadata, write.namespace, write.expires_at, vector],
        use_bin_type=True,
    )


def write_from(name: str, record: bytes) -> EntryWrite:
    """The write that :func:`record_of` recorded as entry ``name``.

    Raises:
        ValueError: a record :func:`record_of` never writes (a damaged journal).
    """
    try:
        fields = msgpack.unpackb(record, raw=False)
    except Exception as exc:  # msgpack raises several types for malformed input
        raise ValueError(f"the record of entry {name!r} does not decode: {exc!r}") from None
    if not _well_formed(name, fields):
        raise ValueError(f"the record of entry {name!r} is not one semcache writes")
    value, metadata, namespace, expires_at, vector = fields
    return EntryWrite(
        split_entry_id(name)[1],
        value,
        metadata,
        namespace,
        expires_at,
        None if vector is None else np.frombuffer(vector, dtype=np.float32),
        decode(value) if is_scalar(value) else NOT_DECODED,
    )


def _well_formed(name: str, fields: Any) -> bool:
    """Whether ``fields`` are those :func:`record_of` writes for entry ``name``."""
    if not isinstance(fields, list) or len(fields) != 5:
        return False
    value, metadata, namespace, expires_at, vector = fields
    return (
        isinstance(value, bytes)
        and len(value) > 0  # record_of always writes an encoded value: never empty
        and isinstance(metadata, bytes)
        and isinstance(namespace, str)
        and split_entry_id(name)[0] == namespace
        and (expires_at is None or (type(expires_at) in (int, float) and isfinite(expires_at)))
        and (vector is None or _is_float32_blob(vector))
        and _is_metadata(metadata)
        and _is_known_extension(value)
    )


def _is_known_extension(value: bytes) -> bool:
    """False for a value that is an extension type :func:`~semcache_core.codec.encode`
    never writes (see :func:`~semcache_core.backends.entries.check_extensions`)."""
    if value[0] not in EXTENSION_HEADS:
        return True
    try:
        check_extensions([value], decode_many([value]))
    except ValueError:
        return False
    return True


def _is_metadata(blob: bytes) -> bool:
    """Whether ``blob`` is metadata as :func:`~semcache_core.codec.encode_metadata` writes
    it: one msgpack map, ``str`` keys at its top (and ``str`` or ``bytes`` keys below, all
    that the filters' reader takes)."""
    try:
        metadata = decode_metadata(blob)
    except Exception:  # msgpack raises several types for malformed input
        return False
    return type(metadata) is dict and all(type(key) is str for key in metadata)


def _is_float32_blob(vector: Any) -> bool:
    return isinstance(vector, bytes) and len(vector) > 0 and len(vector) % 4 == 0


def by_last_change(names: Iterable[str], log: Sequence[tuple[str, int]]) -> list[str]:
    """``names`` (entry ids) in the order of their last change in ``log`` ((entry id,
    epoch), oldest first), the most recent last; those the log does not hold first, in the
    order given: the order a reopened view's LRU gets them in."""
    last = {name: position for position, (name, _) in enumerate(log)}
    return sorted(names, key=lambda name: last.get(name, -1))


def with_expiry(record: bytes, expires_at: float | None) -> bytes:
    """``record`` (of :func:`record_of`) with its expiry replaced by ``expires_at``."""
    fields = msgpack.unpackb(record, raw=False)
    fields[3] = expires_at
    return msgpack.packb(fields, use_bin_type=True)
