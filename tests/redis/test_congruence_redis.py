"""Congruence (qdrant-client's local-vs-server pattern): the same random operations and
random filter trees on the in-process backend and on Redis (standalone and the cluster)
give the same answers.

Searches compare exactly: the Redis side scans every shard exactly (``exact_below`` far
above the data), so the only allowed difference is float32 rounding: scores within
1e-5, and the order of hits whose scores tie within that.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fakeclock import FakeClock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from suite_support import ClientPool

from semcache_core import DimensionMismatchError, Filter, FilterGroup, FilterValueError, SemCache
from semcache_core.backends.local import LocalBackend
from semcache_core.backends.redis import RedisBackend

REDIS_KINDS = ["standalone", "cluster"]
EXACT = 1_000_000  # exact_below: every shard is scanned exactly
DIM = 6
TIE = 1e-5
_PREFIXES = itertools.count()

FIELDS = ["n", "s", "flag", "tags", "big", "é"]
# around the length at which a stored string's attribute is cut (ATTRIBUTE_STRING_MAX)
LONG = ["L" * 127, "L" * 128, "L" * 128 + "a", "L" * 128 + "b", "L" * 300]
STORED = st.one_of(
    st.sampled_from([0, 1, 2, -3, 1.0, 2.5, math.nan, 1e20, 2**60, True, False, None]),
    st.sampled_from(["a", "b", "1", "é", "a b", 'q"t', *LONG]),
    st.lists(st.sampled_from([1, "a", "b", 2.5]), max_size=3),
)
METADATA = st.dictionaries(st.sampled_from(FIELDS), STORED, max_size=4)
SCALARS = st.sampled_from([0, 1, 2, 1.0, 2.5, 2**60, 1e20, True, False, "a", "b", "1", "é", *LONG])
ORDERED = st.sampled_from([0, 1, 1.5, -2, 2**60, 1e20, math.nan, "a", "1"])
LEAVES = st.one_of(
    st.builds(Filter, st.sampled_from(FIELDS), st.sampled_from(["==", "!="]), SCALARS),
    st.builds(
        Filter,
        st.sampled_from(FIELDS),
        st.sampled_from(["in", "nin"]),
        st.lists(SCALARS, max_size=4),
    ),
    st.builds(Filter, st.sampled_from(FIELDS), st.sampled_from([">", ">=", "<", "<="]), ORDERED),
    st.builds(
        Filter,
        st.sampled_from(FIELDS),
        st.sampled_from(["any", "all"]),
        st.lists(st.sampled_from([1, "a", "b"]), min_size=1, max_size=2),
    ),
    st.builds(Filter, st.sampled_from(FIELDS), st.just("contains"), st.sampled_from([1, "a"])),
    st.builds(
        Filter,
        st.sampled_from(FIELDS),
        st.sampled_from(["text_match", "text_match_insensitive"]),
        st.sampled_from(["a", "A", "é", " "]),
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


@pytest.fixture(scope="module")
def clients(request: pytest.FixtureRequest) -> Iterator[ClientPool]:
    pool = ClientPool(request)
    yield pool
    pool.close()


def _pair(clients: ClientPool, kind: str, clock: FakeClock) -> tuple[SemCache, SemCache]:
    client = clients.maker(kind).client
    remote = RedisBackend(client=client, prefix=f"cong{next(_PREFIXES)}", exact_below=EXACT)
    local = SemCache(backend=LocalBackend(index="flat"), clock=clock)
    return local, SemCache(backend=remote, clock=clock)


def _vector(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)


def assert_same_hits(want: list[Any], got: list[Any]) -> None:
    """Same hits: scores within 1e-5, keys in the same order up to ties (a tie group cut
    by ``k`` may hold other members of the tie); equal keys hold equal values, metadata and
    namespaces (compared by ``repr``: NaN equals itself there) and vectors."""
    assert len(got) == len(want), ([h.key for h in want], [h.key for h in got])
    assert np.allclose([h.score for h in got], [h.score for h in want], atol=TIE, rtol=0)
    start = 0
    while start < len(want):
        end = start + 1
        while end < len(want) and abs(want[end].score - want[start].score) <= 2 * TIE:
            end += 1
        if end < len(want):  # a whole tie group: the same members
            assert {h.key for h in got[start:end]} == {h.key for h in want[start:end]}
        start = end
    for w, g in zip(want, got):
        if w.key == g.key:
            assert repr((w.value, w.metadata, w.namespace)) == repr(
                (g.value, g.metadata, g.namespace)
            )
            assert (w.vector is None) == (g.vector is None)
            assert w.vector is None or np.allclose(w.vector, g.vector, atol=1e-6, rtol=0)


def _search(cache: SemCache, query: Any, **options: Any) -> Any:
    try:
        return cache.search(query, **options)
    except FilterValueError as exc:
        # which clashing field is named depends on the order entries are met in
        assert str(exc).startswith("filter on '") and "have no order" in str(exc)
        return "FilterValueError"


# --- 100 random filter trees on one data set --------------------------------------------------


@pytest.fixture(scope="module", params=REDIS_KINDS)
def filtered_pair(
    request: pytest.FixtureRequest, clients: ClientPool
) -> Iterator[tuple[SemCache, SemCache]]:
    """80 entries with random metadata (drawn once, seeded) in both caches."""
    metadatas: list[dict[str, Any]] = []
    rng = np.random.default_rng(5)
    pool_values = [0, 1, 2, -3, 1.0, 2.5, math.nan, 1e20, 2**60, True, False, None, "a", "b"]
    pool_values += ["1", "é", "a b", 'q"t', [1, "a"], ["b"], [], [2.5, "b"], *LONG]
    for _ in range(80):
        meta: dict[str, Any] = {}
        for field in FIELDS:
            if rng.random() < 0.6:
                meta[field] = pool_values[rng.integers(len(pool_values))]
        metadatas.append(meta)
    local, remote = _pair(clients, request.param, FakeClock())
    vectors = np.stack([_vector(i) for i in range(80)])
    vectors[1] = vectors[0]  # an exact tie
    for cache in (local, remote):
        cache.set_many({f"e{i:02d}": i for i in range(80)}, vectors=vectors, metadatas=metadatas)
    yield local, remote
    remote.clear()
    remote.close()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=TREES, k=st.sampled_from([1, 5, 80]), threshold=st.sampled_from([None, 0.0, 0.3]))
def test_random_filter_trees_agree(
    filtered_pair: tuple[SemCache, SemCache], tree: Any, k: int, threshold: float | None
) -> None:
    local, remote = filtered_pair
    query = _vector(1000)
    want = _search(local, query, k=k, filters=tree, threshold=threshold)
    got = _search(remote, query, k=k, filters=tree, threshold=threshold)
    if isinstance(want, str) or isinstance(got, str):
        assert got == want, tree
    else:
        assert_same_hits(want, got)


@pytest.mark.parametrize("kind", REDIS_KINDS)
async def test_a_query_of_another_dimension_is_refused_before_a_filter_on_stored_kinds(
    clients: ClientPool, kind: str
) -> None:
    """The call's own argument first: a query of another dimension raises
    DimensionMismatchError on both backends even when the filter would also order a
    number against a stored str (Redis checked the stored kinds first: FilterValueError)."""
    local, remote = _pair(clients, kind, FakeClock())
    try:
        for cache in (local, remote):
            cache.set("k0", 0, vector=[1.0, 0.0, 0.0, 0.0], metadata={"n": "a"})
            clash = {"n": {"$gt": 0}}
            with pytest.raises(DimensionMismatchError):
                cache.search([1.0, 0.0, 0.0], k=1, filters=clash)
            with pytest.raises(DimensionMismatchError):
                await cache.asearch([1.0, 0.0, 0.0], k=1, filters=clash)
            with pytest.raises(FilterValueError):  # the right dimension: the filter's turn
                cache.search([1.0, 0.0, 0.0, 0.0], k=1, filters=clash)
            with pytest.raises(FilterValueError):
                await cache.asearch([1.0, 0.0, 0.0, 0.0], k=1, filters=clash)
    finally:
        remote.clear()
        await remote.aclose()
