"""Metadata filters: a small tree model, its validation, and a compiled evaluator.

The model can say everything LlamaIndex's ``MetadataFilters`` can: fourteen operators, the
conditions AND / OR / NOT (NOT = none of the children match), and nesting. Missing keys
behave as in ``llama_index.core.vector_stores.utils.build_metadata_filter_fn``: a missing
(or ``None``) value matches only ``!=`` and ``nin`` (and ``is_empty``).

Types: equality (``==``, ``!=``, ``in``, ``nin``) between different types simply does not
match (``"2021" == 2021`` is false). An ordering comparison (``>``, ``>=``, ``<``, ``<=``)
of a number with a str is a mistake, not a miss: a search whose range filter compares a
number (``{"year": {"$gte": 2020}}``) on a field that holds a str in the searched namespace
(``{"year": "2021"}``), or the reverse, raises :class:`FilterValueError` naming the field,
whatever other conditions say (see :func:`range_leaves`). Other values an operator cannot
order (a list, a dict) do not match.

Empty groups: an empty AND (and an empty NOT) matches everything, an empty OR matches
nothing, as ``all([])`` and ``any([])`` say. ``{"$or": []}`` therefore finds nothing.

Build filters from the classes, or parse a dict (LangChain style)::

    >>> f = FilterGroup.all_of(Filter("year", ">=", 2020), Filter("tags", "any", ["ai"]))
    >>> matches(f, {"year": 2021, "tags": ["ai", "db"]})
    True
    >>> parse_filters({"year": {"$gte": 2020}, "lang": "en"}) == FilterGroup.all_of(
    ...     Filter("year", ">=", 2020), Filter("lang", "==", "en"))
    True

Bad filters raise when they are built: :class:`UnknownOperatorError` for an operator that
does not exist, :class:`FilterValueError` for a value of the wrong type.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .codec import is_numpy_number
from .errors import FilterError, FilterValueError, UnknownOperatorError, shown

__all__ = [
    "Filter",
    "FilterCondition",
    "FilterGroup",
    "FilterLike",
    "MAX_FILTER_DEPTH",
    "FilterOperator",
    "FilterNode",
    "Predicate",
    "compile_filter",
    "kind_clash",
    "matches",
    "parse_filters",
    "range_leaves",
]

Predicate = Callable[[Mapping[str, Any]], bool]
Scalar = (str, int, float, bool)


class FilterOperator(str, enum.Enum):
    """Comparison operators; the values are LlamaIndex's ``FilterOperator`` values."""

    EQ = "=="
    NE = "!="
    GT = ">"
    GTE = ">="
    LT = "<"
    LTE = "<="
    IN = "in"
    NIN = "nin"
    ANY = "any"
    ALL = "all"
    CONTAINS = "contains"
    TEXT_MATCH = "text_match"
    TEXT_MATCH_INSENSITIVE = "text_match_insensitive"
    IS_EMPTY = "is_empty"


class FilterCondition(str, enum.Enum):
    """How a group combines its children; NOT means none of them match."""

    AND = "and"
    OR = "or"
    NOT = "not"


_OPERATOR_ALIASES: dict[str, FilterOperator] = {
    **{op.value: op for op in FilterOperator},
    **{op.name.lower(): op for op in FilterOperator},
    "=": FilterOperator.EQ,
    "eq": FilterOperator.EQ,
    "ne": FilterOperator.NE,
    "gt": FilterOperator.GT,
    "gte": FilterOperator.GTE,
    "lt": FilterOperator.LT,
    "lte": FilterOperator.LTE,
}


def _operator(op: Any) -> FilterOperator:
    if isinstance(op, FilterOperator):
        return op
    name = getattr(op, "value", op)  # accepts other str enums, e.g. LlamaIndex's
    if isinstance(name, str) and name.lower() in _OPERATOR_ALIASES:
        return _OPERATOR_ALIASES[name.lower()]
    known = ", ".join(op.value for op in FilterOperator)
    raise UnknownOperatorError(f"unknown filter operator {shown(op)}; known operators: {known}")


def _condition(condition: Any) -> FilterCondition:
    name = getattr(condition, "value", condition)
    try:
        return FilterCondition(str(name).lower())
    except ValueError:
        raise UnknownOperatorError(
            f"unknown filter condition {shown(condition)}; known conditions: and, or, not"
        ) from None


def _is_scalar(value: Any) -> bool:
    return isinstance(value, Scalar)


def _is_scalar_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(_is_scalar(v) for v in value)


def _native(value: Any) -> Any:
    """``value`` with numpy numbers as the Python numbers they hold, and a 1-d numpy
    array (``df["id"].unique()``) as a list: metadata stores numpy numbers so."""
    if is_numpy_number(value):
        return value.item()
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return value.tolist()
    if isinstance(value, (list, tuple, set, frozenset)):
        return type(value)(_native(item) for item in value)
    return value


def _check_value(key: str, op: FilterOperator, given: Any) -> Any:
    """Validate ``given`` for ``op``; returns it normalised (lists as tuples, numpy
    numbers as Python numbers)."""
    value = _native(given)

    def wrong(expected: str) -> FilterValueError:
        return FilterValueError(
            f"filter on {shown(key)} with operator {shown(op.value)} needs {expected}, "
            f"got {type(given).__name__} {shown(given)}"
        )

    if op is FilterOperator.IS_EMPTY:
        if value is None or value is True:  # no operand, or {"$is_empty": True}
            return None
        raise wrong("True or None (for not empty: $not around it)")
    if op in (FilterOperator.EQ, FilterOperator.NE):
        if _is_scalar(value):
            return value
        if _is_scalar_list(value):
            return list(value)
        raise wrong("a str, int, float, bool or a list of them")
    if op in (FilterOperator.GT, FilterOperator.GTE, FilterOperator.LT, FilterOperator.LTE):
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            return value
        raise wrong("a number or a str")
    if op in (FilterOperator.IN, FilterOperator.NIN, FilterOperator.ANY, FilterOperator.ALL):
        if isinstance(value, (list, tuple, set, frozenset)) and all(map(_is_scalar, value)):
            return tuple(value)
        raise wrong("a list of str, int, float or bool")
    if op is FilterOperator.CONTAINS:
        if _is_scalar(value):
            return value
        raise wrong("a str, int, float or bool")
    if isinstance(value, str):  # TEXT_MATCH, TEXT_MATCH_INSENSITIVE
        return value
    raise wrong("a str")


@dataclass(frozen=True)
class Filter:
    """One condition on one metadata key: ``Filter("year", ">=", 2020)``.

    ``op`` accepts a :class:`FilterOperator`, its value (``">="``) or its name (``"gte"``).
    """

    key: str
    op: FilterOperator | str
    value: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise FilterValueError(f"filter key must be a non-empty str, got {shown(self.key)}")
        op = _operator(self.op)
        object.__setattr__(self, "op", op)
        object.__setattr__(self, "value", _check_value(self.key, op, self.value))


MAX_FILTER_DEPTH = 64
"""How deep filter groups (``$and`` / ``$or`` / ``$not``) may nest: a deeper filter is a
:class:`FilterValueError` when it is given, before anything walks it (a walk thousands of
levels deep would exhaust Python's stack)."""


def _too_deep() -> FilterValueError:
    return FilterValueError(
        f"filter groups ($and / $or / $not) nest more than {MAX_FILTER_DEPTH} levels deep"
    )


@dataclass(frozen=True)
class FilterGroup:
    """Children combined by a condition: ``FilterGroup([f1, f2], "or")``. Groups nest, up to
    :data:`MAX_FILTER_DEPTH` levels."""

    filters: tuple[FilterNode, ...] = field(default_factory=tuple)
    condition: FilterCondition | str = FilterCondition.AND
    depth: int = field(default=1, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        children = tuple(self.filters)
        depth = 1
        for child in children:
            if isinstance(child, FilterGroup):
                depth = max(depth, child.depth + 1)
            elif not isinstance(child, Filter):
                raise FilterValueError(
                    f"a filter group holds Filter or FilterGroup objects, got {shown(child)}"
                )
        if depth > MAX_FILTER_DEPTH:
            raise _too_deep()
        object.__setattr__(self, "depth", depth)
        object.__setattr__(self, "filters", children)
        object.__setattr__(self, "condition", _condition(self.condition))

    @classmethod
    def all_of(cls, *filters: FilterNode) -> FilterGroup:
        return cls(filters, FilterCondition.AND)

    @classmethod
    def any_of(cls, *filters: FilterNode) -> FilterGroup:
        return cls(filters, FilterCondition.OR)

    @classmethod
    def none_of(cls, *filters: FilterNode) -> FilterGroup:
        return cls(filters, FilterCondition.NOT)


FilterNode = Filter | FilterGroup
FilterLike = Filter | FilterGroup | Mapping[str, Any] | None


# --- parsing ---------------------------------------------------------------------------


def parse_filters(spec: FilterLike) -> FilterNode | None:
    """Turn a filter spec into a tree; ``None`` or an empty dict means no filter.

    A dict maps keys to a value (equality) or to ``{"$op": value}`` with ``op`` any operator
    name (``$eq $ne $gt $gte $lt $lte $in $nin $any $all $contains $text_match
    $text_match_insensitive $is_empty``); ``$and`` / ``$or`` / ``$not`` take lists of dicts,
    nested up to :data:`MAX_FILTER_DEPTH` levels.
    """
    return _parse(spec, 0)


def _parse(spec: FilterLike, depth: int) -> FilterNode | None:
    if spec is None or isinstance(spec, (Filter, FilterGroup)):
        return spec
    if not isinstance(spec, Mapping):
        raise FilterValueError(
            f"filters must be a Filter, a FilterGroup or a dict, got {type(spec).__name__}"
        )
    if not spec:
        return None
    nodes = [_parse_entry(key, value, depth) for key, value in spec.items()]
    return nodes[0] if len(nodes) == 1 else FilterGroup(tuple(nodes), FilterCondition.AND)


def _parse_entry(key: Any, value: Any, depth: int) -> FilterNode:
    if not isinstance(key, str):
        raise FilterValueError(f"filter keys must be str, got {shown(key)}")
    if key.startswith("$"):
        condition = _condition(key[1:])
        if not isinstance(value, (list, tuple)):
            raise FilterValueError(f"{key} takes a list of filter dicts, got {shown(value)}")
        if depth >= MAX_FILTER_DEPTH:  # refused on the way down, before the stack runs out
            raise _too_deep()
        # an empty dict restricts nothing: it is an empty AND, which an OR must keep
        children = [_parse(child, depth + 1) or FilterGroup() for child in value]
        return FilterGroup(tuple(children), condition)
    if isinstance(value, Mapping):
        clauses = []
        for op_name, operand in value.items():
            if not isinstance(op_name, str) or not op_name.startswith("$"):
                raise FilterValueError(
                    f"filter on {shown(key)}: expected {{'$op': value}}, got key {shown(op_name)}"
                )
            clauses.append(Filter(key, _operator(op_name[1:]), operand))
        if not clauses:
            raise FilterError(f"filter on {shown(key)} has no operator")
        return clauses[0] if len(clauses) == 1 else FilterGroup(tuple(clauses))
    return Filter(key, FilterOperator.EQ, value)


# --- evaluation ------------------------------------------------------------------------

_MISSING = None


def _safe(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def guarded(actual: Any, expected: Any) -> bool:
        try:
            return bool(test(actual, expected))
        except TypeError:  # incomparable types do not match
            return False

    return guarded


def _contains(container: Any, item: Any) -> bool:
    """``item in container`` as LlamaIndex's filters test it: a substring of a str, a
    member of a list, a key of a nested dict; nothing is in a number."""
    if isinstance(container, str):
        return isinstance(item, str) and item in container
    if isinstance(container, (list, tuple, set, frozenset, dict)):
        return item in container  # item is a scalar (checked): hashable
    return False


def _is_empty(actual: Any) -> bool:
    return actual is None or actual == "" or actual == []


_TESTS: dict[FilterOperator, Callable[[Any, Any], bool]] = {
    FilterOperator.EQ: _safe(lambda a, e: a == e),
    FilterOperator.NE: _safe(lambda a, e: a != e),
    FilterOperator.GT: _safe(lambda a, e: a > e),
    FilterOperator.GTE: _safe(lambda a, e: a >= e),
    FilterOperator.LT: _safe(lambda a, e: a < e),
    FilterOperator.LTE: _safe(lambda a, e: a <= e),
    FilterOperator.IN: _safe(lambda a, e: a in e),
    FilterOperator.NIN: _safe(lambda a, e: a not in e),
    FilterOperator.ANY: lambda a, e: any(_contains(a, v) for v in e),
    FilterOperator.ALL: lambda a, e: all(_contains(a, v) for v in e),
    FilterOperator.CONTAINS: _contains,
    FilterOperator.TEXT_MATCH: lambda a, e: isinstance(a, str) and e in a,
    FilterOperator.TEXT_MATCH_INSENSITIVE: (
        lambda a, e: isinstance(a, str) and e.lower() in a.lower()
    ),
}


def _membership(values: tuple[Any, ...], negate: bool) -> Callable[[Any, Any], bool]:
    """IN / NIN over a long list (node ids, tenants) with a set: O(1) a test, same answers."""
    members = frozenset(values)  # the values are scalars (checked): hashable

    def test(actual: Any, _: Any) -> bool:
        try:
            found = actual in members
        except TypeError:  # an unhashable actual (a list): compare one by one, as a tuple does
            found = actual in values
        return found != negate

    return test


_SET_FROM = 8  # list lengths from which IN / NIN test membership with a set


def _compile_leaf(leaf: Filter) -> Predicate:
    key, value, op = leaf.key, leaf.value, leaf.op
    if op is FilterOperator.IS_EMPTY:
        return lambda metadata: _is_empty(metadata.get(key))
    test = _TESTS[FilterOperator(op)]
    if op in (FilterOperator.IN, FilterOperator.NIN) and len(value) >= _SET_FROM:
        test = _membership(value, negate=op is FilterOperator.NIN)
    missing_matches = op in (FilterOperator.NE, FilterOperator.NIN)

    def predicate(metadata: Mapping[str, Any]) -> bool:
        actual = metadata.get(key)
        if actual is _MISSING:
            return missing_matches
        return test(actual, value)

    return predicate


def compile_filter(node: FilterNode | None) -> Predicate:
    """Compile a filter tree into a fast ``metadata -> bool`` function."""
    if node is None:
        return lambda metadata: True
    if isinstance(node, Filter):
        return _compile_leaf(node)
    children = [compile_filter(child) for child in node.filters]
    if not children:  # all([]) and not any([]) are true, any([]) is false
        return (lambda metadata: False) if node.condition is FilterCondition.OR else _everything
    if node.condition is FilterCondition.AND:
        return lambda metadata: all(child(metadata) for child in children)
    if node.condition is FilterCondition.OR:
        return lambda metadata: any(child(metadata) for child in children)
    return lambda metadata: not any(child(metadata) for child in children)


def _everything(metadata: Mapping[str, Any]) -> bool:
    return True


_ORDERING = frozenset(
    {FilterOperator.GT, FilterOperator.GTE, FilterOperator.LT, FilterOperator.LTE}
)


def range_leaves(node: FilterNode | None) -> list[Filter]:
    """The ordering comparisons (``> >= < <=``) anywhere in a filter tree.

    A backend checks each against the kinds of value its field holds in the searched
    namespace (:func:`kind_clash`) before evaluating: the error must not depend on which
    entries the evaluation happens to reach.
    """
    if node is None:
        return []
    if isinstance(node, Filter):
        return [node] if node.op in _ORDERING else []
    return [leaf for child in node.filters for leaf in range_leaves(child)]


def kind_clash(leaf: Filter, stored: Any) -> FilterValueError | None:
    """The error for ordering a stored value against ``leaf``'s value, when one is a str
    and the other a number (``bool`` counts as a number, as in Python); else ``None``."""
    wanted_str = isinstance(leaf.value, str)
    if isinstance(stored, str) == wanted_str or not isinstance(stored, (str, int, float)):
        return None
    kind, other = ("a str", "numbers") if wanted_str else ("a number", "strs")
    return FilterValueError(
        f"filter on {shown(leaf.key)} with operator {FilterOperator(leaf.op).value!r} compares "
        f"{kind} ({shown(leaf.value)}) with the {other} stored under {shown(leaf.key)} (e.g. "
        f"{shown(stored)}): a number and a str have no order; store one kind per field, or "
        f"filter with {'a number' if wanted_str else 'a str'}"
    )


def matches(spec: FilterLike, metadata: Mapping[str, Any] | None) -> bool:
    """Evaluate a filter spec against one metadata dict (``None`` counts as empty)."""
    return compile_filter(parse_filters(spec))(metadata or {})
