"""The async twin of :func:`~.fanout.fan_out`: calls grouped by the primary owning their
keys, one ``redis.asyncio`` pipeline per node, every node at once on the event loop, all
within one deadline (``socket_timeout``); no worker thread.

The rules are :mod:`.fanout`'s, through the same :class:`~.fanout.Progress` bookkeeping and
:func:`~.fanout.node_replies` reading: a node that refused the connection or answered
``MOVED``/``TRYAGAIN``/... is retried after the slot layout is read again, within the
retry budget and the deadline; a node still silent at the deadline is *unreachable*
(its pipeline is cancelled, which drops that connection); with ``acks`` each node's
pipeline ends with ``WAIT`` on the connection that wrote, and fewer confirmations raise
:class:`~semcache_core.errors.ReplicationError`.

Example::

    done = await afan_out(conn, job.calls(), "search", allow_unreachable=True)
    done.replies[i], done.unreachable
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import redis

from ...errors import SemCacheError
from .aio_connection import AsyncConnection
from .connection import check_open, map_error
from .fanout import RETRIABLE, Fanout, NodeCall, NodeRetry, Progress, node_replies, routed

__all__ = ["AsyncNodeBatch", "afan_out"]


async def afan_out(
    conn: AsyncConnection,
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
    await conn.ready()
    for attempt in range(conn.retries + 1):
        if attempt:
            pause = progress.pause(attempt)
            if pause is None:
                break
            await asyncio.sleep(pause)
            await conn.refresh()
        groups = list(progress.start_round(conn, calls).items())
        outcomes = await _run_groups(conn, calls, groups, progress.deadline, acks, ack_timeout)
        for (name, indices), outcome in zip(groups, outcomes):
            progress.record(name, indices, outcome)
        if progress.round_done():
            break
    return progress.result(what, conn.timeout, allow_unreachable)


async def _run_groups(
    conn: AsyncConnection,
    calls: Sequence[NodeCall],
    groups: list[tuple[str, list[int]]],
    deadline: float,
    acks: int,
    ack_timeout: float,
) -> list[Any]:
    """Each group's replies or exception; a group still running at the deadline is
    cancelled and yields a timeout."""
    tasks = [
        asyncio.ensure_future(_outcome(conn, name, [calls[i] for i in indices], acks, ack_timeout))
        for name, indices in groups
    ]
    if not tasks:
        return []
    try:
        await asyncio.wait(tasks, timeout=max(0.0, deadline - time.monotonic()))
    finally:  # also when this call is cancelled: no pipeline outlives it
        late = [task for task in tasks if not task.done()]
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)
    return [
        task.result()
        if not task.cancelled()
        else TimeoutError(f"no answer within {conn.timeout:g} s")
        for task in tasks
    ]


async def _outcome(
    conn: AsyncConnection, name: str, calls: list[NodeCall], acks: int, ack_timeout: float
) -> Any:
    """One pipeline on node ``name`` (``WAIT`` last when ``acks``): its replies, or the
    exception it met (mapped to semcache's, or :class:`NodeRetry`)."""
    try:
        pipe = conn.node_client(name).pipeline(transaction=False)
        for call in calls:
            pipe.execute_command(*call.args)
        if acks:
            pipe.execute_command("WAIT", acks, max(1, round(ack_timeout * 1000)))
        try:
            replies = await pipe.execute(raise_on_error=False)
        except RETRIABLE as exc:  # not a TimeoutError (no ConnectionError): not retried
            raise NodeRetry(exc) from exc
        except redis.exceptions.RedisError as exc:
            raise map_error(exc, f"node {name}") from exc
        return node_replies(name, list(replies), acks, ack_timeout)
    except (SemCacheError, NodeRetry) as exc:
        return exc


class AsyncNodeBatch:
    """The async :class:`~.fanout.NodeBatch`: write commands queued as calls, and
    ``await execute()`` fans them out with ``WAIT`` on each node's connection."""

    def __init__(self, conn: AsyncConnection, what: str, acks: int, ack_timeout: float) -> None:
        self._conn = conn
        self._what = what
        self._acks = acks
        self._ack_timeout = ack_timeout
        self._calls: list[NodeCall] = []

    def execute_command(self, *args: Any) -> None:
        self._calls.append(routed(args))

    async def execute(self) -> list[Any]:
        if not self._calls:
            return []
        done = await afan_out(
            self._conn, self._calls, self._what, acks=self._acks, ack_timeout=self._ack_timeout
        )
        return done.replies
