"""semcache's built-in lexical embedder (:class:`semcache_core.HashingEmbedder`) as a
LlamaIndex embedding: offline, deterministic, no model download.

It sees spelling, not meaning (near-identical texts score high, paraphrases with other
words do not): for demos, tests and examples, or as a fallback; use a sentence model for
real retrieval.

Example::

    >>> from semcache_integrations.llama_index import HashingEmbedding
    >>> embedding = HashingEmbedding()
    >>> len(embedding.get_text_embedding("How do I reset my password?"))
    256
"""

from __future__ import annotations

from llama_index.core.base.embeddings.base import BaseEmbedding

from semcache_core import HashingEmbedder

__all__ = ["HashingEmbedding"]

_LEXICAL = HashingEmbedder()  # stateless: one instance serves every embedding


class HashingEmbedding(BaseEmbedding):
    """The built-in character n-gram embedder as a LlamaIndex ``BaseEmbedding``."""

    @classmethod
    def class_name(cls) -> str:
        return "HashingEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return _LEXICAL.embed_query(query).tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return _LEXICAL.embed_document(text).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)
