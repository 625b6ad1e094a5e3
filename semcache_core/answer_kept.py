"""An LLM cache's write of a model's answer: the answer is the caller's, whatever becomes
of the write.

The adapters store an answer after the model gave it (LangChain's ``update``, the end of a
stream in ``CachedChatModel``, LlamaIndex's ``SemCacheLLM``). When that write fails (the
embedder's API refuses with a 429, the Redis server is down, the cache was closed),
raising would throw away an answer already paid for, and fail a stream after its every
token reached the consumer. :func:`answer_kept` turns such a failure into a
:class:`~semcache_core.errors.CacheWriteWarning`: nothing is stored, and the next call of
that prompt is a miss again. The caller's own mistakes (a prompt that is not a str, a
response that cannot be stored) still raise, before anything changed.

Example::

    with answer_kept():
        responses.update(prompt, model, blob, usage)
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import CacheWriteWarning, InvalidArgumentError, InvalidValueError

__all__ = ["answer_kept"]


@contextmanager
def answer_kept() -> Iterator[None]:
    """Around a write of a model's answer: an ``Exception`` other than the caller's bad
    arguments becomes a :class:`~semcache_core.errors.CacheWriteWarning` naming it
    (``KeyboardInterrupt`` and cancellation go on as they are)."""
    try:
        yield
    except (InvalidArgumentError, InvalidValueError):
        raise
    except Exception as exc:
        warnings.warn(
            f"semcache: the model's answer was returned but not cached: "
            f"{type(exc).__name__}: {exc}",
            CacheWriteWarning,
            stacklevel=3,
        )
