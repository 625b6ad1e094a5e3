"""Translate a metadata filter tree into a vector-set ``FILTER`` expression that keeps a
*superset* of the entries the filter accepts; the backend then runs the exact filter
(:func:`~semcache_core.filters.compile_filter`) on what comes back.

What the server's expression language does (Redis 8.2, checked on the real server), and
why only part of a tree is sent:

- An element whose attributes lack a field the expression names fails the *whole*
  expression, even inside an ``or`` branch that does not need it. So only conditions a
  match must satisfy with the field present are sent: ``==``, ``in`` and ``> >= < <=``
  (a missing field matches none of them), under ``and`` (every field of a match is then
  present) and under ``or`` only when all branches name the same fields. ``!=``, ``nin``,
  ``not`` and the list/text operators stay client-side.
- Numbers are doubles; numbers of magnitude 2**53 or more (stored values that large,
  and ±inf, are written as ±2**53: :mod:`.entry_codec`), floats printed with an exponent
  (the parser reads no ``1e+20``) and bools as filter values are not sent. A numeric-looking string
  equals the number (``"2021" == 2021``): a superset, which the exact filter trims.
- Strings: printable ASCII without quotes or backslashes only (``"é"`` never matches), of
  at most :data:`~.entry_codec.ATTRIBUTE_STRING_MAX` characters: a stored string longer
  than that is kept in the attributes as its first characters, which equal such a literal
  whenever the whole string does.

Example::

    >>> to_expression(parse_filters({"year": {"$gte": 2020}, "lang": "en"}))
    '(.year >= 2020 and .lang == "en")'
    >>> to_expression(parse_filters({"tag": {"$nin": ["x"]}})) is None
    True
"""

from __future__ import annotations

from typing import Any

from ...filters import Filter, FilterCondition, FilterNode, FilterOperator
from .entry_codec import ATTRIBUTE_STRING_MAX, is_filterable_field

__all__ = ["to_expression"]

_COMPARISONS = {
    FilterOperator.EQ: "==",
    FilterOperator.GT: ">",
    FilterOperator.GTE: ">=",
    FilterOperator.LT: "<",
    FilterOperator.LTE: "<=",
}
_EXACT_INT = 2**53


def _literal(value: Any, strings: bool = True) -> str | None:
    """``value`` written for the server, or None when it cannot be written exactly."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if -_EXACT_INT < value < _EXACT_INT else None
    if isinstance(value, float):
        text = repr(value)
        plain = text[-1].isdigit() and "e" not in text
        return text if plain and -_EXACT_INT < value < _EXACT_INT else None
    if strings and isinstance(value, str):
        plain = value.isascii() and value.isprintable() and not set(value) & set("\"'\\")
        short = len(value) <= ATTRIBUTE_STRING_MAX  # as long as a stored value's stand-in
        return f'"{value}"' if plain and short else None
    return None


def _leaf(leaf: Filter) -> tuple[str, frozenset[str]] | None:
    if not is_filterable_field(leaf.key):
        return None
    field = "." + leaf.key
    op = leaf.op
    if op in _COMPARISONS:
        # strings have no order on the server: only == compares them
        literal = _literal(leaf.value, strings=op is FilterOperator.EQ)
        if literal is None:
            return None
        return f"{field} {_COMPARISONS[op]} {literal}", frozenset([leaf.key])  # type: ignore[index]
    if op is FilterOperator.IN and leaf.value:
        literals = [_literal(v) for v in leaf.value]
        if any(literal is None for literal in literals):
            return None
        return f"{field} in [{', '.join(literals)}]", frozenset([leaf.key])  # type: ignore[arg-type]
    return None


def _node(node: FilterNode) -> tuple[str, frozenset[str]] | None:
    """(expression, fields it names) keeping a superset of ``node``'s matches, or None."""
    if isinstance(node, Filter):
        return _leaf(node)
    if node.condition is FilterCondition.AND:
        parts = [part for part in map(_node, node.filters) if part is not None]
        if not parts:
            return None
        if len(parts) == 1:
            return parts[0]
        fields = frozenset().union(*(f for _, f in parts))
        return "(" + " and ".join(e for e, _ in parts) + ")", fields
    if node.condition is FilterCondition.OR and node.filters:
        branches = [_node(child) for child in node.filters]
        sent = [branch for branch in branches if branch is not None]
        if len(sent) < len(branches):
            return None  # a branch that keeps everything: so does the OR
        named = {f for _, f in sent}
        if len(named) != 1:
            return None  # a missing field would fail a branch that does not name it
        return "(" + " or ".join(e for e, _ in sent) + ")", named.pop()
    return None  # NOT, and an empty OR (which matches nothing: keeping all is a superset)


def to_expression(node: FilterNode | None) -> str | None:
    """A ``FILTER`` expression keeping a superset of ``node``'s matches; None: no
    condition the server can check (every candidate goes to the exact filter)."""
    if node is None:
        return None
    found = _node(node)
    return None if found is None else found[0]
