"""LangChain adapters over :class:`semcache_core.SemCache`.

Example::

    from langchain_core.globals import set_llm_cache
    from semcache_integrations.langchain import SemCache

    set_llm_cache(SemCache())
"""

from .llm_cache import SemCache

__all__ = ["SemCache"]
