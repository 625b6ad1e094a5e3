"""The storage contract behind :class:`~semcache_core.SemCache`.

A backend stores entries (encoded value, encoded metadata, namespace, absolute expiry time,
optional unit vector) and answers vector searches. The facade validates every input,
encodes values and metadata, normalises vectors and applies the cache's policies before it
calls a backend, so a backend trusts its arguments.

Nothing here assumes the vectors live in this process: a search takes a query vector and
returns entries with scores, whether the index is a local matrix or vector sets on a Redis
cluster searched on the server and merged from shards. Times are passed in (``now``, in
seconds since the epoch, from the cache's clock), so expiry is testable without sleeping.

Contract, for every backend:

- Scores are cosine similarities in [-1, 1], higher is closer, best first.
- An entry whose ``expires_at <= now`` is never returned, and its vector leaves the index.
- ``search`` applies ``namespace`` and ``filters`` *before* ranking: it returns ``k``
  results whenever ``k`` live entries match.
- Reads that return an entry (``get``, ``search``) refresh its recency for LRU eviction.
- Thread-safe: the facade calls a backend from many threads at once.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ..filters import FilterNode
from ..vectors import FloatMatrix, FloatVector

__all__ = [
    "NOT_DECODED",
    "AsyncBackend",
    "AsyncKeyspace",
    "Backend",
    "BackendCounters",
    "BackendState",
    "EntryWrite",
    "SpaceState",
    "StoredEntry",
    "SupportsAsync",
    "SupportsGetMany",
    "SupportsSnapshots",
    "AsyncGetMany",
    "aread_many",
    "async_backend",
    "async_keyspace",
    "read_many",
]

NOT_DECODED: Any = type("NotDecoded", (), {"__repr__": lambda self: "NOT_DECODED"})()
"""``plain`` of an entry whose value must be decoded from ``value`` to be read."""


@dataclass(slots=True)
class StoredEntry:
    """An entry as a backend returns it; ``value`` and ``metadata`` are encoded bytes."""

    key: str
    value: bytes
    metadata: bytes
    namespace: str
    expires_at: float | None
    vector: FloatVector | None = None  # filled only when a call asks for vectors
    plain: Any = NOT_DECODED  # the value itself, when immutable and kept by the backend


@dataclass(slots=True)
class EntryWrite:
    """An entry to store; ``vector`` is unit-length float32 or ``None``."""

    key: str
    value: bytes
    metadata: bytes
    namespace: str
    expires_at: float | None
    vector: FloatVector | None = None
    plain: Any = NOT_DECODED  # the value itself when it is immutable (str, int, ...)


@dataclass(slots=True)
class BackendCounters:
    """Lookups (``get`` with ``count=True``), LRU evictions and TTL expirations."""

    hits: int = 0
    misses: int = 0
    evictions: int = 0
    expirations: int = 0
    details: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """Storage for one cache. See the module docstring for the contract.

    An entry is identified by ``(namespace, key)``; each namespace has its own vector
    dimension, fixed by its first vector, and ``clear(namespace)`` touches no other.
    """

    def dim_of(self, namespace: str, now: float | None = None) -> int | None:
        """Dimension of ``namespace``'s vectors, ``None`` until its first vector; with
        ``now``, entries expired by then do not count (an expired namespace has none)."""
        ...

    @property
    def dims(self) -> dict[str, int]:
        """namespace -> dimension, for every namespace holding vectors."""
        ...

    def get(
        self, namespace: str, key: str, now: float, count: bool = True, touch: bool = True
    ) -> StoredEntry | None:
        """The live entry for ``key`` (refreshing its recency with ``touch``), else ``None``.

        With ``count``, the call counts as a hit or a miss in :meth:`counters`.
        """
        ...

    def exists(self, namespace: str, key: str, now: float) -> bool:
        """Whether ``key`` holds a live entry (recency untouched)."""
        ...

    def set_many(self, writes: list[EntryWrite], now: float) -> None:
        """Insert or replace entries, all or nothing, evicting beyond capacity."""
        ...

    def delete(self, namespace: str, key: str, now: float) -> bool:
        """Remove ``key``; True when a live entry was removed."""
        ...

    def touch(self, namespace: str, key: str, expires_at: float | None, now: float) -> bool:
        """Give ``key``'s live entry the expiry ``expires_at`` (``None``: never), nothing
        else changed (recency untouched); True when a live entry was there."""
        ...

    def count(self, now: float, namespace: str | None = None) -> int:
        """Number of live entries (of ``namespace`` only, when given)."""
        ...

    def namespaces(self, now: float) -> list[str]:
        """The namespaces holding live entries, sorted."""
        ...

    def scan(self, namespace: str, prefix: str, limit: int | None, now: float) -> list[str]:
        """Live keys of ``namespace`` starting with ``prefix``, sorted, at most ``limit``."""
        ...

    def clear(self, namespace: str | None = None) -> None:
        """Remove every entry of ``namespace`` (of all namespaces when ``None``); a cleared
        namespace forgets its dimension."""
        ...

    def search(
        self,
        queries: FloatMatrix,
        k: int,
        namespace: str,
        filters: FilterNode | None,
        now: float,
        with_vectors: bool = False,
        threshold: float | None = None,
    ) -> list[list[tuple[StoredEntry, float]]]:
        """For each query row, up to ``k`` (entry, cosine score) pairs of ``namespace``,
        best first.

        Pairs scoring below ``threshold`` are left out (and their recency is not refreshed).
        """
        ...

    def purge_expired(self, now: float) -> int:
        """Reclaim every expired entry now; returns how many."""
        ...

    def counters(self) -> BackendCounters:
        """Evictions and expirations so far."""
        ...

    def close(self) -> None:
        """Release resources; the backend is not used afterwards."""
        ...


@runtime_checkable
class SupportsGetMany(Protocol):
    """A backend that reads many entries at once (Redis: a pipeline, one round trip,
    where a loop of ``get`` takes one per key); :func:`read_many` uses it where the
    backend's class defines ``get_many`` with these arguments, so a subclass that changes
    how ``get`` reads must change ``get_many`` alike."""

    def get_many(
        self,
        namespace: str,
        keys: Sequence[str],
        now: float,
        count: bool = True,
        touch: bool = True,
    ) -> list[StoredEntry | None]:
        """``get`` of each of ``keys``, in order (repeats read again)."""
        ...


def read_many(
    backend: Backend,
    namespace: str,
    keys: Sequence[str],
    now: float,
    count: bool = True,
    touch: bool = True,
) -> list[StoredEntry | None]:
    """``backend.get`` of each of ``keys``, in order: in one call where the backend reads
    many at once (:class:`SupportsGetMany`), else one ``get`` per key. ``touch=False``
    reaches a ``get`` that takes it (a backend written before it was added reads as
    before).

    Example::

        >>> from semcache_core.backends.local import LocalBackend
        >>> read_many(LocalBackend(), "", ["a", "b"], 0.0)
        [None, None]
    """
    kind = type(backend)
    if _defines(kind, "get_many", _GET_MANY):
        return backend.get_many(namespace, keys, now, count, touch)  # type: ignore[attr-defined]
    get = backend.get
    if touch or not _defines(kind, "get", _TOUCH):
        return [get(namespace, key, now, count) for key in keys]
    return [get(namespace, key, now, count, touch=False) for key in keys]


_TOUCH = frozenset(["touch"])


@functools.lru_cache(maxsize=256)
def _defines(kind: type, method: str, parameters: frozenset[str]) -> bool:
    """Whether the class ``kind`` has ``method`` taking every one of ``parameters`` by
    name: a backend of one's own with a ``get_many`` of other arguments is read one
    ``get`` at a time. Answered once per class (``isinstance`` against a runtime
    protocol costs some 13 µs a call on Python 3.11)."""
    found = getattr(kind, method, None)
    if not callable(found):
        return False
    try:
        names = inspect.signature(found).parameters
    except (TypeError, ValueError):
        return False
    return parameters <= names.keys()


@dataclass(slots=True)
class SpaceState:
    """One namespace's vectors in index row order, and its graph when one is complete.

    ``vectors`` is None in an export with a graph: they sit in ``graph["data_level0"]``.
    """

    name: str
    labels: npt.NDArray[np.int64]
    vectors: FloatMatrix | None
    graph: dict[str, Any] | None = None  # HNSWIndex.graph_state()
    dim: int = 0  # the dimension of this namespace's vectors


@dataclass(slots=True)
class BackendState:
    """A backend's whole content as parallel columns: what a snapshot holds.

    ``dim`` is the dimension every namespace must have (a cache's ``dim=``), or ``None``:
    each of ``spaces`` has its own. Entries run from least to most recently used, so LRU
    order survives a round trip.
    ``labels[i]`` is the label of entry ``i``'s vector in its namespace's space, or None.

    A snapshot being read may hand over the state while its big blocks are still coming
    in: call :meth:`wait_for_graphs` before reading a graph's ``data_level0``, and
    :meth:`wait_for_vectors` before reading any of ``spaces``' vectors.
    """

    dim: int | None
    keys: list[str] = field(default_factory=list)
    values: list[bytes] = field(default_factory=list)
    metadata: list[bytes] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    expires_at: list[float | None] = field(default_factory=list)
    labels: list[int | None] = field(default_factory=list)
    spaces: list[SpaceState] = field(default_factory=list)
    next_label: int = 0  # labels are never reused: graphs keep those of deleted slots
    graphs_pending: Callable[[], object] | None = None  # blocks until they are in; raises
    vectors_pending: Callable[[], object] | None = None  # likewise

    def wait_for_graphs(self) -> None:
        """Block until every graph's level-0 block is in; raises whatever damaged it."""
        if self.graphs_pending is not None:
            self.graphs_pending()

    def wait_for_vectors(self) -> None:
        """Block until every space's vectors are in; raises whatever damaged them."""
        if self.vectors_pending is not None:
            self.vectors_pending()


@runtime_checkable
class SupportsSnapshots(Protocol):
    """A backend whose whole content can be exported and replaced (``dump`` / ``load``)."""

    def export_state(self, now: float) -> BackendState:
        """A consistent copy of every live entry, vector and complete graph."""
        ...

    def restore_state(self, state: BackendState, now: float) -> None:
        """Replace the whole content with ``state`` (entries expired at ``now`` left out).

        Calls ``state.wait_for_graphs()`` / ``state.wait_for_vectors()`` before it reads a
        graph's level-0 block / a vector.

        Raises:
            ValueError: the state is inconsistent; the backend is unchanged.
        """
        ...


@runtime_checkable
class AsyncBackend(Protocol):
    """Async twins of a backend's per-entry calls and search, on an async client.

    Same arguments, results, errors and contract as the :class:`Backend` calls they mirror
    (``aget`` is ``get``, ...), sharing the backend's entries and counters; awaiting one
    never blocks the event loop and uses no worker thread.
    """

    async def adim_of(self, namespace: str, now: float | None = None) -> int | None: ...

    async def aget(
        self, namespace: str, key: str, now: float, count: bool = True
    ) -> StoredEntry | None: ...

    async def aexists(self, namespace: str, key: str, now: float) -> bool: ...

    async def aset_many(self, writes: list[EntryWrite], now: float) -> None: ...

    async def adelete(self, namespace: str, key: str, now: float) -> bool: ...

    async def atouch(
        self, namespace: str, key: str, expires_at: float | None, now: float
    ) -> bool: ...

    async def asearch(
        self,
        queries: FloatMatrix,
        k: int,
        namespace: str,
        filters: FilterNode | None,
        now: float,
        with_vectors: bool = False,
        threshold: float | None = None,
    ) -> list[list[tuple[StoredEntry, float]]]: ...

    async def aclose(self) -> None:
        """Release what the running event loop holds; the backend stays usable."""
        ...


@runtime_checkable
class AsyncGetMany(Protocol):
    """An async backend that reads many entries at once (``aget_many`` is ``get_many``
    of :class:`SupportsGetMany`); :func:`aread_many` uses it."""

    async def aget_many(
        self, namespace: str, keys: Sequence[str], now: float, count: bool = True
    ) -> list[StoredEntry | None]: ...


def _arguments(method: Callable[..., Any]) -> frozenset[str]:
    """The arguments ``method`` of a protocol takes, less ``self``."""
    return frozenset(inspect.signature(method).parameters) - {"self"}


_GET_MANY = _arguments(SupportsGetMany.get_many)
_AGET_MANY = _arguments(AsyncGetMany.aget_many)


async def aread_many(
    aio: AsyncBackend, namespace: str, keys: Sequence[str], now: float, count: bool = True
) -> list[StoredEntry | None]:
    """:func:`read_many` on an async backend: one ``aget_many`` where it has one
    (:class:`AsyncGetMany`), else one ``aget`` per key."""
    if _defines(type(aio), "aget_many", _AGET_MANY):
        return await aio.aget_many(namespace, keys, now, count)  # type: ignore[attr-defined]
    return [await aio.aget(namespace, key, now, count) for key in keys]


@runtime_checkable
class SupportsAsync(Protocol):
    """A backend with native async calls (``backend.aio``); without them, the facade's
    async twins run the sync calls in a worker thread."""

    @property
    def aio(self) -> AsyncBackend | None: ...


def async_backend(backend: object) -> AsyncBackend | None:
    """``backend.aio`` when the backend has native async calls (now: ``aio`` may be None
    for some settings), else ``None``."""
    return backend.aio if isinstance(backend, SupportsAsync) else None


@runtime_checkable
class AsyncKeyspace(Protocol):
    """Optional async twins of a backend's whole-keyspace calls (``acount`` is ``count``,
    ``adims()`` the ``dims`` property, ...), on the same terms as :class:`AsyncBackend`.
    An async backend without them leaves those facade calls to a worker thread."""

    async def acount(self, now: float, namespace: str | None = None) -> int: ...

    async def anamespaces(self, now: float) -> list[str]: ...

    async def ascan(
        self, namespace: str, prefix: str, limit: int | None, now: float
    ) -> list[str]: ...

    async def aclear(self, namespace: str | None = None) -> None: ...

    async def apurge_expired(self, now: float) -> int: ...

    async def adims(self) -> dict[str, int]: ...


def async_keyspace(backend: object) -> AsyncKeyspace | None:
    """``backend.aio`` when it has the :class:`AsyncKeyspace` calls, else ``None``."""
    aio = async_backend(backend)
    return aio if isinstance(aio, AsyncKeyspace) else None


def checks_query_dimension(backend: object) -> bool:
    """Whether ``backend.search`` itself refuses a query of another dimension than its
    namespace's (``DimensionMismatchError``), so the facade need not ask the dimension
    first: a remote backend (``checks_query_dimension = True``) would pay a round trip."""
    return getattr(backend, "checks_query_dimension", False) is True
