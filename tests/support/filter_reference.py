"""The filter semantics a search must follow, written out plainly for tests to compare with.

``search_reference(tree, records)`` is what a filtered search over ``records`` (the live
metadata of the searched namespace) answers: the keys ``matches`` accepts, or
``FilterValueError`` when a range condition anywhere in the tree orders a number against a
str that some record holds under its field (or a str against a number).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from semcache_core import Filter, FilterGroup
from semcache_core.filters import matches

ORDERING = {">", ">=", "<", "<="}


def _ranges(tree: Any) -> list[Filter]:
    if isinstance(tree, Filter):
        return [tree] if tree.op.value in ORDERING else []
    if isinstance(tree, FilterGroup):
        return [leaf for child in tree.filters for leaf in _ranges(child)]
    return []


def clashes(tree: Any, records: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether a range leaf's value and a stored value of its field are str vs number."""
    for leaf in _ranges(tree):
        for metadata in records.values():
            stored = metadata.get(leaf.key)
            if isinstance(stored, (str, int, float)) and isinstance(stored, str) != isinstance(
                leaf.value, str
            ):
                return True
    return False


def search_reference(tree: Any, records: Mapping[str, Mapping[str, Any]]) -> set[str] | None:
    """The keys a filtered search finds, or ``None`` when it must raise FilterValueError."""
    if clashes(tree, records):
        return None
    return {key for key, metadata in records.items() if matches(tree, metadata)}
