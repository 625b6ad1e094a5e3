"""semcache_core.rs_compat: the SemCache seed's API, side by side with the seed itself
(PyPI ``semcache-rs``, installed by the ``bench`` extra) on generated call sequences."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import semcache_rs
from hypothesis import given, settings
from hypothesis import strategies as st

from semcache_core.errors import InvalidArgumentError, InvalidValueError
from semcache_core.rs_compat import SemCache

DIM = 8
TEXTS = st.sampled_from([f"text {i}" for i in range(6)])
VECTORS = st.lists(
    st.floats(-1.0, 1.0, allow_nan=False, width=32), min_size=DIM, max_size=DIM
).filter(lambda v: float(np.linalg.norm(v)) > 0.1)
CALLS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), TEXTS, VECTORS),
        st.tuples(st.just("get_or_compute"), TEXTS, VECTORS),
        st.tuples(st.just("get"), TEXTS),
        st.tuples(st.just("get_similar"), VECTORS, st.floats(-0.5, 0.99)),
        st.tuples(st.just("size")),
        st.tuples(st.just("clean")),
    ),
    max_size=25,
)


def _cosines(stored: dict[str, list[float]], query: list[float]) -> list[float]:
    q = np.asarray(query, dtype=np.float64)
    return [
        float(np.dot(v, q) / (np.linalg.norm(v) * np.linalg.norm(q)))
        for v in map(np.asarray, stored.values())
    ]


def _same(ours: Any, theirs: Any) -> bool:
    if ours is None or theirs is None:
        return ours is None and theirs is None
    if isinstance(ours, list):
        return isinstance(theirs, list) and np.allclose(ours, theirs, atol=1e-6)
    return bool(ours == theirs)


@settings(max_examples=120, deadline=None)
@given(calls=CALLS)
def test_every_call_answers_as_the_seed_does(calls: list[tuple[Any, ...]]) -> None:
    seed, ours = semcache_rs.SemCache(ttl=0), SemCache(ttl=0)
    stored: dict[str, list[float]] = {}  # what both hold, to keep thresholds off the ties
    for call in calls:
        name, *args = call
        if name == "get_similar":
            query, threshold = args
            if any(abs(c - threshold) < 1e-3 for c in _cosines(stored, query)):
                continue  # float32 rounding decides at the threshold itself
            answers = [cache.get_similar(query, threshold) for cache in (seed, ours)]
        elif name in ("put", "get_or_compute"):
            text, vector = args
            if name == "put":
                answers = [cache.put(text, vector) for cache in (seed, ours)]
                stored[text] = vector
            else:
                answers = [
                    cache.get_or_compute(text, lambda _t, v=vector: v) for cache in (seed, ours)
                ]
                stored.setdefault(text, vector)
        elif name == "clean":
            answers = [cache.clean() for cache in (seed, ours)]
            stored.clear()
        else:
            answers = [getattr(cache, name)(*args) for cache in (seed, ours)]
        assert _same(answers[1], answers[0]), (call, answers)


def test_dump_and_load_return_what_the_seed_returns(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    seed, ours = semcache_rs.SemCache(), SemCache()
    for i in range(50):
        vector = rng.standard_normal(DIM).tolist()
        for cache in (seed, ours):
            cache.put(f"text {i}", vector)
    assert seed.dump(str(tmp_path / "seed.bin")) is None and ours.dump(tmp_path / "ours") is None
    loaded = SemCache()
    assert loaded.load(tmp_path / "ours") == semcache_rs.SemCache().load(str(tmp_path / "seed.bin"))
    assert loaded.size() == 50 and _same(loaded.get("text 7"), seed.get("text 7"))


@pytest.mark.parametrize("bad", ["text", 3, None, [1.0, "x"], [[1.0]]], ids=repr)
def test_a_value_that_is_no_vector_is_a_type_error_as_in_the_seed(bad: Any) -> None:
    ours = SemCache()
    for call in (
        lambda cache: cache.put("k", bad),
        lambda cache: cache.get_or_compute("k", lambda _t: bad),
    ):
        with pytest.raises(TypeError):
            call(semcache_rs.SemCache())
        with pytest.raises(InvalidValueError):
            call(ours)
    assert ours.size() == 0
    with pytest.raises(InvalidValueError):  # the seed reads bytes as their byte values
        ours.put("k", b"bytes")


def test_integers_are_stored_as_floats_and_ttl_zero_never_expires() -> None:
    seed, ours = semcache_rs.SemCache(ttl=0), SemCache(ttl=0)
    for cache in (seed, ours):
        cache.put("ints", [3, 4])
    assert ours.get("ints") == seed.get("ints") == [3.0, 4.0]
    assert ours.get_similar([3.0, 4.0], 0.99) == [3.0, 4.0]
    assert ours.engine.get_entry("ints").expires_at is None  # type: ignore[union-attr]
    timed = SemCache(ttl=60)
    timed.put("ints", [3, 4])
    expires_at = timed.engine.get_entry("ints").expires_at  # type: ignore[union-attr]
    assert expires_at is not None and 59 < expires_at - timed.engine.now() <= 60
    with pytest.raises(InvalidArgumentError, match="ttl"):
        SemCache(ttl=-1)
