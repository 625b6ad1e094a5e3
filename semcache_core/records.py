"""Small typed records the cache hands out."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["CacheStats", "Entry", "Hit"]


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result. ``score`` is cosine similarity in [-1, 1], higher is closer."""

    key: str
    value: Any
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)
    namespace: str = ""
    vector: npt.NDArray[np.float32] | None = None  # only with ``search(..., with_vectors=True)``


@dataclass(frozen=True, slots=True)
class Entry:
    """Everything stored under a key. ``expires_at`` is seconds since the epoch or None."""

    key: str
    value: Any
    metadata: dict[str, Any]
    namespace: str
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counters since the cache was created (``size`` is the live entry count now).

    ``hits`` / ``misses`` count exact lookups (``get`` and friends, ``get_or_compute``);
    ``semantic_hits`` / ``semantic_misses`` count ``get_similar``; ``evictions`` are LRU
    removals beyond ``max_entries``; ``expirations`` are entries reclaimed after their TTL.
    """

    size: int
    hits: int
    misses: int
    semantic_hits: int
    semantic_misses: int
    evictions: int
    expirations: int
    computes: int

    @property
    def hit_rate(self) -> float:
        """Exact hits / exact lookups, 0.0 before the first lookup."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
