"""CachedChatModel: invoke, stream and their async twins served from the cache.

The wrapped model is a small real ``BaseChatModel`` (``ScriptedChat``) that streams its
answer word by word, calls the bound tool when tools are bound, reports usage and
response metadata, and counts every call that reaches it: each test below counts those.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any
from uuid import UUID

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import BaseChatModel
from langchain_core.load.serializable import Serializable
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import ConfigurableField, Runnable, RunnableLambda
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, Field, PrivateAttr

from semcache_core import InvalidArgumentError
from semcache_core import SemCache as Engine
from semcache_integrations.langchain import CachedChatModel, SemCache

USAGE = {"input_tokens": 7, "output_tokens": 5, "total_tokens": 12}
METADATA = {"model_name": "scripted-1", "finish_reason": "stop"}


class ScriptedChat(BaseChatModel):
    """Answers ``"<reply> <question>"`` in chunks of ``chunk_words`` words; with tools
    bound, also calls the first tool with ``tool_args`` (its arguments in two chunks).
    ``fail_at``: raise when about to yield that chunk. ``calls`` counts what reached it."""

    reply: str = "The answer to"
    chunk_words: int = 1
    tool_args: dict[str, Any] = Field(default_factory=lambda: {"city": "Paris", "days": 3})
    fail_at: int | None = None
    streaming: bool = False
    calls: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"reply": self.reply}

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any
    ) -> Runnable[Any, AIMessage]:
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=[convert_to_openai_tool(tool) for tool in tools], **kwargs)

    def _chunks(self, messages: list[BaseMessage], **kwargs: Any) -> list[ChatGenerationChunk]:
        words = f"{self.reply} {messages[-1].text}".split(" ")
        pieces = [
            " ".join(words[i : i + self.chunk_words]) + " "
            for i in range(0, len(words), self.chunk_words)
        ]
        pieces[-1] = pieces[-1].rstrip()
        chunks = [ChatGenerationChunk(message=AIMessageChunk(content=p)) for p in pieces]
        if kwargs.get("tools"):
            name = kwargs["tools"][0]["function"]["name"]
            args = json.dumps(self.tool_args)
            half = len(args) // 2
            for part, extra in ((args[:half], {"name": name, "id": "call_1"}), (args[half:], {})):
                chunk = {"args": part, "index": 0, "type": "tool_call_chunk", **extra}
                chunks.append(
                    ChatGenerationChunk(
                        message=AIMessageChunk(content="", tool_call_chunks=[chunk])
                    )
                )
        chunks.append(
            ChatGenerationChunk(
                message=AIMessageChunk(
                    content="", usage_metadata=USAGE, response_metadata=METADATA
                ),
                generation_info={"system_fingerprint": "fp_1"},
            )
        )
        return chunks

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        self.calls.append("generate")
        chunk = merge(self._chunks(messages, **kwargs))
        return ChatResult(
            generations=[
                ChatGeneration(message=to_message(chunk), generation_info=chunk.generation_info)
            ]
        )

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        self.calls.append("stream")
        for index, chunk in enumerate(self._chunks(messages, **kwargs)):
            if index == self.fail_at:
                raise RuntimeError("the model failed mid-stream")
            yield chunk

    async def _astream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        self.calls.append("astream")
        for index, chunk in enumerate(self._chunks(messages, **kwargs)):
            await asyncio.sleep(0)
            if index == self.fail_at:
                raise RuntimeError("the model failed mid-stream")
            yield chunk


def merge(chunks: Sequence[ChatGenerationChunk | AIMessageChunk]) -> Any:
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return total


def to_message(chunk: ChatGenerationChunk) -> AIMessage:
    message = chunk.message
    return AIMessage(
        content=message.content,
        tool_calls=message.tool_calls,
        usage_metadata=message.usage_metadata,
        response_metadata=message.response_metadata,
    )


def texts(chunks: Sequence[AIMessageChunk]) -> list[str]:
    return [str(chunk.content) for chunk in chunks if chunk.content]


class Weather(BaseModel):
    """The weather forecast for a city."""

    city: str
    days: int


class Population(BaseModel):
    """The population of a city."""

    city: str


class TokenCollector(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.lock = threading.Lock()

    def on_llm_new_token(self, token: str, *, run_id: UUID, **kwargs: Any) -> None:
        with self.lock:
            self.tokens.append(token)


QUESTION = "What is the capital of France?"


@pytest.fixture
def model() -> ScriptedChat:
    return ScriptedChat()


@pytest.fixture
def chat(model: ScriptedChat) -> CachedChatModel:
    return CachedChatModel(model)


# --- hits and misses on every path ----------------------------------------------------


def test_stream_miss_passes_chunks_through_and_a_repeat_is_replayed(
    model: ScriptedChat, chat: CachedChatModel
) -> None:
    first = list(chat.stream(QUESTION))
    assert model.calls == ["stream"]
    second = list(chat.stream(QUESTION))
    assert model.calls == ["stream"]  # served from the cache
    assert (
        texts(second)
        == texts(first)
        == ["The ", "answer ", "to ", "What ", "is ", "the ", "capital ", "of ", "France?"]
    )
    whole, again = merge(first), merge(second)
    assert again.content == whole.content
    assert again.usage_metadata == whole.usage_metadata == USAGE
    assert again.response_metadata == whole.response_metadata
    assert whole.response_metadata == {**METADATA, "system_fingerprint": "fp_1"}
    assert chat.llm_cache.stats().updates == 1
    # a replay is a run of its own: its chunks carry its id, not the recorded run's
    assert len({chunk.id for chunk in second}) == 1
    assert not {chunk.id for chunk in second} & {chunk.id for chunk in first}


def test_invoke_miss_then_invoke_hit(model: ScriptedChat, chat: CachedChatModel) -> None:
    first = chat.invoke(QUESTION)
    second = chat.invoke(QUESTION)
    assert model.calls == ["generate"]
    assert second.content == first.content == "The answer to What is the capital of France?"
    assert second.usage_metadata == first.usage_metadata == USAGE
    assert second.response_metadata == first.response_metadata
    assert second.id != first.id  # each run gets its own id


async def test_async_paths_hit_what_the_sync_paths_stored(
    model: ScriptedChat, chat: CachedChatModel
) -> None:
    chat.invoke(QUESTION)
    streamed = [chunk async for chunk in chat.astream(QUESTION)]
    answered = await chat.ainvoke(QUESTION)
    assert model.calls == ["generate"]
    assert merge(streamed).content == answered.content


async def test_astream_miss_stores_and_sync_stream_replays_it(
    model: ScriptedChat, chat: CachedChatModel
) -> None:
    first = [chunk async for chunk in chat.astream(QUESTION)]
    second = list(chat.stream(QUESTION))
    assert model.calls == ["astream"]
    assert texts(second) == texts(first)


async def test_ainvoke_miss_then_hit(model: ScriptedChat, chat: CachedChatModel) -> None:
    first = await chat.ainvoke(QUESTION)
    second = await chat.ainvoke(QUESTION)
    assert len(model.calls) == 1
    assert second.content == first.content


def test_batch_consults_the_cache_for_each_input(
    model: ScriptedChat, chat: CachedChatModel
) -> None:
    chat.invoke("first question")
    answers = chat.batch(["first question", "second question"])
    assert [a.content for a in answers] == [
        "The answer to first question",
        "The answer to second question",
    ]
    assert len(model.calls) == 2  # the first question was a hit


def test_semantic_hit_is_replayed_as_a_stream(model: ScriptedChat) -> None:
    chat = CachedChatModel(model, cache=SemCache(threshold=0.9))
    first = list(chat.stream("How do I reset my password?"))
    second = list(chat.stream("how do I reset my password"))
    assert model.calls == ["stream"]
    assert merge(second).content == merge(first).content
    assert chat.llm_cache.stats().semantic_hits == 1


def test_many_threads_get_their_own_answers(model: ScriptedChat, chat: CachedChatModel) -> None:
    questions = [f"question number {i}" for i in range(8)]
    results: dict[str, str] = {}

    def ask(question: str) -> None:
        for _ in range(3):
            results[question] = str(merge(list(chat.stream(question))).content)

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {q: f"The answer to {q}" for q in questions}
    assert len(model.calls) == len(questions)  # each question streamed once, then replayed


# --- chunking of replays ------------------------------------------------------------


def test_replay_keeps_the_recorded_chunk_boundaries(model: ScriptedChat) -> None:
    model.chunk_words = 3
    chat = CachedChatModel(model)
    first = texts(list(chat.stream(QUESTION)))
    assert first == ["The answer to ", "What is the ", "capital of France?"]
    assert texts(list(chat.stream(QUESTION))) == first


@pytest.mark.parametrize("output_version", ["v0", "v1"])
async def test_a_replay_keeps_the_chunks_whatever_the_output_version(output_version: str) -> None:
    """With ``output_version="v1"`` LangChain's ``stream()`` turns each chunk's text into
    content blocks as it passes: the record keeps the model's own chunks."""
    from langchain_core.language_models import GenericFakeChatModel

    answer = AIMessage("Paris is the capital of France.")
    model = GenericFakeChatModel(messages=iter([answer, answer]), output_version=output_version)
    chat = CachedChatModel(model)
    first = [chunk.content for chunk in chat.stream("q") if chunk.content]
    assert len(first) > 5
    # the replay's last chunk carries the metadata alone (no content)
    assert [chunk.content for chunk in chat.stream("q") if chunk.content] == first
    assert [chunk.content async for chunk in chat.astream("q") if chunk.content] == first
    # stored as LangChain's cache path stores a streamed answer: "v1" blocks keep their index
    streamed = [{"type": "text", "text": answer.content, "index": 0}]
    assert chat.invoke("q").content == (answer.content if output_version == "v0" else streamed)


def test_an_answer_that_was_not_streamed_replays_in_words(
    model: ScriptedChat, chat: CachedChatModel
) -> None:
    model.chunk_words = 100
    chat.invoke(QUESTION)
    replayed = texts(list(chat.stream(QUESTION)))
    assert replayed == [
        "The",
        " answer",
        " to",
        " What",
        " is",
        " the",
        " capital",
        " of",
        " France?",
    ]
    assert model.calls == ["generate"]


def test_a_model_that_does_not_stream_passes_through_whole(model: ScriptedChat) -> None:
    model.disable_streaming = True
    chat = CachedChatModel(model)
    first = list(chat.stream(QUESTION))
    assert texts(first) == ["The answer to What is the capital of France?"]
    assert merge(first).usage_metadata == USAGE
    assert len(list(chat.stream(QUESTION))) > 2  # the hit is replayed in words
    assert model.calls == ["generate"]


# --- interrupted and failed streams store nothing ----------------------------------


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(stop_after=st.integers(min_value=0, max_value=10), close=st.booleans())
def test_a_stream_stopped_early_stores_nothing(stop_after: int, close: bool) -> None:
    model = ScriptedChat()
    chat = CachedChatModel(model)
    stream = chat.stream(QUESTION)
    for _ in range(stop_after):  # up to all 10 of the model's chunks: its stream never ended
        next(stream)
    if close:
        stream.close()
    del stream
    assert chat.llm_cache.stats().updates == 0
    list(chat.stream(QUESTION))
    # the next call reached the model (a stream never started never called it)
    assert model.calls == ["stream"] * (2 if stop_after else 1)


@settings(max_examples=25, deadline=None)
@given(fail_at=st.integers(min_value=0, max_value=9), use_async=st.booleans())
def test_a_failed_stream_stores_nothing(fail_at: int, use_async: bool) -> None:
    model = ScriptedChat(fail_at=fail_at)
    chat = CachedChatModel(model)

    async def consume() -> None:
        async for _ in chat.astream(QUESTION):
            pass

    with pytest.raises(RuntimeError, match="failed mid-stream"):
        if use_async:
            asyncio.run(consume())
        else:
            list(chat.stream(QUESTION))
    assert chat.llm_cache.stats().updates == 0
    model.fail_at = None
    list(chat.stream(QUESTION))
    assert len(model.calls) == 2
    assert chat.llm_cache.stats().updates == 1


@settings(max_examples=20, deadline=None)
@given(stop_after=st.integers(min_value=1, max_value=10), how=st.sampled_from(["break", "cancel"]))
def test_an_async_stream_stopped_early_stores_nothing(stop_after: int, how: str) -> None:
    model = ScriptedChat()
    chat = CachedChatModel(model)

    async def run() -> None:
        reached = asyncio.Event()

        async def consume() -> None:
            stream = chat.astream(QUESTION)
            got = 0
            try:
                async for _ in stream:
                    got += 1
                    if got == stop_after:
                        if how == "break":
                            break
                        reached.set()
                        await asyncio.Event().wait()  # cancelled here
            finally:
                await stream.aclose()

        task = asyncio.create_task(consume())
        if how == "break":
            await task
            return
        await reached.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert chat.llm_cache.stats().updates == 0
    list(chat.stream(QUESTION))
    assert model.calls == ["astream", "stream"]  # the next call reached the model


# --- callbacks and events on a hit ---------------------------------------------------


def test_callbacks_see_every_replayed_chunk(model: ScriptedChat, chat: CachedChatModel) -> None:
    list(chat.stream(QUESTION))
    collector = TokenCollector()
    replayed = list(chat.stream(QUESTION, config={"callbacks": [collector]}))
    assert collector.tokens == [str(chunk.content) for chunk in replayed]
    assert "".join(collector.tokens) == "The answer to What is the capital of France?"
    assert model.calls == ["stream"]


async def test_async_callbacks_see_every_replayed_chunk(
    model: ScriptedChat, chat: CachedChatModel
) -> None:
    await chat.ainvoke(QUESTION)
    collector = TokenCollector()
    replayed = [c async for c in chat.astream(QUESTION, config={"callbacks": [collector]})]
    assert collector.tokens == [str(chunk.content) for chunk in replayed]
    assert len(model.calls) == 1


def test_invoke_of_a_streaming_model_replays_tokens_to_callbacks() -> None:
    model = ScriptedChat(streaming=True)
    chat = CachedChatModel(model)  # follows the model's streaming=True
    chat.invoke(QUESTION)
    collector = TokenCollector()
    answer = chat.invoke(QUESTION, config={"callbacks": [collector]})
    assert "".join(collector.tokens) == answer.content
    assert len(collector.tokens) > 2
    assert model.calls == ["stream"]


async def test_astream_events_shows_stream_events_on_a_hit(
    model: ScriptedChat, chat: CachedChatModel
) -> None:
    chat.invoke(QUESTION)
    events = [event async for event in chat.astream_events(QUESTION, version="v2")]
    streamed = [e["data"]["chunk"].content for e in events if e["event"] == "on_chat_model_stream"]
    assert "".join(streamed) == "The answer to What is the capital of France?"
    assert len(streamed) > 2
    assert events[-1]["event"] == "on_chat_model_end"
    assert model.calls == ["generate"]


async def test_a_chain_streams_events_from_a_hit(
    model: ScriptedChat, chat: CachedChatModel
) -> None:
    chain = ChatPromptTemplate.from_messages([("human", "{question}")]) | chat
    await chain.ainvoke({"question": QUESTION})
    events = [e async for e in chain.astream_events({"question": QUESTION}, version="v2")]
    streamed = [e["data"]["chunk"].content for e in events if e["event"] == "on_chat_model_stream"]
    assert "".join(streamed) == "The answer to What is the capital of France?"
    assert len(streamed) > 2
    assert len(model.calls) == 1


# --- tools, usage and metadata round-trip; tools are part of the scope ------------------


def test_tool_calls_usage_and_metadata_round_trip(
    model: ScriptedChat, chat: CachedChatModel
) -> None:
    with_tools = chat.bind_tools([Weather])
    first = merge(list(with_tools.stream(QUESTION)))
    second = merge(list(with_tools.stream(QUESTION)))
    invoked = with_tools.invoke(QUESTION)
    assert model.calls == ["stream"]
    expected = [
        {
            "name": "Weather",
            "args": {"city": "Paris", "days": 3},
            "id": "call_1",
            "type": "tool_call",
        }
    ]
    assert first.tool_calls == second.tool_calls == invoked.tool_calls == expected
    assert first.usage_metadata == second.usage_metadata == invoked.usage_metadata == USAGE
    assert second.response_metadata == first.response_metadata
    assert invoked.response_metadata == first.response_metadata


def test_bound_tools_are_part_of_the_scope(model: ScriptedChat, chat: CachedChatModel) -> None:
    plain = chat.invoke(QUESTION)
    weather = chat.bind_tools([Weather]).invoke(QUESTION)
    assert len(model.calls) == 2  # a tools-bound call never gets the plain call's answer
    assert plain.tool_calls == [] and weather.tool_calls[0]["name"] == "Weather"
    population = chat.bind_tools([Population]).invoke(QUESTION)
    assert len(model.calls) == 3  # other tools, another scope
    assert population.tool_calls[0]["name"] == "Population"
    assert chat.bind_tools([Weather]).invoke(QUESTION).tool_calls == weather.tool_calls
    assert chat.invoke(QUESTION).tool_calls == []  # and the plain call never gets a tool call
    assert len(model.calls) == 3
    assert chat.bind_tools([Weather], tool_choice="Weather").invoke(QUESTION).tool_calls
    assert len(model.calls) == 4  # tool_choice is part of the scope too


def test_with_structured_output_is_served_from_the_cache(
    model: ScriptedChat, chat: CachedChatModel
) -> None:
    structured = chat.with_structured_output(Weather)
    first = structured.invoke(QUESTION)
    second = structured.invoke(QUESTION)
    assert first == second == Weather(city="Paris", days=3)
    assert len(model.calls) == 1
    raw = chat.with_structured_output(Weather, include_raw=True).invoke(QUESTION)
    assert raw["parsed"] == first and len(model.calls) == 1


def test_with_structured_output_refuses_provider_methods(chat: CachedChatModel) -> None:
    with pytest.raises(InvalidArgumentError, match="json_schema"):
        chat.with_structured_output(Weather, method="json_schema")


class ChainedToolsChat(ScriptedChat):
    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, AIMessage]:
        return super().bind_tools(tools, **kwargs) | RunnableLambda(lambda message: message)


def test_bind_tools_that_do_not_bind_the_model_are_refused() -> None:
    chat = CachedChatModel(ChainedToolsChat())
    with pytest.raises(InvalidArgumentError, match="not a binding of the model"):
        chat.bind_tools([Weather])


def test_bind_tools_needs_a_model_with_tools() -> None:
    from langchain_core.language_models import FakeListChatModel

    chat = CachedChatModel(FakeListChatModel(responses=["x"]))
    with pytest.raises(NotImplementedError):
        chat.bind_tools([Weather])


# --- the key is LangChain's own: interplay with set_llm_cache ------------------------


@pytest.fixture
def global_cache() -> Iterator[SemCache]:
    cache = SemCache()
    set_llm_cache(cache)
    yield cache
    set_llm_cache(None)


def test_answers_cached_by_plain_invoke_are_replayed(
    model: ScriptedChat, global_cache: SemCache
) -> None:
    plain = model.invoke(QUESTION)  # LangChain's own cache path stores it
    assert model.calls == ["generate"]
    chat = CachedChatModel(model, cache=global_cache)
    replayed = list(chat.stream(QUESTION))
    assert model.calls == ["generate"]
    assert merge(replayed).content == plain.content
    assert merge(replayed).usage_metadata == USAGE  # as LangChain stored it


def test_an_answer_langchain_stored_gets_this_runs_id_on_every_hit(
    model: ScriptedChat, global_cache: SemCache
) -> None:
    """Found by review: LangChain's cache path stores the message with its run's id
    (``lc_run--<run>-0``), and every hit served that first run's id, so two runs returned
    messages with one id (same-id messages replace each other in LangGraph)."""
    first = model.invoke(QUESTION)
    assert first.id is not None and first.id.startswith("lc_run--")
    chat = CachedChatModel(model, cache=global_cache)
    invoked = chat.invoke(QUESTION)
    streamed = {chunk.id for chunk in chat.stream(QUESTION)}
    assert model.calls == ["generate"]
    ids = {first.id, invoked.id, *streamed}
    assert len(ids) == 3 and all(i is not None and i.startswith("lc_run--") for i in ids)


def test_answers_streamed_here_serve_plain_invoke(
    model: ScriptedChat, global_cache: SemCache
) -> None:
    chat = CachedChatModel(model, cache=global_cache)
    streamed = merge(list(chat.bind_tools([Weather]).stream(QUESTION)))
    answer = model.bind_tools([Weather]).invoke(QUESTION)
    assert model.calls == ["stream"]
    assert answer.content == streamed.content
    assert answer.tool_calls == streamed.tool_calls
    assert answer.response_metadata == streamed.response_metadata


def test_a_global_cache_stores_no_second_copy(model: ScriptedChat, global_cache: SemCache) -> None:
    own = SemCache()
    chat = CachedChatModel(model, cache=own)
    list(chat.stream(QUESTION))
    chat.invoke("another question")
    assert own.stats().updates == 2
    assert global_cache.stats().updates == 0
    assert global_cache.stats().misses == 0  # not even consulted


# --- arguments -----------------------------------------------------------------------


def test_bad_arguments_raise_typed_errors(model: ScriptedChat) -> None:
    with pytest.raises(InvalidArgumentError, match="BaseChatModel; got str"):
        CachedChatModel("gpt-4o")
    with pytest.raises(InvalidArgumentError, match="bind after wrapping"):
        CachedChatModel(model.bind_tools([Weather]))
    with pytest.raises(InvalidArgumentError) as raised:
        CachedChatModel(model, cache=Engine())  # the engine, not the LangChain cache
    message = str(raised.value)  # both classes are called SemCache: the paths tell them apart
    assert "takes a semcache_integrations.langchain.SemCache" in message
    assert "got semcache_core.cache.SemCache" in message
    assert "SemCache(cache=engine)" in message
    assert CachedChatModel(model=model).llm_cache.stats().updates == 0
    mine = SemCache()
    assert CachedChatModel(model, llm_cache=mine).llm_cache is mine  # the field's name too
    with pytest.raises(InvalidArgumentError, match="not both"):
        CachedChatModel(model, cache=mine, llm_cache=SemCache())


def test_the_models_callbacks_and_tags_carry_over() -> None:
    collector = TokenCollector()
    model = ScriptedChat(callbacks=[collector], tags=["scripted"])
    chat = CachedChatModel(model)
    assert chat.tags == ["scripted"]
    list(chat.stream(QUESTION))
    list(chat.stream(QUESTION))
    assert "".join(collector.tokens) == 2 * "The answer to What is the capital of France?"


def test_a_model_rebuilt_from_its_fields_keeps_its_cache() -> None:
    """``configurable_fields`` rebuilds the model as ``cls(**fields, **configured)``:
    ``cache=False`` (BaseChatModel's own field) comes back beside ``llm_cache``."""
    model = ScriptedChat()
    chat = CachedChatModel(model)
    configurable = chat.configurable_fields(tags=ConfigurableField(id="tags"))
    config: Any = {"configurable": {"tags": ["configured"]}}
    first = configurable.invoke(QUESTION, config=config)
    again = configurable.invoke(QUESTION, config=config)
    assert first.content == again.content == f"The answer to {QUESTION}"
    assert model.calls == ["generate"]  # the rebuilt model shares the cache: a hit
    rebuilt = CachedChatModel(**{name: getattr(chat, name) for name in type(chat).model_fields})
    assert rebuilt.llm_cache is chat.llm_cache


class ProviderLikeChat(BaseChatModel):
    """Serialisable, as provider models are (LangChain then keys a model by its
    ``dumpd``, which langchain-core caches on the instance at first use)."""

    model_name: str = "small"
    temperature: float = 0.0
    _calls: list[str] = PrivateAttr(default_factory=list)

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @property
    def _llm_type(self) -> str:
        return "provider-like"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        self._calls.append(messages[-1].text)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self._answer()))])

    def _answer(self) -> str:
        return f"{self.model_name} at {self.temperature}"


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["small", "large"]), st.sampled_from([0.0, 0.5, 1.0]),
                  st.booleans()),
        min_size=1, max_size=8,
    )
)  # fmt: skip
def test_a_changed_or_copied_model_is_never_served_another_settings_answer(
    steps: list[tuple[str, float, bool]],
) -> None:
    """Each step changes the model in place, or wraps a ``model_copy(update=...)`` of it,
    on one shared cache: every answer is of the settings asked, and each settings'
    first question is the only one the model answers (a repeat is a hit)."""
    cache = SemCache()
    model = ProviderLikeChat()
    CachedChatModel(model, cache=cache).invoke(QUESTION)  # its dumpd now cached
    asked = {("small", 0.0)}
    calls = 1
    for name, temperature, copy in steps:
        if copy:
            model = model.model_copy(update={"model_name": name, "temperature": temperature})
            calls = len(model._calls)  # the copy shares the original's private list
        else:
            model.model_name, model.temperature = name, temperature
        answer = CachedChatModel(model, cache=cache).invoke(QUESTION)
        assert answer.content == f"{name} at {temperature}"
        calls += (name, temperature) not in asked
        asked.add((name, temperature))
        assert len(model._calls) == calls


class KwargsChat(ProviderLikeChat):
    """A provider-like model whose answer names its ``model_kwargs``."""

    model_kwargs: dict[str, Any] = Field(default_factory=dict)

    def _answer(self) -> str:
        return f"{self.model_name} with {sorted(self.model_kwargs.items())}"


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["top_p", "seed"]), st.sampled_from([1, 2])),
                min_size=1, max_size=6))  # fmt: skip
def test_a_setting_changed_in_place_is_never_served_the_old_settings_answer(
    changes: list[tuple[str, int]],
) -> None:
    """``model.model_kwargs[name] = value`` leaves the same dict object: the wrapper keeps
    a copy of such fields, so the key follows the change (before, the cached ``dumpd``
    kept the old settings and served their answer)."""
    model = KwargsChat(model_kwargs={"top_p": 0})
    chat = CachedChatModel(model, cache=SemCache())
    asked = {(("top_p", 0),)}
    assert chat.invoke(QUESTION).content == "small with [('top_p', 0)]"
    for name, value in changes:
        model.model_kwargs[name] = value
        settings_now = tuple(sorted(model.model_kwargs.items()))
        assert chat.invoke(QUESTION).content == f"small with {list(settings_now)}"
        asked.add(settings_now)
        assert len(model._calls) == len(asked)  # a repeat of settings is a hit


class GenerationConfig(Serializable):
    """A serialisable settings object a model holds (its ``dumpd`` describes it)."""

    temperature: float = 0.0

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True


class ConfiguredChat(ProviderLikeChat):
    """A provider-like model whose settings live in a nested serialisable object."""

    config: GenerationConfig = Field(default_factory=GenerationConfig)

    def _answer(self) -> str:
        return f"{self.model_name} at {self.config.temperature}"


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from([0.0, 0.5, 1.5]), min_size=1, max_size=6))
def test_a_nested_setting_changed_in_place_is_never_served_the_old_answer(
    temperatures: list[float],
) -> None:
    """``model.config.temperature = 1.5`` leaves the same config object: the wrapper keeps
    a serialisable field as its fields (before, it kept the object, equal to itself, and
    served the answer of the old temperature, found by review)."""
    model = ConfiguredChat()
    chat = CachedChatModel(model, cache=SemCache())
    assert chat.invoke(QUESTION).content == "small at 0.0"
    asked = {0.0}
    for temperature in temperatures:
        model.config.temperature = temperature
        assert chat.invoke(QUESTION).content == f"small at {temperature}"
        asked.add(temperature)
        assert len(model._calls) == len(asked)  # a repeat of settings is a hit


def test_a_model_field_without_a_boolean_equality_does_not_break_the_key() -> None:
    """The model's fields are compared with the last seen to tell a changed model: a
    numpy array's ``==`` gives an array, whose truth raises; the model counts as
    changed, and the call goes on."""
    model = ProviderLikeChat()
    object.__setattr__(model, "bias", np.zeros(3))  # as a custom model's array field
    chat = CachedChatModel(model)
    assert chat.invoke(QUESTION).content == "small at 0.0"
    object.__setattr__(model, "bias", np.ones(3))
    model.temperature = 0.5
    assert chat.invoke(QUESTION).content == "small at 0.5"
    assert chat.invoke(QUESTION).content == "small at 0.5"
    assert len(model._calls) == 2
