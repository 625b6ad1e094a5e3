"""What :class:`~semcache_core.responses.ResponseCache` needs to learn per-entry thresholds
(:mod:`semcache_core.verified`) in the adapters' flow, where the cache cannot call the model:

- a candidate hit is exploited (served) or explored: answered as a miss, with the candidate
  remembered as *pending* under the new prompt's exact key; the ``update`` that follows for
  that prompt brings the fresh answer, ``judge(cached, fresh)`` says whether the candidate's
  answer was right, and that observation is appended to the candidate entry;
- every semantic hit served is remembered (*served*) under the prompt's exact key, so that
  ``feedback(prompt, model, correct)`` and ``invalidate`` can tell the entry that served it;
- an entry's observations live in its metadata (field :data:`OBSERVATIONS_FIELD`), so
  snapshots, durable mode and Redis carry them; recording one rewrites the entry with the
  same value, vector and expiry;
- a candidate is judged by the cache-wide curve (the same rule over the newest observations
  of *all* entries, kept in memory) and an error budget (:mod:`semcache_core.error_budget`):
  ``max_error_rate`` bounds the share of wrong answers among all the cache's answers, and
  the budget gives the lowest similarity at which that curve may serve. Above it a
  candidate is still explored :data:`EXPLORATION` of the time, so that an entry unlike the
  others gathers observations of its own; below it, it is explored (a static threshold
  there would have missed it: learning costs nothing). vCache explores an entry with fewer
  than :data:`~semcache_core.verified.MIN_OBSERVATIONS` every time, and serves the others
  only where each hit's own probability of being wrong is at most δ: that spends most
  chances of a hit on learning when each entry sees few paraphrases, and most answers are
  exact hits;
- an entry's own curve (vCache's rule, once it has
  :data:`~semcache_core.verified.MIN_OBSERVATIONS`, priors included) decides where it
  explores less than the cache-wide rule would; and alone where the entry has been wrong
  near the candidate's similarity (a wrong observation of its own at most
  :data:`NEAR_WRONG` below it, or above; :data:`FAR_WRONG` once it has enough
  observations): there it is unlike the others, and a young entry is explored until it
  has enough.

Both memories are bounded (the newest :data:`REMEMBERED` prompts each) and thread-safe.
The LLM caches' writes in one process are serialised (:data:`ENTRY_WRITES`), and an
observation only goes to the response it was made on (:attr:`Candidate.digest`). On a
backend processes share (Redis), an observation is written only if the entry is as it was
read: another process's change in between (an ``invalidate``, a newer response, another
observation) is never undone, and the observation is lost, which only delays learning.

Example::

    >>> verifier = Verifier(0.02, judge=None)
    >>> verifier.max_error_rate
    0.02
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .backends.base import EntryWrite, StoredEntry, read_many
from .cache import SemCache
from .codec import encode
from .error_budget import ErrorBudget
from .errors import InvalidArgumentError, SemCacheError, shown
from .records import Entry, Hit
from .stored_values import entry_record
from .stored_values import stored as decoded
from .verified import (
    MIN_OBSERVATIONS,
    Action,
    Fit,
    Observation,
    Observations,
    Random,
    check_error_rate,
    draw,
    explore_probability,
    fit,
)

__all__ = [
    "ENTRY_WRITES",
    "EXPLORATION",
    "FAR_WRONG",
    "NEAR_WRONG",
    "OBSERVATIONS_FIELD",
    "POPULATION",
    "POPULATION_MIN",
    "RECALLED_ENTRIES",
    "RECALL_BATCH",
    "REMEMBERED",
    "Candidate",
    "Judge",
    "TextJudge",
    "Verifier",
    "answer_text",
    "digest_of",
    "observations_of",
    "record",
    "stored_observations",
    "text_judge",
]

OBSERVATIONS_FIELD = "v"
"""The entry metadata field holding its observations (``[[similarity, 0 | 1], ...]``)."""
POPULATION = 512
"""Observations the cache-wide curve keeps (the newest, of all entries)."""
POPULATION_MIN = 24
"""The cache-wide curve serves once it holds this many observations (before: explored)."""
EXPLORATION = 0.05
"""The share of candidates above the error budget's threshold explored all the same."""
NEAR_WRONG = 0.05
"""An entry wrong at a similarity at most this far below a candidate's (or above it) is
judged by its own curve alone there (see ``_exploring``)."""
FAR_WRONG = 0.10
""":data:`NEAR_WRONG` for an entry with enough observations."""
RECALLED_ENTRIES = 2048
"""Entries read, at most, for the observations stored with them when the cache-wide curve
starts (:meth:`Verifier.recall`)."""
RECALL_BATCH = 256
"""Entries :func:`stored_observations` reads at once (what was read before a backend
failure is kept: see :meth:`Verifier.recall`)."""
REMEMBERED = 4096
"""Prompts remembered, each, as pending explorations and as served semantic hits."""

Judge = Callable[[Any, Any], bool]
"""``judge(cached, fresh)``: whether the cached response was right where ``fresh`` came."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """An entry that was (or could have been) served for a prompt, at ``similarity``;
    ``digest`` identifies the response it held then (an observation on it must not go to
    another response stored under the same key since); ``served``: it was served (a
    wrong observation on it is a wrong answer given)."""

    key: str
    similarity: float
    value: Any
    vector: Any
    digest: str = ""
    served: bool = False


def digest_of(value: Any, metadata: dict[str, Any] | None = None) -> str:
    """A fingerprint of a stored response and its entry's metadata (less its observations,
    which recording one rewrites): the BLAKE2b of their encoding. The same response
    stored since under the same key for exact hits only (a prompt with no query text, so
    no semantic candidate) is another entry, whose observations are not the served one's."""
    kept = {k: v for k, v in sorted((metadata or {}).items()) if k != OBSERVATIONS_FIELD}
    return hashlib.blake2b(encode([value, kept]), digest_size=16).hexdigest()


def _equal(cached: Any, fresh: Any) -> bool:
    return bool(cached == fresh)


TextJudge = Callable[[str, str], bool]
"""``judge(cached_text, fresh_text)``: the adapters' judge, on the responses' text."""


def _same_text(cached: str, fresh: str) -> bool:
    return cached == fresh


def answer_text(text: str, tool_calls: Iterable[tuple[str, Any]] = ()) -> str:
    """What a judge compares of a response: its ``text``, then each ``(name, arguments)``
    tool call it makes as a JSON line (keys sorted; call ids left out: they differ on every
    call). A response that only calls a tool has no text, and two of them calling it with
    other arguments must not compare equal.

    Example::

        >>> answer_text("", [("get_weather", {"city": "Paris"})])
        '\\n{"args": {"city": "Paris"}, "name": "get_weather"}'
    """
    calls = [
        json.dumps({"name": name, "args": args}, sort_keys=True, default=str)
        for name, args in tool_calls
    ]
    return "\n".join([text, *calls])


def text_judge(
    judge: TextJudge | None, text_of: Callable[[Any], str | None]
) -> tuple[TextJudge, Judge]:
    """An adapter's ``judge`` (checked; default text equality), and the :data:`Judge` on
    stored responses that calls it on their text (``text_of``: ``None`` for a response
    that does not load, which is never right).

    Raises:
        InvalidArgumentError: ``judge`` is not callable.
    """
    if judge is None:
        judge = _same_text
    elif not callable(judge):
        raise InvalidArgumentError(
            f"judge must be callable(cached_text, fresh_text), got {shown(judge)}"
        )
    chosen = judge

    def on_stored(cached: Any, fresh: Any) -> bool:
        first, second = text_of(cached), text_of(fresh)
        if first is None or second is None:
            return False
        return chosen(first, second)  # as returned: the cache refuses what is not a bool

    return chosen, on_stored


def observations_of(metadata: dict[str, Any]) -> Observations:
    """An entry's observations; none when its field is missing or not one we wrote."""
    try:
        return Observations.decode(metadata.get(OBSERVATIONS_FIELD))
    except InvalidArgumentError:
        return Observations()


class Verifier:
    """Pending explorations, served hits and the exploit-or-explore choice of one
    :class:`~semcache_core.responses.ResponseCache`.

    Args:
        max_error_rate: δ in (0, 1), or ``None``: every candidate is served (static
            threshold), and served hits are still remembered for :meth:`feedback`.
        judge: ``judge(cached, fresh) -> bool``; default ``cached == fresh``.
        rng: the exploration draws (``random.Random``, numpy ``Generator``); default a new
            ``random.Random()``.

    Raises:
        InvalidArgumentError: ``max_error_rate`` not in (0, 1), ``judge`` not callable,
            an ``rng`` without a ``random()`` method.
    """

    def __init__(
        self, max_error_rate: float | None, judge: Judge | None, rng: Random | None = None
    ) -> None:
        self.max_error_rate = None if max_error_rate is None else check_error_rate(max_error_rate)
        if judge is not None and not callable(judge):
            raise InvalidArgumentError(f"judge must be callable(cached, fresh), got {shown(judge)}")
        self.judge: Judge = _equal if judge is None else judge
        if rng is not None and not callable(getattr(rng, "random", None)):
            raise InvalidArgumentError(
                "rng must have a random() method (random.Random, a numpy Generator), "
                f"got {shown(rng)}"
            )
        self._rng: Random = random.Random() if rng is None else rng
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, Candidate] = OrderedDict()
        self._served: OrderedDict[str, Candidate] = OrderedDict()
        self._population = Observations()  # every entry's observations, the newest kept
        self._population_fit: Fit | None = None  # its curve, fitted once per observation
        self._budget = ErrorBudget(self.max_error_rate or 1.0)  # unused when static
        self._recalled = self.max_error_rate is None  # static: no curve to start
        self._recall_lock = threading.Lock()

    @property
    def recalled(self) -> bool:
        """Whether the cache-wide curve has started from the stored observations
        (:meth:`recall`; always true when static)."""
        return self._recalled

    def recall(self, cache: SemCache, namespace: str) -> None:
        """Once, before the first candidate is judged: start the cache-wide curve from the
        observations stored with the entries of ``namespace`` in ``cache``
        (:func:`stored_observations`). A restart, or another process on a shared backend,
        made them: without them the curve would learn again from nothing, exploring every
        candidate until it holds :data:`POPULATION_MIN` observations.

        Taken newest first from each entry in turn, :data:`POPULATION` at most, and older
        than anything learned since (nothing is: the first candidate comes after this). A
        backend that fails meanwhile fails no lookup: a ``RuntimeWarning`` says so, and
        the curve starts from what was read, learning the rest as a new cache does.
        """
        if self._recalled:
            return
        with self._recall_lock:
            if self._recalled:
                return
            records: list[Observations] = []
            try:
                for record in stored_observations(cache, namespace):
                    records.append(record)  # a loop: what was read before a failure stays
            except SemCacheError as exc:
                warnings.warn(
                    f"verified mode read the stored observations of {len(records)} entries, "
                    f"then the backend failed ({type(exc).__name__}: {exc}); the cache-wide "
                    "curve learns the rest",
                    RuntimeWarning,
                    stacklevel=3,  # the lookup's caller
                )
            recalled = _interleaved(records, POPULATION)
            with self._lock:
                self._set_population(
                    Observations((*recalled, *self._population.items)[-POPULATION:])
                )
                self._recalled = True

    def learned(self, candidate: Candidate, correct: bool) -> None:
        """Add an observation on ``candidate`` to the cache-wide curve; a served candidate
        found wrong (``feedback``, ``invalidate``) is a wrong answer the error budget
        counts whole."""
        similarity = min(max(candidate.similarity, -1.0), 1.0)
        with self._lock:
            if candidate.served and not correct and self.max_error_rate is not None:
                self._budget.wrong_served()
            self._set_population(self._population.add(similarity, correct, POPULATION))

    def _set_population(self, population: Observations) -> None:
        """The cache-wide curve's observations, fitted again once they are
        :data:`POPULATION_MIN` or more (the lock held)."""
        self._population = population
        if len(population.items) >= POPULATION_MIN:
            self._population_fit = fit(population)

    def answered(self) -> None:
        """The cache gave one more answer (an exact or semantic hit, or a miss): the error
        budget is a share of them."""
        if self.max_error_rate is not None:
            with self._lock:
                self._budget.answered()

    def serves(self, prompt_key: str, hit: Hit, same_question: bool = False) -> bool:
        """Whether to serve ``hit`` for the prompt whose exact key is ``prompt_key``
        (remembering it as served, or as pending when explored); ``same_question``: the
        hit asks the very question of the prompt (:func:`~semcache_core.hit_rule.
        same_question`), and is served as an exact hit would be, never explored."""
        with self._lock:
            explore = False
            if self.max_error_rate is not None and not same_question:
                tau, judged = self._exploring(observations_of(hit.metadata), hit.score)
                explore = draw(tau, self._rng) is Action.EXPLORE
                if judged and not explore and self._population_fit is not None:
                    self._budget.served(self._population_fit)
            # a served hit needs no value (nothing compares it): keep the memory small
            candidate = Candidate(
                hit.key,
                hit.score,
                hit.value if explore else None,
                hit.vector,
                digest_of(hit.value, hit.metadata),
                served=not explore,
            )
            # serving leaves a pending exploration of the same prompt in place: its
            # update is still on its way (two requests for one prompt at once)
            _remember(self._pending if explore else self._served, prompt_key, candidate)
        return not explore

    def _exploring(self, own: Observations, score: float) -> tuple[float, bool]:
        """The probability of exploring a candidate of an entry with ``own`` observations,
        and whether the cache-wide rule judged it (then the budget remembers it).

        Its own curve alone decides where it has been wrong at a similarity at least
        ``score`` (to 3 places) less :data:`NEAR_WRONG` (then it is explored until it has
        :data:`~semcache_core.verified.MIN_OBSERVATIONS`), or less :data:`FAR_WRONG` once
        it has them. Otherwise: :data:`EXPLORATION` where the error budget affords it
        (:meth:`~semcache_core.error_budget.ErrorBudget.affords`), always elsewhere (and
        before the cache-wide curve holds :data:`POPULATION_MIN` observations), or as its
        own curve says where that explores less. An entry the cache-wide curve would serve
        wrongly forever, never explored (an entry right for a paraphrase at 0.88, wrong for
        its siblings at 0.90-0.95), is explored now and then, and its own wrong answers
        then make it explored.
        """
        assert self.max_error_rate is not None
        similarity = round(min(max(score, -1.0), 1.0), 3)  # as observations are kept
        by_own = explore_probability(own, similarity, self.max_error_rate)  # young: 1.0
        reach = FAR_WRONG if len(own) >= MIN_OBSERVATIONS else NEAR_WRONG
        lowest = similarity - reach - 1e-9  # 0.53 - 0.05 is 0.48000000000000004
        near_wrong = any(not o.correct and o.similarity >= lowest for o in own.items)
        affords = not near_wrong and self._budget.affords(self._population_fit, similarity)
        by_cache = EXPLORATION if affords else 1.0  # (the curve is None before POPULATION_MIN)
        if near_wrong or by_own < by_cache:
            if by_own < 1.0:
                self._budget.decided_by_own()  # it may serve: δ of the budget is its
            return by_own, False
        self._budget.judged(similarity)
        return by_cache, True

    def judged(self, explored: Candidate | None, response: Any) -> bool | None:
        """Whether the explored candidate's response was right, by ``judge``; ``None``:
        nothing to judge, or the judge raised or answered something else than a bool (a
        ``RuntimeWarning`` says so, and nothing is learned: ``bool("no")`` is True)."""
        if explored is None:
            return None
        try:
            verdict = self.judge(explored.value, response)
        except Exception as exc:  # the user's judge: its failure must not lose the answer
            warnings.warn(
                f"judge raised {type(exc).__name__}: {exc}; nothing learned",
                RuntimeWarning,
                stacklevel=3,
            )
            return None
        if not isinstance(verdict, (bool, np.bool_)):  # "no", "False", NaN are truthy
            warnings.warn(
                f"judge returned {shown(verdict)}, not a bool; nothing learned",
                RuntimeWarning,
                stacklevel=3,
            )
            return None
        return bool(verdict)

    def settle(self, prompt_key: str) -> Candidate | None:
        """The prompt got its own answer (an ``update``): its pending exploration, if any,
        is returned to learn from, and what served it before is forgotten."""
        with self._lock:
            self._served.pop(prompt_key, None)
            return self._pending.pop(prompt_key, None)

    def vouched(self, prompt_key: str, candidate: Candidate) -> None:
        """An exploration found ``candidate``'s response right for the prompt, whose
        answer (the same response) is now cached: feedback on it, or its invalidation,
        is the candidate entry's to learn too, as if it had served it."""
        with self._lock:  # the value is not needed to learn (as for a served hit)
            _remember(self._served, prompt_key, dataclasses.replace(candidate, value=None))

    def pop_served(self, prompt_key: str) -> Candidate | None:
        """The semantic hit last served for the prompt, forgotten (one feedback each)."""
        with self._lock:
            return self._served.pop(prompt_key, None)


def _interleaved(records: list[Observations], limit: int) -> tuple[Observation, ...]:
    """Up to ``limit`` observations of ``records``: the newest of each record, then the
    next newest of each, and so on (an entry explored often does not crowd out the
    others), oldest first."""
    taken: list[Observation] = []
    depth = 1
    while len(taken) < limit and any(len(r.items) >= depth for r in records):
        taken.extend(r.items[-depth] for r in records if len(r.items) >= depth)
        depth += 1
    return tuple(reversed(taken[:limit]))


def stored_observations(
    cache: SemCache, namespace: str, entries: int = RECALLED_ENTRIES
) -> Iterator[Observations]:
    """The observations stored with the entries of ``namespace``: at most ``entries`` of
    them read, the first by sorted key (the LLM caches' keys start with the model's
    digest: past that many, some models' entries are left out). An in-process backend's
    LRU order is left as it was (``get(..., touch=False)``, where its ``get`` takes it);
    Redis counts the reads as accesses for its own ``maxmemory`` policy, and reads
    :data:`RECALL_BATCH` entries per round trip. An entry whose metadata does not decode
    (written by something else) is passed over."""
    keys = cache.scan(limit=entries, namespace=namespace)
    for start in range(0, len(keys), RECALL_BATCH):
        batch = keys[start : start + RECALL_BATCH]
        for found in read_many(cache._backend, namespace, batch, cache.now(), False, False):
            if found is None:
                continue
            try:
                metadata = decoded(found.metadata, found.key, "metadata")
            except SemCacheError:
                continue
            yield observations_of(metadata)


def _remember(memory: OrderedDict[str, Candidate], key: str, candidate: Candidate) -> None:
    memory[key] = candidate
    memory.move_to_end(key)
    while len(memory) > REMEMBERED:
        memory.popitem(last=False)


def _held_stored(
    cache: SemCache, namespace: str, candidate: Candidate
) -> tuple[StoredEntry, Entry] | None:
    """``candidate``'s entry while it holds the response the candidate was made on, as
    the backend stored it (encoded) and decoded."""
    stored = cache._backend.get(namespace, candidate.key, cache.now(), count=False)
    if stored is None:
        return None
    entry = entry_record(stored)
    if digest_of(entry.value, entry.metadata) != candidate.digest:
        return None
    return stored, entry


def observed_write(
    cache: SemCache, entry: Entry | None, candidate: Candidate, correct: bool
) -> EntryWrite | None:
    """The write that rewrites ``entry`` (as ``_held_stored`` found it) with one more
    observation, with the same value, vector and expiry (none stays none, whatever the
    cache's default ``ttl``); ``None`` when the entry is gone or expired."""
    if entry is None or candidate.vector is None:
        return None
    if entry.expires_at is not None and entry.expires_at <= cache.now():
        return None
    record = observations_of(entry.metadata).add(min(max(candidate.similarity, -1.0), 1.0), correct)
    metadata = {**entry.metadata, OBSERVATIONS_FIELD: record.encode()}
    _, write = cache._set_write(
        entry.key, entry.value, candidate.vector, metadata, None, entry.namespace
    )
    write.expires_at = entry.expires_at  # set()'s ttl=None would mean the default ttl
    return write


ENTRY_WRITES = threading.RLock()
"""Held by every write of the LLM caches' entries in this process (stores, removals and
observations), so that recording an observation (read, then rewrite) never brings back
an entry removed meanwhile, nor undoes a newer response."""


def record(cache: SemCache, namespace: str, candidate: Candidate, correct: bool) -> bool:
    """Append an observation to ``candidate``'s entry; whether it was still there, with
    the response observed.

    The entry is read, then rewritten: :data:`ENTRY_WRITES` keeps this process's writes
    out of the way, and a backend shared by processes (Redis) rewrites it only if no one
    changed it since it was read (``replace_if_unchanged``): another process's
    ``invalidate`` or newer response is never undone, at worst the observation is lost.
    """
    with ENTRY_WRITES:
        found = _held_stored(cache, namespace, candidate)
        write = None if found is None else observed_write(cache, found[1], candidate, correct)
        if write is None or found is None:
            return False
        stored = found[0]
        replace = getattr(cache._backend, "replace_if_unchanged", None)
        if replace is None:  # one process's backend: the lock above is enough
            cache._store(write)
            return True
        return bool(replace(write, stored.value, stored.metadata, cache.now()))
