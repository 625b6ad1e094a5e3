"""A chat model whose every call — streamed or not — is served from the cache when it can.

LangChain consults its LLM cache in ``invoke`` but never in ``stream`` / ``astream``
(langchain #13119, #23701, #9762), so streaming apps get no caching. ``CachedChatModel``
wraps any chat model and consults a :class:`~semcache_integrations.langchain.SemCache` on
all paths.

Example::

    from semcache_integrations.langchain import CachedChatModel, SemCache

    chat = CachedChatModel(ChatOpenAI(model="gpt-4o-mini"), cache=SemCache(embedding=minilm))
    for chunk in chat.stream("What is the capital of France?"):    # miss: from the model
        print(chunk.content, end="")
    for chunk in chat.stream("What's the capital of France?"):     # hit (MiniLM: 0.99)
        print(chunk.content, end="")
    chat.bind_tools([get_weather]).invoke("Weather in Paris?")     # its own cache scope
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.load import dumps
from langchain_core.load.serializable import Serializable
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableBinding
from langchain_core.tools import BaseTool
from pydantic import BaseModel, PrivateAttr

from semcache_core import SemCache as EngineCache
from semcache_core.checks import check_keywords
from semcache_core.errors import InvalidArgumentError, shown

from .chat_replay import recorded_generation, replay_chunks, served, stored_generations
from .llm_cache import SemCache

__all__ = ["CachedChatModel"]


class CachedChatModel(BaseChatModel):
    """A ``BaseChatModel`` that answers from a :class:`SemCache` before asking ``model``.

    Example::

        chat = CachedChatModel(ChatOpenAI(model="gpt-4o-mini"))  # a new SemCache()
        chat = CachedChatModel(model, cache=SemCache(embedding=minilm, threshold=0.9))
        async for chunk in chat.astream("Is the museum open on Monday?"):
            ...

    ``invoke``, ``ainvoke``, ``batch``, ``stream``, ``astream`` and ``astream_events`` all
    consult the cache (exact hits, then semantic hits as the cache decides):

    - **Hit**: streamed calls replay the answer as chunks (callbacks' ``on_llm_new_token``
      and ``on_chat_model_stream`` events fire for each); an answer that was streamed
      replays in its recorded text chunks, any other in word-sized ones; tool calls, usage
      and response metadata arrive in the final chunk (details in ``chat_replay``).
      ``model`` is not called.
    - **Miss**: the call goes to ``model``; a stream passes its chunks through as they come
      and stores the answer once, when the stream completes. A stream that fails, or that
      the consumer stops early (``break``, ``close()``, task cancelled), stores nothing.
    - **Scope**: the cache key is LangChain's own — ``prompt`` is ``dumps`` of the messages
      (ids cleared), ``llm_string`` is ``model._get_llm_string(stop=..., **kwargs)`` with
      the call's and the binding's keyword arguments. Bound tools are among those, so
      ``bind_tools`` / ``with_structured_output`` calls have their own scope per tool set,
      and never share answers with plain calls.

    Interplay with ``set_llm_cache``: an answer cached here is stored as LangChain's own
    cache path stores it (its content in the model's ``output_version``: what that path
    serves, as stored, under the same key), so a ``SemCache`` given both here and to
    ``set_llm_cache`` serves each side's answers to the other (``model.invoke`` gets an
    answer first streamed here; ``chat.stream`` replays an answer first cached by
    ``model.invoke``). The wrapped model is called through its generation methods, below
    LangChain's cache layer, and this model's own ``cache`` is off, so a global LLM cache
    never stores a second copy.

    ``model``'s callbacks, tags, metadata, ``output_version``, ``profile`` and
    ``streaming`` carry over (pass them here to override); token counting
    (``get_num_tokens_from_messages``, ``get_num_tokens``, ``get_token_ids``) is the
    model's; its rate limiter is applied to misses only. A hit's ``usage_metadata`` is the
    cached answer's, as stored (LangChain's own cache path adds ``"total_cost": 0`` to it
    on a hit; this class does not alter it). Concurrent misses on one prompt each call the
    model (no single flight); the last to complete is kept.

    Args:
        model: the chat model to call on a miss.
        cache: the LangChain :class:`SemCache` to consult (not the engine: to use one, a
            durable or Redis-backed ``semcache_core.SemCache``, pass
            ``SemCache(cache=engine)``); a new in-process ``SemCache()`` when ``None``.

    Raises:
        InvalidArgumentError: ``model`` is not a LangChain chat model, or ``cache`` is not
            a :class:`semcache_integrations.langchain.SemCache`.
    """

    model: BaseChatModel
    """The chat model called on a miss."""
    llm_cache: SemCache
    """The cache consulted on every call."""
    streaming: bool = False
    """Stream from the model (and replay hits as chunks) inside ``invoke`` too, so that
    callbacks see tokens; follows ``model.streaming`` unless given."""
    _model_fields: dict[str, Any] | None = PrivateAttr(default=None)
    _model_serialised: Any = PrivateAttr(default=None)

    def __init__(self, model: Any = None, cache: Any = None, **kwargs: Any) -> None:
        if not isinstance(model, BaseChatModel):
            hint = ""
            if isinstance(model, Runnable):
                hint = " (bind after wrapping: CachedChatModel(model).bind_tools(...))"
            raise InvalidArgumentError(
                f"CachedChatModel wraps a LangChain BaseChatModel; got {type(model).__name__}"
                + hint
            )
        # BaseChatModel drops names it does not know: a misspelt cache= would go unnoticed
        check_keywords("CachedChatModel", kwargs, set(type(self).model_fields) - {"model", "cache"})
        if "llm_cache" in kwargs:  # the field's own name: the same cache, not one to drop
            # cache=False with it: this model rebuilt from its fields (configurable_fields),
            # BaseChatModel's own cache field among them, as __init__ set it
            if cache is not None and cache is not False:
                raise InvalidArgumentError(
                    "CachedChatModel takes its cache once: cache=... or llm_cache=..., not both"
                )
            cache = kwargs.pop("llm_cache")
        if cache is None:
            cache = SemCache()
        elif not isinstance(cache, SemCache):
            kind = type(cache)
            hint = ""
            if isinstance(cache, EngineCache):  # every other adapter takes the engine itself
                hint = " (the engine: wrap it, cache=SemCache(cache=engine))"
            raise InvalidArgumentError(
                "CachedChatModel(cache=...) takes a semcache_integrations.langchain.SemCache "
                f"or None; got {kind.__module__}.{kind.__qualname__}{hint}"
            )
        for name in ("callbacks", "tags", "metadata", "output_version", "profile"):
            if name in BaseChatModel.model_fields:  # profile: langchain-core 1.1 and later
                kwargs.setdefault(name, getattr(model, name))
        if getattr(model, "streaming", None) is True:
            kwargs.setdefault("streaming", True)
        # LangChain's own cache off: this class does the caching, once.
        fields: dict[str, Any] = {**kwargs, "model": model, "llm_cache": cache, "cache": False}
        super().__init__(**fields)

    @property
    def _llm_type(self) -> str:
        return f"semcache-cached-{self.model._llm_type}"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return dict(self.model._identifying_params)

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        return self.model._get_ls_params(stop=stop, **kwargs)

    # --- token counting: the model's own tokenizer -----------------------------------

    def get_token_ids(self, text: str) -> list[int]:
        """``model.get_token_ids``."""
        return self.model.get_token_ids(text)

    def get_num_tokens(self, text: str) -> int:
        """``model.get_num_tokens``."""
        return self.model.get_num_tokens(text)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """``model.get_num_tokens_from_messages`` (``tools`` passed on when given)."""
        if tools is None:  # a model's override may predate the tools argument
            return self.model.get_num_tokens_from_messages(messages)
        return self.model.get_num_tokens_from_messages(messages, tools=tools)

    # --- tools and structured output -------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """``model.bind_tools``, bound to this model instead: the model formats the tools,
        and the cache sees them in every call's ``llm_string``.

        Raises:
            NotImplementedError: ``model`` does not support tools.
            InvalidArgumentError: ``model.bind_tools`` returned something other than a
                binding of ``model`` (nothing this wrapper could re-bind).
        """
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        bound = self.model.bind_tools(tools, **kwargs)
        if not isinstance(bound, RunnableBinding) or bound.bound is not self.model:
            raise InvalidArgumentError(
                f"{type(self.model).__name__}.bind_tools returned {type(bound).__name__}, "
                "not a binding of the model; CachedChatModel cannot bind its tools"
            )
        binding = self.bind(**bound.kwargs)
        return binding.with_config(bound.config) if bound.config else binding

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Structured output through tool calling (LangChain's generic implementation over
        :meth:`bind_tools`), so it is cached like any tools-bound call.

        Raises:
            InvalidArgumentError: a ``method`` other than ``"function_calling"``: a
                provider's own methods (``json_schema``, ``json_mode``) bind the provider
                model, which this wrapper cannot cache.
        """
        method = kwargs.get("method", "function_calling")
        if method != "function_calling":
            raise InvalidArgumentError(
                f"CachedChatModel.with_structured_output supports method='function_calling' "
                f"(tool calling) only; got method={shown(method)}"
            )
        return super().with_structured_output(schema, include_raw=include_raw, **kwargs)

    # --- the four generation paths LangChain drives ----------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        prompt, llm_string = self._key(messages, stop, kwargs)
        cached = self.llm_cache._lookup_recorded(prompt, llm_string)
        if cached:
            return ChatResult(generations=[served(generation) for generation in cached])
        if self.model.rate_limiter:
            self.model.rate_limiter.acquire(blocking=True)
        result = self._model_generate(messages, stop, run_manager, kwargs)
        generations = stored_generations(result, self.model.output_version)
        self.llm_cache.update(prompt, llm_string, generations)
        return ChatResult(generations=generations, llm_output=result.llm_output)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        prompt, llm_string = self._key(messages, stop, kwargs)
        cached = await self.llm_cache._alookup_recorded(prompt, llm_string)
        if cached:
            return ChatResult(generations=[served(generation) for generation in cached])
        if self.model.rate_limiter:
            await self.model.rate_limiter.aacquire(blocking=True)
        result = await self._amodel_generate(messages, stop, run_manager, kwargs)
        generations = stored_generations(result, self.model.output_version)
        await self.llm_cache.aupdate(prompt, llm_string, generations)
        return ChatResult(generations=generations, llm_output=result.llm_output)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        prompt, llm_string = self._key(messages, stop, kwargs)
        cached = self.llm_cache._lookup_recorded(prompt, llm_string)
        if cached:
            yield from replay_chunks(cached[0])
            return
        if self.model.rate_limiter:
            self.model.rate_limiter.acquire(blocking=True)
        if not self.model._should_stream(async_api=False, **{**kwargs, "stream": True}):
            # A model that does not stream answers whole: stored as soon as it has.
            generations = stored_generations(
                self._model_generate(messages, stop, run_manager, kwargs),
                self.model.output_version,
            )
            self.llm_cache.update(prompt, llm_string, generations)
            yield from replay_chunks(generations[0], whole=True)
            return
        chunks: list[ChatGenerationChunk] = []
        source = self.model._stream(messages, stop=stop, **kwargs)
        try:
            for chunk in source:
                chunks.append(_kept(chunk))
                yield chunk
        finally:  # also on close(): the model's stream ends with ours
            close = getattr(source, "close", None)
            if close is not None:
                close()
        # Only a stream that ran to its end gets here: an early stop raised above.
        if chunks:
            recorded = recorded_generation(chunks, self.model.output_version)
            self.llm_cache.update(prompt, llm_string, [recorded])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        prompt, llm_string = self._key(messages, stop, kwargs)
        cached = await self.llm_cache._alookup_recorded(prompt, llm_string)
        if cached:
            for chunk in replay_chunks(cached[0]):
                yield chunk
            return
        if self.model.rate_limiter:
            await self.model.rate_limiter.aacquire(blocking=True)
        if not self.model._should_stream(async_api=True, **{**kwargs, "stream": True}):
            generations = stored_generations(
                await self._amodel_generate(messages, stop, run_manager, kwargs),
                self.model.output_version,
            )
            await self.llm_cache.aupdate(prompt, llm_string, generations)
            for chunk in replay_chunks(generations[0], whole=True):
                yield chunk
            return
        chunks: list[ChatGenerationChunk] = []
        source = self.model._astream(messages, stop=stop, **kwargs)
        try:
            async for chunk in source:
                chunks.append(_kept(chunk))
                yield chunk
        finally:  # also on aclose() and cancellation
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()
        if chunks:
            recorded = recorded_generation(chunks, self.model.output_version)
            await self.llm_cache.aupdate(prompt, llm_string, [recorded])

    # --- helpers ---------------------------------------------------------------------

    def _key(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> tuple[str, str]:
        """``(prompt, llm_string)`` exactly as LangChain's cache path builds them."""
        normalised = [
            message.model_copy(update={"id": None}) if message.id is not None else message
            for message in messages
        ]
        self._forget_stale_serialisation()
        llm_string = self.model._get_llm_string(stop=stop, **kwargs)
        # the dumpd that llm_string was made of, made or checked here
        self._model_serialised = vars(self.model).get("_serialized")
        return dumps(normalised), llm_string

    def _forget_stale_serialisation(self) -> None:
        """langchain-core keeps a serialisable model's ``dumpd`` (what its ``llm_string``
        is made of) in a property cached at first use: a model changed since
        (``model.temperature = 1.0``), or a ``model_copy(update=...)`` of it, would key its
        answers as the model it was, and be served that model's. The cached ``dumpd`` is
        kept only when the model's fields are those this wrapper last saw (the same
        objects, or equal ones) *and* it is the very ``dumpd`` this wrapper made or kept
        then; otherwise it is dropped, to be made again from the model as it is (a new
        ``dumpd`` on every call would cost a hit about 80 us). A ``dumpd`` made by someone
        else (another wrapper of the model, while the model had other settings that it
        has since changed back) describes the model as it was then, not as it is. A
        field that is a dict, list, tuple or set is kept as a copy, and a serialisable
        object as its fields, so that one changed in place
        (``model.model_kwargs["top_p"] = 0.5``, ``model.config.temperature = 1.5``) counts
        as changed too."""
        fields = vars(self.model)
        now = {name: _kept_value(value) for name, value in fields.items() if name != "_serialized"}
        try:
            unchanged = now == self._model_fields
        except Exception:  # a field whose == gives no bool (a numpy array): changed
            unchanged = False
        cached = fields.get("_serialized")
        if not unchanged or (cached is not None and cached is not self._model_serialised):
            fields.pop("_serialized", None)
            self._model_fields = now

    def _model_generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> ChatResult:
        if run_manager is not None and _takes_run_manager(self.model._generate):
            return self.model._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
        return self.model._generate(messages, stop=stop, **kwargs)

    async def _amodel_generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> ChatResult:
        if run_manager is not None and _takes_run_manager(self.model._agenerate):
            return await self.model._agenerate(
                messages, stop=stop, run_manager=run_manager, **kwargs
            )
        return await self.model._agenerate(messages, stop=stop, **kwargs)


def _kept_value(value: Any, depth: int = 0) -> Any:
    """``value`` with every dict, list, tuple and set in it copied, and every serialisable
    object in it (a nested config: ``dumpd`` describes it too) kept as its type and fields,
    down to 8 levels; anything else, such as a client object, is kept as it is, never
    deep-copied."""
    if depth == 8:
        return value
    if isinstance(value, Serializable):  # changed in place: model.config.temperature = 1.5
        fields = vars(value).items()
        return type(value), {k: _kept_value(v, depth + 1) for k, v in fields if k != "_serialized"}
    if isinstance(value, dict):
        return {key: _kept_value(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):  # compared with another copy: a list is enough
        return [_kept_value(item, depth + 1) for item in value]
    if isinstance(value, (set, frozenset)):
        return set(value)
    return value


def _takes_run_manager(method: Callable[..., Any]) -> bool:
    return "run_manager" in inspect.signature(method).parameters


def _kept(chunk: ChatGenerationChunk) -> ChatGenerationChunk:
    """A chunk as the model streamed it, for the record: LangChain's ``stream()`` replaces
    the ``message`` of the chunk it is handed (``output_version="v1"`` turns its text into
    content blocks), and the stored answer keeps the model's own text and chunk lengths."""
    return ChatGenerationChunk(message=chunk.message, generation_info=chunk.generation_info)
