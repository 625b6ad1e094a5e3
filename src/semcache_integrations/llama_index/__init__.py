"""LlamaIndex adapters over :class:`semcache_core.SemCache` (exports filled in as they land)."""
