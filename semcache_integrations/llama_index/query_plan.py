"""A LlamaIndex ``VectorStoreQuery`` checked and turned into what to ask the cache.

:func:`plan_query` validates everything before the cache is asked anything (so a bad
query changes nothing and costs no search):

    plan = plan_query(query, {"mmr_threshold": 0.3}, lambda: None)
    plan.fetch_k  # how many hits to fetch; plan.mmr_lambda: None for plain similarity
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode

from semcache_core.checks import as_real, check_keywords
from semcache_core.errors import InvalidArgumentError, shown
from semcache_core.filters import FilterNode

__all__ = ["DEFAULT_MMR_PREFETCH_FACTOR", "DEFAULT_MMR_THRESHOLD", "QueryPlan", "plan_query"]

DEFAULT_MMR_THRESHOLD = 0.5  # as llama_index.core.indices.query.embedding_utils
DEFAULT_MMR_PREFETCH_FACTOR = 4.0  # candidates fetched per result (names as other stores)
_QUERY_KWARGS = frozenset({"mmr_threshold", "mmr_prefetch_k", "mmr_prefetch_factor"})


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """A validated query: what to ask the cache, and how to finish the answer."""

    vector: Any  # the query embedding, or None for a pure filter query
    top_k: int | None  # None: every match
    fetch_k: int | None  # ranked queries: how many hits to ask for (None: every match)
    node: FilterNode | None
    mmr_lambda: float | None  # None: plain similarity order


def plan_query(
    query: VectorStoreQuery, kwargs: dict[str, Any], restriction: Callable[[], FilterNode | None]
) -> QueryPlan:
    """Validate ``query`` and ``query()``'s keyword arguments; ``restriction()`` gives the
    cache filter of its ``filters`` / ``node_ids`` / ``doc_ids`` (called after the top-k
    check, as its own errors come second)."""
    check_keywords("query", kwargs, _QUERY_KWARGS)
    asked: Any = query.similarity_top_k
    if isinstance(asked, bool) or not isinstance(asked, (int, type(None))) or (asked or 0) < 0:
        raise InvalidArgumentError(f"similarity_top_k must be an int >= 0, got {shown(asked)}")
    top_k: int | None = asked or None  # 0 / None: every match, as get_top_k_embeddings
    node = restriction()
    if query.mode not in (VectorStoreQueryMode.DEFAULT, VectorStoreQueryMode.MMR):  # by ==
        shown_mode = getattr(query.mode, "value", query.mode)
        raise InvalidArgumentError(
            f"SemCacheVectorStore supports query modes 'default' and 'mmr', got {shown(shown_mode)}"
        )
    mode = VectorStoreQueryMode(query.mode)
    if query.query_embedding is None:
        if mode is VectorStoreQueryMode.MMR:
            raise InvalidArgumentError("an MMR query needs a query_embedding")
        return QueryPlan(None, top_k, None, node, None)
    if mode is VectorStoreQueryMode.DEFAULT:
        return QueryPlan(query.query_embedding, top_k, top_k, node, None)
    threshold = kwargs.get("mmr_threshold")
    if threshold is None:
        threshold = query.mmr_threshold
    if threshold is None:
        threshold = DEFAULT_MMR_THRESHOLD
    mmr_lambda = as_real(threshold)  # numpy floats too (np.float32(0.5))
    if mmr_lambda is None or not 0.0 <= mmr_lambda <= 1.0:  # NaN fails both
        raise InvalidArgumentError(f"mmr_threshold must be in [0, 1], got {shown(threshold)}")
    return QueryPlan(query.query_embedding, top_k, _fetch_k(top_k, kwargs), node, mmr_lambda)


def _fetch_k(top_k: int | None, kwargs: dict[str, Any]) -> int | None:
    """How many candidates an MMR query fetches: ``mmr_prefetch_k``, else ``top_k`` times
    ``mmr_prefetch_factor`` (at least ``top_k``; None: every match)."""
    if top_k is None:
        return None
    prefetch_k = kwargs.get("mmr_prefetch_k")
    if prefetch_k is not None:
        if isinstance(prefetch_k, bool) or not isinstance(prefetch_k, int) or prefetch_k < 1:
            raise InvalidArgumentError(
                f"mmr_prefetch_k must be an int >= 1, got {shown(prefetch_k)}"
            )
        return max(top_k, prefetch_k)
    factor = kwargs.get("mmr_prefetch_factor", DEFAULT_MMR_PREFETCH_FACTOR)
    real = as_real(factor)
    if real is None or not 1 <= real < math.inf:  # NaN fails both
        raise InvalidArgumentError(
            f"mmr_prefetch_factor must be a finite number >= 1, got {shown(factor)}"
        )
    return max(top_k, int(min(top_k * real, sys.maxsize)))  # 3 * 1e308 is inf
