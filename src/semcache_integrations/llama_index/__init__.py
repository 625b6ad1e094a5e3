"""LlamaIndex adapters over :class:`semcache_core.SemCache`.

- :class:`SemCacheKVStore`: a ``BaseKVStore`` (``IngestionCache``, docstore, index store).
- :class:`SemCacheLLM`: an ``LLM`` wrapper answering from the cache on exact or semantic
  hits, scoped like the LangChain cache (same model, same preceding context).

Example::

    from llama_index.core import Settings
    from semcache_integrations.llama_index import SemCacheLLM

    Settings.llm = SemCacheLLM(my_llm, threshold=0.9)
"""

from .kvstore import SemCacheKVStore
from .llm import SemCacheLLM, model_identity

__all__ = ["SemCacheKVStore", "SemCacheLLM", "model_identity"]
