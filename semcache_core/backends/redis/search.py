"""Vector search over a namespace's shards: one script call per shard (pipelined, so a
cluster gets one batch per node), candidates merged by score, the exact filter applied
client-side, and deeper passes while a shard may hold a better match.

Scores: ``VSIM ... WITHSCORES`` gives (cos + 1) / 2; :func:`cosine` converts at the edge.
A threshold becomes ``EPSILON (1 - threshold) / 2`` (plus a hair, as the server keeps
``1 - score < epsilon`` strictly), and the exact ``score >= threshold`` test runs here.

Why k results come back whenever k live entries match: the server's ``FILTER`` keeps a
superset of the matches (:mod:`.filter_expr`), and a shard whose reply holds fewer
candidates than it was asked for holds no more (a walk that comes back short, filtered
or without a threshold, is replaced by a scan: :data:`.scripts.SEARCH`). A pass whose
merge ends short, or whose last hit scores below a full shard's lowest candidate, is
repeated on those shards with ``TRUTH`` (an exact linear scan) and a larger ``COUNT``
(:meth:`ShardQuery.deepen`), until no shard may hold a better match. ``COUNT`` grows
geometrically: a pass of ``COUNT n`` costs the server O(n²) (its result queue is a
sorted array), and every candidate comes back with its entry, so asking each shard for
everything at once (as this module once did) cost 130 ms on 20,000 entries for a filter
only the client can test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgpack

from ...errors import DimensionMismatchError
from ..base import StoredEntry
from .entry_codec import metadata_of, stored_entry, text_of
from .fanout import NodeCall
from .scripts import SEARCH

__all__ = ["ShardQuery", "cosine", "merge", "shard_calls"]

_ALL = 2**31 - 1  # the largest COUNT a deeper pass asks for
_GROWTH = 8  # the most a deeper pass multiplies COUNT by
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

    def args(self, entry_prefix: str, scan: bool) -> list[Any]:
        """The :data:`.scripts.SEARCH` script's ARGV (``scan``: an exact linear scan)."""
        return [
            self.blob,
            self.count,
            self.ef,
            self.epsilon(),
            self.filter_text(),
            max(self.count * 100, 1000),  # the filtered walk's FILTER-EF
            "1" if scan else "0",
            entry_prefix,
            "1" if self.with_vectors else "0",
            self.exact_below,
            repr(self.now),
        ]

    def deepen(self, hits: int, k: int) -> None:
        """Grow ``count`` for a deeper pass after one whose merge kept ``hits`` of ``k``:
        by the factor that would have found ``2 k`` at the rate seen (2 to 8; 8 after
        none)."""
        factor = _GROWTH if hits == 0 else min(_GROWTH, max(2, -(-2 * k // hits)))
        self.count = min(_ALL, self.count * factor)


def shard_calls(
    shards: list[tuple[str, str, str]], query: ShardQuery, scan: bool
) -> list[NodeCall]:
    """The search script of each shard ``(vset, expiry, entry prefix)``, for :func:`fan_out`."""
    return [
        NodeCall(vset, ("EVAL", SEARCH, 2, vset, expiry, *query.args(prefix, scan)))
        for vset, expiry, prefix in shards
    ]


def parse_shard(
    packed: bytes, namespace: str, count: int, dim: int
) -> tuple[list[tuple[float, StoredEntry]], bool]:
    """(score, entry) rows of one shard's packed reply, and whether more may match: it
    returned all ``count`` it was asked for (a filtered walk that comes back short is
    replaced by a scan, so a shorter reply means no more match). Raises
    :class:`DimensionMismatchError` for a ``{-1, dim}``."""
    reply = msgpack.unpackb(packed, raw=True)  # as the script packed it (bytes stay bytes)
    status = int(reply[0])
    if status == 0:
        return [], False
    if status == -1:
        raise DimensionMismatchError(int(reply[1]), dim, namespace)
    rows = []
    for i in range(2, len(reply), 6):
        key, score, value, metadata, x, blob = reply[i : i + 6]
        entry = stored_entry(text_of(key, "element"), namespace, value, metadata, x, blob, dim)
        rows.append((cosine(score), entry))
    return rows, int(reply[1]) >= count


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
