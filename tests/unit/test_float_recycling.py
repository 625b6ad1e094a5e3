"""The C read path recycles the floats of lists its callers dropped (``_speedups.c``,
``recycled_float``): a float anybody can still reach must never change.

A ``get_or_compute`` hit makes a list of hundreds of floats; the C loop hands out again the
floats of earlier lists that nothing holds any more. These tests keep some results, some
single floats and some lists' slices, drop the rest, and check after every read that what
was kept still holds the values it was given, at small and large dimensions (a list longer
than the ring wraps onto itself).
"""

from __future__ import annotations

import gc

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from semcache_core import SemCache
from semcache_core.vector_values import float_list_of, python_float_list_of

ACTIONS = st.lists(
    st.tuples(
        st.integers(0, 5),  # which stored key is read
        st.sampled_from(["drop", "keep", "keep one float", "keep a slice", "release"]),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([3, 384, 3000, 5000]), ACTIONS, st.randoms(use_true_random=False))
def test_a_float_a_caller_holds_never_changes(dim: int, actions: list, rnd) -> None:
    rng = np.random.default_rng(rnd.randint(0, 2**32 - 1))
    rows = rng.normal(size=(6, dim)).tolist()
    cache = SemCache(index="flat")
    expected = [cache.get_or_compute(f"k{i}", lambda _k, r=row: r) for i, row in enumerate(rows)]
    kept: list[tuple[object, object]] = []  # (what the caller holds, its values then)
    for key_no, action in actions:
        got = cache.get_or_compute(f"k{key_no}", lambda _k: [1.0] * dim)
        assert got == expected[key_no]
        if action == "keep":
            kept.append((got, list(got)))
        elif action == "keep one float":
            at = rnd.randrange(dim)
            kept.append((got[at], got[at]))
        elif action == "keep a slice":
            kept.append((got[: dim // 2], list(got[: dim // 2])))
        elif action == "release" and kept:
            kept.pop(rnd.randrange(len(kept)))
        del got
        for held, values in kept:
            assert held == values  # == on the same float objects: would see a changed value
    for held, values in kept:
        if isinstance(held, list):
            assert [float(x) for x in held] == values


def test_the_floats_of_a_dropped_list_are_handed_out_again_and_a_kept_list_is_untouched() -> None:
    unit = np.array([0.6, 0.8, 0.0], dtype=np.float32)
    first = float_list_of(unit, 2.0)
    ids = {id(x) for x in first}
    del first
    gc.collect()
    # the ring moves on past the slots the first list took: read until it comes round
    reused = set()
    kept = []
    for _ in range(4096 // 3 + 2):
        again = float_list_of(unit, 3.0)
        reused |= {id(x) for x in again} & ids
        kept.append(again)  # kept: their floats must not be handed out again
    assert reused, "the floats of a dropped list were not recycled"
    expected = python_float_list_of(unit, 3.0)
    assert all(lst == expected for lst in kept)
    held_ids = [id(x) for lst in kept for x in lst]
    assert len(set(held_ids)) == len(held_ids)  # no float given to two lists still held


def test_a_held_float_keeps_its_value_through_a_full_turn_of_the_ring() -> None:
    unit = np.ones(1000, dtype=np.float32) / np.sqrt(np.float32(1000))
    one = float_list_of(unit, 1.0)[7]
    value = float(repr(one))
    for norm in np.linspace(2.0, 50.0, 40):
        float_list_of(unit, float(norm))  # each list dropped at once
    assert one == value
