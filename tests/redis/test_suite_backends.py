"""The engine's behaviour suite on every backend: the in-process one, a standalone Redis 8
and the 3-primary cluster (``backend_kind``).

Two parts: existing tests of ``tests/unit`` written against ``SemCache(...)`` generically,
re-run with their caches on each Redis backend (tests/unit runs them on the local one; see
:mod:`suite_support`): every such test that builds a cache, less a few slow ones, each
parametrised one at most :data:`CASES_PER_TEST` times. And tests written here for what
those do not cover on Redis: TTL on a fake clock across every read, namespaces as
partitions, filters, ``get_or_compute(_many)`` with vector values.

Left out of the reused list, on purpose: ``max_entries`` / LRU recency, ``index=`` and
``path=`` (options of the local backend), memory footprints, and ``stats().expirations``
after a *read* of an expired entry (Redis reclaims expired hashes itself, by ``PEXPIRE``,
so the count differs by design; purges are counted and tested below).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fakeclock import FakeClock
from suite_support import (
    KINDS,
    BackendMaker,
    ClientPool,
    cache_class,
    call_unit_test,
    load_unit_module,
    unit_cases,
)

from semcache_core import SemCache
from semcache_core.errors import (
    DimensionMismatchError,
    FilterValueError,
    InvalidArgumentError,
    InvalidKeyError,
    InvalidVectorError,
    SemCacheError,
)

CASES_PER_TEST = 2  # of a parametrised unit test: its first and last cases

REUSED = {
    "test_bad_input": [
        "test_a_new_namespace_takes_its_own_dimension",
        "test_all_zero_vector",
        "test_aput_with_a_non_str_value",
        "test_bad_default_ttl",
        "test_bad_k",
        "test_bad_metadata",
        "test_bad_metadata_for_put",
        "test_bad_namespace",
        "test_bad_scan_arguments",
        "test_bad_threshold",
        "test_bad_threshold_does_not_count_a_semantic_lookup",
        "test_bad_ttl",
        "test_bad_ttl_for_put_and_get_or_compute",
        "test_component_beyond_float32_range",
        "test_filter_value_of_the_wrong_type",
        "test_fixed_dim_is_enforced_before_the_first_vector",
        "test_fixture_is_what_the_snapshot_expects",
        "test_malformed_filters",
        "test_non_finite_components",
        "test_non_numeric_or_empty_vector",
        "test_non_str_key",
        "test_non_str_key_async",
        "test_non_str_key_for_get_or_compute_never_calls_fn",
        "test_put_json_with_an_unserialisable_object",
        "test_put_string_with_a_non_str_value",
        "test_put_with_a_non_str_value",
        "test_put_with_an_embedder_of_another_dimension",
        "test_search_batch_with_no_queries",
        "test_two_dimensional_vector",
        "test_unknown_operator_in_dict_filters",
        "test_unstorable_result_of_get_or_compute",
        "test_unstorable_value",
        "test_wrong_dimension_names_both_dimensions",
    ],
    "test_cache_api": [
        "test_aget_or_compute_options_and_single_flight",
        "test_aget_or_compute_with_sync_and_async_fn",
        "test_async_callable_embedder_via_aput_and_asearch",
        "test_async_get_string_type_error",
        "test_async_kv_twins_match_sync",
        "test_async_text_twins_match_sync",
        "test_clear_removes_everything_but_keeps_stats",
        "test_delete_reports_whether_a_live_entry_was_removed",
        "test_embedder_that_returns_garbage_raises_embedder_error",
        "test_exists_and_in",
        "test_exists_does_not_count_as_a_lookup",
        "test_get_entry_fields_and_no_stats",
        "test_get_json_type_errors",
        "test_get_missing_key_returns_default",
        "test_get_or_compute_computes_once_and_stores",
        "test_get_or_compute_exception_stores_nothing",
        "test_get_or_compute_options_and_vector_results_are_indexed",
        "test_get_or_compute_single_flight_across_threads",
        "test_get_returns_fresh_copies_of_mutable_values",
        "test_get_similar_on_empty_cache_and_with_namespace_and_filters",
        "test_get_similar_returns_the_most_similar_value",
        "test_get_similar_threshold_semantics",
        "test_langchain_style_embedder_async_methods",
        "test_langchain_style_embedder_uses_documents_for_put_and_query_for_search",
        "test_len_counts_live_entries",
        "test_llama_index_style_embedder",
        "test_llama_index_style_embedder_async_methods",
        "test_mutating_the_stored_object_after_set_does_not_change_the_cache",
        "test_namespaces_are_isolated_even_when_the_other_is_closer",
        "test_numpy_arrays_nested_in_containers_round_trip",
        "test_numpy_arrays_round_trip_with_dtype_and_shape",
        "test_other_readers_also_return_fresh_copies",
        "test_plain_callable_embedder",
        "test_purge_expired_returns_how_many",
        "test_put_accepts_metadata_ttl_and_namespace",
        "test_put_embeds_with_the_default_hashing_embedder",
        "test_put_json_get_json",
        "test_put_json_rejects_unserialisable_objects",
        "test_put_json_stores_nothing_embedded_and_accepts_ttl_and_metadata",
        "test_put_string_accepts_ttl_and_metadata",
        "test_put_string_and_get_string_type_errors",
        "test_put_string_get_string",
        "test_scan_prefix_limit_sorted",
        "test_search_accepts_lists_tuples_and_arrays_of_any_scale",
        "test_search_batch_equals_individual_searches",
        "test_search_batch_single_query_and_text_queries",
        "test_search_batch_with_options_equals_individual_searches",
        "test_search_default_k_is_10_and_k_larger_than_size",
        "test_search_hit_fields",
        "test_search_matches_brute_force",
        "test_search_on_empty_cache_returns_nothing",
        "test_search_threshold_drops_hits_below_it",
        "test_search_with_vectors_returns_unit_vectors",
        "test_set_get_round_trip_keeps_value_and_type",
        "test_set_replaces_previous_value",
        "test_stats_counts_every_kind_of_lookup",
        "test_the_same_key_in_two_namespaces_is_two_entries",
        "test_ttl_expiry_with_a_fake_clock",
        "test_tuples_come_back_as_lists",
    ],
    "test_cache_batch": [
        "test_an_exception_reaches_the_waiters_and_stores_nothing",
        "test_async_plain_fn_runs_in_a_thread_and_results_are_stored",
        "test_coroutines_and_threads_share_flights",
        "test_delete_many_counts_live_entries_and_drops_vectors",
        "test_fn_with_the_wrong_number_of_results_stores_nothing",
        "test_get_many_in_order_with_repeats_and_defaults",
        "test_many_calls_check_every_key_first",
        "test_misses_are_computed_in_one_call_and_repeats_once",
        "test_non_vector_results_are_stored_not_indexed",
        "test_results_of_two_dimensions_index_the_first_and_store_the_other",
        "test_threads_with_overlapping_batches_compute_each_key_once",
    ],
    "test_input_checks": [
        "test_an_empty_or_matches_nothing",
        "test_async_get_or_compute_checks_everything_before_fn_runs",
        "test_get_or_compute_checks_everything_before_fn_runs",
        "test_numpy_bools_and_nans_are_still_refused",
        "test_numpy_numbers_in_metadata_and_filters_act_as_python_numbers",
    ],
    "test_namespaces": [
        "test_an_expired_namespace_no_longer_fixes_its_dimension",
        "test_async_twins_take_namespaces",
        "test_each_namespace_has_its_own_dimension_and_dim_fixes_all",
        "test_get_or_compute_in_another_namespace_computes_its_own",
        "test_none_is_the_default_namespace_in_every_call",
    ],
    "test_set_many": [
        "test_bad_rows_store_nothing",
        "test_rows_without_vectors_and_pairs_input",
    ],
    "test_touch": [
        "test_a_touched_vector_stays_searchable_past_its_first_expiry",
        "test_a_ttl_past_the_longest_is_refused_by_set_and_touch_and_changes_nothing",
        "test_atouch_is_the_async_twin",
        "test_bad_key_and_namespace_raise",
        "test_bad_ttl_raises_and_changes_nothing",
        "test_touch_keeps_value_vector_metadata_and_namespace",
        "test_touch_moves_the_expiry_from_now",
        "test_touch_of_a_missing_or_expired_key_is_false_and_creates_nothing",
        "test_touch_without_ttl_takes_the_cache_default_or_none",
    ],
    "test_ttl_lru": [
        "test_get_or_compute_recomputes_after_expiry",
        "test_no_ttl_never_expires",
        "test_resetting_without_ttl_removes_the_deadline",
    ],
    "test_vector_values": [
        "test_a_list_of_ints_is_a_plain_value_and_leaves_the_dimension_unset",
        "test_a_vector_of_another_dimension_is_a_plain_value",
        "test_followers_and_async_twins_get_the_same_values",
        "test_index_false_stores_a_vector_as_a_plain_value_exactly",
        "test_index_must_be_none_true_or_false",
        "test_index_true_indexes_an_embedding_and_many_takes_it_too",
        "test_index_true_refuses_what_is_not_an_embedding_and_stores_nothing",
        "test_memory_round_trip_gives_back_the_type_the_function_returned",
        "test_msgpack_ext_values_are_refused",
        "test_only_1d_float_arrays_qualify",
        "test_only_finite_non_zero_lists_of_floats_qualify",
    ],
}

UNIT_CASES = [
    case
    for name, tests in REUSED.items()
    for case in unit_cases(load_unit_module(name), tests, per_test=CASES_PER_TEST)
]


@pytest.fixture(params=KINDS)
def backend_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def clients(request: pytest.FixtureRequest) -> Iterator[ClientPool]:
    pool = ClientPool(request)
    yield pool
    pool.close()


@pytest.fixture
def make_backend(backend_kind: str, clients: ClientPool) -> Iterator[BackendMaker]:
    maker = clients.maker(backend_kind)
    yield maker
    maker.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(make_backend: BackendMaker, clock: FakeClock) -> SemCache:
    """A fresh cache on the backend under test, on a fake clock."""
    return SemCache(backend=make_backend(), clock=clock)


@pytest.mark.parametrize("backend_kind", ["standalone", "cluster"])  # local: tests/unit
@pytest.mark.parametrize("module,function,kwargs", UNIT_CASES)
def test_unit_behaviour(
    module: Any,
    function: Any,
    kwargs: dict[str, Any],
    make_backend: BackendMaker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(module, "SemCache", cache_class(make_backend))
    call_unit_test(module, function, kwargs)
    assert make_backend.made, "the test built no cache"


# --- written for every backend --------------------------------------------------------------


def test_ttl_on_the_fake_clock_across_every_read(cache: SemCache, clock: FakeClock) -> None:
    cache.set("short", 1, vector=[1.0, 0.0], ttl=5, metadata={"t": "s"})
    cache.set("long", 2, vector=[0.9, 0.1], ttl=50)
    cache.set("plain", 3, ttl=5)
    cache.set("forever", 4, namespace="n")
    assert cache.get_entry("short").expires_at == pytest.approx(clock.now + 5)  # type: ignore[union-attr]
    clock.advance(4.99)
    assert cache.scan() == ["long", "plain", "short"] and len(cache) == 4
    clock.advance(0.01)  # expires_at <= now: gone from every read at once
    assert cache.get("short") is None and cache.get("plain", "d") == "d"
    assert not cache.exists("short") and "plain" not in cache
    assert cache.scan() == ["long"] and len(cache) == 2 and cache.count("") == 1
    assert [h.key for h in cache.search([1.0, 0.0], k=5)] == ["long"]
    assert [h.key for h in cache.search([1.0, 0.0], filters={"t": "s"})] == []
    assert not cache.delete("short")
    cache.set("short", 5, ttl=1)  # re-set: a fresh expiry
    assert cache.get("short") == 5
    clock.advance(100)
    assert cache.namespaces() == ["n"] and cache.dim_of("") is None
    cache.purge_expired()  # what the reads above have not reclaimed yet
    assert cache.purge_expired() == 0 and len(cache) == 1


def test_namespaces_are_partitions(cache: SemCache) -> None:
    cache.set("k", "a3", vector=[1.0, 0.0, 0.0], namespace="a")
    cache.set("k", "b2", vector=[0.0, 1.0], namespace="b")
    cache.set("j", "b2'", vector=[1.0, 1.0], namespace="b")
    cache.set("k", "root")
    assert [cache.get("k", namespace=n) for n in ("a", "b", "")] == ["a3", "b2", "root"]
    assert cache.dim_of("a") == 3 and cache.dim_of("b") == 2 and cache.dim_of("") is None
    assert cache.namespaces() == ["", "a", "b"]
    assert (len(cache), cache.count("a"), cache.count("b"), cache.count("zz")) == (4, 1, 2, 0)
    assert [h.key for h in cache.search([1.0, 0.0], k=5, namespace="b")] == ["j", "k"]
    with pytest.raises(DimensionMismatchError):
        cache.search([1.0, 0.0], namespace="a")
    with pytest.raises(DimensionMismatchError):
        cache.set("x", 1, vector=[1.0, 0.0], namespace="a")
    cache.clear(namespace="b")
    assert cache.namespaces() == ["", "a"] and cache.scan(namespace="b") == []
    assert cache.dim_of("b") is None and cache.get("k", namespace="a") == "a3"
    cache.set("k", "b4", vector=[1.0, 0.0, 0.0, 0.0], namespace="b")  # dimension forgotten
    assert cache.dim_of("b") == 4
    assert cache.delete("k", namespace="a") and cache.namespaces() == ["", "b"]
    cache.clear()
    assert len(cache) == 0 and cache.namespaces() == []


def test_filters_every_operator(cache: SemCache) -> None:
    rows = [
        {"year": 2020, "lang": "en", "tags": ["a", "b"], "score": 0.5, "ok": True},
        {"year": 2021, "lang": "fr", "tags": ["b"], "ok": False},
        {"year": 2022, "lang": "de", "title": "Héllo world"},
        {"lang": "en", "score": 2.5},
    ]
    for i, meta in enumerate(rows):
        cache.set(f"d{i}", i, vector=[1.0, 0.1 * i], metadata=meta)
    cases: list[tuple[Any, list[str]]] = [
        ({"lang": "en"}, ["d0", "d3"]),
        ({"year": {"$ne": 2020}}, ["d1", "d2", "d3"]),
        ({"year": {"$gt": 2020, "$lte": 2022}}, ["d1", "d2"]),
        ({"lang": {"$in": ["fr", "de"]}}, ["d1", "d2"]),
        ({"lang": {"$nin": ["fr", "de"]}}, ["d0", "d3"]),
        ({"tags": {"$any": ["a"]}}, ["d0"]),
        ({"tags": {"$all": ["b"]}}, ["d0", "d1"]),
        ({"tags": {"$contains": "a"}}, ["d0"]),
        ({"title": {"$text_match": "éllo"}}, ["d2"]),
        ({"title": {"$text_match": "héllo"}}, []),
        ({"title": {"$text_match_insensitive": "héllo"}}, ["d2"]),
        ({"score": {"$is_empty": True}}, ["d1", "d2"]),
        ({"year": {"$eq": 2022}}, ["d2"]),
        ({"ok": False}, ["d1"]),
        ({"$or": [{"year": 2021}, {"score": {"$gte": 2}}]}, ["d1", "d3"]),
        ({"$not": [{"lang": "en"}]}, ["d1", "d2"]),
        ({"$and": [{"lang": "en"}, {"$not": [{"year": 2020}]}]}, ["d3"]),
    ]
    for spec, want in cases:
        got = sorted(h.key for h in cache.search([1.0, 0.0], k=10, filters=spec))
        assert got == want, spec
    with pytest.raises(FilterValueError):
        cache.search([1.0, 0.0], filters={"lang": {"$gt": 3}})
    with pytest.raises(SemCacheError):
        cache.search([1.0, 0.0], filters={"lang": {"$regex": "x"}})


def test_bad_input_types_and_messages(cache: SemCache) -> None:
    cache.set("a", 1, vector=[1.0, 0.0, 0.0], metadata={"year": "2021"})
    cases: list[tuple[type[Exception], str, Any]] = [
        (DimensionMismatchError, "3", lambda: cache.set("x", 1, vector=[1.0, 0.0])),
        (InvalidVectorError, "zero", lambda: cache.search([0.0, 0.0, 0.0])),
        (InvalidVectorError, "finite", lambda: cache.set("x", 1, vector=[1.0, float("nan"), 0])),
        (InvalidArgumentError, "k", lambda: cache.search([1.0, 0.0, 0.0], k=0)),
        (InvalidKeyError, "key", lambda: cache.set(5, 1)),  # type: ignore[arg-type]
        (InvalidArgumentError, "ttl", lambda: cache.set("x", 1, ttl=-1)),
        (FilterValueError, "year", lambda: cache.search([1.0, 0, 0], filters={"year": {"$gt": 1}})),
    ]
    for error, fact, call in cases:
        with pytest.raises(error, match=fact):
            call()
    assert cache.scan() == ["a"] and cache.get("a") == 1  # nothing changed


def test_get_or_compute_and_many_with_vector_values(cache: SemCache) -> None:
    calls: list[Any] = []

    def embed(text: str) -> list[float]:
        calls.append(text)
        return [float(len(text)), 1.0, 0.5]

    assert cache.get_or_compute("abc", embed) == [3.0, 1.0, 0.5]
    assert cache.get_or_compute("abc", embed) == [3.0, 1.0, 0.5] and calls == ["abc"]
    array = np.array([0.25, 2.0, 1.0], dtype=np.float64)
    got = cache.get_or_compute("arr", lambda _: array)
    assert got.dtype == np.float64 and np.array_equal(cache.get("arr"), array)

    def embed_many(texts: list[str]) -> list[np.ndarray]:
        calls.extend(texts)
        return [np.full(3, len(t) + 1, dtype=np.float32) for t in texts]

    many = cache.get_or_compute_many(["abc", "x", "yy"], embed_many)
    assert [list(map(float, v)) for v in many] == [[3.0, 1.0, 0.5], [2.0] * 3, [3.0] * 3]
    assert calls == ["abc", "x", "yy"]
    hits = cache.search([0.25, 2.0, 1.0], k=1)
    assert hits[0].key == "arr" and hits[0].score == pytest.approx(1.0, abs=1e-6)
    assert cache.stats().computes == 4
