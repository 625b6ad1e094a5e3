"""The optional C loops (``semcache_core._speedups``) agree with their Python twins.

``vector_values`` uses the C loops when they are built (``pip install`` compiles them; they
are optional so that an install without a compiler still works) and numpy otherwise. Both
must accept and refuse the same lists and give the same vectors; the package must work
with the C module missing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semcache_core import vector_values
from semcache_core.vector_values import (
    float_list_of,
    float_list_vector,
    python_float_list_of,
    python_float_list_vector,
)

floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
items = st.one_of(
    floats,
    floats,
    floats,
    st.floats(min_value=-1e-40, max_value=1e-40),  # float32 underflow
    st.sampled_from([1e38, -1e38, 3.5e38, 0.0, -0.0]),
    st.integers(-3, 3),  # an int: not an embedding
    st.builds(np.float64, st.floats(-1, 1)),  # np.float64: the general path's business
    st.booleans(),
)


def test_the_accelerator_is_built_here() -> None:
    """``make test`` installs the package with its C loops: the tests below compare them."""
    assert vector_values._speedups is not None


@settings(max_examples=400, deadline=None)
@given(st.lists(items, min_size=0, max_size=12), st.sampled_from([None, 0, 3, 12]))
def test_c_and_python_accept_the_same_lists_and_give_the_same_vectors(
    values: list, dim: int | None
) -> None:
    native = float_list_vector(values, dim)
    expected = (
        None
        if not values or (dim is not None and len(values) != dim)
        else python_float_list_vector(values)
    )
    assert (native is None) == (expected is None)
    if native is None or expected is None:
        return
    (marker, unit, read_back), (want_marker, want_unit, want_read_back) = native, expected
    assert marker.kind == want_marker.kind == "list"
    assert bits([marker.norm]) == bits([want_marker.norm])  # summed in one order (review)
    assert unit.dtype == np.float32 and unit.shape == want_unit.shape
    assert unit.tobytes() == want_unit.tobytes()
    # rounded to float32: each component within ~1e-7 of the vector's norm (vector_values),
    # plus float32's absolute floor for subnormal components
    error = np.abs(np.asarray(marker.restore(unit)) - np.asarray(values, dtype=np.float64))
    assert np.all(error <= 1e-6 * marker.norm + 1e-30)
    # what the computing call returns is what a read gives, to the bit (-0.0 is not 0.0)
    assert bits(read_back) == bits(marker.restore(unit))
    assert bits(want_read_back) == bits(want_marker.restore(want_unit))
    assert all(type(x) is float for x in read_back)


def bits(values: list[float]) -> bytes:
    return np.asarray(values, dtype=np.float64).tobytes()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3, width=32), min_size=1, max_size=40),
    st.booleans(),
)
def test_the_read_back_list_reuses_the_given_floats_that_read_back_unchanged(
    components: list[float], normalised: bool
) -> None:
    values = [float(x) for x in components]
    if normalised and any(values):
        norm = float(np.linalg.norm(np.asarray(values, dtype=np.float32).astype(np.float64)))
        values = np.asarray([x / norm for x in values], dtype=np.float32).tolist()
    found = float_list_vector(values, None)
    if found is None:  # all zeros
        return
    _, _, read_back = found
    assert read_back is not values
    for given_float, got in zip(values, read_back):
        same_bits = bits([given_float]) == bits([got])
        assert (got is given_float) == same_bits


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(-1, 1, width=32), min_size=1, max_size=40),
    st.floats(1e-30, 1e30),
)
def test_c_and_numpy_restore_the_same_floats(components: list[float], norm: float) -> None:
    unit = np.asarray(components, dtype=np.float32)
    got = float_list_of(unit, norm)
    assert got == python_float_list_of(unit, norm)
    assert all(type(x) is float for x in got)


def test_restore_reads_a_row_of_a_matrix_and_other_buffers_take_the_numpy_twin() -> None:
    speedups = vector_values._speedups
    assert speedups is not None
    matrix = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert speedups.float_list_of(matrix[1], 2.0) == [8.0, 10.0, 12.0, 14.0]
    with pytest.raises(ValueError, match="contiguous"):
        speedups.float_list_of(matrix[:, 1], 1.0)
    with pytest.raises(TypeError, match="float32"):
        speedups.float_list_of(np.ones(4, dtype=np.float64), 1.0)
    # what the C loop refuses, the wrapper gives back through numpy, never an error
    for odd in (matrix[:, 1], np.ones(3, dtype=">f4"), np.ones(4, dtype=np.float64)):
        assert float_list_of(odd, 2.0) == python_float_list_of(odd, 2.0)


ROUND_TRIP = textwrap.dedent(
    """
    import json, sys
    if sys.argv[1] == "without":
        sys.modules["semcache_core._speedups"] = None  # import fails: the Python twins run
    from semcache_core import SemCache, vector_values
    cache = SemCache()
    original = [0.1 * i - 1.3 for i in range(24)]
    first = cache.get_or_compute("k", lambda key: original)
    again = cache.get_or_compute("k", lambda key: 1 / 0)
    print(json.dumps({
        "accelerated": vector_values._speedups is not None,
        "first": first, "again": again,
        "similar": cache.get_similar(original, 0.99),
    }))
    """
)


def test_the_package_works_without_the_accelerator_and_gives_the_same_values() -> None:
    runs = {}
    for mode in ("with", "without"):
        done = subprocess.run(
            [sys.executable, "-c", ROUND_TRIP, mode],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        runs[mode] = json.loads(done.stdout)
    assert runs["with"]["accelerated"] and not runs["without"]["accelerated"]
    for run in runs.values():
        assert run["first"] == run["again"] == run["similar"]
    assert runs["with"]["first"] == runs["without"]["first"]  # to the bit (review)
