"""Verified mode, feedback and invalidate on ResponseCache (real engine, local and durable).

Similarities are chosen by the test (tests/support/angle_texts.py).
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from angle_texts import OTHER, PARAPHRASE, STORED, angle_embedder
from fakeclock import FakeClock
from hypothesis import given, settings
from hypothesis import strategies as st

from semcache_core import SemCache
from semcache_core.error_budget import ErrorBudget
from semcache_core.errors import InvalidArgumentError, InvalidValueError
from semcache_core.records import Hit
from semcache_core.responses import Prompt, ResponseCache
from semcache_core.verified import MIN_OBSERVATIONS, Fit, Observations
from semcache_core.verified_responses import OBSERVATIONS_FIELD, REMEMBERED, Verifier

MODEL = "model-a"


def prompt(text: str) -> Prompt:
    return Prompt(exact=text, context="", query=text)


def responses(cache: SemCache | None = None, **options: object) -> ResponseCache:
    options.setdefault("threshold", 0.5)
    options.setdefault("max_error_rate", 0.05)
    return ResponseCache(cache, embedder=angle_embedder, rng=random.Random(3), **options)  # type: ignore[arg-type]


def observations(cache: ResponseCache, text: str = STORED) -> list[list[float | int]]:
    entry = cache.cache.get_entry(cache._key(prompt(text), MODEL), namespace=cache.namespace)
    assert entry is not None
    return list(entry.metadata.get(OBSERVATIONS_FIELD, []))


def teach(cache: ResponseCache, similarity: float, right: bool, times: int) -> None:
    """Write ``times`` observations straight into the stored entry's metadata."""
    key = cache._key(prompt(STORED), MODEL)
    entry = cache.cache.get_entry(key, namespace=cache.namespace)
    assert entry is not None
    record = Observations()
    for _ in range(times):
        record = record.add(similarity, right)
    cache.cache.set(
        key,
        entry.value,
        vector=angle_embedder(STORED),
        metadata={**entry.metadata, OBSERVATIONS_FIELD: record.encode()},
        namespace=cache.namespace,
    )


def test_an_unproven_candidate_is_explored_and_learns_a_right_answer() -> None:
    cache = responses()
    cache.update(prompt(STORED), MODEL, "soak, then let dry")
    assert cache.lookup(prompt(PARAPHRASE), MODEL) is None  # explored: answered as a miss
    stats = cache.stats()
    assert (stats.explorations, stats.misses, stats.hits) == (1, 1, 0)
    cache.update(prompt(PARAPHRASE), MODEL, "soak, then let dry")  # the model agrees
    assert observations(cache) == [[0.93, 1]]
    assert len(cache._query_vectors) == 0  # its query's vector went into its entry
    # the paraphrase gets an entry of its own, as after a plain miss: its neighbours meet it
    assert cache.lookup(prompt(PARAPHRASE), MODEL) == "soak, then let dry"
    hits = cache.cache.search(angle_embedder(PARAPHRASE), 5, namespace=cache.namespace)
    assert hits[0].key == cache._key(prompt(PARAPHRASE), MODEL)
    assert len(hits) == 2 and observations(cache, PARAPHRASE) == []


def test_a_wrong_exploration_is_learned_and_the_fresh_answer_gets_its_own_entry() -> None:
    cache = responses()
    cache.update(prompt(STORED), MODEL, "soak, then let dry")
    assert cache.lookup(prompt(PARAPHRASE), MODEL) is None
    cache.update(prompt(PARAPHRASE), MODEL, "every day")
    assert observations(cache) == [[0.93, 0]]
    assert observations(cache, PARAPHRASE) == []
    hits = cache.cache.search(angle_embedder(OTHER), 5, namespace=cache.namespace)
    assert len(hits) == 2


def test_candidates_are_explored_until_the_minimum_observations() -> None:
    cache = responses()
    cache.update(prompt(STORED), MODEL, "soak")
    for _ in range(MIN_OBSERVATIONS - 2):  # the two priors count
        assert cache.lookup(prompt(OTHER), MODEL) is None
        cache.update(prompt(OTHER), MODEL, "soak")
        cache.cache.delete(cache._key(prompt(OTHER), MODEL), namespace=cache.namespace)
    assert observations(cache) == [[0.91, 1]] * (MIN_OBSERVATIONS - 2)
    assert cache.stats().semantic_hits == 0


def test_a_proven_entry_is_served_and_a_failing_one_is_not() -> None:
    cache = responses(max_error_rate=0.02)
    cache.update(prompt(STORED), MODEL, "soak")
    teach(cache, 0.92, True, 30)
    assert [cache.lookup(prompt(PARAPHRASE), MODEL) for _ in range(20)] == ["soak"] * 20
    teach(cache, 0.93, False, 30)
    assert cache.lookup(prompt(PARAPHRASE), MODEL) is None  # tau = 1 - 0.02: explored
    assert cache.stats().semantic_hits == 20


class _AlwaysExplore:
    def random(self) -> float:
        return 0.0


def test_the_same_question_under_other_pleasantries_is_served_never_explored() -> None:
    """Nothing to learn where the question is the very same: served as an exact hit would
    be, though every draw says explore, and feedback still reaches the entry; a text that
    differs otherwise (a question mark) is explored."""
    cache = ResponseCache(threshold=0.5, max_error_rate=0.01, rng=_AlwaysExplore())
    cache.update(prompt("How should I water a cactus?"), MODEL, "soak")
    greeted = "Hi! How should I water a cactus? Thanks!"
    assert cache.lookup(prompt(greeted), MODEL) == "soak"
    assert cache.lookup(prompt("Good morning.  How should I water a cactus?"), MODEL) == "soak"
    assert cache.lookup(prompt("How should I water a cactus"), MODEL) is None  # explored
    stats = cache.stats()
    assert (stats.semantic_hits, stats.explorations, stats.misses) == (2, 1, 1)
    assert cache.feedback(prompt(greeted), MODEL, False) is True
    assert observations(cache, "How should I water a cactus?") == [[1.0, 0]]


def test_the_static_mode_serves_every_candidate_above_the_threshold() -> None:
    cache = responses(max_error_rate=None, threshold=0.9)
    cache.update(prompt(STORED), MODEL, "soak")
    assert cache.max_error_rate is None
    assert cache.lookup(prompt(PARAPHRASE), MODEL) == "soak"
    assert cache.lookup(prompt("what about feeding succulents"), MODEL) is None


def test_the_judge_decides_what_an_exploration_learns() -> None:
    seen: list[tuple[str, str]] = []

    def judge(cached: str, fresh: str) -> bool:
        seen.append((cached, fresh))
        return cached.lower() == fresh.lower()

    cache = responses(judge=judge)
    cache.update(prompt(STORED), MODEL, "Soak")
    cache.lookup(prompt(PARAPHRASE), MODEL)
    cache.update(prompt(PARAPHRASE), MODEL, "SOAK")
    assert seen == [("Soak", "SOAK")]
    assert observations(cache) == [[0.93, 1]]


def test_an_observation_keeps_the_entry_value_vector_and_expiry() -> None:
    clock = FakeClock()
    engine = SemCache(clock=clock)
    cache = responses(engine, ttl=100)
    cache.update(prompt(STORED), MODEL, "soak")
    clock.advance(60)
    cache.lookup(prompt(PARAPHRASE), MODEL)
    cache.update(prompt(PARAPHRASE), MODEL, "soak")
    entry = engine.get_entry(cache._key(prompt(STORED), MODEL), namespace=cache.namespace)
    assert entry is not None and entry.value == "soak"
    assert entry.expires_at == pytest.approx(clock.now + 40)
    assert entry.metadata["q"] == STORED  # the query text the guards compare stays
    clock.advance(41)
    assert engine.get_entry(entry.key, namespace=cache.namespace) is None


def test_feedback_teaches_the_entry_that_served_the_prompt() -> None:
    cache = responses(max_error_rate=None, threshold=0.9)
    cache.update(prompt(STORED), MODEL, "soak")
    assert cache.lookup(prompt(PARAPHRASE), MODEL) == "soak"
    assert cache.feedback(prompt(PARAPHRASE), MODEL, False) is True
    assert observations(cache) == [[0.93, 0]]
    assert cache.feedback(prompt(PARAPHRASE), MODEL, True) is False  # one word per hit
    assert cache.lookup(prompt(STORED), MODEL) == "soak"
    assert cache.feedback(prompt(STORED), MODEL, False) is False  # an exact hit: nothing
    assert cache.feedback(prompt(OTHER), MODEL, True) is False  # never served
    assert observations(cache) == [[0.93, 0]]


@pytest.mark.parametrize("correct", [1, None, "no"])
def test_feedback_refuses_a_non_bool_and_changes_nothing(correct: object) -> None:
    cache = responses(max_error_rate=None, threshold=0.9)
    cache.update(prompt(STORED), MODEL, "soak")
    cache.lookup(prompt(PARAPHRASE), MODEL)
    with pytest.raises(InvalidArgumentError, match="correct"):
        cache.feedback(prompt(PARAPHRASE), MODEL, correct)  # type: ignore[arg-type]
    assert observations(cache) == []
    assert cache.feedback(prompt(PARAPHRASE), MODEL, True) is True


def test_invalidate_removes_one_response_and_teaches_the_one_that_served() -> None:
    cache = responses(max_error_rate=None, threshold=0.9)
    cache.update(prompt(STORED), MODEL, "soak")
    cache.update(prompt("unrelated weather forecast today"), MODEL, "sunny")
    assert cache.lookup(prompt(PARAPHRASE), MODEL) == "soak"
    assert cache.invalidate(prompt(PARAPHRASE), MODEL) is True
    assert observations(cache) == [[0.93, 0]]
    assert cache.invalidate(prompt("unrelated weather forecast today"), MODEL) is True
    assert cache.lookup(prompt("unrelated weather forecast today"), MODEL) is None
    assert cache.lookup(prompt(STORED), MODEL) == "soak"
    assert cache.invalidate(prompt(OTHER), MODEL) is False


@pytest.mark.parametrize("delta", [0, 1, 1.5, -0.1, "0.02", True, float("nan")])
def test_a_bad_error_rate_is_refused(delta: object) -> None:
    with pytest.raises(InvalidArgumentError, match="max_error_rate"):
        ResponseCache(max_error_rate=delta)  # type: ignore[arg-type]


def test_a_judge_that_cannot_be_called_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="judge"):
        ResponseCache(max_error_rate=0.02, judge="exact")  # type: ignore[arg-type]


def test_observations_survive_a_snapshot_and_a_durable_reopen(tmp_path: Path) -> None:
    durable = SemCache(path=tmp_path / "durable")
    cache = responses(durable)
    cache.update(prompt(STORED), MODEL, "soak")
    cache.lookup(prompt(PARAPHRASE), MODEL)
    cache.update(prompt(PARAPHRASE), MODEL, "soak")
    durable.dump(tmp_path / "snap.bin")
    durable.close()
    with SemCache(path=tmp_path / "durable") as reopened:
        assert observations(responses(reopened)) == [[0.93, 1]]
    loaded = SemCache()
    loaded.load(tmp_path / "snap.bin")
    assert observations(responses(loaded)) == [[0.93, 1]]


def test_a_stored_record_we_did_not_write_counts_as_none() -> None:
    cache = responses()
    cache.update(prompt(STORED), MODEL, "soak")
    key = cache._key(prompt(STORED), MODEL)
    entry = cache.cache.get_entry(key, namespace=cache.namespace)
    assert entry is not None
    cache.cache.set(
        key,
        "soak",
        vector=angle_embedder(STORED),
        metadata={**entry.metadata, OBSERVATIONS_FIELD: "garbage"},
        namespace=cache.namespace,
    )
    assert cache.lookup(prompt(PARAPHRASE), MODEL) is None  # explored, not an error
    cache.update(prompt(PARAPHRASE), MODEL, "soak")
    assert observations(cache) == [[0.93, 1]]


def test_threads_learning_at_once_lose_no_observation() -> None:
    cache = responses(max_error_rate=None, threshold=0.9)
    cache.update(prompt(STORED), MODEL, "soak")
    barrier = threading.Barrier(3)

    def serve_and_blame(text: str) -> None:
        barrier.wait()
        for _ in range(10):
            assert cache.lookup(prompt(text), MODEL) == "soak"
            assert cache.feedback(prompt(text), MODEL, False)

    texts = [PARAPHRASE, OTHER, "how often does a cactus need water"]
    threads = [threading.Thread(target=serve_and_blame, args=(text,)) for text in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(observations(cache)) == 30


async def test_async_twins_learn_the_same() -> None:
    cache = responses()
    await cache.aupdate(prompt(STORED), MODEL, "soak")
    assert await cache.alookup(prompt(PARAPHRASE), MODEL) is None
    assert cache.stats().explorations == 1
    await cache.aupdate(prompt(PARAPHRASE), MODEL, "soak")
    assert observations(cache) == [[0.93, 1]]
    static = responses(max_error_rate=None, threshold=0.9)
    await static.aupdate(prompt(STORED), MODEL, "soak")
    assert await static.alookup(prompt(PARAPHRASE), MODEL) == "soak"
    assert await static.afeedback(prompt(PARAPHRASE), MODEL, True) is True
    assert observations(static) == [[0.93, 1]]
    assert await static.alookup(prompt(OTHER), MODEL) == "soak"
    assert await static.ainvalidate(prompt(OTHER), MODEL) is True
    assert observations(static) == [[0.93, 1], [0.91, 0]]
    assert static.stats().explorations == 0  # a static threshold serves every candidate


def test_the_remembered_prompts_are_bounded_newest_kept() -> None:
    verifier = Verifier(None, judge=None)
    hit = Hit("entry", "soak", 0.93, {}, "llm:default", None)
    for n in range(REMEMBERED + 10):
        assert verifier.serves(f"prompt-{n}", hit)
    assert verifier.pop_served("prompt-9") is None  # the oldest are forgotten
    newest = verifier.pop_served(f"prompt-{REMEMBERED + 9}")
    assert newest is not None and newest.key == "entry" and newest.value is None
    assert verifier.pop_served("prompt-10") is not None


def _serve(verifier: Verifier, key: str, hit: Hit) -> bool:
    """One lookup answered by ``hit`` or by the model, counted as ResponseCache counts it."""
    served = verifier.serves(key, hit)
    verifier.answered()
    return served


def test_a_young_entry_is_served_once_the_cache_wide_curve_knows() -> None:
    """An entry with no observations of its own is explored while the whole cache has
    learned little, and served at a high similarity once many observations say hits there
    are right (explored still, at EXPLORATION); wrong ones there keep it explored."""
    from semcache_core.verified_responses import EXPLORATION, Candidate

    young = Hit("young", "answer", 0.97, {}, "llm:default", None)
    learning = Verifier(0.05, judge=None, rng=random.Random(7))
    assert not any(_serve(learning, f"p{i}", young) for i in range(20))  # nothing learned
    for i in range(40):
        learning.learned(Candidate(f"other{i}", 0.9 + (i % 10) / 100, None, None), True)
    served = sum(_serve(learning, f"q{i}", young) for i in range(400))
    assert 0.93 * (1 - EXPLORATION) * 400 < served < 400
    doubtful = Verifier(0.05, judge=None, rng=random.Random(7))
    for i in range(40):
        doubtful.learned(Candidate(f"other{i}", 0.9 + (i % 10) / 100, None, None), i % 2 == 0)
    assert not any(_serve(doubtful, f"q{i}", young) for i in range(200))


def test_a_few_right_observations_elsewhere_do_not_stop_young_entries_exploring() -> None:
    """Four right observations in the whole cache made the cache-wide curve's exploration
    probability 0 at 0.9 and above: every young entry was served, never explored."""
    from semcache_core.verified_responses import POPULATION_MIN, Candidate

    verifier = Verifier(0.05, judge=None, rng=random.Random(3))
    for i in range(POPULATION_MIN - 1):
        verifier.learned(Candidate(f"other{i}", 0.96, None, None), True)
    young = Hit("young", "answer", 0.93, {}, "llm:default", None)
    assert not any(_serve(verifier, f"q{i}", young) for i in range(100))


def _overlapping_cache(delta: float, seed: int = 5) -> Verifier:
    """A verifier whose cache-wide curve is right from about 0.8 up, with some wrong
    answers up to 0.9: its bound on being wrong is 0.27 at 0.85, 0.14 at 0.87, 0.05 at
    0.9."""
    from semcache_core.verified_responses import Candidate

    verifier = Verifier(delta, judge=None, rng=random.Random(seed))
    for i in range(200):
        similarity = 0.6 + (i % 40) / 100
        right = similarity >= 0.8 if i % 7 else similarity >= 0.9
        verifier.learned(Candidate(f"other{i}", similarity, None, None), right)
    return verifier


@pytest.mark.parametrize("seed", range(3))
def test_exact_hits_between_candidates_let_the_budget_serve_lower(seed: int) -> None:
    """max_error_rate is a share of all answers: where nine of ten answers are exact hits
    (never wrong), a candidate the curve thinks wrong 14% of the time fits a 2% budget;
    where every answer is a candidate, it does not (vCache's per-hit rule explored it
    86% of the time either way)."""
    from semcache_core.verified_responses import EXPLORATION

    hit = Hit("young", "answer", 0.87, {}, "llm:default", None)
    alone = _overlapping_cache(0.02, seed)
    assert sum(_serve(alone, f"q{i}", hit) for i in range(300)) == 0
    among_exact = _overlapping_cache(0.02, seed)
    served = 0
    for i in range(300):
        served += _serve(among_exact, f"q{i}", hit)
        for _ in range(9):
            among_exact.answered()
    assert served > 0.93 * (1 - EXPLORATION) * 300


def _simulated_stream(
    delta: float, exact_share: float, middle: float, slope: float, seed: int
) -> tuple[int, int, int, int]:
    """3,000 answers: exact hits (``exact_share``), else a candidate of a new entry at a
    uniform similarity in [0.5, 1), right with probability ``sigmoid(slope * (s -
    middle))``; an explored one teaches the cache-wide curve. Returns the wrong answers
    served, the answers, the candidates served, and the candidates whose own chance of
    being wrong was at most δ (what vCache's per-hit rule could serve at best)."""
    from semcache_core.verified_responses import Candidate

    draws = random.Random(seed)
    verifier = Verifier(delta, judge=None, rng=random.Random(seed + 1))
    wrong = served = safe = 0
    answers = 3000
    for i in range(answers):
        if draws.random() < exact_share:
            verifier.answered()
            continue
        similarity = draws.uniform(0.5, 1.0)
        chance = 1 / (1 + math.exp(-slope * (similarity - middle)))
        right = draws.random() < chance
        safe += 1 - chance <= delta
        if _serve(verifier, f"q{i}", Hit(f"e{i}", "a", similarity, {}, "ns", None)):
            served += 1
            wrong += not right
        else:
            verifier.learned(Candidate(f"e{i}", similarity, None, None), right)
    return wrong, answers, served, safe


@pytest.mark.parametrize(
    ("delta", "exact_share", "middle", "slope"),
    [(0.01, 0.0, 0.8, 40), (0.02, 0.5, 0.8, 40), (0.05, 0.7, 0.75, 20), (0.01, 0.9, 0.8, 15)],
)
def test_the_wrong_answers_stay_within_the_share_of_all_answers(
    delta: float, exact_share: float, middle: float, slope: float
) -> None:
    """The guarantee itself, on simulated streams whose truth is known: over two seeds,
    the wrong answers served are at most δ of all answers, and the budget is used (more
    candidates served than those each safe on its own at δ)."""
    runs = [_simulated_stream(delta, exact_share, middle, slope, seed) for seed in (1, 2)]
    assert sum(wrong for wrong, *_ in runs) <= delta * sum(answers for _, answers, *_ in runs)
    assert sum(served for *_, served, _ in runs) > sum(safe for *_, safe in runs)


def _confident_cache(seed: int = 5) -> Verifier:
    """A verifier whose cache-wide curve says hits at 0.9 and above are right."""
    from semcache_core.verified_responses import Candidate

    verifier = Verifier(0.05, judge=None, rng=random.Random(seed))
    for i in range(60):
        verifier.learned(Candidate(f"other{i}", 0.9 + (i % 10) / 100, None, None), True)
    return verifier


def _served_of(verifier: Verifier, record: Observations, score: float, times: int) -> int:
    hit = Hit("entry", "answer", score, {OBSERVATIONS_FIELD: record.encode()}, "ns", None)
    return sum(_serve(verifier, f"q{i}", hit) for i in range(times))


def _served_to_wrong(
    verifier: Verifier, record: Observations, scores: Iterable[float]
) -> tuple[Observations, list[bool]]:
    """Candidates at ``scores`` for which the entry's answer is wrong, one after another:
    whether each was served, and the record after each explored one added its wrong
    observation (the exploration's fresh answer differed)."""
    served = []
    for i, score in enumerate(scores):
        hit = Hit("odd", "answer", score, {OBSERVATIONS_FIELD: record.encode()}, "ns", None)
        served.append(_serve(verifier, f"q{i}", hit))
        if not served[-1]:
            record = record.add(score, False)
    return record, served


@pytest.mark.parametrize("seed", range(5))
def test_an_entry_unlike_the_others_learns_its_own_curve_and_stops_serving(seed: int) -> None:
    """The cache-wide curve says hits at 0.9+ are right; this entry's are all wrong. It is
    served at first, still explored now and then, gathers observations of its own, and its
    own curve takes over: wrong answers become rare (they went on forever: the entry was
    never explored)."""
    record, served = _served_to_wrong(_confident_cache(seed), Observations(), [0.93] * 400)
    assert any(served[:100])  # the cache-wide curve serves it at first
    assert len(record) >= MIN_OBSERVATIONS
    # its own curve then serves about as often as vCache's rule allows (~ δ plus its fit's
    # doubt at one similarity), not every time
    assert sum(served[-200:]) <= 0.15 * 200


def test_an_entry_wrong_near_the_candidate_is_judged_by_its_own_curve_alone() -> None:
    """The cache-wide curve says 0.93 is safe; this entry was wrong at 0.91, just below:
    its neighbours there are not like the others', so it is explored until its own curve
    can judge (before, the cache-wide curve served it most of the time)."""
    from semcache_core.verified_responses import NEAR_WRONG

    confident = _confident_cache()
    assert _served_of(confident, Observations(), 0.93, 50) > 40  # served without that
    wrong_near = Observations().add(0.93 - NEAR_WRONG / 2, False)
    assert _served_of(confident, wrong_near, 0.93, 200) == 0
    wrong_just_within = Observations().add(0.48, False)  # 0.53 - 0.05 in floats is above
    assert _served_of(_confident_cache(), wrong_just_within, 0.53, 50) == 0


def test_a_young_entry_is_explored_now_and_then_whatever_its_own_record() -> None:
    """The cache-wide curve is sure at 0.91; a young entry is still explored EXPLORATION
    of the time, whether it has no observation, a right one above or below, or a wrong one
    far below: its siblings may be the ones at 0.91 (an entry right for a paraphrase at
    0.88, served by the cache-wide curve alone, served its siblings at 0.90-0.95 wrong
    answers forever)."""
    from semcache_core.verified_responses import EXPLORATION

    for record in (
        Observations(),
        Observations().add(0.98, True),
        Observations().add(0.88, True),
        Observations().add(0.7, False),
    ):
        verifier = _confident_cache()
        _served_of(verifier, record, 0.91, 20)  # the budget's first candidates
        served = _served_of(verifier, record, 0.91, 1000)
        assert 0.5 * EXPLORATION * 1000 < 1000 - served < 2 * EXPLORATION * 1000


@pytest.mark.parametrize("seed", range(5))
def test_an_entry_right_below_its_siblings_learns_its_own_curve(seed: int) -> None:
    """Right for a paraphrase at 0.87, wrong for its siblings at 0.90-0.95, where the
    cache-wide curve is sure: explored now and then, it gathers wrong observations of its
    own and stops serving them (it served every one when one right answer lifted its
    exploration)."""
    rng = random.Random(seed)
    scores = (rng.uniform(0.90, 0.95) for _ in range(300))
    record, served = _served_to_wrong(
        _confident_cache(seed), Observations().add(0.87, True), scores
    )
    assert len(record) >= MIN_OBSERVATIONS
    assert sum(served[-100:]) <= 0.15 * 100


def test_an_entry_with_enough_observations_is_judged_by_its_own_curve() -> None:
    """Wrong at 0.84-0.855, right at 0.95-0.99: its own curve doubts 0.91 (vCache's rule
    explores it 91% of the time there), and the confident cache-wide curve does not overrule
    it."""
    record = Observations()
    for similarity, correct in (
        (0.84, False), (0.85, False), (0.855, False), (0.95, True), (0.97, True), (0.99, True),
    ):  # fmt: skip
        record = record.add(similarity, correct)
    assert len(record) >= MIN_OBSERVATIONS
    assert _served_of(_confident_cache(), record, 0.91, 200) <= 0.25 * 200  # its tau: 0.91


def test_an_entry_grown_on_right_answers_is_explored_no_more_than_a_young_one() -> None:
    """Wrong for siblings at 0.55-0.70, right for paraphrases at 0.86-0.95: perfectly
    separated, its own fit (vCache's variance for few points) explores a candidate at 0.93
    nearly every time at δ = 0.01. With its wrong answers far below, the confident
    cache-wide curve decides (before: served 16 of 400, by its own curve alone)."""
    from semcache_core.verified import explore_probability
    from semcache_core.verified_responses import EXPLORATION, Candidate

    record = Observations()
    grown_on = ((0.55, False), (0.7, False), (0.86, True), (0.9, True), (0.95, True))
    for similarity, correct in grown_on:
        record = record.add(similarity, correct)
    assert len(record) >= MIN_OBSERVATIONS
    assert explore_probability(record, 0.93, 0.01) > 0.9
    verifier = Verifier(0.01, judge=None, rng=random.Random(11))
    for i in range(300):
        verifier.learned(Candidate(f"other{i}", 0.85 + (i % 15) / 100, None, None), True)
    _served_of(verifier, Observations(), 0.93, 20)  # the budget's first candidates
    assert _served_of(verifier, record, 0.93, 400) > 0.93 * (1 - EXPLORATION) * 400


@pytest.mark.parametrize("seed", range(5))
def test_a_grown_entry_right_below_its_siblings_learns_its_own_curve(seed: int) -> None:
    """Grown on right answers at 0.84-0.88 (its wrong ones far below), wrong for siblings
    at 0.90-0.95 where the cache-wide curve is sure: explored now and then, it gathers
    wrong observations there and its own curve stops serving them."""
    record = Observations()
    for similarity, correct in ((0.6, False), (0.84, True), (0.86, True), (0.88, True)):
        record = record.add(similarity, correct)
    assert len(record) >= MIN_OBSERVATIONS
    rng = random.Random(seed)
    scores = (rng.uniform(0.90, 0.95) for _ in range(300))
    record, served = _served_to_wrong(_confident_cache(seed), record, scores)
    assert sum(served[-100:]) <= 0.15 * 100


@settings(max_examples=150, deadline=None)
@given(
    own=st.lists(st.tuples(st.floats(0.0, 1.0), st.booleans()), max_size=12),
    population=st.lists(st.tuples(st.floats(0.0, 1.0), st.booleans()), max_size=60),
    earlier=st.lists(st.floats(0.0, 1.0), max_size=30),
    exact_hits=st.integers(0, 200),
    score=st.floats(0.0, 1.0),
)
def test_which_curve_decides(
    own: list[tuple[float, bool]],
    population: list[tuple[float, bool]],
    earlier: list[float],
    exact_hits: int,
    score: float,
) -> None:
    """Over generated records and histories: an entry wrong near the candidate (within
    NEAR_WRONG, or FAR_WRONG once it has enough observations) is explored exactly as its
    own curve says; any other at EXPLORATION where the error budget affords it (always
    elsewhere), or as its own curve says where that is less. A candidate its own curve
    decides takes δ of the budget if it may be served; any other is remembered by it."""
    from semcache_core.verified import explore_probability
    from semcache_core.verified_responses import EXPLORATION, FAR_WRONG, NEAR_WRONG, Candidate

    verifier = Verifier(0.05, judge=None, rng=random.Random(0))
    for i, (similarity, correct) in enumerate(population):
        verifier.learned(Candidate(f"p{i}", similarity, None, None), correct)
    for i, similarity in enumerate(earlier):
        _serve(verifier, f"e{i}", Hit(f"e{i}", "a", similarity, {}, "ns", None))
    for _ in range(exact_hits):
        verifier.answered()
    record = Observations()
    for similarity, correct in own:
        record = record.add(similarity, correct)
    s = round(score, 3)
    affords = verifier._budget.affords(verifier._population_fit, s)
    judged_before, own_before = len(verifier._budget._judged), verifier._budget._own
    tau, judged = verifier._exploring(record, score)
    own_tau = explore_probability(record, score, 0.05)
    reach = FAR_WRONG if len(record) >= MIN_OBSERVATIONS else NEAR_WRONG
    by_cache = EXPLORATION if affords else 1.0
    assert 0.0 <= tau <= 1.0
    if any(not o.correct and o.similarity >= s - reach - 1e-9 for o in record.items):
        assert (tau, judged) == (own_tau, False)
    else:
        assert tau == min(own_tau, by_cache)
        assert judged == (own_tau >= by_cache)
    assert verifier._budget._own == own_before + (not judged and tau < 1.0)
    remembered = list(verifier._budget._judged)
    assert len(remembered) == judged_before + judged
    if judged:
        assert remembered[-1].similarity == s and remembered[-1].spent == 0.0


def test_every_lookup_is_one_answer_of_the_budget() -> None:
    """The budget is a share of all answers: each lookup counts once, whatever answered
    it (exact hit, exploration, miss with no candidate, the same question served, a
    value that does not load, async), and a static cache counts none."""
    cache = responses()
    counted = cache._verifier._budget

    def one_more(call: Any) -> None:
        before = counted._answers
        call()
        assert counted._answers == before + 1

    cache.update(prompt(STORED), MODEL, "soak")
    one_more(lambda: cache.lookup(prompt(STORED), MODEL))  # exact
    one_more(lambda: cache.lookup(prompt(PARAPHRASE), MODEL))  # explored: young
    one_more(lambda: cache.lookup(Prompt(exact="no query", context="", query=""), MODEL))
    one_more(lambda: cache.lookup(prompt("unrelated weather forecast today"), MODEL))
    one_more(lambda: cache.lookup(prompt(STORED), MODEL, load=lambda value: None))
    greeted = ResponseCache(threshold=0.5, max_error_rate=0.05, rng=random.Random(1))
    greeted.update(prompt("How should I water a cactus?"), MODEL, "soak")
    counted = greeted._verifier._budget
    one_more(lambda: greeted.lookup(prompt("Hi! How should I water a cactus?"), MODEL))
    assert greeted.stats().semantic_hits == 1  # the same question: served
    counted = cache._verifier._budget
    one_more(lambda: asyncio.run(cache.alookup(prompt(STORED), MODEL)))
    static = responses(max_error_rate=None)
    static.update(prompt(STORED), MODEL, "soak")
    static.lookup(prompt(STORED), MODEL)
    static.lookup(prompt(PARAPHRASE), MODEL)
    assert static._verifier._budget._answers == 0


_FROZEN = Fit(
    threshold=0.75, slope=40.0, variance=1e-4
)  # wrong 0.66 / 0.25 / 0.05 at 0.75 / 0.8 / 0.85


def _candidate(budget: ErrorBudget, similarity: float) -> bool:
    """A candidate judged on the still curve, as the verifier does (EXPLORATION aside):
    whether it was served (then its bound is spent)."""
    affords = budget.affords(_FROZEN, similarity)
    budget.judged(similarity)
    if affords:
        budget.served(_FROZEN)
    return bool(affords)


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(
        st.one_of(
            st.just("exact"),
            st.just("own"),
            st.floats(0.5, 1.0).map(lambda s: round(s, 2)),  # a candidate (ties likely)
        ),
        max_size=120,
    ),
    delta=st.sampled_from([0.01, 0.02, 0.05]),
)
def test_the_served_candidates_bounds_stay_within_the_budget(
    events: list[str | float], delta: float
) -> None:
    """Whatever the order (a run of exact hits first, then candidates rising in
    similarity, spent the banked budget twice before the spent sum counted), the bounds of
    the candidates served sum to at most δ times the answers less the own-curve decisions,
    and none served is more likely wrong than right."""
    from semcache_core.error_budget import MOST_WRONG, ErrorBudget
    from semcache_core.verified import wrong_bound

    budget = ErrorBudget(delta)
    served: list[float] = []
    for event in events:
        if event == "own":
            budget.decided_by_own()
        elif isinstance(event, float) and _candidate(budget, event):
            served.append(event)
        budget.answered()
    bounds = wrong_bound(_FROZEN, np.array(served, dtype=np.float64))
    first = next((i for i, e in enumerate(events) if isinstance(e, float)), len(events))
    window = len(events[first:]) - events[first:].count("own")
    assert budget.allowed() == pytest.approx(delta * window if first < len(events) else 0.0)
    assert float(bounds.sum()) <= budget.allowed() + 1e-9
    assert all(bound <= MOST_WRONG for bound in bounds)


def test_a_run_of_exact_hits_then_rising_candidates_spends_the_budget_once() -> None:
    """The reviewer's order: a run of exact hits, then candidates at 0.78, 0.80, 0.82,
    0.85. The threshold alone served the 0.78s on the banked budget, then the 0.85s on it
    again once they had pushed the threshold up (about twice δ); the spent sum stops
    that."""
    from semcache_core.error_budget import ErrorBudget
    from semcache_core.verified import wrong_bound

    budget = ErrorBudget(0.01)
    served = []
    stream = [0.95] * 20 + [None] * 1000 + [0.78] * 40 + [0.8] * 80 + [0.82] * 200 + [0.85] * 180
    for similarity in stream:
        if similarity is not None and _candidate(budget, similarity):
            served.append(similarity)
        budget.answered()
    spent = float(wrong_bound(_FROZEN, np.array(served)).sum())
    assert spent <= 0.01 * len(stream)  # the window: every answer since the first candidate
    assert 0.78 in served and 0.85 in served  # both spent on, within the one budget


@settings(max_examples=200, deadline=None)
@given(
    similarities=st.lists(st.floats(0.5, 1.0).map(lambda s: round(s, 2)), min_size=1, max_size=60),
    exact_hits=st.integers(0, 400),
    delta=st.sampled_from([0.01, 0.02, 0.05]),
)
def test_the_threshold_is_the_lowest_that_fits(
    similarities: list[float], exact_hits: int, delta: float
) -> None:
    """Every remembered candidate at or above the threshold fits together (their bounds
    sum within the budget, none above MOST_WRONG); the next lower one would not; equal
    similarities are in or out together; no threshold when not even the highest fits."""
    from semcache_core.error_budget import MOST_WRONG, ErrorBudget
    from semcache_core.verified import wrong_bound

    budget = ErrorBudget(delta)
    for similarity in similarities:
        budget.judged(similarity)
        budget.answered()
    for _ in range(exact_hits):
        budget.answered()
    allowed = delta * (len(similarities) + exact_hits)
    assert budget.allowed() == pytest.approx(allowed)

    def fits(floor: float) -> bool:
        bounds = wrong_bound(_FROZEN, np.array([s for s in similarities if s >= floor]))
        return float(bounds.sum()) <= allowed + 1e-12 and bool(np.all(bounds <= MOST_WRONG))

    threshold = budget.threshold(_FROZEN)
    if threshold is None:
        assert not fits(max(similarities))
        return
    assert threshold in similarities and fits(threshold)
    lower = [s for s in similarities if s < threshold]
    assert not lower or not fits(max(lower))


def test_a_window_past_its_history_counts_the_answers_since_its_oldest_candidate() -> None:
    from semcache_core.error_budget import ErrorBudget

    budget = ErrorBudget(0.1, history=3)
    for similarity in (0.9, 0.91, 0.92, 0.93, 0.94):  # the first two drop out
        budget.judged(similarity)
        for _ in range(10):
            budget.answered()
        budget.decided_by_own()
    assert [j.similarity for j in budget._judged] == [0.92, 0.93, 0.94]
    assert budget.allowed() == pytest.approx(0.1 * (30 - 3))


def test_a_coin_flip_is_never_served_however_much_budget_is_left() -> None:
    from semcache_core.error_budget import MOST_WRONG, ErrorBudget
    from semcache_core.verified import wrong_bound

    budget = ErrorBudget(0.05)
    for similarity in (0.9, 0.78, 0.75):
        budget.judged(similarity)
    for _ in range(100_000):
        budget.answered()
    assert budget.threshold(_FROZEN) == 0.78
    assert wrong_bound(_FROZEN, np.array([0.75]))[0] > MOST_WRONG
    assert budget.affords(_FROZEN, 0.78) and not budget.affords(_FROZEN, 0.75)


# --- found in review: each failed before its fix --------------------------------------------


def test_an_observation_never_goes_to_a_response_stored_since_under_the_same_key() -> None:
    cache = responses()
    cache.update(prompt(STORED), MODEL, "answer-A")
    assert cache.lookup(prompt(PARAPHRASE), MODEL) is None  # explored against answer-A
    cache.update(prompt(STORED), MODEL, "answer-B")  # the entry is replaced meanwhile
    cache.update(prompt(PARAPHRASE), MODEL, "answer-A")  # "right" about answer-A only
    assert observations(cache) == []  # answer-B was never compared: it learns nothing
    entry = cache.cache.get_entry(cache._key(prompt(STORED), MODEL), namespace=cache.namespace)
    assert entry is not None and entry.value == "answer-B"


async def test_learning_never_brings_back_an_invalidated_entry() -> None:
    import asyncio

    for _ in range(10):
        cache = responses(max_error_rate=None)  # static: every candidate is served
        cache.update(prompt(STORED), MODEL, "wrong answer")
        assert cache.lookup(prompt(PARAPHRASE), MODEL) == "wrong answer"
        await asyncio.gather(
            cache.afeedback(prompt(PARAPHRASE), MODEL, False),
            cache.ainvalidate(prompt(STORED), MODEL),
        )
        key = cache._key(prompt(STORED), MODEL)
        assert cache.cache.get_entry(key, namespace=cache.namespace) is None


def test_a_curve_sloping_the_wrong_way_is_always_explored() -> None:
    from semcache_core.verified import explore_probability, fit

    record = Observations()
    for _ in range(8):
        record = record.add(0.55, True).add(0.95, False)
    assert fit(record) is None
    assert explore_probability(record, 0.95, 0.02) == 1.0


def test_a_judge_that_raises_keeps_the_fresh_answer_and_teaches_nothing() -> None:
    def broken(cached: object, fresh: object) -> bool:
        raise ValueError("judge backend timed out")

    cache = responses(judge=broken)
    cache.update(prompt(STORED), MODEL, "soak")
    assert cache.lookup(prompt(PARAPHRASE), MODEL) is None  # explored
    with pytest.warns(RuntimeWarning, match="judge raised ValueError"):
        cache.update(prompt(PARAPHRASE), MODEL, "soak")
    assert observations(cache) == []
    assert cache.lookup(prompt(PARAPHRASE), MODEL) == "soak"  # stored, exact hit
    hits = cache.cache.search(angle_embedder(PARAPHRASE), 5, namespace=cache.namespace)
    assert len(hits) == 2  # and with its vector, as after a plain miss


@pytest.mark.parametrize("rng", [42, object(), "seed"])
def test_an_rng_without_random_is_refused_at_construction(rng: object) -> None:
    with pytest.raises(InvalidArgumentError, match="rng must have a random"):
        ResponseCache(max_error_rate=0.02, rng=rng)  # type: ignore[arg-type]


def test_the_cache_wide_curve_keeps_the_newest_observations_up_to_its_bound() -> None:
    from semcache_core.verified_responses import POPULATION, Candidate

    verifier = Verifier(0.02, judge=None, rng=random.Random(1))
    for i in range(POPULATION + 100):
        verifier.learned(Candidate(f"k{i}", 0.5 + (i % 50) / 100, None, None), i % 7 != 0)
    kept = verifier._population.items
    assert len(kept) == POPULATION > 48  # more than one entry's record keeps
    assert kept[-1].similarity == 0.5 + ((POPULATION + 99) % 50) / 100  # the newest


def test_a_hit_served_meanwhile_keeps_the_pending_exploration_of_the_same_prompt() -> None:
    """Two requests for one prompt at once: the first is explored, the second served;
    the first one's update still teaches the entry."""

    class Draws:
        def __init__(self, values: list[float]) -> None:
            self.values = values

        def random(self) -> float:
            return self.values.pop(0)

    cache = ResponseCache(
        embedder=angle_embedder, threshold=0.5, max_error_rate=0.05, rng=Draws([0.0, 0.999])
    )
    cache.update(prompt(STORED), MODEL, "soak")
    teach(cache, 0.93, True, 10)
    assert cache.lookup(prompt(PARAPHRASE), MODEL) is None  # drawn 0.0: explored
    assert cache.lookup(prompt(PARAPHRASE), MODEL) == "soak"  # drawn 0.999: served
    before = len(observations(cache))
    cache.update(prompt(PARAPHRASE), MODEL, "soak")  # the first request's fresh answer
    assert len(observations(cache)) == before + 1


@settings(max_examples=40, deadline=None)
@given(
    verdict=st.one_of(
        st.sampled_from(["no", "False", "", "yes", None, float("nan"), 0.0, 1, 0]),
        st.text(max_size=5),
        st.floats(allow_nan=True),
        st.integers(),
    )
)
def test_a_judge_answer_that_is_not_a_bool_teaches_nothing(verdict: object) -> None:
    """bool() of the answer was learned: an LLM-as-judge answering "no" or "False", or a
    NaN score, taught the entry that its wrong answer was right."""
    cache = responses(judge=lambda cached, fresh: verdict)
    cache.update(prompt(STORED), MODEL, "soak")
    assert cache.lookup(prompt(PARAPHRASE), MODEL) is None  # explored
    with pytest.warns(RuntimeWarning, match="not a bool; nothing learned"):
        cache.update(prompt(PARAPHRASE), MODEL, "never")
    assert observations(cache) == []


@pytest.mark.parametrize("verdict", [True, False, np.bool_(True), np.bool_(False)])
def test_a_judge_answering_a_bool_teaches_it(verdict: object) -> None:
    cache = responses(judge=lambda cached, fresh: verdict)
    cache.update(prompt(STORED), MODEL, "soak")
    assert cache.lookup(prompt(PARAPHRASE), MODEL) is None
    cache.update(prompt(PARAPHRASE), MODEL, "never")
    assert [right for _, right in observations(cache)] == [int(bool(verdict))]


BAD_WRITES = {
    "unstorable response": {"response": "soak \ud800"},
    "usage not a Usage": {"usage": (10, 5, "m")},
    "query not valid text": {"query": "how often \ud800?"},
    "model not a str": {"model": 42},
}


@pytest.mark.parametrize("bad", list(BAD_WRITES.values()), ids=list(BAD_WRITES))
def test_a_refused_update_leaves_the_pending_exploration_to_the_retry(
    bad: dict[str, Any],
) -> None:
    """The exploration was settled (and the judge called) before the response was found
    unstorable: the retry with a good one taught the explored entry nothing."""
    judged: list[tuple[object, object]] = []

    def judge(cached: object, fresh: object) -> bool:
        judged.append((cached, fresh))
        return cached == fresh

    cache = responses(judge=judge)
    cache.update(prompt(STORED), MODEL, "soak")
    assert cache.lookup(prompt(PARAPHRASE), MODEL) is None  # explored
    query = bad.get("query", PARAPHRASE)
    with pytest.raises((InvalidArgumentError, InvalidValueError)):
        cache.update(
            Prompt(exact=PARAPHRASE, context="", query=query),
            bad.get("model", MODEL),
            bad.get("response", "soak"),
            bad.get("usage"),
        )
    assert judged == [] and observations(cache) == []  # nothing changed
    cache.update(prompt(PARAPHRASE), MODEL, "soak")  # the retry
    assert judged == [("soak", "soak")] and observations(cache) == [[0.93, 1]]


# --- found by review: invalidation after a right exploration, expiry, a removed entry ------


def test_invalidating_a_prompt_an_exploration_vouched_for_teaches_the_entry() -> None:
    """The paraphrase's answer (the same response) was stored for exact hits only; its
    invalidation removed that entry and taught nothing, so the next lookup served the
    invalidated text from the entry that vouched for it."""
    cache = responses()
    cache.update(prompt(STORED), MODEL, "soak")
    assert cache.lookup(prompt(PARAPHRASE), MODEL) is None  # explored
    cache.update(prompt(PARAPHRASE), MODEL, "soak")  # right: exact hits only
    assert observations(cache) == [[0.93, 1]]
    assert cache.invalidate(prompt(PARAPHRASE), MODEL) is True
    assert observations(cache) == [[0.93, 1], [0.93, 0]]
    for _ in range(20):  # wrong right at this similarity: explored, never served
        assert cache.lookup(prompt(PARAPHRASE), MODEL) is None


def test_feedback_on_a_vouched_prompt_reaches_the_entry() -> None:
    cache = responses()
    cache.update(prompt(STORED), MODEL, "soak")
    cache.lookup(prompt(PARAPHRASE), MODEL)
    cache.update(prompt(PARAPHRASE), MODEL, "soak")
    assert cache.feedback(prompt(PARAPHRASE), MODEL, False) is True
    assert observations(cache) == [[0.93, 1], [0.93, 0]]


def test_an_observation_keeps_no_expiry_whatever_the_engine_default(tmp_path: Path) -> None:
    """set(ttl=None) means the engine's default ttl: an observation gave a response stored
    without expiry the default of the engine recording it, and it was lost later."""
    clock = FakeClock()
    with SemCache(path=tmp_path / "c", clock=clock) as engine:
        responses(engine).update(prompt(STORED), MODEL, "soak")
    engine = SemCache(path=tmp_path / "c", clock=clock, ttl=60)
    cache = responses(engine)
    cache.lookup(prompt(PARAPHRASE), MODEL)
    cache.update(prompt(PARAPHRASE), MODEL, "soak")
    entry = engine.get_entry(cache._key(prompt(STORED), MODEL), namespace=cache.namespace)
    assert entry is not None and entry.expires_at is None
    assert observations(cache) == [[0.93, 1]]
    clock.advance(61)
    assert engine.get_entry(entry.key, namespace=cache.namespace) is not None
    engine.close()


@pytest.mark.parametrize("removal", ["clear", "invalidate"])
def test_a_right_answer_whose_explored_entry_left_is_stored_for_its_neighbours(
    removal: str,
) -> None:
    """With the explored entry gone nothing learned: the answer is stored as after a plain
    miss (it was stored for exact hits only, and its paraphrases met no candidate)."""
    cache = responses()
    cache.update(prompt(STORED), MODEL, "soak")
    assert cache.lookup(prompt(PARAPHRASE), MODEL) is None  # explored
    if removal == "clear":
        cache.clear()
    else:
        cache.invalidate(prompt(STORED), MODEL)
    cache.update(prompt(PARAPHRASE), MODEL, "soak")
    hits = cache.cache.search(angle_embedder(OTHER), 5, namespace=cache.namespace)
    assert [hit.key for hit in hits] == [cache._key(prompt(PARAPHRASE), MODEL)]


class _Draws:
    """An rng giving these draws in turn (0.0: explore whatever the probability)."""

    def __init__(self, draws: Iterable[float]) -> None:
        self.draws = list(draws)

    def random(self) -> float:
        return self.draws.pop(0)


def test_feedback_never_reaches_an_entry_stored_since_under_the_key_that_served() -> None:
    """Found by review: an entry that served a semantic hit was invalidated, and the same
    response came back under its key for exact hits only (then: a right exploration; now: a
    prompt with no query text, which only ever hits exactly). Feedback on the old hit
    rewrote that new entry, putting the old vector back in the index with no query text:
    an observation on an entry that never served, which could never serve."""
    engine = SemCache()
    static = ResponseCache(engine, embedder=angle_embedder, threshold=0.5)
    static.update(prompt(STORED), MODEL, "answer")
    assert static.lookup(prompt(PARAPHRASE), MODEL) == "answer"  # served by STORED's entry
    assert static.invalidate(prompt(STORED), MODEL)
    exact_only = Prompt(exact=STORED, context="", query="")
    static.update(exact_only, MODEL, "answer")  # the same key and response, no query text
    key = static._key(prompt(STORED), MODEL)
    before = engine.get_entry(key, namespace=static.namespace)
    assert before is not None and OBSERVATIONS_FIELD not in before.metadata

    assert static.feedback(prompt(PARAPHRASE), MODEL, True) is False  # its server is gone
    after = engine.get_entry(key, namespace=static.namespace)
    assert after == before
    vector = angle_embedder(STORED)
    assert key not in [hit.key for hit in engine.search(vector, 10, namespace=static.namespace)]


def test_a_served_answer_reported_wrong_is_spent_whole() -> None:
    """feedback(False) or invalidate on a semantic hit is a wrong answer given: the budget
    counts it as one, and the cache-wide rule serves nothing more until the answers since
    make room; a right one, or a wrong one on a prompt an exploration vouched for (the
    model answered it), costs nothing."""
    from semcache_core.verified_responses import Candidate

    verifier = _confident_cache()
    hit = Hit("entry", "answer", 0.95, {}, "ns", None)
    served = [i for i in range(40) if _serve(verifier, f"q{i}", hit)]
    assert len(served) > 30
    budget, curve = verifier._budget, verifier._population_fit

    def spent() -> float:
        return sum(j.spent for j in budget._judged)

    before = spent()
    verifier.learned(verifier.pop_served(f"q{served[0]}"), True)  # type: ignore[arg-type]
    verifier.learned(Candidate("entry", 0.95, None, None), False)  # vouched: not served
    assert spent() == before and budget.affords(curve, 0.95)
    for i in served[1:3]:
        verifier.learned(verifier.pop_served(f"q{i}"), False)  # type: ignore[arg-type]
    assert spent() == pytest.approx(before + 2.0)
    assert budget.allowed() == pytest.approx(0.05 * 40) and not budget.affords(curve, 0.95)


def test_invalidating_a_served_hit_spends_a_wrong_answer() -> None:
    from semcache_core.verified_responses import Candidate

    cache = responses(max_error_rate=0.05)
    cache.update(prompt(STORED), MODEL, "soak")
    verifier = cache._verifier
    for i in range(60):
        verifier.learned(Candidate(f"other{i}", 0.9 + (i % 10) / 100, None, None), True)
    answers: list[Any] = []
    while "soak" not in answers and len(answers) < 30:  # explored now and then
        answers.append(cache.lookup(prompt(PARAPHRASE), MODEL))
    assert answers[-1] == "soak"  # served: the last answer for the prompt
    spent = sum(j.spent for j in verifier._budget._judged)
    assert cache.invalidate(prompt(PARAPHRASE), MODEL) is True
    assert sum(j.spent for j in verifier._budget._judged) == pytest.approx(spent + 1.0)
