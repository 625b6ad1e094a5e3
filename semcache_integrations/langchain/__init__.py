"""LangChain adapters over :class:`semcache_core.SemCache`.

- :class:`SemCache`: a ``BaseCache`` for ``set_llm_cache`` (exact, then semantic hits).
- :class:`CachedChatModel`: a chat model wrapper whose ``stream`` / ``astream`` are cached too.
- :class:`SemCacheByteStore`: a ``ByteStore`` for ``CacheBackedEmbeddings``.
- :class:`CachedEmbeddings`: an ``Embeddings`` wrapper that pays for each text once.
- :class:`SemCacheVectorStore`: a ``VectorStore`` with filters before ranking, MMR, async.

Example::

    from langchain_core.globals import set_llm_cache
    from semcache_integrations.langchain import SemCache

    set_llm_cache(SemCache())
"""

from .byte_store import SemCacheByteStore
from .chat_model import CachedChatModel
from .embeddings import CachedEmbeddings
from .llm_cache import SemCache
from .vector_store import SemCacheVectorStore

__all__ = [
    "CachedChatModel",
    "CachedEmbeddings",
    "SemCache",
    "SemCacheByteStore",
    "SemCacheVectorStore",
]
