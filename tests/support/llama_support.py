"""LlamaIndex test helpers shared by the adapter and conformance suites.

``FunctionEmbedding`` is a deterministic local embedding model: a subclass says how a text
becomes a vector (``_vector``) and every sync and async call goes there. ``CountingLLM`` is
a LlamaIndex LLM that answers with its name and the prompt, and counts its calls. ``no_llm`` is a
fixture (each folder's ``conftest.py`` imports it) for tests that build a
``VectorStoreIndex``, which would otherwise look for an OpenAI key.

Example::

    class Lengths(FunctionEmbedding):
        def _vector(self, text: str) -> list[float]:
            return [float(len(text)), 1.0]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core import Settings
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import CompletionResponse, CompletionResponseGen, LLMMetadata
from llama_index.core.bridge.pydantic import Field
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_completion_callback


class FunctionEmbedding(BaseEmbedding):
    """A ``BaseEmbedding`` whose queries and texts all go through ``_vector``."""

    def _vector(self, text: str) -> list[float]:
        raise NotImplementedError

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vector(text)


@pytest.fixture
def no_llm() -> Iterator[None]:
    """``Settings.llm = None`` (a MockLLM) for the test; the previous LLM and embedding model
    come back afterwards."""
    saved_llm, saved_embed = Settings._llm, Settings._embed_model
    Settings.llm = None
    try:
        yield
    finally:
        Settings._llm, Settings._embed_model = saved_llm, saved_embed


class CountingLLM(CustomLLM):
    """Answers ``"<model_name>: <prompt>"`` and counts the calls that reach it."""

    model_name: str = "counting-1"
    temperature: float = 0.0
    calls: int = Field(default=0, exclude=True)  # not part of the model identity
    chat_model: bool = False

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=self.model_name, is_chat_model=self.chat_model)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.calls += 1
        return CompletionResponse(text=f"{self.model_name}: {prompt}", raw=object())

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        self.calls += 1
        answer = f"{self.model_name}: {prompt}"
        words = answer.split(" ")

        def gen() -> CompletionResponseGen:
            for n in range(1, len(words) + 1):
                delta = words[n - 1] if n == 1 else " " + words[n - 1]
                yield CompletionResponse(text=" ".join(words[:n]), delta=delta)

        return gen()
