"""LLM response caching on the engine: exact hits, then semantic hits within one scope.

Framework adapters (LangChain's ``BaseCache``, LlamaIndex's LLM wrapper) turn their
prompts into a :class:`Prompt` and their responses into a string, and leave the rest here:

- every entry lives in the cache's engine namespace ``"llm:{namespace}"`` (see
  :mod:`semcache_core.namespaces`), so no other adapter on the same engine sees or clears it;
- one entry per ``(prompt, model)``: its key hashes both (the exact hit), its vector is the
  embedding of the prompt's *query* text (the last user message), and its ``scope``
  metadata hashes the model and the prompt's *context* (everything but the query text);
- a semantic lookup filters on that scope before ranking, so a hit never crosses models
  or conversation contexts; a scope costs only its entries (no index of its own);
- a candidate above the threshold is served only if what *differs* between its query text
  and the new one (:func:`~semcache_core.prompt_diff.differing_spans`: the texts less their
  shared leading and trailing sentences) passes the guards (:mod:`semcache_core.guards`:
  numbers, dates, negations, capitalised names, identifiers agree) and is similar at the
  threshold too.
  A template or a retrieved context shared by both prompts says nothing about whether the
  questions match, yet it dominates their embeddings. The query text is kept in each entry's
  metadata for this; an entry without it (written by an earlier version) hits exactly only;
- a model's entries share a key prefix, so ``clear(model)`` removes one model's.

Example::

    >>> responses = ResponseCache(threshold=0.9)
    >>> prompt = Prompt(exact="sys:be brief|user:How do I reset my password?",
    ...                 context="sys:be brief", query="How do I reset my password?")
    >>> responses.update(prompt, "gpt-x", "Use the reset link.")
    >>> responses.lookup(Prompt("...", "sys:be brief", "how do I reset my password"), "gpt-x")
    'Use the reset link.'
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .cache import SemCache
from .checks import check_threshold, check_ttl
from .embedders import as_embedder
from .engine_arg import check_engine
from .errors import InvalidArgumentError, shown
from .filters import Filter
from .guards import Guard, check_guards
from .hit_rule import checked_verdict, query_verdict, same_question
from .llm_prompt import Prompt, PromptLike, after_question
from .namespaces import adapter_namespace
from .pleasantries import without_pleasantries
from .query_vectors import QueryVectors, usable_vector
from .records import Hit
from .response_checks import check_correct, check_storable, check_usage, digest, prompt_text
from .savings import Savings, Usage, check_prices, usage_fields
from .vectors import FloatVector, score_floor
from .verified import Random
from .verified_responses import ENTRY_WRITES, Candidate, Judge, Verifier, record

__all__ = [
    "Loader",
    "Prompt",
    "PromptLike",
    "ResponseCache",
    "ResponseStats",
    "Usage",
    "query_verdict",
]

Loader = Callable[[Any], Any]
"""Turns a stored response into the caller's objects, or ``None`` when it cannot."""

NAMESPACE_KIND = "llm"
_QUERY_FIELD = "q"  # the entry's metadata field holding its query text
# Candidates above the threshold checked per lookup: a neighbour that shares more template
# with the new prompt may outrank the paraphrase that should hit.
_CANDIDATES = 4


@dataclass(frozen=True, slots=True)
class ResponseStats:
    """Lookups so far: exact hits, semantic hits and misses (``hits`` counts both kinds),
    and what the hits saved (see :mod:`semcache_core.savings`): each hit saves one call's
    tokens, as recorded with the response it served; ``cost_saved`` (USD) counts the hits
    whose model ``prices`` name, ``unpriced_hits`` the others (0 without ``prices``).
    ``explorations`` counts the misses that verified mode chose (``max_error_rate``): a
    candidate hit answered as a miss so that the model's fresh answer could judge it; each
    is one model call spent on learning (counted in ``misses`` too)."""

    exact_hits: int
    semantic_hits: int
    misses: int
    updates: int
    input_tokens_saved: int = 0
    output_tokens_saved: int = 0
    cost_saved: float = 0.0
    unpriced_hits: int = 0
    explorations: int = 0

    @property
    def hits(self) -> int:
        return self.exact_hits + self.semantic_hits

    @property
    def hit_rate(self) -> float:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0


class ResponseCache:
    """Responses by exact prompt, or by meaning within one model and context.

    Args:
        cache: the engine to store in (durable, Redis-backed, ...); default a new in-process
            :class:`~semcache_core.SemCache`.
        namespace: this cache's share of the engine: its entries live in the engine
            namespace ``"{kind}:{namespace}"`` (``"llm:default"`` by default), and
            :meth:`clear` touches nothing else.
        embedder: embeds query texts (a callable, a LangChain or LlamaIndex embedding);
            default the cache's own embedder.
        kind: the first part of the engine namespace (``"llm"``; LlamaIndex's
            ``SemCacheLLM`` passes ``"li-llm"``, so that neither adapter clears the other's
            responses on a shared engine).
        threshold: cosine similarity in [-1, 1] a semantic hit needs.
        ttl: seconds an entry lives (``None``: the cache's default).
        max_entries: LRU bound of the cache this creates (only without ``cache``).
        guards: checks every semantic hit must also pass, each ``guard(new, stored) ->
            bool`` on the differing spans of the two query texts (``None``: the built-in
            :data:`~semcache_core.guards.DEFAULT_GUARDS`; ``()`` turns them off; add your own
            with ``(*DEFAULT_GUARDS, my_guard)``).
        sliding_ttl: ``True``: serving an entry (exact or semantic hit) restarts its
            ``ttl`` from now (:meth:`SemCache.touch`); ``False``: an entry expires ``ttl``
            after it was stored, however often it is served.
        prices: ``{"model-name": (usd_per_1k_input, usd_per_1k_output)}`` for
            ``stats().cost_saved``; names are matched exactly against the model name each
            response was stored with (see :class:`~semcache_core.savings.Usage`).
        max_error_rate: δ in (0, 1) for verified mode (:mod:`semcache_core.verified`):
            at most that share of all answers (exact and semantic hits, misses) wrong.
            Each candidate above ``threshold`` (then only a floor: set it low, e.g. 0.5)
            is served, or explored, by the cache-wide curve and an error budget
            (:mod:`semcache_core.error_budget`), or by its entry's own curve where that
            explores less, or alone where the entry was wrong near it (see
            :mod:`semcache_core.verified_responses`); one asking the very same question
            under other pleasantries is served, never explored
            (:func:`~semcache_core.hit_rule.same_question`). Exploring answers the lookup
            as a miss; the :meth:`update` that follows compares the fresh response with
            the candidate's by ``judge`` and the candidate learns from it. ``None``: static.
        judge: ``judge(cached, fresh) -> bool`` on stored responses; default equality.
        rng: the exploration draws (``random.Random``, numpy ``Generator``).

    Raises:
        InvalidArgumentError: a threshold outside [-1, 1], a bad ``ttl``, ``max_entries``
            with ``cache``, a ``cache`` that is not a :class:`~semcache_core.SemCache`,
            a ``sliding_ttl`` that is not a bool, a bad ``prices`` entry (named),
            ``guards`` that are not an iterable of callables, ``max_error_rate`` not in
            (0, 1), or a ``judge`` that is not callable.
    """

    def __init__(
        self,
        cache: SemCache | None = None,
        *,
        embedder: Any = None,
        threshold: float = 0.95,
        ttl: float | None = None,
        max_entries: int | None = None,
        namespace: str = "default",
        guards: Iterable[Guard] | None = None,
        sliding_ttl: bool = False,
        prices: Mapping[str, tuple[float, float]] | None = None,
        max_error_rate: float | None = None,
        judge: Judge | None = None,
        rng: Random | None = None,
        kind: str = NAMESPACE_KIND,
    ) -> None:
        if not isinstance(sliding_ttl, bool):
            raise InvalidArgumentError(
                f"sliding_ttl must be True or False, got {shown(sliding_ttl)}"
            )
        self._savings = Savings(check_prices(prices))
        self.sliding_ttl = sliding_ttl
        self.namespace = adapter_namespace(kind, namespace)
        self._verifier = Verifier(max_error_rate, judge, rng)
        check_engine(cache, "ResponseCache")
        self.guards = check_guards(guards)
        ttl = check_ttl(ttl)  # now, not after the first LLM call
        checked = check_threshold(threshold)
        if checked is None:
            raise InvalidArgumentError("threshold must be a number in [-1, 1], got None")
        if cache is not None and max_entries is not None:
            raise InvalidArgumentError(
                "max_entries bounds the cache created here; set it on the cache you pass"
            )
        self.cache = cache if cache is not None else SemCache(max_entries=max_entries)
        self._embedder = self.cache.embedder if embedder is None else as_embedder(embedder)
        self._query_vectors = QueryVectors(self._embedder)  # one embedding per miss
        self.threshold = checked
        self.ttl = ttl
        self._lock = threading.Lock()
        self._exact_hits = self._semantic_hits = self._misses = self._updates = 0
        self._explorations = 0

    @property
    def max_error_rate(self) -> float | None:
        """δ of verified mode, or ``None`` (static threshold)."""
        return self._verifier.max_error_rate

    @property
    def judge(self) -> Judge:
        """``judge(cached, fresh) -> bool``: what explorations learn from."""
        return self._verifier.judge

    # --- keys ----------------------------------------------------------------------------

    @staticmethod
    def _model_prefix(model: str) -> str:
        return f"{digest(model, 'model (llm_string)')}:"

    def _key(self, prompt: PromptLike, model: str) -> str:
        try:
            exact = prompt.exact
        except AttributeError:
            raise InvalidArgumentError(
                f"prompt must be a Prompt (exact, context, query), got {type(prompt).__name__}"
            ) from None
        return self._model_prefix(model) + digest(exact, "prompt")

    @staticmethod
    def _scope(prompt: PromptLike, model: str) -> str:
        return f"{digest(model, 'model (llm_string)')}:{digest(prompt.context, 'prompt context')}"

    def _in_scope(self, prompt: PromptLike, model: str) -> dict[str, Any]:
        """Search options: this cache's namespace, the prompt's scope only."""
        return {
            "namespace": self.namespace,
            "filters": Filter(_SCOPE, "==", self._scope(prompt, model)),
        }

    # --- lookups -------------------------------------------------------------------------

    def lookup(self, prompt: PromptLike, model: str, load: Loader | None = None) -> Any:
        """The stored response for an exact or semantic hit, else ``None``.

        ``load`` turns the stored value into what the caller returns (``None`` when it
        cannot: that lookup counts as a miss).
        """
        key = self._key(prompt, model)
        found = self.cache.get_entry(key, namespace=self.namespace, count=True)
        if found is not None:
            return self._served(self._outcome(found.value, load, True, found.metadata), key)
        query = prompt.query
        prompt_text(query, "prompt query")  # before the model is called on a miss
        searched = without_pleasantries(query)  # what the entries' vectors embed too
        vector = usable_vector(self._embedder.embed_query(searched)) if query else None
        hits = [] if vector is None else self._search(vector, prompt, model)
        for hit in hits:
            if hit.key == key:  # stored since the exact read (a concurrent update): exact
                return self._served(self._outcome(hit.value, load, True, hit.metadata), key)
            verdict = _verdict(query, hit, self.guards, after_question(prompt))
            if isinstance(verdict, tuple):
                verdict = self._spans_similar(
                    self._embedder.embed_query(verdict[0]),
                    self._embedder.embed_document(verdict[1]),
                )
            if verdict:
                self._verifier.recall(self.cache, self.namespace)
                if self._verifier.serves(key, hit, self._same_question(query, hit)):
                    value = self._outcome(hit.value, load, False, hit.metadata)
                    return self._served(value, hit.key)
                self._count_exploration()
                break  # explored: a miss, and the update that follows teaches the entry
        return self._missed(key, searched, vector, load)

    async def alookup(self, prompt: PromptLike, model: str, load: Loader | None = None) -> Any:
        """Async :meth:`lookup`, embedding with the embedder's async method."""
        key = self._key(prompt, model)
        found = await self.cache.aget_entry(key, namespace=self.namespace, count=True)
        if found is not None:
            value = self._outcome(found.value, load, True, found.metadata)
            return await self._aserved(value, key)
        query = prompt.query
        prompt_text(query, "prompt query")  # before the model is called on a miss
        searched = without_pleasantries(query)
        vector = usable_vector(await self._embedder.aembed_query(searched)) if query else None
        hits = (
            []
            if vector is None
            else await self.cache.asearch(
                vector,
                _CANDIDATES,
                threshold=self.threshold,
                with_vectors=True,
                **self._in_scope(prompt, model),
            )
        )
        for hit in hits:
            if hit.key == key:  # stored since the exact read (a concurrent update): exact
                value = self._outcome(hit.value, load, True, hit.metadata)
                return await self._aserved(value, key)
            verdict = _verdict(query, hit, self.guards, after_question(prompt))
            if isinstance(verdict, tuple):
                verdict = self._spans_similar(
                    await self._embedder.aembed_query(verdict[0]),
                    await self._embedder.aembed_document(verdict[1]),
                )
            if verdict:
                if not self._verifier.recalled:  # reads the backend: off the event loop
                    await asyncio.to_thread(self._verifier.recall, self.cache, self.namespace)
                if self._verifier.serves(key, hit, self._same_question(query, hit)):
                    value = self._outcome(hit.value, load, False, hit.metadata)
                    return await self._aserved(value, hit.key)
                self._count_exploration()
                break  # explored: a miss, and the update that follows teaches the entry
        return self._missed(key, searched, vector, load)

    def _missed(
        self, key: str, searched: str, vector: FloatVector | None, load: Loader | None
    ) -> Any:
        """A miss, the vector of its ``searched`` text kept for the ``update`` that follows
        (see :mod:`semcache_core.query_vectors`)."""
        if vector is not None:
            self._query_vectors.remember(key, searched, vector)
        return self._outcome(None, load, exact=False)

    def _search(self, vector: FloatVector, prompt: PromptLike, model: str) -> list[Hit]:
        return self.cache.search(
            vector,
            _CANDIDATES,
            threshold=self.threshold,
            with_vectors=True,  # to rewrite an entry's observations (it keeps its vector)
            **self._in_scope(prompt, model),
        )

    def _same_question(self, query: str, hit: Hit) -> bool:
        """Verified mode: whether ``hit``, which the hit rule passed (so its stored query
        text is a str), asks the very question of ``query`` (served, never explored)."""
        stored = hit.metadata[_QUERY_FIELD]
        return self.max_error_rate is not None and same_question(query, stored)

    def _spans_similar(self, first: Any, second: Any) -> bool:
        """Whether two differing spans' embeddings are similar at the threshold (a span
        that embeds to nothing is not)."""
        a, b = usable_vector(first), usable_vector(second)
        return a is not None and b is not None and float(a @ b) >= score_floor(self.threshold)

    def _outcome(
        self, value: Any, load: Loader | None, exact: bool, metadata: dict[str, Any] | None = None
    ) -> Any:
        """``value`` loaded, counted as a hit (with what the entry of ``metadata`` saves)
        or a miss."""
        if value is not None and load is not None:
            value = load(value)
        self._verifier.answered()
        with self._lock:
            if value is None:
                self._misses += 1
            elif exact:
                self._exact_hits += 1
            else:
                self._semantic_hits += 1
            if value is not None:
                self._savings.add(metadata)
        return value

    def _served(self, value: Any, key: str) -> Any:
        """``value`` (None: a miss); with ``sliding_ttl``, a served entry's expiry restarts."""
        if value is not None and self.sliding_ttl:
            self.cache.touch(key, self.ttl, namespace=self.namespace)
        return value

    async def _aserved(self, value: Any, key: str) -> Any:
        if value is not None and self.sliding_ttl:
            await self.cache.atouch(key, self.ttl, namespace=self.namespace)
        return value

    # --- writes --------------------------------------------------------------------------

    def update(
        self, prompt: PromptLike, model: str, response: Any, usage: Usage | None = None
    ) -> None:
        """Store ``response`` (anything the cache stores: usually serialised text), with
        the ``usage`` of the call that produced it (what each hit on it saves).

        After an exploration of this prompt, the explored entry learns whether its response
        was right (``judge``); when it was, feedback on or invalidation of the prompt teach
        it too. The new response is stored as after any miss (vCache stores it only when
        wrong: its neighbours then met the explored entry alone, and the two streams of
        ``bench_verified`` were served 18 and 82 fewer of 1,500 requests at δ = 0.01). A
        judge that raises teaches nothing (a ``RuntimeWarning`` says so).

        Raises:
            InvalidArgumentError: a prompt text or ``model`` not a str (or not valid
                text), ``usage`` not a :class:`Usage`.
            InvalidValueError: a ``response`` the cache cannot store.
            Either before anything changed: a pending exploration still waits.
        """
        key = self._checked_write(prompt, model, response, usage)
        explored = self._verifier.settle(key)
        right = self._verifier.judged(explored, response)
        vector = None
        if prompt.query:
            searched = without_pleasantries(prompt.query)
            vector = self._query_vectors.document(
                key, searched, lambda: usable_vector(self._embedder.embed_document(searched))
            )
        self._write(prompt, model, response, vector, usage, explored, right)

    async def aupdate(
        self, prompt: PromptLike, model: str, response: Any, usage: Usage | None = None
    ) -> None:
        key = self._checked_write(prompt, model, response, usage)
        explored = self._verifier.settle(key)
        right = self._verifier.judged(explored, response)
        vector = None
        if prompt.query:
            searched = without_pleasantries(prompt.query)

            async def embed() -> FloatVector | None:
                return usable_vector(await self._embedder.aembed_document(searched))

            vector = await self._query_vectors.adocument(key, searched, embed)
        await asyncio.to_thread(
            self._write, prompt, model, response, vector, usage, explored, right
        )

    def _checked_write(
        self, prompt: PromptLike, model: str, response: Any, usage: Usage | None
    ) -> str:
        """The key an update writes, once everything it writes is known to be storable."""
        check_usage(usage)
        entry = self._entry(prompt, model, response, None, usage)  # names a non-Prompt first
        query = prompt.query
        prompt_text(query, "prompt query")
        check_storable(response, {**entry["metadata"], **(self._metadata(query) if query else {})})
        return str(entry["key"])

    def _write(
        self,
        prompt: PromptLike,
        model: str,
        response: Any,
        vector: FloatVector | None,
        usage: Usage | None,
        explored: Candidate | None,
        right: bool | None,
    ) -> None:
        """Store the response and teach the explored entry, under :data:`ENTRY_WRITES`."""
        entry = self._entry(prompt, model, response, vector, usage)
        with ENTRY_WRITES:
            self.cache.set(**entry)
            learned = explored is not None and right is not None and self._learn(explored, right)
            if learned and right and explored is not None:
                self._verifier.vouched(entry["key"], explored)
        self._count_update()

    def feedback(self, prompt: PromptLike, model: str, correct: bool) -> bool:
        """The application's word on the semantic hit last served for ``prompt``: the entry
        that served it learns it (verified mode exploits it accordingly). Returns whether
        there was such a hit (exact hits and unknown prompts teach nothing).

        Raises:
            InvalidArgumentError: ``correct`` is not a bool.
        """
        check_correct(correct)
        served = self._verifier.pop_served(self._key(prompt, model))
        return served is not None and self._learn(served, correct)

    async def afeedback(self, prompt: PromptLike, model: str, correct: bool) -> bool:
        return await asyncio.to_thread(self.feedback, prompt, model, correct)

    def invalidate(self, prompt: PromptLike, model: str) -> bool:
        """Remove the response cached for exactly ``prompt``; if the last answer for it was
        a semantic hit, the entry that served it learns that it was wrong. Returns whether
        anything was removed or learned.

        That entry keeps its response (right, maybe, for its own prompt): in verified mode
        what it learned makes it explore such neighbours again; with a static threshold it
        may serve them again, so remove it too (``invalidate`` its own prompt) when its
        answer is wrong for any.
        """
        key = self._key(prompt, model)
        with ENTRY_WRITES:
            removed = self.cache.delete(key, namespace=self.namespace)
            served = self._verifier.pop_served(key)
            learned = served is not None and self._learn(served, False)
        return removed or learned

    async def ainvalidate(self, prompt: PromptLike, model: str) -> bool:
        return await asyncio.to_thread(self.invalidate, prompt, model)

    def _learn(self, candidate: Candidate, correct: bool) -> bool:
        """One observation on ``candidate``'s entry, and on the cache-wide curve; whether
        the entry was still there."""
        self._verifier.learned(candidate, correct)
        return record(self.cache, self.namespace, candidate, correct)

    def _entry(
        self,
        prompt: PromptLike,
        model: str,
        response: Any,
        vector: FloatVector | None,
        usage: Usage | None = None,
    ) -> dict[str, Any]:
        return {
            "key": self._key(prompt, model),
            "value": response,
            "vector": vector,
            "ttl": self.ttl,
            "namespace": self.namespace,
            "metadata": {
                _SCOPE: self._scope(prompt, model),
                **(self._metadata(prompt.query) if vector is not None else {}),
                **usage_fields(usage),
            },
        }

    @staticmethod
    def _metadata(query: str) -> dict[str, Any]:
        """The metadata of an entry whose query text is ``query`` (what lookups compare)."""
        return {_QUERY_FIELD: query}

    def _count_exploration(self) -> None:
        with self._lock:
            self._explorations += 1

    def _count_update(self) -> None:
        with self._lock:
            self._updates += 1

    def clear(self, model: str | None = None) -> None:
        """Remove every response of this cache (of ``model`` only, when given); nothing
        outside its namespace is touched."""
        with ENTRY_WRITES:
            if model is None:
                self.cache.clear(self.namespace)
                return
            keys = self.cache.scan(self._model_prefix(model), namespace=self.namespace)
            self.cache.delete_many(keys, namespace=self.namespace)

    async def aclear(self, model: str | None = None) -> None:
        await asyncio.to_thread(self.clear, model)

    def stats(self) -> ResponseStats:
        with self._lock:
            saved = self._savings
            counts = (self._exact_hits, self._semantic_hits, self._misses, self._updates)
            return ResponseStats(
                *counts,
                saved.input_tokens,
                saved.output_tokens,
                saved.cost,
                saved.unpriced_hits,
                self._explorations,
            )


_SCOPE = "scope"  # the metadata field holding an entry's (model, context) scope


def _verdict(
    query: str, hit: Hit, guards: tuple[Guard, ...], after_question: bool
) -> bool | tuple[str, str]:
    """:func:`query_verdict` for a candidate; no for an entry with no stored query text."""
    stored = hit.metadata.get(_QUERY_FIELD)
    if not isinstance(stored, str):
        return False
    return checked_verdict(query, stored, guards, after_question)
