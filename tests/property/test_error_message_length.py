"""A rejected input is named in its error, not copied into it.

Error messages show the offending value (``got [0.1, 0.2, ...]``); a huge one — a 1 MB
key, a 100k-element list, a 384-d array in a malformed ``set_many`` row — must be cut to its
start (:func:`semcache_core.errors.shown`), or every log line and traceback that carries
the error carries the whole input. Each case here is a bad call whose bad part is built
from a generated bulk of text, numbers or an array; the call must raise its typed error
with a short message that still starts to show what was wrong, and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semcache_core import (
    DimensionMismatchError,
    FilterError,
    InvalidArgumentError,
    InvalidKeyError,
    InvalidValueError,
    SemCache,
    SemCacheError,
)
from semcache_core.errors import shown
from semcache_core.responses import Prompt, ResponseCache

DIM = 4
LONGEST_MESSAGE = 1_000  # the longest message here is ~300 characters plus two shown values

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

sizes = st.integers(min_value=2_000, max_value=200_000)


@st.composite
def bulks(draw: st.DrawFn) -> Any:
    """Something big: a long str, a long list of numbers or strs, or a long array."""
    size = draw(sizes)
    kind = draw(st.sampled_from(["text", "numbers", "strings", "array"]))
    if kind == "text":
        return draw(st.characters(codec="utf-8", exclude_categories=["Cs"])) * size
    if kind == "numbers":
        return [draw(st.floats(allow_nan=False, width=32))] * size
    if kind == "strings":
        return ["word"] * size
    return np.full(size, draw(st.floats(-1e3, 1e3, width=32)), dtype=np.float32)


def filled() -> SemCache:
    cache = SemCache(dim=DIM)
    for i in range(5):
        vector = np.arange(1, DIM + 1, dtype=np.float32) + i
        cache.set(f"k{i}", {"i": i}, vector=vector, metadata={"n": i})
    cache.set("text", "plain")
    return cache


def content(cache: SemCache) -> list[tuple[str, str, Any]]:
    return [
        (namespace, key, cache.get_entry(key, namespace=namespace))
        for namespace in sorted(cache.namespaces())
        for key in cache.scan(namespace=namespace)
    ]


QUERY = np.ones(DIM, dtype=np.float32)

# (name, call(cache, bulk), the error type it must raise)
CASES: list[tuple[str, Callable[[SemCache, Any], Any], type[Exception]]] = [
    (
        "set: a key that is not a str",
        lambda c, b: c.set(b if not isinstance(b, str) else [b], 1),
        InvalidKeyError,
    ),
    ("set: a key with a lone surrogate", lambda c, b: c.set("\ud800" + str(b), 1), InvalidKeyError),
    ("get_many: keys holding a non-str", lambda c, b: c.get_many(["ok", [b]]), InvalidKeyError),
    ("set: ttl not a number", lambda c, b: c.set("new", 1, ttl=b), InvalidArgumentError),
    (
        "set: metadata with a non-str key",
        lambda c, b: c.set("new", 1, metadata={(str(b),): 1}),
        InvalidValueError,
    ),
    (
        "set_many: a row that is not a pair",
        lambda c, b: c.set_many([("new", 1), ("x", 2, b)]),
        InvalidArgumentError,
    ),
    (
        "set: a vector of another dimension, in a long namespace",
        lambda c, b: c.set("new", 1, vector=QUERY[:3], namespace="ns" + str(b)[:100_000]),
        DimensionMismatchError,
    ),
    ("search: k not an int", lambda c, b: c.search(QUERY, k=b), InvalidArgumentError),
    (
        "search: threshold not a number",
        lambda c, b: c.search(QUERY, threshold=b),
        InvalidArgumentError,
    ),
    (
        "search: unknown filter operator",
        lambda c, b: c.search(QUERY, filters={"n": {"$" + str(b)[:50_000]: 1}}),
        FilterError,
    ),
    (
        "search: $in with a non-list",
        lambda c, b: c.search(QUERY, filters={"n": {"$in": str(b)}}),
        FilterError,
    ),
    (
        "search: $gt with a list",
        lambda c, b: c.search(QUERY, filters={"n": {"$gt": [b]}}),
        FilterError,
    ),
    (
        "get_or_compute: index not a bool",
        lambda c, b: c.get_or_compute("new", lambda k: 1, index=[b]),
        InvalidArgumentError,
    ),
    (
        "namespace with a lone surrogate",
        lambda c, b: c.set("new", 1, namespace="\ud800" + str(b)),
        InvalidArgumentError,
    ),
    (
        "ResponseCache: sliding_ttl not a bool",
        lambda c, b: ResponseCache(c, sliding_ttl=[b]),
        InvalidArgumentError,
    ),
    (
        "ResponseCache.feedback: correct not a bool",
        lambda c, b: ResponseCache(c).feedback(Prompt("q", "", "q"), "m", [b]),
        InvalidArgumentError,
    ),
]


@pytest.mark.parametrize(("name", "call", "error"), CASES, ids=[case[0] for case in CASES])
@SETTINGS
@given(bulk=bulks())
def test_a_huge_bad_input_gets_a_short_typed_error_and_changes_nothing(
    name: str, call: Callable[[SemCache, Any], Any], error: type[Exception], bulk: Any
) -> None:
    cache = filled()
    before = content(cache)
    with pytest.raises(error) as raised:
        call(cache, bulk)
    assert isinstance(raised.value, SemCacheError)
    message = str(raised.value)
    assert len(message) <= LONGEST_MESSAGE, f"{name}: a {len(message):,}-character message"
    assert content(cache) == before


@SETTINGS
@given(bulk=bulks())
def test_shown_is_short_and_starts_like_repr(bulk: Any) -> None:
    text = shown(bulk)
    assert len(text) <= 200
    assert text[:8] == repr(bulk)[:8]


def test_shown_survives_a_repr_that_raises() -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    assert shown(Hostile()).startswith("<Hostile instance at 0x")
