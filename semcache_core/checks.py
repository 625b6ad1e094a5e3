"""Argument checks shared by the facade's sync and async calls.

Each raises a typed :mod:`~semcache_core.errors` exception that names what was wrong, and
returns the value in the form the cache uses (``None`` namespace as ``""``, ttl as float).

Numbers: wherever a Python ``int`` is accepted so is a numpy integer scalar
(``np.int64(3)``), and wherever a ``float`` is, any numpy integer or float scalar
(``np.float32(0.5)``); each comes back as the Python type. ``bool`` (Python or numpy) is
never a number here, and NaN is never in range.

Text: keys and namespaces must encode as UTF-8 (no lone surrogates such as ``"\ud800"``),
as snapshots, the durable journal and remote backends store them that way.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import numpy as np

from .codec import encode_metadata
from .errors import InvalidArgumentError, InvalidKeyError, shown
from .filters import FilterNode, parse_filters

__all__ = [
    "as_int",
    "as_real",
    "check_backend_options",
    "check_count",
    "check_index",
    "check_k",
    "check_key",
    "check_keys",
    "check_keywords",
    "check_namespace",
    "check_path",
    "check_text",
    "check_threshold",
    "check_ttl",
    "check_write_options",
    "encodes_as_utf8",
]


def as_int(value: Any) -> int | None:
    """``value`` as a Python int when it is an integer (numpy's too), not a bool; else None."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        return None
    return int(value)


def as_real(value: Any) -> float | None:
    """``value`` as a Python float when it is a real number (numpy's too), not a bool;
    else None. NaN and infinities are returned as they are: range checks refuse them."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def check_count(value: Any, name: str, minimum: int = 1) -> int:
    """An int (or numpy integer) >= ``minimum``, as a Python int."""
    number = as_int(value)
    if number is None or number < minimum:
        raise InvalidArgumentError(f"{name} must be an int >= {minimum}, got {shown(value)}")
    return number


def encodes_as_utf8(text: str) -> bool:
    """Whether ``text`` has a UTF-8 form (it does unless it holds a lone surrogate)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_UNORDERED = (str, bytes, bytearray, memoryview, Mapping, AbstractSet)


def ordered_rows(rows: Any, count: int, name: str, per: str = "item") -> list[Any]:
    """``rows``, one per ``per`` in order (a sequence, generator or array), as a list of
    ``count``: ``set_many``'s ``vectors`` and ``metadatas``, ``get_or_compute_many``'s
    results.

    Raises:
        InvalidArgumentError: rows without that order (a mapping or a set has none, and a
            str or bytes would be split into characters: each row would be stored against
            the wrong item), not an iterable, or not ``count`` of them.
    """
    wanted = f"{name} must hold one row per {per}, in order (a list, tuple, generator or array)"
    if isinstance(rows, _UNORDERED):
        raise InvalidArgumentError(f"{wanted}, got {type(rows).__name__}")
    try:
        listed = list(rows)
    except TypeError as exc:
        raise InvalidArgumentError(f"{wanted}, got {type(rows).__name__}") from exc
    if len(listed) != count:
        raise InvalidArgumentError(f"{name} has {len(listed)} rows for {count} {per}s")
    return listed


def check_key(key: Any) -> None:
    if not isinstance(key, str):
        raise InvalidKeyError(f"keys must be str, got {type(key).__name__} {shown(key)}")
    if not encodes_as_utf8(key):
        raise InvalidKeyError(
            f"key {shown(key)} is not valid text: it holds a lone surrogate, which has no UTF-8 "
            "form (snapshots, the journal and remote backends store keys as UTF-8)"
        )


def check_fn(fn: Any, signature: str = "fn(key)") -> None:
    """:class:`InvalidArgumentError` unless ``fn`` is callable (``signature`` names it)."""
    if not callable(fn):
        raise InvalidArgumentError(
            f"{signature.split('(')[0]} must be callable as {signature}, got {shown(fn)}"
        )


def check_sequence(items: Any, what: str, expected: str = "a sequence") -> list[Any]:
    """``items`` as a list; :class:`InvalidArgumentError` ("``what`` must be ``expected``")
    for a single str or bytes (which would be split into characters) or for something
    that is not iterable."""
    if isinstance(items, (str, bytes)):
        raise InvalidArgumentError(
            f"{what} must be {expected}, got a single {type(items).__name__}"
        )
    if not isinstance(items, Iterable):
        raise InvalidArgumentError(f"{what} must be {expected}, got {shown(items)}")
    return list(items)


def check_keys(keys: Any, prefix: str = "", what: str = "keys") -> list[str]:
    """``keys`` (a sequence of str, not one str) as a list, each behind ``prefix``.

    Raises:
        InvalidArgumentError: a single str or bytes instead of a sequence.
        InvalidKeyError: an item that is not a str; nothing is returned then.
    """
    checked = []
    for key in check_sequence(keys, what, "a sequence of str"):
        if not isinstance(key, str):
            raise InvalidKeyError(f"{what} must be str, got {type(key).__name__} {shown(key)}")
        if not encodes_as_utf8(key):
            raise InvalidKeyError(f"{what} must be valid text, {shown(key)} holds a lone surrogate")
        checked.append(prefix + key)
    return checked


def check_namespace(namespace: Any) -> str:
    if namespace is None:
        return ""
    if not isinstance(namespace, str):
        raise InvalidArgumentError(f"namespace must be a str, got {type(namespace).__name__}")
    check_text(namespace, "namespace")
    return namespace


def check_text(text: str, what: str) -> None:
    """Raise :class:`InvalidArgumentError` naming ``what`` unless ``text`` has a UTF-8
    form (no lone surrogate)."""
    if not encodes_as_utf8(text):
        raise InvalidArgumentError(
            f"{what} {shown(text)} is not valid text: it holds a lone surrogate (no UTF-8 form)"
        )


MAX_TTL = 1e10
"""The longest ``ttl`` taken, in seconds (about 317 years): its milliseconds stay exact in a
double and within what Redis's ``PEXPIRE`` takes, on every backend alike."""


def check_ttl(ttl: Any, name: str = "ttl") -> float | None:
    if ttl is None:
        return None
    seconds = as_real(ttl)
    if seconds is None or not math.isfinite(seconds):
        raise InvalidArgumentError(f"{name} must be a finite number of seconds, got {shown(ttl)}")
    if seconds <= 0:
        raise InvalidArgumentError(f"{name} must be > 0 seconds, got {shown(ttl)}")
    if seconds > MAX_TTL:
        raise InvalidArgumentError(
            f"{name} must be at most {MAX_TTL:g} seconds (about 317 years; use None for no "
            f"expiry), got {shown(ttl)}"
        )
    return seconds


def check_k(k: Any) -> int:
    number = as_int(k)
    if number is None or number < 1:
        raise InvalidArgumentError(f"k must be an int >= 1, got {shown(k)}")
    return number


def check_threshold(threshold: Any) -> float | None:
    if threshold is None:
        return None
    number = as_real(threshold)
    if number is None or not -1.0 <= number <= 1.0:
        raise InvalidArgumentError(
            f"threshold is a cosine similarity and must be in [-1, 1], got {shown(threshold)}"
        )
    return number


SearchOptions = tuple[int, float | None, str, FilterNode | None]
"""``(k, threshold, namespace, filter tree)`` of a search, checked (:func:`check_search`)."""


def check_search(k: Any, threshold: Any, namespace: Any, filters: Any) -> SearchOptions:
    """A search's options checked, before its query is embedded: a bad ``k``, threshold,
    namespace or filter must not cost an embedding call.

    Raises:
        InvalidArgumentError, FilterError: as :func:`check_k`, :func:`check_threshold`,
            :func:`check_namespace` and :func:`~.filters.parse_filters`.
    """
    return (
        check_k(k),
        check_threshold(threshold),
        check_namespace(namespace),
        parse_filters(filters),
    )


def check_keywords(
    call: str, given: Iterable[str], known: Iterable[str] = (), hint: str = ""
) -> None:
    """Raise ``TypeError`` naming the keyword arguments of ``call`` that are not ``known``
    (as Python does for a function's own parameters): an adapter passing ``**kwargs`` on
    to a base that ignores names it does not know would otherwise drop a misspelt one
    (``namepsace="tenant-a"``) without a word.

    Example::

        >>> check_keywords("SemCacheLLM", ["thresold"], ["system_prompt"])
        Traceback (most recent call last):
        ...
        TypeError: SemCacheLLM() got unexpected keyword arguments: thresold
    """
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise TypeError(f"{call}() got unexpected keyword arguments: {', '.join(unknown)}{hint}")


# Where SemCache's options for the backend it builds go when a RedisBackend is given
# instead: it takes none of them (the server bounds, searches and keeps the entries).
_REDIS_INSTEAD = {
    "max_entries": (
        "bound memory with Redis's maxmemory and maxmemory-policy volatile-lru, and give "
        "the cache a ttl= (SemCache(ttl=..., backend=...); docs/redis.md, Bounds)"
    ),
    "index": "tune the server's search with RedisBackend(hnsw_m=, hnsw_ef_search=, exact_below=)",
    "path": "rely on Redis's own persistence (AOF or RDB): the entries live on the server",
}
_REDIS_INSTEAD["hnsw_threshold"] = _REDIS_INSTEAD["hnsw_params"] = _REDIS_INSTEAD["index"]


def check_backend_options(backend: Any, **given: bool) -> None:
    """Raise :class:`InvalidArgumentError` when ``SemCache(backend=...)`` also got options
    of the backend it would build (``given``: option name -> passed), saying where they
    go instead: on the backend for the local and durable ones, else what does their job.

    Example::

        >>> from semcache_core import LocalBackend
        >>> check_backend_options(LocalBackend(), max_entries=True, path=False)
        Traceback (most recent call last):
        ...
        semcache_core.errors.InvalidArgumentError: max_entries configures the backend \
SemCache builds, not one you pass; set it on that backend: LocalBackend(max_entries=...)
    """
    from .backends.local import LocalBackend  # here: checks is imported by the backends
    from .persist.durable import DurableBackend

    names = [name for name, passed in given.items() if passed]
    if not names:
        return
    verb = "configures" if len(names) == 1 else "configure"
    message = f"{', '.join(names)} {verb} the backend SemCache builds, not one you pass"
    redis = sys.modules.get("semcache_core.backends.redis")  # loaded if backend is one
    if redis is not None and isinstance(backend, redis.RedisBackend):
        advice: dict[str, list[str]] = {}  # what to do -> the options it replaces
        for name in names:
            advice.setdefault(_REDIS_INSTEAD[name], []).append(name)
        steps = "; ".join(f"instead of {', '.join(them)}, {what}" for what, them in advice.items())
        raise InvalidArgumentError(f"{message}, and a RedisBackend has no such option: {steps}")
    pronoun = "it" if len(names) == 1 else "them"
    if not isinstance(backend, (LocalBackend, DurableBackend)):
        kind = type(backend).__name__
        raise InvalidArgumentError(f"{message}; set {pronoun} on the {kind} if it has {pronoun}")
    kind = "DurableBackend" if isinstance(backend, DurableBackend) else "LocalBackend"
    on_it = [name for name in names if name != "path" or kind == "DurableBackend"]
    if on_it:
        keywords = ", ".join(f"{name}=..." for name in on_it)
        pronoun = "it" if len(on_it) == 1 else "them"
        message += f"; set {pronoun} on that backend: {kind}({keywords})"
    if len(on_it) < len(names):
        message += "; LocalBackend takes no path (for a durable cache: SemCache(path=...) alone)"
    raise InvalidArgumentError(message)


def check_path(path: Any, what: str = "path") -> Path:
    """``path`` (a str or ``os.PathLike`` naming something) as a :class:`~pathlib.Path`.

    Raises:
        InvalidArgumentError: anything else, or the empty string (what an unset
            environment variable gives, which would put the files in the current directory).
    """
    text = os.fspath(path) if isinstance(path, (str, os.PathLike)) else None
    if not isinstance(text, str):
        raise InvalidArgumentError(f"{what} must be a str or os.PathLike, got {shown(path)}")
    if not text:
        raise InvalidArgumentError(f"{what} is empty: name a file or directory ('.' for here)")
    return Path(text)


def check_write_options(ttl: Any, namespace: Any, metadata: Any) -> None:
    """Check what a computed entry will be stored with, before anything is computed:
    ``get_or_compute`` must not pay for ``fn`` and then refuse to store its result."""
    check_ttl(ttl)
    check_namespace(namespace)
    if metadata is not None:
        encode_metadata(metadata)


def check_index(index: Any) -> bool | None:
    """``index=`` of ``get_or_compute``: ``None`` (guess), ``True`` or ``False``."""
    if index is not None and index is not True and index is not False:
        raise InvalidArgumentError(f"index must be None, True or False, got {shown(index)}")
    return index


def check_scan(prefix: Any, limit: Any, namespace: Any) -> tuple[str, int | None, str]:
    """``scan``'s ``prefix`` (a str), ``limit`` (None or an int >= 0) and namespace."""
    if not isinstance(prefix, str):
        raise InvalidArgumentError(f"prefix must be a str, got {type(prefix).__name__}")
    check_text(prefix, "prefix")  # a lone surrogate matches no key, and Redis cannot send it
    if limit is not None:
        limit = check_count(limit, "limit", minimum=0)
    return prefix, limit, check_namespace(namespace)
