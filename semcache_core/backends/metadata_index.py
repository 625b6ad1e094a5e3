"""Inverted index of a namespace's scalar metadata, so equality filters skip most entries.

A filter seen for the first time is evaluated entry by entry (about 0.5 µs each). For the
filters that pick a few entries out of many, ``==`` and ``in`` on a field (a tenant, a
document id, a user) or a range (``year >= 2024``), :class:`MetadataIndex` keeps
``field -> value -> labels`` (and the field's values in order, for ranges) and
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
    >>> sorted(index.candidates(Filter("n", ">", 1), entries.items))
    [3]
    >>> index.candidates(Filter("user", "text_match", "an"), entries.items) is None
    True
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import FilterValueError
from ..filters import Filter, FilterCondition, FilterNode, FilterOperator, kind_clash

__all__ = ["MetadataIndex"]

# Fields indexed per namespace at most; filters on further fields are evaluated in full.
MAX_INDEXED_FIELDS = 16
_HASHABLE = (str, int, float, bool)  # what ``==`` / ``in`` filters compare (bool is an int)
# Where the values a range matches start and stop in a field's sorted values.
_RANGES: dict[FilterOperator, Callable[[list[Any], Any], tuple[int, int]]] = {
    FilterOperator.GT: lambda keys, v: (bisect_right(keys, v), len(keys)),
    FilterOperator.GTE: lambda keys, v: (bisect_left(keys, v), len(keys)),
    FilterOperator.LT: lambda keys, v: (0, bisect_left(keys, v)),
    FilterOperator.LTE: lambda keys, v: (0, bisect_right(keys, v)),
}

Labelled = Iterable[tuple[int, Mapping[str, Any]]]
# A value held by one entry maps to its label, by several to a set of them: unique fields
# (node ids, document ids) then cost a dict slot per entry instead of a set each.
Bucket = int | set[int]


def _labels(bucket: Bucket | None) -> set[int]:
    if bucket is None:
        return set()
    return {bucket} if isinstance(bucket, int) else bucket


class MetadataIndex:
    """``field -> value -> labels`` for the fields that ``==``, ``in`` and range conditions used."""

    __slots__ = ("_fields", "_ordered")

    def __init__(self) -> None:
        self._fields: dict[str, dict[Any, Bucket]] = {}
        # field -> (numbers, strings): its values in order, made when a range asks and
        # dropped when a value appears or disappears
        self._ordered: dict[str, tuple[list[Any], list[str]]] = {}

    def add(self, label: int, metadata: Mapping[str, Any]) -> None:
        for name, buckets in self._fields.items():
            if _add(buckets, metadata.get(name), label):
                self._ordered.pop(name, None)

    def remove(self, label: int, metadata: Mapping[str, Any]) -> None:
        for name, buckets in self._fields.items():
            value = metadata.get(name)
            if not isinstance(value, _HASHABLE):
                continue
            bucket = buckets.get(value)
            if bucket == label:
                del buckets[value]
                self._ordered.pop(name, None)
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
        if node.condition is FilterCondition.AND:
            return self._all_of(node.filters, entries)
        found = [self.candidates(child, entries) for child in node.filters]
        if any(s is None for s in found):  # OR: one unbounded child bounds nothing
            return None
        return set().union(*found)  # type: ignore[arg-type]

    def clash(self, leaf: Filter, entries: Callable[[], Labelled]) -> FilterValueError | None:
        """The error when range ``leaf`` orders a number against a str its field holds in
        this namespace (or the reverse), else ``None`` (see :func:`~..filters.kind_clash`)."""
        buckets = self._buckets(leaf.key, entries)
        values: Iterable[Any]
        if buckets is None:  # past the field limit: look at every entry
            values = (metadata.get(leaf.key) for _, metadata in entries())
        else:
            numbers, strings = self._in_order(leaf.key, buckets)
            if not isinstance(leaf.value, str):
                values = strings[:1]
            else:  # NaN is a number too, though no range holds it (not in ``numbers``)
                values = numbers[:1] or [v for v in buckets if isinstance(v, float) and v != v][:1]
        for value in values:
            error = kind_clash(leaf, value)
            if error is not None:
                return error
        return None

    def _all_of(
        self, children: tuple[FilterNode, ...], entries: Callable[[], Labelled]
    ) -> set[int] | None:
        # ranges on one field meet in one interval first: "a <= x < b" collects the
        # labels between a and b, not everything above a and everything below b
        ranges: dict[tuple[str, bool], list[Filter]] = {}
        found = []
        for child in children:
            if isinstance(child, Filter) and child.op in _RANGES:
                ranges.setdefault((child.key, isinstance(child.value, str)), []).append(child)
            else:
                found.append(self.candidates(child, entries))
        found += [self._within(leaves, entries) for leaves in ranges.values()]
        narrowing = sorted((s for s in found if s is not None), key=len)
        if not narrowing:
            return None
        return narrowing[0].intersection(*narrowing[1:]) if len(narrowing) > 1 else narrowing[0]

    def _leaf(self, leaf: Filter, entries: Callable[[], Labelled]) -> set[int] | None:
        if leaf.op in _RANGES:
            return self._within([leaf], entries)
        equality = leaf.op is FilterOperator.EQ and isinstance(leaf.value, _HASHABLE)
        if not (equality or leaf.op is FilterOperator.IN):
            return None
        buckets = self._buckets(leaf.key, entries)
        if buckets is None:
            return None
        if equality:
            return _labels(buckets.get(leaf.value))
        return _collect(buckets, leaf.value)

    def _within(self, leaves: list[Filter], entries: Callable[[], Labelled]) -> set[int] | None:
        """Labels whose value is inside every range of ``leaves`` (one field, one kind)."""
        buckets = self._buckets(leaves[0].key, entries)
        if buckets is None:
            return None
        numbers, strings = self._in_order(leaves[0].key, buckets)
        keys = strings if isinstance(leaves[0].value, str) else numbers  # a range matches
        start, stop = 0, len(keys)  # only values of its own kind: numbers, or strings
        for leaf in leaves:
            low, high = _RANGES[FilterOperator(leaf.op)](keys, leaf.value)
            start, stop = max(start, low), min(stop, high)
        return _collect(buckets, keys[start:stop])

    def _buckets(self, name: str, entries: Callable[[], Labelled]) -> dict[Any, Bucket] | None:
        """The field's index, built now if it is new; None past the field limit."""
        buckets = self._fields.get(name)
        if buckets is None and len(self._fields) < MAX_INDEXED_FIELDS:
            buckets = self._build(name, entries())
        return buckets

    def _in_order(self, name: str, buckets: dict[Any, Bucket]) -> tuple[list[Any], list[str]]:
        ordered = self._ordered.get(name)
        if ordered is None:
            # NaN (the one value unequal to itself) compares false with everything: no
            # range matches it
            numbers = sorted(v for v in buckets if not isinstance(v, str) and v == v)
            strings = sorted(v for v in buckets if isinstance(v, str))
            ordered = self._ordered[name] = (numbers, strings)
        return ordered

    def _build(self, name: str, entries: Labelled) -> dict[Any, Bucket]:
        buckets: dict[Any, Bucket] = {}
        for label, metadata in entries:
            _add(buckets, metadata.get(name), label)
        self._fields[name] = buckets
        return buckets


def _collect(buckets: dict[Any, Bucket], values: Iterable[Any]) -> set[int]:
    """The labels filed under any of ``values``."""
    labels: set[int] = set()
    for value in values:
        bucket = buckets.get(value)
        if isinstance(bucket, int):
            labels.add(bucket)
        elif bucket is not None:
            labels |= bucket
    return labels


def _add(buckets: dict[Any, Bucket], value: Any, label: int) -> bool:
    """File ``label`` under ``value``; whether that made a new value."""
    if not isinstance(value, _HASHABLE):
        return False  # missing, None, lists: no ==, in or range on a scalar matches them
    bucket = buckets.get(value)
    if bucket is None:
        buckets[value] = label
        return True
    if isinstance(bucket, int):
        buckets[value] = {bucket, label}
    else:
        bucket.add(label)
    return False
