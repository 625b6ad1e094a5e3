"""A LlamaIndex LLM that answers repeated and paraphrased prompts from the cache.

Example::

    from llama_index.core import Settings
    from llama_index.llms.openai import OpenAI
    from semcache_integrations.llama_index.llm import SemCacheLLM

    Settings.llm = SemCacheLLM(OpenAI(model="gpt-4o-mini"))            # in-process, lexical
    Settings.llm = SemCacheLLM(OpenAI(), embed_model=my_embed_model, threshold=0.85)

:class:`SemCacheLLM` is itself an ``LLM``: ``complete``/``chat`` (their async and streaming
twins too) answer from the cache on an exact or semantic hit and call the wrapped LLM on a
miss, storing its response. What must match for a hit:

- the *model*: :func:`model_identity` of the wrapped LLM (class, its serialised fields and
  metadata), so a hit never crosses models or model settings (temperature, max_tokens, ...);
- for ``chat``: every message but the *text* of the last user message (a ReAct tool result
  is not one) — system prompt, earlier turns, roles, ``additional_kwargs``, images — and
  the call's keyword arguments; that text is what gets embedded and compared;
- for ``complete``: ``formatted`` and the keyword arguments; the prompt is embedded whole;
- inside template calls (``predict``, ``stream``, ``structured_predict`` and their twins):
  everything but the question named by the call (``query_str``, ``question``, ``query``),
  and no semantic hit when it is not found; a ReAct tool result (a user message
  ``"Observation: ..."``) and a structured-output prompt outside a template call are never
  compared by meaning (see :mod:`semcache_integrations.llama_index.prompts`).

Template calls are formatted with the wrapped LLM's prompt settings (``system_prompt``,
``query_wrapper_prompt``, ``output_parser``...) read at each call, so the wrapper sends
what the wrapped LLM alone would send; one given to the wrapper, or set on it, is its own.

A call whose keyword arguments are not JSON (tool objects, classes) is not cached: it goes
straight to the wrapped LLM. Responses are stored as JSON (``raw`` and ``delta`` dropped)
and rebuilt as new objects on every hit; a stored response that does not load is a miss.
Scoping, storage, TTL and statistics live in the engine
(:class:`semcache_core.responses.ResponseCache`).

The wrapper reports the wrapped LLM's metadata with ``is_function_calling_model=False``: it
is not a ``FunctionCallingLLM``, so structured prediction goes through its (cached) text
calls; give an agent that calls tools the wrapped LLM itself.
"""

from __future__ import annotations

import json
import threading
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import contextmanager
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SerializeAsAny
from llama_index.core.llms.llm import LLM
from llama_index.core.prompts import BasePromptTemplate, PromptTemplate
from llama_index.core.types import Model, TokenAsyncGen, TokenGen

from semcache_core import SemCache
from semcache_core.answer_kept import answer_kept
from semcache_core.checks import check_keywords, check_ttl
from semcache_core.engine_arg import check_engine
from semcache_core.errors import InvalidArgumentError
from semcache_core.guards import Guard, check_guards
from semcache_core.model_identity import describe
from semcache_core.responses import Prompt, ResponseCache, ResponseStats, check_correct
from semcache_core.savings import Usage, check_prices
from semcache_core.verified import Random
from semcache_core.verified_responses import text_judge

from .prompts import (
    astepwise,
    called_prompt,
    chat_prompt,
    completion_prompt,
    stepwise,
    template_question,
)
from .stored import (
    Response,
    areplay,
    as_streamed,
    chat_chunk,
    completion_chunk,
    dump_response,
    load_chat,
    load_completion,
    replay,
    text_of,
)
from .usage import response_usage

__all__ = ["NAMESPACE_KIND", "SemCacheLLM", "model_identity"]

NAMESPACE_KIND = "li-llm"
"""Engine namespaces of :class:`SemCacheLLM` are ``"li-llm:{namespace}"``."""

PROMPT_SETTINGS = (
    "system_prompt",
    "messages_to_prompt",
    "completion_to_prompt",
    "output_parser",
    "pydantic_program_mode",
    "query_wrapper_prompt",
)
"""The wrapped LLM's fields that shape what ``predict`` sends: the wrapper follows them."""


def _check_llm(llm: Any) -> None:
    if isinstance(llm, LLM):
        return
    example = "SemCacheLLM(OpenAI(model='gpt-4o'))"
    hint = f"; build the model first, e.g. {example}" if isinstance(llm, str) else ""
    raise InvalidArgumentError(
        f"SemCacheLLM wraps a LlamaIndex LLM (llama_index.core.llms.LLM), got "
        f"{type(llm).__name__} {llm!r}"[:300]
        + hint
    )


class SemCacheLLM(LLM):
    """An ``LLM`` that wraps another and caches its responses in :class:`semcache_core.SemCache`.

    Args:
        llm: the LLM to call on a miss.
        cache: the engine to store in (durable, Redis-backed, shared); default a new
            in-process one.
        embed_model: any LlamaIndex embedding for the semantic lookups; default the
            engine's embedder (the built-in lexical one unless ``cache`` has another).
        threshold: cosine similarity in [-1, 1] a semantic hit needs. The default 0.95
            suits the lexical embedder (near-identical phrasings); a sentence model such
            as all-MiniLM-L6-v2 wants about 0.87 (``semcache calibrate``, README).
        ttl: seconds a response stays cached (``None``: the engine's default).
        model_id: the model identity responses are scoped by; default
            :func:`model_identity` of ``llm``, read at each call (so a setting changed
            after wrapping, ``llm.max_tokens = 40``, gets answers of its own; a field
            that holds state, such as a call counter, belongs out of it:
            ``Field(exclude=True)``). Give a stable name of your own when the wrapped
            LLM's fields change without changing its answers.
        namespace: this wrapper's share of the engine (engine namespace
            ``"li-llm:{namespace}"``: a LangChain ``SemCache`` on the same engine, in
            ``"llm:{namespace}"``, never clears it).
        guards: checks every semantic hit must also pass (see
            :mod:`semcache_core.guards`): ``None`` for the default ones (numbers, dates,
            negations, capitalised names, identifiers...), ``()`` for none, or your own
            callables ``guard(new, stored) -> bool``.
        sliding_ttl: ``True``: serving a response restarts its ``ttl``; ``False`` (the
            default): a response expires ``ttl`` after it was stored.
        prices: ``{"gpt-4o-mini": (0.00015, 0.0006)}``: USD per 1k input and output tokens,
            by the wrapped LLM's ``metadata.model_name``, for ``stats().cost_saved``.
        max_error_rate: δ in (0, 1) for verified mode: thresholds learned online
            (vCache's per-entry curves and a cache-wide error budget), at most δ of all
            answers wrong; ``threshold`` is then only the floor for candidates (set it
            low, e.g. 0.5). See
            :class:`semcache_core.responses.ResponseCache`.
        judge: ``judge(cached_text, fresh_text) -> bool`` on the responses' text, what
            explorations learn from (a chat response's tool calls appended as JSON lines
            ``{"args": ..., "name": ...}``); default exact equality.
        rng: the exploration draws (``random.Random``, numpy ``Generator``); pass a seeded
            one for reproducible runs. Default: a new unseeded ``random.Random``.

    ``stats()`` counts the tokens each hit saved from the usage the cached response
    reported (see :mod:`semcache_integrations.llama_index.usage`). The wrapper fires no
    LLM callback events of its own: on a miss the wrapped LLM's events report its call
    (once, so ``TokenCountingHandler`` counts what was paid for), and a hit, which calls
    no model, fires none.

    Raises:
        InvalidArgumentError: ``llm`` is not a LlamaIndex ``LLM`` (a model name is not
            one), ``cache`` is not a :class:`semcache_core.SemCache`, a bad ``ttl``, a
            threshold outside [-1, 1], a bad ``prices`` entry, ``guards`` that are not
            callables, ``max_error_rate`` not in (0, 1), or a ``judge`` that is not
            callable.
    """

    llm: SerializeAsAny[LLM] = Field(description="The wrapped LLM, called on a miss.")
    model_id: str = Field(description="The model identity responses are scoped by.")

    _responses: ResponseCache = PrivateAttr()
    _judge: Callable[[str, str], bool] = PrivateAttr()
    _follows_llm: bool = PrivateAttr(default=False)
    _followed: dict[str, Any] = PrivateAttr(default_factory=dict)
    _settings_lock: threading.Lock = PrivateAttr()

    def __init__(
        self,
        llm: LLM,
        cache: SemCache | None = None,
        embed_model: Any = None,
        threshold: float = 0.95,
        ttl: float | None = None,
        *,
        model_id: str | None = None,
        namespace: str = "default",
        guards: Iterable[Guard] | None = None,
        sliding_ttl: bool = False,
        prices: Mapping[str, tuple[float, float]] | None = None,
        max_error_rate: float | None = None,
        judge: Callable[[str, str], bool] | None = None,
        rng: Random | None = None,
        **kwargs: Any,
    ) -> None:
        _check_llm(llm)
        check_keywords("SemCacheLLM", kwargs, set(type(self).model_fields) - {"llm", "model_id"})
        judge, on_stored = text_judge(judge, text_of)
        check_engine(cache, "SemCacheLLM")
        check_ttl(ttl)  # ResponseCache checks it too, but only after the fields are set
        check_guards(guards)
        check_prices(prices)  # likewise
        # predict() and structured_predict() format prompts with the wrapper's own prompt
        # settings: they follow the wrapped LLM's, read at each call (_follow_llm), so that
        # wrapping does not change what it is sent; those given here stay the wrapper's.
        own = {name for name in PROMPT_SETTINGS if name in kwargs}
        for name in PROMPT_SETTINGS:
            kwargs.setdefault(name, getattr(llm, name, None))
        if kwargs["pydantic_program_mode"] is None:
            del kwargs["pydantic_program_mode"]
        kwargs["model_id"] = model_identity(llm) if model_id is None else model_id
        kwargs["llm"] = llm
        super().__init__(**kwargs)
        self._follows_llm = model_id is None
        self._followed = {n: getattr(self, n) for n in PROMPT_SETTINGS if n not in own}
        self._settings_lock = threading.Lock()
        self._judge = judge
        self._responses = ResponseCache(
            cache,
            embedder=embed_model,
            threshold=threshold,
            ttl=ttl,
            namespace=namespace,
            guards=guards,
            prices=prices,
            sliding_ttl=sliding_ttl,
            max_error_rate=max_error_rate,
            judge=on_stored,
            rng=rng,
            kind=NAMESPACE_KIND,
        )

    @classmethod
    def class_name(cls) -> str:
        return "SemCacheLLM"

    @property
    def metadata(self) -> LLMMetadata:
        """The wrapped LLM's metadata, less function calling (see the module's notes)."""
        return self.llm.metadata.model_copy(update={"is_function_calling_model": False})

    @property
    def engine(self) -> SemCache:
        """The engine underneath."""
        return self._responses.cache

    def _model(self) -> str:
        """The identity responses are scoped by now: ``model_id`` as given, else the wrapped
        LLM's :func:`model_identity` at this call (a setting changed since, such as
        ``llm.max_tokens = 40``, changes it; ``model_id`` then shows the new one)."""
        if not self._follows_llm:
            return self.model_id
        current = model_identity(self.llm)
        if current != self.model_id:
            self.model_id = current
        return current

    def stats(self) -> ResponseStats:
        """Exact hits, semantic hits, misses, updates, and the tokens and USD saved."""
        return self._responses.stats()

    def clear(self) -> None:
        """Remove this model's cached responses (other models' stay)."""
        self._responses.clear(self._model())

    async def aclear(self) -> None:
        await self._responses.aclear(self._model())

    @property
    def max_error_rate(self) -> float | None:
        """δ of verified mode, or ``None`` (a static threshold)."""
        return self._responses.max_error_rate

    @property
    def judge(self) -> Callable[[str, str], bool]:
        """``judge(cached_text, fresh_text) -> bool``, what explorations learn from."""
        return self._judge

    def feedback(
        self,
        prompt: str | Sequence[ChatMessage],
        correct: bool,
        *,
        formatted: bool = False,
        **kwargs: Any,
    ) -> bool:
        """Whether the semantic hit last served for ``prompt`` (a ``complete`` prompt, or a
        ``chat`` message list; ``formatted`` and ``kwargs`` as that call had them) was
        right: the entry that served it learns it. Returns whether there was one."""
        check_correct(correct)
        key = called_prompt(prompt, formatted, kwargs)
        if key is None:
            return False
        return self._responses.feedback(key, self._model(), correct)

    async def afeedback(
        self,
        prompt: str | Sequence[ChatMessage],
        correct: bool,
        *,
        formatted: bool = False,
        **kwargs: Any,
    ) -> bool:
        check_correct(correct)
        key = called_prompt(prompt, formatted, kwargs)
        if key is None:
            return False
        return await self._responses.afeedback(key, self._model(), correct)

    def invalidate(
        self, prompt: str | Sequence[ChatMessage], *, formatted: bool = False, **kwargs: Any
    ) -> bool:
        """Remove the response cached for exactly this call; a semantic hit served for it
        counts as wrong for the entry that served it. Returns whether anything changed."""
        key = called_prompt(prompt, formatted, kwargs)
        return key is not None and self._responses.invalidate(key, self._model())

    async def ainvalidate(
        self, prompt: str | Sequence[ChatMessage], *, formatted: bool = False, **kwargs: Any
    ) -> bool:
        key = called_prompt(prompt, formatted, kwargs)
        return key is not None and await self._responses.ainvalidate(key, self._model())

    # --- template calls: the question alone is compared by meaning (see .prompts) ------

    def _follow_llm(self) -> None:
        """Take the wrapped LLM's prompt settings as they are now (``llm.system_prompt``
        set after wrapping is sent, as the unwrapped LLM would send it). A setting given
        to the wrapper, or set on it since, stays the wrapper's own."""
        with self._settings_lock:
            for name, taken in list(self._followed.items()):
                if getattr(self, name) is not taken:  # set on the wrapper: its own now
                    del self._followed[name]
                    continue
                current = getattr(self.llm, name, None)
                if current is not taken:
                    setattr(self, name, current)
                    self._followed[name] = getattr(self, name)

    @contextmanager
    def _template_call(self, prompt: Any, prompt_args: Mapping[str, Any]) -> Iterator[None]:
        self._follow_llm()
        with template_question(prompt, prompt_args):
            yield

    def _extend_prompt(self, formatted_prompt: str) -> str:
        self._follow_llm()  # structured-output programs call it directly
        return super()._extend_prompt(formatted_prompt)

    def _extend_messages(self, messages: list[ChatMessage]) -> list[ChatMessage]:
        self._follow_llm()
        return super()._extend_messages(messages)

    def predict(self, prompt: BasePromptTemplate, **prompt_args: Any) -> str:
        with self._template_call(prompt, prompt_args):
            return super().predict(prompt, **prompt_args)

    def stream(self, prompt: BasePromptTemplate, **prompt_args: Any) -> TokenGen:
        with self._template_call(prompt, prompt_args):  # the lookup is here, not when iterated
            return super().stream(prompt, **prompt_args)

    async def apredict(self, prompt: BasePromptTemplate, **prompt_args: Any) -> str:
        with self._template_call(prompt, prompt_args):
            return await super().apredict(prompt, **prompt_args)

    async def astream(self, prompt: BasePromptTemplate, **prompt_args: Any) -> TokenAsyncGen:
        with self._template_call(prompt, prompt_args):
            return await super().astream(prompt, **prompt_args)

    # structured outputs (query engines with output_cls=) format the template themselves
    # and call complete / chat: the same scope tells those calls the question

    def structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        with self._template_call(prompt, prompt_args):
            return super().structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)

    async def astructured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        with self._template_call(prompt, prompt_args):
            return await super().astructured_predict(output_cls, prompt, llm_kwargs, **prompt_args)

    def stream_structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Generator[Any, None, None]:
        stream = super().stream_structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        return stepwise(stream, lambda: self._template_call(prompt, prompt_args))

    async def astream_structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> AsyncGenerator[Any, None]:
        with self._template_call(prompt, prompt_args):
            stream = await super().astream_structured_predict(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
        return astepwise(stream, lambda: self._template_call(prompt, prompt_args))

    # --- chat ----------------------------------------------------------------------------

    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        prompt = chat_prompt(messages, kwargs)
        if prompt is None:
            return self.llm.chat(messages, **kwargs)
        model = self._model()
        cached = self._responses.lookup(prompt, model, load_chat)
        if cached is not None:
            return cached
        response = self.llm.chat(messages, **kwargs)
        self._store(prompt, model, response)
        return response

    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        prompt = chat_prompt(messages, kwargs)
        if prompt is None:
            return await self.llm.achat(messages, **kwargs)
        model = self._model()
        cached = await self._responses.alookup(prompt, model, load_chat)
        if cached is not None:
            return cached
        response = await self.llm.achat(messages, **kwargs)
        await self._astore(prompt, model, response)
        return response

    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        prompt = chat_prompt(messages, kwargs)
        if prompt is None:
            return self.llm.stream_chat(messages, **kwargs)
        model = self._model()
        cached = self._responses.lookup(prompt, model, load_chat)
        if cached is not None:
            return replay(chat_chunk(cached))
        return self._tee(prompt, model, self.llm.stream_chat(messages, **kwargs))

    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        prompt = chat_prompt(messages, kwargs)
        if prompt is None:
            return await self.llm.astream_chat(messages, **kwargs)
        model = self._model()
        cached = await self._responses.alookup(prompt, model, load_chat)
        if cached is not None:
            return areplay(chat_chunk(cached))
        return self._atee(prompt, model, await self.llm.astream_chat(messages, **kwargs))

    # --- complete ------------------------------------------------------------------------

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        key = completion_prompt(prompt, formatted, kwargs)
        if key is None:
            return self.llm.complete(prompt, formatted=formatted, **kwargs)
        model = self._model()
        cached = self._responses.lookup(key, model, load_completion)
        if cached is not None:
            return cached
        response = self.llm.complete(prompt, formatted=formatted, **kwargs)
        self._store(key, model, response)
        return response

    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        key = completion_prompt(prompt, formatted, kwargs)
        if key is None:
            return await self.llm.acomplete(prompt, formatted=formatted, **kwargs)
        model = self._model()
        cached = await self._responses.alookup(key, model, load_completion)
        if cached is not None:
            return cached
        response = await self.llm.acomplete(prompt, formatted=formatted, **kwargs)
        await self._astore(key, model, response)
        return response

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        key = completion_prompt(prompt, formatted, kwargs)
        if key is None:
            return self.llm.stream_complete(prompt, formatted=formatted, **kwargs)
        model = self._model()
        cached = self._responses.lookup(key, model, load_completion)
        if cached is not None:
            return replay(completion_chunk(cached))
        stream = self.llm.stream_complete(prompt, formatted=formatted, **kwargs)
        return self._tee(key, model, stream)

    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        key = completion_prompt(prompt, formatted, kwargs)
        if key is None:
            return await self.llm.astream_complete(prompt, formatted=formatted, **kwargs)
        model = self._model()
        cached = await self._responses.alookup(key, model, load_completion)
        if cached is not None:
            return areplay(completion_chunk(cached))
        stream = await self.llm.astream_complete(prompt, formatted=formatted, **kwargs)
        return self._atee(key, model, stream)

    # --- storing -------------------------------------------------------------------------

    def _store(
        self, prompt: Prompt, model: str, response: ChatResponse | CompletionResponse
    ) -> None:
        blob = dump_response(response)
        if blob is not None:
            with answer_kept():
                self._responses.update(prompt, model, blob, self._usage(response))

    async def _astore(
        self, prompt: Prompt, model: str, response: ChatResponse | CompletionResponse
    ) -> None:
        blob = dump_response(response)
        if blob is not None:
            with answer_kept():
                await self._responses.aupdate(prompt, model, blob, self._usage(response))

    def _usage(self, response: ChatResponse | CompletionResponse) -> Usage:
        return response_usage(response, self.llm.metadata.model_name)

    def _tee(
        self, prompt: Prompt, model: str, stream: Iterator[Response]
    ) -> Generator[Response, None, None]:
        """Pass a wrapped stream through; store its last chunk (LlamaIndex streams carry
        the text so far in every chunk) once it has run to the end, not when abandoned."""
        last, deltas = None, []
        for last in stream:
            deltas.append(last.delta)
            yield last
        if last is not None:
            self._store(prompt, model, as_streamed(last, deltas))

    async def _atee(
        self, prompt: Prompt, model: str, stream: AsyncIterator[Response]
    ) -> AsyncGenerator[Response, None]:
        last, deltas = None, []
        async for last in stream:
            deltas.append(last.delta)
            yield last
        if last is not None:
            await self._astore(prompt, model, as_streamed(last, deltas))


# --- model identity ----------------------------------------------------------------------


def model_identity(llm: LLM) -> str:
    """A stable string naming ``llm`` and every setting that changes its answers:
    :func:`semcache_core.model_identity.describe` (its class, its fields less credentials
    and transport settings — a field without a JSON form is named by its type, the others
    still count — and its ``messages_to_prompt`` / ``completion_to_prompt`` functions by
    name, code and closure, so two lambdas from one factory differ) and its ``metadata``.
    """
    return json.dumps(
        {"model": describe(llm), "metadata": llm.metadata.model_dump(mode="json")},
        sort_keys=True,
    )
