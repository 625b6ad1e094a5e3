"""LlamaIndex test helpers shared by the adapter and conformance suites.

``FunctionEmbedding`` is a deterministic local embedding model: a subclass says how a text
becomes a vector (``_vector``) and every sync and async call goes there. ``no_llm`` is a
fixture (each folder's ``conftest.py`` imports it) for tests that build a
``VectorStoreIndex``, which would otherwise look for an OpenAI key.

Example::

    class Lengths(FunctionEmbedding):
        def _vector(self, text: str) -> list[float]:
            return [float(len(text)), 1.0]
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from llama_index.core import Settings
from llama_index.core.base.embeddings.base import BaseEmbedding


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
