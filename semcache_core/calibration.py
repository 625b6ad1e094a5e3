"""Thresholds from labelled pairs, not by hand: :func:`calibrate`.

Give it pairs of prompts labelled ``same`` (one may be served the other's answer) or not,
and an embedder; it scores every pair the way the LLM cache decides a semantic hit, and
tabulates, for every threshold, what a cache at that threshold would serve:

- a pair is *served* at threshold ``t`` when its score is ``>= t`` (the cache's rule);
- ``precision`` = same pairs among those served (``None`` when nothing is served);
- ``recall`` = served pairs among the same ones; ``f1`` = ``2·hits / (2·hits + wrong + missed)``.

The recommended threshold is the lowest one whose precision is at least ``min_precision``
(the most hits at that precision); as every threshold between two neighbouring scores
serves the same pairs, it is written with as few decimals as possible, near the middle of
that gap.
When no threshold reaches it, ``threshold`` is ``None`` and ``message`` says so and why:
never a silent 1.0.

Example::

    >>> from semcache_core import calibrate
    >>> pairs = [
    ...     {"a": "How do I reset my password?", "b": "how do I reset my password", "same": True},
    ...     {"a": "How do I reset my password?", "b": "How do I delete my account?", "same": False},
    ... ]
    >>> result = calibrate(pairs, None, min_precision=0.99)  # None: the built-in embedder
    >>> result.threshold is not None and result.precision == 1.0
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .checks import as_real, check_count, encodes_as_utf8
from .embedders import embed_documents
from .errors import InvalidArgumentError, InvalidPairError, InvalidVectorError, shown
from .guards import Guard, check_guards
from .hit_rule import checked_verdict
from .pleasantries import without_pleasantries
from .vectors import FloatVector, as_unit_vector, score_floor

__all__ = ["Calibration", "LabelledPair", "PairScore", "ThresholdRow", "calibrate", "table"]

Rule = Literal["response", "cosine"]
PLACEHOLDER = "{q}"
_NEVER = -math.inf  # the cache's checks refuse the pair at every threshold
_ALWAYS = math.inf  # identical prompts: an exact hit, whatever the threshold
_MARGIN = 0.05  # the gap assumed below the lowest pair served when no pair scores lower


@dataclass(frozen=True, slots=True)
class LabelledPair:
    """One pair as calibrated: ``a`` is the cached prompt, ``b`` the one that arrives
    (the template, when given, already applied to both)."""

    index: int
    a: str
    b: str
    same: bool


@dataclass(frozen=True, slots=True)
class PairScore:
    """A pair's score: served at threshold ``t`` iff ``score >= t``. ``-inf`` when the
    cache's checks refuse it at any threshold (``how`` says which), ``+inf`` for identical
    prompts (an exact hit)."""

    pair: LabelledPair
    score: float
    how: str


@dataclass(frozen=True, slots=True)
class ThresholdRow:
    """What a cache at ``threshold`` serves of the pairs.

    Attributes:
        threshold: cosine similarity in [-1, 1]; pairs scoring ``>= threshold`` are served.
        served: pairs served (``hits + wrong_hits``).
        hits: served pairs labelled same.
        wrong_hits: served pairs labelled different (a wrong cached answer).
        missed: same pairs not served.
        precision: ``hits / served``; ``None`` when nothing is served.
        recall: ``hits / (hits + missed)``.
        f1: ``2·hits / (2·hits + wrong_hits + missed)``.
    """

    threshold: float
    served: int
    hits: int
    wrong_hits: int
    missed: int
    precision: float | None
    recall: float
    f1: float


@dataclass(frozen=True, slots=True)
class Calibration:
    """The result of :func:`calibrate`.

    Attributes:
        threshold: the recommended threshold, or ``None`` when none reaches
            ``min_precision`` (``message`` says why).
        precision, recall, f1: the pairs' figures at ``threshold`` (``None`` without one).
        min_precision: the precision asked for.
        rows: the whole table, one row per distinct finite score (the lowest threshold that
            serves each set of pairs), highest threshold first.
        scores: every pair's score, in the order given.
        rule: ``"response"`` (the LLM cache's rule) or ``"cosine"`` (plain cosine).
        message: the recommendation, or why there is none, in one sentence.
    """

    threshold: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    min_precision: float
    rows: tuple[ThresholdRow, ...]
    scores: tuple[PairScore, ...]
    rule: Rule
    message: str

    @property
    def met(self) -> bool:
        """Whether a threshold reaches ``min_precision``."""
        return self.threshold is not None

    def row_at(self, threshold: float) -> ThresholdRow:
        """The table's row for any threshold (not only those in :attr:`rows`)."""
        return table(
            [s.score for s in self.scores], [s.pair.same for s in self.scores], [threshold]
        )[0]


def table(
    scores: Sequence[float], same: Sequence[bool], thresholds: Iterable[float]
) -> list[ThresholdRow]:
    """One :class:`ThresholdRow` per threshold: pairs with ``score >= threshold`` served
    (less :data:`~semcache_core.vectors.SCORE_TOLERANCE`, as the cache compares).

    ``scores`` may hold ``-inf`` (never served) and ``+inf`` (always served).
    """
    values = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(same, dtype=bool)
    all_sorted = np.sort(values)
    same_sorted = np.sort(values[labels])
    positives = int(labels.sum())
    rows = []
    for threshold in thresholds:
        floor = score_floor(threshold)  # as the cache compares: see vectors.SCORE_TOLERANCE
        served = len(all_sorted) - int(np.searchsorted(all_sorted, floor, side="left"))
        hits = len(same_sorted) - int(np.searchsorted(same_sorted, floor, side="left"))
        wrong, missed = served - hits, positives - hits
        rows.append(
            ThresholdRow(
                threshold=float(threshold),
                served=served,
                hits=hits,
                wrong_hits=wrong,
                missed=missed,
                precision=hits / served if served else None,
                recall=hits / positives if positives else 0.0,
                f1=2 * hits / (2 * hits + wrong + missed) if hits + wrong + missed else 0.0,
            )
        )
    return rows


def calibrate(
    pairs: Iterable[Mapping[str, Any] | Sequence[Any]],
    embedder: Any = None,
    min_precision: float = 0.99,
    *,
    rule: Rule = "response",
    batch_size: int = 64,
    guards: Iterable[Guard] | None = None,
) -> Calibration:
    """Score labelled pairs with ``embedder`` and recommend a threshold.

    Args:
        pairs: mappings with ``"a"``, ``"b"`` (str) and ``"same"`` (bool), other keys
            ignored, or ``(a, b, same)`` tuples. A mapping may hold a ``"template"``: a
            prompt with ``{q}`` where each question goes (``{q}`` is replaced literally, so
            a template may hold JSON braces), to calibrate inside that prompt.
        embedder: anything ``SemCache(embedder=)`` takes (``None``: the built-in lexical
            embedder).
        min_precision: in (0, 1]: the share of served pairs that must be same.
        rule: what is scored.

            - ``"response"`` (default): the LLM caches' rule (:class:`ResponseCache`, the
              LangChain and LlamaIndex adapters), ``a`` as the cached prompt's query text
              and ``b`` as the new one: identical texts are an exact hit (always served);
              pairs the cache's checks refuse (a sentence added, a guard's refusal:
              different numbers, a negation on one side...) are never served; otherwise the
              score is the cosine of the whole texts, or, where they share sentences (a
              template, a retrieved context), the lower of that and the cosine of the
              sentences that differ, since the cache serves only when both reach its
              threshold.
            - ``"cosine"``: the plain cosine of the two texts, what ``SemCache.get_similar``
              and ``search`` thresholds compare.

            Texts are embedded with the model's document embedding, each distinct text
            once; the cache embeds a lookup with the query embedding, which is the same
            for symmetric models (the built-in one, MiniLM and most sentence models).
        batch_size: texts per call to a model that embeds lists.
        guards: the guards of the cache being calibrated (``"response"`` rule only):
            ``None`` for :data:`~semcache_core.guards.DEFAULT_GUARDS`, ``()`` for none.

    Raises:
        InvalidPairError: a pair that is not a mapping or a 3-item sequence, lacks ``a``,
            ``b`` or ``same``, holds a non-str text, a non-bool ``same``, or a template
            that is not a str holding ``{q}``, or a text with a lone surrogate (no UTF-8
            form); the message names the pair's index.
        InvalidArgumentError: no pairs, pairs of one label only, ``min_precision`` outside
            (0, 1], an unknown ``rule``, ``guards`` that are not callables, a
            ``batch_size`` that is not an int >= 1.
        EmbedderError: the embedder failed.
    """
    precision_floor = as_real(min_precision)
    if precision_floor is None or not 0.0 < precision_floor <= 1.0:
        raise InvalidArgumentError(f"min_precision must be in (0, 1], got {shown(min_precision)}")
    if rule not in ("response", "cosine"):
        raise InvalidArgumentError(f"rule must be 'response' or 'cosine', got {shown(rule)}")
    checked_guards = check_guards(guards)
    batch_size = check_count(batch_size, "batch_size")
    labelled = _read_pairs(pairs)
    vectors = _Vectors(labelled, rule, embedder, batch_size, checked_guards)
    scored = tuple(vectors.score(pair) for pair in labelled)
    return _recommend(scored, precision_floor, rule)


def _read_pairs(pairs: Iterable[Mapping[str, Any] | Sequence[Any]]) -> list[LabelledPair]:
    if isinstance(pairs, (str, bytes, Mapping)) or not isinstance(pairs, Iterable):
        raise InvalidArgumentError(
            f"pairs must be an iterable of pairs, got a {type(pairs).__name__}"
        )
    labelled = [_read_pair(index, raw) for index, raw in enumerate(pairs)]
    if not labelled:
        raise InvalidArgumentError("no pairs to calibrate on")
    same = sum(pair.same for pair in labelled)
    if same in (0, len(labelled)):
        raise InvalidArgumentError(
            f"all {len(labelled)} pairs are labelled same={bool(same)}: calibration needs "
            "pairs of both labels"
        )
    return labelled


def _read_pair(index: int, raw: Any) -> LabelledPair:
    template: Any = None
    if isinstance(raw, Mapping):
        missing = [key for key in ("a", "b", "same") if key not in raw]
        if missing:
            raise InvalidPairError(index, f"missing {', '.join(map(repr, missing))}")
        a, b, same = raw["a"], raw["b"], raw["same"]
        template = raw.get("template")
    elif isinstance(raw, Sequence) and not isinstance(raw, (str, bytes)):
        if len(raw) != 3:
            raise InvalidPairError(index, f"a tuple pair is (a, b, same), got {len(raw)} items")
        a, b, same = raw
    else:
        raise InvalidPairError(
            index, f"a pair is a mapping or an (a, b, same) tuple, got {type(raw).__name__}"
        )
    for name, text in (("a", a), ("b", b)):
        if not isinstance(text, str):
            raise InvalidPairError(index, f"{name!r} must be a str, got {type(text).__name__}")
        if not encodes_as_utf8(text):
            raise InvalidPairError(index, f"{name!r} holds a lone surrogate: {shown(text)}")
    if not isinstance(same, (bool, np.bool_)):
        raise InvalidPairError(index, f"'same' must be a bool, got {shown(same)}")
    if template is not None:
        if not isinstance(template, str) or PLACEHOLDER not in template:
            raise InvalidPairError(
                index, f"'template' must be a str holding {{q}}, got {shown(template)}"
            )
        a, b = template.replace(PLACEHOLDER, a), template.replace(PLACEHOLDER, b)
    return LabelledPair(index, a, b, bool(same))


class _Vectors:
    """Every text the pairs need (whole texts, and differing spans under the response
    rule), embedded once, in batches."""

    def __init__(
        self,
        pairs: list[LabelledPair],
        rule: Rule,
        embedder: Any,
        batch_size: int,
        guards: tuple[Guard, ...],
    ):
        self.rule = rule
        self.verdicts = {
            pair.index: checked_verdict(pair.b, pair.a, guards)
            for pair in pairs
            if rule == "response"
        }
        texts: dict[str, None] = {}
        for pair in pairs:
            texts.update(dict.fromkeys(self.searched(pair)))
            verdict = self.verdicts.get(pair.index)
            if isinstance(verdict, tuple):
                texts.update(dict.fromkeys(verdict))
        ordered = list(texts)
        embedded = embed_documents(embedder, ordered, batch_size) if ordered else []
        self.vectors = {text: _unit(vector, text) for text, vector in zip(ordered, embedded)}

    def searched(self, pair: LabelledPair) -> tuple[str, str]:
        """What the search compares of the pair: under the response rule, the texts less
        their pleasantries, as the LLM caches embed them."""
        if self.rule == "response":
            return without_pleasantries(pair.a), without_pleasantries(pair.b)
        return pair.a, pair.b

    def cosine(self, first: str, second: str) -> float | None:
        a, b = self.vectors[first], self.vectors[second]
        if a is None or b is None:
            return None
        if a.shape != b.shape:
            raise InvalidArgumentError(
                f"the embedder returned vectors of dimensions {a.size} and {b.size}"
            )
        return float(a @ b)

    def score(self, pair: LabelledPair) -> PairScore:
        if self.rule == "response" and pair.a == pair.b:
            return PairScore(pair, _ALWAYS, "identical prompts: an exact hit")
        whole = self.cosine(*self.searched(pair))
        if whole is None:
            return PairScore(pair, _NEVER, "a text embeds to nothing")
        if self.rule == "cosine":
            return PairScore(pair, whole, "cosine")
        verdict = self.verdicts[pair.index]
        if verdict is False:
            return PairScore(pair, _NEVER, "refused by the cache's checks")
        if verdict is True:
            return PairScore(pair, whole, "whole texts")
        spans = self.cosine(*verdict)
        if spans is None:
            return PairScore(pair, _NEVER, "a differing span embeds to nothing")
        return PairScore(pair, min(whole, spans), "whole texts and differing sentences")


def _unit(vector: FloatVector, text: str) -> FloatVector | None:
    """The unit vector of ``text``'s embedding; ``None`` for all zeros (the cache gives
    such a text no semantic hit either).

    Raises:
        InvalidVectorError: NaN or infinite components, or not a 1-D vector (the embedder
            is broken: every score would be meaningless).
    """
    try:
        return as_unit_vector(vector, None, f"the embedding of {shown(text)}")
    except InvalidVectorError as exc:
        try:
            with np.errstate(all="ignore"):
                values = np.asarray(vector, dtype=np.float32)
        except (TypeError, ValueError):
            raise exc from None
        if values.ndim == 1 and values.size and np.isfinite(values).all() and not values.any():
            return None
        raise


def _recommend(scored: tuple[PairScore, ...], floor: float, rule: Rule) -> Calibration:
    scores = [s.score for s in scored]
    same = [s.pair.same for s in scored]
    finite = {s for s in scores if math.isfinite(s)}
    if _ALWAYS in scores:  # identical prompts: served at any threshold, 1.0 included
        finite.add(1.0)
    rows = tuple(table(scores, same, sorted(finite, reverse=True)))
    best: ThresholdRow | None = None
    for row in rows:  # highest first: the last that qualifies is the lowest
        if row.hits and row.precision is not None and row.precision >= floor:
            best = row
    if best is None:
        return Calibration(None, None, None, None, floor, rows, scored, rule, _why_not(rows, floor))
    threshold = _round_threshold(best, scores, same)
    row = table(scores, same, [threshold])[0]
    exact_only = all(score == _ALWAYS for score in scores if score >= threshold)
    message = (
        f"threshold {threshold:g}: precision {row.precision:.4f} >= {floor:g}, "
        f"{row.hits} of {row.hits + row.missed} same pairs served, {row.wrong_hits} wrong"
        + (" (identical prompts only: no semantic hit reaches it)" if exact_only else "")
    )
    return Calibration(
        threshold, row.precision, row.recall, row.f1, floor, rows, scored, rule, message
    )


def _round_threshold(best: ThresholdRow, scores: list[float], same: list[bool]) -> float:
    """A threshold serving exactly ``best``'s pairs, with as few decimals as possible and,
    among those, nearest the middle of the gap between the lowest-scoring pair served
    (``best.threshold``) and the highest-scoring pair not served (every threshold in that
    gap serves the same pairs; the middle leaves room on both sides for pairs not seen)."""
    upper = min(best.threshold, 1.0)
    below = [s for s in scores if math.isfinite(s) and s < best.threshold]
    lower = max(below) if below else upper - _MARGIN
    middle = (lower + upper) / 2
    for decimals in range(1, 7):
        scale = 10**decimals
        nearest = round(middle * scale)
        for k in sorted((nearest - 1, nearest, nearest + 1), key=lambda k: abs(k / scale - middle)):
            candidate = k / scale
            if lower < candidate <= upper and _serves(candidate, best, scores, same):
                return candidate
    return best.threshold


def _serves(threshold: float, best: ThresholdRow, scores: list[float], same: list[bool]) -> bool:
    return table(scores, same, [threshold])[0].served == best.served


def _why_not(rows: tuple[ThresholdRow, ...], floor: float) -> str:
    measured = [row for row in rows if row.hits and row.precision is not None]
    if not measured:
        return (
            f"no threshold reaches precision {floor:g}: the cache's rule serves no same pair "
            "at any threshold"
        )
    top = max(measured, key=lambda row: (row.precision or 0.0, row.hits))
    return (
        f"no threshold reaches precision {floor:g}: the best is {top.precision:.4f} at "
        f"{top.threshold:.4f} ({top.hits} same, {top.wrong_hits} wrong served); different "
        "pairs score as high as the same ones"
    )
