"""Calls grouped by the primary that owns their keys, one pipeline per node, every node
at once, all within one deadline: how ``search`` and acknowledged writes reach a cluster.

Why not redis-py's cluster pipeline: it reads the nodes one after the other, retries a
node that timed out (``cluster_error_retry_attempts`` x ``socket_timeout``, seconds) and
cannot tell which shard failed. Here each node's pipeline runs on a client that tries
once and waits at most the deadline on its socket (:meth:`Connection.node_client`); the
first node runs on the calling thread, the others on the connection's executor.

Retry budget: a node that refused the connection, answered ``MOVED``/``ASK``/
``TRYAGAIN``/``CLUSTERDOWN`` or ``READONLY`` (a failover under way) is retried, after the
cluster's slot layout is read again, at most ``Connection.retries`` times and never past
the deadline. A node that timed out is not retried (the deadline is spent, and a write
may have been applied). Whatever is left unanswered is *unreachable*: the caller raises
:class:`BackendUnavailableError`, or (a search with ``allow_partial``) goes on without it.

Acknowledged writes: with ``acks > 0`` each node's pipeline ends with
``WAIT acks timeout_ms`` on the same connection as its writes (``WAIT`` counts the
replicas that reached *this connection's* last write), and fewer confirmations raise
:class:`ReplicationError` (the writes stay applied on the primary).

Example::

    calls = [NodeCall(vset_key, ("EVAL", script, 2, vset_key, zset_key, *args)), ...]
    done = fan_out(conn, calls, "search")
    done.replies[i]    # reply of calls[i] (None where its node is in done.unreachable)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any

import redis

from ...errors import BackendUnavailableError, ReplicationError, SemCacheError
from .connection import Connection, check_open, map_error

__all__ = [
    "RETRIABLE",
    "Fanout",
    "NodeBatch",
    "NodeCall",
    "NodeRetry",
    "Progress",
    "fan_out",
    "node_replies",
    "routed",
]

# errors after which the call's node is asked again, once the layout is re-read
RETRIABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.AskError,  # MOVED too
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.ReadOnlyError,
)


@dataclass(slots=True)
class NodeCall:
    """One command for the node owning ``key`` (every key of the command in its slot)."""

    key: str
    args: tuple[Any, ...]


@dataclass(slots=True)
class Fanout:
    """Replies in the order of the calls; ``None`` for calls whose node is in
    ``unreachable`` (``host:port``, with ``errors`` saying why, one line each)."""

    replies: list[Any]
    unreachable: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class NodeRetry(Exception):
    """A node's answer says: re-read the layout and send these calls again."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def fan_out(
    conn: Connection,
    calls: Sequence[NodeCall],
    what: str,
    *,
    acks: int = 0,
    ack_timeout: float = 0.0,
    allow_unreachable: bool = False,
) -> Fanout:
    """Run ``calls`` on their nodes within ``conn.timeout`` seconds (see the module
    docstring).

    Raises:
        BackendUnavailableError: a node could not be reached in time (unless
            ``allow_unreachable``), naming it.
        ReplicationError: fewer than ``acks`` replicas confirmed a node's writes.
        BackendError / CapabilityError: a node refused a command (script error, ...).
    """
    check_open(conn)
    progress = Progress(len(calls), conn.timeout)
    for attempt in range(conn.retries + 1):
        if attempt:
            pause = progress.pause(attempt)
            if pause is None:
                break
            time.sleep(pause)
            conn.refresh()
        groups = progress.start_round(conn, calls)
        for name, indices, outcome in _run_groups(
            conn, calls, groups, progress.deadline, acks, ack_timeout
        ):
            progress.record(name, indices, outcome)
        if progress.round_done():
            break
    return progress.result(what, conn.timeout, allow_unreachable)


class Progress:
    """One fan-out's bookkeeping, the same for the sync :func:`fan_out` and its async
    twin (:mod:`.aio_fanout`): replies so far, calls still pending, nodes that failed."""

    def __init__(self, count: int, timeout: float) -> None:
        self.deadline = time.monotonic() + timeout
        self.replies: list[Any] = [None] * count
        self.pending = list(range(count))
        self._failures: dict[str, str] = {}  # node -> why, for nodes not retried (timed out)
        self._retrying: dict[str, str] = {}  # the same for the calls of the last retries
        self._retry: list[int] = []

    def pause(self, attempt: int) -> float | None:
        """Seconds to wait before retry ``attempt`` (>= 1); None: the deadline is spent."""
        pause = min(0.05 * 2 ** (attempt - 1), self.deadline - time.monotonic())
        return None if pause <= 0 else pause

    def start_round(self, conn: Any, calls: Sequence[NodeCall]) -> dict[str, list[int]]:
        """The pending calls by node name (``conn.node_of``) for this round."""
        self._retrying = {}
        groups, self._retry = _group(conn, calls, self.pending, self._retrying)
        return groups

    def record(self, name: str, indices: list[int], outcome: Any) -> None:
        """A node's replies (a list) or the exception it met."""
        if isinstance(outcome, NodeRetry):
            self._retrying[name] = f"{name}: {outcome.cause}"
            self._retry += indices
        elif isinstance(outcome, (BackendUnavailableError, TimeoutError)):
            self._failures[name] = f"{name}: {outcome}"
        elif isinstance(outcome, BaseException):
            raise outcome  # the server refused (script error, replicas, ...): not a reach
        else:
            for i, reply in zip(indices, outcome):
                self.replies[i] = reply

    def round_done(self) -> bool:
        """Whether the fan-out is over (nothing to retry, or no time left)."""
        self.pending = self._retry
        return not self.pending or time.monotonic() >= self.deadline

    def result(self, what: str, timeout: float, allow_unreachable: bool) -> Fanout:
        failures = {**self._failures, **self._retrying}
        if not failures:
            return Fanout(self.replies)
        unreachable = sorted(failures)
        result = Fanout(self.replies, unreachable, [failures[name] for name in unreachable])
        if not allow_unreachable:
            raise BackendUnavailableError(
                f"{what}: redis node(s) {', '.join(unreachable)} not reachable within "
                f"{timeout:g} s: {'; '.join(result.errors)}"
            )
        return result


def _group(
    conn: Any, calls: Sequence[NodeCall], pending: list[int], failures: dict[str, str]
) -> tuple[dict[str, list[int]], list[int]]:
    """Pending calls by node name, and the calls whose slot no primary serves now."""
    groups: dict[str, list[int]] = {}
    unrouted: list[int] = []
    for i in pending:
        try:
            name = conn.node_of(calls[i].key)
        except redis.exceptions.RedisError as exc:  # a slot no primary serves now
            failures[f"slot of {calls[i].key!r}"] = f"no primary serves it: {exc}"
            unrouted.append(i)
            continue
        groups.setdefault(name, []).append(i)
    return groups, unrouted


def _run_groups(
    conn: Connection,
    calls: Sequence[NodeCall],
    groups: dict[str, list[int]],
    deadline: float,
    acks: int,
    ack_timeout: float,
) -> list[tuple[str, list[int], Any]]:
    """(node, call indices, replies or the exception) of every group, the first group
    run on this thread; a group still running at the deadline yields a timeout."""
    items = list(groups.items())
    if not items:
        return []
    futures: list[Future[list[Any]]] = []
    if len(items) > 1:
        executor = conn.executor()
        futures = [
            executor.submit(_run_node, conn, name, [calls[i] for i in indices], acks, ack_timeout)
            for name, indices in items[1:]
        ]
    done: list[tuple[str, list[int], Any]] = []
    name, indices = items[0]
    here = _outcome(conn, name, [calls[i] for i in indices], acks, ack_timeout)
    done.append((name, indices, here))
    waiting = set(futures)
    while waiting:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        _, waiting = wait(waiting, timeout=left, return_when=FIRST_COMPLETED)
    for (name, indices), future in zip(items[1:], futures):
        if future.done():
            error = future.exception()
            done.append((name, indices, future.result() if error is None else error))
        else:
            done.append((name, indices, TimeoutError(f"no answer within {conn.timeout:g} s")))
    return done


def _outcome(
    conn: Connection, name: str, calls: list[NodeCall], acks: int, ack_timeout: float
) -> Any:
    try:
        return _run_node(conn, name, calls, acks, ack_timeout)
    except (SemCacheError, NodeRetry, redis.exceptions.RedisError) as exc:
        return exc


def _run_node(
    conn: Connection, name: str, calls: list[NodeCall], acks: int, ack_timeout: float
) -> list[Any]:
    """One pipeline on node ``name`` (``WAIT`` last when ``acks``); replies of ``calls``.

    Raises NodeRetry (see the module docstring), or the node's own error (timeout, script
    error ...) mapped to semcache's, or ReplicationError."""
    pipe = conn.node_client(name).pipeline(transaction=False)
    for call in calls:
        pipe.execute_command(*call.args)
    if acks:
        pipe.execute_command("WAIT", acks, max(1, round(ack_timeout * 1000)))
    try:
        replies = pipe.execute(raise_on_error=False)
    except RETRIABLE as exc:  # not a TimeoutError (no ConnectionError): not retried
        raise NodeRetry(exc) from exc
    except redis.exceptions.RedisError as exc:
        raise map_error(exc, f"node {name}") from exc
    return node_replies(name, replies, acks, ack_timeout)


def node_replies(name: str, replies: list[Any], acks: int, ack_timeout: float) -> list[Any]:
    """The replies of one node's pipeline (``WAIT``'s dropped), read with
    ``raise_on_error=False``: raises NodeRetry, the node's own error mapped to semcache's,
    or :class:`ReplicationError` when fewer than ``acks`` replicas confirmed."""
    for reply in replies:
        if isinstance(reply, RETRIABLE):
            raise NodeRetry(reply)
        if isinstance(reply, redis.exceptions.RedisError):
            raise map_error(reply, f"node {name}") from reply
    if acks:
        acked = int(replies.pop())
        if acked < acks:
            raise ReplicationError(
                f"node {name}: {acked} of {acks} replica(s) confirmed the write within "
                f"{ack_timeout:g} s (min_replica_acks); it is applied on the primary and "
                f"may still reach the replicas",
                name,
                acked,
                acks,
            )
    return replies


def routed(args: tuple[Any, ...]) -> NodeCall:
    """A command as a :class:`NodeCall`, routed by its first key (``EVAL``'s after the
    script and key count)."""
    key = args[3] if str(args[0]).upper() in ("EVAL", "EVALSHA") else args[1]
    return NodeCall(str(key), args)


class NodeBatch:
    """A pipeline look-alike for writes that must be acknowledged by replicas: commands
    queue as :class:`NodeCall` (routed by their first key) and :meth:`execute` fans them
    out with ``WAIT`` (see the module docstring). Takes what the backend's write paths
    send: ``execute_command("EVAL", script, numkeys, key, ...)`` and one-key commands."""

    def __init__(self, conn: Connection, what: str, acks: int, ack_timeout: float) -> None:
        self._conn = conn
        self._what = what
        self._acks = acks
        self._ack_timeout = ack_timeout
        self._calls: list[NodeCall] = []

    def execute_command(self, *args: Any) -> None:
        self._calls.append(routed(args))

    def unlink(self, name: str) -> None:
        self.execute_command("UNLINK", name)

    def execute(self) -> list[Any]:
        if not self._calls:
            return []
        done = fan_out(
            self._conn, self._calls, self._what, acks=self._acks, ack_timeout=self._ack_timeout
        )
        return done.replies
