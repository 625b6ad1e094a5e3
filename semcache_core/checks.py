"""Argument checks shared by the facade's sync and async calls.

Each raises a typed :mod:`~semcache_core.errors` exception that names what was wrong, and
returns the value in the form the cache uses (``None`` namespace as ``""``, ttl as float).
"""

from __future__ import annotations

import math
from typing import Any

from .errors import InvalidArgumentError, InvalidKeyError

__all__ = [
    "check_index",
    "check_k",
    "check_key",
    "check_key_namespace",
    "check_keys",
    "check_namespace",
    "check_threshold",
    "check_ttl",
]


def check_key(key: Any) -> None:
    if not isinstance(key, str):
        raise InvalidKeyError(f"keys must be str, got {type(key).__name__} {key!r}")


def check_keys(keys: Any, prefix: str = "", what: str = "keys") -> list[str]:
    """``keys`` (a sequence of str, not one str) as a list, each behind ``prefix``.

    Raises:
        InvalidArgumentError: a single str or bytes instead of a sequence.
        InvalidKeyError: an item that is not a str; nothing is returned then.
    """
    if isinstance(keys, (str, bytes)):
        raise InvalidArgumentError(
            f"{what} must be a sequence of str, got a single {type(keys).__name__}"
        )
    checked = []
    for key in keys:
        if not isinstance(key, str):
            raise InvalidKeyError(f"{what} must be str, got {type(key).__name__} {key!r}")
        checked.append(prefix + key)
    return checked


def check_namespace(namespace: Any) -> str:
    if namespace is None:
        return ""
    if not isinstance(namespace, str):
        raise InvalidArgumentError(f"namespace must be a str, got {type(namespace).__name__}")
    return namespace


def check_key_namespace(namespace: Any, what: str = "namespace") -> str:
    """A namespace that adapters put in front of their keys, as ``f"{namespace}:{key}"``.

    It may not contain ``":"``, so one namespace's keys can never be another's: without
    that, namespace ``"a"`` with key ``"b:c"`` and namespace ``"a:b"`` with key ``"c"``
    would share the cache key ``"a:b:c"``.
    """
    if not isinstance(namespace, str):
        raise InvalidArgumentError(f"{what} must be a str, got {type(namespace).__name__}")
    if ":" in namespace:
        raise InvalidArgumentError(
            f"{what} {namespace!r} may not contain ':', which ends it in cache keys"
        )
    return namespace


def check_ttl(ttl: Any, name: str = "ttl") -> float | None:
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not math.isfinite(ttl):
        raise InvalidArgumentError(f"{name} must be a finite number of seconds, got {ttl!r}")
    if ttl <= 0:
        raise InvalidArgumentError(f"{name} must be > 0 seconds, got {ttl!r}")
    return float(ttl)


def check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidArgumentError(f"k must be an int >= 1, got {k!r}")
    return k


def check_threshold(threshold: Any) -> float | None:
    if threshold is None:
        return None
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float))
        or not -1.0 <= threshold <= 1.0
    ):
        raise InvalidArgumentError(
            f"threshold is a cosine similarity and must be in [-1, 1], got {threshold!r}"
        )
    return float(threshold)


def check_index(index: Any) -> bool | None:
    """``index=`` of ``get_or_compute``: ``None`` (guess), ``True`` or ``False``."""
    if index is not None and index is not True and index is not False:
        raise InvalidArgumentError(f"index must be None, True or False, got {index!r}")
    return index
