"""SemCacheLLM's ``stats()`` tokens and USD saved, and ``sliding_ttl``, with a real
LlamaIndex ``CustomLLM`` reporting usage where LlamaIndex integrations put it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fakeclock import FakeClock
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

from semcache_core import InvalidArgumentError, SemCache
from semcache_integrations.llama_index.llm import SemCacheLLM
from semcache_integrations.llama_index.usage import response_usage

QUESTION = "How do I reset my password?"
PARAPHRASE = "how do I reset my password"


class _AnthropicUsage:
    """An SDK usage object (attributes, not a mapping), as Anthropic's ``raw.usage``."""

    def __init__(self, input_tokens: int, output_tokens: int) -> None:
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens


class _Raw:
    def __init__(self, usage: Any) -> None:
        self.usage = usage


def _report(style: str, tokens_in: int, tokens_out: int) -> dict[str, Any]:
    """The ``CompletionResponse`` fields that report usage in ``style``."""
    if style == "openai-kwargs":  # llama-index-llms-openai: additional_kwargs
        return {
            "additional_kwargs": {
                "prompt_tokens": tokens_in,
                "completion_tokens": tokens_out,
                "total_tokens": tokens_in + tokens_out,
            }
        }
    if style == "raw-dict":  # an OpenAI-style raw payload as a dict
        return {"raw": {"usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out}}}
    if style == "raw-object":
        return {"raw": _Raw(_AnthropicUsage(tokens_in, tokens_out))}
    return {}


class UsageLLM(CustomLLM):
    """Answers ``"answer: <prompt>"``, reporting 200 input and 50 output tokens in
    ``style``; ``calls`` counts the calls that reach it."""

    model_name: str = "gpt-4o-mini"
    style: str = "openai-kwargs"
    calls: int = Field(default=0, exclude=True)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=self.model_name)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.calls += 1
        return CompletionResponse(text=f"answer: {prompt}", **_report(self.style, 200, 50))

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        self.calls += 1

        def gen() -> CompletionResponseGen:
            yield CompletionResponse(text="answer:", delta="answer:")
            # the usage arrives with the last chunk (OpenAI's include_usage)
            yield CompletionResponse(
                text=f"answer: {prompt}", delta=f" {prompt}", **_report(self.style, 200, 50)
            )

        return gen()


PRICES = {"gpt-4o-mini": (0.15, 0.6)}
ONE_CALL = (200 * 0.15 + 50 * 0.6) / 1000


@pytest.mark.parametrize("style", ["openai-kwargs", "raw-dict", "raw-object"])
def test_complete_hits_save_tokens_and_cost(style: str) -> None:
    inner = UsageLLM(style=style)
    llm = SemCacheLLM(inner, threshold=0.9, prices=PRICES)
    llm.complete(QUESTION)
    llm.complete(QUESTION)
    llm.complete(PARAPHRASE)
    assert inner.calls == 1
    stats = llm.stats()
    assert (stats.exact_hits, stats.semantic_hits, stats.misses) == (1, 1, 1)
    assert (stats.input_tokens_saved, stats.output_tokens_saved) == (400, 100)
    assert stats.cost_saved == pytest.approx(2 * ONE_CALL)


@pytest.mark.parametrize("style", ["openai-kwargs", "raw-dict", "raw-object"])
def test_chat_and_streams_count_the_same(style: str) -> None:
    inner = UsageLLM(style=style)
    llm = SemCacheLLM(inner, threshold=0.9, prices=PRICES)
    ask = [ChatMessage(role=MessageRole.USER, content=QUESTION)]
    llm.chat(ask)
    llm.chat(ask)
    for _ in range(2):  # a miss streamed through and stored, then a hit replayed
        assert [c.text for c in llm.stream_complete("Stream this")][-1] == "answer: Stream this"
    assert inner.calls == 2
    stats = llm.stats()
    assert stats.hits == 2 and (stats.input_tokens_saved, stats.output_tokens_saved) == (400, 100)
    assert stats.cost_saved == pytest.approx(2 * ONE_CALL)


def test_async_calls_count_savings() -> None:
    llm = SemCacheLLM(UsageLLM(), threshold=0.9, prices=PRICES)

    async def scenario() -> None:
        for _ in range(3):
            await llm.acomplete(QUESTION)

    asyncio.run(scenario())
    stats = llm.stats()
    assert (stats.exact_hits, stats.input_tokens_saved) == (2, 400)
    assert stats.cost_saved == pytest.approx(2 * ONE_CALL)


def test_no_usage_and_unpriced_models() -> None:
    silent = SemCacheLLM(UsageLLM(style="none"), prices=PRICES)
    silent.complete(QUESTION)
    silent.complete(QUESTION)
    stats = silent.stats()
    assert (stats.exact_hits, stats.input_tokens_saved, stats.output_tokens_saved) == (1, 0, 0)
    other = SemCacheLLM(UsageLLM(model_name="gpt-4o"), prices=PRICES)
    other.complete(QUESTION)
    other.complete(QUESTION)
    stats = other.stats()
    assert (stats.input_tokens_saved, stats.cost_saved, stats.unpriced_hits) == (200, 0.0, 1)


@pytest.mark.parametrize(
    "fields,expected",
    [
        ({"additional_kwargs": {"input_tokens": 4, "output_tokens": 2}}, (4, 2)),
        ({"additional_kwargs": {"prompt_tokens": 4}}, (4, 0)),
        ({"additional_kwargs": {"prompt_tokens": -4, "completion_tokens": "2"}}, (0, 0)),
        ({"additional_kwargs": {"prompt_tokens": True, "completion_tokens": 2.5}}, (0, 0)),
        ({"raw": {"usage": None}}, (0, 0)),
        ({"raw": object()}, (0, 0)),
        ({"additional_kwargs": {"x": 1}, "raw": {"usage": {"input_tokens": 9}}}, (9, 0)),
    ],
)
def test_usage_rule(fields: dict[str, Any], expected: tuple[int, int]) -> None:
    usage = response_usage(CompletionResponse(text="t", **fields), "m")
    assert (usage.input_tokens, usage.output_tokens, usage.model_name) == (*expected, "m")


def test_bad_prices_are_refused_at_construction() -> None:
    with pytest.raises(InvalidArgumentError, match=r"prices\['gpt-4o-mini'\]"):
        SemCacheLLM(UsageLLM(), prices={"gpt-4o-mini": (0.15, float("inf"))})
    with pytest.raises(InvalidArgumentError, match="sliding_ttl"):
        SemCacheLLM(UsageLLM(), sliding_ttl="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("sliding", [False, True])
def test_sliding_ttl(sliding: bool) -> None:
    clock = FakeClock()
    inner = UsageLLM()
    llm = SemCacheLLM(inner, SemCache(clock=clock), threshold=0.9, ttl=10, sliding_ttl=sliding)
    llm.complete(QUESTION)
    clock.advance(8)
    llm.complete(PARAPHRASE)  # a semantic hit
    clock.advance(8)
    llm.complete(QUESTION)
    assert inner.calls == (1 if sliding else 2)
