"""The writes of a :class:`~.backend.RedisBackend`: ``set_many``, after one round to each
namespace's meta hash that fixes (or refuses) its dimension (:meth:`Writes._claim`).

Example::

    backend = RedisBackend("redis://127.0.0.1:6379")
    backend.set_many([EntryWrite("k", value, metadata, "", None, vector, None)], now)
"""

# Each method annotates ``self: RedisBackend`` to reach the backend's state.
# mypy: disable-error-code="misc"

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import DimensionMismatchError
from ..base import EntryWrite
from .connection import mapped_errors
from .fanout import fan_out
from .plan import (
    batch_dim,
    check_set_replies,
    claimed,
    group_writes,
    queue_claim,
    set_call,
    shard_batches,
    vector_dim_calls,
    vectors_dim,
)
from .scripts import SET, SET_IF_UNCHANGED

if TYPE_CHECKING:
    from .backend import RedisBackend

__all__ = ["Writes"]


class Writes:
    """Mixed into :class:`~.backend.RedisBackend`: its writes."""

    def set_many(self: RedisBackend, writes: list[EntryWrite], now: float) -> None:
        if not writes:
            return
        by_namespace = group_writes(writes)
        with mapped_errors("set"):
            dims = {ns: self._batch_dim(ns, group) for ns, group in by_namespace.items()}
            for namespace, dim in dims.items():  # every check before any write
                self._claim(namespace, dim, now)
            pipe = self._write_pipeline("set")
            calls = []
            for namespace, group in by_namespace.items():
                tags = self._keys.shard_tags(namespace, self._shard_counts[namespace])
                for tag, shard_writes in shard_batches(self._settings, tags, group):
                    self._queue_set(pipe, tag, shard_writes, dims[namespace] or 0, now)
                    calls.append(namespace)
            check_set_replies(calls, pipe.execute(), dims)

    def _batch_dim(self: RedisBackend, namespace: str, writes: list[EntryWrite]) -> int | None:
        return batch_dim(self._settings, namespace, writes)

    def _claim(self: RedisBackend, namespace: str, dim: int | None, now: float) -> None:
        """A write's round to the namespace's meta (:func:`.plan.queue_claim`): its shard
        count recorded and followed; ``dim`` fixed, or refused (live vectors of another)."""
        pipe = self._write_pipeline("set")
        queue_claim(self._settings, pipe, namespace, self._shard_counts, dim)
        held, fresh = claimed(namespace, self._shard_counts, pipe.execute(), dim)
        if fresh:  # the meta had no dimension: the vectors left in its sets have theirs
            calls = vector_dim_calls(self._settings, namespace, self._shard_counts[namespace])
            held = vectors_dim(fan_out(self._conn, calls, "set"), dim)  # type: ignore[arg-type]
        if dim is None or held == dim:
            return
        free = self.dim_of(namespace, now) is None  # else the meta keeps the vectors'
        if free or fresh:  # freed, or the meta this round claimed (not one read earlier)
            pipe = self._write_pipeline("set")
            restored = dim if free else held
            pipe.execute_command("HSET", self._keys.meta_key(namespace), "dim", restored)
            pipe.execute()
        if not free:
            raise DimensionMismatchError(held, dim, namespace)  # type: ignore[arg-type]

    def _queue_set(
        self: RedisBackend, pipe: Any, tag: str, writes: list[EntryWrite], dim: int, now: float
    ) -> None:
        self._conn.eval(pipe, SET, *set_call(self._settings, tag, writes, dim, now))

    def replace_if_unchanged(
        self: RedisBackend, write: EntryWrite, value: bytes, metadata: bytes, now: float
    ) -> bool:
        """``set_many([write])``, only while the entry still holds the encoded ``value``
        and ``metadata`` it was read with (one script on its shard: atomic against every
        other client); whether it wrote. An observation of verified mode is written so:
        a plain rewrite could bring back an entry another process removed since it was
        read (``invalidate``), or undo a newer response."""
        namespace = write.namespace
        with mapped_errors("set"):
            dim = self._batch_dim(namespace, [write])
            self._claim(namespace, dim, now)
            tags = self._keys.shard_tags(namespace, self._shard_counts[namespace])
            [(tag, writes)] = shard_batches(self._settings, tags, [write])
            keys, args = set_call(self._settings, tag, writes, dim or 0, now)
            pipe = self._write_pipeline("set")
            self._conn.eval(pipe, SET_IF_UNCHANGED, keys, [*args, value, metadata])
            [reply] = pipe.execute()
            check_set_replies([namespace], [reply], {namespace: dim})
        return bool(reply[0] != b"changed")
