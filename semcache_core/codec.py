"""Value and metadata encoding: msgpack, with numpy arrays as an extension type.

Values are stored encoded, so every read hands out a fresh object (callers may mutate what
they get without touching the cache) and every backend, local or remote, stores the same
bytes. Never pickle: decoding stored bytes cannot run code.

Round trips keep ``None, bool, int, float, str, bytes, list, dict`` and ``numpy.ndarray``
(dtype and shape); tuples come back as lists. A
:class:`~semcache_core.vector_values.VectorValue` (the stand-in for a value stored as its
entry's vector) is written by its own ``encode()`` as extension type 2 and decoded here;
given as a value, or inside one, it is refused, as raw ``msgpack.ExtType`` values are (at
any depth).

Example::

    >>> decode(encode({"a": [1, 2.5, "x"], "b": b"raw"}))
    {'a': [1, 2.5, 'x'], 'b': b'raw'}
"""

from __future__ import annotations

from typing import Any, NoReturn

import msgpack
import numpy as np

from .errors import InvalidValueError, shown
from .vector_values import VECTOR_EXT, VectorValue

__all__ = [
    "EXTENSION",
    "decode",
    "decode_many",
    "decode_metadata",
    "encode",
    "encode_metadata",
    "is_numpy_number",
    "is_scalar",
]

_NDARRAY = 1


def _default(obj: Any) -> Any:
    if isinstance(obj, VectorValue):  # read back from an entry's vector, which this is not
        raise TypeError("a VectorValue marks a value stored as its entry's vector")
    if isinstance(obj, np.ndarray):
        if isinstance(obj, np.ma.MaskedArray):
            raise TypeError(
                "a numpy masked array cannot be stored: its mask would be lost (store "
                "array.filled(...) or the data and the mask as two arrays)"
            )
        if obj.dtype.kind not in "biufc":
            raise TypeError(f"numpy arrays of dtype {obj.dtype} cannot be stored")
        array = obj if obj.flags.c_contiguous else obj.copy(order="C")  # keeps 0-d shapes
        header = msgpack.packb([array.dtype.str, list(array.shape)])
        return msgpack.ExtType(_NDARRAY, header + array.tobytes())
    if isinstance(obj, np.generic):
        return obj.item()
    _refuse(obj)


def _metadata_default(obj: Any) -> Any:
    if is_numpy_number(obj):
        return obj.item()
    if isinstance(obj, np.ndarray):  # filters compare scalars and lists, never arrays
        raise TypeError("a numpy array cannot be a metadata value: store array.tolist()")
    _refuse(obj)


def is_numpy_number(obj: Any) -> bool:
    """Whether metadata and filters take ``obj`` as the Python number it holds: a numpy
    bool, int or float scalar; not a ``datetime64`` or ``timedelta64`` (numpy counts the
    latter as an int), whose ``item()`` may be a bare count of nanoseconds."""
    return isinstance(obj, (np.bool_, np.number)) and not isinstance(obj, np.timedelta64)


def _refuse(obj: Any) -> NoReturn:
    if isinstance(obj, int):
        raise TypeError(f"integer {obj} is outside the 64-bit range msgpack can store")
    raise TypeError(f"cannot store an object of type {type(obj).__name__}")


def _ext_hook(code: int, data: bytes) -> Any:
    if code == VECTOR_EXT:
        return VectorValue.from_payload(data)
    if code != _NDARRAY:
        return msgpack.ExtType(code, data)
    return _array_of(data).copy()


def _array_of(data: bytes) -> np.ndarray:
    """The ndarray an extension's ``data`` holds (a read-only view of it): its header
    ``[dtype, shape]``, then the raw elements."""
    # the Unpacker takes the whole payload in: at its default bound (100 MiB) a bigger
    # array, which set accepts, would never read back
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=max(len(data), 1))
    unpacker.feed(data)
    dtype, shape = unpacker.unpack()
    offset = unpacker.tell()
    return np.frombuffer(data, dtype=np.dtype(dtype), offset=offset).reshape(shape)


_packer_options = {"default": _default, "use_bin_type": True, "datetime": False}


def encode(value: Any) -> bytes:
    """Serialise a value that :func:`decode` gives back.

    A container is decoded once here, with the options every read uses, so that what
    msgpack can write but not read back (a dict keyed by tuples: they come back as lists,
    which cannot be dict keys) is refused now rather than on every later read, dump or load.

    Raises:
        InvalidValueError: an unsupported type, or a value that would not read back.
    """
    if isinstance(value, msgpack.ExtType):  # would pass for a stored ndarray or vector value
        raise InvalidValueError("msgpack.ExtType values cannot be stored")
    try:
        blob: bytes = msgpack.packb(value, **_packer_options)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidValueError(f"value cannot be stored: {exc}") from exc
    if not is_scalar(blob):  # an ndarray too: one too big for a reader is refused here
        _check_reads_back(
            blob,
            _decode_written,
            "value",
            "dict keys must be str, bytes, int, float, bool or None (a tuple key comes back "
            "as a list), and a msgpack.ExtType is not a value, at any depth",
        )
    return blob


def _written_ext_hook(code: int, data: bytes) -> Any:
    if code != _NDARRAY:  # a raw msgpack.ExtType inside the value: no reader knows it
        raise ValueError(f"msgpack extension type {code}")
    return _array_of(data)  # read as decode does, less the copy (the result is dropped)


def _decode_written(blob: bytes) -> Any:
    """:func:`decode` of what :func:`encode` just wrote: every extension inside must be an
    ndarray (a value's only extension type; a vector value is only ever a whole value)."""
    return msgpack.unpackb(blob, raw=False, ext_hook=_written_ext_hook, strict_map_key=False)


def _check_reads_back(blob: bytes, read: Any, what: str, rule: str) -> None:
    """Raise :class:`InvalidValueError` unless ``read(blob)`` rebuilds what was written."""
    try:
        read(blob)
    except Exception as exc:  # msgpack raises several types for what it cannot rebuild
        problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise InvalidValueError(
            f"{what} cannot be stored: it would not read back ({problem}); {rule}"
        ) from exc


def decode(blob: bytes | bytearray | memoryview | np.ndarray) -> Any:
    """Inverse of :func:`encode`."""
    return msgpack.unpackb(blob, raw=False, ext_hook=_ext_hook, strict_map_key=False)


EXTENSION: Any = object()
"""What :func:`decode_many` gives for an extension type (ndarray, vector value)."""


def _any_extension(code: int, data: bytes) -> Any:
    return EXTENSION


def decode_many(blobs: list[bytes]) -> list[Any]:
    """Decode many blobs in one msgpack call, to check them; each extension type (an
    ndarray, a vector value) decodes to :data:`EXTENSION`, a shared placeholder, which
    :func:`decode` reads in full later. A restore checks 100k values with it: a fresh
    object per extension would also make work for the garbage collector (seen: 5x the
    decoding time).

    Raises:
        ValueError: the blobs are not one complete msgpack object each.
    """
    header = msgpack.Packer().pack_array_header(len(blobs))
    try:  # join() also rejects anything that is not bytes
        decoded = msgpack.unpackb(
            header + b"".join(blobs), raw=False, strict_map_key=False, ext_hook=_any_extension
        )
    except Exception as exc:  # msgpack raises several types for malformed input
        raise ValueError(f"stored values do not decode: {exc!r}") from exc
    if not isinstance(decoded, list) or len(decoded) != len(blobs):
        raise ValueError("stored values do not decode one by one")
    return decoded


def encode_metadata(metadata: Any) -> bytes:
    """Serialise a metadata dict (``str`` keys at every level, msgpack-able values; a
    numpy number is stored as the Python number it holds, and reads back as one).

    The result is decoded once with :func:`decode_metadata`, the reader filters use, so
    metadata that would not read back (a nested dict with a non-``str`` key) is refused
    here instead of breaking every filtered search of its namespace later.

    Raises:
        InvalidValueError: not a dict, a non-``str`` key, or an unsupported value.
    """
    if not isinstance(metadata, dict):
        raise InvalidValueError(f"metadata must be a dict, got {type(metadata).__name__}")
    for key in metadata:
        if not isinstance(key, str):
            raise InvalidValueError(f"metadata keys must be str, got {shown(key)}")
    try:
        blob: bytes = msgpack.packb(
            metadata, use_bin_type=True, datetime=False, default=_metadata_default
        )
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidValueError(f"metadata cannot be stored: {exc}") from exc
    if blob != _EMPTY_MAP:
        _check_reads_back(
            blob, decode_metadata, "metadata", "metadata keys must be str at every level"
        )
    return blob


_EMPTY_MAP = msgpack.packb({})


def decode_metadata(blob: bytes | bytearray | memoryview) -> dict[str, Any]:
    """Inverse of :func:`encode_metadata` (``str`` keys only, as JSON has)."""
    metadata: dict[str, Any] = msgpack.unpackb(blob, raw=False)
    return metadata


# First bytes of msgpack containers and extension types (maps, arrays, ext): everything else
# encodes a scalar (nil, bool, int, float, str, bin).
_COMPOUND_FIRST_BYTES = frozenset(
    [*range(0x80, 0xA0), 0xC7, 0xC8, 0xC9, *range(0xD4, 0xD9), 0xDC, 0xDD, 0xDE, 0xDF]
)


def is_scalar(blob: bytes) -> bool:
    """Whether ``blob`` encodes an immutable scalar (``None``, bool, number, str, bytes)."""
    return blob[0] not in _COMPOUND_FIRST_BYTES
