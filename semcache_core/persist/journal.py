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
from collections.abc import Callable, Iterable, Sequence
from math import isfinite
from pathlib import Path
from typing import Any

import diskcache
import msgpack
import numpy as np

from ..backends.base import NOT_DECODED, EntryWrite
from ..backends.entries import EXTENSION_HEADS, check_extensions, check_metadata
from ..codec import decode, decode_many, is_scalar
from ..errors import BackendError, SnapshotError, UnsafeRecordError, shown
from ..index.base import first_not_unit
from .journal_disk import RawDisk

__all__ = [
    "EPOCH_KEY",
    "FORMAT_KEY",
    "JOURNAL_FORMAT",
    "JOURNAL_ID_KEY",
    "LOG_PREFIX",
    "by_last_change",
    "check_format",
    "damaged_journal",
    "ENTRY_PREFIX",
    "JOURNAL_DIR",
    "entry_id",
    "open_journal",
    "read_epoch",
    "read_journal_id",
    "read_log",
    "read_row",
    "record_of",
    "split_entry_id",
    "with_expiry",
    "write_from",
]

JOURNAL_DIR = "journal"
ENTRY_PREFIX = "e"  # prefix of entry records: user keys never collide with log or meta keys
LOG_PREFIX = "c"  # diskcache push() prefix of the change log
EPOCH_KEY = "m:epoch"
JOURNAL_ID_KEY = "m:id"
FORMAT_KEY = "m:format"
JOURNAL_FORMAT = 2


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


def read_row(
    directory: Path, name: str, read: Callable[..., Any], *args: Any, **kwargs: Any
) -> Any:
    """``read(*args, **kwargs)`` on the journal of ``directory``, a refused row named by
    ``name``."""
    try:
        return read(*args, **kwargs)
    except UnsafeRecordError as exc:
        raise UnsafeRecordError(f"{directory / JOURNAL_DIR}: {name}: {exc}") from None


def read_epoch(directory: Path, journal: diskcache.Cache) -> int:
    """The journal's current epoch (0 for a new journal).

    Raises:
        SnapshotError: the row holds something else than a count (a damaged journal).
    """
    epoch = read_row(directory, EPOCH_KEY, journal.get, EPOCH_KEY, 0)
    if type(epoch) is not int or epoch < 0:
        raise damaged_journal(directory, ValueError(f"{EPOCH_KEY} holds {shown(epoch)}"))
    return epoch


def read_journal_id(directory: Path, journal: diskcache.Cache) -> str | None:
    """The journal's id (None for a new journal).

    Raises:
        SnapshotError: the row holds something else than a text id (a damaged journal).
    """
    journal_id = read_row(directory, JOURNAL_ID_KEY, journal.get, JOURNAL_ID_KEY)
    if journal_id is not None and (type(journal_id) is not str or not journal_id):
        raise damaged_journal(directory, ValueError(f"{JOURNAL_ID_KEY} holds {shown(journal_id)}"))
    return journal_id


def check_format(directory: Path, journal: diskcache.Cache) -> None:
    """Refuse a journal of another layout than :data:`JOURNAL_FORMAT` (a new, empty
    journal has no format row yet: it gets one with its id).

    Raises:
        BackendError: an earlier semcache's journal (format 1: no format row, but an id),
            or another format number.
    """
    found = read_row(directory, FORMAT_KEY, journal.get, FORMAT_KEY)
    if found is None and read_row(directory, JOURNAL_ID_KEY, journal.get, JOURNAL_ID_KEY):
        raise BackendError(
            f"{directory} was written by an earlier semcache (journal format 1, keys "
            "without namespaces); export it with that version and load the snapshot"
        )
    if found is not None and found != JOURNAL_FORMAT:
        raise BackendError(f"{directory} has journal format {found!r}, not {JOURNAL_FORMAT}")


def read_log(directory: Path, journal: diskcache.Cache) -> list[tuple[str, int]]:
    """(entry id, epoch) of every logged change, oldest first.

    Raises:
        UnsafeRecordError: a log row semcache never writes (a damaged journal).
    """
    (first, _), _ = read_row(directory, "the change log", journal.peek, prefix=LOG_PREFIX, tag=True)
    if first is None:
        return []
    number = _log_number(directory, first)
    log: list[tuple[str, int]] = []
    while True:  # push() numbers log keys consecutively
        name = f"{LOG_PREFIX}-{number:015d}"
        key, tag = read_row(directory, name, journal.get, name, default=None, tag=True)
        if key is None:
            return log
        if type(key) is not str or type(tag) is not int:  # semcache writes no other
            raise UnsafeRecordError(
                f"{directory / JOURNAL_DIR}: {name}: a log row holding {shown(key)} "
                f"tagged {shown(tag)}: the journal is damaged"
            )
        log.append((key, tag))
        number += 1


def _log_number(directory: Path, name: Any) -> int:
    """The number of the log row ``name`` (``"c-000000000000042"``: 42).

    Raises:
        UnsafeRecordError: ``name`` is not the name of a log row.
    """
    digits = name[len(LOG_PREFIX) + 1 :] if isinstance(name, str) else ""
    if not (digits.isascii() and digits.isdigit()):
        raise UnsafeRecordError(
            f"{directory / JOURNAL_DIR}: a log row named {shown(name)}: the journal is damaged"
        )
    return int(digits)


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
    length, colon, rest = name.partition(":")
    # entry_id writes the length in ASCII decimal digits, without sign or leading zeros
    canonical = colon and length.isascii() and length.isdigit() and str(int(length)) == length
    if not canonical or int(length) > len(rest):
        raise ValueError(f"{name!r} is not an entry id")
    size = int(length)
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
        check_metadata([blob])
    except ValueError:
        return False
    return True


def _is_float32_blob(vector: Any) -> bool:
    """Whether ``vector`` is what :func:`record_of` writes for one: float32 components,
    at least one, of a unit vector (see :func:`~semcache_core.index.base.first_not_unit`:
    a NaN would make every score it enters NaN, a longer one outscore the true match)."""
    if not (isinstance(vector, bytes) and len(vector) > 0 and len(vector) % 4 == 0):
        return False
    return first_not_unit(np.frombuffer(vector, dtype=np.float32).reshape(1, -1)) is None


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
