"""LangChain adapters over :class:`semcache_core.SemCache`.

- :class:`SemCache`: a ``BaseCache`` for ``set_llm_cache`` (exact, then semantic hits).
- :class:`SemCacheByteStore`: a ``ByteStore`` for ``CacheBackedEmbeddings``.
- :class:`CachedEmbeddings`: an ``Embeddings`` wrapper that pays for each text once.
- :class:`SemCacheVectorStore`: a ``VectorStore`` with filters before ranking, MMR, async.

Example::

    from langchain_core.globals import set_llm_cache
    from semcache_integrations.langchain import SemCache

    set_llm_cache(SemCache())
"""

from .byte_store import SemCacheByteStore
from .embeddings import CachedEmbeddings
from .llm_cache import SemCache
from .vector_store import SemCacheVectorStore

__all__ = ["CachedEmbeddings", "SemCache", "SemCacheByteStore", "SemCacheVectorStore"]
