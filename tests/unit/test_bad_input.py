"""Every bad input raises a typed error, names what was wrong, and changes nothing.

Each error must be a :class:`SemCacheError` *and* the builtin the error hierarchy documents
(``TypeError`` or ``ValueError``), so callers catching either keep working.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from semcache_core import (
    DimensionMismatchError,
    Filter,
    FilterError,
    FilterGroup,
    FilterValueError,
    InvalidArgumentError,
    InvalidKeyError,
    InvalidValueError,
    InvalidVectorError,
    LocalBackend,
    SemCache,
    SemCacheError,
    UnknownOperatorError,
)

DIM = 8
RNG_SEED = 1234


def _vectors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(RNG_SEED)
    return {f"v{i}": rng.standard_normal(DIM).astype(np.float32) for i in range(12)}


VECTORS = _vectors()
QUERIES = np.random.default_rng(RNG_SEED + 1).standard_normal((3, DIM))


@pytest.fixture
def cache() -> SemCache:
    cache = SemCache()
    for i, (key, v) in enumerate(VECTORS.items()):
        cache.set(
            key,
            {"i": i, "list": [i, str(i)]},
            vector=v,
            metadata={"i": i, "tag": "even" if i % 2 == 0 else "odd"},
            namespace="" if i < 9 else "other",
        )
    cache.set("plain", "just text")
    cache.set("bytes", b"\x00\x01")
    return cache


def snapshot(cache: SemCache) -> tuple:
    """Everything observable: size, keys of every namespace, values, entries and search
    answers."""
    keys = [(ns, key) for ns in cache.namespaces() for key in cache.scan(namespace=ns)]
    values = [(ns, key, repr(cache.get(key, namespace=ns))) for ns, key in keys]
    entries = [cache.get_entry(key, namespace=ns) for ns, key in keys]
    searches = []
    for namespace in ("", "other"):
        for query in QUERIES:
            hits = cache.search(query, k=20, namespace=namespace)
            searches.append([(h.key, h.score, repr(h.value), h.metadata) for h in hits])
    dims = [cache.dim_of(ns) for ns in ("", "other", "fresh")]
    return len(cache), keys, values, repr(entries), searches, cache.dim, dims


def assert_rejected(
    cache: SemCache,
    call: Callable[[SemCache], Any],
    error: type[SemCacheError],
    builtin: type[Exception],
    *fragments: str,
) -> SemCacheError:
    before = snapshot(cache)
    with pytest.raises(error) as info:
        call(cache)
    exc = info.value
    assert isinstance(exc, SemCacheError)
    assert isinstance(exc, builtin)
    message = str(exc)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert snapshot(cache) == before
    return exc


def test_fixture_is_what_the_snapshot_expects(cache: SemCache) -> None:
    size, keys, _, _, searches, dim, dims = snapshot(cache)
    assert size == len(keys) == 14
    assert ("", "plain") in keys and sum(ns == "other" for ns, _ in keys) == 3
    assert len(searches[0]) == 9
    assert len(searches[-1]) == 3
    assert dim == DIM and dims == [DIM, DIM, None]


# --- vectors ---------------------------------------------------------------------------------

WRONG_DIM = np.ones(DIM - 3)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.set("new", 1, vector=WRONG_DIM),
        lambda c: c.set("v0", "replaced", vector=WRONG_DIM),
        lambda c: c.search(WRONG_DIM),
        lambda c: c.search(WRONG_DIM, namespace="other"),
        lambda c: c.search_batch([QUERIES[0], WRONG_DIM]),
        lambda c: c.search_batch(np.ones((2, DIM - 3))),
        lambda c: c.get_similar(WRONG_DIM),
    ],
    ids=[
        "set-new",
        "set-existing",
        "search",
        "search-ns",
        "batch-list",
        "batch-matrix",
        "get_similar",
    ],
)
def test_wrong_dimension_names_both_dimensions(cache: SemCache, call) -> None:
    exc = assert_rejected(
        cache,
        call,
        DimensionMismatchError,
        ValueError,
        f"dimension {DIM - 3}",
        f"dimension {DIM}",
    )
    assert isinstance(exc, InvalidVectorError)
    assert (exc.expected, exc.got) == (DIM, DIM - 3)


def test_a_new_namespace_takes_its_own_dimension(cache: SemCache) -> None:
    """Not bad input any more: a namespace's first vector fixes that namespace's dimension
    only (``dim=`` would fix every namespace's), and the others keep theirs."""
    _, keys, values, entries, searches, _, _ = snapshot(cache)
    cache.set("new", 1, vector=list(WRONG_DIM), namespace="fresh")
    assert (cache.dim_of(""), cache.dim_of("other"), cache.dim_of("fresh")) == (DIM, DIM, DIM - 3)
    assert cache.dim is None  # the namespaces holding vectors no longer share one
    assert [h.key for h in cache.search(WRONG_DIM, namespace="fresh")] == ["new"]
    cache.delete("new", namespace="fresh")  # emptied: back to what it was
    assert snapshot(cache)[1:5] == (keys, values, entries, searches)
    assert cache.dim == DIM and cache.dim_of("fresh") is None
    fixed = SemCache(dim=DIM)
    with pytest.raises(DimensionMismatchError):
        fixed.set("new", 1, vector=WRONG_DIM, namespace="fresh")
    assert fixed.namespaces() == [] and fixed.dim_of("fresh") == DIM


def test_put_with_an_embedder_of_another_dimension(cache: SemCache) -> None:
    # the default HashingEmbedder makes 256-d vectors; this cache holds 8-d ones
    assert_rejected(
        cache,
        lambda c: c.put("text", "some text"),
        DimensionMismatchError,
        ValueError,
        "dimension 256",
        f"dimension {DIM}",
    )
    assert_rejected(
        cache,
        lambda c: c.search("some text"),
        DimensionMismatchError,
        ValueError,
        "dimension 256",
    )


def test_fixed_dim_is_enforced_before_the_first_vector() -> None:
    cache = SemCache(dim=4)
    cache.set("k", "v")
    with pytest.raises(DimensionMismatchError, match="dimension 3") as info:
        cache.set("x", 1, vector=[1.0, 2.0, 3.0])
    assert isinstance(info.value, ValueError)
    assert "dimension 4" in str(info.value)
    assert cache.scan() == ["k"]
    assert cache.search([1.0, 0.0, 0.0, 0.0]) == []


def _with(index: int, value: float) -> np.ndarray:
    v = np.ones(DIM)
    v[index] = value
    return v


@pytest.mark.parametrize(
    "bad",
    [_with(0, math.nan), _with(3, math.inf), _with(DIM - 1, -math.inf)],
    ids=["nan", "inf", "-inf"],
)
@pytest.mark.parametrize(
    "use",
    [
        lambda c, v: c.set("new", 1, vector=v),
        lambda c, v: c.set("v1", "replaced", vector=list(v)),
        lambda c, v: c.search(v),
        lambda c, v: c.search_batch([QUERIES[0], v]),
        lambda c, v: c.search_batch(np.stack([QUERIES[0], v])),
        lambda c, v: c.get_similar(v, threshold=0.0),
    ],
    ids=["set", "set-existing", "search", "batch-list", "batch-matrix", "get_similar"],
)
def test_non_finite_components(cache: SemCache, bad: np.ndarray, use) -> None:
    assert_rejected(cache, lambda c: use(c, bad), InvalidVectorError, ValueError, "NaN or inf")


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.set("new", 1, vector=_with(2, 1e39)),
        lambda c: c.set("v1", 1, vector=_with(2, -1e300)),
        lambda c: c.search(_with(0, 1e39)),
    ],
    ids=["set", "set-existing", "search"],
)
def test_component_beyond_float32_range(cache: SemCache, call) -> None:
    """Finite in float64 but not representable in float32: still a typed vector error."""
    assert_rejected(cache, call, InvalidVectorError, ValueError)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.set("new", 1, vector=np.zeros(DIM)),
        lambda c: c.set("v2", 1, vector=[0] * DIM),
        lambda c: c.search(np.zeros(DIM)),
        lambda c: c.search_batch(np.zeros((2, DIM))),
        lambda c: c.get_similar([0.0] * DIM, threshold=0.0),
    ],
    ids=["set", "set-existing", "search", "batch", "get_similar"],
)
def test_all_zero_vector(cache: SemCache, call) -> None:
    assert_rejected(cache, call, InvalidVectorError, ValueError, "all zeros")


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.set("new", 1, vector=np.ones((2, DIM))),
        lambda c: c.set("v3", 1, vector=np.ones((1, DIM))),
        lambda c: c.set("new", 1, vector=[[1.0] * DIM]),
        lambda c: c.search(np.ones((1, DIM))),
    ],
    ids=["2x8", "1x8-existing", "nested-list", "search-2d"],
)
def test_two_dimensional_vector(cache: SemCache, call) -> None:
    assert_rejected(cache, call, InvalidVectorError, ValueError, "1-D")


def test_a_batch_of_queries_given_as_one_vector_is_refused(cache: SemCache) -> None:
    """A 1-D array is not taken for a batch of 1-element queries (which said "all zeros"
    on one backend and "dimension" on another)."""
    assert_rejected(
        cache, lambda c: c.search_batch(np.ones(DIM)), InvalidVectorError, ValueError, "2-D"
    )


@pytest.mark.parametrize(
    "vector",
    [["a"] * DIM, "abcdefgh", np.array([True] * DIM), [], [None] * DIM],
    ids=["strs", "str", "bools", "empty", "nones"],
)
def test_non_numeric_or_empty_vector(cache: SemCache, vector: Any) -> None:
    assert_rejected(cache, lambda c: c.set("new", 1, vector=vector), InvalidVectorError, ValueError)


# --- keys ------------------------------------------------------------------------------------

KEY_CALLS = {
    "get": lambda c, key: c.get(key),
    "get-default": lambda c, key: c.get(key, "default"),
    "set": lambda c, key: c.set(key, "value"),
    "set-vector": lambda c, key: c.set(key, "value", vector=np.ones(DIM)),
    "delete": lambda c, key: c.delete(key),
    "exists": lambda c, key: c.exists(key),
    "in": lambda c, key: key in c,
    "put": lambda c, key: c.put(key, "text"),
    "get_entry": lambda c, key: c.get_entry(key),
    "put_json": lambda c, key: c.put_json(key, {"a": 1}),
    "put_string": lambda c, key: c.put_string(key, "s"),
    "get_json": lambda c, key: c.get_json(key),
    "get_string": lambda c, key: c.get_string(key),
}


@pytest.mark.parametrize("key", [1, b"v0", None], ids=["int", "bytes", "None"])
@pytest.mark.parametrize("call", list(KEY_CALLS.values()), ids=list(KEY_CALLS))
def test_non_str_key(cache: SemCache, call, key: Any) -> None:
    assert_rejected(
        cache, lambda c: call(c, key), InvalidKeyError, TypeError, "str", type(key).__name__
    )


@pytest.mark.parametrize("key", [1, b"v0", None], ids=["int", "bytes", "None"])
def test_non_str_key_for_get_or_compute_never_calls_fn(cache: SemCache, key: Any) -> None:
    calls = []
    assert_rejected(
        cache,
        lambda c: c.get_or_compute(key, calls.append),
        InvalidKeyError,
        TypeError,
        "str",
        type(key).__name__,
    )
    assert calls == []


@pytest.mark.parametrize("key", [1, b"v0", None], ids=["int", "bytes", "None"])
async def test_non_str_key_async(cache: SemCache, key: Any) -> None:
    calls = []
    for coro_fn in (
        lambda: cache.aget(key),
        lambda: cache.aset(key, 1),
        lambda: cache.adelete(key),
        lambda: cache.aexists(key),
        lambda: cache.aput(key, "text"),
        lambda: cache.aget_or_compute(key, calls.append),
    ):
        before = snapshot(cache)
        with pytest.raises(InvalidKeyError, match=type(key).__name__) as info:
            await coro_fn()
        assert isinstance(info.value, TypeError)
        assert snapshot(cache) == before
    assert calls == []


# --- k and threshold -------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, -1, 1.5, True, "3", None], ids=repr)
@pytest.mark.parametrize(
    "call",
    [
        lambda c, k: c.search(QUERIES[0], k=k),
        lambda c, k: c.search(QUERIES[0], k),
        lambda c, k: c.search_batch(QUERIES, k=k),
        lambda c, k: c.search_batch([QUERIES[0]], k=k),
        lambda c, k: c.search(QUERIES[0], k=k, filters={"tag": "odd"}),
    ],
    ids=["search", "search-positional", "batch-matrix", "batch-list", "filtered"],
)
def test_bad_k(cache: SemCache, call, k: Any) -> None:
    assert_rejected(cache, lambda c: call(c, k), InvalidArgumentError, ValueError, "k", repr(k))


@pytest.mark.parametrize("threshold", [1.5, -1.01, math.nan, math.inf, True, "0.5"], ids=repr)
@pytest.mark.parametrize(
    "call",
    [
        lambda c, t: c.search(QUERIES[0], threshold=t),
        lambda c, t: c.search_batch(QUERIES, threshold=t),
        lambda c, t: c.get_similar(QUERIES[0], threshold=t),
        lambda c, t: c.get_similar(QUERIES[0], t),
    ],
    ids=["search", "batch", "get_similar", "get_similar-positional"],
)
def test_bad_threshold(cache: SemCache, call, threshold: Any) -> None:
    assert_rejected(
        cache, lambda c: call(c, threshold), InvalidArgumentError, ValueError, "threshold"
    )


def test_bad_threshold_does_not_count_a_semantic_lookup(cache: SemCache) -> None:
    with pytest.raises(InvalidArgumentError):
        cache.get_similar(QUERIES[0], threshold=2.0)
    stats = cache.stats()
    assert (stats.semantic_hits, stats.semantic_misses) == (0, 0)


# --- filters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filters",
    [
        {"$foo": 1},
        {"$foo": [{"tag": "odd"}]},
        {"tag": {"$foo": 1}},
        {"tag": {"$gte": 1, "$bar": 2}},
    ],
    ids=["top-level", "top-level-list", "field", "second-op"],
)
def test_unknown_operator_in_dict_filters(cache: SemCache, filters: dict) -> None:
    fragment = "bar" if "$bar" in str(filters) else "foo"
    exc = assert_rejected(
        cache,
        lambda c: c.search(QUERIES[0], filters=filters),
        UnknownOperatorError,
        ValueError,
        fragment,
        "unknown",
    )
    assert isinstance(exc, FilterError)


def test_unknown_operator_in_filter_object() -> None:
    with pytest.raises(UnknownOperatorError, match="foo") as info:
        Filter("a", "foo", 1)
    assert isinstance(info.value, FilterError)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, SemCacheError)
    assert "unknown" in str(info.value)


def test_unknown_condition_in_filter_group() -> None:
    with pytest.raises(UnknownOperatorError, match="xor") as info:
        FilterGroup((Filter("a", "==", 1),), "xor")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("op", "value", "fragment"),
    [
        ("in", 5, "list"),
        ("in", "abc", "list"),
        ("nin", 5, "list"),
        ("any", "x", "list"),
        ("all", 3, "list"),
        ("in", [[1, 2]], "list"),
        (">", [1, 2], "number"),
        (">=", {"a": 1}, "number"),
        ("<", None, "number"),
        ("<=", True, "number"),
        ("text_match", 5, "str"),
        ("text_match_insensitive", ["a"], "str"),
        ("contains", [1], "str"),
        ("==", {"a": 1}, "str"),
        ("!=", object(), "str"),
    ],
    ids=lambda x: None,
)
def test_filter_value_of_the_wrong_type(cache: SemCache, op: str, value: Any, fragment: str):
    def check(exc: BaseException) -> None:
        assert isinstance(exc, FilterValueError)
        assert isinstance(exc, FilterError)
        assert isinstance(exc, SemCacheError)
        assert isinstance(exc, TypeError)
        message = str(exc)
        assert op in message
        assert "'tag'" in message
        assert fragment in message
        assert type(value).__name__ in message

    with pytest.raises(FilterValueError) as info:
        Filter("tag", op, value)
    check(info.value)

    dict_op = {
        "in": "$in",
        "nin": "$nin",
        "any": "$any",
        "all": "$all",
        ">": "$gt",
        ">=": "$gte",
        "<": "$lt",
        "<=": "$lte",
        "text_match": "$text_match",
        "contains": "$contains",
        "text_match_insensitive": "$text_match_insensitive",
        "==": "$eq",
        "!=": "$ne",
    }[op]
    exc = assert_rejected(
        cache,
        lambda c: c.search(QUERIES[0], filters={"tag": {dict_op: value}}),
        FilterValueError,
        TypeError,
    )
    check(exc)


@pytest.mark.parametrize(
    ("filters", "fragment"),
    [
        (["tag", "odd"], "list"),
        ("tag == odd", "str"),
        ({"$and": {"tag": "odd"}}, "$and"),
        ({"tag": {"eq": "odd"}}, "'eq'"),
        ({"tag": {}}, "tag"),
        ({1: "odd"}, "1"),
    ],
    ids=["list", "str", "and-not-list", "op-without-dollar", "no-op", "int-key"],
)
def test_malformed_filters(cache: SemCache, filters: Any, fragment: str) -> None:
    assert_rejected(
        cache,
        lambda c: c.search(QUERIES[0], filters=filters),
        FilterError,
        ValueError,
        fragment,
    )


def test_bad_filter_key() -> None:
    for key in ("", 5, None):
        with pytest.raises(FilterValueError, match="key") as info:
            Filter(key, "==", 1)  # type: ignore[arg-type]
        assert isinstance(info.value, TypeError)


def test_filter_group_rejects_non_filters() -> None:
    with pytest.raises(FilterValueError, match="FilterGroup") as info:
        FilterGroup(({"tag": "odd"},))  # type: ignore[arg-type]
    assert isinstance(info.value, TypeError)


# --- values and metadata ---------------------------------------------------------------------


class Custom:
    pass


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (object(), "object"),
        ({1, 2}, "set"),
        (frozenset({1}), "frozenset"),
        (Custom(), "Custom"),
        ({"nested": [1, {2, 3}]}, "set"),
        (np.array(["a", "b"]), "dtype"),
        (np.array([object()], dtype=object), "dtype"),
        (2**70, "int"),
    ],
    ids=["object", "set", "frozenset", "custom", "nested-set", "str-array", "obj-array", "bigint"],
)
@pytest.mark.parametrize(
    "call",
    [
        lambda c, v: c.set("new", v),
        lambda c, v: c.set("plain", v),
        lambda c, v: c.set("v4", v, vector=np.ones(DIM)),
    ],
    ids=["new", "existing", "existing-with-vector"],
)
def test_unstorable_value(cache: SemCache, call, value: Any, fragment: str) -> None:
    assert_rejected(
        cache, lambda c: call(c, value), InvalidValueError, TypeError, "cannot be stored"
    )
    with pytest.raises(InvalidValueError, match=fragment):
        call(cache, value)


def test_unstorable_result_of_get_or_compute(cache: SemCache) -> None:
    assert_rejected(
        cache,
        lambda c: c.get_or_compute("new", lambda key: object()),
        InvalidValueError,
        TypeError,
        "object",
    )


@pytest.mark.parametrize(
    ("metadata", "fragments"),
    [
        ([("a", 1)], ("metadata must be a dict", "list")),
        ("a=1", ("metadata must be a dict", "str")),
        (5, ("metadata must be a dict", "int")),
        ({1: "x"}, ("metadata keys must be str", "1")),
        ({"ok": 1, None: 2}, ("metadata keys must be str", "None")),
        ({"a": object()}, ("metadata cannot be stored",)),
        ({"a": {1, 2}}, ("metadata cannot be stored",)),
    ],
    ids=["list", "str", "int", "int-key", "none-key", "object-value", "set-value"],
)
@pytest.mark.parametrize(
    "call",
    [
        lambda c, m: c.set("new", 1, metadata=m),
        lambda c, m: c.set("v5", 1, vector=np.ones(DIM), metadata=m),
        lambda c, m: c.put_json("new", {"a": 1}, metadata=m),
        lambda c, m: c.put_string("plain", "s", metadata=m),
        lambda c, m: c.get_or_compute("new", lambda key: 1, metadata=m),
    ],
    ids=["set", "set-existing", "put_json", "put_string", "get_or_compute"],
)
def test_bad_metadata(cache: SemCache, call, metadata: Any, fragments: tuple[str, ...]) -> None:
    assert_rejected(cache, lambda c: call(c, metadata), InvalidValueError, TypeError, *fragments)


def test_bad_metadata_for_put() -> None:
    cache = SemCache()
    cache.put("a", "first text")
    before = (cache.scan(), cache.get("a"), [h.key for h in cache.search("first text")])
    with pytest.raises(InvalidValueError, match="metadata must be a dict") as info:
        cache.put("b", "second text", metadata=["x"])  # type: ignore[arg-type]
    assert isinstance(info.value, TypeError)
    assert (cache.scan(), cache.get("a"), [h.key for h in cache.search("first text")]) == before


@pytest.mark.parametrize(
    "value",
    [123, b"bytes", None, ["text"], {"t": "x"}],
    ids=["int", "bytes", "None", "list", "dict"],
)
def test_put_with_a_non_str_value(value: Any) -> None:
    cache = SemCache()
    cache.put("a", "first text")
    before = (cache.scan(), cache.get("a"), [h.key for h in cache.search("first text")])
    for call in (lambda: cache.put("b", value), lambda: cache.put("a", value)):
        with pytest.raises(InvalidValueError) as info:
            call()
        assert isinstance(info.value, TypeError)
        assert "str" in str(info.value)
        assert type(value).__name__ in str(info.value)
        assert (cache.scan(), cache.get("a"), [h.key for h in cache.search("first text")]) == before


async def test_aput_with_a_non_str_value() -> None:
    cache = SemCache()
    await cache.aput("a", "first text")
    with pytest.raises(InvalidValueError, match="int") as info:
        await cache.aput("a", 5)  # type: ignore[arg-type]
    assert isinstance(info.value, TypeError)
    assert cache.get("a") == "first text"


def test_put_string_with_a_non_str_value(cache: SemCache) -> None:
    assert_rejected(
        cache, lambda c: c.put_string("plain", 42), InvalidValueError, TypeError, "str", "int"
    )


def test_put_json_with_an_unserialisable_object(cache: SemCache) -> None:
    assert_rejected(
        cache, lambda c: c.put_json("plain", {"a": {1}}), InvalidValueError, TypeError, "JSON"
    )


# --- ttl -------------------------------------------------------------------------------------

BAD_TTLS = [0, 0.0, -1, -0.5, math.nan, math.inf, "10", True, [10]]


@pytest.mark.parametrize("ttl", BAD_TTLS, ids=repr)
@pytest.mark.parametrize(
    "call",
    [
        lambda c, t: c.set("new", 1, ttl=t),
        lambda c, t: c.set("plain", "x", ttl=t),
        lambda c, t: c.set("v6", 1, vector=np.ones(DIM), ttl=t),
        lambda c, t: c.put_json("plain", [1], t),
        lambda c, t: c.put_string("plain", "x", t),
    ],
    ids=["set", "set-existing", "set-vector", "put_json", "put_string"],
)
def test_bad_ttl(cache: SemCache, call, ttl: Any) -> None:
    assert_rejected(cache, lambda c: call(c, ttl), InvalidArgumentError, ValueError, "ttl")


@pytest.mark.parametrize("ttl", [0, -1, math.nan, "10"], ids=repr)
def test_bad_ttl_for_put_and_get_or_compute(ttl: Any) -> None:
    cache = SemCache()
    cache.put("a", "text")
    calls: list[str] = []
    for call in (
        lambda: cache.put("a", "other text", ttl),
        lambda: cache.put("b", "text", ttl=ttl),
        lambda: cache.get_or_compute("c", calls.append, ttl=ttl),
    ):
        with pytest.raises(InvalidArgumentError, match="ttl") as info:
            call()
        assert isinstance(info.value, ValueError)
        assert isinstance(info.value, SemCacheError)
    assert calls == []
    assert cache.scan() == ["a"]
    assert cache.get("a") == "text"
    assert cache.get_entry("a").expires_at is None


@pytest.mark.parametrize("ttl", [0, -5, math.nan, "10"], ids=repr)
def test_bad_default_ttl(ttl: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="ttl") as info:
        SemCache(ttl=ttl)
    assert isinstance(info.value, ValueError)


# --- constructor -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"dim": 0}, "dim"),
        ({"dim": -3}, "dim"),
        ({"dim": 2.5}, "dim"),
        ({"dim": True}, "dim"),
        ({"dim": "8"}, "dim"),
        ({"index": "bogus"}, "bogus"),
        ({"max_entries": 0}, "max_entries"),
        ({"max_entries": -1}, "max_entries"),
        ({"max_entries": 1.5}, "max_entries"),
        ({"max_entries": True}, "max_entries"),
        ({"backend": LocalBackend(), "max_entries": 10}, "max_entries"),
        ({"backend": LocalBackend(), "index": "flat"}, "index"),
        ({"hnsw_threshold": 0}, "hnsw_threshold"),
    ],
    ids=lambda x: repr(x) if isinstance(x, str) else None,
)
def test_bad_constructor_arguments(kwargs: dict, fragment: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        SemCache(**kwargs)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, SemCacheError)
    assert fragment in str(info.value)


# --- other arguments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.set("new", 1, namespace=5),
        lambda c: c.set("v7", 1, vector=np.ones(DIM), namespace=b"other"),
        lambda c: c.search(QUERIES[0], namespace=1),
        lambda c: c.get_or_compute("new", lambda key: 1, namespace=["x"]),
    ],
    ids=["set", "set-existing", "search", "get_or_compute"],
)
def test_bad_namespace(cache: SemCache, call) -> None:
    assert_rejected(cache, call, InvalidArgumentError, ValueError, "namespace")


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda c: c.scan(5), "prefix"),
        (lambda c: c.scan(None), "prefix"),
        (lambda c: c.scan("", -1), "limit"),
        (lambda c: c.scan("", 1.5), "limit"),
        (lambda c: c.scan("", True), "limit"),
    ],
    ids=["prefix-int", "prefix-None", "limit-neg", "limit-float", "limit-bool"],
)
def test_bad_scan_arguments(cache: SemCache, call, fragment: str) -> None:
    assert_rejected(cache, call, InvalidArgumentError, ValueError, fragment)


def test_search_batch_with_no_queries(cache: SemCache) -> None:
    assert_rejected(
        cache, lambda c: c.search_batch([]), InvalidArgumentError, ValueError, "at least one"
    )
