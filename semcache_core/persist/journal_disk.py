"""The durable journal's serialisation: raw SQLite columns only, never pickle.

diskcache's default :class:`diskcache.Disk` pickles every key and value that is not a
``str``, ``bytes``, 64-bit ``int`` or ``float``, and unpickles any row whose ``raw`` flag
is 0 or whose ``mode`` says pickle, whoever wrote it (CVE-2025-69872: a crafted row in
``cache.db`` runs code when read). :class:`RawDisk` is the strategy the journal uses
instead (diskcache's ``disk=`` hook):

- writes store keys and values raw in the row (no pickle, no side files); anything else
  raises :class:`~semcache_core.errors.UnsafeRecordError` before SQLite sees it;
- reads refuse a pickled key or value with :class:`~semcache_core.errors.UnsafeRecordError`
  without unpickling it; bytes or text in a side file (what diskcache's defaults wrote for
  rows over 32 KB) are still read, from inside the journal directory only.

The journal only ever holds ``str`` keys, msgpack ``bytes`` records, ``str`` log entries
and ``int``/``str`` meta values, so nothing legitimate is refused.

Example::

    >>> journal = diskcache.Cache("dir/journal", disk=RawDisk)
    >>> journal.set("k", b"record")
    >>> journal.set("k", {"a": 1})
    Traceback (most recent call last):
    semcache_core.errors.UnsafeRecordError: ...
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import diskcache
from diskcache.core import MODE_BINARY, MODE_PICKLE, MODE_RAW, MODE_TEXT, UNKNOWN

from ..errors import UnsafeRecordError

__all__ = ["RawDisk"]

_INT64 = (-(2**63), 2**63 - 1)
_MODE_NAMES = {MODE_RAW: "raw", MODE_BINARY: "binary", MODE_TEXT: "text", MODE_PICKLE: "pickle"}


def _is_raw(obj: Any) -> bool:
    kind = type(obj)
    return kind is str or kind is float or (kind is int and _INT64[0] <= obj <= _INT64[1])


class RawDisk(diskcache.Disk):
    """A :class:`diskcache.Disk` that never pickles nor unpickles (see the module)."""

    def put(self, key: Any) -> tuple[Any, bool]:
        if _is_raw(key):
            return key, True
        if type(key) is bytes:
            return sqlite3.Binary(key), True
        raise UnsafeRecordError(
            f"the journal stores str, bytes, int and float keys only, not {type(key).__name__}"
        )

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:
            shown = bytes(key)[:32] if isinstance(key, (bytes, memoryview)) else key
            raise UnsafeRecordError(
                f"journal row with key {shown!r}: the key is stored pickled (raw = 0); "
                "semcache never writes such a row and refuses to unpickle it"
            )
        return bytes(key) if type(key) is sqlite3.Binary else key

    def store(self, value: Any, read: bool, key: Any = UNKNOWN) -> tuple[int, int, Any, Any]:
        if not read and _is_raw(value):
            return 0, MODE_RAW, None, value
        if not read and type(value) is bytes:
            return 0, MODE_RAW, None, sqlite3.Binary(value)
        raise UnsafeRecordError(
            f"the journal stores str, bytes, int and float values only, not "
            f"{type(value).__name__} (for key {key!r})"
        )

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if mode == MODE_RAW and not read:
            return bytes(value) if type(value) is sqlite3.Binary else value
        if mode in (MODE_BINARY, MODE_TEXT) and not read and filename is not None:
            self._inside(filename)
            return super().fetch(mode, filename, value, read)
        raise UnsafeRecordError(
            f"journal row stored in {_MODE_NAMES.get(mode, str(mode))!r} mode: semcache "
            "never writes such a row and refuses to read it (a pickle would run code)"
        )

    def remove(self, file_path: str) -> None:
        self._inside(file_path)
        super().remove(file_path)

    def _inside(self, filename: str) -> None:
        """Refuse a side file outside the journal directory (a crafted row's path)."""
        root = os.path.realpath(self._directory)
        full = os.path.realpath(os.path.join(root, filename))
        if os.path.commonpath([root, full]) != root:
            raise UnsafeRecordError(f"journal row names a file outside the journal: {filename!r}")
