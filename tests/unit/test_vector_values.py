"""Embeddings cached by ``get_or_compute`` are stored once, as their entry's float32 vector.

Round trips (memory, dump/load, durable reopen after a crash) give back the type the
function returned with float32-rounded values; only floats qualify as an embedding;
``index=`` overrides the guess; a snapshot holds each vector once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
from durable_writer import DIM, embedding_for
from float32 import float32_close
from hypothesis import given, settings
from hypothesis import strategies as st

from semcache_core import (
    DimensionMismatchError,
    InvalidArgumentError,
    InvalidValueError,
    InvalidVectorError,
    SemCache,
)
from semcache_core.persist.durable import entry_id
from semcache_core.vector_values import LIST_KIND, VectorValue, list_marker, vector_value_of

WRITER = Path(__file__).with_name("durable_writer.py")
KINDS = ["list", "float16", "float32", "float64"]


def assert_same_kind(got: Any, original: Any) -> None:
    """``got`` has the type the function returned and its values up to float32 rounding."""
    if isinstance(original, np.ndarray):
        assert type(got) is np.ndarray and got.dtype == original.dtype
        assert got.shape == original.shape
    else:
        assert type(got) is list and all(type(x) is float for x in got)
    assert float32_close(got, original)
    assert np.array_equal(np.asarray(got, np.float32), np.asarray(got))  # float32 values


def stored_entries(cache: SemCache, keys: list[str]) -> list[Any]:
    return [cache.get(key) for key in keys]


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_memory_round_trip_gives_back_the_type_the_function_returned(kind: str) -> None:
    cache = SemCache()
    original = embedding_for(1, kind)
    first = cache.get_or_compute("t", lambda key: original)
    assert_same_kind(first, original)
    again = cache.get_or_compute("t", lambda key: pytest.fail("computed twice"))
    assert_same_kind(again, original)
    assert np.array_equal(np.asarray(first), np.asarray(again))  # the miss equals the hits
    assert_same_kind(cache.get("t"), original)
    assert_same_kind(cache.get_entry("t").value, original)
    assert_same_kind(cache.get_many(["t"])[0], original)
    assert_same_kind(cache.get_similar(original, threshold=0.99), original)
    (hit,) = cache.search(original, k=1)
    assert hit.vector is None and hit.key == "t"
    assert_same_kind(hit.value, original)
    if isinstance(original, np.ndarray):  # a fresh copy for each reader
        first[0] = 1e4
        assert cache.get("t")[0] != first[0]


def test_followers_and_async_twins_get_the_same_values() -> None:
    cache = SemCache()

    def compute_many(keys: list[str]) -> list[Any]:
        # "a" is computed by whichever call joins its flight first: the same value either way
        return [embedding_for(2, "list") if k == "a" else embedding_for(3, "float32") for k in keys]

    async def compute() -> list[Any]:
        return await asyncio.gather(
            cache.aget_or_compute("a", lambda key: embedding_for(2, "list")),
            cache.aget_or_compute_many(["b", "a"], compute_many),
        )

    single, many = asyncio.run(compute())
    assert_same_kind(single, embedding_for(2, "list"))
    assert_same_kind(many[0], embedding_for(3, "float32"))
    assert many[1] == single


@pytest.mark.parametrize("kind", KINDS)
def test_dump_and_load_give_back_the_type_and_the_same_values(tmp_path: Path, kind: str) -> None:
    cache = SemCache()
    keys = [f"e{i}" for i in range(20)]
    cache.get_or_compute_many(keys, lambda missing: [embedding_for(i, kind) for i in range(20)])
    before = stored_entries(cache, keys)
    cache.dump(tmp_path / "snap")
    loaded = SemCache()
    loaded.load(tmp_path / "snap")
    after = stored_entries(loaded, keys)
    for i, value in enumerate(after):
        assert_same_kind(value, embedding_for(i, kind))
        assert np.array_equal(np.asarray(value), np.asarray(before[i]))
    assert_same_kind(loaded.get_similar(embedding_for(7, kind), 0.99), embedding_for(7, kind))


@pytest.mark.parametrize("kind", ["list", "float64"])
def test_durable_reopen_after_kill_gives_back_the_type_and_values(
    tmp_path: Path, kind: str
) -> None:
    directory = tmp_path / "cache"
    steps = [["embed", 0, 10, kind], ["ckpt"], ["embed", 10, 20, kind]]  # checkpoint + log
    options = {"interval": None, "steps": steps, "exit": "os_exit"}
    done = subprocess.run(
        [sys.executable, str(WRITER), "write", str(directory), json.dumps(options)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr
    for _ in range(2):  # from the checkpoint + journal, then from the checkpoint closed
        with SemCache(path=directory) as cache:
            for i in range(20):
                assert_same_kind(cache.get(f"e{i}"), embedding_for(i, kind))
            assert cache.get_similar(embedding_for(12, kind), 0.99) is not None


# --- stored once -------------------------------------------------------------------------


def test_a_snapshot_holds_each_embedding_once(tmp_path: Path) -> None:
    n, dim = 500, 256
    rows = np.random.default_rng(5).standard_normal((n, dim))
    cache = SemCache(index="flat")
    keys = [f"k{i:04d}" for i in range(n)]
    for i, key in enumerate(keys):
        cache.get_or_compute(key, lambda _, i=i: rows[i].tolist())
    cache.dump(tmp_path / "snap")
    size = (tmp_path / "snap").stat().st_size
    vectors = n * dim * 4
    # vectors once plus ~40 bytes per entry (key, 18-byte marker, label, ...) and a header
    assert vectors < size < vectors + n * 48 + 4096, size


def test_the_durable_journal_records_the_vector_and_a_small_marker(tmp_path: Path) -> None:
    with SemCache(path=tmp_path / "cache") as cache:
        cache.get_or_compute("e", lambda key: embedding_for(0, "list"))
        record = cache.backend._journal.get("e" + entry_id("", "e"))  # the row of key "e"
    value, _, _, _, vector = msgpack.unpackb(record)
    assert len(value) == 18 and len(vector) == DIM * 4


# --- what qualifies ----------------------------------------------------------------------


def test_a_list_of_ints_is_a_plain_value_and_leaves_the_dimension_unset() -> None:
    cache = SemCache()
    assert cache.get_or_compute("ids", lambda key: [17, 4, 99]) == [17, 4, 99]
    assert cache.dim is None
    cache.put("doc", "some text to embed")  # would fail with the dimension fixed to 3
    assert cache.get_similar("some text to embed", 0.9) == "some text to embed"


floats = st.floats(allow_nan=False, allow_infinity=False, width=32, min_value=-1e6, max_value=1e6)
components = st.one_of(
    floats,
    st.integers(-1000, 1000),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(components, min_size=0, max_size=12))
def test_only_finite_non_zero_lists_of_floats_qualify(values: list[Any]) -> None:
    found = vector_value_of(values, None, None)
    all_floats = bool(values) and all(type(x) is float for x in values)
    with np.errstate(over="ignore"):  # as float32, as the index holds it
        narrow = np.asarray(values, dtype=np.float32) if all_floats else None
    ok = narrow is not None and bool(np.isfinite(narrow).all()) and bool(np.any(narrow != 0))
    assert (found is not None) == ok
    cache = SemCache()
    got = cache.get_or_compute("k", lambda key: values)
    if ok:
        assert found is not None and float32_close(found[0].restore(found[1]), values)
        assert cache.dim == len(values) and float32_close(got, values)
    else:
        assert (cache.dim is None and got == values) or np.array_equal(got, values, equal_nan=True)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["float16", "float32", "float64", "int8", "int64", "bool", "complex64"]),
    st.lists(st.floats(-1e4, 1e4, width=16), min_size=1, max_size=10),
    st.sampled_from([1, 2]),
)
def test_only_1d_float_arrays_qualify(dtype: str, values: list[float], ndim: int) -> None:
    array = np.asarray(values).astype(dtype)
    if ndim == 2:
        array = array[None, :]
    found = vector_value_of(array, None, None)
    qualifies = dtype.startswith("float") and ndim == 1 and bool(np.any(array != 0))
    assert (found is not None) == qualifies
    cache = SemCache()
    got = cache.get_or_compute("k", lambda key: array)
    assert type(got) is np.ndarray and got.dtype == array.dtype and got.shape == array.shape
    if qualifies:
        assert cache.dim == array.size and float32_close(got, array)
    else:
        assert cache.dim is None and np.array_equal(got, array)


def test_a_vector_of_another_dimension_is_a_plain_value() -> None:
    cache = SemCache(dim=4)
    assert cache.get_or_compute("k", lambda key: [1.0, 2.0]) == [1.0, 2.0]
    assert cache.search([1.0, 0.0, 0.0, 0.0], k=5) == []


# --- index= overrides the guess -----------------------------------------------------------


def test_index_false_stores_a_vector_as_a_plain_value_exactly() -> None:
    cache = SemCache()
    value = [0.1, 0.2, 0.3]
    assert cache.get_or_compute("k", lambda key: value, index=False) == value
    assert cache.get("k") == value and cache.dim is None  # exact floats, not indexed


@pytest.mark.parametrize(
    ("result", "error"),
    [
        ([17, 4, 99], InvalidVectorError),
        ([0.0, 0.0], InvalidVectorError),
        ([1.0, float("nan")], InvalidVectorError),
        ("text", InvalidVectorError),
        ([1.0, 2.0, 3.0], DimensionMismatchError),
    ],
    ids=["ints", "zeros", "nan", "str", "dimension"],
)
def test_index_true_refuses_what_is_not_an_embedding_and_stores_nothing(
    result: Any, error: type[Exception]
) -> None:
    cache = SemCache(dim=2)
    with pytest.raises(error):
        cache.get_or_compute("k", lambda key: result, index=True)
    with pytest.raises(error):
        cache.get_or_compute_many(["a", "k"], lambda keys: [[1.0, 0.0], result], index=True)
    assert len(cache) == 0


def test_index_true_indexes_an_embedding_and_many_takes_it_too() -> None:
    cache = SemCache()
    cache.get_or_compute_many(["a"], lambda keys: [np.ones(3, np.float32)], index=True)
    assert cache.search([1.0, 1.0, 1.0], k=1)[0].key == "a"


def test_index_must_be_none_true_or_false() -> None:
    cache = SemCache()
    with pytest.raises(InvalidArgumentError):
        cache.get_or_compute("k", lambda key: [1.0], index="yes")  # type: ignore[arg-type]
    assert len(cache) == 0


# --- the marker cannot be forged ----------------------------------------------------------


def test_msgpack_ext_values_are_refused() -> None:
    cache = SemCache()
    forged = msgpack.ExtType(2, VectorValue("list", 1.0).payload())
    with pytest.raises(InvalidValueError):
        cache.set("k", forged)
    assert len(cache) == 0


@given(
    code=st.integers(0, 127).filter(lambda c: c != 1),
    data=st.binary(max_size=12),
    wrap=st.sampled_from([lambda x: [x], lambda x: {"a": [0, x]}, lambda x: [{"b": x}]]),
)
def test_a_raw_msgpack_ext_inside_a_value_is_refused_at_any_depth(
    code: int, data: bytes, wrap: Any
) -> None:
    """Found by review: only a whole-value ExtType was refused; one inside a list was
    stored and read back as a raw ExtType (code 2: as a VectorValue marker object)."""
    cache = SemCache()
    with pytest.raises(InvalidValueError, match=f"extension type {code}"):
        cache.set("k", wrap(msgpack.ExtType(code, data)))
    assert len(cache) == 0
    cache.set("k", wrap(np.arange(3)))  # an ndarray is the extension a value may hold
    assert np.array_equal(_only_array(cache.get("k")), np.arange(3))


def _only_array(value: Any) -> Any:
    while not isinstance(value, np.ndarray):
        value = value[-1] if isinstance(value, list) else next(iter(value.values()))
    return value


@pytest.mark.parametrize("kind", ["list", "<f4", "<f8"])
def test_a_marker_given_as_a_value_is_refused_and_nothing_changes(kind: str) -> None:
    cache = SemCache()
    cache.set("kept", "v")
    marker = VectorValue(kind, 1.0)
    for write in (
        lambda: cache.set("k", marker),
        lambda: cache.set_many({"k": marker}),
        lambda: cache.get_or_compute("k", lambda key: marker),
        lambda: cache.set("k", [1.0, marker]),  # read back as the marker object itself
        lambda: cache.set("k", {"inner": marker}),
    ):
        with pytest.raises(InvalidValueError, match="VectorValue"):
            write()
    assert len(cache) == 1 and cache.get("kept") == "v"


@settings(max_examples=200)
@given(norm=st.floats(min_value=5e-324, max_value=1.7e308, allow_infinity=False))
def test_list_marker_is_the_dataclasss_marker_and_its_encoding(norm: float) -> None:
    """The one-step write's fast marker: equal, hashed and encoded as the dataclass makes
    it, decoded back the same, and just as frozen."""
    marker, value = list_marker(norm)
    want = VectorValue(LIST_KIND, norm)
    assert marker == want and hash(marker) == hash(want) and repr(marker) == repr(want)
    assert value == want.encode()
    assert VectorValue.from_payload(value[2:]) == want
    with pytest.raises(dataclasses.FrozenInstanceError):
        marker.norm = 1.0  # type: ignore[misc]
