"""semcache_core.rs_compat: the SemCache seed's API, side by side with the seed itself
(PyPI ``semcache-rs``, installed by the ``bench`` extra) on generated call sequences.

The seed computes cosine similarity with SimSIMD's float64 kernel, whose reciprocal square
root is approximate (on an AVX2 CPU, ``[1, 0]`` and itself score 0.99999995): where that
rounding decides an answer (a similarity within ``TOL`` of the threshold, of -1 or of
another entry's), either answer is right. Where the seed computes without rounding (a zero
or NaN vector, a dot product of exactly 0) or rounding cannot matter (a threshold of 1 or
more: no similarity exceeds 1), the answers must be equal, bit for bit.
"""

from __future__ import annotations

import array
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import semcache_rs
from hypothesis import given, settings
from hypothesis import strategies as st

from semcache_core import rs_compat
from semcache_core.errors import DimensionMismatchError, InvalidArgumentError, InvalidValueError
from semcache_core.rs_compat import SemCache

DIM = 8
TOL = 1e-5  # well above the seed's rounding of a similarity (about 5e-8 here)
NAN, INF = float("nan"), float("inf")

TEXTS = st.sampled_from([f"text {i}" for i in range(6)])
ORDINARY = st.lists(st.floats(-1.0, 1.0, width=64), min_size=DIM, max_size=DIM).filter(
    lambda v: float(np.linalg.norm(v)) > 0.1
)
AXES = st.builds(  # exact ties: orthogonal (similarity exactly 0) or parallel
    lambda axis, scale: [scale if i == axis else 0.0 for i in range(DIM)],
    st.integers(0, 2),
    st.sampled_from([1.0, -1.0, 2.0, 0.1]),
)
# what the index cannot hold, or holds only scaled; [0.0] * 3: a vector of another length
SPECIAL = st.sampled_from(
    [
        [],
        [0.0] * DIM,
        [0.0] * 3,
        [NAN] + [0.0] * (DIM - 1),
        [1.0, INF] + [0.0] * (DIM - 2),
        [1e39, 1.0] + [0.0] * (DIM - 2),
    ]
)
BOOLS = st.lists(st.booleans(), min_size=DIM, max_size=DIM)
VECTORS = st.one_of(ORDINARY, AXES, SPECIAL, BOOLS)
THRESHOLDS = st.one_of(
    st.floats(-1.0, 1.0, width=64),
    st.sampled_from([0.0, 1.0, -1.0, 0.5, 1.5, -2.0, NAN, INF, -INF]),
)
CALLS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), TEXTS, VECTORS),
        st.tuples(st.just("get_or_compute"), TEXTS, VECTORS),
        st.tuples(st.just("get"), TEXTS),
        st.tuples(st.just("get_similar"), VECTORS, THRESHOLDS),
        st.tuples(st.just("size")),
        st.tuples(st.just("clean")),
    ),
    max_size=25,
)

UNSOUND = "unsound"


def _seed_similarity(query: list[float], vector: list[float]) -> tuple[float, bool] | str | None:
    """The seed's similarity and whether it computes it exactly; ``None``: never a match
    (another length); ``UNSOUND``: a squared norm beyond float32's range, where the seed's
    float32 reciprocal square root gives an answer that depends on the CPU."""
    q, v = np.asarray(query, dtype=np.float64), np.asarray(vector, dtype=np.float64)
    if q.shape != v.shape:
        return None
    if not (np.isfinite(q).all() and np.isfinite(v).all()):
        return 1.0, True  # a NaN distance, clipped to 0
    if not q.any() or not v.any():
        return (1.0 if not q.any() and not v.any() else 0.0), True
    if not (q * v).any():  # no common support: the dot product is 0 in any order
        return 0.0, True
    if not all(1e-30 < float(x @ x) < 1e30 for x in (q, v)):
        return UNSOUND
    return min(1.0, float(q @ v / (np.linalg.norm(q) * np.linalg.norm(v)))), False


def _acceptable(
    stored: dict[str, list[float]], query: list[float], threshold: float
) -> list[list[float] | None] | None:
    """What the seed may answer: one answer, or the entries tied at the top; ``None``
    where the seed's rounding (or its CPU) decides."""
    if not threshold < 1.0:
        return [None]
    candidates = []
    for vector in stored.values():
        scored = _seed_similarity(query, vector)
        if scored == UNSOUND:
            return None
        if scored is None:
            continue
        similarity, exact = scored  # type: ignore[misc]
        if not exact and min(abs(similarity - threshold), abs(similarity + 1.0)) <= TOL:
            return None
        if similarity > -1.0:
            candidates.append((similarity, vector))
    best = max((similarity for similarity, _ in candidates), default=None)
    if best is None or best <= threshold:
        return [None]
    return [vector for similarity, vector in candidates if similarity >= best - TOL]


def _same(ours: Any, theirs: Any) -> bool:
    """Equal to the bit (NaN equal to NaN, -0.0 not equal to 0.0), type included."""
    if type(ours) is not type(theirs):
        return False
    if isinstance(ours, list):
        return len(ours) == len(theirs) and all(map(_same, ours, theirs))
    if isinstance(ours, float):
        if math.isnan(ours) or math.isnan(theirs):
            return math.isnan(ours) and math.isnan(theirs)
        return ours == theirs and math.copysign(1.0, ours) == math.copysign(1.0, theirs)
    return bool(ours == theirs)


def _as_floats(vector: list[Any]) -> list[float]:
    return [float(x) for x in vector]


def _check_similar(
    seed: Any, ours: Any, stored: dict[str, list[float]], query: Any, thr: Any
) -> None:
    """Both answers to ``get_similar(query, thr)`` are ones the seed may give; equal where
    it has one answer."""
    answers = [cache.get_similar(query, thr) for cache in (seed, ours)]
    allowed = _acceptable(stored, _as_floats(query), thr)
    if allowed is None:
        return
    if len(allowed) == 1 or all(_same(a, allowed[0]) for a in allowed):
        assert _same(answers[1], answers[0]), (query, thr, answers)
    for answer in answers:  # a tie at the top: each answers one of the tied entries
        assert any(_same(answer, a) for a in allowed), (query, thr, answers, allowed)


@settings(max_examples=150, deadline=None)
@given(calls=CALLS)
def test_every_call_answers_as_the_seed_does(calls: list[tuple[Any, ...]]) -> None:
    seed, ours = semcache_rs.SemCache(ttl=0), SemCache(ttl=0)
    stored: dict[str, list[float]] = {}  # what both hold, to tell where rounding decides
    for call in calls:
        name, *args = call
        if name == "get_similar":
            _check_similar(seed, ours, stored, *args)
            continue
        if name == "put":
            text, vector = args
            answers = [cache.put(text, vector) for cache in (seed, ours)]
            stored[text] = _as_floats(vector)
        elif name == "get_or_compute":
            text, vector = args
            answers = [cache.get_or_compute(text, lambda _t, v=vector: v) for cache in (seed, ours)]
            stored.setdefault(text, _as_floats(vector))
        elif name == "clean":
            answers = [cache.clean() for cache in (seed, ours)]
            stored.clear()
        else:
            answers = [getattr(cache, name)(*args) for cache in (seed, ours)]
        assert _same(answers[1], answers[0]), (call, answers)


def test_embeddings_come_back_exactly_as_given() -> None:
    vector = [0.1, 0.2, 0.3, -0.0, 1 / 3, 5e-324]
    for cache in (semcache_rs.SemCache(), SemCache()):
        cache.put("put", vector)
        computed = cache.get_or_compute("computed", lambda _t: list(vector))
        assert _same(computed, vector) and computed is not vector
        for text in ("put", "computed"):
            assert _same(cache.get(text), vector)
            assert _same(cache.get_or_compute(text, lambda _t: 1 / 0), vector)
        assert _same(cache.get_similar([0.1, 0.2, 0.3, 0.0, 0.33, 0.0], 0.99), vector)


@pytest.mark.parametrize(
    "vector",
    [[0.0, 0.0, 0.0], [], [NAN, 1.0, 0.0], [INF, 1.0, 0.0], [1e39, 1.0, 0.0], [True, False, True]],
    ids=repr,
)
def test_vectors_the_index_cannot_hold_are_stored_and_compared_as_in_the_seed(
    vector: list[Any],
) -> None:
    seed, ours = semcache_rs.SemCache(), SemCache()
    for cache in (seed, ours):
        assert cache.get_or_compute("computed", lambda _t: vector) is not None
        cache.put("put", vector)
        cache.put("other", [0.0, 1.0, 0.0])
    for text in ("computed", "put", "other"):
        assert _same(ours.get(text), seed.get(text))
    assert ours.size() == seed.size() == 3
    stored = {text: _as_floats(seed.get(text)) for text in ("computed", "put", "other")}
    for query in (vector, [0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [], [NAN, 0.0, 0.0]):
        for threshold in (-2.0, -0.5, 0.0, 0.5, 1.0):
            _check_similar(seed, ours, stored, query, threshold)


def test_vectors_beyond_float32_are_compared_by_their_exact_cosine() -> None:
    """Not side by side: where a squared norm is beyond float32's range, the seed's
    similarities depend on the CPU (on an AVX2 one, ``huge`` scores 0 even against itself
    and ``tiny`` 1 against anything)."""
    ours = SemCache()
    huge, tiny = [1e39, 1e38, 0.0], [1e-45, 0.0, 1e-46]
    ours.put("huge", huge)
    ours.put("tiny", tiny)
    assert ours.get_similar([10.0, 1.0, 0.0], 0.999) == huge
    assert ours.get_similar([1.0, 0.0, 0.1], 0.999) == tiny
    assert ours.get_similar([0.0, 1.0, 0.0], 0.2) is None
    assert ours.engine.get_similar([1.0, 0.1, 0.0], 0.999) == huge  # indexed, scaled down


def test_the_threshold_is_strict_as_in_the_seed() -> None:
    seed, ours = semcache_rs.SemCache(), SemCache()
    for cache in (seed, ours):
        cache.put("x", [1.0, 0.0])
    for query, threshold in (
        ([1.0, 0.0], 1.0),  # itself: similarity at most 1, not above
        ([0.0, 1.0], 0.0),  # orthogonal: exactly 0
    ):
        assert ours.get_similar(query, threshold) is seed.get_similar(query, threshold) is None
    for cache in (seed, ours):
        cache.put("zero", [0.0, 0.0, 0.0])
    for query, threshold in (
        ([0.0, 0.0], 0.0),  # a zero query: exactly 0 against [1, 0]
        ([0.0, 0.0, 0.0], 1.0),  # two zero vectors: exactly 1
        ([NAN, 0.0, 0.0], 1.0),  # NaN: exactly 1
    ):
        assert ours.get_similar(query, threshold) is seed.get_similar(query, threshold) is None
    assert ours.get_similar([0.0, 0.0, 0.0], 0.999) == seed.get_similar([0.0, 0.0, 0.0], 0.999)


def test_any_threshold_is_answered_as_the_seed_does() -> None:
    seed, ours = semcache_rs.SemCache(), SemCache()
    for cache in (seed, ours):
        cache.put("x", [1.0, 0.0])
    for query, threshold, want in (
        ([1.0, 0.0], 1.5, None),
        ([1.0, 0.0], INF, None),
        ([1.0, 0.0], NAN, None),
        ([1.0, 0.0], -2.0, [1.0, 0.0]),
        ([1.0, 0.0], -INF, [1.0, 0.0]),
        ([0.0, 0.0], -1.0, [1.0, 0.0]),  # a zero query scores 0
        ([-1.0, 0.5], -2.0, [1.0, 0.0]),
        ([], -2.0, None),  # another length: never a match
        ([0.0, 0.0, 0.0], -2.0, None),
    ):
        assert seed.get_similar(query, threshold) == want, (query, threshold)
        assert ours.get_similar(query, threshold) == want, (query, threshold)


def test_the_exact_best_wins_where_float32_scores_tie() -> None:
    """Entries the index scores alike in float32 are told apart by their exact cosine."""
    ours = SemCache()
    for i in range(40):  # all score 1.0 in float32 against the query
        ours.put(f"near {i}", [1.0, (i + 2) * 1e-5])
    ours.put("best", [1.0, 1e-5])
    assert ours.get_similar([1.0, 0.0], 0.5) == [1.0, 1e-5]
    assert ours.get_similar([1.0, 0.0], 1.0 - 4e-10) == [1.0, 1e-5]  # its cosine: 1 - 5e-11
    assert ours.get_similar([1.0, 0.0], 1.0 - 4e-11) is None


def test_a_query_of_another_dimension_than_the_index_raises_unless_it_is_special() -> None:
    ours = SemCache()
    ours.put("x", [1.0, 0.0])
    ours.put("zero", [0.0, 0.0, 0.0])
    with pytest.raises(DimensionMismatchError):
        ours.get_similar([1.0, 0.0, 0.0], 0.5)
    with pytest.raises(DimensionMismatchError):
        ours.put("y", [1.0, 0.0, 0.0])
    assert ours.get_similar([0.0, 0.0, 0.0], 0.5) == [0.0, 0.0, 0.0]
    assert ours.engine.scan(namespace=rs_compat.UNINDEXED) == ["zero"]


def test_moving_an_entry_between_index_and_unindexed_keeps_one() -> None:
    seed, ours = semcache_rs.SemCache(), SemCache()
    for vector in ([1.0, 0.0], [0.0, 0.0], [NAN, 1.0], [0.5, 0.5], []):
        for cache in (seed, ours):
            cache.put("t", vector)
        assert _same(ours.get("t"), seed.get("t")) and ours.size() == seed.size() == 1
        _check_similar(seed, ours, {"t": vector}, [0.5, 0.5], -0.5)


def test_dump_and_load_return_what_the_seed_returns(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    seed, ours = semcache_rs.SemCache(), SemCache()
    for i in range(50):
        vector = rng.standard_normal(DIM).tolist()
        for cache in (seed, ours):
            cache.put(f"text {i}", vector)
    for cache in (seed, ours):
        cache.put("zero", [0.0] * DIM)
    assert seed.dump(str(tmp_path / "seed.bin")) is None and ours.dump(tmp_path / "ours") is None
    loaded = SemCache()
    assert loaded.load(tmp_path / "ours") == semcache_rs.SemCache().load(str(tmp_path / "seed.bin"))
    assert loaded.size() == 51 and _same(loaded.get("text 7"), seed.get("text 7"))
    assert _same(loaded.get("zero"), seed.get("zero"))
    assert loaded.get_similar([0.0] * DIM, 0.5) == [0.0] * DIM


@pytest.mark.parametrize("bad", ["text", 3, None, [1.0, "x"], [[1.0]]], ids=repr)
def test_a_value_that_is_no_vector_is_a_type_error_as_in_the_seed(bad: Any) -> None:
    ours = SemCache()
    for call in (
        lambda cache: cache.put("k", bad),
        lambda cache: cache.get_or_compute("k", lambda _t: bad),
        lambda cache: cache.get_similar(bad, 0.5),
    ):
        with pytest.raises(TypeError):
            call(semcache_rs.SemCache())
        with pytest.raises(InvalidValueError):
            call(ours)
    assert ours.size() == 0
    with pytest.raises(InvalidValueError):  # the seed reads bytes as their byte values
        ours.put("k", b"bytes")


@pytest.mark.parametrize("bad", ["0.5", None, [0.5]], ids=repr)
def test_a_threshold_that_is_no_number_is_a_type_error_as_in_the_seed(bad: Any) -> None:
    for cache in (semcache_rs.SemCache(), SemCache()):
        cache.put("k", [1.0, 0.0])
        with pytest.raises(TypeError):
            cache.get_similar([1.0, 0.0], bad)


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


def test_ttl_none_never_expires_as_in_the_seed() -> None:
    seed, ours = semcache_rs.SemCache(ttl=None), SemCache(ttl=None)
    for cache in (seed, ours):
        cache.put("a", [1.0, 0.0])
        cache.get_or_compute("b", lambda _t: [0.0, 0.0])
    assert ours.size() == seed.size() == 2
    assert ours.get("a") == seed.get("a") == [1.0, 0.0]
    for text, namespace in (("a", ""), ("b", rs_compat.UNINDEXED)):
        entry = ours.engine.get_entry(text, namespace=namespace)
        assert entry is not None and entry.expires_at is None


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: (x for x in [1.0, 2.0]), id="generator"),
        pytest.param(lambda: {0.5: "x", 0.25: "y"}, id="dict"),
        pytest.param(lambda: {3.0, 1.0, 2.0}, id="set"),
        pytest.param(lambda: {1.0: 2}.keys(), id="dict-keys"),
        pytest.param(lambda: (1.0, 2.0), id="tuple"),
        pytest.param(lambda: range(1, 3), id="range"),
        pytest.param(lambda: array.array("f", [1, 2]), id="array"),
        pytest.param(lambda: memoryview(array.array("f", [1, 2])), id="memoryview"),
        pytest.param(lambda: bytearray(b"\x01\x02"), id="bytearray"),
    ],
)
def test_what_is_a_vector_is_the_seeds_call(make: Any) -> None:
    """A dict (its keys), a set (its hash order) or a generator is no sequence to the seed
    (``TypeError``): before, one was stored as a vector; any sequence of numbers is one."""
    seed, ours = semcache_rs.SemCache(), SemCache()
    try:
        seed.put("p", make())
    except TypeError:
        with pytest.raises(InvalidValueError):
            ours.put("p", make())
        with pytest.raises(InvalidValueError):
            ours.get_or_compute("k", lambda _: make())
        assert ours.size() == 0
    else:
        ours.put("p", make())
        assert ours.get("p") == seed.get("p")
