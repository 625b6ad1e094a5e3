"""Vector search over a namespace's shards: one script call per shard (pipelined, so a
cluster gets one batch per node), candidates merged by score, the exact filter applied
client-side, and a second, exhaustive pass when the first came back short.

Scores: ``VSIM ... WITHSCORES`` gives (cos + 1) / 2; :func:`cosine` converts at the edge.
A threshold becomes ``EPSILON (1 - threshold) / 2`` (plus a hair, as the server keeps
``1 - score < epsilon`` strictly), and the exact ``score >= threshold`` test runs here.

Why k results come back whenever k live entries match: the server's ``FILTER`` keeps a
superset of the matches (:mod:`.filter_expr`) and the expiry test; a pass that ends short
while a shard returned all it was asked for (or its ``FILTER`` stopped at ``FILTER-EF``
candidates, fewer than the shard holds) is repeated with ``TRUTH`` (an exact linear
scan) and no count limit on those shards, so nothing that matches is left unseen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import DimensionMismatchError
from ..base import StoredEntry
from .entry_codec import metadata_of, stored_entry, text_of
from .fanout import NodeCall
from .scripts import SEARCH

__all__ = ["ShardQuery", "cosine", "merge", "shard_calls"]

_ALL = 2**31 - 1  # COUNT of an exhaustive pass
_EPSILON_SLACK = 1e-6


def cosine(score: bytes | str | float) -> float:
    """Cosine in [-1, 1] from a vector-set score (cos + 1) / 2."""
    return min(1.0, max(-1.0, 2.0 * float(score) - 1.0))


@dataclass(slots=True)
class ShardQuery:
    """What one search sends to every shard."""

    blob: bytes
    count: int
    ef: int
    threshold: float | None
    expression: str | None
    now: float
    with_vectors: bool
    exact_below: int

    def epsilon(self) -> str:
        if self.threshold is None:
            return ""
        return repr((1.0 - self.threshold) / 2.0 + _EPSILON_SLACK)

    def filter_text(self) -> str:
        """The server-side ``FILTER`` ('' none): the user's filter only (expiry is tested
        by the script on the candidates' hashes)."""
        return "" if self.expression is None else self.expression

    def args(self, entry_prefix: str, exhaustive: bool) -> list[Any]:
        count = _ALL if exhaustive else self.count
        return [
            self.blob,
            count,
            self.ef,
            self.epsilon(),
            self.filter_text(),
            max(count * 100, 1000) if not exhaustive else _ALL,
            "1" if exhaustive else "0",
            entry_prefix,
            "1" if self.with_vectors else "0",
            self.exact_below,
            repr(self.now),
        ]


def run_shards(
    pipe: Any, shards: list[tuple[str, str, str]], query: ShardQuery, exhaustive: list[bool]
) -> None:
    """Queue the search script on each shard ``(vset, expiry, entry prefix)``."""
    for (vset, expiry, prefix), full in zip(shards, exhaustive):
        pipe.execute_command("EVAL", SEARCH, 2, vset, expiry, *query.args(prefix, full))


def shard_calls(
    shards: list[tuple[str, str, str]], query: ShardQuery, exhaustive: list[bool]
) -> list[NodeCall]:
    """The search script of each shard ``(vset, expiry, entry prefix)``, for :func:`fan_out`."""
    return [
        NodeCall(vset, ("EVAL", SEARCH, 2, vset, expiry, *query.args(prefix, full)))
        for (vset, expiry, prefix), full in zip(shards, exhaustive)
    ]


def parse_shard(
    reply: list[Any], namespace: str, count: int, dim: int
) -> tuple[list[tuple[float, StoredEntry]], bool]:
    """(score, entry) rows of one shard's reply, and whether more may match: it returned
    all it was asked for, or its ``FILTER`` stopped at ``FILTER-EF`` candidates on a
    larger set (a selective filter then comes back short with matches unseen). Raises
    :class:`DimensionMismatchError` for a ``{-1, dim}``."""
    status = int(reply[0])
    if status == 0:
        return [], False
    if status == -1:
        raise DimensionMismatchError(int(reply[1]), dim, namespace)
    returned, capped = int(reply[1]), bool(int(reply[2]))
    rows = []
    for i in range(3, len(reply), 6):
        key, score, value, metadata, x, blob = reply[i : i + 6]
        entry = stored_entry(text_of(key, "element"), namespace, value, metadata, x, blob, dim)
        rows.append((cosine(score), entry))
    return rows, returned >= count or capped


def merge(
    rows: list[tuple[float, StoredEntry]],
    k: int,
    now: float,
    floor: float,
    predicate: Callable[[Mapping[str, Any]], bool] | None,
) -> list[tuple[StoredEntry, float]]:
    """The ``k`` best live rows passing the exact filter and the threshold."""
    rows.sort(key=lambda row: -row[0])
    hits: list[tuple[StoredEntry, float]] = []
    for score, entry in rows:
        if score < floor:
            break
        if entry.expires_at is not None and entry.expires_at <= now:
            continue
        if predicate is not None and not predicate(metadata_of(entry.metadata, entry.key)):
            continue
        hits.append((entry, score))
        if len(hits) == k:
            break
    return hits
