"""``get_or_compute``: the cached value of a key, or a function's result computed once
(single flight) and stored, an embedding stored once as its entry's own vector (see
:mod:`.vector_values`). The batch twin is in ``cache_batch``, the async one in
``cache_async``.

Example::

    >>> from semcache_core import SemCache
    >>> cache = SemCache()
    >>> cache.get_or_compute("hello", lambda text: [0.6, 0.8])
    [0.6000000238418579, 0.800000011920929]
"""

# Each method annotates ``self: SemCache`` to reach the facade (as in cache_async.py).
# mypy: disable-error-code="misc"

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .backends.base import EntryWrite, StoredEntry
from .checks import check_fn, check_index, check_key, check_namespace, check_write_options
from .entry_writes import computed_writes, stored_metadata
from .errors import DimensionMismatchError
from .stored_values import MISSING, OUTCOMES, Outcome, outcome_of

if TYPE_CHECKING:
    from .cache import SemCache

__all__ = ["ComputeCalls"]


class ComputeCalls:
    """Mixed into :class:`~semcache_core.SemCache`: ``get_or_compute`` and what the
    batch and async twins share with it (storing computed results)."""

    def _lookup(self: SemCache, namespace: str, key: str) -> tuple[bool, Any]:
        """(found, fresh value) counting a hit or a miss."""
        value = self._read_value(namespace, key, self._clock())
        return (False, None) if value is MISSING else (True, value)

    def _peek(self: SemCache, namespace: str, key: str) -> StoredEntry | None:
        return self._backend.get(namespace, key, self._clock(), count=False)

    def _store_computed(
        self: SemCache, key: str, result: Any, ttl: Any, namespace: str, metadata: Any, index: Any
    ) -> Outcome:
        """Store ``fn``'s result (an embedding as its entry's vector, see ``index``)."""
        return self._store_computed_many([key], [result], ttl, namespace, metadata, index)[0]

    def _store_computed_many(
        self: SemCache,
        keys: list[str],
        results: list[Any],
        ttl: Any,
        namespace: str,
        metadata: Any,
        index: Any,
    ) -> list[Outcome]:
        """Store computed results in one write; what their waiters make their values from.

        A result that is a vector (see :mod:`.vector_values`; ``index`` overrides the guess)
        is stored once, as the entry's vector with a small marker as its value.
        """
        for retry in (False, True):
            dim = self._fixed_dim
            if dim is None:
                dim = self._backend.dim_of(namespace, self._clock())
            writes, outcomes = self._computed_writes(
                keys, results, ttl, namespace, metadata, index, dim
            )
            try:
                self._backend.set_many(writes, self._clock())
                break
            except DimensionMismatchError:
                if index or retry:
                    raise
                # another writer fixed the namespace's dimension meanwhile: guess again
        self._count_computes(len(writes))
        return outcomes

    def _count_computes(self: SemCache, count: int) -> None:
        with self._counters.lock:
            self._counters.computes += count

    def _computed_writes(
        self: SemCache,
        keys: list[str],
        results: list[Any],
        ttl: Any,
        namespace: str,
        metadata: Any,
        index: Any,
        dim: int | None,
    ) -> tuple[list[EntryWrite], list[Outcome]]:
        """:func:`~.entry_writes.computed_writes` given the namespace's dimension ``dim``
        (read by the caller, sync or async); the caller checked the keys, ``ttl``,
        ``namespace`` and ``metadata`` before computing (``check_write_options``)."""
        return computed_writes(
            keys,
            results,
            dim=dim,
            index=index,
            namespace=namespace,
            encoded_metadata=stored_metadata(metadata),
            expires_at=self._expires_at(ttl),
        )

    def get_or_compute(
        self: SemCache,
        key: str,
        fn: Callable[[str], Any],
        *,
        ttl: float | None = None,
        namespace: str = "",
        metadata: dict[str, Any] | None = None,
        index: bool | None = None,
    ) -> Any:
        """The cached value of ``key`` in ``namespace``, or ``fn(key)`` computed once and
        stored there.

        Threads missing the same key together wait for one call of ``fn`` (single flight);
        no cache lock is held while ``fn`` runs. An exception from ``fn`` reaches every
        waiter and stores nothing; an interrupt (``KeyboardInterrupt``) is the computing
        caller's alone, and one of the waiters computes instead. ``fn`` asking the cache
        for the key it computes raises ``RecursionError`` (it would wait for itself).

        A result that is an embedding (a non-empty list of floats or 1-D float16/32/64
        ndarray, finite, non-zero, of its namespace's dimension) is stored once, as the
        entry's vector, so :meth:`get_similar` finds it; reads give it back as ``fn``
        returned it (a list, a tuple as a list, or an ndarray of its dtype) with its
        values **rounded to float32**. The computing call may return ``fn``'s own list,
        as calling ``fn`` would, when storing it rounded none of its values (as with most
        embedders, whose values are float32 already); the cache keeps no reference to it,
        and waiters get lists of their own made from what was stored.
        Ints, bools and mixed lists are plain values. ``index=True`` requires an
        embedding (``InvalidVectorError`` / ``DimensionMismatchError`` otherwise, nothing
        stored); ``index=False`` stores any result as a plain value.

        Example::

            vec = cache.get_or_compute("hello", embed)  # embed("hello") -> list[float]
            cache.get_or_compute("ids", lambda k: [17, 4, 99])  # a plain value
        """
        if key.__class__ is not str or not key.isascii():  # the checks a hit needs, first
            check_key(key)
        if not (
            ttl is None
            and metadata is None
            and index is None
            and namespace.__class__ is str
            and namespace.isascii()
        ):
            check_write_options(ttl, namespace, metadata)
            check_index(index)
            namespace = check_namespace(namespace)
        counter = self._entry_counter
        entered = 0 if counter is None else counter.entered  # before the lookup: see _compute
        found = self._read_value(namespace, key, self._clock())
        if found is not MISSING:
            return found
        check_fn(fn)  # a hit has no use for it: checked where it would be called
        return self._flights.run(
            (namespace, key),
            self._compute,
            key,
            fn,
            ttl,
            namespace,
            metadata,
            index,
            entered,
            handoff=OUTCOMES,
        )

    def _compute(
        self: SemCache,
        key: str,
        fn: Any,
        ttl: Any,
        namespace: str,
        metadata: Any,
        index: Any,
        entered: int,
    ) -> Outcome:
        """A flight leader's work: ``fn(key)`` stored, unless something stored it since the
        caller's lookup (a leader that finished meanwhile, a ``set``, another facade on the
        same backend). Where the backend counts the entries it stores
        (:attr:`~.backends.local.LocalBackend.entered`, read by the caller before its
        lookup as ``entered``), the key is looked up again only when that count moved.

        An embedding returned as a list, the common case, is written in one step where
        the backend can (:meth:`~.backends.local.LocalBackend.add_float_list`)."""
        counter = self._entry_counter
        if counter is None or counter.entered != entered:  # maybe this key, stored since
            entry = self._peek(namespace, key)
            if entry is not None:
                return outcome_of(entry)
        result = fn(key)
        if (
            result.__class__ is list
            and index is not False
            and self._add_float_list is not None
            and (self._fixed_dim is None or len(result) == self._fixed_dim)
        ):
            stored = self._add_float_list(
                namespace,
                key,
                result,
                stored_metadata(metadata),
                self._expires_at(ttl),
                self._clock(),
            )
            if stored is not None:
                self._count_computes(1)
                return stored
        return self._store_computed(key, result, ttl, namespace, metadata, index)
