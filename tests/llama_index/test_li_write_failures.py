"""SemCacheLLM: a cache write that fails after the model answered never costs the caller
the answer (a ``CacheWriteWarning`` names the error; nothing is stored, and the next call
asks the model again), on every path: complete, chat, their streams and async twins."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.embeddings import BaseEmbedding
from llama_support import CountingLLM

from semcache_core import CacheWriteWarning
from semcache_integrations.llama_index.llm import SemCacheLLM

QUESTION = "How do I reset my password?"


class RateLimitedEmbedding(BaseEmbedding):
    """Queries embed; texts (the write) hit the API's rate limit while ``limited``."""

    limited: bool = True

    def _vector(self, text: str) -> list[float]:
        return [1.0, float(len(text) % 7), 0.5]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        if self.limited:
            raise RuntimeError("429 Too Many Requests")
        return self._vector(text)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)


def ask(llm: SemCacheLLM, how: str) -> str:
    message = [ChatMessage(role=MessageRole.USER, content=QUESTION)]
    if how == "complete":
        return llm.complete(QUESTION).text
    if how == "stream_complete":
        return "".join(r.delta or "" for r in llm.stream_complete(QUESTION))
    if how == "chat":
        return str(llm.chat(message).message.content)
    if how == "acomplete":
        return asyncio.run(llm.acomplete(QUESTION)).text

    async def astream() -> str:
        stream = await llm.astream_complete(QUESTION)
        return "".join([r.delta or "" async for r in stream])

    return asyncio.run(astream())


@pytest.mark.parametrize("how", ["complete", "stream_complete", "chat", "acomplete", "astream"])
def test_an_embedder_failing_on_the_write_costs_no_answer(how: str) -> None:
    embedding = RateLimitedEmbedding()
    inner = CountingLLM()
    llm = SemCacheLLM(inner, embed_model=embedding)
    answer: Any = None
    with pytest.warns(CacheWriteWarning, match="429 Too Many Requests"):
        answer = ask(llm, how)
    assert QUESTION in answer
    assert llm.stats().updates == 0
    embedding.limited = False
    assert ask(llm, how) == answer  # asked again, and stored this time
    assert ask(llm, how) == answer  # a hit
    assert inner.calls == 2
