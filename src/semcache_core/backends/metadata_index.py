"""Inverted index of a namespace's scalar metadata, so equality filters skip most entries.

A filter seen for the first time is evaluated entry by entry (about 0.5 µs each). For the
filters that pick a few entries out of many, ``==`` and ``in`` on a field (a tenant, a
document id, a user), :class:`MetadataIndex` keeps ``field -> value -> labels`` and
:meth:`MetadataIndex.candidates` turns a filter tree into a *superset* of the labels it can
accept: the caller still runs the full filter, but only over those.

A field is indexed the first time a filter asks for it (one pass over the namespace, what
the plain evaluation costs anyway), then kept up to date on every add and removal.

Example::

    >>> index = MetadataIndex()
    >>> entries = {1: {"user": "ann"}, 2: {"user": "bob"}, 3: {"user": "ann", "n": 2}}
    >>> for label, metadata in entries.items():
    ...     index.add(label, metadata)
    >>> sorted(index.candidates(Filter("user", "==", "ann"), entries.items))
    [1, 3]
    >>> index.candidates(Filter("n", ">", 1), entries.items) is None  # not indexable
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..filters import Filter, FilterCondition, FilterNode, FilterOperator

__all__ = ["MetadataIndex"]

# Fields indexed per namespace at most; filters on further fields are evaluated in full.
MAX_INDEXED_FIELDS = 16
_HASHABLE = (str, int, float, bool)  # what ``==`` / ``in`` filters compare (bool is an int)

Labelled = Iterable[tuple[int, Mapping[str, Any]]]
# A value held by one entry maps to its label, by several to a set of them: unique fields
# (node ids, document ids) then cost a dict slot per entry instead of a set each.
Bucket = int | set[int]


def _labels(bucket: Bucket | None) -> set[int]:
    if bucket is None:
        return set()
    return {bucket} if isinstance(bucket, int) else bucket


class MetadataIndex:
    """``field -> value -> labels`` for the fields equality filters have used."""

    __slots__ = ("_fields",)

    def __init__(self) -> None:
        self._fields: dict[str, dict[Any, Bucket]] = {}

    def add(self, label: int, metadata: Mapping[str, Any]) -> None:
        for name, buckets in self._fields.items():
            _add(buckets, metadata.get(name), label)

    def remove(self, label: int, metadata: Mapping[str, Any]) -> None:
        for name, buckets in self._fields.items():
            value = metadata.get(name)
            if not isinstance(value, _HASHABLE):
                continue
            bucket = buckets.get(value)
            if bucket == label:
                del buckets[value]
            elif isinstance(bucket, set):
                bucket.discard(label)
                if len(bucket) == 1:
                    buckets[value] = bucket.pop()

    @property
    def indexed(self) -> bool:
        """Whether any field is indexed (else :meth:`add` / :meth:`remove` do nothing)."""
        return bool(self._fields)

    def candidates(self, node: FilterNode, entries: Callable[[], Labelled]) -> set[int] | None:
        """Labels that may match ``node`` (a superset), or None when nothing narrows it.

        ``entries()`` gives the ``(label, metadata)`` pairs of the whole namespace, to index
        a field seen for the first time. The result may be the index's own set: read it, do
        not keep or change it.
        """
        if isinstance(node, Filter):
            return self._leaf(node, entries)
        if node.condition is FilterCondition.NOT or not node.filters:
            return None
        found = [self.candidates(child, entries) for child in node.filters]
        if node.condition is FilterCondition.AND:
            narrowing = sorted((s for s in found if s is not None), key=len)
            if not narrowing:
                return None
            return narrowing[0].intersection(*narrowing[1:]) if len(narrowing) > 1 else narrowing[0]
        if any(s is None for s in found):  # OR: one unbounded child bounds nothing
            return None
        return set().union(*found)  # type: ignore[arg-type]

    def _leaf(self, leaf: Filter, entries: Callable[[], Labelled]) -> set[int] | None:
        if leaf.op is FilterOperator.EQ and isinstance(leaf.value, _HASHABLE):
            wanted: tuple[Any, ...] = (leaf.value,)
        elif leaf.op is FilterOperator.IN:
            wanted = leaf.value
        else:
            return None
        buckets = self._fields.get(leaf.key)
        if buckets is None:
            if len(self._fields) >= MAX_INDEXED_FIELDS:
                return None
            buckets = self._build(leaf.key, entries())
        if len(wanted) == 1:
            return _labels(buckets.get(wanted[0]))
        return set().union(*(_labels(buckets.get(value)) for value in wanted))

    def _build(self, name: str, entries: Labelled) -> dict[Any, Bucket]:
        buckets: dict[Any, Bucket] = {}
        for label, metadata in entries:
            _add(buckets, metadata.get(name), label)
        self._fields[name] = buckets
        return buckets


def _add(buckets: dict[Any, Bucket], value: Any, label: int) -> None:
    if not isinstance(value, _HASHABLE):
        return  # missing, None, lists: no == / in filter on a scalar matches them
    bucket = buckets.get(value)
    if bucket is None:
        buckets[value] = label
    elif isinstance(bucket, int):
        buckets[value] = {bucket, label}
    else:
        bucket.add(label)
