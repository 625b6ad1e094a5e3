"""What the Redis backend sends and how it reads the replies, without any I/O: shared by
the sync :class:`~.backend.RedisBackend` and its async twin (:mod:`.aio`), which differ
only in how they wait for Redis.

Each helper builds the arguments of one step (a script call, a pipeline of reads) or turns
its replies into results and errors; the caller runs the step on its client. Queuing
commands on a pipeline is not I/O either (``execute()`` is), so :meth:`SearchJob.queue`
serves both kinds of pipeline.

Example::

    >>> expired(b"10.0", now=10.0), expired(b"", now=10.0)
    (True, False)
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...codec import decode_metadata
from ...errors import (
    BackendUnavailableError,
    CapabilityError,
    DimensionMismatchError,
    UnsafeRecordError,
)
from ...filters import FilterNode, compile_filter, kind_clash, range_leaves
from ...vectors import FloatMatrix, score_floor
from ..base import EntryWrite, StoredEntry
from .entry_codec import (
    NEVER,
    attributes,
    blob_of,
    entry_fields,
    expiry_of,
    meta_count,
    metadata_of,
    stored_entry,
)
from .fanout import Fanout, NodeCall
from .filter_expr import to_expression
from .keys import KeyScheme
from .scripts import PURGE, VECTOR_DIM
from .search import ShardQuery, merge, parse_shard, shard_calls

__all__ = [
    "SET_BATCH",
    "no_vector_sets",
    "SearchJob",
    "Settings",
    "Tally",
    "batch_dim",
    "check_kind_replies",
    "check_set_replies",
    "clear_patterns",
    "delete_outcome",
    "dim_answer",
    "dim_calls",
    "entry_of",
    "expired",
    "forget",
    "group_writes",
    "live_names",
    "namespaces_of",
    "scan_keys",
    "set_call",
    "shard_batches",
    "touch_call",
]


def no_vector_sets(missing: tuple[str, ...]) -> str:
    """What a server lacking the vector-set commands ``missing`` can and cannot do."""
    return (
        f"this Redis server lacks the vector-set commands {', '.join(missing)} (unknown to "
        f"it, or forbidden to this user by an ACL; Redis 8 or later needed): exact "
        f"get/set/TTL work, vector search and writes with vectors do not"
    )


@dataclass(frozen=True, slots=True)
class Settings:
    """A backend's fixed choices: key scheme, graph settings, default shard count."""

    keys: KeyScheme
    m: int
    ef_construction: int
    ef_search: int
    exact_below: int
    default_shards: int
    missing_commands: tuple[str, ...]  # vector-set commands the server lacks

    @property
    def vector_sets(self) -> bool:
        return not self.missing_commands

    def require_vector_sets(self) -> None:
        if self.missing_commands:
            raise CapabilityError(no_vector_sets(self.missing_commands))

    def tag_of(self, tags: tuple[str, ...], key: str) -> str:
        return tags[self.keys.shard_of(key, len(tags))]


class Tally:
    """Hits, misses and expirations counted by a backend's sync and async calls together."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hits = self.misses = self.expirations = 0

    def lookup(self, hit: bool) -> None:
        with self.lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    def expired(self, count: int) -> None:
        with self.lock:
            self.expirations += count


def expired(x: Any, now: float) -> bool:
    """Whether an entry whose ``x`` field is ``x`` has expired at ``now``."""
    when = expiry_of(x)
    return when is not None and when <= now


def entry_of(key: str, namespace: str, reply: list[Any], now: float) -> StoredEntry | None:
    """The live entry in an ``HMGET`` of :data:`~.entry_codec.FIELDS`, else ``None``."""
    value, metadata, x, blob = reply
    if isinstance(value, bytes) and not expired(x, now):
        return stored_entry(key, namespace, value, metadata, x, blob)
    return None


# --- keyspace (count, scan, namespaces, clear) --------------------------------------------


def live_names(names: list[str], replies: list[Any], now: float) -> list[str]:
    """The entry keys among ``names`` whose ``HMGET k x`` reply (in ``replies``, in the
    same order) shows a live entry at ``now``."""
    return [name for name, (k, x) in zip(names, replies) if k is not None and not expired(x, now)]


def namespaces_of(keys: KeyScheme, live: list[str]) -> list[str]:
    """The sorted namespaces of the live entry keys ``live``."""
    return sorted({keys.parse_entry_key(name)[0] for name in live})


def scan_keys(keys: KeyScheme, live: list[str], prefix: str, limit: int | None) -> list[str]:
    """``scan``'s answer from the live entry keys its pattern matched: sorted, starting
    with ``prefix`` (the glob holds it already; this guards keys with odd bytes), at most
    ``limit``."""
    found = sorted(keys.parse_entry_key(name)[1] for name in live)
    found = [key for key in found if key.startswith(prefix)]
    return found if limit is None else found[:limit]


def clear_patterns(keys: KeyScheme, namespace: str | None) -> tuple[list[str], list[str]]:
    """What ``clear(namespace)`` removes: the patterns to ``SCAN`` (their matches in this
    order) and the names to remove after them (the meta hash last: a namespace stays
    known until its keys are gone)."""
    if namespace is None:
        return [keys.namespace_pattern(), keys.meta_pattern()], []
    return [keys.namespace_pattern(namespace)], [keys.meta_key(namespace)]


def clear_order(keys: KeyScheme, names: list[str]) -> tuple[list[str], list[str], list[str]]:
    """``clear``'s scanned ``names`` in the order it removes them: the entry hashes (and
    any other key), then the shards' tags (each shard dropped whole by one script,
    :data:`.scripts.DROP`: an entry written since the scan goes with its shard or stays
    whole), then the meta hashes (a namespace stays known until its keys are gone)."""
    entries: list[str] = []
    tags: list[str] = []
    metas: list[str] = []
    meta_head, shard_head = f"{keys.prefix}:meta:", f"{keys.prefix}:{{"
    for name in names:
        if name.startswith(meta_head):
            metas.append(name)
            continue
        tag = keys.parse_tag(name)
        # a shard's sets end right after the tag; an entry's key may end in "}:v" too
        if name[len(shard_head) + len(tag) + 1 :] in (":v", ":x"):
            if tag not in tags:
                tags.append(tag)
        else:
            entries.append(name)
    return entries, tags, metas


def follow_count(counts: dict[str, int], namespace: str, raw: Any, default: int) -> bool:
    """After a keyed read of ``namespace`` found nothing, or with a search's replies: its
    meta's shard count (``raw``, read again) becomes this process's; whether it changed
    (another worker cleared the namespace and wrote it again with another count), so the
    read is worth one more try. A missing meta (evicted) leaves the count held."""
    if raw is None:  # evicted meta, or its node out of reach: the count held stands
        return False
    cached = counts.get(namespace, default)
    counts[namespace] = meta_count(raw, namespace, "shards")
    return counts[namespace] != cached


def count_call(keys: KeyScheme, namespace: str) -> NodeCall:
    """The meta's shard count, read in a search's round (see :func:`follow_count`)."""
    meta = keys.meta_key(namespace)
    return NodeCall(meta, ("HGET", meta, "shards"))


def forget(lock: threading.Lock, namespace: str | None, *caches: dict[str, Any]) -> None:
    """Drop what ``caches`` (namespace -> shard count, dimension, ...) hold about a
    cleared ``namespace`` (every namespace when None)."""
    with lock:
        for cache in caches:
            if namespace is None:
                cache.clear()
            else:
                cache.pop(namespace, None)


# --- dim_of: one round over a namespace's shards -----------------------------------------


def dim_calls(
    settings: Settings, namespace: str, tags: tuple[str, ...], now: float | None
) -> tuple[list[NodeCall], int]:
    """``dim_of``'s calls (with ``now``: each shard's purge first; then every shard's
    ``VCARD``; the meta's ``dim`` last), and how many purges lead them."""
    keys = settings.keys
    calls = []
    if now is not None:
        for tag in tags:
            vset, expiry = keys.vset_key(tag), keys.expiry_key(tag)
            args = (repr(float(now)), keys.entry_prefix(tag))
            calls.append(NodeCall(vset, ("EVAL", PURGE, 2, vset, expiry, *args)))
    purges = len(calls)
    calls += [NodeCall(keys.vset_key(t), ("VCARD", keys.vset_key(t))) for t in tags]
    meta = keys.meta_key(namespace)
    calls.append(NodeCall(meta, ("HGET", meta, "dim")))
    return calls, purges


def dim_answer(
    namespace: str, done: Fanout, purges: int, last_dims: dict[str, int], tally: Tally
) -> int | None:
    """The dimension from :func:`dim_calls`' fan-out (unreachable nodes allowed): counts
    the purged entries, and lets the dimension last read stand in for an unreachable
    meta node; raises :class:`BackendUnavailableError` when no shard answered."""
    replies = done.replies
    purged = sum(int(n) for n in replies[:purges] if n is not None)
    if purged:
        tally.expired(purged)
    cards = replies[purges:-1]
    raw = replies[-1]
    if raw is None and done.unreachable:
        raw = last_dims.get(namespace)  # the meta's node is out of reach
    if not sum(int(n or 0) for n in cards) and not done.unreachable:
        return None
    if raw is None:
        if done.unreachable and all(n is None for n in cards):
            raise BackendUnavailableError(
                f"dim_of: no shard of namespace {namespace!r} answered: {'; '.join(done.errors)}"
            )
        return None
    dim = last_dims[namespace] = meta_count(raw, namespace, "dim")
    return dim


# --- writes ------------------------------------------------------------------------------


def group_writes(writes: list[EntryWrite]) -> dict[str, list[EntryWrite]]:
    """Writes by namespace; a repeated ``(namespace, key)``: the last wins."""
    latest = {(w.namespace, w.key): w for w in writes}
    by_namespace: dict[str, list[EntryWrite]] = {}
    for write in latest.values():
        by_namespace.setdefault(write.namespace, []).append(write)
    return by_namespace


def batch_dim(settings: Settings, namespace: str, writes: list[EntryWrite]) -> int | None:
    """The one dimension of the batch's vectors (None without vectors); raises when they
    differ, or when the server has no vector sets."""
    dim = None
    for write in writes:
        if write.vector is None:
            continue
        settings.require_vector_sets()
        if dim is not None and len(write.vector) != dim:
            raise DimensionMismatchError(dim, len(write.vector), namespace)
        dim = len(write.vector)
    return dim


SET_BATCH = 512
"""The most writes one :data:`~.scripts.SET` script applies: a shard's writes of a large
``set_many`` go in several scripts, each atomic. One script for 40,000 vectors ran past
the client's socket timeout (the write reported failed though applied, and retried
whole), while the server, busy in it, answered nobody else."""


def shard_batches(
    settings: Settings, tags: tuple[str, ...], writes: list[EntryWrite]
) -> list[tuple[str, list[EntryWrite]]]:
    """One namespace's writes by shard tag, in batches of at most :data:`SET_BATCH`."""
    found: dict[str, list[EntryWrite]] = {}
    for write in writes:
        found.setdefault(settings.tag_of(tags, write.key), []).append(write)
    return [
        (tag, shard[start : start + SET_BATCH])
        for tag, shard in found.items()
        for start in range(0, len(shard), SET_BATCH)
    ]


def set_call(
    settings: Settings, tag: str, writes: list[EntryWrite], dim: int, now: float
) -> tuple[list[str], list[Any]]:
    """Keys and arguments of the :data:`~.scripts.SET` script for one shard's writes."""
    keys = [settings.keys.vset_key(tag), settings.keys.expiry_key(tag)]
    args: list[Any] = [dim, settings.m, settings.ef_construction]
    for write in writes:
        keys.append(settings.keys.entry_key(tag, write.key))
        fields = entry_fields(
            write.key, write.value, write.metadata, write.namespace, write.expires_at, None
        )
        if write.expires_at is None:
            ttl = "0"
        elif write.expires_at <= now:
            ttl = "-1"  # born expired: it only replaces (removes) what was there
        else:
            ttl = str(max(1, math.ceil((write.expires_at - now) * 1000)))
        if write.vector is None:
            blob, attrs = b"", ""
        else:
            blob = blob_of(write.vector)
            attrs = attributes(decode_metadata(write.metadata), write.expires_at)
        args += [write.key, write.value, write.metadata, fields["x"], write.namespace]
        args += [ttl, blob, attrs]
    return keys, args


def touch_call(
    settings: Settings, tag: str, key: str, expires_at: float | None, now: float
) -> tuple[list[str], list[Any]]:
    """Keys and arguments of the :data:`~.scripts.TOUCH` script (``expires_at`` > ``now``)."""
    keys = [settings.keys.vset_key(tag), settings.keys.expiry_key(tag)]
    keys.append(settings.keys.entry_key(tag, key))
    if expires_at is None:
        x, ttl, attribute = "", "0", str(NEVER)
    else:
        x = repr(float(expires_at))
        ttl = str(max(1, math.ceil((expires_at - now) * 1000)))
        attribute = json.dumps(expires_at, allow_nan=False)
    return keys, [settings.keys.entry_prefix(tag), key, repr(float(now)), x, ttl, attribute]


def drop_call(settings: Settings, tag: str) -> tuple[list[str], list[Any]]:
    """Keys and arguments of the :data:`~.scripts.DROP` script (``clear``) for one shard."""
    keys = [settings.keys.vset_key(tag), settings.keys.expiry_key(tag)]
    return keys, [settings.keys.entry_prefix(tag)]


def check_set_replies(calls: list[str], replies: list[Any], dims: dict[str, int | None]) -> None:
    """Raise :class:`DimensionMismatchError` for a shard that refused ``calls[i]``'s
    namespace's dimension."""
    for namespace, reply in zip(calls, replies):
        if reply[0] == b"dim":
            raise DimensionMismatchError(int(reply[1]), dims[namespace] or 0, namespace)


def delete_outcome(existed: Any, x: Any, now: float) -> tuple[bool, bool]:
    """(removed a live entry, removed an expired one) from the DELETE script's reply."""
    if not existed:
        return False, False
    try:
        gone = expired(x, now)
    except UnsafeRecordError:  # a foreign expiry: the entry is deleted all the same
        gone = False
    return (False, True) if gone else (True, False)


# --- search ------------------------------------------------------------------------------


def check_kind_replies(filters: FilterNode, replies: list[Any], now: float) -> None:
    """Raise :class:`FilterValueError` when a range condition of ``filters`` orders a
    number against a str stored by a live entry with a vector; ``replies`` alternate the
    ``HMGET m x`` and ``HEXISTS f`` of each entry (see :func:`kind_leaves`)."""
    leaves = range_leaves(filters)
    for i in range(0, len(replies), 2):
        (metadata, x), has_vector = replies[i], replies[i + 1]
        if metadata is None or not has_vector or expired(x, now):
            continue
        stored = metadata_of(metadata)
        for leaf in leaves:
            error = kind_clash(leaf, stored.get(leaf.key))
            if error is not None:
                raise error


def needs_kind_check(filters: FilterNode | None) -> bool:
    """Whether ``filters`` has range conditions, whose value kinds must be checked."""
    return filters is not None and bool(range_leaves(filters))


@dataclass(slots=True)
class SearchJob:
    """One ``search`` call: a :class:`ShardQuery` per query row over the namespace's shards.

    Steps: :meth:`calls` the first pass, :meth:`first` its replies; while a row may miss a
    match (:meth:`may_hold_more`), :meth:`calls_again` a deeper pass and :meth:`hits_again`
    its replies.
    """

    namespace: str
    shards: list[tuple[str, str, str]]  # (vector set, expiry set, entry prefix)
    plans: list[ShardQuery]
    k: int
    now: float
    dim: int
    floor: float
    predicate: Callable[[Mapping[str, Any]], bool] | None

    @classmethod
    def make(
        cls,
        settings: Settings,
        tags: tuple[str, ...],
        queries: FloatMatrix,
        k: int,
        namespace: str,
        filters: FilterNode | None,
        now: float,
        with_vectors: bool,
        threshold: float | None,
    ) -> SearchJob:
        keys = settings.keys
        shards = [(keys.vset_key(t), keys.expiry_key(t), keys.entry_prefix(t)) for t in tags]
        plans = [
            ShardQuery(
                blob_of(row),
                k if filters is None else 4 * k,
                max(settings.ef_search, k),
                threshold,
                to_expression(filters),
                now,
                with_vectors,
                settings.exact_below,
            )
            for row in queries
        ]
        return cls(
            namespace,
            shards,
            plans,
            k,
            now,
            queries.shape[1],
            score_floor(threshold),
            None if filters is None else compile_filter(filters),
        )

    def calls(self) -> list[NodeCall]:
        """The first pass of every row (one script per shard and row) as calls for
        :func:`~.fanout.fan_out` (replies in this order), after each shard's sweep of its
        expired entries (:data:`.scripts.PURGE`: in the same round, so a search costs one
        round trip to each node)."""
        sweeps = [
            NodeCall(vset, ("EVAL", PURGE, 2, vset, expiry, repr(float(self.now)), prefix))
            for vset, expiry, prefix in self.shards
        ]
        return sweeps + [c for plan in self.plans for c in shard_calls(self.shards, plan, False)]

    def swept(self, replies: list[Any]) -> tuple[int, list[Any]]:
        """The entries the sweeps of :meth:`calls` removed, and the search replies."""
        n = len(self.shards)
        return sum(int(r) for r in replies[:n] if r is not None), replies[n:]

    def calls_again(self, row: int, hits: int, more: list[bool]) -> list[NodeCall]:
        """Row ``row``'s deeper pass, after one whose merge kept ``hits``: a scan with a
        larger ``COUNT`` (:meth:`.ShardQuery.deepen`) of the shards that may hold more."""
        plan = self.plans[row]
        plan.deepen(hits, self.k)
        return shard_calls([s for s, again in zip(self.shards, more) if again], plan, True)

    def first(
        self, replies: list[Any]
    ) -> list[tuple[list[tuple[StoredEntry, float]], list[tuple[list[Any], bool]]]]:
        """Per row: its hits, and each shard's (rows, may hold more)."""
        n = len(self.shards)
        out = []
        for i, plan in enumerate(self.plans):
            per_shard = [
                ([], False)  # a shard out of reach (allowed partial): nothing from it
                if reply is None
                else parse_shard(reply, self.namespace, plan.count, self.dim)
                for reply in replies[i * n : (i + 1) * n]
            ]
            rows = [row for found, _ in per_shard for row in found]
            out.append((merge(rows, self.k, self.now, self.floor, self.predicate), per_shard))
        return out

    def may_hold_more(
        self, hits: list[tuple[StoredEntry, float]], per_shard: list[tuple[list[Any], bool]]
    ) -> list[bool]:
        """Per shard, whether a row must search it deeper: it may hold more candidates (it
        returned all it was asked for, each unseen one scoring at most its lowest returned)
        and the merge came back short, or the last hit scores below that lowest candidate
        (a candidate the server did not return may pass the client-side filter and beat
        it)."""
        return [_may_hold_more(found, full, hits, self.k) for found, full in per_shard]

    def hits_again(
        self,
        row: int,
        per_shard: list[tuple[list[Any], bool]],
        more: list[bool],
        replies: list[Any],
    ) -> tuple[list[tuple[StoredEntry, float]], list[bool]]:
        """A row's hits once the replies of :meth:`calls_again` replace the rows of the
        shards it searched in ``per_shard`` (a shard out of reach: none, and no more), and
        which shards may still hold more (:meth:`may_hold_more`)."""
        fresh = iter(replies)
        count = self.plans[row].count
        for i, again in enumerate(more):
            if again:
                reply = next(fresh)
                per_shard[i] = (
                    ([], False)
                    if reply is None
                    else parse_shard(reply, self.namespace, count, self.dim)
                )
        rows = [one for found, _ in per_shard for one in found]
        hits = merge(rows, self.k, self.now, self.floor, self.predicate)
        return hits, self.may_hold_more(hits, per_shard)


def _may_hold_more(
    found: list[tuple[float, StoredEntry]],
    full: bool,
    hits: list[tuple[StoredEntry, float]],
    k: int,
) -> bool:
    if not full:
        return False
    if len(hits) < k or not found:
        return True
    return hits[-1][1] < min(score for score, _ in found)


def queue_claim(
    settings: Settings, pipe: Any, namespace: str, counts: dict[str, int], dim: int | None
) -> None:
    """Queue a write's one round to its namespace's meta hash: the shard count recorded
    again (it may be gone: another worker's ``clear``, an eviction) and read back, and with
    vectors, ``dim`` offered and read back. See :func:`claimed`."""
    meta = settings.keys.meta_key(namespace)
    count = counts.get(namespace, settings.default_shards)
    pipe.execute_command("HSETNX", meta, "shards", count)
    pipe.execute_command("HGET", meta, "shards")
    if dim is not None:
        pipe.execute_command("HSETNX", meta, "dim", dim)
        pipe.execute_command("HGET", meta, "dim")


def claimed(
    namespace: str, counts: dict[str, int], replies: list[Any], dim: int | None
) -> tuple[int | None, bool]:
    """After :func:`queue_claim`'s round: the meta's shard count becomes this process's
    (a worker whose count is stale follows the meta, so no key lives in two shards); the
    dimension the meta holds (None without ``dim``), and whether this round set it: then
    the meta had none (a new namespace, or a meta hash evicted while its vector sets
    stayed) and :func:`vector_dim_calls` must confirm it."""
    counts[namespace] = meta_count(replies[1], namespace, "shards")
    if dim is None:
        return None, False
    return meta_count(replies[3], namespace, "dim"), int(replies[2]) == 1


def vector_dim_calls(settings: Settings, namespace: str, count: int) -> list[NodeCall]:
    """Each shard's vector dimension (0: no set), for :func:`vectors_dim`."""
    sets = [settings.keys.vset_key(tag) for tag in settings.keys.shard_tags(namespace, count)]
    return [NodeCall(vset, ("EVAL", VECTOR_DIM, 1, vset)) for vset in sets]


def vectors_dim(done: Fanout, claimed_dim: int) -> int:
    """The dimension a write must keep to after claiming ``claimed_dim`` afresh: that of
    the vectors a shard still holds, where one does (the meta hash was lost), else the
    claimed one."""
    return next((int(d) for d in done.replies if int(d) not in (0, claimed_dim)), claimed_dim)
