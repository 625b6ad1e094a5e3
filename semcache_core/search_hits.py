"""Search results that say whether every shard answered.

:meth:`SemCache.search <semcache_core.SemCache.search>` returns a :class:`SearchHits`: a
plain ``list`` of hits, best first, plus ``partial`` and ``unreachable``. A search is
*partial* only when the caller allowed it (``allow_partial=True``) and a shard of a
sharded backend (Redis Cluster) could not be reached within the deadline: the hits are
then the best of the shards that answered, and may miss better ones held by the others.
Without ``allow_partial`` such a search raises
:class:`~semcache_core.errors.BackendUnavailableError` instead: a result is never
silently short. The in-process backend has no shards to lose: never partial.

Example::

    hits = cache.search("refund policy", k=5, allow_partial=True)
    if hits.partial:
        log.warning("search answered without %s", hits.unreachable)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, TypeVar, runtime_checkable

from .backends.base import StoredEntry
from .filters import FilterNode
from .vectors import FloatMatrix

__all__ = [
    "SearchHits",
    "SupportsAsyncPartialSearch",
    "SupportsPartialSearch",
    "abackend_search",
    "backend_search",
]

_T = TypeVar("_T")


class SearchHits(list[_T]):
    """A ``list`` of hits plus ``partial`` (some shard did not answer) and ``unreachable``
    (the ``host:port`` of the nodes that did not, sorted; empty when not partial)."""

    __slots__ = ("unreachable",)

    def __init__(self, hits: Iterable[_T] = (), unreachable: Iterable[str] = ()) -> None:
        super().__init__(hits)
        self.unreachable: list[str] = sorted(unreachable)

    @property
    def partial(self) -> bool:
        return bool(self.unreachable)

    def __repr__(self) -> str:
        if not self.unreachable:
            return f"SearchHits({list.__repr__(self)})"
        return f"SearchHits({list.__repr__(self)}, unreachable={self.unreachable!r})"


Rows = list[tuple[StoredEntry, float]]


@runtime_checkable
class SupportsPartialSearch(Protocol):
    """A backend whose shards can fail one at a time (RedisBackend): its ``search`` takes
    ``allow_partial`` and then returns a :class:`SearchHits` per query."""

    partial_search: bool

    def search(
        self,
        queries: FloatMatrix,
        k: int,
        namespace: str,
        filters: FilterNode | None,
        now: float,
        with_vectors: bool = False,
        threshold: float | None = None,
        *,
        allow_partial: bool = False,
    ) -> list[Rows]: ...


def backend_search(backend: Any, *args: Any, allow_partial: bool = False) -> list[Rows]:
    """``backend.search(*args)``, passing ``allow_partial`` to backends that take it (a
    backend without shards to lose answers in full or raises, so it is not asked)."""
    if allow_partial and isinstance(backend, SupportsPartialSearch):
        return backend.search(*args, allow_partial=True)
    found: list[Rows] = backend.search(*args)
    return found


@runtime_checkable
class SupportsAsyncPartialSearch(Protocol):
    """The async twin of :class:`SupportsPartialSearch` (``RedisBackend.aio``)."""

    partial_search: bool

    async def asearch(
        self,
        queries: FloatMatrix,
        k: int,
        namespace: str,
        filters: FilterNode | None,
        now: float,
        with_vectors: bool = False,
        threshold: float | None = None,
        *,
        allow_partial: bool = False,
    ) -> list[Rows]: ...


async def abackend_search(aio: Any, *args: Any, allow_partial: bool = False) -> list[Rows]:
    """``await aio.asearch(*args)``, as :func:`backend_search` passes ``allow_partial``."""
    if allow_partial and isinstance(aio, SupportsAsyncPartialSearch):
        return await aio.asearch(*args, allow_partial=True)
    found: list[Rows] = await aio.asearch(*args)
    return found


def marked(found: Rows, hits: list[_T]) -> SearchHits[_T]:
    """``hits`` (converted from the backend's ``found``) with ``found``'s marks."""
    return SearchHits(hits, getattr(found, "unreachable", ()))
