"""The metadata index behind equality filters: answers always equal a full evaluation.

Filters here are new on almost every search (other values, other trees), so they miss the
filter-result cache and go through the index; each answer is checked against ``matches``
over a plain model of the cache.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from fakeclock import FakeClock
from filter_reference import search_reference
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from semcache_core import FilterValueError, SemCache
from semcache_core.backends.metadata_index import MAX_INDEXED_FIELDS, MetadataIndex
from semcache_core.filters import Filter, FilterGroup, compile_filter, matches

FIELDS = ["tenant", "n", "flag"]
# few distinct values, so equal ones meet: 1 == 1.0 == True, NaN != NaN, lists, None
VALUES = st.sampled_from([0, 1, 2, 1.0, 2.5, math.nan, True, False, "a", "b", "1", None])
STORED = st.one_of(VALUES, st.lists(st.sampled_from([1, "a", "b"]), max_size=2))
METADATA = st.dictionaries(st.sampled_from(FIELDS), STORED, max_size=3)
SCALARS = st.sampled_from([0, 1, 2, 1.0, 2.5, True, False, "a", "b", "1"])
EQUALITIES = st.one_of(  # what the index narrows
    st.builds(Filter, st.sampled_from(FIELDS), st.just("=="), SCALARS),
    st.builds(Filter, st.sampled_from(FIELDS), st.just("in"), st.lists(SCALARS, max_size=9)),
)
LEAVES = st.one_of(
    EQUALITIES,
    EQUALITIES,
    st.builds(Filter, st.sampled_from(FIELDS), st.just("!="), SCALARS),
    st.builds(Filter, st.sampled_from(FIELDS), st.just("nin"), st.lists(SCALARS, max_size=3)),
    st.builds(
        Filter,
        st.sampled_from(FIELDS),
        st.sampled_from([">", ">=", "<", "<="]),
        st.sampled_from([0, 1, 1.5, math.nan, "a", "1"]),
    ),
    st.builds(Filter, st.sampled_from(FIELDS), st.just("is_empty")),
)
TREES = st.recursive(
    LEAVES,
    lambda children: st.builds(
        FilterGroup, st.lists(children, max_size=3), st.sampled_from(["and", "or", "not"])
    ),
    max_leaves=6,
)
VECTOR = np.ones(4)


@settings(max_examples=300)
@given(
    entries=st.dictionaries(st.integers(0, 60), METADATA, max_size=40),
    trees=st.lists(TREES, min_size=1, max_size=4),
)
def test_candidates_are_a_superset_of_the_matches(entries, trees) -> None:
    index = MetadataIndex()
    for label, metadata in entries.items():
        index.add(label, metadata)  # nothing indexed yet: fields are built on first use
    for tree in trees:
        found = index.candidates(tree, entries.items)
        truth = {label for label, metadata in entries.items() if compile_filter(tree)(metadata)}
        if found is not None:
            assert truth <= found <= entries.keys()


def test_or_unions_and_and_intersects_what_each_side_allows() -> None:
    entries = {1: {"t": "a", "u": 1}, 2: {"t": "b", "u": 1}, 3: {"t": "c", "u": 2}}
    index = MetadataIndex()
    either = FilterGroup.any_of(Filter("t", "==", "a"), Filter("t", "in", ["b", "x"]))
    assert index.candidates(either, entries.items) == {1, 2}
    both = FilterGroup.all_of(Filter("u", "==", 1), Filter("t", "in", ["b", "c"]))
    assert index.candidates(both, entries.items) == {2}
    ranged = FilterGroup.any_of(Filter("t", "==", "a"), Filter("u", ">", 1))
    assert index.candidates(ranged, entries.items) == {1, 3}
    unbounded = FilterGroup.any_of(Filter("t", "==", "a"), Filter("t", "text_match", "b"))
    assert index.candidates(unbounded, entries.items) is None
    assert index.candidates(FilterGroup.none_of(Filter("t", "==", "a")), entries.items) is None


def test_ranges_take_the_values_of_their_own_kind_in_order() -> None:
    values = [0, 1, True, 1.5, 2, 10**18, math.nan, "a", "b", "1", None, [3]]
    entries = {label: {"v": value} for label, value in enumerate(values)}
    index = MetadataIndex()
    for op, bound in [(">", 1), (">=", 1), ("<", 2), ("<=", 1.5), (">", "a"), ("<=", "a")]:
        leaf = Filter("v", op, bound)
        truth = {label for label, metadata in entries.items() if matches(leaf, metadata)}
        assert index.candidates(leaf, entries.items) == truth, (op, bound)
    window = FilterGroup.all_of(Filter("v", ">=", 1), Filter("v", "<", 2), Filter("v", ">", 0))
    assert index.candidates(window, entries.items) == {1, 2, 3}  # one interval: [1, 2)
    empty = FilterGroup.all_of(Filter("v", ">", 2), Filter("v", "<", 1))
    assert index.candidates(empty, entries.items) == set()
    kinds = FilterGroup.all_of(Filter("v", ">", 0), Filter("v", "<", "b"))  # number and str
    assert index.candidates(kinds, entries.items) == set()
    entries[20] = {"v": 1.25}  # a new value between the old ones
    index.add(20, entries[20])
    assert index.candidates(Filter("v", "<", 1.5), entries.items) == {0, 1, 2, 20}
    index.remove(3, entries.pop(3))  # 1.5 leaves
    assert index.candidates(Filter("v", ">=", 1.5), entries.items) == {4, 5}


def test_a_value_gains_and_loses_entries() -> None:
    entries: dict[int, dict[str, Any]] = {1: {"t": "a"}}
    index = MetadataIndex()
    leaf = Filter("t", "==", "a")
    assert index.candidates(leaf, entries.items) == {1}  # builds the field
    for label in (2, 3):
        entries[label] = {"t": "a"}
        index.add(label, entries[label])
    assert index.candidates(leaf, entries.items) == {1, 2, 3}
    for label in (1, 3, 2):
        index.remove(label, entries.pop(label))
        assert index.candidates(leaf, entries.items) == set(entries)
    index.add(4, {"t": "a"})
    assert index.candidates(leaf, entries.items) == {4}


class CacheWithIndexedFilters(RuleBasedStateMachine):
    """Writes, replacements, deletes, expiry and eviction between fresh filtered searches."""

    @initialize()
    def start(self) -> None:
        self.clock = FakeClock(1_000.0)
        self.cache = SemCache(clock=self.clock, max_entries=30)
        self.model: dict[str, tuple[dict[str, Any], float | None]] = {}
        self.order: list[str] = []  # least recently written or read first (LRU model)

    def _live(self) -> dict[str, dict[str, Any]]:
        now = self.clock()
        return {
            key: metadata
            for key, (metadata, expires) in self.model.items()
            if expires is None or expires > now
        }

    def _touch(self, key: str) -> None:
        if key in self.order:
            self.order.remove(key)
        self.order.append(key)

    @rule(key=st.integers(0, 40), metadata=METADATA, ttl=st.sampled_from([None, None, 5.0]))
    def set(self, key: int, metadata: dict[str, Any], ttl: float | None) -> None:
        name = f"k{key}"
        self.cache.set(name, key, vector=VECTOR + key, metadata=metadata, ttl=ttl)
        self.model[name] = (metadata, None if ttl is None else self.clock() + ttl)
        self._touch(name)
        live = self._live()
        self.order = [k for k in self.order if k in live]
        while len(self.order) > 30:
            del self.model[self.order.pop(0)]

    @rule(key=st.integers(0, 40))
    def delete(self, key: int) -> None:
        name = f"k{key}"
        self.cache.delete(name)
        self.model.pop(name, None)
        if name in self.order:
            self.order.remove(name)

    @rule(seconds=st.sampled_from([1.0, 6.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(tree=TREES)
    def search(self, tree: Any) -> None:
        expected = search_reference(tree, self._live())
        if expected is None:  # a range ordering a number against a stored str, or back
            with pytest.raises(FilterValueError):
                self.cache.search(VECTOR, 100, filters=tree)
            return
        hits = self.cache.search(VECTOR, 100, filters=tree)
        assert {hit.key for hit in hits} == expected
        for hit in hits:  # a hit is a read: the LRU model follows
            self._touch(hit.key)

    @invariant()
    def sizes_agree(self) -> None:
        assert len(self.cache) == len(self._live())


CacheWithIndexedFilters.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None
)
test_cache_with_indexed_filters = CacheWithIndexedFilters.TestCase


def test_tenant_lookups_follow_every_write() -> None:
    """The common case: a new tenant value on every search, the index kept current."""
    cache = SemCache()
    for i in range(300):
        cache.set(f"k{i}", i, vector=VECTOR + i, metadata={"tenant": f"t{i % 30}"})
    assert {h.key for h in cache.search(VECTOR, 50, filters={"tenant": "t3"})} == {
        f"k{i}" for i in range(3, 300, 30)
    }
    cache.set("k3", 3, vector=VECTOR, metadata={"tenant": "t4"})  # moves to another tenant
    cache.delete("k33")
    cache.set("new", 0, vector=VECTOR, metadata={"tenant": "t5"})
    cache.set_many({"m": 1}, vectors=[VECTOR], metadatas=[{"tenant": "t5", "other": 1}])
    assert {h.key for h in cache.search(VECTOR, 50, filters={"tenant": "t5"})} == {
        *(f"k{i}" for i in range(5, 300, 30)),
        "new",
        "m",
    }
    assert "k3" in {h.key for h in cache.search(VECTOR, 50, filters={"tenant": "t4"})}
    in_three = {h.key for h in cache.search(VECTOR, 50, filters={"tenant": {"$in": ["t3"]}})}
    assert in_three == {f"k{i}" for i in range(63, 300, 30)}


def test_more_fields_than_the_index_keeps_are_still_filtered_right() -> None:
    cache = SemCache()
    fields = [f"f{i}" for i in range(MAX_INDEXED_FIELDS + 4)]
    for i in range(40):
        cache.set(f"k{i}", i, vector=VECTOR + i, metadata={f: i % 3 for f in fields})
    for field in fields:
        found = {h.key for h in cache.search(VECTOR, 50, filters={field: 2})}
        assert found == {f"k{i}" for i in range(2, 40, 3)}, field


def test_a_str_range_over_a_field_holding_only_nan_is_refused_like_any_number() -> None:
    """NaN is kept out of the ordered numbers (no range holds it), but it is a number:
    ordering it against a str is refused, as for every other number (found by the state
    machine above)."""
    cache = SemCache()
    cache.set("k", 0, vector=VECTOR, metadata={"flag": math.nan})
    assert len(cache.search(VECTOR, 5, filters=FilterGroup([], "and"))) == 1
    with pytest.raises(FilterValueError, match="flag"):
        cache.search(VECTOR, 5, filters=Filter("flag", ">", "a"))
    assert cache.search(VECTOR, 5, filters=Filter("flag", ">", 0)) == []  # NaN > 0: False
