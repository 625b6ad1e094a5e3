"""What a :class:`~semcache_core.responses.ResponseCache` call brings, checked before
anything changes: prompt texts and model names (their fingerprints), the usage of a call,
and whether a response and its entry's metadata can be stored at all.

Example::

    >>> len(digest("How tall is the Eiffel Tower?", "prompt"))
    32
    >>> prompt_text(None, "prompt query")
    Traceback (most recent call last):
        ...
    semcache_core.errors.InvalidArgumentError: prompt query must be a str, got NoneType
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from .codec import encode, encode_metadata
from .errors import InvalidArgumentError, shown
from .savings import Usage

__all__ = ["check_correct", "check_storable", "check_usage", "digest", "prompt_text"]


def prompt_text(text: Any, what: str) -> bytes:
    """``text`` (a prompt's text, a model name) as UTF-8.

    Raises:
        InvalidArgumentError: not a str, or the text holds a lone surrogate (no UTF-8
            form, so it cannot be stored or compared with what is).
    """
    if not isinstance(text, str):
        raise InvalidArgumentError(f"{what} must be a str, got {type(text).__name__}")
    try:
        return text.encode()
    except UnicodeEncodeError:
        raise InvalidArgumentError(
            f"{what} {shown(text)} is not valid text: it holds a lone surrogate"
        ) from None


def digest(text: Any, what: str) -> str:
    """The fingerprint of a prompt's text or a model name (``what`` names it in errors);
    raises as :func:`prompt_text`."""
    return hashlib.blake2b(prompt_text(text, what), digest_size=16).hexdigest()


def check_usage(usage: Any) -> None:
    """Raise :class:`InvalidArgumentError` unless ``usage`` is a :class:`Usage` or None."""
    if usage is not None and not isinstance(usage, Usage):
        raise InvalidArgumentError(f"usage must be a Usage or None, got {shown(usage)}")


def check_storable(response: Any, metadata: Mapping[str, Any]) -> None:
    """Raise what storing would (``InvalidValueError``: a value or metadata that cannot be
    stored), before a write changes anything else (a pending exploration, say)."""
    encode(response)
    encode_metadata(dict(metadata))


def check_correct(correct: Any) -> None:
    """Raises ``InvalidArgumentError`` unless ``correct`` is a bool (``feedback``'s word)."""
    if not isinstance(correct, bool):
        raise InvalidArgumentError(f"correct must be True or False, got {shown(correct)}")
