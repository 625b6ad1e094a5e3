"""A stable name for a model object and every setting that changes what it returns.

What keeps a cached answer or embedding from crossing models: two objects get the same
identity only when their class, their settings and the functions they call agree, and the
identity is the same in every process (no ``id()``, no memory address, no set order), so a
durable or Redis cache keeps hitting after a restart. Credentials and transport settings
(:data:`NOT_IDENTITY`) are left out: rotating a key or a timeout keeps the cache.

- settings: a pydantic model's fields (less those it excludes from dumps), any other
  object's attributes (``vars`` and ``__slots__``), walked in full: values of every kind
  that has a stable text (numbers, text, enums, dates, paths, containers, sets sorted);
- a function (``completion_to_prompt=...``): its module and qualified name **and** what
  makes two functions of one name differ: its bytecode, the names it uses, its defaults
  and the values it closes over (every lambda a factory returns is
  ``factory.<locals>.<lambda>``: the closure, ``"French"`` / ``"German"``, tells them
  apart); a ``functools.partial`` by its function and arguments; a bound method by its
  object too;
- an object nested in another object's attributes beyond :data:`OBJECT_DEPTH` levels (a
  model's tokenizer's internals), or anything else without a stable text: its type.

A Python upgrade changes the bytecode of the functions a model names, and so its
identity: the cache misses once (never the other way round).

Example::

    >>> def persona(language):
    ...     return lambda text: f"Answer in {language}. {text}"
    >>> identity(persona("French")) == identity(persona("French"))
    True
    >>> identity(persona("French")) == identity(persona("German"))
    False
"""

from __future__ import annotations

import copy
import datetime
import decimal
import enum
import functools
import hashlib
import json
import pathlib
import types
import uuid
from typing import Any

import numpy as np

__all__ = ["NOT_IDENTITY", "OBJECT_DEPTH", "SECRET_SUFFIXES", "describe", "digest", "identity"]

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
"""Settings that do not change a model's output (credentials, transport); so do names
ending in one of :data:`SECRET_SUFFIXES` (``openai_api_key``)."""

SECRET_SUFFIXES = ("api_key", "_secret", "secret_key", "access_token", "password")

OBJECT_DEPTH = 3
"""Objects nested deeper than this in other objects' attributes are named by their type."""

_PLAIN = (str, int, float, bool, type(None))
_TEXTUAL = (datetime.date, datetime.time, datetime.timedelta, decimal.Decimal, uuid.UUID)
_FUNCTIONS = (types.FunctionType, types.MethodType, types.BuiltinFunctionType)
_CALLABLES = (*_FUNCTIONS, functools.partial)


def identity(model: Any) -> str:
    """The JSON naming ``model`` (an LLM, an embedding model, a function): its class and
    settings. Equal for equally configured objects, in any process."""
    return json.dumps(describe(model), sort_keys=True)


def describe(model: Any) -> Any:
    """What :func:`identity` writes as JSON: plain values, lists and dicts."""
    return _Walk().stand_in(model, 0)


def digest(model: Any, size: int = 8) -> str:
    """A short hex digest of :func:`identity` (``2 * size`` characters), for names."""
    return hashlib.blake2b(identity(model).encode(), digest_size=size).hexdigest()


def _type_name(value: Any) -> str:
    cls = value if isinstance(value, type) else type(value)
    return f"<{cls.__module__}.{cls.__qualname__}>"


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


class _Walk:
    """One :func:`describe`: the objects on the current path, to cut cycles."""

    def __init__(self) -> None:
        self._path: set[int] = set()

    def stand_in(self, value: Any, depth: int) -> Any:
        """A JSON value standing for ``value`` (see the module docstring); ``depth``
        counts the objects (not containers) it is nested in."""
        if isinstance(value, _PLAIN):
            return value
        if isinstance(value, enum.Enum):
            return self.stand_in(value.value, depth)
        if isinstance(value, (_TEXTUAL, pathlib.PurePath)):
            return f"{_type_name(value)}{value}"
        if isinstance(value, (bytes, bytearray)):
            return f"<bytes>{bytes(value).hex()}"
        if isinstance(value, type):
            return self._class(value)
        if isinstance(value, (np.generic, np.ndarray)):
            return self._numpy(value, depth)
        if type(value).__name__ in ("SecretStr", "SecretBytes"):  # pydantic's, v1 or v2
            return "<secret>"
        if id(value) in self._path:
            return "<cycle>"
        self._path.add(id(value))
        try:
            return self._composite(value, depth)
        finally:
            self._path.discard(id(value))

    def _composite(self, value: Any, depth: int) -> Any:
        if isinstance(value, (list, tuple)):
            return [self.stand_in(item, depth) for item in value]
        if isinstance(value, (set, frozenset)):
            return {"set": sorted((self.stand_in(item, depth) for item in value), key=_sort_key)}
        if isinstance(value, dict):
            return {
                self._key(key, depth): self.stand_in(item, depth) for key, item in value.items()
            }
        if isinstance(value, functools.partial):
            return {
                "partial": self.stand_in(value.func, depth),
                "args": self.stand_in(value.args, depth),
                "keywords": self.stand_in(value.keywords, depth),
            }
        if isinstance(value, _FUNCTIONS):
            return self._function(value, depth)
        if depth >= OBJECT_DEPTH:
            return _type_name(value)
        settings = self._settings(value, depth + 1)
        if settings is None:
            return _type_name(value)
        return {"class": _type_name(value), "settings": settings}

    def _settings(self, model: Any, depth: int) -> dict[str, Any] | None:
        """A model's settings, less :data:`NOT_IDENTITY`; None for an object without any
        attributes to read (it is named by its type)."""
        fields = getattr(type(model), "model_fields", None)
        if isinstance(fields, dict) and hasattr(model, "model_dump"):  # pydantic
            # a field left out of dumps counts when it is a function (LlamaIndex's
            # completion_to_prompt) or a class (a StructuredLLM's output_cls): it shapes
            # what the model is sent
            items = []
            for name, field in fields.items():
                value = getattr(model, name, None)
                if not getattr(field, "exclude", False) or isinstance(value, (*_CALLABLES, type)):
                    items.append((name, value))
        else:
            slots = [
                name
                for cls in type(model).__mro__
                for name in getattr(cls, "__slots__", ())
                if hasattr(model, name)
            ]
            attributes = getattr(model, "__dict__", None)
            if attributes is None and not slots:
                return None
            items = [*(attributes or {}).items(), *((name, getattr(model, name)) for name in slots)]
        return {
            str(name): self.stand_in(value, depth)
            for name, value in items
            if not _left_out(str(name))
        }

    @staticmethod
    def _class(cls: type) -> Any:
        """A class by its name, and a pydantic model class by its JSON schema too (an
        output class: two of one name, redefined with other fields, ask for another
        answer)."""
        schema = _schema_of(cls)  # a copy: describe()'s caller may change what it gets
        if schema is None:
            return _type_name(cls)
        return {"class": _type_name(cls), "schema": copy.deepcopy(schema)}

    def _numpy(self, value: np.generic | np.ndarray, depth: int) -> Any:
        """A numpy scalar as the Python value it holds; an array by its dtype, shape and
        contents (a ``seed`` of ``np.int64(1)`` and one of ``np.int64(2)`` ask for other
        answers: both were named by their type alone)."""
        if isinstance(value, np.generic):
            return self.stand_in(value.item(), depth)
        if value.dtype.hasobject:  # its bytes are pointers: walk its items instead
            return {"ndarray": self.stand_in(value.tolist(), depth)}
        data = hashlib.blake2b(np.ascontiguousarray(value).tobytes(), digest_size=16)
        return f"<ndarray {value.dtype.str} {list(value.shape)}>{data.hexdigest()}"

    def _key(self, key: Any, depth: int) -> str:
        """A dict key as text: a str as it is, any other key tagged with its type (the
        keys ``1`` and ``"1"`` name other settings)."""
        if isinstance(key, str):
            return key
        return f"<{type(key).__qualname__}>{_sort_key(self.stand_in(key, depth))}"

    def _function(self, function: Any, depth: int) -> dict[str, Any]:
        """A function's name, and what else tells two of one name apart: for a Python
        function its code, defaults and closure values; for a bound method (or a builtin
        bound to an object, such as ``"...{}".format``) its object."""
        if isinstance(function, types.MethodType):
            return {
                "method": self._function(function.__func__, depth),
                "of": self.stand_in(function.__self__, depth),
            }
        module = getattr(function, "__module__", None) or type(function).__module__
        name = getattr(function, "__qualname__", None) or type(function).__qualname__
        found: dict[str, Any] = {"function": f"{module}.{name}"}
        bound = getattr(function, "__self__", None)
        if bound is not None and not isinstance(bound, types.ModuleType):
            found["of"] = self.stand_in(bound, depth)
        code = getattr(function, "__code__", None)
        if code is not None:
            found["code"] = _code_digest(code)
            found["defaults"] = self.stand_in(function.__defaults__, depth)
            found["keyword_defaults"] = self.stand_in(function.__kwdefaults__, depth)
            cells = function.__closure__ or ()
            found["closure"] = [self.stand_in(_cell(cell), depth) for cell in cells]
        return found


@functools.lru_cache(maxsize=256)
def _schema_of(cls: type) -> Any:
    """A pydantic model class's JSON schema as JSON data (made once per class: an identity
    is read at every call); ``None`` for another class, or one whose schema cannot be
    made."""
    schema = getattr(cls, "model_json_schema", None)
    if not callable(schema):
        return None
    try:
        return json.loads(json.dumps(schema(), sort_keys=True, default=str))
    except Exception:  # a model class whose schema cannot be made: its name alone
        return None


def _left_out(name: str) -> bool:
    return name in NOT_IDENTITY or name.endswith(SECRET_SUFFIXES) or name.startswith("__")


def _code_digest(code: types.CodeType) -> str:
    """A digest of a function's bytecode, constants and the names it uses (``t.upper()``
    and ``t.lower()`` differ only there), independent of the process: a nested function's
    code counts by its own digest (the repr of a code object holds its memory address)
    and a set constant by its sorted items (its repr follows the hash seed)."""
    hashed = hashlib.blake2b(code.co_code, digest_size=8)
    hashed.update(" ".join(code.co_names).encode("utf-8", "backslashreplace"))
    for constant in code.co_consts:
        hashed.update(_constant(constant).encode("utf-8", "backslashreplace"))
    return hashed.hexdigest()


def _constant(constant: Any) -> str:
    if isinstance(constant, types.CodeType):
        return _code_digest(constant)
    if isinstance(constant, frozenset):
        return "frozenset(" + ",".join(sorted(_constant(item) for item in constant)) + ")"
    if isinstance(constant, tuple):
        return "(" + ",".join(_constant(item) for item in constant) + ")"
    return repr(constant)


def _cell(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell (a name assigned after the function was made)
        return None
