"""semcache's engine: an exact + semantic cache and vector store, with no framework imports.

Example::

    >>> from semcache_core import SemCache
    >>> cache = SemCache(ttl=3600, max_entries=100_000)
    >>> cache.set("greeting", {"text": "hi"}, vector=[0.1, 0.9, 0.2], metadata={"lang": "en"})
    >>> cache.search([0.1, 0.8, 0.2], k=1)[0].key
    'greeting'
"""

from typing import TYPE_CHECKING, Any

from .backends import Backend, LocalBackend
from .cache import SemCache
from .calibration import Calibration, calibrate
from .embedders import Embedder, HashingEmbedder, as_embedder
from .errors import (
    BackendError,
    BackendUnavailableError,
    CacheClosedError,
    CacheWriteWarning,
    CapabilityError,
    DimensionMismatchError,
    DirectoryLockedError,
    EmbedderError,
    FilterError,
    FilterValueError,
    InvalidArgumentError,
    InvalidKeyError,
    InvalidPairError,
    InvalidValueError,
    InvalidVectorError,
    RedisServerError,
    ReplicationError,
    SemCacheError,
    SnapshotError,
    UnknownOperatorError,
    UnsafeRecordError,
)
from .filters import Filter, FilterCondition, FilterGroup, FilterOperator, parse_filters
from .guards import DEFAULT_GUARDS, Guard
from .index import HNSWParams
from .mmr import mmr_select
from .persist import DurableBackend
from .records import CacheStats, Entry, Hit
from .responses import Prompt, ResponseCache, ResponseStats
from .search_hits import SearchHits

if TYPE_CHECKING:
    from .semantic_kv import DistributedSemanticKV

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_GUARDS",
    "Backend",
    "BackendError",
    "BackendUnavailableError",
    "CacheClosedError",
    "CacheWriteWarning",
    "CacheStats",
    "Calibration",
    "CapabilityError",
    "DimensionMismatchError",
    "DirectoryLockedError",
    "DistributedSemanticKV",
    "DurableBackend",
    "Embedder",
    "EmbedderError",
    "Entry",
    "Filter",
    "FilterCondition",
    "FilterError",
    "FilterGroup",
    "FilterOperator",
    "FilterValueError",
    "Guard",
    "HNSWParams",
    "HashingEmbedder",
    "Hit",
    "InvalidArgumentError",
    "InvalidKeyError",
    "InvalidPairError",
    "InvalidValueError",
    "InvalidVectorError",
    "LocalBackend",
    "Prompt",
    "RedisServerError",
    "ReplicationError",
    "ResponseCache",
    "ResponseStats",
    "SearchHits",
    "SemCache",
    "SemCacheError",
    "SnapshotError",
    "UnknownOperatorError",
    "UnsafeRecordError",
    "__version__",
    "as_embedder",
    "calibrate",
    "mmr_select",
    "parse_filters",
]


def __getattr__(name: str) -> Any:
    # imported on first use: it needs redis-py, an optional dependency (semcache[redis])
    if name == "DistributedSemanticKV":
        from .semantic_kv import DistributedSemanticKV

        return DistributedSemanticKV
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
