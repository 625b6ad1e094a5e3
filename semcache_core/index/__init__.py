"""Vector indexes: exact flat search, HNSW, and the per-namespace hybrid of the two."""

from .base import VectorIndex
from .flat import FlatIndex
from .hnsw import HNSWIndex, HNSWParams
from .hybrid import DEFAULT_HNSW_THRESHOLD, HybridIndex

__all__ = [
    "DEFAULT_HNSW_THRESHOLD",
    "FlatIndex",
    "HNSWIndex",
    "HNSWParams",
    "HybridIndex",
    "VectorIndex",
]
