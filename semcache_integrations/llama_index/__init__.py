"""LlamaIndex adapters over :class:`semcache_core.SemCache`.

- :class:`SemCacheVectorStore`: a ``BasePydanticVectorStore`` with every filter operator
  (nesting included) before ranking, MMR, async twins and binary persistence.
- :class:`SemCacheKVStore`: a ``BaseKVStore`` (``IngestionCache``, docstore, index store).
- :class:`SemCacheLLM`: an ``LLM`` wrapper answering from the cache on exact or semantic
  hits, scoped like the LangChain cache (same model, same preceding context).
- :class:`HashingEmbedding`: the built-in lexical embedder as a LlamaIndex embedding.

Example::

    from llama_index.core import Settings
    from semcache_integrations.llama_index import SemCacheLLM

    Settings.llm = SemCacheLLM(my_llm, threshold=0.87)
"""

from .embedding import HashingEmbedding
from .kvstore import SemCacheKVStore
from .llm import SemCacheLLM, model_identity
from .vector_store import SemCacheVectorStore

__all__ = [
    "HashingEmbedding",
    "SemCacheKVStore",
    "SemCacheLLM",
    "SemCacheVectorStore",
    "model_identity",
]
