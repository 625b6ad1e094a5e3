"""A stable name for a model object and every setting that changes what it returns.

What keeps a cached answer or embedding from crossing models: two objects get the same
identity only when their class, their settings and the functions they call agree, and the
identity is the same in every process (no ``id()``, no memory address), so a durable or
Redis cache keeps hitting after a restart. Credentials and transport settings
(:data:`NOT_IDENTITY`) are left out: rotating a key or a timeout keeps the cache.

- settings: a pydantic model's fields (``model_dump(mode="json")``), field by field when
  one of them does not serialise (that one is named by its type, the others still count);
  any other object's attributes (``vars``);
- a function (``completion_to_prompt=...``): its module and qualified name **and** what
  makes two functions of one name differ: its code, defaults and the values it closes
  over. Every lambda a factory returns is ``factory.<locals>.<lambda>``; the closure
  (``"French"`` / ``"German"``) tells them apart;
- anything else without a JSON form: its type.

Example::

    >>> def persona(language):
    ...     return lambda text: f"Answer in {language}. {text}"
    >>> identity(persona("French")) == identity(persona("French"))
    True
    >>> identity(persona("French")) == identity(persona("German"))
    False
"""

from __future__ import annotations

import hashlib
import json
import types
from typing import Any

__all__ = ["NOT_IDENTITY", "describe", "digest", "identity", "settings_of"]

NOT_IDENTITY = frozenset(
    {
        "api_key",
        "api_secret",
        "secret_key",
        "access_token",
        "token",
        "password",
        "timeout",
        "request_timeout",
        "max_retries",
        "reuse_client",
        "default_headers",
        "http_client",
        "async_http_client",
        "client",
        "async_client",
        "callback_manager",
        "callbacks",
        "rate_limiter",
    }
)
"""Settings that do not change a model's output (credentials, transport)."""

_PLAIN = (str, int, float, bool, type(None))
_DEPTH = 6  # nested settings deeper than this are named by their type
_OBJECT_DEPTH = 2  # an object nested deeper (a model's tokenizer's ...) is named by its type
_ITEMS = 64  # a longer list or dict (a vocabulary) is named by its type and length


def identity(model: Any) -> str:
    """The JSON naming ``model`` (an LLM, an embedding model, a function): its class and
    :func:`settings_of`. Equal for equally configured objects, in any process."""
    return json.dumps(describe(model), sort_keys=True)


def describe(model: Any) -> Any:
    """What :func:`identity` writes as JSON: plain values, lists and dicts."""
    return _stand_in(model, 0)


def digest(model: Any, size: int = 8) -> str:
    """A short hex digest of :func:`identity` (``2 * size`` characters), for names."""
    return hashlib.blake2b(identity(model).encode(), digest_size=size).hexdigest()


def settings_of(model: Any) -> dict[str, Any]:
    """``model``'s settings as JSON values, less :data:`NOT_IDENTITY`."""
    return _settings(model, 0)


def _type_name(value: Any) -> str:
    cls = value if isinstance(value, type) else type(value)
    return f"<{cls.__module__}.{cls.__qualname__}>"


def _stand_in(value: Any, depth: int) -> Any:
    """A JSON value standing for ``value`` (see the module docstring)."""
    if isinstance(value, _PLAIN):
        return value
    if depth >= _DEPTH:
        return _type_name(value)
    if isinstance(value, (list, tuple, dict)) and len(value) > _ITEMS:
        return {"class": _type_name(value), "len": len(value)}
    if isinstance(value, (list, tuple)):
        return [_stand_in(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {str(key): _stand_in(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (types.FunctionType, types.MethodType, types.BuiltinFunctionType)):
        return _function(value, depth)
    if isinstance(value, type) or depth > _OBJECT_DEPTH:
        return _type_name(value)
    if hasattr(type(value), "model_fields") or hasattr(value, "__dict__"):
        return {"class": _type_name(value), "settings": _settings(value, depth + 1)}
    return _type_name(value)


def _settings(model: Any, depth: int) -> dict[str, Any]:
    fields = getattr(type(model), "model_fields", None)
    if fields is not None and hasattr(model, "model_dump"):
        try:
            dumped = model.model_dump(mode="json")
        except Exception:  # a field without a JSON form: the others still count
            dumped = {}
            for name in fields:
                try:
                    dumped.update(model.model_dump(mode="json", include={name}))
                except Exception:
                    dumped[name] = _type_name(getattr(model, name, None))
        # callables are not dumped by pydantic: name them here (prompt functions)
        for name in fields:
            value = getattr(model, name, None)
            if callable(value) and not isinstance(value, type):
                dumped[name] = _stand_in(value, depth)
        items = dumped.items()
    else:
        items = getattr(model, "__dict__", {}).items()
    return {
        str(name): _stand_in(value, depth)
        for name, value in items
        if name not in NOT_IDENTITY and not str(name).startswith("_")
    }


def _function(function: Any, depth: int) -> dict[str, Any]:
    """A function's name, and for Python functions what else tells two of one name apart:
    its code, defaults and closure values (a bound method: its object's settings)."""
    if isinstance(function, types.MethodType):
        return {
            "method": _function(function.__func__, depth),
            "of": _stand_in(function.__self__, depth + 1),
        }
    module = getattr(function, "__module__", None) or type(function).__module__
    name = getattr(function, "__qualname__", None) or type(function).__qualname__
    found: dict[str, Any] = {"function": f"{module}.{name}"}
    code = getattr(function, "__code__", None)
    if code is not None:
        found["code"] = _code_digest(code)
        found["defaults"] = _stand_in(function.__defaults__, depth + 1)
        cells = function.__closure__ or ()
        found["closure"] = [_stand_in(_cell(cell), depth + 1) for cell in cells]
    return found


def _code_digest(code: types.CodeType) -> str:
    """A digest of a function's bytecode, constants and the names it uses (``t.upper()``
    and ``t.lower()`` differ only there); a nested function's code counts by its own
    digest (the repr of a code object holds its memory address)."""
    hashed = hashlib.blake2b(code.co_code, digest_size=8)
    hashed.update(" ".join(code.co_names).encode("utf-8", "backslashreplace"))
    for constant in code.co_consts:
        part = _code_digest(constant) if isinstance(constant, types.CodeType) else repr(constant)
        hashed.update(part.encode("utf-8", "backslashreplace"))
    return hashed.hexdigest()


def _cell(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell (a name assigned after the function was made)
        return None
