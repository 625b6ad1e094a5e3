"""Verified mode's cache-wide threshold: the lowest similarity at which serving candidates
keeps the wrong answers within δ of *all* the cache's answers.

``max_error_rate`` (δ) bounds the share of wrong answers among everything the cache
answers: exact hits (always right), misses (the model answers) and semantic hits. vCache's
rule (:func:`~semcache_core.verified.explore_probability`) keeps each semantic hit's own
probability of being wrong at most δ; that holds the share too, but spends on every
candidate alike, and pays in explorations where most answers are exact hits and cost
nothing. Here the cache-wide curve's bound on being wrong
(:func:`~semcache_core.verified.wrong_bound`) is summed over the recent candidates it
judged, the most similar first, for as long as the sum stays within δ times the answers
given meanwhile: the similarity where that stops is the threshold. Serving every candidate
above it would have kept, by the curve's bound, the wrong answers within δ over that time;
and no other set of those candidates with that expected number of wrong answers holds more
of them (the best static threshold in hindsight, learned online).

Candidates whose entry's own curve decides (:mod:`semcache_core.verified_responses`) keep
vCache's per-hit bound δ: each takes δ of the budget, and none is summed.

A candidate the curve thinks more likely wrong than right (a bound above
:data:`MOST_WRONG`) is never below the threshold, however much budget is left: an error
budget is not a reason to serve a coin flip.

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
"""

from __future__ import annotations

from collections import deque

import numpy as np

from .verified import Fit, wrong_bound

__all__ = ["HISTORY", "MOST_WRONG", "ErrorBudget"]

HISTORY = 512
"""Candidates the budget remembers (the newest), with the answers given since each."""
MOST_WRONG = 0.5
"""The highest bound on being wrong at which the threshold may still serve."""


class ErrorBudget:
    """The answers a cache gave and the candidates its cache-wide curve judged (not
    thread-safe: :class:`~semcache_core.verified_responses.Verifier` holds its lock).

    Args:
        max_error_rate: δ in (0, 1), checked by the caller.
    """

    def __init__(self, max_error_rate: float) -> None:
        self.max_error_rate = max_error_rate
        self._answers = 0  # every answer: exact and semantic hits, misses
        self._own = 0  # candidates an entry's own curve decided (δ each)
        # each judged candidate: (similarity, answers then, own decisions then)
        self._judged: deque[tuple[float, int, int]] = deque(maxlen=HISTORY)

    def answered(self) -> None:
        """One more answer given (an exact or semantic hit, or a miss)."""
        self._answers += 1

    def decided_by_own(self) -> None:
        """A candidate was decided by its entry's own curve (it may be wrong with
        probability δ: that share of the budget is its)."""
        self._own += 1

    def judged(self, similarity: float) -> None:
        """A candidate at ``similarity`` is judged by the cache-wide curve."""
        self._judged.append((similarity, self._answers, self._own))

    def threshold(self, fitted: Fit | None) -> float | None:
        """The lowest similarity at which the cache-wide curve ``fitted`` serves (see the
        module docstring); ``None``: none (no curve, or not even the most similar
        candidate fits the budget)."""
        if fitted is None or not self._judged:
            return None
        _, answers_then, own_then = self._judged[0]
        answers = (self._answers - answers_then) - (self._own - own_then)
        similarities = np.sort(np.fromiter((s for s, _, _ in self._judged), np.float64))[::-1]
        wrong = wrong_bound(fitted, similarities)
        fits = (np.cumsum(wrong) <= self.max_error_rate * answers) & (wrong <= MOST_WRONG)
        if fits.all():
            return float(similarities[-1])
        first_out = similarities[int(np.argmin(fits))]
        above = similarities[similarities > first_out]  # its equals are out with it
        return float(above[-1]) if above.size else None
