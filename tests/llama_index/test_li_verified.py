"""Verified mode, feedback and invalidate on SemCacheLLM (a real LlamaIndex CustomLLM)."""

from __future__ import annotations

from typing import Any

import pytest
from angle_texts import OTHER, PARAPHRASE, STORED, angle_embedder
from llama_index.core.base.llms.types import (
    ChatMessage,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import Field
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_completion_callback
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
