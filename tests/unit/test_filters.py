"""The metadata filter model: operators, missing keys, conditions, nesting, dict syntax.

Expected answers follow ``llama_index.core.vector_stores.utils.build_metadata_filter_fn``
(a missing or ``None`` value matches only ``!=``, ``nin`` and ``is_empty``), except that a
value the operator cannot compare never raises: it just does not match. The tables are
written out by hand; LlamaIndex is not imported here.
"""

from __future__ import annotations

import enum
from typing import Any

import pytest
from filter_reference import search_reference

from semcache_core import (
    Filter,
    FilterCondition,
    FilterGroup,
    FilterOperator,
    FilterValueError,
    SemCache,
    parse_filters,
)
from semcache_core.filters import MAX_FILTER_DEPTH, compile_filter, matches

Op = FilterOperator

METADATA: dict[str, Any] = {
    "i": 5,
    "f": 2.5,
    "s": "Hello World",
    "l": ["a", "b", "c"],
    "li": [1, 2, 3],
    "d": {"color": "red", "size": 2},  # a nested dict: ``in`` asks for a key
    "none": None,
    "empty_s": "",
    "empty_l": [],
    "zero": 0,
    "false": False,
}

# (key, operator, filter value, expected match against METADATA)
CASES: list[tuple[str, Op, Any, bool]] = [
    # EQ
    ("i", Op.EQ, 5, True),
    ("i", Op.EQ, 6, False),
    ("i", Op.EQ, 5.0, True),
    ("i", Op.EQ, "5", False),
    ("f", Op.EQ, 2.5, True),
    ("f", Op.EQ, 2, False),
    ("s", Op.EQ, "Hello World", True),
    ("s", Op.EQ, "hello world", False),
    ("l", Op.EQ, ["a", "b", "c"], True),
    ("l", Op.EQ, ["a", "b"], False),
    ("l", Op.EQ, "a", False),
    ("false", Op.EQ, False, True),
    # NE
    ("i", Op.NE, 5, False),
    ("i", Op.NE, 6, True),
    ("i", Op.NE, "5", True),
    ("f", Op.NE, 2.5, False),
    ("f", Op.NE, 3.5, True),
    ("s", Op.NE, "Hello World", False),
    ("s", Op.NE, "x", True),
    ("l", Op.NE, ["a", "b", "c"], False),
    ("l", Op.NE, ["a"], True),
    # GT
    ("i", Op.GT, 4, True),
    ("i", Op.GT, 5, False),
    ("i", Op.GT, 4.5, True),
    ("f", Op.GT, 2, True),
    ("f", Op.GT, 2.5, False),
    ("s", Op.GT, "Hello", True),
    ("s", Op.GT, "Z", False),
    ("s", Op.GT, 3, False),  # incomparable: no match, no error
    ("i", Op.GT, "a", False),
    ("l", Op.GT, 1, False),
    # GTE
    ("i", Op.GTE, 5, True),
    ("i", Op.GTE, 6, False),
    ("f", Op.GTE, 2.5, True),
    ("f", Op.GTE, 2.6, False),
    ("s", Op.GTE, "Hello World", True),
    ("s", Op.GTE, "Hello Worle", False),
    ("s", Op.GTE, 0, False),
    ("l", Op.GTE, "a", False),
    # LT
    ("i", Op.LT, 6, True),
    ("i", Op.LT, 5, False),
    ("f", Op.LT, 3, True),
    ("f", Op.LT, 2.5, False),
    ("s", Op.LT, "I", True),
    ("s", Op.LT, "A", False),
    ("s", Op.LT, 100, False),
    ("l", Op.LT, 100, False),
    # LTE
    ("i", Op.LTE, 5, True),
    ("i", Op.LTE, 4, False),
    ("i", Op.LTE, 5.5, True),
    ("f", Op.LTE, 2.5, True),
    ("f", Op.LTE, 2.4, False),
    ("s", Op.LTE, "Hello World", True),
    ("s", Op.LTE, "Hello", False),
    ("f", Op.LTE, "x", False),
    ("l", Op.LTE, 0, False),
    # IN
    ("i", Op.IN, [1, 5], True),
    ("i", Op.IN, [1, 2], False),
    ("i", Op.IN, [5.0], True),
    ("i", Op.IN, ["5"], False),
    ("i", Op.IN, [], False),
    ("f", Op.IN, [2.5, 3], True),
    ("f", Op.IN, [2], False),
    ("s", Op.IN, ["x", "Hello World"], True),
    ("s", Op.IN, ["Hello"], False),
    ("l", Op.IN, ["a", "b", "c"], False),  # a list is not one of the scalars
    # NIN
    ("i", Op.NIN, [1, 2], True),
    ("i", Op.NIN, [5], False),
    ("i", Op.NIN, [], True),
    ("f", Op.NIN, [2.5], False),
    ("f", Op.NIN, [1.5], True),
    ("s", Op.NIN, ["x"], True),
    ("s", Op.NIN, ["Hello World"], False),
    ("l", Op.NIN, ["a"], True),
    # ANY
    ("l", Op.ANY, ["x", "a"], True),
    ("l", Op.ANY, ["x", "y"], False),
    ("l", Op.ANY, [], False),
    ("li", Op.ANY, [9, 2], True),
    ("li", Op.ANY, [2.0], True),
    ("li", Op.ANY, [9], False),
    ("s", Op.ANY, ["zzz", "World"], True),  # substring of a str value
    ("s", Op.ANY, ["zzz"], False),
    ("s", Op.ANY, [5], False),
    ("i", Op.ANY, [5], False),
    ("f", Op.ANY, [2.5], False),
    # ALL
    ("l", Op.ALL, ["a", "b"], True),
    ("l", Op.ALL, ["c", "a", "b"], True),
    ("l", Op.ALL, ["a", "z"], False),
    ("l", Op.ALL, [], True),
    ("li", Op.ALL, [1, 3], True),
    ("li", Op.ALL, [1, 4], False),
    ("s", Op.ALL, ["Hello", "World"], True),
    ("s", Op.ALL, ["Hello", "x"], False),
    ("i", Op.ALL, [5], False),
    ("f", Op.ALL, [2.5], False),
    # CONTAINS
    ("l", Op.CONTAINS, "a", True),
    ("l", Op.CONTAINS, "z", False),
    ("l", Op.CONTAINS, "a b", False),
    ("li", Op.CONTAINS, 2, True),
    ("li", Op.CONTAINS, 2.0, True),
    ("li", Op.CONTAINS, 7, False),
    ("s", Op.CONTAINS, "World", True),
    ("s", Op.CONTAINS, "world", False),
    ("s", Op.CONTAINS, 5, False),
    ("i", Op.CONTAINS, 5, False),
    ("d", Op.CONTAINS, "color", True),
    ("d", Op.CONTAINS, "red", False),  # a value, not a key
    ("d", Op.CONTAINS, 2, False),
    ("d", Op.ANY, ["x", "size"], True),
    ("d", Op.ANY, ["x", "red"], False),
    ("d", Op.ALL, ["size", "color"], True),
    ("d", Op.ALL, ["color", "x"], False),
    ("f", Op.CONTAINS, 2.5, False),
    # TEXT_MATCH
    ("s", Op.TEXT_MATCH, "World", True),
    ("s", Op.TEXT_MATCH, "lo W", True),
    ("s", Op.TEXT_MATCH, "Hello World", True),
    ("s", Op.TEXT_MATCH, "world", False),
    ("s", Op.TEXT_MATCH, "Worlds", False),
    ("i", Op.TEXT_MATCH, "5", False),
    ("f", Op.TEXT_MATCH, "2.5", False),
    ("l", Op.TEXT_MATCH, "a", False),
    # TEXT_MATCH_INSENSITIVE
    ("s", Op.TEXT_MATCH_INSENSITIVE, "world", True),
    ("s", Op.TEXT_MATCH_INSENSITIVE, "HELLO W", True),
    ("s", Op.TEXT_MATCH_INSENSITIVE, "hElLo WoRlD", True),
    ("s", Op.TEXT_MATCH_INSENSITIVE, "bye", False),
    ("i", Op.TEXT_MATCH_INSENSITIVE, "5", False),
    ("f", Op.TEXT_MATCH_INSENSITIVE, "2.5", False),
    ("l", Op.TEXT_MATCH_INSENSITIVE, "A", False),
    # IS_EMPTY
    ("none", Op.IS_EMPTY, None, True),
    ("missing", Op.IS_EMPTY, None, True),
    ("empty_s", Op.IS_EMPTY, None, True),
    ("empty_l", Op.IS_EMPTY, None, True),
    ("i", Op.IS_EMPTY, None, False),
    ("zero", Op.IS_EMPTY, None, False),
    ("false", Op.IS_EMPTY, None, False),
    ("f", Op.IS_EMPTY, None, False),
    ("s", Op.IS_EMPTY, None, False),
    ("l", Op.IS_EMPTY, None, False),
]


def case_id(case: tuple[str, Op, Any, bool]) -> str:
    key, op, value, expected = case
    return f"{key}-{op.name}-{value!r}-{expected}"


def _dict_spec(key: str, op: Op, value: Any) -> dict:
    return {key: {f"${op.name.lower()}": value}}


BUILDERS = {
    "enum": lambda key, op, value: Filter(key, op, value),
    "symbol": lambda key, op, value: Filter(key, op.value, value),
    "name": lambda key, op, value: Filter(key, op.name.lower(), value),
    "dict": _dict_spec,
    "dict-symbol": lambda key, op, value: {key: {f"${op.value}": value}},
    "in-group": lambda key, op, value: FilterGroup.all_of(Filter(key, op, value)),
}


def test_every_operator_is_covered_on_every_value_type() -> None:
    covered = {(op, type(METADATA.get(key)).__name__) for key, op, _, _ in CASES}
    for op in Op:
        types = {t for o, t in covered if o is op}
        if op is Op.IS_EMPTY:
            assert {"int", "float", "str", "list", "NoneType"} <= types
        else:
            assert {"int", "float", "str", "list"} <= types, op
        assert {expected for key, o, _, expected in CASES if o is op} == {True, False}, op


@pytest.mark.parametrize("build", list(BUILDERS.values()), ids=list(BUILDERS))
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_operator(case: tuple[str, Op, Any, bool], build) -> None:
    key, op, value, expected = case
    spec = build(key, op, value)
    assert matches(spec, METADATA) is expected
    assert compile_filter(parse_filters(spec))(METADATA) is expected


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_operator_negated_by_not(case: tuple[str, Op, Any, bool]) -> None:
    key, op, value, expected = case
    assert matches(FilterGroup.none_of(Filter(key, op, value)), METADATA) is (not expected)
    assert matches({"$not": [_dict_spec(key, op, value)]}, METADATA) is (not expected)


# A valid filter value for each operator, to test what a missing key does.
ANY_VALUE: dict[Op, Any] = {
    Op.EQ: 1,
    Op.NE: 1,
    Op.GT: 1,
    Op.GTE: 1,
    Op.LT: 1,
    Op.LTE: 1,
    Op.IN: [1, 2],
    Op.NIN: [1, 2],
    Op.ANY: ["a"],
    Op.ALL: ["a"],
    Op.CONTAINS: "a",
    Op.TEXT_MATCH: "a",
    Op.TEXT_MATCH_INSENSITIVE: "a",
    Op.IS_EMPTY: None,
}
MATCHES_WHEN_MISSING = {Op.NE, Op.NIN, Op.IS_EMPTY}


@pytest.mark.parametrize("op", list(Op), ids=lambda op: op.name)
@pytest.mark.parametrize(
    "metadata",
    [{}, {"other": 1}, {"k": None}, None],
    ids=["empty", "other-key", "None-value", "None-metadata"],
)
def test_missing_or_none_value_matches_only_ne_nin_and_is_empty(op: Op, metadata) -> None:
    expected = op in MATCHES_WHEN_MISSING
    assert matches(Filter("k", op, ANY_VALUE[op]), metadata) is expected
    assert matches(_dict_spec("k", op, ANY_VALUE[op]), metadata) is expected


def test_missing_value_with_empty_lists_still_follows_the_missing_rule() -> None:
    # even operators that are vacuously true on an empty list do not match a missing value
    assert matches(Filter("k", "all", []), {}) is False
    assert matches(Filter("k", "nin", []), {}) is True
    assert matches(Filter("k", "in", []), {}) is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, True),
        ("", True),
        ([], True),
        (" ", False),
        (0, False),
        (0.0, False),
        (False, False),
        ([None], False),
        ([""], False),
        ("x", False),
        ({}, False),
    ],
    ids=repr,
)
def test_is_empty(value: Any, expected: bool) -> None:
    assert matches(Filter("k", "is_empty"), {"k": value}) is expected
    assert matches({"k": {"$is_empty": True}}, {"k": value}) is expected
    assert matches(Filter("k", "is_empty"), {}) is True


@pytest.mark.parametrize("operand", [False, 0, "no", "", [], 1.0], ids=repr)
def test_an_is_empty_operand_other_than_true_is_refused_not_ignored(operand: Any) -> None:
    """``{"$is_empty": False}`` found the empty ones, as ``True`` does (review)."""
    cache = SemCache(dim=2)
    cache.set("full", 1, vector=[1.0, 0.0], metadata={"k": "v"})
    with pytest.raises(FilterValueError, match="True or None"):
        cache.search([1.0, 0.0], k=5, filters={"k": {"$is_empty": operand}})
    with pytest.raises(FilterValueError, match="True or None"):
        Filter("k", "is_empty", operand)
    assert [hit.key for hit in cache.search([1.0, 0.0], k=5)] == ["full"]


@pytest.mark.parametrize(
    ("op", "value", "actual"),
    [
        (">", 3, "abc"),
        (">=", 3, "abc"),
        ("<", 3, "abc"),
        ("<=", 3, "abc"),
        (">", "abc", 3),
        ("<", 1, [1, 2]),
        (">", 1, {"a": 1}),
        ("<=", 1.5, ["x"]),
        ("contains", "a", 5),
        ("contains", 1, "abc"),
        ("any", ["a"], 5),
        ("all", [1], 2.5),
        ("any", [1], "a1"),
        ("text_match", "a", 5),
        ("text_match_insensitive", "a", ["a"]),
        ("in", [1], [1]),
        ("in", [1], {"a": 1}),
    ],
    ids=repr,
)
def test_incomparable_types_do_not_match_and_do_not_raise(op: str, value: Any, actual: Any):
    assert matches(Filter("k", op, value), {"k": actual}) is False
    assert matches(FilterGroup.none_of(Filter("k", op, value)), {"k": actual}) is True


def test_ne_and_nin_on_incomparable_types_match() -> None:
    assert matches(Filter("k", "!=", 3), {"k": "abc"}) is True
    assert matches(Filter("k", "nin", [3]), {"k": "abc"}) is True
    assert matches(Filter("k", "nin", [3]), {"k": [3]}) is True


# --- conditions ------------------------------------------------------------------------------

F_A = Filter("a", "==", 1)
F_B = Filter("b", "==", "x")
# metadata, (a matches, b matches)
ROWS = [
    ({"a": 1, "b": "x"}, (True, True)),
    ({"a": 1, "b": "y"}, (True, False)),
    ({"a": 2, "b": "x"}, (False, True)),
    ({"a": 2, "b": "y"}, (False, False)),
    ({}, (False, False)),
]


@pytest.mark.parametrize(("metadata", "leaves"), ROWS, ids=[str(r[0]) for r in ROWS])
def test_and_or_not(metadata: dict, leaves: tuple[bool, bool]) -> None:
    a, b = leaves
    assert matches(F_A, metadata) is a
    assert matches(F_B, metadata) is b
    cases = {
        "and": (a and b),
        "or": (a or b),
        "not": not (a or b),
    }
    for condition, expected in cases.items():
        group = FilterGroup((F_A, F_B), condition)
        assert matches(group, metadata) is expected, condition
        assert matches(FilterGroup([F_A, F_B], condition.upper()), metadata) is expected
        assert matches(FilterGroup((F_A, F_B), FilterCondition(condition)), metadata) is expected
        as_dict = {f"${condition}": [{"a": 1}, {"b": "x"}]}
        assert matches(as_dict, metadata) is expected, as_dict
    assert matches(FilterGroup.all_of(F_A, F_B), metadata) is (a and b)
    assert matches(FilterGroup.any_of(F_A, F_B), metadata) is (a or b)
    assert matches(FilterGroup.none_of(F_A, F_B), metadata) is (not (a or b))
    # NOT means none of the children match, which is not the same as "not all of them"
    assert matches(FilterGroup.none_of(F_A, F_B), metadata) is not (a or b)
    # a dict with several keys is an AND of them
    assert matches({"a": 1, "b": "x"}, metadata) is (a and b)


def test_not_is_none_of_not_not_all() -> None:
    metadata = {"a": 1, "b": "y"}  # a matches, b does not
    assert matches(FilterGroup.none_of(F_A, F_B), metadata) is False
    assert matches(FilterGroup.none_of(F_B), metadata) is True


NESTED = FilterGroup.all_of(
    FilterGroup.any_of(
        Filter("year", ">=", 2020),
        FilterGroup.none_of(Filter("lang", "==", "en")),
    ),
    FilterGroup.none_of(
        FilterGroup.all_of(
            Filter("tags", "any", ["draft"]),
            FilterGroup.any_of(Filter("score", "<", 0.5), Filter("author", "is_empty")),
        )
    ),
)
NESTED_DICT = {
    "$and": [
        {"$or": [{"year": {"$gte": 2020}}, {"$not": [{"lang": "en"}]}]},
        {
            "$not": [
                {
                    "$and": [
                        {"tags": {"$any": ["draft"]}},
                        {"$or": [{"score": {"$lt": 0.5}}, {"author": {"$is_empty": True}}]},
                    ]
                }
            ]
        },
    ]
}
NESTED_ROWS = [
    ({"year": 2021, "lang": "en", "tags": ["ok"], "score": 0.9, "author": "x"}, True),
    ({"year": 2019, "lang": "en", "tags": [], "score": 0.9, "author": "x"}, False),
    ({"year": 2019, "lang": "fr", "tags": [], "score": 0.9, "author": "x"}, True),
    ({"year": 2019, "tags": ["draft"], "score": 0.9, "author": "x"}, True),
    ({"year": 2022, "lang": "en", "tags": ["draft", "x"], "score": 0.2, "author": "x"}, False),
    ({"year": 2022, "lang": "en", "tags": ["draft"], "score": 0.9}, False),
    ({"year": 2022, "lang": "en", "tags": ["draft"], "score": 0.9, "author": "bob"}, True),
    ({"year": 2022, "lang": "en", "tags": ["draft"], "score": 0.9, "author": ""}, False),
    ({"year": "2022", "lang": "en", "tags": ["ok"]}, False),
    ({"year": 2019, "lang": "fr", "tags": ["draft"], "score": 0.1, "author": "x"}, False),
    ({}, True),
]


@pytest.mark.parametrize(("metadata", "expected"), NESTED_ROWS, ids=lambda x: None)
def test_nested_groups(metadata: dict, expected: bool) -> None:
    assert matches(NESTED, metadata) is expected
    assert matches(NESTED_DICT, metadata) is expected
    assert compile_filter(NESTED)(metadata) is expected


def test_nested_dict_parses_to_the_same_tree() -> None:
    assert parse_filters(NESTED_DICT) == NESTED


def test_four_levels_alternating_conditions() -> None:
    leaf = Filter("x", ">", 0)
    tree = FilterGroup.none_of(FilterGroup.any_of(FilterGroup.none_of(FilterGroup.all_of(leaf))))
    # not(or(not(and(x > 0)))) == x > 0
    assert matches(tree, {"x": 1}) is True
    assert matches(tree, {"x": 0}) is False
    assert matches(tree, {}) is False


# --- dict syntax -----------------------------------------------------------------------------


def test_dict_syntax_parses_to_the_object_model() -> None:
    assert parse_filters({"lang": "en"}) == Filter("lang", Op.EQ, "en")
    assert parse_filters({"year": {"$gte": 2020}}) == Filter("year", ">=", 2020)
    assert parse_filters({"year": {"$gte": 2020}, "lang": "en"}) == FilterGroup.all_of(
        Filter("year", ">=", 2020), Filter("lang", "==", "en")
    )
    assert parse_filters({"year": {"$gte": 2000, "$lt": 2010}}) == FilterGroup.all_of(
        Filter("year", ">=", 2000), Filter("year", "<", 2010)
    )
    assert parse_filters({"$or": [{"a": 1}, {"b": {"$in": [1, 2]}}]}) == FilterGroup.any_of(
        Filter("a", "==", 1), Filter("b", "in", (1, 2))
    )
    assert parse_filters({"$not": [{"a": 1}]}) == FilterGroup.none_of(Filter("a", "==", 1))
    assert parse_filters({"tags": ["a", "b"]}) == Filter("tags", "==", ["a", "b"])
    assert parse_filters(None) is None
    assert parse_filters({}) is None
    assert parse_filters(F_A) is F_A


def test_dict_syntax_range_on_one_key() -> None:
    spec = {"year": {"$gte": 2000, "$lt": 2010}}
    assert matches(spec, {"year": 2000}) is True
    assert matches(spec, {"year": 2009}) is True
    assert matches(spec, {"year": 2010}) is False
    assert matches(spec, {"year": 1999}) is False


def test_dict_equality_on_list_value() -> None:
    assert matches({"tags": ["a", "b"]}, {"tags": ["a", "b"]}) is True
    assert matches({"tags": ["a", "b"]}, {"tags": ["b", "a"]}) is False
    assert matches({"tags": ("a", "b")}, {"tags": ["a", "b"]}) is True


# --- aliases ---------------------------------------------------------------------------------

ALIASES: dict[Op, list[Any]] = {
    Op.EQ: ["==", "=", "eq", "EQ", "Eq"],
    Op.NE: ["!=", "ne", "NE"],
    Op.GT: [">", "gt", "GT"],
    Op.GTE: [">=", "gte", "GTE"],
    Op.LT: ["<", "lt", "LT"],
    Op.LTE: ["<=", "lte", "LTE"],
    Op.IN: ["in", "IN"],
    Op.NIN: ["nin", "NIN"],
    Op.ANY: ["any", "ANY"],
    Op.ALL: ["all", "ALL"],
    Op.CONTAINS: ["contains", "CONTAINS"],
    Op.TEXT_MATCH: ["text_match", "TEXT_MATCH"],
    Op.TEXT_MATCH_INSENSITIVE: ["text_match_insensitive", "TEXT_MATCH_INSENSITIVE"],
    Op.IS_EMPTY: ["is_empty", "IS_EMPTY"],
}


@pytest.mark.parametrize("op", list(Op), ids=lambda op: op.name)
def test_operator_aliases(op: Op) -> None:
    value = ANY_VALUE[op]
    canonical = Filter("k", op, value)
    assert canonical.op is op
    for alias in ALIASES[op]:
        built = Filter("k", alias, value)
        assert built.op is op, alias
        assert built == canonical
        assert parse_filters({"k": {f"${alias}": value}}) == canonical


def test_operator_values_are_llama_index_values() -> None:
    assert {op.name: op.value for op in Op} == {
        "EQ": "==",
        "NE": "!=",
        "GT": ">",
        "GTE": ">=",
        "LT": "<",
        "LTE": "<=",
        "IN": "in",
        "NIN": "nin",
        "ANY": "any",
        "ALL": "all",
        "CONTAINS": "contains",
        "TEXT_MATCH": "text_match",
        "TEXT_MATCH_INSENSITIVE": "text_match_insensitive",
        "IS_EMPTY": "is_empty",
    }
    assert {c.value for c in FilterCondition} == {"and", "or", "not"}


class ForeignOperator(str, enum.Enum):
    """Another library's str enum with LlamaIndex's operator values."""

    GTE = ">="
    TEXT_MATCH = "text_match"


class ForeignCondition(str, enum.Enum):
    OR = "or"


def test_foreign_str_enums_are_accepted() -> None:
    assert Filter("k", ForeignOperator.GTE, 1).op is Op.GTE
    assert Filter("k", ForeignOperator.TEXT_MATCH, "a").op is Op.TEXT_MATCH
    group = FilterGroup((F_A, F_B), ForeignCondition.OR)
    assert group.condition is FilterCondition.OR
    assert matches(group, {"a": 1}) is True
    assert matches(group, {}) is False


def test_filter_values_are_normalised() -> None:
    assert Filter("k", "in", [1, 2]).value == (1, 2)
    assert Filter("k", "nin", {3}).value == (3,)
    assert Filter("k", "is_empty", True).value is None
    assert Filter("k", "==", (1, 2)).value == [1, 2]
    group = FilterGroup([F_A])
    assert group.filters == (F_A,)
    assert group.condition is FilterCondition.AND


# --- matches() and the cache -----------------------------------------------------------------


def test_matches_entry_points() -> None:
    assert matches(None, {"a": 1}) is True
    assert matches({}, {"a": 1}) is True
    assert matches(None, None) is True
    assert matches(F_A, {"a": 1}) is True
    assert matches(F_A, {"a": 1.0}) is True
    assert matches(F_A, {"a": "1"}) is False
    assert matches(F_A, None) is False
    assert matches({"a": 1}, {"a": 1, "extra": [1]}) is True
    assert compile_filter(None)({}) is True


def test_docstring_example() -> None:
    f = FilterGroup.all_of(Filter("year", ">=", 2020), Filter("tags", "any", ["ai"]))
    assert matches(f, {"year": 2021, "tags": ["ai", "db"]}) is True
    assert matches(f, {"year": 2019, "tags": ["ai", "db"]}) is False
    assert matches(f, {"year": 2021, "tags": ["db"]}) is False


def test_cache_search_applies_the_same_semantics_as_matches() -> None:
    """Every row of the operator table, through a real search over stored metadata."""
    cache = SemCache()
    records = [
        METADATA,
        {"i": 7, "f": -1.0, "s": "hello", "l": ["c"], "li": [3, 4], "zero": 1},
        {"s": "WORLD", "l": [], "empty_s": "x"},
        {},
    ]
    for n, metadata in enumerate(records):
        cache.set(f"r{n}", n, vector=[1.0, float(n)], metadata=metadata)
    by_key = {f"r{n}": metadata for n, metadata in enumerate(records)}
    for key, op, value, _ in CASES:
        spec = Filter(key, op, value)
        expected = search_reference(spec, by_key)
        if expected is None:  # a range ordering a number against a stored str, or back
            with pytest.raises(FilterValueError, match=repr(key)):
                cache.search([1.0, 0.0], k=10, filters=spec)
            continue
        found = {h.key for h in cache.search([1.0, 0.0], k=10, filters=spec)}
        assert found == expected, (key, op, value)


@pytest.mark.parametrize("op", ["in", "nin"])
def test_long_membership_lists_answer_as_short_ones(op: str) -> None:
    """Long IN / NIN lists are tested with a set: the answers stay those of a plain list."""
    values = [*range(20), "x", 2.5, True]
    probes = [0, 1, 1.0, True, False, 19, 20, "x", "y", 2.5, None, [1], [99], {"a": 1}]
    long_filter = compile_filter(Filter("v", op, values))
    for probe in probes:
        found = any(probe == value for value in values)
        assert long_filter({"v": probe}) == (found if op == "in" else not found), probe


def _nested(depth: int, leaf: dict[str, Any]) -> dict[str, Any]:
    spec = leaf
    for level in range(depth):
        spec = {["$and", "$or", "$not"][level % 3]: [spec]}
    return spec


@pytest.mark.parametrize("depth", [MAX_FILTER_DEPTH - 1, MAX_FILTER_DEPTH])
def test_filters_nested_to_the_limit_are_evaluated(depth: int) -> None:
    cache = SemCache()
    cache.set("a", 1, vector=[1.0, 0.0], metadata={"n": 3})
    cache.set("b", 2, vector=[0.9, 0.1], metadata={"n": 4})
    spec = _nested(depth, {"n": 3})
    expected = [key for key, n in (("a", 3), ("b", 4)) if matches(spec, {"n": n})]
    assert sorted(hit.key for hit in cache.search([1.0, 0.0], k=2, filters=spec)) == expected
    # $not flips at every third level: both answers occur across the two depths
    assert expected in (["a"], ["b"])


@pytest.mark.parametrize("depth", [MAX_FILTER_DEPTH + 1, 5_000])
def test_filters_nested_past_the_limit_are_refused_with_a_typed_error(depth: int) -> None:
    """Thousands of levels used to exhaust Python's stack (a bare RecursionError)."""
    cache = SemCache()
    cache.set("a", 1, vector=[1.0, 0.0], metadata={"n": 3})
    with pytest.raises(FilterValueError, match=f"more than {MAX_FILTER_DEPTH} levels"):
        cache.search([1.0, 0.0], k=1, filters=_nested(depth, {"n": 3}))
    group: FilterGroup | Filter = Filter("n", "==", 3)
    with pytest.raises(FilterValueError, match="levels deep"):
        for _ in range(depth):
            group = FilterGroup((group,))
