"""LlamaIndex ``MetadataFilters`` as the engine's filter model.

Example::

    >>> from llama_index.core.vector_stores import MetadataFilter, MetadataFilters
    >>> translate_filters(MetadataFilters(filters=[MetadataFilter(key="lang", value="en")]))
    FilterGroup(children=(Filter(field='lang', op='==', value='en'),), condition='and')
"""

from __future__ import annotations

from typing import Any

from llama_index.core.vector_stores import MetadataFilter, MetadataFilters

from semcache_core.errors import FilterValueError
from semcache_core.filters import (
    MAX_FILTER_DEPTH,
    Filter,
    FilterCondition,
    FilterGroup,
    FilterNode,
    FilterOperator,
)

__all__ = ["MATCH_ALL", "translate_filters"]

MATCH_ALL = FilterGroup(())  # an empty group matches every entry


def translate_filters(filters: Any) -> FilterNode | None:
    """LlamaIndex ``MetadataFilters`` (nested, any operator or condition) -> cache filter.

    A ``MetadataFilter`` becomes a :class:`~semcache_core.Filter` with the same key,
    operator and value; a ``MetadataFilters`` a :class:`~semcache_core.FilterGroup` with its
    condition (``None`` means AND). The cache's evaluator has the missing-key semantics of
    ``build_metadata_filter_fn`` and also handles nesting. An empty ``MetadataFilters``
    restricts nothing at any depth: LlamaIndex's rule for no filters, applied to nested
    groups as the conformance suite's reference does (the engine's own ``{"$or": []}``
    matches nothing). ``Filter`` / ``FilterGroup``
    objects pass through unchanged.

    Raises:
        FilterError: an operator the cache does not know, or a value of the wrong type for
            its operator (``FilterValueError``, e.g. ``EQ`` with ``None``); groups nested
            more than :data:`~semcache_core.filters.MAX_FILTER_DEPTH` levels deep
            (``FilterValueError``, at any depth).
    """
    return _translate(filters, 1)


def _translate(filters: Any, depth: int) -> FilterNode | None:
    """:func:`translate_filters` of a node ``depth`` groups down (the top one is 1)."""
    if filters is None or isinstance(filters, (Filter, FilterGroup)):
        return filters
    if isinstance(filters, MetadataFilters):
        if depth > MAX_FILTER_DEPTH:  # refused on the way down, before the stack runs out
            raise FilterValueError(f"MetadataFilters nest more than {MAX_FILTER_DEPTH} levels deep")
        if not filters.filters:  # build_metadata_filter_fn: no filters restrict nothing
            return MATCH_ALL
        children = tuple(_translate(child, depth + 1) for child in filters.filters)
        return FilterGroup(children, filters.condition or FilterCondition.AND)  # type: ignore[arg-type]
    if isinstance(filters, MetadataFilter):
        # LlamaIndex's own stores ignore an is_empty filter's value, whatever it is
        is_empty = filters.operator == FilterOperator.IS_EMPTY.value  # str enums, both
        return Filter(filters.key, filters.operator, None if is_empty else filters.value)
    raise FilterValueError(
        f"filters must be MetadataFilters, MetadataFilter, Filter or FilterGroup, "
        f"got {type(filters).__name__}"
    )
