"""JSON text for the ``put_json`` / ``get_json`` calls of
:class:`~semcache_core.SemCache` and :class:`~semcache_core.semantic_kv.DistributedSemanticKV`.

``json`` recurses on the interpreter's stack, writing and reading alike, so text it could
write at one stack depth may not read back at a deeper one (``aget_json``'s worker thread,
a caller deep in recursion). ``put_json`` therefore refuses nesting deeper than
:data:`MAX_JSON_DEPTH`, a fixed limit whatever the writer's stack, and ``get_json`` turns
a ``RecursionError`` (text deeper than that stored as a string) into
:class:`~semcache_core.errors.InvalidValueError`.

Example::

    >>> dump_json({"a": [1, 2]})
    '{"a": [1, 2]}'
    >>> load_json('{"a": [1, 2]}', "k")
    {'a': [1, 2]}
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from .errors import InvalidValueError, shown

__all__ = ["MAX_JSON_DEPTH", "dump_json", "json_depth", "load_json"]

MAX_JSON_DEPTH = 200
"""How deep arrays and objects may nest in what ``put_json`` stores (``[[1]]`` nests 2
levels). Other values may nest about 1000 levels (msgpack's own limit, see
:mod:`~semcache_core.codec`), but msgpack does not recurse on the interpreter's stack and
``json`` does, a frame per level out of the 1000 the default recursion limit allows: 200
leaves the reader room to be deep in its own calls."""

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """How deep arrays and objects nest in JSON text ``text`` (0: a scalar); brackets
    inside strings do not count."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def dump_json(value: Any, *, allow_nan: bool = False) -> str:
    """``value`` as JSON text, for ``put_json``.

    Raises:
        InvalidValueError: ``value`` is not JSON-serialisable, or nests arrays and objects
            more than :data:`MAX_JSON_DEPTH` levels deep.
    """
    try:
        text = json.dumps(value, allow_nan=allow_nan)
    except RecursionError as exc:  # too deep for this stack: beyond the limit, as a rule
        raise _too_deep() from exc
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"put_json needs a JSON-serialisable value: {exc}") from exc
    # fewer brackets than the limit cannot nest deeper: a common value is not scanned
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and json_depth(text) > MAX_JSON_DEPTH:
        raise _too_deep()
    return text


def load_json(text: str, key: str) -> Any:
    """``json.loads(text)``, the value of ``key``, for ``get_json``; a
    ``json.JSONDecodeError`` is the caller's to wrap.

    Raises:
        InvalidValueError: ``text`` nests too deep to parse at this stack depth (stored
            as a string, not by ``put_json``, which caps the depth).
    """
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise InvalidValueError(
            f"{shown(key)} holds JSON nested too deep to parse here (put_json stores at "
            f"most {MAX_JSON_DEPTH} levels)"
        ) from exc


def _too_deep() -> InvalidValueError:
    return InvalidValueError(
        f"put_json stores JSON nested at most {MAX_JSON_DEPTH} levels deep (arrays and "
        "objects within each other)"
    )
