"""Verified semantic hits: per-entry thresholds learned online under an error bound δ.

vCache's decision rule (Schroeder et al., "vCache: Verified Semantic Prompt Caching",
arXiv 2502.03771), as in its reference implementation ``vcache/vcache_policy/strategies/
verified.py`` (class ``_Algorithm``) and ``embedding_metadata_obj.py`` of
github.com/vcache-project/vCache, read at commit 5829293:

- every cached entry keeps observations ``(similarity, correct?)``: a prompt at that cosine
  similarity to the entry, and whether the entry's answer was right for it. Each entry
  starts with two prior points, ``(0.0, wrong)`` and ``(1.0, right)``;
- with fewer than 6 observations (the two priors included) the entry is always explored
  (here: judged by the cache-wide curve and an error budget instead, and always explored
  where it has been wrong near the candidate's similarity: see
  :mod:`semcache_core.verified_responses`; this module decides on whatever record it is
  given);
- otherwise a logistic curve ``P(correct | s) = sigmoid(gamma * (s - t))`` is fitted to
  them (maximum likelihood, no penalty); ``t`` gets a variance by the delta method, or, when
  the observations separate perfectly (where no maximum exists), from vCache's table of
  variances by observation count;
- for a new prompt at similarity ``s`` the exploration probability is
  ``tau = min over eps of 1 - delta / (1 - (1 - eps) * sigmoid(gamma * (s - t'_eps)))``,
  ``t'_eps`` the upper ``1 - eps`` confidence bound of ``t`` (eps on a grid: see below): serving
  with probability ``1 - tau`` keeps the probability of a wrong answer at or below δ
  (here, away from the entry's wrong answers, the entry is explored no more than the
  cache-wide rule would: see :mod:`semcache_core.verified_responses`);
- draw ``u`` uniform in [0, 1): explore when ``u <= tau``, exploit otherwise.

Exploring means answering as a miss, calling the model, and comparing its answer with the
cached one: that comparison is the next observation.

Departures, all forced by numpy-only code: the fit is Newton's method instead of
scikit-learn's L-BFGS; under perfect separation (vCache's L-BFGS then stops at an arbitrary
large slope, 40-320 in our trials) ``t`` is the middle of the gap between the highest wrong
and the lowest right similarity (where L-BFGS heads) and the slope is :data:`SEPARATED_SLOPE`;
the normal quantile comes from :class:`statistics.NormalDist`; a record keeps the last
:data:`MAX_OBSERVATIONS` observations (vCache keeps all; its variance table ends at 48).

One departure by choice: vCache's grid of eps is 50 evenly spaced points from 1e-6, whose
second is 0.0204; since ``1 - (1 - eps) * sigmoid(...) >= eps``, an entry whose first
point's bound is loose is then explored at least ``1 - δ / 0.0204`` of the time (51% at
δ = 0.01) however well its curve is known. Our grid adds 60 points spaced geometrically
from 1e-6 to 0.05. Each eps gives a bound that holds, as on vCache's grid; the minimum over
more points is never higher (:func:`explore_probability` never explores more than vCache's
grid would), and lower for well-known entries at small δ.

Example::

    >>> import random
    >>> record = Observations().add(0.91, True).add(0.93, True).add(0.9, True).add(0.95, True)
    >>> decide(record, 0.97, 0.05, random.Random(0))
    <Action.EXPLOIT: 'exploit'>
    >>> decide(Observations(), 0.99, 0.05, random.Random(0))  # nothing learned yet
    <Action.EXPLORE: 'explore'>
    >>> Observations.decode(record.encode()) == record
    True
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from .checks import as_real
from .errors import InvalidArgumentError, shown

__all__ = [
    "draw",
    "MAX_OBSERVATIONS",
    "MIN_OBSERVATIONS",
    "SEPARATED_SLOPE",
    "VCACHE_EPSILONS",
    "Action",
    "Fit",
    "Observation",
    "Observations",
    "Random",
    "check_error_rate",
    "decide",
    "explore_probability",
    "fit",
    "wrong_bound",
]

MIN_OBSERVATIONS = 6
"""Observations (the two priors included) an entry needs before it may be exploited."""
MAX_OBSERVATIONS = 48
"""Observations a record keeps (the newest); the priors are not stored."""
SEPARATED_SLOPE = 100.0
"""The logistic slope used when right and wrong similarities separate perfectly."""

_PRIORS = ((0.0, False), (1.0, True))
VCACHE_EPSILONS = np.linspace(1e-6, 1 - 1e-6, 50)
"""vCache's grid of eps (see the module docstring for ours)."""
_EPSILONS = np.union1d(VCACHE_EPSILONS, np.geomspace(1e-6, 0.05, 60))
_QUANTILES = np.array([NormalDist().inv_cdf(1 - e) for e in _EPSILONS])
_MIN_SLOPE = 1e-6
_MAX_SLOPE = 1e4
# vCache's variances of t under perfect separation, by observation count (priors included)
_SEPARATED_VARIANCE = {
    6: 0.035445, 7: 0.028285, 8: 0.026436, 9: 0.021349, 10: 0.019371, 11: 0.012615,
    12: 0.011433, 13: 0.010228, 14: 0.009963, 15: 0.009253, 16: 0.011674, 17: 0.013015,
    18: 0.010897, 19: 0.011841, 20: 0.013081, 21: 0.010585, 22: 0.014255, 23: 0.012058,
    24: 0.013002, 25: 0.011715, 26: 0.00839, 27: 0.008839, 28: 0.010628, 29: 0.009899,
    30: 0.008033, 31: 0.00457, 32: 0.007335, 33: 0.008932, 34: 0.00729, 35: 0.007445,
    36: 0.00761, 37: 0.011423, 38: 0.011233, 39: 0.006783, 40: 0.005233, 41: 0.00872,
    42: 0.010005, 43: 0.01199, 44: 0.00977, 45: 0.01891, 46: 0.01513, 47: 0.02109,
    48: 0.01531,
}  # fmt: skip


class Action(enum.Enum):
    """What to do with a candidate hit."""

    EXPLOIT = "exploit"  # serve the cached answer
    EXPLORE = "explore"  # answer as a miss, and learn from the fresh answer


class Random(Protocol):
    """A source of uniform floats in [0, 1): ``random.Random``, ``numpy.random.Generator``."""

    def random(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Observation:
    """A prompt at cosine ``similarity`` (rounded to 3 places) to an entry, and whether the
    entry's answer was right for it."""

    similarity: float
    correct: bool


def _similarity(value: Any, what: str = "similarity") -> float:
    number = as_real(value)
    if number is None or not -1.0 <= number <= 1.0:
        raise InvalidArgumentError(
            f"{what} is a cosine similarity and must be a number in [-1, 1], got {shown(value)}"
        )
    return round(number, 3)


def check_error_rate(delta: Any) -> float:
    """``delta`` as a float, or :class:`InvalidArgumentError` unless ``0 < delta < 1``."""
    number = as_real(delta)
    if number is None or not 0.0 < number < 1.0:
        raise InvalidArgumentError(
            f"max_error_rate must be a number strictly between 0 and 1, got {shown(delta)}"
        )
    return number


@dataclass(frozen=True, slots=True)
class Observations:
    """One entry's observations, oldest first (immutable; :meth:`add` returns a new one).

    :meth:`encode` gives ``[[similarity, 0 | 1], ...]``: plain lists of numbers, so the
    record rides in the entry's metadata (snapshots, durable mode and Redis carry it).
    """

    items: tuple[Observation, ...] = ()

    def add(self, similarity: Any, correct: bool, limit: int = MAX_OBSERVATIONS) -> Observations:
        """A record with one more observation (the oldest dropped beyond ``limit``).

        Raises:
            InvalidArgumentError: a similarity outside [-1, 1] or not a number, or
                ``correct`` not a bool.
        """
        if not isinstance(correct, bool):
            raise InvalidArgumentError(f"correct must be True or False, got {shown(correct)}")
        new = Observation(_similarity(similarity), correct)
        return Observations((*self.items, new)[-limit:])

    def __len__(self) -> int:
        """Observations, the two priors included (what :data:`MIN_OBSERVATIONS` counts)."""
        return len(self.items) + len(_PRIORS)

    def encode(self) -> list[list[float | int]]:
        return [[o.similarity, int(o.correct)] for o in self.items]

    @classmethod
    def decode(cls, raw: Any) -> Observations:
        """The record :meth:`encode` gave (``None``: an empty one).

        Raises:
            InvalidArgumentError: anything else (not a list of ``[similarity, 0 | 1]``).
        """
        if raw is None:
            return cls()
        if not isinstance(raw, (list, tuple)) or len(raw) > MAX_OBSERVATIONS:
            raise InvalidArgumentError(
                f"observations must be a list of at most {MAX_OBSERVATIONS} "
                f"[similarity, 0 | 1] pairs, got {raw!r:.80}"
            )
        items = []
        for pair in raw:
            if (
                not isinstance(pair, (list, tuple))
                or len(pair) != 2
                or pair[1] not in (0, 1)
                or isinstance(pair[1], float)
            ):
                raise InvalidArgumentError(
                    f"an observation must be [similarity, 0 | 1], got {pair!r:.80}"
                )
            items.append(
                Observation(_similarity(pair[0], "an observation's similarity"), bool(pair[1]))
            )
        return cls(tuple(items))


@dataclass(frozen=True, slots=True)
class Fit:
    """The fitted curve ``P(correct | s) = sigmoid(slope * (s - threshold))`` and the
    variance of ``threshold``."""

    threshold: float
    slope: float
    variance: float


def _arrays(record: Observations) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    pairs = [*_PRIORS, *((o.similarity, o.correct) for o in record.items)]
    return (
        np.array([s for s, _ in pairs], dtype=np.float64),
        np.array([float(c) for _, c in pairs], dtype=np.float64),
    )


def fit(record: Observations) -> Fit | None:
    """The logistic fit of ``record`` (its priors included); ``None`` when it fails
    numerically or slopes the wrong way (the entry is then explored, as vCache does when
    its fit fails)."""
    s, y = _arrays(record)
    right, wrong = s[y == 1.0], s[y == 0.0]
    if right.min() > wrong.max():  # no maximum-likelihood fit exists
        threshold = float((right.min() + wrong.max()) / 2)
        variance = _SEPARATED_VARIANCE[min(len(s), max(_SEPARATED_VARIANCE))]
        return Fit(round(min(max(threshold, 0.0), 1.0), 3), SEPARATED_SLOPE, variance)
    x = np.column_stack([np.ones_like(s), s])
    beta = _newton(x, y)
    if beta is None:
        return None
    intercept, slope = float(beta[0]), float(beta[1])
    if slope < _MIN_SLOPE:
        # right answers less likely as the similarity grows: no threshold to learn, and a
        # flattened curve would serve at P(right) = 0.5 (explore instead)
        return None
    slope = min(slope, _MAX_SLOPE)
    threshold = min(max(-intercept / slope, 0.0), 1.0)
    # delta method: Var(t) = g' Cov(beta) g for t = -b0 / b1
    p = _sigmoid(x @ beta)
    hessian = x.T @ ((p * (1 - p))[:, None] * x)
    try:
        covariance = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        return None
    gradient = np.array([-1.0 / slope, intercept / slope**2])
    variance = max(0.0, float(gradient @ covariance @ gradient))
    if not math.isfinite(variance):
        return None
    return Fit(round(threshold, 3), slope, variance)


def _newton(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> Any:
    """Unpenalised logistic maximum likelihood by Newton's method with step halving."""
    beta = np.zeros(2)
    loss = _loss(x, y, beta)
    for _ in range(100):
        p = _sigmoid(x @ beta)
        gradient = x.T @ (y - p)
        hessian = x.T @ ((p * (1 - p))[:, None] * x)
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            return None
        scale = 1.0
        while scale > 1e-6:
            candidate = beta + scale * step
            candidate_loss = _loss(x, y, candidate)
            if candidate_loss <= loss:
                break
            scale /= 2
        else:
            return beta  # no descent left: at the optimum to machine precision
        converged = abs(loss - candidate_loss) < 1e-12
        beta, loss = candidate, candidate_loss
        if converged or not np.all(np.isfinite(beta)):
            break
    return beta if np.all(np.isfinite(beta)) else None


def _loss(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], beta: Any) -> float:
    z = x @ beta
    return float(np.sum(np.logaddexp(0.0, z) - y * z))


def _sigmoid(z: Any) -> Any:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z)))  # exact, and no overflow warning


def explore_probability(
    record: Observations, similarity: Any, delta: Any, *, epsilons: Any = None
) -> float:
    """The probability of exploring a candidate at ``similarity`` to the entry whose
    observations are ``record``, under the error bound ``delta``: 1.0 below
    :data:`MIN_OBSERVATIONS` or when the fit fails; otherwise vCache's ``tau``, clipped to
    [0, 1], minimised over ``epsilons`` (default: our grid; :data:`VCACHE_EPSILONS` gives
    vCache's).

    Raises:
        InvalidArgumentError: a similarity outside [-1, 1], ``delta`` not in (0, 1), or
            ``epsilons`` not a non-empty sequence of numbers in (0, 1).
    """
    s = _similarity(similarity)
    delta = check_error_rate(delta)
    grid = None if epsilons is None else _grid(epsilons)
    if len(record) < MIN_OBSERVATIONS:
        return 1.0
    fitted = fit(record)
    if fitted is None:
        return 1.0
    wrong = float(wrong_bound(fitted, np.array([s]), grid)[0])
    return min(max(round(1 - delta / wrong, 5), 0.0), 1.0)


def wrong_bound(
    fitted: Fit,
    similarities: npt.NDArray[np.float64],
    grid: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None,
) -> npt.NDArray[np.float64]:
    """vCache's bound on the probability that a candidate at each of ``similarities`` is
    wrong, by the curve ``fitted``: the least over eps of ``1 - (1 - eps) * sigmoid(slope *
    (s - t'_eps))`` (always above 0); :func:`explore_probability` is ``1 - delta / bound``.
    ``grid``: eps and their normal quantiles (default: our grid)."""
    epsilons, quantiles = (_EPSILONS, _QUANTILES) if grid is None else grid
    bounds = np.clip(fitted.threshold + quantiles * math.sqrt(fitted.variance), 0.0, 1.0)
    right_at_least = (1 - epsilons) * _sigmoid(
        fitted.slope * (np.asarray(similarities, dtype=np.float64)[:, None] - bounds)
    )
    return np.asarray(np.min(1 - right_at_least, axis=1), dtype=np.float64)


def _grid(epsilons: Any) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    numbers = (
        [as_real(e) for e in epsilons] if isinstance(epsilons, (list, tuple, np.ndarray)) else []
    )
    if not numbers or any(e is None or not 0.0 < e < 1.0 for e in numbers):
        raise InvalidArgumentError(
            f"epsilons must be a non-empty sequence of numbers in (0, 1), got {shown(epsilons)}"
        )
    grid = np.array(numbers, dtype=np.float64)
    return grid, np.array([NormalDist().inv_cdf(1 - float(e)) for e in grid])


def decide(record: Observations, similarity: Any, delta: Any, rng: Random) -> Action:
    """Exploit or explore a candidate at ``similarity`` to an entry with ``record``: one
    draw of ``rng`` against :func:`explore_probability` (deterministic given ``rng``).

    Raises:
        InvalidArgumentError: as :func:`explore_probability`.
    """
    return draw(explore_probability(record, similarity, delta), rng)


def draw(tau: float, rng: Random) -> Action:
    """Explore with probability ``tau``: one draw of ``rng`` (deterministic given it)."""
    return Action.EXPLORE if rng.random() <= tau else Action.EXPLOIT
