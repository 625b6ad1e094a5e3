"""Defects found by review of CachedChatModel and the LangChain cache, each pinned by a test.

The models are small real ``BaseChatModel`` subclasses (``Scripted`` streams its answer
word by word and calls the bound tool; ``Tempered`` is serialisable, as provider models
are) or langchain-core's fakes; the cache is the real ``SemCache``, shared with
``set_llm_cache`` where LangChain's own cache path is under test.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import BaseChatModel, FakeListChatModel
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult, LLMResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, Field, PrivateAttr

from semcache_integrations.langchain import CachedChatModel, SemCache
from semcache_integrations.langchain.chat_replay import CHUNKS_KEY
from semcache_integrations.langchain.llm_cache import split_prompt

QUESTION = "What is the capital of France?"
USAGE = {"input_tokens": 7, "output_tokens": 5, "total_tokens": 12}


class Scripted(BaseChatModel):
    """Answers ``"The answer to <question>"`` a word a chunk; with tools bound, also calls
    the first tool (its arguments in two chunks); usage and metadata in the last chunk.
    ``calls`` counts what reached it."""

    streaming: bool = False
    calls: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted-review"

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any
    ) -> Runnable[Any, AIMessage]:
        return self.bind(tools=[convert_to_openai_tool(tool) for tool in tools], **kwargs)

    def _chunks(self, messages: list[BaseMessage], **kwargs: Any) -> list[ChatGenerationChunk]:
        words = f"The answer to {messages[-1].text}".split(" ")
        pieces = [word + " " for word in words[:-1]] + words[-1:]
        chunks = [ChatGenerationChunk(message=AIMessageChunk(content=p)) for p in pieces]
        if kwargs.get("tools"):
            name = kwargs["tools"][0]["function"]["name"]
            args = json.dumps({"city": "Paris", "days": 3})
            for part, extra in ((args[:9], {"name": name, "id": "call_1"}), (args[9:], {})):
                chunk = {"args": part, "index": 0, "type": "tool_call_chunk", **extra}
                message = AIMessageChunk(content="", tool_call_chunks=[chunk])
                chunks.append(ChatGenerationChunk(message=message))
        last = AIMessageChunk(
            content="", usage_metadata=USAGE, response_metadata={"model_name": "scripted-1"}
        )
        chunks.append(
            ChatGenerationChunk(message=last, generation_info={"system_fingerprint": "fp_1"})
        )
        return chunks

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        self.calls.append("generate")
        total = merge(self._chunks(messages, **kwargs))
        message = AIMessage(
            content=total.message.content,
            tool_calls=total.message.tool_calls,
            usage_metadata=total.message.usage_metadata,
            response_metadata=total.message.response_metadata,
        )
        generation = ChatGeneration(message=message, generation_info=total.generation_info)
        return ChatResult(generations=[generation])

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        self.calls.append("stream")
        yield from self._chunks(messages, **kwargs)

    async def _astream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        self.calls.append("astream")
        for chunk in self._chunks(messages, **kwargs):
            await asyncio.sleep(0)
            yield chunk


class Weather(BaseModel):
    """The weather forecast for a city."""

    city: str
    days: int


def merge(chunks: Sequence[Any]) -> Any:
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return total


@pytest.fixture
def shared() -> Iterator[SemCache]:
    """One cache for CachedChatModel and for LangChain's own cache path."""
    cache = SemCache()
    set_llm_cache(cache)
    yield cache
    set_llm_cache(None)


# --- 1. a model's cached dumpd, rebuilt by another wrapper -----------------------------


class Tempered(BaseChatModel):
    """Serialisable (LangChain keys it by its ``dumpd``, cached on the instance)."""

    temperature: float = 0.0
    _calls: list[float] = PrivateAttr(default_factory=list)

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @property
    def _llm_type(self) -> str:
        return "tempered"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        self._calls.append(self.temperature)
        answer = AIMessage(f"answer at temperature {self.temperature}")
        return ChatResult(generations=[ChatGeneration(message=answer)])


def test_a_setting_changed_back_is_not_served_another_wrappers_answer() -> None:
    """Found by review: wrapper ``a`` trusted the model's cached ``dumpd`` because the
    model's fields were again those ``a`` last saw, but wrapper ``b`` had rebuilt it while
    the temperature was 1.0: ``a`` keyed and was served the 1.0 answer."""
    model = Tempered()
    cache = SemCache()
    a, b = CachedChatModel(model, cache=cache), CachedChatModel(model, cache=cache)
    assert a.invoke(QUESTION).content == "answer at temperature 0.0"
    model.temperature = 1.0
    assert b.invoke(QUESTION).content == "answer at temperature 1.0"
    model.temperature = 0.0
    assert a.invoke(QUESTION).content == "answer at temperature 0.0"
    assert model._calls == [0.0, 1.0]  # the last was a hit, on the 0.0 answer
    assert '"temperature": 1.0' not in model._get_llm_string()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.sampled_from([0.0, 0.5, 1.0])), max_size=10))
def test_any_wrapper_of_a_model_gets_the_answer_of_its_settings_now(
    steps: list[tuple[int, float]],
) -> None:
    """Three wrappers of one model on one cache, the model's temperature set before each
    call: every answer is of the temperature set, each temperature reaches the model
    once."""
    model = Tempered()
    cache = SemCache()
    wrappers = [CachedChatModel(model, cache=cache) for _ in range(3)]
    for which, temperature in steps:
        model.temperature = temperature
        answer = wrappers[which].invoke(QUESTION)
        assert answer.content == f"answer at temperature {temperature}"
    assert sorted(model._calls) == sorted({temperature for _, temperature in steps})


# --- 2. a text moved among a message's images -------------------------------------------


def image(name: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": f"https://example.com/{name}.png"}}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


@pytest.mark.parametrize(
    "other", ["", " ", "\n", ".", "Thanks!", "Here is another photo.", "What breed is it?"]
)
def test_a_question_moved_to_another_image_is_a_miss(other: str) -> None:
    """Found by review: text parts were joined into one query and blanked in place, so
    moving the question to another text slot (an empty one, or one holding a text of its
    own) changed neither the context nor, much, the query: a semantic hit served the other
    dog's answer. With no threshold and no guards, only the context keeps them apart."""
    first = HumanMessage(
        [text("What breed is this dog?"), image("rex"), text(other), image("fido")]
    )
    moved = HumanMessage(
        [text(other), image("rex"), text("What breed is this dog?"), image("fido")]
    )
    model = FakeListChatModel(responses=["Rex is a beagle.", "Fido is a poodle."])
    chat = CachedChatModel(model, cache=SemCache(threshold=0.0, guards=()))
    assert chat.invoke([first]).content == "Rex is a beagle."
    assert chat.invoke([moved]).content == "Fido is a poodle."
    assert chat.llm_cache.stats().semantic_hits == 0


parts = st.lists(
    st.one_of(
        st.builds(text, st.sampled_from(["", " ", "What breed is this dog?", "Which breed?"])),
        st.builds(image, st.sampled_from(["rex", "fido"])),
        st.sampled_from(["a bare str part"]),
    ),
    min_size=2,
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(parts, st.data())
def test_texts_moved_among_other_parts_never_share_a_context(
    content: list[Any], data: st.DataObject
) -> None:
    """Any message with a part that is not text, and the same message with two of its
    parts swapped: they share a context (so may share an answer by meaning) only when they
    differ in one part's text, in one place: the part whose text is the query."""
    if all(isinstance(p, str) or p["type"] == "text" for p in content):
        content = [*content, image("rex")]
    i = data.draw(st.integers(0, len(content) - 1))
    j = data.draw(st.integers(0, len(content) - 1))
    swapped = list(content)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    first = split_prompt(dumps([HumanMessage(content)]))
    second = split_prompt(dumps([HumanMessage(swapped)]))
    if first.context == second.context:
        differing = [k for k, (a, b) in enumerate(zip(content, swapped)) if a != b]
        assert len(differing) <= 1
        assert first.query != second.query or not differing


def test_text_only_prompts_keep_their_context_and_query() -> None:
    """Keys of text-only prompts are those of earlier versions: a str message, and a list
    of text parts (all its text is the query, each part blanked in place)."""
    plain = split_prompt(dumps([HumanMessage("What breed is this dog?")]))
    assert plain.query == "What breed is this dog?"
    assert json.loads(plain.context)[0]["kwargs"]["content"] == ""
    parts = [text("Some context."), "a bare str part", text("What breed is this dog?")]
    listed = split_prompt(dumps([HumanMessage(parts)]))
    assert listed.query == "Some context.\na bare str part\nWhat breed is this dog?"
    assert json.loads(listed.context)[0]["kwargs"]["content"] == [
        text(""),
        "a bare str part",
        text(""),
    ]


def test_a_paraphrased_question_beside_an_image_still_hits() -> None:
    """The question of a message with an image is still compared by meaning."""
    model = FakeListChatModel(responses=["A beagle.", "unused"])
    chat = CachedChatModel(model, cache=SemCache(threshold=0.0, guards=()))
    chat.invoke([HumanMessage([text("What breed is this dog?"), image("rex")])])
    again = chat.invoke([HumanMessage([text("Which breed is this dog?"), image("rex")])])
    assert again.content == "A beagle."
    assert chat.llm_cache.stats().semantic_hits == 1
    split = split_prompt(dumps([HumanMessage([image("rex"), text(" "), text("Which breed?")])]))
    assert split.query == "Which breed?"  # the last text part with text in it


# --- 3. output_version="v1": stored as LangChain's own cache path stores it -------------


def fields(message: Any) -> dict[str, Any]:
    """What a caller reads of an answer (its id is the run's; LangChain's own hits add
    ``"total_cost": 0`` to the usage, this class's do not)."""
    usage = {k: v for k, v in (message.usage_metadata or {}).items() if k != "total_cost"}
    return {
        "content": message.content,
        "tool_calls": message.tool_calls,
        "usage_metadata": usage,
        "response_metadata": message.response_metadata,
    }


async def through_wrapper(chat: Any, how: str) -> Any:
    if how == "invoke":
        return chat.invoke(QUESTION)
    if how == "ainvoke":
        return await chat.ainvoke(QUESTION)
    if how == "stream":
        return merge(list(chat.stream(QUESTION)))
    return merge([chunk async for chunk in chat.astream(QUESTION)])


@pytest.mark.parametrize("tools", [False, True])
@pytest.mark.parametrize("how", ["invoke", "ainvoke", "stream", "astream"])
async def test_a_v1_answer_cached_here_is_served_to_the_plain_model_as_langchain_stores_it(
    shared: SemCache, how: str, tools: bool
) -> None:
    """Found by review: the wrapper stored the model's content before LangChain's "v1"
    conversion (a str), and ``model.invoke``, served it as stored, returned a str where a
    fresh call returns content blocks. The plain model's hit now returns what it returns
    on a hit of an answer LangChain stored itself (from ``_stream`` for a streamed answer,
    ``_generate`` otherwise)."""

    def bound(model: Any) -> Any:
        return model.bind_tools([Weather]) if tools else model

    model = Scripted(output_version="v1")
    await through_wrapper(bound(CachedChatModel(model, cache=shared)), how)
    served = bound(model).invoke(QUESTION)
    assert len(model.calls) == 1  # a hit

    streams = how in ("stream", "astream")
    streaming = {"streaming": True} if streams else {}
    reference = Scripted(output_version="v1", cache=SemCache(), **streaming)
    bound(reference).invoke(QUESTION)
    expected = bound(reference).invoke(QUESTION)
    assert reference.calls == ["stream" if streams else "generate"]
    assert fields(served) == fields(expected)
    assert isinstance(served.content, list)


@pytest.mark.parametrize("tools", [False, True])
@pytest.mark.parametrize("how", ["invoke", "ainvoke", "stream", "astream"])
@pytest.mark.parametrize("stored_by", ["wrapper", "invoke", "streaming invoke"])
async def test_a_v1_answer_is_served_to_the_wrapper_as_a_fresh_call_gives_it(
    shared: SemCache, how: str, tools: bool, stored_by: str
) -> None:
    """However a "v1" answer was stored (by the wrapper, or by LangChain's own cache path
    from ``_generate`` or ``_stream``), the wrapper's hit gives the same content blocks
    (less the stream's block numbers), tool calls, usage and metadata as the stored
    answer; streamed, in more than one chunk when it was recorded from a stream."""

    def bound(model: Any) -> Any:
        return model.bind_tools([Weather]) if tools else model

    streaming = {"streaming": True} if stored_by == "streaming invoke" else {}
    model = Scripted(output_version="v1", **streaming)
    chat = CachedChatModel(model, cache=shared)
    if stored_by == "wrapper":
        await through_wrapper(bound(chat), "stream")
    else:
        bound(model).invoke(QUESTION)
    stored = bound(model).invoke(QUESTION)  # LangChain's own hit: the answer as stored
    answer = await through_wrapper(bound(chat), how)
    assert len(model.calls) == 1
    assert fields(answer) | {"content": None} == fields(stored) | {"content": None}
    assert unnumbered(answer.content) == unnumbered(stored.content)
    if stored_by != "invoke" and not tools:
        chunks = [c.content for c in chat.stream(QUESTION) if c.content]
        assert len(chunks) == len(QUESTION.split()) + 3  # as recorded: a word a chunk


def unnumbered(blocks: Any) -> list[Any]:
    return [{k: v for k, v in block.items() if k != "index"} for block in blocks]


# --- 4. the chunk lengths are the wrapper's own --------------------------------------


class EndCollector(BaseCallbackHandler):
    def __init__(self) -> None:
        self.results: list[LLMResult] = []

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        self.results.append(response)


@pytest.mark.parametrize("use_async", [False, True])
async def test_chunk_lengths_reach_no_caller_of_langchains_own_cache_path(
    shared: SemCache, use_async: bool
) -> None:
    """Found by review: ``generation_info["semcache_chunks"]`` (the recorded chunk lengths)
    came back from ``model.generate`` on a hit of an answer streamed here, and reached
    ``on_llm_end``. The wrapper's replay still cuts the text where it was streamed."""
    model = Scripted()
    chat = CachedChatModel(model, cache=shared)
    first = [chunk.content for chunk in chat.stream(QUESTION) if chunk.content]
    collector = EndCollector()
    messages = [[HumanMessage(QUESTION)]]
    if use_async:
        result = await model.agenerate(messages, callbacks=[collector])
    else:
        result = model.generate(messages, callbacks=[collector])
    assert model.calls == ["stream"]
    for generation in [*result.generations[0], *collector.results[0].generations[0]]:
        assert CHUNKS_KEY not in (generation.generation_info or {})
    assert generation.generation_info == {"system_fingerprint": "fp_1"}
    prompt, llm_string = dumps([HumanMessage(QUESTION)]), model._get_llm_string()
    for found in (shared.lookup(prompt, llm_string), await shared.alookup(prompt, llm_string)):
        assert found is not None and CHUNKS_KEY not in (found[0].generation_info or {})
    assert [chunk.content for chunk in chat.stream(QUESTION) if chunk.content] == first
    assert len(first) == len(QUESTION.split()) + 3  # a word a chunk


def test_a_record_with_chunk_lengths_still_replays_in_them() -> None:
    """A record as this version and earlier ones write it (the lengths in the stored
    generation's info) replays in those chunks, and ``lookup`` hands it out without them."""
    model = Scripted()
    chat = CachedChatModel(model)
    prompt, llm_string = dumps([HumanMessage(QUESTION)]), model._get_llm_string()
    recorded = ChatGeneration(
        message=AIMessage("Paris is lovely."), generation_info={CHUNKS_KEY: [3, 5, 8], "k": 1}
    )
    chat.llm_cache.update(prompt, llm_string, [recorded])
    assert [chunk.content for chunk in chat.stream(QUESTION)][:3] == ["Par", "is is", " lovely."]
    found = chat.llm_cache.lookup(prompt, llm_string)
    assert found is not None and found[0].generation_info == {"k": 1}
    assert model.calls == []


# --- 5. token counting and profile are the model's ------------------------------------


class Counting(Scripted):
    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        return 10 * len(messages) + (100 if tools else 0)  # a provider's own tokenizer


def test_token_counting_and_profile_are_the_models() -> None:
    """Found by review: the wrapper counted tokens with LangChain's GPT-2 fallback (which
    downloads a tokenizer, and warns) and had no profile."""
    profile: Any = {"max_input_tokens": 128000, "tool_calling": True}
    model = Counting(profile=profile, custom_get_token_ids=lambda text: [7] * len(text.split()))
    chat = CachedChatModel(model)
    messages: list[BaseMessage] = [HumanMessage("hello there"), AIMessage("hi")]
    assert chat.get_num_tokens_from_messages(messages) == 20
    assert chat.get_num_tokens_from_messages(messages, tools=[Weather]) == 120
    assert chat.get_token_ids("three short words") == [7, 7, 7]
    assert chat.get_num_tokens("three short words") == 3
    assert chat.profile == profile
    own: Any = {"max_input_tokens": 1000}
    assert CachedChatModel(model, profile=own).profile == own  # given here: kept
