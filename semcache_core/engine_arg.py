"""The ``cache=`` argument of every adapter: the engine, :class:`~semcache_core.SemCache`.

Two classes are called ``SemCache``: the engine (``semcache_core.SemCache``) and the
LangChain LLM cache built on it (``semcache_integrations.langchain.SemCache``, a
``BaseCache``). Adapters take the engine; given anything else they raise at once, naming
the class expected and, for an adapter that wraps an engine, how to reach it::

    >>> check_engine(None, "SemCacheByteStore") is None
    True
    >>> check_engine("not a cache", "SemCacheByteStore")
    Traceback (most recent call last):
    ...
    semcache_core.errors.InvalidArgumentError: SemCacheByteStore(cache=...) takes the engine, \
a semcache_core.SemCache, got str 'not a cache'
"""

from __future__ import annotations

from typing import Any

from .cache import SemCache
from .errors import InvalidArgumentError

__all__ = ["check_engine"]


def check_engine(cache: Any, adapter: str) -> SemCache | None:
    """``cache`` when it is ``None`` or an engine, else :class:`InvalidArgumentError`."""
    if cache is None or isinstance(cache, SemCache):
        return cache
    kind = type(cache)
    got = f"{kind.__module__}.{kind.__qualname__}"
    if not kind.__module__.startswith("semcache"):
        got = f"{kind.__qualname__} {cache!r}"[:200]
    message = f"{adapter}(cache=...) takes the engine, a semcache_core.SemCache, got {got}"
    for attribute in ("engine", "cache"):  # adapters that hold an engine name it so
        if isinstance(getattr(cache, attribute, None), SemCache):
            message += (
                f"; that is an adapter over an engine: pass its .{attribute}, or a "
                "semcache_core.SemCache(...) of your own"
            )
            break
    raise InvalidArgumentError(message)
