"""Verified mode, feedback and invalidate on SemCacheLLM (a real LlamaIndex CustomLLM)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from angle_texts import OTHER, PARAPHRASE, STORED, angle_embedder
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.bridge.pydantic import Field
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from observed import stored_observations

from semcache_core import InvalidArgumentError
from semcache_integrations.llama_index.llm import SemCacheLLM


class FixedLLM(CustomLLM):
    """Answers ``answer`` to everything and counts the calls that reach it."""

    answer: str = "soak"
    calls: int = Field(default=0, exclude=True)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="fixed")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.calls += 1
        return CompletionResponse(text=self.answer)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        raise NotImplementedError


def test_an_exploration_calls_the_wrapped_llm_and_learns() -> None:
    inner = FixedLLM()
    llm = SemCacheLLM(inner, embed_model=angle_embedder, threshold=0.5, max_error_rate=0.02)
    llm.complete(STORED)
    assert llm.complete(PARAPHRASE).text == "soak"
    assert inner.calls == 2
    assert stored_observations(llm.engine, "li-llm:default") == [[[0.93, 1]]]
    assert llm.max_error_rate == 0.02
    assert llm.judge("x", "x")


def test_a_judge_on_texts_decides() -> None:
    inner = FixedLLM()
    seen: list[tuple[str, str]] = []

    def judge(cached: str, fresh: str) -> bool:
        seen.append((cached, fresh))
        return False

    llm = SemCacheLLM(inner, embed_model=angle_embedder, threshold=0.5, max_error_rate=0.05,
                      judge=judge)  # fmt: skip
    llm.complete(STORED)
    llm.complete(PARAPHRASE)
    assert seen == [("soak", "soak")]
    assert stored_observations(llm.engine, "li-llm:default") == [[[0.93, 0]]]


def test_feedback_and_invalidate_for_complete_and_chat() -> None:
    inner = FixedLLM()
    llm = SemCacheLLM(inner, embed_model=angle_embedder, threshold=0.9)
    llm.complete(STORED)
    llm.complete(PARAPHRASE)  # a semantic hit
    assert llm.feedback(PARAPHRASE, False) is True
    assert llm.feedback(PARAPHRASE, False) is False
    llm.complete(OTHER)
    assert llm.invalidate(OTHER) is True
    assert stored_observations(llm.engine, "li-llm:default") == [[[0.93, 0], [0.91, 0]]]
    assert llm.invalidate(STORED) is True
    llm.complete(STORED)
    assert inner.calls == 2
    chat = [ChatMessage(role=MessageRole.USER, content=STORED)]
    assert llm.invalidate(chat) is False  # never cached as a chat
    with pytest.raises(InvalidArgumentError, match="correct"):
        llm.feedback(PARAPHRASE, "yes")  # type: ignore[arg-type]


async def test_async_feedback_and_invalidate() -> None:
    llm = SemCacheLLM(FixedLLM(), embed_model=angle_embedder, threshold=0.9)
    await llm.acomplete(STORED)
    await llm.acomplete(PARAPHRASE)
    assert await llm.afeedback(PARAPHRASE, True) is True
    await llm.acomplete(OTHER)
    assert await llm.ainvalidate(OTHER) is True
    assert stored_observations(llm.engine, "li-llm:default") == [[[0.93, 1], [0.91, 0]]]


@pytest.mark.parametrize(("option", "value"), [("max_error_rate", 1.0), ("judge", 3)])
def test_bad_options_are_refused(option: str, value: object) -> None:
    with pytest.raises(InvalidArgumentError, match=option):
        SemCacheLLM(FixedLLM(), **{option: value})  # type: ignore[arg-type]


async def test_feedback_and_invalidate_refuse_bad_input_with_a_typed_error() -> None:
    from llama_index.core.llms import MockLLM

    from semcache_core import InvalidArgumentError

    llm = SemCacheLLM(MockLLM(), max_error_rate=0.02)
    for bad_correct in ("yes", 1, None):
        with pytest.raises(InvalidArgumentError, match="correct must be True or False"):
            llm.feedback("hi", bad_correct)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="correct must be True or False"):
            await llm.afeedback("hi", bad_correct)  # type: ignore[arg-type]
    for bad_prompt in (42, [1, 2], None):
        with pytest.raises(InvalidArgumentError, match="prompt must be the str"):
            llm.feedback(bad_prompt, True)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="prompt must be the str"):
            llm.invalidate(bad_prompt)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="prompt must be the str"):
            await llm.ainvalidate(bad_prompt)  # type: ignore[arg-type]
    assert llm.feedback("never asked", True) is False  # a fine call with nothing to learn


class ToolCallingLLM(CustomLLM):
    """Answers every chat with a tool call only (no text), its argument ``argument`` or
    else the last message's last word, under a new call id each time."""

    argument: str | None = None
    form: str = "block"  # or the call in additional_kwargs: "openai" ({"function": ...}), "flat"
    calls: int = Field(default=0, exclude=True)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="tool-caller", is_chat_model=True)

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        self.calls += 1
        about = self.argument or str(messages[-1].content).split()[-1]
        if self.form != "block":
            function = {"name": "lookup", "arguments": {"about": about}}
            call = {"id": f"call-{self.calls}", "function": function}
            if self.form == "flat":
                call = {"id": f"call-{self.calls}", "name": "lookup", "args": {"about": about}}
            kwargs = {"tool_calls": [call]}
            message = ChatMessage(role=MessageRole.ASSISTANT, content="", additional_kwargs=kwargs)
            return ChatResponse(message=message)
        call = ToolCallBlock(
            tool_call_id=f"call-{self.calls}", tool_name="lookup", tool_kwargs={"about": about}
        )
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, blocks=[call]))

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        raise NotImplementedError

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        raise NotImplementedError


@pytest.mark.parametrize("form", ["block", "openai", "flat"])
@pytest.mark.parametrize("argument", [None, "cactus"])
def test_a_chat_answer_that_only_calls_a_tool_is_judged_by_its_calls(
    argument: str | None, form: str
) -> None:
    seen: list[tuple[str, str]] = []

    def judge(cached: str, fresh: str) -> bool:
        seen.append((cached, fresh))
        return cached == fresh

    inner = ToolCallingLLM(argument=argument, form=form)
    llm = SemCacheLLM(inner, embed_model=angle_embedder, threshold=0.5, max_error_rate=0.02,
                      judge=judge)  # fmt: skip
    llm.chat([ChatMessage(role=MessageRole.USER, content=STORED)])
    llm.chat([ChatMessage(role=MessageRole.USER, content=PARAPHRASE)])  # explored
    assert inner.calls == 2
    call = '\n{{"args": {{"about": "{}"}}, "name": "lookup"}}'
    fresh = argument or "routine"  # PARAPHRASE's last word: the model calls with another
    assert seen == [(call.format("cactus"), call.format(fresh))]  # call ids left out
    right = int(argument is not None)
    assert stored_observations(llm.engine, "li-llm:default") == [[[0.93, right]]]
