"""The fast paths of the seed's flow give exactly what the general paths give.

- rows added one at a time (``get_or_compute`` misses) wait for their int8 codes until a
  search needs them, and are then coded in bulk (by the search when they are few, in the
  background when many): searches, codes and results are bit-identical to coding each row
  as it comes;
- a list of ``float`` objects is checked and converted in one pass: the same marker and
  unit vector as the general path, which a tuple of the same values takes;
- a restore checks stored values with extension types decoded to one placeholder.
"""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from semcache_core import SemCache
from semcache_core.codec import EXTENSION, decode_many, encode
from semcache_core.index.flat import _CODE_AT_SEARCH, _CODE_AT_SEARCH_SHARE, FlatIndex
from semcache_core.index.quantised import quantise_rows
from semcache_core.vector_values import VectorValue, vector_value_of

DIM = 24


def unit_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    rows = rng.standard_normal((n, DIM)).astype(np.float32)
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def assert_same_search(
    lazy: FlatIndex, eager: FlatIndex, queries: np.ndarray, k: int, exact: bool = True
) -> None:
    """Both give the same answers: bit for bit when both take the same path; else (one
    scans float32 rows while rows wait for codes, the other re-scores the int8 pass's
    candidates, a BLAS call whose sums run in another order) the same up to float32
    rounding, each answer's labels scoring what it says."""
    allowed = lazy.labels[::3].copy()
    answers = [
        (query, lazy.search(query, k, subset), eager.search(query, k, subset))
        for query in queries
        for subset in (None, allowed)
    ]
    answers += zip(queries, lazy.search_batch(queries, k), eager.search_batch(queries, k))
    for query, got, want in answers:
        if exact:
            assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
            continue
        assert len(got[0]) == len(want[0])
        assert np.allclose(got[1], want[1], rtol=0, atol=1e-6)
        assert np.allclose(eager.vectors(got[0]) @ query, got[1], rtol=0, atol=1e-6)


def assert_codes_current(index: FlatIndex) -> None:
    """Every coded row holds the codes of its vector, as coding it now would give."""
    n = len(index)
    coded = index._coded[:n]
    codes, scales, errors = quantise_rows(index._vectors[:n])
    assert np.array_equal(index._codes[:n][coded], codes[coded])
    assert np.array_equal(index._scales[:n][coded], scales[coded])
    assert np.array_equal(index._errors[:n][coded], errors[coded])
    assert index.uncoded == n - int(coded.sum())


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    ops=st.lists(
        st.tuples(st.sampled_from(["add", "replace", "remove", "search"]), st.integers(1, 700)),
        max_size=12,
    ),
)
def test_rows_added_one_at_a_time_search_like_rows_coded_at_once(
    seed: int, ops: list[tuple[str, int]]
) -> None:
    rng = np.random.default_rng(seed)
    lazy, eager = FlatIndex(DIM), FlatIndex(DIM)
    next_label = 0
    for op, count in [("add", 4200), *ops]:  # from 4,096 rows on, searches take the int8 pass
        held = lazy.labels.copy()
        if op == "add" or (op == "replace" and len(held)):
            if op == "add":
                labels = np.arange(next_label, next_label + count, dtype=np.int64)
                next_label += count
            else:
                labels = rng.choice(held, min(count, len(held)), replace=False)
            rows = unit_rows(rng, len(labels))
            for label, row in zip(labels.tolist(), rows):
                lazy.add(np.array([label]), row[None, :])  # one row: its code waits
            eager.add(labels, rows)
            if len(labels) == 1:  # eager took the one-row path too: code it now
                eager.code_pending(eager.uncoded)
        elif op == "remove" and len(held):
            gone = rng.choice(held, min(count, len(held)), replace=False)
            lazy.remove(gone)
            eager.remove(gone)
        assert_codes_current(lazy)
        if op == "search" and len(lazy):
            waiting = lazy.uncoded
            # the int8 pass starts at 4,096 rows: below, rows wait on (float32 scans)
            few = len(lazy) >= 4096 and waiting <= max(
                _CODE_AT_SEARCH, len(lazy) // _CODE_AT_SEARCH_SHARE
            )
            assert_same_search(lazy, eager, unit_rows(rng, 5), k=min(count, 50), exact=few)
            # the search coded the rows that waited when few; else it scanned float32
            assert lazy.uncoded == (0 if few else waiting)
            lazy.code_pending(lazy.uncoded)  # as its owner's background work then does
            assert_same_search(lazy, eager, unit_rows(rng, 5), k=min(count, 50))
        assert np.array_equal(np.sort(lazy.labels), np.sort(eager.labels))


def test_a_restored_index_with_rows_added_one_at_a_time_searches_as_before() -> None:
    """While a restore's codes are pending, searches scan float32 rows whichever way rows
    were added since; once coded, both take the int8 pass."""
    rng = np.random.default_rng(7)
    rows = unit_rows(rng, 5000)
    lazy = FlatIndex.restore(np.arange(5000), rows.copy())  # every code pending
    eager = FlatIndex.restore(np.arange(5000), rows.copy())
    extra = unit_rows(rng, 3000)
    for i, row in enumerate(extra):
        lazy.add(np.array([5000 + i]), row[None, :])
    eager.add(np.arange(5000, 8000), extra)  # many rows: coded as they come
    assert lazy.uncoded > max(_CODE_AT_SEARCH, len(lazy) // _CODE_AT_SEARCH_SHARE)  # many wait
    assert_codes_current(lazy)
    assert_same_search(lazy, eager, unit_rows(rng, 6), k=10)
    while lazy.code_pending(1000) | eager.code_pending(1000):
        pass
    assert_codes_current(lazy)
    assert_same_search(lazy, eager, unit_rows(rng, 6), k=10)


def test_a_cache_filled_by_misses_finds_what_brute_force_finds() -> None:
    rng = np.random.default_rng(11)
    rows = rng.standard_normal((5000, DIM)).astype(np.float32)
    cache = SemCache(index="flat")
    for i, row in enumerate(rows):
        cache.get_or_compute(f"t{i}", lambda key, row=row: row.tolist())
    units = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    for query in rng.standard_normal((5, DIM)).astype(np.float32):
        hits = cache.search(query, k=5)
        scores = units @ (query / np.linalg.norm(query))
        assert [hit.key for hit in hits] == [f"t{i}" for i in np.argsort(-scores)[:5]]


finite = st.floats(allow_nan=False, allow_infinity=False)
components = st.one_of(
    finite,
    st.floats(min_value=-1e-38, max_value=1e-38),  # float32 subnormals and underflow
    st.floats(min_value=1e37, max_value=1e39),  # around float32's largest
    st.floats(),  # NaN, inf
    st.integers(-5, 5),
    st.booleans(),
    st.just(np.float64(0.5)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(components, min_size=1, max_size=10))
def test_a_list_of_floats_gives_the_marker_and_unit_vector_of_the_general_path(
    values: list[Any],
) -> None:
    fast = vector_value_of(values, None, None)
    general = vector_value_of(tuple(values), None, None)  # a tuple takes the general path
    assert (fast is None) == (general is None)
    if fast is not None and general is not None:
        assert fast[0] == general[0]
        assert fast[1].dtype == np.float32 and np.array_equal(fast[1], general[1])
        assert general[2] is None  # the general path makes no read-back list
        # the list path's read-back list, where it took the list (not 1e38: see _speedups.c)
        assert fast[2] is None or fast[2] == fast[0].restore(fast[1])


@settings(max_examples=200, deadline=None)
@given(st.lists(components, min_size=1, max_size=10))
def test_the_computing_call_returns_what_every_later_read_returns(values: list[Any]) -> None:
    """A miss returns its embedding from the pass that stores it (see _speedups.c): the
    same value, bit for bit, as a hit, in a list of its own."""
    cache = SemCache()
    given_bits = bits(values)
    first = cache.get_or_compute("k", lambda key: values)
    again = cache.get_or_compute("k", lambda key: 1 / 0)
    assert first is not values and type(first) is type(again)
    assert bits(first) == bits(again)
    first.append(1.0)  # the caller's own list
    assert bits(cache.get_or_compute("k", lambda key: 1 / 0)) == bits(again)
    assert bits(values) == given_bits  # fn's list untouched


def bits(values: list[Any]) -> bytes:
    """The values as float64 bytes: NaN equal to itself, -0.0 unequal to 0.0."""
    return np.asarray(values, dtype=np.float64).tobytes()


def test_a_vector_value_encodes_as_msgpack_writes_it() -> None:
    marker = VectorValue("list", 2.5)
    assert marker.encode() == msgpack.packb(msgpack.ExtType(2, marker.payload()))


def test_decode_many_gives_one_placeholder_for_extension_types() -> None:
    blobs = [encode(np.arange(3)), VectorValue("<f4", 1.0).encode(), encode([1, {"a": 2}])]
    assert decode_many(blobs) == [EXTENSION, EXTENSION, [1, {"a": 2}]]
