"""Whatever ``set()`` accepts reads back, dumps and loads; whatever it cannot is refused.

Hypothesis generates values, metadata, keys and namespaces from a space wider than what the
cache stores (tuple dict keys, nested non-``str`` metadata keys, lone surrogates, sets,
huge ints). Each is either stored, and then ``get``, a filtered search, ``dump`` and
``load`` (in memory and durable) all give it back, or refused at ``set()`` with a typed
error while the cache stays exactly as it was.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from semcache_core import (
    Filter,
    InvalidArgumentError,
    InvalidKeyError,
    InvalidValueError,
    InvalidVectorError,
    SemCache,
    SemCacheError,
)

TEXT = st.text(
    st.characters(codec=None, exclude_categories=()), max_size=6
)  # lone surrogates included
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    TEXT,
    st.binary(max_size=6),
)
ARRAYS = st.one_of(
    hnp.arrays(
        st.sampled_from([np.int64, np.float32, np.float64]),
        hnp.array_shapes(min_dims=0, max_dims=2, max_side=3),
        elements={"allow_nan": False, "min_value": -100, "max_value": 100},
    ),
    st.builds(  # a masked array reads back without its mask: it must be refused
        lambda data, mask: np.ma.array(data, mask=mask),
        hnp.arrays(np.float64, 3, elements={"min_value": -100, "max_value": 100}),
        st.lists(st.booleans(), min_size=3, max_size=3),
    ),
)
HASHABLE_KEYS = st.one_of(
    TEXT,
    st.integers(-100, 100),
    st.booleans(),
    st.none(),
    st.binary(max_size=3),
    st.tuples(st.integers(0, 3), TEXT),  # msgpack writes it as a list: cannot read back
    st.frozensets(st.integers(0, 3), max_size=2),
)
VALUES = st.recursive(
    st.one_of(SCALARS, ARRAYS),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(HASHABLE_KEYS, inner, max_size=3),
        st.sets(st.integers(0, 3), max_size=2),
    ),
    max_leaves=8,
)
METADATA = st.dictionaries(
    st.one_of(TEXT, st.integers(0, 3)),
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), TEXT),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(HASHABLE_KEYS, inner, max_size=2)
        ),
        max_leaves=5,
    ),
    max_size=3,
)
KEYS = st.one_of(TEXT, st.integers(0, 3))
NAMESPACES = st.one_of(st.none(), TEXT)
VECTOR = np.array([1.0, 0.5, 0.25], dtype=np.float32)
REFUSALS = (InvalidKeyError, InvalidValueError, InvalidArgumentError)


def _normal(value: Any) -> Any:
    """What a read gives back for ``value``: tuples as lists (documented), the rest alike."""
    if isinstance(value, (list, tuple)):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


def _observable(cache: SemCache) -> tuple:
    names = cache.namespaces()
    keys = [(name, key) for name in names for key in cache.scan(namespace=name)]
    return (
        len(cache),
        keys,
        [repr(cache.get_entry(key, namespace=name)) for name, key in keys],
        [
            (h.namespace, h.key, repr(h.value))
            for name in names
            for h in cache.search(VECTOR, k=50, namespace=name)
        ],
    )


def _equal(got: Any, expected: Any) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(got, float) and math.isnan(got)
    return repr(got) == repr(expected)  # tells 1 from 1.0 and True, as a round trip keeps


def _reads_back(cache: SemCache, key: str, value: Any, metadata: Any, namespace: Any) -> None:
    expected = _normal(value)
    assert _equal(cache.get(key, namespace=namespace or ""), expected)
    entry = cache.get_entry(key, namespace=namespace or "")
    assert entry is not None and entry.metadata == (metadata or {})
    assert entry.namespace == (namespace or "")
    for name in [n for n in (metadata or {}) if n][:2]:  # filtered searches of it work
        cache.search(VECTOR, k=5, namespace=namespace, filters=Filter(name, "!=", 0))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=KEYS, value=VALUES, metadata=st.one_of(st.none(), METADATA), namespace=NAMESPACES)
def test_set_either_stores_what_reads_dumps_and_loads_or_refuses(
    tmp_path_factory: pytest.TempPathFactory, key: Any, value: Any, metadata: Any, namespace: Any
) -> None:
    cache = SemCache()
    cache.set("other", {"kept": [1, 2]}, vector=VECTOR, metadata={"m": 1})
    before = _observable(cache)
    try:
        cache.set(key, value, vector=VECTOR, metadata=metadata, namespace=namespace)
    except REFUSALS as exc:
        assert isinstance(exc, SemCacheError)
        assert _observable(cache) == before  # nothing stored
        return
    _reads_back(cache, key, value, metadata, namespace)

    path = tmp_path_factory.mktemp("snap") / "cache.snap"
    cache.dump(path)
    loaded = SemCache.from_snapshot(path)
    _reads_back(loaded, key, value, metadata, namespace)
    assert _observable(loaded) == _observable(cache)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=KEYS, value=VALUES, metadata=st.one_of(st.none(), METADATA), namespace=NAMESPACES)
def test_durable_set_either_survives_a_reopen_or_refuses(
    tmp_path_factory: pytest.TempPathFactory, key: Any, value: Any, metadata: Any, namespace: Any
) -> None:
    directory: Path = tmp_path_factory.mktemp("durable")
    with SemCache(path=directory) as cache:
        try:
            cache.set(key, value, vector=VECTOR, metadata=metadata, namespace=namespace)
        except REFUSALS:
            assert len(cache) == 0
            stored = False
        else:
            stored = True
    with SemCache(path=directory) as reopened:
        if not stored:
            assert len(reopened) == 0
            return
        _reads_back(reopened, key, value, metadata, namespace)


# --- the cases the review found, by name ------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [{(1, 2): 3}, [{"a": {("x",): 1}}], {"k": {(1,): [1]}}],
    ids=["top", "in-list", "nested"],
)
def test_a_dict_with_tuple_keys_is_refused_at_set(value: Any, tmp_path: Path) -> None:
    cache = SemCache()
    with pytest.raises(InvalidValueError, match="would not read back") as info:
        cache.set("k", value)
    assert isinstance(info.value, TypeError)
    assert "tuple" in str(info.value)
    assert cache.get("k") is None and len(cache) == 0
    cache.dump(tmp_path / "s")  # the cache stays dumpable and loadable
    SemCache.from_snapshot(tmp_path / "s")


def test_a_durable_cache_refuses_tuple_keys_and_reopens_from_its_checkpoint(tmp_path: Path):
    with SemCache(path=tmp_path / "d") as cache:
        cache.set("good", {"a": 1})
        with pytest.raises(InvalidValueError):
            cache.set("bad", {(1, 2): 3})
    with SemCache(path=tmp_path / "d") as reopened:
        assert reopened.scan() == ["good"] and reopened.get("good") == {"a": 1}


@pytest.mark.parametrize(
    "metadata",
    [{"a": {1: "x"}}, {"a": [{"b": {None: 1}}]}, {"a": {(1,): 2}}],
    ids=["int", "none-in-list", "tuple"],
)
def test_metadata_with_a_nested_non_str_key_is_refused(metadata: dict) -> None:
    cache = SemCache()
    cache.set("fine", 1, vector=VECTOR, metadata={"a": {"b": 1}})
    with pytest.raises(InvalidValueError, match="metadata cannot be stored") as info:
        cache.set("bad", 1, vector=VECTOR, metadata=metadata)
    assert "str at every level" in str(info.value)
    assert cache.scan() == ["fine"]
    assert [h.key for h in cache.search(VECTOR, filters={"a": {"$ne": 0}})] == ["fine"]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c: c.set("\ud800", 1), InvalidKeyError),
        (lambda c: c.set("ok\udfff", 1, vector=VECTOR), InvalidKeyError),
        (lambda c: c.set_many({"a": 1, "\ud800": 2}), InvalidKeyError),
        (lambda c: c.put("\ud800", "text"), InvalidKeyError),
        (lambda c: c.get_or_compute("\ud800", lambda k: 1), InvalidKeyError),
        (lambda c: c.get_or_compute_many(["a", "\ud800"], lambda ks: [1, 2]), InvalidKeyError),
        (lambda c: c.set("k", 1, namespace="\ud800"), InvalidArgumentError),
        (lambda c: c.set("k", 1, metadata={"a": "\ud800"}), InvalidValueError),
        (lambda c: c.set("k", 1, metadata={"\ud800": 1}), InvalidValueError),
        (lambda c: c.set("k", "\ud800"), InvalidValueError),
    ],
    ids=[
        "key",
        "key-end",
        "set_many",
        "put",
        "get_or_compute",
        "get_or_compute_many",
        "namespace",
        "metadata-value",
        "metadata-key",
        "value",
    ],
)
def test_lone_surrogates_are_refused_and_dump_keeps_working(
    call: Any, error: type[SemCacheError], tmp_path: Path
) -> None:
    cache = SemCache()
    cache.set("a", "kept")
    with pytest.raises(error, match="surrogate"):
        call(cache)
    assert cache.scan() == ["a"]
    cache.dump(tmp_path / "s")
    assert SemCache.from_snapshot(tmp_path / "s").get("a") == "kept"


def test_reads_with_a_lone_surrogate_key() -> None:
    cache = SemCache()
    with pytest.raises(InvalidKeyError, match="surrogate"):
        cache.get("\ud800")  # non-ASCII keys are checked on the get path too
    with pytest.raises(InvalidKeyError, match="surrogate"):
        cache.exists("\ud800")
    assert cache.get("caf\u00e9", 5) == 5  # valid non-ASCII text is fine


READS_IN_A_NAMESPACE = {
    "get": lambda c, ns: c.get("k", "default", namespace=ns),
    "aget": lambda c, ns: asyncio.run(c.aget("k", "default", namespace=ns)),
    "get_entry": lambda c, ns: c.get_entry("k", namespace=ns),
    "exists": lambda c, ns: c.exists("k", namespace=ns),
    "get_many": lambda c, ns: c.get_many(["k"], namespace=ns),
    "aget_many": lambda c, ns: asyncio.run(c.aget_many(["k"], namespace=ns)),
    "get_or_compute": lambda c, ns: c.get_or_compute("k", lambda key: 1, namespace=ns),
    "delete": lambda c, ns: c.delete("k", namespace=ns),
    "touch": lambda c, ns: c.touch("k", 5, namespace=ns),
    "scan": lambda c, ns: c.scan(namespace=ns),
    "scan prefix": lambda c, ns: c.scan(ns),  # the generated text as a key prefix
    "search": lambda c, ns: c.search(VECTOR, namespace=ns),
}


@pytest.mark.parametrize(
    "call", list(READS_IN_A_NAMESPACE.values()), ids=list(READS_IN_A_NAMESPACE)
)
@settings(max_examples=10, deadline=None, derandomize=True, database=None)
@given(
    before=st.text(max_size=4),
    surrogate=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    after=st.text(max_size=4),
)
def test_every_call_refuses_a_namespace_with_a_lone_surrogate(
    call: Any, before: str, surrogate: str, after: str
) -> None:
    """``get`` and ``aget`` took it (their fast path checked only that it was a str) and
    answered the default, where every other call refused it."""
    cache = SemCache()
    cache.set("k", 1, vector=VECTOR)
    with pytest.raises(InvalidArgumentError, match="surrogate"):
        call(cache, before + surrogate + after)
    assert cache.get("k") == 1 and len(cache) == 1


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(
    data=hnp.arrays(np.float32, 3, elements={"min_value": 0.5, "max_value": 2.0}),
    mask=st.lists(st.booleans(), min_size=3, max_size=3),
)
def test_a_masked_array_is_no_vector_and_no_embedding(data: np.ndarray, mask: list[bool]) -> None:
    """Its masked components have no value: taking the data behind them as a vector, or
    storing it as an embedding, would index numbers the caller masked out."""
    masked = np.ma.array(data, mask=mask)
    cache = SemCache()
    cache.set("other", 1, vector=VECTOR)
    before = _observable(cache)
    with pytest.raises(InvalidVectorError, match="masked"):
        cache.set("v", 1, vector=masked)
    with pytest.raises(InvalidVectorError, match="masked"):
        cache.search(masked)
    with pytest.raises(InvalidValueError, match="masked"):
        cache.get_or_compute("g", lambda key: masked)
    with pytest.raises(InvalidVectorError, match="masked"):
        cache.get_or_compute("g", lambda key: masked, index=True)
    assert _observable(cache) == before
