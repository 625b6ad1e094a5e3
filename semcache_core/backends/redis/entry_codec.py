"""How one entry is laid out in Redis: the fields of its hash and its vector's attributes.

Entry hash (binary-safe fields; nothing is ever pickled)::

    v   the encoded value (msgpack bytes, as the facade encoded it)
    m   the encoded metadata (msgpack bytes)
    x   expires_at as ``repr(float)`` seconds since the epoch, or ``""`` for never
    k   the key (UTF-8), so a hash read alone is complete
    n   the namespace (UTF-8)
    f   the unit vector as little-endian float32 bytes (absent without a vector)

The vector's element in its shard's vector set is the key; its JSON attributes hold the
metadata's top-level scalar fields that the server's ``FILTER`` can compare exactly
(:func:`attributes`) plus :data:`EXP_FIELD`, the expiry (:data:`NEVER` for none), which
every search filters on (``.exp > now``).

Example::

    >>> fields = entry_fields("k", b"\\x01", b"\\x80", "", None, None)
    >>> sorted(fields)
    ['k', 'm', 'n', 'v', 'x']
    >>> attributes({"year": 2021, "tags": ["a"], "ok": True}, None)
    '{"year":2021,"ok":true,"__semcache_exp":999999999999999}'
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from ...errors import UnsafeRecordError
from ...stored_values import stored
from ...vector_values import is_vector_blob
from ...vectors import FloatVector
from ..base import StoredEntry

__all__ = [
    "EXP_FIELD",
    "NEVER",
    "FIELDS",
    "MANY_READS",
    "MAX_SHARDS",
    "all_found",
    "attributes",
    "blob_of",
    "entry_fields",
    "expiry_of",
    "is_filterable_field",
    "meta_count",
    "metadata_of",
    "refused",
    "stored_entry",
    "text_of",
    "vector_of",
]

EXP_FIELD = "__semcache_exp"
"""Attribute holding the entry's expiry; user metadata of that name is not sent."""
NEVER = 999_999_999_999_999
"""The expiry attribute of an entry that never expires (written without an exponent:
the server's ``FILTER`` parser reads no ``1e+15``)."""
FIELDS = ("v", "m", "x", "f")
"""The hash fields a read fetches, in this order."""
MANY_READS = 512
"""Keys a ``get_many`` reads per pipeline (one round trip each)."""


def all_found(entries: list[Any]) -> bool:
    """Whether a ``get_many`` found every key (else a stale shard count may hide some)."""
    return None not in entries


_EXACT_INT = 2**53  # ints beyond this lose digits as the server's doubles
_BIG = 2**53
"""Stand-in for a number of magnitude at least 2**53 (ints beyond it, floats, ±inf), signed:
:mod:`.filter_expr` sends only literals of smaller magnitude, against which every such
number orders (and equals) like its stand-in, so the ``FILTER`` stays a superset."""


ATTRIBUTE_STRING_MAX = 128
"""A string is kept in the vector's attributes as its first this many characters, and
:mod:`.filter_expr` sends no longer string literal (a 20 KB string behind a 20-term OR made
each search block the server for half a second)."""


def is_filterable_field(name: str) -> bool:
    """Whether ``FILTER`` can name the field (``.name``): an ASCII identifier."""
    return (
        name.isascii()
        and name.isidentifier()
        and name != EXP_FIELD
        and not name.startswith("__semcache")
    )


def _attribute_value(value: Any) -> Any:
    """The JSON value the server compares like Python does against every literal
    :mod:`.filter_expr` sends, else None (left out: a missing field fails the whole
    expression, so only values no sent condition can accept may be left out).

    >>> _attribute_value(2**60), _attribute_value(float("-inf")), _attribute_value(1.5)
    (9007199254740992, -9007199254740992, 1.5)
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        if math.isnan(value):
            return None  # NaN passes no comparison, ==, or in
        if -_EXACT_INT < value < _EXACT_INT:
            return value
        return _BIG if value > 0 else -_BIG
    if isinstance(value, str):
        if not (value.isascii() and value.isprintable()):
            return None
        # the server re-reads the attributes for every condition of every candidate: a long
        # string is kept as its first characters (what a sent literal may hold, see
        # .filter_expr: the FILTER stays a superset, the exact filter trims)
        return value[:ATTRIBUTE_STRING_MAX]
    return None


def attributes(metadata: dict[str, Any], expires_at: float | None) -> str:
    """The vector's JSON attributes: filterable scalar metadata plus the expiry."""
    chosen = {}
    for name, value in metadata.items():
        if isinstance(name, str) and is_filterable_field(name):
            kept = _attribute_value(value)
            if kept is not None:
                chosen[name] = kept
    chosen[EXP_FIELD] = NEVER if expires_at is None else expires_at
    return json.dumps(chosen, separators=(",", ":"), allow_nan=False)


def blob_of(vector: FloatVector) -> bytes:
    """``vector`` as the ``FP32`` blob ``VADD`` / ``VSIM`` take (little-endian float32)."""
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def vector_of(blob: bytes) -> FloatVector:
    """The float32 vector of a blob (a fresh, writable array).

    Raises:
        UnsafeRecordError: not a whole number of float32 values.
    """
    if len(blob) % 4:
        raise refused("f", f"{len(blob)} bytes, not float32 values")
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)


def refused(field: str, why: str, key: Any = None) -> UnsafeRecordError:
    """The error for a field read from Redis that this module never writes (crafted, or
    written by something else): refused, named, never decoded further."""
    where = "" if key is None else f" of entry {key!r}"
    return UnsafeRecordError(f"Redis field {field!r}{where} is not what semcache writes: {why}")


def text_of(raw: Any, field: str) -> str:
    """A key, namespace or element name read back (UTF-8)."""
    try:
        return bytes(raw).decode("utf-8") if not isinstance(raw, str) else raw
    except (TypeError, UnicodeDecodeError) as exc:
        raise refused(field, f"not UTF-8 text ({exc})") from None


MAX_SHARDS = 16384
"""The most shards a namespace's meta may name: a cluster's hash slots (each shard's tag
takes one slot range)."""


def meta_count(raw: Any, namespace: str, field: str) -> int:
    """A namespace meta's ``shards`` (1 to :data:`MAX_SHARDS`) or ``dim`` (>= 1) field."""
    try:
        count = int(raw)
    except (TypeError, ValueError):
        count = 0
    if count < 1 or (field == "shards" and count > MAX_SHARDS):
        raise refused(field, f"{raw!r} in namespace {namespace!r}'s meta, out of range")
    return count


def entry_fields(
    key: str,
    value: bytes,
    metadata: bytes,
    namespace: str,
    expires_at: float | None,
    vector: FloatVector | None,
) -> dict[str, bytes | str]:
    """The hash fields of one entry."""
    fields: dict[str, bytes | str] = {
        "v": value,
        "m": metadata,
        "x": "" if expires_at is None else repr(float(expires_at)),
        "k": key,
        "n": namespace,
    }
    if vector is not None:
        fields["f"] = blob_of(vector)
    return fields


def expiry_of(raw: bytes | str | None) -> float | None:
    """``expires_at`` from the hash's ``x`` field.

    Raises:
        UnsafeRecordError: not a number.
    """
    if not raw:
        return None
    try:
        when = float(raw)
    except (TypeError, ValueError):
        raise refused("x", f"{raw!r} is not a time") from None
    if when != when:  # NaN: never expired, never live
        raise refused("x", f"{raw!r} is not a time")
    return when


def metadata_of(blob: Any, key: str | None = None) -> dict[str, Any]:
    """The decoded ``m`` field (a dict, as :func:`entry_fields` writes it), decoded as
    every reader decodes it (:func:`~semcache_core.stored_values.stored`).

    Raises:
        UnsafeRecordError: it is missing, does not decode, or is not a dict.
    """
    if not isinstance(blob, bytes):
        raise refused("m", "missing", key)
    metadata: dict[str, Any] = stored(blob, key, "metadata")
    return metadata


def stored_entry(
    key: str, namespace: str, value: Any, metadata: Any, x: Any, blob: Any, dim: int | None = None
) -> StoredEntry:
    """A :class:`StoredEntry` from the fields read back; the vector rides along whenever
    the hash has one (a value that is its entry's vector needs it).

    The fields this backend reads are checked here (``x``, ``f``: of ``dim`` floats when
    given), so a hash that semcache did not write raises, naming the entry and field,
    instead of a raw error later; value and metadata are checked where they are decoded
    (:func:`semcache_core.stored_values.stored`, :func:`metadata_of` for filters).

    Raises:
        UnsafeRecordError: a field is not what :func:`entry_fields` writes.
    """
    if not isinstance(value, bytes) or not isinstance(metadata, bytes):
        raise refused("v" if not isinstance(value, bytes) else "m", "missing", key)
    if is_vector_blob(value) and not blob:
        raise refused("f", "missing, and the value is the entry's vector", key)
    if blob and dim is not None and len(blob) != 4 * dim:
        raise refused("f", f"{len(blob)} bytes in a namespace of {dim} floats", key)
    return StoredEntry(
        key,
        value,
        metadata,
        namespace,
        expiry_of(x),
        None if not blob else vector_of(blob),
    )
