"""Verified mode's cache-wide rule: which candidates keep the wrong answers within δ of
*all* the cache's answers.

``max_error_rate`` (δ) bounds the share of wrong answers among everything the cache
answers: exact hits (always right), misses (the model answers) and semantic hits. vCache's
rule (:func:`~semcache_core.verified.explore_probability`) keeps each semantic hit's own
probability of being wrong at most δ; that holds the share too, but spends on every
candidate alike, and pays in explorations where most answers are exact hits and cost
nothing. Here two sums over the recent candidates the cache-wide curve judged (the newest
:data:`HISTORY`) decide, each of the curve's bound on being wrong
(:func:`~semcache_core.verified.wrong_bound`), against δ times the answers given since the
oldest of them:

- the *threshold*: taken most similar first, the candidates' bounds summed while the sum
  fits; the similarity where that stops. Serving every candidate above it would have kept,
  by the curve's bound, the wrong answers within δ over that time, and no other set of
  those candidates with that expected number of wrong answers holds more of them (the best
  static threshold in hindsight, learned online);
- the *spent* budget: the bounds of the candidates actually served (each as the curve
  gave it when it was served), and one for each served answer the application reported
  wrong (:meth:`ErrorBudget.wrong_served`), plus the new one's, must fit too. The
  threshold alone forgets what it served: a budget banked by a run of exact hits, then
  spent on candidates at 0.81, was spent again on those at 0.90 that came later, once
  they had pushed the threshold up.

Candidates whose entry's own curve decides (:mod:`semcache_core.verified_responses`) keep
vCache's per-hit bound δ: each that may be served takes δ of the budget, and none is
summed.

A candidate the curve thinks more likely wrong than right (a bound above
:data:`MOST_WRONG`) is never served, however much budget is left: an error budget is not a
reason to serve a coin flip.

Example::

    >>> from semcache_core.verified import Observations, fit
    >>> record = Observations()
    >>> for i in range(40):
    ...     record = record.add(0.6 + i / 100, i >= 20)  # right from 0.8 up
    >>> budget = ErrorBudget(0.05)
    >>> for i in range(40):
    ...     budget.judged(0.6 + i / 100)
    ...     for _ in range(3):
    ...         budget.answered()  # mostly exact hits between candidates
    >>> 0.78 < budget.threshold(fit(record)) < 0.85
    True
    >>> budget.affords(fit(record), 0.9), budget.affords(fit(record), 0.7)
    (True, False)
    >>> budget.judged(0.9)
    >>> budget.served(fit(record))  # spent: the bound at 0.9
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .verified import Fit, wrong_bound

__all__ = ["HISTORY", "MOST_WRONG", "ErrorBudget"]

HISTORY = 512
"""Candidates the budget remembers (the newest), with the answers given since each."""
MOST_WRONG = 0.5
"""The highest bound on being wrong at which the cache-wide rule may still serve."""


@dataclass(slots=True)
class _Judged:
    similarity: float
    answers: int  # the answers given before it
    own: int  # the own-curve decisions before it
    spent: float = 0.0  # its bound when it was served, and wrong answers reported since


class ErrorBudget:
    """The answers a cache gave and the candidates its cache-wide curve judged (not
    thread-safe: :class:`~semcache_core.verified_responses.Verifier` holds its lock).

    Args:
        max_error_rate: δ in (0, 1), checked by the caller.
        history: candidates remembered (the newest).
    """

    def __init__(self, max_error_rate: float, history: int = HISTORY) -> None:
        self.max_error_rate = max_error_rate
        self._answers = 0  # every answer: exact and semantic hits, misses
        self._own = 0  # candidates an entry's own curve may serve (δ each)
        self._judged: deque[_Judged] = deque(maxlen=history)

    def answered(self) -> None:
        """One more answer given (an exact or semantic hit, or a miss)."""
        self._answers += 1

    def decided_by_own(self) -> None:
        """A candidate that may be served was decided by its entry's own curve (wrong with
        probability at most δ: that share of the budget is its)."""
        self._own += 1

    def judged(self, similarity: float) -> None:
        """A candidate at ``similarity`` was judged by the cache-wide curve."""
        self._judged.append(_Judged(similarity, self._answers, self._own))

    def served(self, fitted: Fit) -> None:
        """The candidate last :meth:`judged` was served, on the curve ``fitted``: its bound
        there is spent."""
        last = self._judged[-1]
        last.spent += float(wrong_bound(fitted, np.array([last.similarity]))[0])

    def wrong_served(self) -> None:
        """A served answer was found wrong (the application said so): one whole wrong
        answer is spent, for as long as the newest candidate stays remembered."""
        if self._judged:
            self._judged[-1].spent += 1.0

    def allowed(self) -> float:
        """δ times the answers since the oldest remembered candidate, less the own-curve
        decisions since then: the expected wrong answers the cache-wide rule may serve."""
        if not self._judged:
            return 0.0
        oldest = self._judged[0]
        answers = (self._answers - oldest.answers) - (self._own - oldest.own)
        return self.max_error_rate * answers

    def threshold(self, fitted: Fit | None) -> float | None:
        """The lowest similarity at which the cache-wide curve ``fitted`` serves (see the
        module docstring); ``None``: none (no curve, or not even the most similar
        candidate fits the budget)."""
        bounds = self._bounds(fitted)
        return None if bounds is None else self._cut(*bounds)

    def affords(self, fitted: Fit | None, similarity: float) -> bool:
        """Whether the cache-wide rule may serve a candidate at ``similarity``: at or above
        :meth:`threshold`, and with its bound and those of the candidates served in the
        window within :meth:`allowed`."""
        threshold = self.threshold(fitted)
        if fitted is None or threshold is None or similarity < threshold:
            return False
        own = float(wrong_bound(fitted, np.array([similarity]))[0])
        return sum(j.spent for j in self._judged) + own <= self.allowed()

    def _bounds(
        self, fitted: Fit | None
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None:
        """The remembered candidates' similarities and bounds, oldest first."""
        if fitted is None or not self._judged:
            return None
        similarities = np.fromiter((j.similarity for j in self._judged), np.float64)
        return similarities, wrong_bound(fitted, similarities)

    def _cut(
        self, similarities: npt.NDArray[np.float64], bounds: npt.NDArray[np.float64]
    ) -> float | None:
        order = np.argsort(-similarities, kind="stable")
        similarities, bounds = similarities[order], bounds[order]
        fits = (np.cumsum(bounds) <= self.allowed()) & (bounds <= MOST_WRONG)
        if fits.all():
            return float(similarities[-1])
        first_out = similarities[int(np.argmin(fits))]
        above = similarities[similarities > first_out]  # its equals are out with it
        return float(above[-1]) if above.size else None
