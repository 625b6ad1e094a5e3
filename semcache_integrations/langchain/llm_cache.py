"""A LangChain LLM cache: exact hits, then semantic hits that never cross models or contexts.

Example::

    from langchain_core.globals import set_llm_cache
    from semcache_integrations.langchain import SemCache

    set_llm_cache(SemCache())                                     # in-process, lexical
    set_llm_cache(SemCache(embedding=my_embeddings, threshold=0.85))  # a sentence model

For chat models LangChain passes the JSON of the message list as ``prompt``. The text of
the last human message is what gets embedded; every other message — system prompt, earlier
turns, tool results — and the rest of that message (images, names) must match exactly, so a
paraphrased question in the same conversation hits and the same question under another
system prompt does not. In a message whose text stands among images or other parts, only
the last text part with text is embedded, and the others must match exactly, each in its
place among those parts. Plain LLM prompts are embedded whole. Scoping, storage, TTL and
statistics live in the engine (:class:`semcache_core.responses.ResponseCache`).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.embeddings import Embeddings
from langchain_core.load import dumps, loads
from langchain_core.outputs import Generation

from semcache_core import SemCache as EngineCache
from semcache_core.answer_kept import answer_kept
from semcache_core.engine_arg import check_engine
from semcache_core.errors import InvalidArgumentError, InvalidValueError
from semcache_core.guards import Guard
from semcache_core.message_parts import take_last_text
from semcache_core.response_checks import prompt_text
from semcache_core.responses import Prompt, ResponseCache, ResponseStats
from semcache_core.verified import Random
from semcache_core.verified_responses import answer_text, text_judge

from .chat_replay import CHUNKS_KEY
from .usage import response_usage

__all__ = ["SemCache", "split_prompt"]

_HUMAN = "HumanMessage"


class SemCache(BaseCache):
    """``BaseCache`` over :class:`semcache_core.SemCache`.

    Args:
        embedding: any LangChain ``Embeddings`` for the semantic lookups; default the
            engine's embedder (the built-in lexical one unless ``cache`` has another).
        threshold: cosine similarity a semantic hit needs. The default 0.95 suits the
            lexical embedder (near-identical phrasings); a sentence model such as
            all-MiniLM-L6-v2 wants about 0.87 (``semcache calibrate``, README).
        ttl: seconds a response stays cached (``None``: the engine's default).
        max_entries: LRU bound of the engine created here.
        cache: an existing engine (durable, Redis-backed, shared).
        namespace: this cache's share of the engine (engine namespace
            ``"llm:{namespace}"``); ``clear()`` removes only its responses.
        guards: checks every semantic hit must also pass (see
            :mod:`semcache_core.guards`): ``None`` for the default ones (numbers, dates,
            negations, capitalised names, identifiers...), ``()`` for none, or your own
            callables ``guard(new, stored) -> bool``, e.g. ``(*DEFAULT_GUARDS, my_guard)``.
        sliding_ttl: ``True``: serving a response restarts its ``ttl``; ``False`` (the
            default): a response expires ``ttl`` after it was stored.
        prices: ``{"gpt-4o-mini": (0.00015, 0.0006)}``: USD per 1k input and output tokens,
            by the model name read from ``llm_string`` (see
            :func:`~semcache_integrations.langchain.usage.model_name`), for
            ``stats().cost_saved``.
        max_error_rate: δ in (0, 1) for verified mode: thresholds learned online
            (vCache's per-entry curves and a cache-wide error budget), at most δ of all
            answers wrong; then ``threshold`` is only the floor for candidates (set it
            low, e.g. 0.5). Some
            candidate hits are answered as misses (explored): the model's fresh answer is
            compared with the cached one by ``judge``. See
            :class:`semcache_core.responses.ResponseCache`.
        judge: ``judge(cached_text, fresh_text) -> bool`` on the generations' text, each
            tool call they make appended as a JSON line ``{"args": ..., "name": ...}``
            (an answer that only calls a tool is judged by its calls); default exact
            equality.
        rng: the exploration draws (``random.Random``, numpy ``Generator``); pass a seeded
            one for reproducible runs. Default: a new unseeded ``random.Random``.

    ``stats()`` counts the tokens each hit saved from the cached response's
    ``usage_metadata`` (see :mod:`semcache_integrations.langchain.usage`).

    Raises:
        InvalidArgumentError: a threshold outside [-1, 1], a bad ``ttl``, a ``cache``
            that is not a :class:`semcache_core.SemCache` (this class is not one), a bad
            ``prices`` entry, ``guards`` that are not callables, ``max_error_rate``
            not in (0, 1), or a ``judge`` that is not callable.
    """

    def __init__(
        self,
        embedding: Embeddings | None = None,
        threshold: float = 0.95,
        ttl: float | None = None,
        max_entries: int | None = None,
        cache: EngineCache | None = None,
        namespace: str = "default",
        guards: Iterable[Guard] | None = None,
        sliding_ttl: bool = False,
        prices: Mapping[str, tuple[float, float]] | None = None,
        max_error_rate: float | None = None,
        judge: Callable[[str, str], bool] | None = None,
        rng: Random | None = None,
    ) -> None:
        self._judge, on_stored = text_judge(judge, _generations_text)
        self._responses = ResponseCache(
            check_engine(cache, "semcache_integrations.langchain.SemCache"),
            embedder=embedding,
            threshold=threshold,
            ttl=ttl,
            max_entries=max_entries,
            namespace=namespace,
            guards=guards,
            prices=prices,
            sliding_ttl=sliding_ttl,
            max_error_rate=max_error_rate,
            judge=on_stored,
            rng=rng,
        )

    @property
    def engine(self) -> EngineCache:
        """The engine underneath."""
        return self._responses.cache

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """Fresh generations for an exact or semantic hit, else ``None``."""
        return self._responses.lookup(_Prompt(prompt), llm_string, _served_generations)

    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        return await self._responses.alookup(_Prompt(prompt), llm_string, _served_generations)

    def _lookup_recorded(self, prompt: str, llm_string: str) -> list[Generation] | None:
        """:meth:`lookup` for :class:`~semcache_integrations.langchain.CachedChatModel`:
        the generations as stored, with the chunk lengths its replays cut text at, which
        ``lookup`` hands to no one (see :mod:`~semcache_integrations.langchain.chat_replay`).
        """
        return self._responses.lookup(_Prompt(prompt), llm_string, _load_generations)

    async def _alookup_recorded(self, prompt: str, llm_string: str) -> list[Generation] | None:
        return await self._responses.alookup(_Prompt(prompt), llm_string, _load_generations)

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        """Store ``return_val`` (a non-empty sequence of generations) for ``prompt``.

        A response that would not load back (an object LangChain cannot serialise in a
        message's ``additional_kwargs``, such as a parsed pydantic model) is not stored,
        with a warning: it would never be served, and would replace a servable one. A
        write that fails (the embedder, the backend) is a
        :class:`~semcache_core.errors.CacheWriteWarning`, not an error: LangChain calls
        this with the model's answer in hand, and the caller gets it.

        Raises:
            InvalidArgumentError: ``prompt`` or ``llm_string`` not a str.
            InvalidValueError: ``return_val`` not a non-empty sequence of generations.
        """
        stored = _stored_response(prompt, llm_string, return_val)
        if stored is not None:
            generations, blob = stored
            usage = response_usage(generations, llm_string)
            with answer_kept():
                self._responses.update(_Prompt(prompt), llm_string, blob, usage)

    async def aupdate(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        stored = _stored_response(prompt, llm_string, return_val)
        if stored is not None:
            generations, blob = stored
            usage = response_usage(generations, llm_string)
            with answer_kept():
                await self._responses.aupdate(_Prompt(prompt), llm_string, blob, usage)

    def clear(self, **kwargs: Any) -> None:
        """Remove every cached response, or those of one ``llm_string=...``: one model
        with one set of parameters (LangChain's ``llm_string`` holds them all, so a call
        with another ``stop``, ``temperature`` or bound tool set has another one).

        Raises:
            InvalidArgumentError: another keyword (a misspelt ``llm_string`` would
                otherwise clear every model's), or an ``llm_string`` that is not a str;
                nothing is removed.
        """
        self._responses.clear(_cleared_model(kwargs))

    async def aclear(self, **kwargs: Any) -> None:
        await self._responses.aclear(_cleared_model(kwargs))

    def stats(self) -> ResponseStats:
        """Exact hits, semantic hits, misses, updates, and the tokens and USD saved."""
        return self._responses.stats()

    @property
    def max_error_rate(self) -> float | None:
        """δ of verified mode, or ``None`` (a static threshold)."""
        return self._responses.max_error_rate

    @property
    def judge(self) -> Callable[[str, str], bool]:
        """``judge(cached_text, fresh_text) -> bool``, what explorations learn from."""
        return self._judge

    def feedback(self, prompt: str, llm_string: str, correct: bool) -> bool:
        """Whether the semantic hit last served for ``prompt`` was right: the entry that
        served it learns it. Returns whether there was one to learn from."""
        return self._responses.feedback(_Prompt(prompt), llm_string, correct)

    async def afeedback(self, prompt: str, llm_string: str, correct: bool) -> bool:
        return await self._responses.afeedback(_Prompt(prompt), llm_string, correct)

    def invalidate(self, prompt: str, llm_string: str) -> bool:
        """Remove the response cached for exactly ``prompt``; a semantic hit served for it
        counts as wrong for the entry that served it. Returns whether anything changed."""
        return self._responses.invalidate(_Prompt(prompt), llm_string)

    async def ainvalidate(self, prompt: str, llm_string: str) -> bool:
        return await self._responses.ainvalidate(_Prompt(prompt), llm_string)


def _spend_loads_beta_warning() -> None:
    """langchain-core marks ``loads`` beta and warns on the first call in a process. Users
    of this cache did not choose that function, so the one warning is spent here, at import
    (where changing the warning filters is safe), instead of on their first cache hit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loads("[]", allowed_objects="core")


_spend_loads_beta_warning()


def _stored_response(
    prompt: Any, llm_string: Any, return_val: Any
) -> tuple[list[Generation], str] | None:
    """The generations of an update and their JSON, checked; ``None`` (warned) for a
    response whose JSON would not load back."""
    prompt_text(prompt, "prompt")  # before usage accounting reads llm_string
    prompt_text(llm_string, "llm_string")
    if isinstance(return_val, (str, bytes, Mapping)) or not isinstance(return_val, Iterable):
        raise InvalidValueError(
            f"return_val must be a sequence of generations, got {type(return_val).__name__}"
        )
    generations = list(return_val)  # once: an iterator is read here only
    if not generations or not all(isinstance(g, Generation) for g in generations):
        kinds = sorted({type(g).__name__ for g in generations}) or ["nothing"]
        raise InvalidValueError(
            f"return_val must hold one or more generations, got {', '.join(kinds)}"
        )
    blob = dumps(generations)
    if _load_generations(blob) is None:  # what every hit would do with it
        warnings.warn(
            "semcache: a response was not cached: LangChain cannot serialise part of it "
            "(an object in a message's additional_kwargs, such as a parsed pydantic model), "
            "so it would not load back",
            stacklevel=3,
        )
        return None
    return generations, blob


def _cleared_model(kwargs: Mapping[str, Any]) -> str | None:
    """The ``llm_string`` of a ``clear(**kwargs)``, checked before anything is removed."""
    unknown = sorted(set(kwargs) - {"llm_string"})
    if unknown:
        raise InvalidArgumentError(
            f"clear() takes only llm_string=, got {', '.join(map(repr, unknown))}: "
            "nothing was removed"
        )
    model = kwargs.get("llm_string")
    if model is not None and not isinstance(model, str):
        raise InvalidArgumentError(f"llm_string must be a str, got {type(model).__name__}")
    return model


def _generations_text(blob: Any) -> str | None:
    """What ``judge`` compares: the generations' text, then the tool calls they make
    (see :func:`~semcache_core.verified_responses.answer_text`)."""
    generations = _load_generations(blob)
    if generations is None:
        return None
    calls = [
        (call["name"], call["args"])
        for generation in generations
        for call in getattr(getattr(generation, "message", None), "tool_calls", None) or ()
    ]
    return answer_text("".join(g.text for g in generations), calls)


def _load_generations(blob: Any) -> list[Generation] | None:
    """A stored response as a new list of new generations (LangChain mutates what a hit
    returns); ``None`` for a blob that does not load: a miss, not an error."""
    try:
        generations = loads(blob, allowed_objects="core")
    except Exception:  # written by another version, or not by us
        return None
    if isinstance(generations, list) and all(isinstance(g, Generation) for g in generations):
        return generations
    return None


def _served_generations(blob: Any) -> list[Generation] | None:
    """A stored response as :meth:`SemCache.lookup` hands it out: without the chunk
    lengths ``CachedChatModel`` notes in an answer it streamed, which are its replay's
    business, not the model's (LangChain would pass them on to the caller and to
    ``on_llm_end``)."""
    generations = _load_generations(blob)
    for generation in generations or ():
        info = generation.generation_info
        if info and CHUNKS_KEY in info:
            generation.generation_info = {k: v for k, v in info.items() if k != CHUNKS_KEY} or None
    return generations


class _Prompt:
    """A LangChain prompt, split into context and query only when a lookup needs them: an
    exact hit (the common case) reads ``exact`` alone, and parsing the message JSON would
    be a fifth of its time."""

    __slots__ = ("_split", "exact")

    def __init__(self, prompt: str) -> None:
        self.exact = prompt
        self._split: Prompt | None = None

    def _parts(self) -> Prompt:
        if self._split is None:
            self._split = split_prompt(self.exact)
        return self._split

    @property
    def context(self) -> str:
        return self._parts().context

    @property
    def query(self) -> str:
        return self._parts().query

    @property
    def after_question(self) -> bool:
        return self._parts().after_question


def split_prompt(prompt: str) -> Prompt:
    """Exact text, context and query text of a LangChain prompt.

    A chat prompt (the JSON of serialised messages) embeds the text of its last human
    message (of one of its text parts when the message has other parts: see
    :func:`_take_text`); its context is the whole message list with that text blanked
    out, and it follows a question when an earlier message's text holds a question mark
    (:attr:`~semcache_core.llm_prompt.Prompt.after_question`). Anything else is a plain
    prompt: embedded whole, with no context.
    """
    messages = _chat_messages(prompt)
    if messages is None:
        return Prompt(exact=prompt, context="", query=prompt)
    for position in range(len(messages) - 1, -1, -1):
        if messages[position]["id"][-1] == _HUMAN:
            query, blanked = _take_text(messages[position])
            context = [*messages[:position], blanked, *messages[position + 1 :]]
            return Prompt(
                exact=prompt,
                context=json.dumps(context, sort_keys=True),
                query=query,
                after_question=any("?" in _text_of(m) for m in messages[:position]),
            )
    return Prompt(exact=prompt, context=prompt, query="")  # no human turn: exact hits only


def _chat_messages(prompt: str) -> list[dict[str, Any]] | None:
    """The serialised messages of a chat prompt, or ``None`` for a plain prompt."""
    if not prompt.startswith("["):
        return None
    try:
        messages = json.loads(prompt)
    except ValueError:
        return None
    if not isinstance(messages, list) or not all(_is_message(m) for m in messages):
        return None
    return messages


def _is_message(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and item.get("lc") == 1
        and isinstance(item.get("id"), list)
        and bool(item["id"])
        and isinstance(item.get("kwargs"), dict)
    )


def _take_text(message: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A message's query text, and the message with that text blanked: what else must
    match exactly.

    Text alone (a str, or a list of str and ``"text"`` parts) is all query: its parts read
    as one text, blanked in place (a part whose text is no str stays whole). Text among
    other parts (images, files...) is not: where each text stands among them is part of
    the request ("this is Rex: <image> and this is Fido: <image>"), and moving one to
    another slot must not look like a paraphrase. There the query is the text of the last
    part with any (:func:`semcache_core.message_parts.take_last_text`).
    """
    content = message["kwargs"].get("content", "")
    blank_content: str | list[Any]
    if isinstance(content, str):
        text, blank_content = content, ""
    elif not isinstance(content, list):  # no message LangChain makes: all of it is context
        return "", message
    elif all(isinstance(part, str) or _is_text_type(part) for part in content):
        text = _text_of(message)
        blank_content = [{**part, "text": ""} if _is_text_part(part) else part for part in content]
    else:
        text, blank_content = take_last_text(content, _is_text_part)
    return text, {**message, "kwargs": {**message["kwargs"], "content": blank_content}}


def _text_of(message: dict[str, Any]) -> str:
    """A serialised message's text (its text parts joined), whatever its role."""
    content = message["kwargs"].get("content", "")
    if isinstance(content, str):
        return content
    return "\n".join(_texts(content)) if isinstance(content, list) else ""


def _is_text_type(part: Any) -> bool:
    """A part of type ``"text"``, whatever its text."""
    return isinstance(part, dict) and part.get("type") == "text"


def _is_text_part(part: Any) -> bool:
    """A ``{"type": "text", "text": str}`` part (one whose text is not a str, such as
    ``None``, stays whole in the context: it must match exactly)."""
    return (
        isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
    )


def _texts(parts: Sequence[Any]) -> list[str]:
    return [
        part if isinstance(part, str) else part["text"]
        for part in parts
        if isinstance(part, str) or _is_text_part(part)
    ]
