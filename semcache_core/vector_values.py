"""Values that are their entry's own vector: an embedding cached by ``get_or_compute``.

Such a value is stored once: as the entry's unit float32 vector in the index, plus a
16-byte :class:`VectorValue` marker in place of the encoded value, recording what the
function returned (a list of floats, or an ndarray and its dtype) and the vector's norm
(the index holds unit vectors). Reading the entry gives back a fresh object of that type
with the vector's values **rounded to float32** (``unit * norm``: each component equals
the original up to float32 rounding, a relative error of about 1e-7 of the vector's norm).

Only floats qualify: a non-empty list (or tuple) of floats, or a non-empty 1-D ndarray of
float16/32/64, finite and not all zeros, of the namespace's dimension. ``[17, 4, 99]`` (ints),
bools and mixed lists are plain values. ``index=True`` insists (a typed error otherwise),
``index=False`` stores any result as a plain value.

Example::

    >>> import numpy as np
    >>> found = vector_value_of([3.0, 4.0], dim=None, index=None)
    >>> marker, unit, read_back = found
    >>> marker.kind, marker.norm, unit.tolist()
    ('list', 5.0, [0.6000000238418579, 0.800000011920929])
    >>> marker.restore(unit), read_back
    ([3.0, 4.0], [3.0, 4.0])
    >>> vector_value_of([17, 4, 99], dim=None, index=None) is None
    True
"""

from __future__ import annotations

import marshal
import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import DimensionMismatchError, InvalidVectorError
from .vectors import FloatMatrix, FloatVector, as_unit_vector

try:  # the optional C loops (setup.py); without them, their Python twins below
    from . import _speedups
except ImportError:  # pragma: no cover - an install without a C compiler
    _speedups = None  # type: ignore[assignment]

__all__ = [
    "LIST_KIND",
    "VECTOR_EXT",
    "VECTOR_HEAD",
    "ComputedList",
    "VectorValue",
    "float_list_into",
    "is_vector_blob",
    "vector_value_of",
]

VECTOR_EXT = 2
"""msgpack extension code of a :class:`VectorValue` (1 is an ndarray, see :mod:`.codec`)."""

_PAYLOAD = struct.Struct("<8sd")  # kind (ascii, NUL padded), norm: 16 bytes, a fixext 16
VECTOR_HEAD = b"\xd8" + bytes([VECTOR_EXT])
"""First bytes of every encoded :class:`VectorValue` (msgpack fixext 16, code 2)."""

LIST_KIND = "list"
"""The :attr:`VectorValue.kind` of an embedding that a function returned as a list."""
_ARRAY_KINDS = frozenset(
    np.dtype(f"{order}f{size}").str for order in "<>" for size in (2, 4, 8)
)  # float16/32/64 in either byte order (dtype.str spells the order out)
_KINDS = _ARRAY_KINDS | {LIST_KIND}
_FLOAT_SCALARS = frozenset([float, np.float64, np.float32, np.float16])
_FLOAT32 = np.dtype(np.float32)


@dataclass(frozen=True, slots=True)
class VectorValue:
    """The stored stand-in for a value that is the entry's vector.

    ``kind``: ``"list"`` or the ndarray's ``dtype.str`` (``"<f4"``, ...); ``norm``: the
    original vector's Euclidean norm (finite, > 0).
    """

    kind: str
    norm: float

    def payload(self) -> bytes:
        return _PAYLOAD.pack(self.kind.encode("ascii"), self.norm)

    @classmethod
    def from_payload(cls, data: bytes) -> VectorValue:
        """Raises ``ValueError`` for a payload this module never writes."""
        if len(data) != _PAYLOAD.size:
            raise ValueError(f"a vector value holds {_PAYLOAD.size} bytes, not {len(data)}")
        raw_kind, norm = _PAYLOAD.unpack(data)
        kind = raw_kind.rstrip(b"\0").decode("ascii", "replace")
        if kind not in _KINDS or not (0.0 < norm < math.inf):
            raise ValueError(f"not a vector value: kind {kind!r}, norm {norm!r}")
        return cls(kind, norm)

    def encode(self) -> bytes:
        """``msgpack.packb(msgpack.ExtType(VECTOR_EXT, self.payload()))``, written out."""
        return VECTOR_HEAD + self.payload()

    def restore(self, unit: FloatVector | None) -> Any:
        """A fresh value of the original type from the entry's unit vector."""
        if unit is None:  # the backend did not attach the entry's vector: a bug
            raise RuntimeError("a vector value was read without its entry's vector")
        if self.kind == LIST_KIND:
            return float_list_of(unit, self.norm)
        # unit * norm in float64, rounded once to float32
        values = np.multiply(unit, self.norm, dtype=np.float64).astype(np.float32)
        return values.astype(self.kind, copy=False)


_LIST_VALUE_HEAD = VECTOR_HEAD + LIST_KIND.encode("ascii").ljust(8, b"\0")
_NORM = struct.Struct("<d")
_new_value = object.__new__
_set_kind = VectorValue.__dict__["kind"].__set__
_set_norm = VectorValue.__dict__["norm"].__set__


def list_marker(norm: float) -> tuple[VectorValue, bytes]:
    """``VectorValue(LIST_KIND, norm)`` and its :meth:`~VectorValue.encode`, made in a
    third less time (filling the slots without the frozen dataclass's ``__init__``): the
    marker of every embedding a ``get_or_compute`` miss stores. ``norm`` must be a
    finite positive float, as the C loop that computed it gives.

        >>> marker, value = list_marker(2.0)
        >>> marker == VectorValue(LIST_KIND, 2.0) and value == marker.encode()
        True
    """
    marker = _new_value(VectorValue)
    _set_kind(marker, LIST_KIND)
    _set_norm(marker, norm)
    return marker, _LIST_VALUE_HEAD + _NORM.pack(norm)


def is_vector_blob(blob: bytes) -> bool:
    """Whether an encoded value is a :class:`VectorValue` (its entry holds the vector)."""
    return blob[:2] == VECTOR_HEAD


def _kind_of(result: Any) -> str | None:
    """``"list"`` / the dtype for a result that qualifies as an embedding, else None."""
    if isinstance(result, (list, tuple)):
        if not result:
            return None
        types = list(map(type, result))  # C loops: no Python call per component
        if types.count(float) == len(types) or set(types) <= _FLOAT_SCALARS:
            return LIST_KIND
        return None
    if (
        isinstance(result, np.ndarray)
        and result.ndim == 1
        and result.size
        and not isinstance(result, np.ma.MaskedArray)  # its masked components have no value
    ):
        kind = result.dtype.str
        return kind if kind in _ARRAY_KINDS else None
    return None


def _describe(result: Any) -> str:
    if isinstance(result, np.ma.MaskedArray):
        return "a masked array"
    if isinstance(result, np.ndarray):
        return f"an ndarray of shape {result.shape} and dtype {result.dtype}"
    if isinstance(result, (list, tuple)):
        if not result:
            return f"an empty {type(result).__name__}"
        names = sorted({type(x).__name__ for x in result})
        return f"a {type(result).__name__} of {', '.join(names)}"
    return f"a {type(result).__name__}"


def vector_value_of(
    result: Any, dim: int | None, index: bool | None
) -> tuple[VectorValue, FloatVector, list[float] | None] | None:
    """The marker and unit vector to store for ``result``, or None for a plain value;
    third, for a list of floats, what :meth:`VectorValue.restore` would give (made in the
    same pass, see :func:`float_list_vector`), else None.

    ``index=None`` guesses (see the module docstring); ``True`` requires a vector;
    ``False`` never makes one.

    Raises:
        InvalidVectorError: ``index=True`` and ``result`` does not qualify (not floats,
            NaN/inf, all zeros).
        DimensionMismatchError: ``index=True`` and its dimension differs from ``dim``.
    """
    if index is False:
        return None
    if result.__class__ is list:
        found = float_list_vector(result, dim)
        if found is not None:
            return found
    kind = _kind_of(result)
    if kind is None:
        if index:
            raise InvalidVectorError(
                "index=True needs a non-empty list of floats or a 1-D float ndarray, got "
                + _describe(result)
            )
        return None
    if dim is not None and len(result) != dim:
        if index:
            raise DimensionMismatchError(dim, len(result))
        return None
    # float32 first, as every vector entering the cache (vectors.as_unit_vector): an
    # out-of-range component becomes inf, a float32 underflow zero, and the norm of the
    # float32 values is what gives them back
    with np.errstate(over="ignore"):
        wide = np.asarray(result, dtype=np.float32).astype(np.float64)
    squared = float(wide.dot(wide))  # float32 squares cannot overflow a float64 sum
    if 0.0 < squared < math.inf:
        norm = math.sqrt(squared)
        return VectorValue(kind, norm), (wide / norm).astype(np.float32), None
    if index:
        as_unit_vector(result, dim, "the computed vector")  # raises, naming what is wrong
        raise InvalidVectorError("the computed vector is not finite and non-zero")
    return None


# A list of floats as marshal (format 2) writes it: "[", an int32 count, then "g" and the
# 8-byte little-endian double of each item ("i" for an int, "T" for True, ...).
_MARSHAL_LIST_HEAD = 5
_MARSHAL_ITEM = 9
_MARSHAL_FLOAT = b"g"
# Components below this in magnitude fit a float32 (whose largest is ~3.4e38).
_SAFE_COMPONENT = 1e38


def float_list_vector(
    result: list[Any], dim: int | None
) -> tuple[VectorValue, FloatVector, list[float]] | None:
    """:func:`vector_value_of` for the common case, a list of ``float`` objects of the
    namespace's dimension. None for any other list, and for values that need the general
    path's care (overflow, underflow, NaN, zeros).

    Third, the list a read of the stored entry gives back: the C loop makes it in the
    same pass, holding ``result``'s own float objects wherever a component reads back
    unchanged (every one, for a normalised float32 embedding), so the computing call
    returns its embedding without making hundreds of floats anew.

    One C loop when the accelerator is built, else :func:`python_float_list_vector`; the
    two give the same bits (their sums of squares run in the same order).
    """
    if _speedups is None:
        if not result or (dim is not None and len(result) != dim):
            return None
        return python_float_list_vector(result)
    found = _speedups.unit_of_float_list(result, dim)
    if found is None:
        return None
    norm, unit, read_back = found
    # dtype passed by position: numpy parses a keyword argument 0.2 µs slower
    return VectorValue(LIST_KIND, norm), np.frombuffer(unit, _FLOAT32), read_back


def _no_float_list_into(
    values: list[Any], matrix: FloatMatrix, row: int
) -> tuple[float, list[float], bytes] | None:
    return None  # without the C accelerator, the general path takes every list


# a stale in-place build may lack it: the general path then takes every list
float_list_into = getattr(_speedups, "unit_into", None) or _no_float_list_into
""":func:`float_list_vector` with the unit vector written into ``matrix[row]`` (an index's
next free row): ``(norm, read back, the row's bytes)``, the read back being ``values``
itself when every component reads back as given; None for what :func:`vector_value_of`
must judge (``matrix[row]`` then holds garbage), and always without the C accelerator.
The C function itself when built: a ``get_or_compute`` miss calls it with no Python frame
between."""

ComputedList = tuple[list[float], VectorValue, bytes]
"""A list embedding just stored in one step: what its computing call returns (the
function's own list, where it reads back unchanged), its marker, and its stored unit
row's bytes (what everyone else's value is made from)."""


def python_float_list_vector(
    result: list[Any],
) -> tuple[VectorValue, FloatVector, list[float]] | None:
    """:func:`float_list_vector` in Python, for a non-empty list: one C pass
    (``marshal.dumps``) both checks every item's exact type and packs the values, about
    twice as fast as checking the types and converting apart.
    """
    n = len(result)
    try:
        packed = marshal.dumps(result, 2)
    except ValueError:  # an item marshal cannot write (np.float64 included): not this path
        return None
    if len(packed) != _MARSHAL_LIST_HEAD + _MARSHAL_ITEM * n or (
        packed[_MARSHAL_LIST_HEAD::_MARSHAL_ITEM] != _MARSHAL_FLOAT * n
    ):
        return None
    values = np.ndarray((n,), "<f8", packed, _MARSHAL_LIST_HEAD + 1, (_MARSHAL_ITEM,))
    if not (values.min() > -_SAFE_COMPONENT and values.max() < _SAFE_COMPONENT):  # NaN too
        return None  # the general path handles (or refuses) these
    wide = values.astype(np.float32).astype(np.float64)  # as the general path does
    # summed in order, as the C loop sums (a dot product pairs them otherwise): the same
    # norm to the bit, so the same values given back whichever twin stored them
    squared = float(np.cumsum(wide * wide)[-1])
    if squared == 0.0:  # every component underflowed float32
        return None
    norm = math.sqrt(squared)
    wide /= norm
    unit = wide.astype(np.float32)
    return VectorValue(LIST_KIND, norm), unit, python_float_list_of(unit, norm)


def float_list_of(unit: FloatVector, norm: float) -> list[float]:
    """``unit * norm`` in float64, each component rounded to float32, as a list of floats
    (one C loop when the accelerator is built, else :func:`python_float_list_of`)."""
    if _speedups is None:
        return python_float_list_of(unit, norm)
    try:
        return _speedups.float_list_of(unit, norm)
    except (TypeError, ValueError, BufferError):  # not a C-contiguous float32 buffer
        return python_float_list_of(unit, norm)


def python_float_list_of(unit: FloatVector, norm: float) -> list[float]:
    """:func:`float_list_of` in numpy."""
    values: list[float] = np.multiply(unit, norm, dtype=np.float64).astype(np.float32).tolist()
    return values
