"""vCache's decision rule (semcache_core.verified): invariants over generated records."""

from __future__ import annotations

import json
import math
import random

import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semcache_core.errors import InvalidArgumentError
from semcache_core.verified import (
    MAX_OBSERVATIONS,
    MIN_OBSERVATIONS,
    VCACHE_EPSILONS,
    Action,
    Observations,
    check_error_rate,
    decide,
    explore_probability,
    fit,
)

similarities = st.floats(-1.0, 1.0, allow_nan=False)
deltas = st.floats(0.001, 0.5)
observations = st.lists(st.tuples(similarities, st.booleans()), max_size=60)


def record_of(pairs: list[tuple[float, bool]]) -> Observations:
    record = Observations()
    for similarity, correct in pairs:
        record = record.add(similarity, correct)
    return record


@given(st.lists(st.tuples(similarities, st.booleans()), max_size=MIN_OBSERVATIONS - 3),
       similarities, deltas, st.integers(0, 2**32))  # fmt: skip
def test_never_exploits_below_the_minimum_observations(
    pairs: list[tuple[float, bool]], similarity: float, delta: float, seed: int
) -> None:
    record = record_of(pairs)
    assert len(record) < MIN_OBSERVATIONS
    assert explore_probability(record, similarity, delta) == 1.0
    assert decide(record, similarity, delta, random.Random(seed)) is Action.EXPLORE


@settings(max_examples=60)
@given(observations, similarities, similarities, deltas)
def test_exploring_is_never_likelier_at_a_higher_similarity(
    pairs: list[tuple[float, bool]], first: float, second: float, delta: float
) -> None:
    record = record_of(pairs)
    low, high = sorted((first, second))
    assert explore_probability(record, high, delta) <= explore_probability(record, low, delta)


@settings(max_examples=60)
@given(observations, similarities, deltas, deltas)
def test_a_looser_bound_never_explores_more(
    pairs: list[tuple[float, bool]], similarity: float, first: float, second: float
) -> None:
    record = record_of(pairs)
    tight, loose = sorted((first, second))
    tau = explore_probability(record, similarity, loose)
    assert 0.0 <= tau <= explore_probability(record, similarity, tight) <= 1.0


@given(st.lists(st.floats(0.85, 1.0), min_size=20, max_size=48), st.integers(0, 2**32))
def test_an_entry_always_right_is_exploited_at_high_similarity(
    right: list[float], seed: int
) -> None:
    record = record_of([(s, True) for s in right])
    assert explore_probability(record, 0.97, 0.05) == 0.0
    assert decide(record, 0.97, 0.05, random.Random(seed)) is Action.EXPLOIT


@settings(max_examples=80)
@given(observations, similarities, deltas)
def test_never_explores_more_than_on_vcaches_grid(
    pairs: list[tuple[float, bool]], similarity: float, delta: float
) -> None:
    record = record_of(pairs)
    ours = explore_probability(record, similarity, delta)
    assert ours <= explore_probability(record, similarity, delta, epsilons=VCACHE_EPSILONS)


def test_a_well_known_entry_is_served_at_a_small_bound_where_vcaches_grid_explores() -> None:
    """vCache's grid's second point is 0.0204, so an entry whose tightest point's bound is
    loose is explored at least 1 - 0.01 / 0.0204 (51%) of the time at δ = 0.01; ours has
    points below it."""
    rng = np.random.default_rng(3)
    sims = rng.uniform(0.5, 1.0, MAX_OBSERVATIONS)
    right = rng.uniform(size=MAX_OBSERVATIONS) < 1 / (1 + np.exp(-40 * (sims - 0.75)))
    record = record_of(list(zip(sims.tolist(), right.tolist())))
    fitted = fit(record)
    assert fitted is not None and fitted.slope < 1e3  # a fit, not a perfect separation
    ours = [explore_probability(record, s, 0.01) for s in np.arange(0.8, 1.0, 0.01)]
    theirs = [
        explore_probability(record, s, 0.01, epsilons=VCACHE_EPSILONS)
        for s in np.arange(0.8, 1.0, 0.01)
    ]
    assert all(a <= b for a, b in zip(ours, theirs))
    assert any(0.0 < b < 0.5 and a < b / 2 for a, b in zip(ours, theirs))


@pytest.mark.parametrize("epsilons", [[], [0.0], [1.0], [0.1, 1.5], "0.1", [float("nan")]])
def test_a_bad_grid_of_epsilons_is_refused(epsilons: object) -> None:
    record = record_of([(0.9, True)] * 10)
    with pytest.raises(InvalidArgumentError, match="epsilons"):
        explore_probability(record, 0.9, 0.05, epsilons=epsilons)


def test_an_entry_often_wrong_is_rarely_exploited() -> None:
    pairs = [(0.9 + 0.002 * i, i % 2 == 0) for i in range(40)]  # right half the time
    tau = explore_probability(record_of(pairs), 0.97, 0.02)
    assert tau > 0.95  # served at most 5% of the time


def test_the_fit_finds_a_threshold_inside_mixed_observations() -> None:
    rng = np.random.default_rng(7)
    sims = rng.uniform(0.6, 1.0, 48)
    right = rng.uniform(size=48) < 1 / (1 + np.exp(-40 * (sims - 0.8)))
    fitted = fit(record_of(list(zip(sims.tolist(), right.tolist()))))
    assert fitted is not None
    assert 0.72 < fitted.threshold < 0.88
    assert fitted.slope > 5 and fitted.variance > 0


def test_perfectly_separated_observations_split_the_gap() -> None:
    fitted = fit(record_of([(0.7, False), (0.8, False), (0.9, True), (0.95, True)]))
    assert fitted is not None
    assert fitted.threshold == pytest.approx(0.85)


def test_the_error_stays_within_the_bound_in_a_simulation() -> None:
    """Entries whose answers are right with a logistic probability in the similarity:
    serving by the rule and learning from explorations keeps the realised error <= δ."""
    rng = random.Random(11)
    delta = 0.05
    served = wrong = 0
    for _entry in range(30):
        threshold = rng.uniform(0.75, 0.95)
        record = Observations()
        for _ in range(200):
            similarity = rng.uniform(0.6, 1.0)
            right = rng.random() < 1 / (1 + math.exp(-60 * (similarity - threshold)))
            if decide(record, similarity, delta, rng) is Action.EXPLOIT:
                served += 1
                wrong += not right
            else:
                record = record.add(similarity, right)
    assert served > 600  # it does serve
    assert wrong / 6000 <= delta


@given(observations)
def test_encoding_round_trips_through_msgpack_and_json(pairs: list[tuple[float, bool]]) -> None:
    record = record_of(pairs)
    encoded = record.encode()
    assert Observations.decode(msgpack.unpackb(msgpack.packb(encoded))) == record
    assert Observations.decode(json.loads(json.dumps(encoded))) == record
    assert Observations.decode(None) == Observations()


@given(observations)
def test_a_record_keeps_the_newest_observations(pairs: list[tuple[float, bool]]) -> None:
    record = record_of(pairs)
    assert len(record.items) == min(len(pairs), MAX_OBSERVATIONS)
    kept = pairs[-MAX_OBSERVATIONS:] if pairs else []
    assert [(o.similarity, o.correct) for o in record.items] == [(round(s, 3), c) for s, c in kept]


@given(observations, similarities, deltas, st.integers(0, 2**32))
def test_a_decision_depends_only_on_its_inputs(
    pairs: list[tuple[float, bool]], similarity: float, delta: float, seed: int
) -> None:
    record = record_of(pairs)
    first = decide(record, similarity, delta, random.Random(seed))
    assert decide(record, similarity, delta, random.Random(seed)) is first
    assert decide(record, similarity, delta, np.random.default_rng(seed)) in Action


@pytest.mark.parametrize(
    "raw",
    [
        "0.9,1",
        [[0.9]],
        [[0.9, 2]],
        [[0.9, 1.0]],
        [[1.5, 1]],
        [[float("nan"), 0]],
        [["0.9", 1]],
        [[0.9, 1]] * (MAX_OBSERVATIONS + 1),
        {"s": 0.9},
    ],
)
def test_a_bad_record_is_refused_by_name(raw: object) -> None:
    with pytest.raises(InvalidArgumentError, match="observation"):
        Observations.decode(raw)


@pytest.mark.parametrize("delta", [0, 1, -0.1, 1.5, float("nan"), True, "0.02", None])
def test_a_bad_error_rate_is_refused(delta: object) -> None:
    with pytest.raises(InvalidArgumentError, match="max_error_rate"):
        check_error_rate(delta)
    with pytest.raises(InvalidArgumentError, match="max_error_rate"):
        explore_probability(Observations(), 0.9, delta)


@pytest.mark.parametrize("similarity", [1.01, -2, float("inf"), float("nan"), None, "0.9"])
def test_a_bad_similarity_is_refused_and_nothing_changes(similarity: object) -> None:
    record = Observations().add(0.9, True)
    with pytest.raises(InvalidArgumentError, match="similarity"):
        record.add(similarity, True)
    with pytest.raises(InvalidArgumentError, match="similarity"):
        explore_probability(record, similarity, 0.02)
    assert record.encode() == [[0.9, 1]]


@pytest.mark.parametrize("correct", [1, 0, None, "yes"])
def test_correct_must_be_a_bool(correct: object) -> None:
    with pytest.raises(InvalidArgumentError, match="correct"):
        Observations().add(0.9, correct)  # type: ignore[arg-type]
