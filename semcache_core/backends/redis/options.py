"""The checks of :class:`~.backend.RedisBackend`'s options: each bad value is refused at
construction with an :class:`~semcache_core.errors.InvalidArgumentError` naming it (a value
accepted there would fail every later call instead).

Example::

    check_options(prefix="semcache", exact_below=1024, hnsw_m=16, ...)
"""

from __future__ import annotations

import math
from typing import Any

from ...checks import as_real, check_count
from ...errors import CapabilityError, InvalidArgumentError, shown

__all__ = ["check_options"]

_PREFIX_REFUSED = set(":{}*?[]\\")


def check_options(
    *,
    prefix: Any,
    exact_below: Any,
    hnsw_m: Any,
    hnsw_ef_construction: Any,
    hnsw_ef_search: Any,
    min_replica_acks: Any,
    replica_ack_timeout: Any,
    connect_timeout: Any,
    socket_timeout: Any,
    retries: Any,
    max_entries: Any,
) -> None:
    """Raise for the first bad option (see the module docstring); nothing is returned."""
    if max_entries is not None:
        raise CapabilityError(
            "RedisBackend has no max_entries: bound memory with Redis's maxmemory, "
            "maxmemory-policy volatile-lru and a ttl= on the cache, which evicts whole entries"
        )
    if not (
        isinstance(prefix, str)
        and prefix.isascii()
        and prefix.isprintable()
        and prefix
        and not set(prefix) & _PREFIX_REFUSED
    ):
        raise InvalidArgumentError(
            f"prefix must be printable ASCII without :{{}}*?[]\\ (':' would let one "
            f"prefix's keys match another's patterns, e.g. 'app' and 'app:meta'), "
            f"got {shown(prefix)}"
        )
    check_count(exact_below, "exact_below", minimum=0)
    check_count(hnsw_m, "hnsw_m")
    check_count(hnsw_ef_construction, "hnsw_ef_construction")
    check_count(hnsw_ef_search, "hnsw_ef_search")
    check_count(min_replica_acks, "min_replica_acks", minimum=0)
    check_count(retries, "retries", minimum=0)
    for name, value in (
        ("replica_ack_timeout", replica_ack_timeout),
        ("connect_timeout", connect_timeout),
        ("socket_timeout", socket_timeout),
    ):
        seconds = as_real(value)
        if seconds is None or not math.isfinite(seconds) or seconds <= 0:
            raise InvalidArgumentError(f"{name} must be seconds > 0, got {shown(value)}")
