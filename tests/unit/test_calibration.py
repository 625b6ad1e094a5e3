"""calibrate(): the per-threshold table against a brute-force count, the recommendation is
the lowest threshold reaching the precision, bad pairs are named, templates are applied, and
the response rule scores pairs as ResponseCache decides them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semcache_core import (
    Calibration,
    EmbedderError,
    HashingEmbedder,
    InvalidArgumentError,
    InvalidPairError,
    InvalidVectorError,
    Prompt,
    ResponseCache,
    calibrate,
)
from semcache_core.calibration import table

PAIRS_DIR = Path(__file__).resolve().parents[2] / "examples" / "pairs"

# A few values, so that ties (several pairs at one score, of both labels) are common.
SCORES = st.sampled_from([-math.inf, -0.2, 0.3, 0.5, 0.71, 0.8, 0.85, 0.9, 0.97, 1.0, math.inf])


def brute_force(scores: list[float], same: list[bool], threshold: float) -> dict[str, Any]:
    served = [s >= threshold for s in scores]
    hits = sum(1 for x, y in zip(served, same) if x and y)
    wrong = sum(1 for x, y in zip(served, same) if x and not y)
    positives = sum(same)
    return {
        "served": hits + wrong,
        "hits": hits,
        "wrong_hits": wrong,
        "missed": positives - hits,
        "precision": hits / (hits + wrong) if hits + wrong else None,
        "recall": hits / positives if positives else 0.0,
    }


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(SCORES, st.booleans()), min_size=1, max_size=40),
    st.lists(st.floats(min_value=-1.0, max_value=1.0) | SCORES, min_size=1, max_size=8),
)
def test_table_counts_what_a_brute_force_pass_counts(
    labelled: list[tuple[float, bool]], thresholds: list[float]
) -> None:
    scores, same = [s for s, _ in labelled], [y for _, y in labelled]
    for row in table(scores, same, thresholds):
        expected = brute_force(scores, same, row.threshold)
        got = {key: getattr(row, key) for key in expected}
        assert got == pytest.approx(expected)
        f1 = 2 * row.hits / (2 * row.hits + row.wrong_hits + row.missed) if any(same) else 0.0
        assert row.f1 == pytest.approx(f1 if any(same) or row.wrong_hits else 0.0)


class PlantedScores:
    """An embedder under which pair ``i`` ("a{i}", "b{i}") has cosine ``scores[i]``: each
    pair lives in its own two dimensions."""

    def __init__(self, scores: list[float]) -> None:
        self.dim = 2 * len(scores)
        self.vectors: dict[str, np.ndarray] = {}
        for i, score in enumerate(scores):
            a, b = np.zeros(self.dim), np.zeros(self.dim)
            a[2 * i] = 1.0
            b[2 * i], b[2 * i + 1] = score, math.sqrt(max(0.0, 1.0 - score * score))
            self.vectors[f"a{i}"], self.vectors[f"b{i}"] = a, b
        self.calls: list[str] = []

    def __call__(self, text: str) -> np.ndarray:
        self.calls.append(text)
        return self.vectors[text]


FINITE = st.sampled_from([-0.3, 0.2, 0.6, 0.75, 0.8, 0.85, 0.9, 0.93, 0.97, 0.99])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(FINITE, st.booleans()), min_size=2, max_size=30).filter(
        lambda pairs: 0 < sum(y for _, y in pairs) < len(pairs)
    ),
    st.sampled_from([0.5, 0.8, 0.9, 0.99, 1.0]),
)
def test_the_recommendation_is_the_lowest_threshold_reaching_the_precision(
    labelled: list[tuple[float, bool]], floor: float
) -> None:
    embedder = PlantedScores([s for s, _ in labelled])
    pairs = [(f"a{i}", f"b{i}", same) for i, (_, same) in enumerate(labelled)]
    result = calibrate(pairs, embedder, floor, rule="cosine")
    scores = [s.score for s in result.scores]
    same = [y for _, y in labelled]

    def qualifies(threshold: float) -> bool:
        row = brute_force(scores, same, threshold)
        return row["hits"] > 0 and row["precision"] >= floor

    qualifying = [s for s in set(scores) if qualifies(s)]
    if not qualifying:
        assert result.threshold is None and not result.met
        assert result.precision is None and f"no threshold reaches precision {floor:g}" in (
            result.message
        )
        return
    lowest = min(qualifying)  # every threshold below it serves a set that fails
    assert result.threshold is not None and result.threshold <= lowest
    chosen = brute_force(scores, same, result.threshold)
    assert chosen == brute_force(scores, same, lowest)  # the same pairs served
    assert result.precision == chosen["precision"] >= floor
    assert result.recall == chosen["recall"]
    assert round(result.threshold, 6) == result.threshold or result.threshold == lowest
    # The table holds one row per distinct score, highest first, each as counted.
    assert [row.threshold for row in result.rows] == sorted(set(scores), reverse=True)
    for row in result.rows:
        assert row.served == brute_force(scores, same, row.threshold)["served"]
    # Each text embedded once.
    assert sorted(embedder.calls) == sorted(set(embedder.calls))


class PlantedWithRepeats(PlantedScores):
    """:class:`PlantedScores`, and any other text (an identical pair's) along one axis."""

    def __call__(self, text: str) -> np.ndarray:
        if text in self.vectors:
            return super().__call__(text)
        vector = np.zeros(self.dim)
        vector[0] = 1.0
        return vector


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(FINITE, st.booleans()), min_size=1, max_size=12),
    st.lists(st.booleans(), min_size=1, max_size=4),
    st.sampled_from([0.9, 0.99, 1.0]),
)
def test_identical_prompts_count_above_every_semantic_score(
    labelled: list[tuple[float, bool]], repeats: list[bool], floor: float
) -> None:
    """Found by review: identical prompts (exact hits, served at any threshold) were only
    counted at the thresholds of finite scores, so a set whose same pairs were all exact
    hits was told "no threshold reaches" although 1.0 serves them alone."""
    pairs = [(f"a{i}", f"b{i}", same) for i, (_, same) in enumerate(labelled)]
    pairs += [(f"repeat {i}", f"repeat {i}", same) for i, same in enumerate(repeats)]
    if all(same for *_, same in pairs) or not any(same for *_, same in pairs):
        return  # one label only: refused (another test)
    result = calibrate(pairs, PlantedWithRepeats([s for s, _ in labelled]), floor, guards=())
    scores = [s.score for s in result.scores]
    same = [y for *_, y in pairs]
    candidates = {s for s in scores if math.isfinite(s)} | {1.0}
    qualifying = [
        t
        for t in candidates
        if brute_force(scores, same, t)["hits"]
        and brute_force(scores, same, t)["precision"] >= floor
    ]
    assert (result.threshold is not None) == bool(qualifying)
    if result.threshold is not None:
        chosen = brute_force(scores, same, result.threshold)
        assert chosen == brute_force(scores, same, min(qualifying))
        assert result.precision == chosen["precision"] >= floor


def test_no_threshold_reaching_the_precision_is_said_not_rounded_to_one() -> None:
    # The closest pair is a different one: no threshold serves a same pair at precision 1.
    pairs = [("a0", "b0", False), ("a1", "b1", True), ("a2", "b2", False)]
    result = calibrate(pairs, PlantedScores([0.95, 0.9, 0.5]), 1.0, rule="cosine")
    assert result.threshold is None and not result.met
    assert (result.precision, result.recall, result.f1) == (None, None, None)
    assert result.message.startswith("no threshold reaches precision 1")
    assert result.row_at(0.85).precision == 0.5  # the table is still there


def good(**changes: Any) -> dict[str, Any]:
    return {"a": "How do I reset my password?", "b": "How do I delete it?", "same": False} | changes


BAD_PAIRS = [
    (5, "a pair is a mapping or an (a, b, same) tuple, got int"),
    ("abc", "got str"),
    (("x", "y"), "a tuple pair is (a, b, same), got 2 items"),
    ({"a": "x", "same": True}, "missing 'b'"),
    ({"b": "x"}, "missing 'a', 'same'"),
    (good(same=1), "'same' must be a bool, got 1"),
    (good(same="true"), "'same' must be a bool, got 'true'"),
    (good(same=None), "'same' must be a bool"),
    (good(a=3), "'a' must be a str, got int"),
    (("x", None, True), "'b' must be a str, got NoneType"),
    (good(template="Answer this: {question}"), "'template' must be a str holding {q}"),
    (good(template=["{q}"]), "'template' must be a str holding {q}"),
    (good(a="reset my password \ud800"), "'a' holds a lone surrogate"),  # no UTF-8 form
]


@pytest.mark.parametrize(("bad", "said"), BAD_PAIRS)
def test_a_bad_pair_is_named_before_anything_is_embedded(bad: Any, said: str) -> None:
    embedder = PlantedScores([0.5, 0.9])
    pairs = [("a0", "b0", True), ("a1", "b1", False), bad]
    with pytest.raises(InvalidPairError) as caught:
        calibrate(pairs, embedder)
    assert caught.value.index == 2
    assert str(caught.value).startswith("pair 2: ") and said in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert embedder.calls == []


@pytest.mark.parametrize("size", [0, -1, 1.5, "8", None, True])
def test_a_batch_size_that_is_no_count_is_refused(size: Any) -> None:
    embedder = PlantedScores([0.5, 0.9])
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        calibrate([("a0", "b0", True), ("a1", "b1", False)], embedder, batch_size=size)
    assert embedder.calls == []


@pytest.mark.parametrize("floor", [0, 0.0, -0.5, 1.01, math.nan, True, "0.9", None])
def test_min_precision_outside_zero_one_is_refused(floor: Any) -> None:
    with pytest.raises(InvalidArgumentError, match=r"min_precision must be in \(0, 1\]"):
        calibrate([("a", "b", True), ("a", "c", False)], None, floor)


@pytest.mark.parametrize(
    ("pairs", "said"),
    [
        ([], "no pairs"),
        (iter([]), "no pairs"),
        ([("a", "b", True), ("a", "c", True)], "all 2 pairs are labelled same=True"),
        ([good()], "all 1 pairs are labelled same=False"),
        ("a,b,true", "pairs must be an iterable of pairs, got a str"),
        (good(), "got a dict"),
    ],
)
def test_pairs_that_cannot_calibrate_are_refused(pairs: Any, said: str) -> None:
    with pytest.raises(InvalidArgumentError, match=said):
        calibrate(pairs, None)


def test_an_unknown_rule_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="rule must be"):
        calibrate([("a", "b", True), ("a", "c", False)], None, rule="dot")  # type: ignore[arg-type]


class Recording:
    """A LangChain-style embedder (lists in, lists out) that records every batch."""

    def __init__(self) -> None:
        self.inner = HashingEmbedder()
        self.batches: list[list[str]] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.batches.append(list(texts))
        return [self.inner.embed_query(text).tolist() for text in texts]

    def embed_query(self, text: str) -> list[float]:
        raise AssertionError("calibration embeds documents, in batches")


TEMPLATE = (
    'Answer in JSON: {"answer": "<text>"}.\nUse the context: opening hours are 9-17.\n'
    "Question: {q}\nAnswer:"
)


def test_templates_are_applied_and_only_the_differing_sentences_decide() -> None:
    embedder = Recording()
    pairs = [
        {
            "a": "When does the shop open?",
            "b": "What time does the shop open?",
            "same": True,
            "template": TEMPLATE,
            "kind": "ignored",
        },
        {
            "a": "When does the shop open?",
            "b": "When does the shop close?",
            "same": False,
            "template": TEMPLATE,
        },
        {
            "a": "Is it open on 5 May?",
            "b": "Is it open on 6 May?",
            "same": False,
            "template": TEMPLATE,
        },
        {
            "a": "When does the shop open?",
            "b": "When does the shop open?",
            "same": True,
            "template": TEMPLATE,
        },
        ("When does the shop open?", "What time does the shop open?", True),
    ]
    result = calibrate(pairs, embedder, 0.99, batch_size=3)
    embedded = [text for batch in embedder.batches for text in batch]
    assert all(len(batch) <= 3 for batch in embedder.batches)
    assert len(embedded) == len(set(embedded))  # each distinct text once
    whole = TEMPLATE.replace("{q}", "When does the shop open?")
    assert whole in embedded and '{"answer": "<text>"}' in whole  # braces kept, {q} filled
    assert "When does the shop open?" in embedded  # the differing sentence, on its own
    first, close, numbers, identical, plain = result.scores
    assert first.pair.a == whole and first.how == "whole texts and differing sentences"
    inner = HashingEmbedder()

    def cos(x: str, y: str) -> float:
        return float(inner.embed_query(x) @ inner.embed_query(y))

    templated_b = TEMPLATE.replace("{q}", "What time does the shop open?")
    expected = min(
        cos(whole, templated_b),
        cos("When does the shop open?", "What time does the shop open?"),
    )
    assert first.score == pytest.approx(expected, abs=1e-6)
    assert first.score < cos(whole, templated_b)  # the template alone made them look alike
    assert numbers.score == -math.inf and numbers.how == "refused by the cache's checks"
    assert identical.score == math.inf  # an exact hit
    assert plain.how == "whole texts" and plain.score == pytest.approx(
        cos("When does the shop open?", "What time does the shop open?"), abs=1e-6
    )
    # "open" / "close": the opposites guard refuses it; without guards the spans decide
    assert close.score == -math.inf and close.how == "refused by the cache's checks"
    unguarded = calibrate(pairs, embedder, 0.99, guards=())
    assert unguarded.scores[1].how == "whole texts and differing sentences"
    assert unguarded.scores[2].score > -math.inf  # no guards: no number check either


def shipped_pairs() -> list[dict[str, Any]]:
    pairs = []
    for path in sorted(PAIRS_DIR.glob("*.jsonl")):
        pairs.extend(json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return pairs


def test_the_response_rule_serves_exactly_what_response_cache_serves() -> None:
    """For every shipped pair and threshold: ResponseCache holding ``a`` serves ``b`` iff
    the pair's score reaches the threshold (thresholds within 1e-4 of a score skipped:
    the engine rounds scores differently in the last bits)."""
    pairs = shipped_pairs()[::4]
    result = calibrate(pairs, None)
    for threshold in (0.6, 0.75, 0.85, 0.95):
        served_by_cache = []
        for score in result.scores:
            if abs(score.score - threshold) < 1e-4:
                continue
            cache = ResponseCache(threshold=threshold)
            cache.update(Prompt(score.pair.a, "", score.pair.a), "model", "answer")
            hit = cache.lookup(Prompt(score.pair.b, "", score.pair.b), "model") is not None
            served_by_cache.append(hit)
            assert hit == (score.score >= threshold), (threshold, score)
        assert any(served_by_cache) and not all(served_by_cache)


def test_the_shipped_set_is_large_balanced_and_covers_every_kind() -> None:
    pairs = shipped_pairs()
    assert len(pairs) >= 400
    same = sum(pair["same"] for pair in pairs)
    assert 0.40 <= same / len(pairs) <= 0.50
    kinds = {pair["kind"].split(":")[0] for pair in pairs}
    assert kinds == {
        "paraphrase",
        "negation",
        "swap",
        "identifier",
        "other_ask",
        "template",
        "multi_turn",
    }
    templates = {pair["kind"] for pair in pairs if pair["kind"].startswith("template:")}
    assert templates == {
        f"template:{name}" for name in ("rag", "support", "json", "translate", "coding")
    }
    keys = [(pair["a"], pair["b"], pair.get("template")) for pair in pairs]
    assert len(keys) == len(set(keys))  # no pair twice
    calibrate(pairs, None)  # every line is a valid pair


def test_a_calibration_reads_as_a_record() -> None:
    result = calibrate(
        [("a0", "b0", True), ("a1", "b1", False)], PlantedScores([0.9, 0.5]), guards=()
    )
    assert isinstance(result, Calibration) and result.met
    assert result.threshold == 0.7 and result.precision == result.recall == result.f1 == 1.0
    assert (
        result.message
        == "threshold 0.7: precision 1.0000 >= 0.99, 1 of 1 same pairs served, 0 wrong"
    )


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=repr)
def test_an_embedder_giving_nan_or_infinity_is_named_not_taken_for_an_empty_text(
    bad: float,
) -> None:
    """Found by review: every InvalidVectorError counted as "embeds to nothing", so a
    broken embedder read as "no threshold serves any same pair"."""

    def broken(text: str) -> list[float]:
        return [1.0, bad] if text == "b0" else [1.0, 0.0]

    # the embedder's adapter names it first now (an EmbedderError, before calibrate's own)
    with pytest.raises((InvalidVectorError, EmbedderError), match="NaN or infinite"):
        calibrate([("a0", "b0", True), ("a1", "b1", False)], broken, guards=())


def test_an_all_zero_embedding_still_serves_nothing() -> None:
    zero_for_b0 = PlantedScores([0.9, 0.2])
    zero_for_b0.vectors["b0"] = np.zeros(zero_for_b0.dim)
    result = calibrate([("a0", "b0", True), ("a1", "b1", False)], zero_for_b0, guards=())
    assert result.threshold is None
