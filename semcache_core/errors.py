"""The one exception hierarchy of semcache.

Every error semcache raises is a :class:`SemCacheError`. Errors caused by bad input also
subclass :class:`ValueError` or :class:`TypeError`, so callers that already catch those
keep working::

    SemCacheError
     ├── InvalidKeyError            (TypeError)   a key that is not a ``str``
     ├── InvalidValueError          (TypeError)   a value that cannot be serialised
     ├── InvalidVectorError         (ValueError)  NaN/inf, all-zero, not 1-D, not numeric
     │    └── DimensionMismatchError              a vector of the wrong dimension
     ├── InvalidArgumentError       (ValueError)  k < 1, threshold outside [-1, 1], ...
     │    └── InvalidPairError                    a labelled pair calibrate() cannot read
     ├── FilterError                (ValueError)  a malformed metadata filter
     │    ├── UnknownOperatorError                an operator that does not exist
     │    └── FilterValueError      (TypeError)   a filter value of the wrong type
     ├── EmbedderError                            the embedder failed or returned garbage
     ├── SnapshotError              (ValueError)  a truncated, corrupted or foreign snapshot
     ├── RedisServerError                         a local Redis server would not start or stop
     └── BackendError                             the storage backend failed
          ├── BackendUnavailableError             a server unreachable within the deadline
          ├── ReplicationError                    fewer replicas confirmed a write than asked
          ├── CapabilityError                     the backend lacks a needed feature
          ├── DirectoryLockedError                a durable directory open in another process
          ├── CacheClosedError                    a call on a durable cache after close()
          └── UnsafeRecordError                   a journal row or Redis field semcache never writes

One warning: :class:`CacheWriteWarning` (a ``RuntimeWarning``), an LLM cache's write of a
model's answer that failed; the answer still reached the caller.

Example::

    try:
        cache.search([0.0, 0.0, 0.0])
    except ValueError as exc:  # InvalidVectorError is a ValueError
        print(exc)             # "vector is all zeros: cosine similarity is undefined"
"""

from __future__ import annotations

import reprlib
from typing import Any

__all__ = [
    "BackendError",
    "BackendUnavailableError",
    "CacheClosedError",
    "CacheWriteWarning",
    "CapabilityError",
    "DimensionMismatchError",
    "EmbedderError",
    "FilterError",
    "FilterValueError",
    "InvalidArgumentError",
    "InvalidKeyError",
    "InvalidPairError",
    "InvalidValueError",
    "InvalidVectorError",
    "DirectoryLockedError",
    "RedisServerError",
    "ReplicationError",
    "SemCacheError",
    "SnapshotError",
    "UnknownOperatorError",
    "UnsafeRecordError",
    "shown",
]

_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = 80
_SHOWN.maxlist = _SHOWN.maxtuple = _SHOWN.maxset = _SHOWN.maxfrozenset = 8
_SHOWN.maxdict = _SHOWN.maxdeque = _SHOWN.maxarray = 8
_SHOWN.maxlevel = 3


def shown(value: Any) -> str:
    """``repr(value)`` cut to a readable length, for error messages: a rejected 1 MB key,
    100k-element list or 384-d array is named by its start, not copied into the message.

    Example::

        >>> len(shown("x" * 1_000_000))
        80
        >>> shown(list(range(100)))
        '[0, 1, 2, 3, 4, 5, 6, 7, ...]'
    """
    return _SHOWN.repr(value)  # a repr that raises gives "<T instance at 0x...>"


class SemCacheError(Exception):
    """Root of every error raised by semcache."""


class InvalidKeyError(SemCacheError, TypeError):
    """A key was not a ``str``."""


class InvalidValueError(SemCacheError, TypeError):
    """A value (or metadata) cannot be stored: it is not serialisable."""


class InvalidVectorError(SemCacheError, ValueError):
    """A vector is unusable: non-finite, all zeros, not one-dimensional or not numeric."""


class DimensionMismatchError(InvalidVectorError):
    """A vector's dimension differs from its namespace's (or the cache's ``dim=``)."""

    def __init__(self, expected: int, got: int, namespace: str | None = None) -> None:
        where = "this cache" if namespace is None else f"namespace {shown(namespace)}"
        super().__init__(
            f"vector has dimension {got}, but {where} holds vectors of dimension {expected}"
        )
        self.expected = expected
        self.got = got
        self.namespace = namespace


class InvalidArgumentError(SemCacheError, ValueError):
    """An argument is out of its allowed range (k < 1, threshold outside [-1, 1], ...)."""


class InvalidPairError(InvalidArgumentError):
    """A labelled pair given to :func:`~semcache_core.calibrate` is malformed; ``index`` is
    its position (0-based) in the pairs given, and the message names it."""

    def __init__(self, index: int, problem: str) -> None:
        super().__init__(f"pair {index}: {problem}")
        self.index = index


class FilterError(SemCacheError, ValueError):
    """A metadata filter is malformed."""


class UnknownOperatorError(FilterError):
    """A filter names an operator that does not exist."""


class FilterValueError(FilterError, TypeError):
    """A filter value has the wrong type for its operator."""


class EmbedderError(SemCacheError):
    """The embedder raised, or returned something that is not a usable vector."""


class BackendError(SemCacheError):
    """The storage backend failed (connection lost, server error, ...)."""


class BackendUnavailableError(BackendError):
    """A remote backend's server could not be reached (refused, timed out, cluster down)
    within the call's deadline and retry budget. A write that raises this may or may not
    have been applied."""


class ReplicationError(BackendError):
    """A write reached its primary, but fewer replicas than ``min_replica_acks`` confirmed it
    within ``replica_ack_timeout``. The write may still be applied on the primary (and
    reach the replicas later): it is not rolled back, only not acknowledged as durable.
    ``node`` is the primary's ``host:port``, ``acked`` / ``wanted`` the replica counts."""

    def __init__(self, message: str, node: str = "", acked: int = 0, wanted: int = 0) -> None:
        super().__init__(message)
        self.node = node
        self.acked = acked
        self.wanted = wanted


class CapabilityError(BackendError):
    """The backend lacks a capability the call needs (e.g. vector search)."""


class DirectoryLockedError(BackendError):
    """A durable cache directory is already open in another process (one writer at a time)."""


class CacheClosedError(BackendError):
    """A call reached a durable cache after :meth:`~semcache_core.SemCache.close`: a closed
    cache answers nothing (not even "empty"); open the directory again instead."""


class UnsafeRecordError(BackendError):
    """A record read from storage is not one semcache writes, and is refused unread: a
    durable journal row holding a pickled key or value (diskcache's pickle mode, which would
    run code on read) or a file outside the journal; a Redis entry or meta field that does
    not decode as semcache writes it (crafted, or written by another program). The message
    names the row or field. A Redis entry refused so can still be deleted."""


class CacheWriteWarning(RuntimeWarning):
    """An LLM cache could not store a model's answer (the embedder's API refused, the
    Redis server was down, the cache was closed): the answer was returned all the same,
    and the next call of that prompt asks the model again. The message names the error.
    To fail instead: ``warnings.simplefilter("error", CacheWriteWarning)``."""


class RedisServerError(SemCacheError):
    """A local Redis server (:mod:`semcache_core.redis_local`, ``semcache cluster``) could not
    be found, started, formed into a cluster or stopped; the message says which and why."""


class SnapshotError(SemCacheError, ValueError):
    """A snapshot file is truncated, corrupted, foreign or incompatible with the cache.

    Raised before anything changes: the cache that tried to load it is left as it was.
    """
