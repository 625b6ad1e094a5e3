"""The Redis backend: ``SemCache(backend=RedisBackend("redis://127.0.0.1:6379"))``.

Modules: :mod:`.backend` (the Backend), :mod:`.keys` (key names and hash tags),
:mod:`.entry_codec` (hash fields, vector attributes), :mod:`.filter_expr` (filters the
server can apply), :mod:`.search` (shard search and merge), :mod:`.scripts` (atomic
per-shard Lua), :mod:`.connection` (client, timeouts, error mapping).
"""

from .backend import RedisBackend

__all__ = ["RedisBackend"]
