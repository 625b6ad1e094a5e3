"""Input checks the review found missing or wrong: HNSW settings, numpy scalars, validation
before ``fn`` runs, empty ``$or`` and ranges that order a number against a str."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semcache_core import (
    Filter,
    FilterGroup,
    FilterValueError,
    InvalidArgumentError,
    InvalidValueError,
    SemCache,
    SemCacheError,
)
from semcache_core.codec import decode_metadata, encode_metadata
from semcache_core.index.hnsw import HNSWParams
from semcache_core.responses import Prompt, ResponseCache

# --- HNSWParams -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"m": 0}, "m"),  # segfaulted hnswlib
        ({"m": 1}, "m"),  # failed half way through an add
        ({"m": -3}, "m"),
        ({"m": 10_001}, "m"),  # hnswlib silently caps it
        ({"m": 2.5}, "m"),
        ({"m": True}, "m"),
        ({"m": "8"}, "m"),
        ({"ef_construction": 0}, "ef_construction"),
        ({"ef_search": 0}, "ef_search"),
        ({"ef_search": -1}, "ef_search"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**64}, "seed"),
        ({"ef_construction": None}, "ef_construction"),
    ],
    ids=repr,
)
def test_hnsw_params_are_checked_at_construction(fields: dict, name: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"HNSWParams.{name}") as info:
        HNSWParams(**fields)
    assert isinstance(info.value, ValueError)


def test_hnsw_params_at_the_bounds_work_end_to_end(tmp_path: Any) -> None:
    params = HNSWParams(m=np.int64(2), ef_construction=1, ef_search=1, seed=2**64 - 1)
    assert type(params.m) is int
    cache = SemCache(index="hnsw", hnsw_params=params)
    vectors = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    cache.set_many({f"k{i}": i for i in range(50)}, vectors=vectors)
    assert cache.search(vectors[3], k=1)[0].key == "k3"
    cache.dump(tmp_path / "s")
    assert SemCache.from_snapshot(tmp_path / "s").search(vectors[3], k=1)[0].key == "k3"


# --- numpy scalars ----------------------------------------------------------------------------


def test_numpy_scalars_are_accepted_where_python_numbers_are() -> None:
    cache = SemCache(
        dim=np.int64(3), ttl=np.float32(60), max_entries=np.int32(10), hnsw_threshold=np.int64(5)
    )
    assert cache.dim == 3 and type(cache.dim) is int
    for i in range(4):
        cache.set(f"k{i}", i, vector=[1.0, 0.1 * i, 0.0], ttl=np.int64(30))
    hits = cache.search([1.0, 0.0, 0.0], k=np.int64(2), threshold=np.float32(0.5))
    assert [h.key for h in hits] == ["k0", "k1"]
    assert cache.get_similar([1.0, 0.0, 0.0], np.float64(0.9)) == 0
    assert cache.scan(limit=np.int64(2)) == ["k0", "k1"]
    assert cache.get_or_compute("new", lambda k: 7, ttl=np.float64(1.5)) == 7


NUMPY_NUMBERS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64,
                 np.float16, np.float32, np.float64, np.bool_]  # fmt: skip


@pytest.mark.parametrize("dtype", NUMPY_NUMBERS, ids=lambda t: t.__name__)
def test_numpy_numbers_in_metadata_and_filters_act_as_python_numbers(dtype: Any) -> None:
    """A numpy number (a pandas column's cell) is stored in metadata, and filters with
    one, as the Python number it holds: reads give that number back, and each operator
    finds what it finds with the Python number (they were refused as unserialisable)."""
    cache = SemCache()
    numbers = [dtype(n) for n in (0, 1, 1, 3)]
    for i, number in enumerate(numbers):
        metadata = {"n": number, "nested": {"all": [number, dtype(1)]}}
        cache.set(f"k{i}", i, vector=[1.0, 0.1 * i], metadata=metadata)
    for i, number in enumerate(numbers):
        stored = cache.get_entry(f"k{i}").metadata
        assert stored == {"n": number.item(), "nested": {"all": [number.item(), dtype(1).item()]}}
        assert type(stored["n"]) is type(number.item())
    one, three, zero = dtype(1), dtype(3), dtype(0)
    python_one, python_three, python_zero = one.item(), three.item(), zero.item()
    for numpy_spec, python_spec in [
        ({"n": one}, {"n": python_one}),
        ({"n": {"$ne": one}}, {"n": {"$ne": python_one}}),
        *(  # bools are not ordered, numpy's as Python's (refused: tested below)
            []
            if dtype is np.bool_
            else [
                ({"n": {"$gte": one}}, {"n": {"$gte": python_one}}),
                ({"n": {"$lt": one}}, {"n": {"$lt": python_one}}),
            ]
        ),
        ({"n": {"$in": [one, three]}}, {"n": {"$in": [python_one, python_three]}}),
        ({"n": {"$in": np.array([1, 3], dtype=dtype)}}, {"n": {"$in": [python_one, python_three]}}),
        ({"n": {"$nin": np.array([0], dtype=dtype)}}, {"n": {"$nin": [python_zero]}}),
    ]:
        found = sorted(h.key for h in cache.search([1.0, 0.0], k=10, filters=numpy_spec))
        expected = sorted(h.key for h in cache.search([1.0, 0.0], k=10, filters=python_spec))
        assert found == expected and found, numpy_spec  # each matches some entry


@pytest.mark.parametrize(
    ("metadata", "match"),
    [
        ({"n": np.array([1, 2])}, "tolist"),
        ({"n": np.datetime64("2021-01-01T00:00:00.000000000")}, "datetime64"),
        ({"n": np.timedelta64(5, "ns")}, "timedelta64"),
        ({"n": [np.complex64(1j)]}, "complex"),
    ],
    ids=["array", "datetime64", "timedelta64", "complex"],
)
def test_numpy_values_that_are_not_numbers_are_refused_as_metadata(
    metadata: dict[str, Any], match: str
) -> None:
    cache = SemCache()
    with pytest.raises(InvalidValueError, match=match):
        cache.set("k", 1, vector=[1.0, 0.0], metadata=metadata)
    assert cache.scan() == []


@pytest.mark.parametrize(
    "value",
    [np.datetime64("2021-01-01T00:00:00.000000000"), np.timedelta64(5, "ns"), np.zeros((2, 2))],
    ids=["datetime64", "timedelta64", "2d-array"],
)
def test_numpy_values_that_are_not_numbers_are_refused_in_filters(value: Any) -> None:
    with pytest.raises(FilterValueError, match="'n'"):
        Filter("n", ">=", value)
    with pytest.raises(FilterValueError, match="'n'"):
        Filter("n", "in", [value])


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(NUMPY_NUMBERS),
    st.lists(st.integers(0, 100), min_size=1, max_size=8),
    st.sampled_from(["==", "!=", ">", ">=", "<", "<=", "in", "nin", "any", "all", "contains"]),
)
def test_numpy_numbers_become_the_python_numbers_they_hold(
    dtype: Any, given_numbers: list[int], op: str
) -> None:
    """In metadata and in every filter operand: the same metadata read back and the same
    filter as with the Python numbers, or the same refusal (a bool is not ordered)."""
    numbers = [dtype(n) for n in given_numbers]
    python = [n.item() for n in numbers]
    assert decode_metadata(encode_metadata({"n": numbers, "first": numbers[0]})) == {
        "n": python,
        "first": python[0],
    }
    listed = op in ("in", "nin", "any", "all")
    for operand, as_python in (
        ((numbers, python) if listed else (numbers[0], python[0])),
        ((np.array(numbers, dtype=dtype), python) if listed else (numbers[-1], python[-1])),
    ):
        try:
            expected = Filter("n", op, as_python)
        except FilterValueError:
            with pytest.raises(FilterValueError, match="'n'"):
                Filter("n", op, operand)
            assert dtype is np.bool_ and op in (">", ">=", "<", "<=")
            continue
        made = Filter("n", op, operand)
        assert made == expected
        values = made.value if isinstance(made.value, tuple) else (made.value,)
        assert all(type(v) in (bool, int, float) for v in values)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda c: c.search([1.0, 0.0], k=np.bool_(True)), "k"),
        (lambda c: c.search([1.0, 0.0], k=np.float64(2.0)), "k"),
        (lambda c: c.search([1.0, 0.0], threshold=np.float32("nan")), "threshold"),
        (lambda c: c.search([1.0, 0.0], threshold=np.bool_(False)), "threshold"),
        (lambda c: c.set("x", 1, ttl=np.float64("nan")), "ttl"),
        (lambda c: c.set("x", 1, ttl=np.bool_(True)), "ttl"),
        (lambda c: c.scan(limit=np.int64(-1)), "limit"),
    ],
    ids=["k-bool", "k-float", "threshold-nan", "threshold-bool", "ttl-nan", "ttl-bool", "limit"],
)
def test_numpy_bools_and_nans_are_still_refused(call: Any, name: str) -> None:
    cache = SemCache()
    cache.set("a", 1, vector=[1.0, 0.0])
    with pytest.raises(InvalidArgumentError, match=name):
        call(cache)
    assert cache.scan() == ["a"]


@pytest.mark.parametrize(
    "kwargs",
    [{"dim": np.bool_(True)}, {"max_entries": np.float64(3.0)}, {"ttl": np.float32(math.inf)}],
    ids=repr,
)
def test_numpy_values_out_of_kind_are_refused_by_the_constructor(kwargs: dict) -> None:
    with pytest.raises(InvalidArgumentError, match=next(iter(kwargs))):
        SemCache(**kwargs)


# --- validation before payment ----------------------------------------------------------------

BAD_OPTIONS = [
    ({"namespace": 5}, InvalidArgumentError, "namespace"),
    ({"namespace": "\ud800"}, InvalidArgumentError, "namespace"),
    ({"metadata": {"a": {1: 2}}}, InvalidValueError, "metadata"),
    ({"metadata": ["a"]}, InvalidValueError, "metadata"),
    ({"metadata": {"a": object()}}, InvalidValueError, "metadata"),
    ({"ttl": -1}, InvalidArgumentError, "ttl"),
]
BAD_IDS = ["ns-int", "ns-surrogate", "meta-nested", "meta-list", "meta-object", "ttl"]


@pytest.mark.parametrize(("options", "error", "fragment"), BAD_OPTIONS, ids=BAD_IDS)
def test_get_or_compute_checks_everything_before_fn_runs(
    options: dict, error: type[SemCacheError], fragment: str
) -> None:
    cache = SemCache()
    calls: list[Any] = []
    with pytest.raises(error, match=fragment):
        cache.get_or_compute("k", calls.append, **options)
    with pytest.raises(error, match=fragment):
        cache.get_or_compute_many(["a", "b"], lambda keys: calls.append(keys) or [1, 2], **options)
    assert calls == [] and len(cache) == 0


@pytest.mark.parametrize(("options", "error", "fragment"), BAD_OPTIONS, ids=BAD_IDS)
async def test_async_get_or_compute_checks_everything_before_fn_runs(
    options: dict, error: type[SemCacheError], fragment: str
) -> None:
    cache = SemCache()
    calls: list[Any] = []

    async def fn(key: Any) -> list[int]:
        calls.append(key)
        return [1, 2]

    with pytest.raises(error, match=fragment):
        await cache.aget_or_compute("k", fn, **options)
    with pytest.raises(error, match=fragment):
        await cache.aget_or_compute_many(["a", "b"], fn, **options)
    assert calls == [] and len(cache) == 0


@pytest.mark.parametrize("ttl", [-1, 0, math.nan, "10"], ids=repr)
def test_response_cache_refuses_a_bad_ttl_at_construction(ttl: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="ttl"):
        ResponseCache(ttl=ttl)


@pytest.mark.parametrize("cache", ["gpt-4o", object(), {}], ids=["str", "object", "dict"])
def test_response_cache_needs_the_engine(cache: Any) -> None:
    with pytest.raises(InvalidArgumentError, match=r"semcache_core\.SemCache"):
        ResponseCache(cache)


NOT_TEXT = st.one_of(st.none(), st.integers(), st.binary(max_size=3), st.lists(st.just("x")))
FIELDS = ("exact", "context", "query", "model")


@settings(max_examples=60, deadline=None)
@given(
    field=st.sampled_from(FIELDS),
    bad=NOT_TEXT,
    call=st.sampled_from(["lookup", "alookup", "update"]),
)
def test_response_cache_names_a_prompt_field_that_is_not_text(
    field: str, bad: Any, call: str
) -> None:
    """A raw AttributeError or TypeError came from inside (None.encode, bytes in a regex)."""
    cache = ResponseCache()
    cache.update(Prompt("kept", "", "kept"), "m", "answer")
    texts = {"exact": "How tall is it?", "context": "", "query": "How tall is it?", "model": "m"}
    texts[field] = bad
    prompt = Prompt(texts["exact"], texts["context"], texts["query"])
    with pytest.raises(InvalidArgumentError, match="model" if field == "model" else "prompt"):
        if call == "lookup":
            cache.lookup(prompt, texts["model"])
        elif call == "alookup":  # the async twin checked less: the model was paid first
            asyncio.run(cache.alookup(prompt, texts["model"]))
        else:
            cache.update(prompt, texts["model"], "new answer")
    assert len(cache.cache) == 1 and cache.lookup(Prompt("kept", "", "kept"), "m") == "answer"


@pytest.mark.parametrize("prompt", ["How tall is it?", None, 5], ids=repr)
def test_response_cache_needs_a_prompt_object(prompt: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="Prompt"):
        ResponseCache().lookup(prompt, "m")


# --- filters ----------------------------------------------------------------------------------


@pytest.fixture
def years() -> SemCache:
    cache = SemCache()
    cache.set("str-year", 1, vector=[1.0, 0.0], metadata={"year": "2021", "lang": "en"})
    cache.set("int-year", 2, vector=[1.0, 0.1], metadata={"year": 2022, "lang": "fr"})
    cache.set("no-year", 3, vector=[1.0, 0.2], metadata={"lang": "de"})
    return cache


@pytest.mark.parametrize(
    "filters",
    [
        {"year": {"$gte": 2020}},
        {"year": {"$lt": "2030"}},
        {"$and": [{"lang": "fr"}, {"year": {"$gt": 2000}}]},  # whatever else narrows it
        {"$or": [{"lang": "de"}, {"year": {"$lte": 2030}}]},
        {"$not": [{"year": {"$gt": 1}}]},
        Filter("year", ">", 1.5),
    ],
    ids=["gte-int", "lt-str", "and", "or", "not", "object"],
)
def test_a_range_ordering_a_number_against_a_str_names_the_field(
    years: SemCache, filters: Any
) -> None:
    with pytest.raises(FilterValueError, match="'year'") as info:
        years.search([1.0, 0.0], filters=filters)
    assert isinstance(info.value, TypeError)
    assert "no order" in str(info.value)


def test_equality_across_kinds_simply_does_not_match(years: SemCache) -> None:
    assert [h.key for h in years.search([1.0, 0.0], filters={"year": 2021})] == []
    assert [h.key for h in years.search([1.0, 0.0], filters={"year": "2021"})] == ["str-year"]
    assert {h.key for h in years.search([1.0, 0.0], filters={"lang": {"$gt": "a"}})} == {
        "str-year",
        "int-year",
        "no-year",
    }


def test_a_range_on_a_field_of_one_kind_still_works(years: SemCache) -> None:
    years.delete("str-year")
    assert [h.key for h in years.search([1.0, 0.0], filters={"year": {"$gte": 2020}})] == [
        "int-year"
    ]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"$or": []}, []),
        (FilterGroup((), "or"), []),
        ({"$or": [{}]}, ["a", "b"]),
        ({"$and": []}, ["a", "b"]),
        ({"$not": []}, ["a", "b"]),
        ({"$or": [{"t": "x"}, {"$or": []}]}, ["a"]),
        ({"$and": [{"t": "x"}, {"$or": []}]}, []),
    ],
    ids=["or", "or-object", "or-of-empty-dict", "and", "not", "or-nested", "and-nested"],
)
def test_an_empty_or_matches_nothing(filters: Any, expected: list[str]) -> None:
    cache = SemCache()
    cache.set("a", 1, vector=[1.0, 0.0], metadata={"t": "x"})
    cache.set("b", 2, vector=[1.0, 0.5], metadata={"t": "y"})
    assert sorted(h.key for h in cache.search([1.0, 0.0], filters=filters)) == expected


# --- sequences, callables and the cache's dimension (review, 2026-12) ----------------------

NOT_SEQUENCES = st.one_of(
    st.text(min_size=1, max_size=12),
    st.binary(min_size=1, max_size=6),
    st.none(),
    st.integers(),
    st.floats(allow_nan=False),
)


def _filled() -> SemCache:
    cache = SemCache()
    cache.put("faq:1", "How do I reset my password?")
    cache.set("plain", 3)
    return cache


@settings(max_examples=40, deadline=None)
@given(not_a_sequence=NOT_SEQUENCES)
def test_a_lone_str_or_a_non_sequence_is_refused_where_a_sequence_is_due(
    not_a_sequence: Any,
) -> None:
    """``search_batch("reset password")`` searched each character (14 result lists); None
    raised a bare TypeError in the batch calls. Each is a typed error and changes nothing."""
    cache = _filled()
    before = sorted(cache.scan())
    calls = [
        lambda: cache.search_batch(not_a_sequence, 1),
        lambda: asyncio.run(cache.asearch_batch(not_a_sequence, 1)),
        lambda: cache.set_many(not_a_sequence),
        lambda: cache.get_many(not_a_sequence),
        lambda: cache.delete_many(not_a_sequence),
        lambda: cache.get_or_compute_many(not_a_sequence, lambda keys: [0] * len(keys)),
    ]
    for call in calls:
        with pytest.raises(InvalidArgumentError, match="sequence"):
            call()
    assert sorted(cache.scan()) == before and cache.get("plain") == 3


@pytest.mark.parametrize("fn", [None, 3, "embed", b"x", [len]], ids=repr)
def test_a_fn_that_cannot_be_called_is_refused_before_anything_is_stored(fn: Any) -> None:
    cache = _filled()
    for call in (
        lambda: cache.get_or_compute("new", fn),
        lambda: asyncio.run(cache.aget_or_compute("new", fn)),
        lambda: cache.get_or_compute_many(["new", "other"], fn),
        lambda: asyncio.run(cache.aget_or_compute_many(["new"], fn)),
    ):
        with pytest.raises(InvalidArgumentError, match="callable"):
            call()
    assert cache.get("new") is None and len(cache) == 2
    assert cache.get_or_compute("plain", fn) == 3  # a hit calls nothing: nothing to check


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@settings(max_examples=40, deadline=None)
@given(
    spaces=st.lists(
        st.tuples(st.integers(2, 4), st.sampled_from([None, 5.0, 50.0])), min_size=1, max_size=4
    ),
    elapsed=st.sampled_from([0.0, 10.0, 100.0]),
)
def test_dim_counts_only_namespaces_holding_live_vectors(
    spaces: list[tuple[int, float | None]], elapsed: float
) -> None:
    """``dim`` read the dimensions of namespaces whose vectors had all expired (None where
    the live ones agreed) until something purged; ``dim_of`` and ``len`` purged first."""
    clock = _Clock()
    cache = SemCache(clock=clock)
    for number, (dim, ttl) in enumerate(spaces):
        vector = [1.0] + [0.0] * (dim - 1)
        cache.set(f"k{number}", number, vector=vector, ttl=ttl, namespace=f"ns{number}")
    clock.now += elapsed
    live = {dim for dim, ttl in spaces if ttl is None or ttl > elapsed}
    expected = live.pop() if len(live) == 1 else None
    assert cache.dim == expected
    assert cache.dim == expected  # reading it again (after its purge) agrees
