"""A local Redis Cluster on 127.0.0.1, made with plain cluster commands (no ``redis-cli``).

How it is formed: every node starts empty with ``cluster-enabled yes``; each takes its own
config epoch (``CLUSTER SET-CONFIG-EPOCH``), each primary its even share of the 16384 slots
(``CLUSTER ADDSLOTSRANGE``), the first node ``CLUSTER MEET``s the others, and once every node
knows every other, each replica ``CLUSTER REPLICATE``s its primary (replica ``j`` follows
primary ``j % primaries``). :meth:`LocalCluster.wait_ready` then polls until the cluster is
whole again, which is also what a test waits for after killing or restarting a node.

Settings chosen for development and tests (see :meth:`LocalNode.write_config`):
``cluster-node-timeout 2000`` (a dead primary is replaced within a few seconds),
``cluster-require-full-coverage no`` (while one shard has no primary, the others keep
serving: reads of keys elsewhere go on during a failover, as a failover test needs; the
price is that a client sees ``CLUSTERDOWN`` only for the keys of the lost shard rather than
for every key) and ``cluster-replica-validity-factor 0`` (a replica always takes over,
however long it was cut off: availability first, as a local cluster wants).

Example::

    with start_cluster(primaries=3, replicas=1) as cluster:
        client = cluster.client()  # redis.RedisCluster
        client.set("k", "v")
        owner = cluster.node_for_key("k")
        cluster.kill(owner)
        cluster.wait_ready()  # its replica has taken over
        cluster.restart(owner)  # it rejoins, as a replica
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ..errors import RedisServerError
from .binary import find_redis_server
from .node import HOST, LocalNode, free_port, redis_module
from .server import (
    LocalGroup,
    check_ports_free,
    nodes_from_state,
    prepare_run_dir,
    read_state,
    spawn_all,
)
from .topology import SLOTS, ClusterView, Shard, parse_cluster_nodes, shards_of

__all__ = ["LocalCluster", "attach", "start_cluster"]

_POLL_S = 0.05


class LocalCluster(LocalGroup):
    """A Redis Cluster of local nodes (see :func:`start_cluster`).

    ``nodes`` / ``urls`` list every node; ``primaries`` / ``replicas`` / ``shards()`` are the
    roles the cluster reports now (they change with a failover).
    """

    kind = "cluster"

    def view(self) -> ClusterView:
        """``CLUSTER NODES`` from the first running, unpaused node that answers."""
        redis = redis_module()
        for node in self.node_list:
            if node.paused or not node.alive():
                continue
            client = node.client(socket_timeout=1.0, socket_connect_timeout=1.0)
            try:
                return parse_cluster_nodes(client.execute_command("CLUSTER", "NODES").decode())
            except redis.exceptions.RedisError:
                continue
            finally:
                client.close()
        raise RedisServerError(f"no node of the cluster in {self.run_dir} answers")

    def roles(self) -> dict[str, str]:
        """Each node's role as the cluster reports it now: ``"primary"``, ``"replica of
        ADDRESS"``, with ``" (failed)"`` appended for a node flagged failed or suspected.
        Empty when no node answers."""
        try:
            view = self.view()
        except RedisServerError:
            return {}
        by_id = {n.node_id: n.address for n in view.values()}
        roles = {}
        for n in view.values():
            role = "primary" if n.is_primary else f"replica of {by_id.get(n.master_id or '')}"
            roles[n.address] = f"{role} (failed)" if n.failing else role
        return roles

    def shards(self) -> list[Shard]:
        """Each primary serving slots, its live replicas and its slot ranges, in slot order."""
        return shards_of(self.view())

    @property
    def primaries(self) -> list[str]:
        """Addresses of the primaries serving slots now."""
        return [shard.primary for shard in self.shards()]

    @property
    def replicas(self) -> list[str]:
        """Addresses of the replicas (not flagged failed) now."""
        return sorted(address for shard in self.shards() for address in shard.replicas)

    def node_for_key(self, key: str | bytes) -> str:
        """The address of the primary serving ``key``'s hash slot now."""
        slot = _key_slot(key)
        for shard in self.shards():
            if any(start <= slot <= end for start, end in shard.slots):
                return shard.primary
        raise RedisServerError(f"no primary serves slot {slot} (of key {key!r}) now")

    def client(self, **options: Any) -> Any:
        """A ``redis.RedisCluster`` on this cluster (short timeouts unless given)."""
        redis = redis_module()
        options.setdefault("socket_timeout", 2.0)
        options.setdefault("socket_connect_timeout", 2.0)
        startup = [
            redis.cluster.ClusterNode(HOST, node.port)
            for node in self.node_list
            if node.alive() and not node.paused
        ]
        return redis.RedisCluster(startup_nodes=startup, **options)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Poll until every running, unpaused node answers, reports ``cluster_state:ok`` and
        holds the same picture of the cluster, in which every slot is served by a running
        primary, no running node is flagged failed, and every running replica has its
        replication link up. :class:`RedisServerError`, naming what is still wrong, after
        ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        super().wait_ready(timeout)
        while True:
            problem = self._not_ready_because()
            if problem is None:
                return
            if time.monotonic() >= deadline:
                raise RedisServerError(f"the cluster in {self.run_dir} is not ready: {problem}")
            time.sleep(_POLL_S)

    def _not_ready_because(self) -> str | None:
        redis = redis_module()
        running = [node for node in self.node_list if node.alive() and not node.paused]
        if not running:
            return "no node is running"
        addresses = {node.address for node in running}
        views: dict[str, ClusterView] = {}
        for node in running:
            client = node.client(socket_timeout=1.0, socket_connect_timeout=1.0)
            try:
                info = client.execute_command("CLUSTER", "INFO").decode()
                if "cluster_state:ok" not in info:
                    return f"{node.address} reports cluster_state other than ok"
                views[node.address] = parse_cluster_nodes(
                    client.execute_command("CLUSTER", "NODES").decode()
                )
                replication = client.info("replication")
                if replication.get("role") == "slave" and (
                    replication.get("master_link_status") != "up"
                ):
                    return f"replica {node.address} has no replication link up yet"
            except redis.exceptions.RedisError as exc:
                return f"{node.address} does not answer: {exc}"
            finally:
                client.close()
        shapes = {
            address: sorted(n.shape() for n in view.values()) for address, view in views.items()
        }
        first = next(iter(shapes.values()))
        for address, shape in shapes.items():
            if shape != first:
                return f"{address} does not agree with {running[0].address} on the cluster"
        for address, view in views.items():
            for other in view.values():
                if other.address in addresses and other.failing:
                    return f"{address} flags {other.address} as {','.join(sorted(other.flags))}"
        served = 0
        for shard in shards_of(next(iter(views.values()))):
            if shard.primary not in addresses:
                return f"primary {shard.primary} is not running and has not been replaced"
            served += shard.slot_count
        return None if served == SLOTS else f"only {served} of {SLOTS} slots are served"

    def form(self, primaries: int, timeout: float) -> None:
        """Join freshly started, empty nodes into a cluster (see the module docstring)."""
        deadline = time.monotonic() + timeout
        clients = [node.client() for node in self.node_list]
        try:
            ids = [c.execute_command("CLUSTER", "MYID").decode() for c in clients]
            for epoch, client in enumerate(clients, start=1):
                client.execute_command("CLUSTER", "SET-CONFIG-EPOCH", epoch)
            for index, client in enumerate(clients[:primaries]):
                start, end = SLOTS * index // primaries, SLOTS * (index + 1) // primaries - 1
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", start, end)
            for node in self.node_list[1:]:
                clients[0].execute_command("CLUSTER", "MEET", HOST, node.port)
            while not all(_knows_all(c, len(clients)) for c in clients):
                if time.monotonic() >= deadline:
                    raise RedisServerError("the cluster's nodes did not all meet in time")
                time.sleep(_POLL_S)
            for index, client in enumerate(clients[primaries:]):
                client.execute_command("CLUSTER", "REPLICATE", ids[index % primaries])
        finally:
            for client in clients:
                client.close()
        self.wait_ready(max(deadline - time.monotonic(), 1.0))


def _knows_all(client: Any, count: int) -> bool:
    view = parse_cluster_nodes(client.execute_command("CLUSTER", "NODES").decode())
    return len(view) == count and not any("handshake" in n.flags for n in view.values())


def _key_slot(key: str | bytes) -> int:
    """Redis Cluster's hash slot of ``key`` (CRC16 of the hash tag, or the key, mod 16384)."""
    from redis.crc import key_slot

    return int(key_slot(key.encode() if isinstance(key, str) else key))


def start_cluster(
    primaries: int = 3,
    replicas: int = 1,
    port: int | None = None,
    run_dir: str | os.PathLike[str] | None = None,
    *,
    persist: bool = True,
    detach: bool = False,
    timeout: float = 60.0,
) -> LocalCluster:
    """Start a Redis Cluster of ``primaries`` shards with ``replicas`` replicas each, on
    127.0.0.1, and wait until it is ready.

    ``port=None`` picks free ports (each with its bus port, +10000, free too); otherwise the
    nodes take ``port``, ``port + 1``, ... (primaries first). ``run_dir``, ``persist`` and
    ``detach`` are as in :func:`~semcache_core.redis_local.start_standalone`. Raises
    :class:`RedisServerError` for a bad shape, a busy port, a missing binary or a cluster that
    does not form in ``timeout`` seconds (every node started is stopped again).
    """
    if primaries < 1 or replicas < 0:
        raise RedisServerError(
            f"need primaries >= 1 and replicas >= 0, got {primaries} and {replicas}"
        )
    count = primaries * (1 + replicas)
    binary = find_redis_server().path
    if port is not None:
        check_ports_free(list(range(port, port + count)), cluster=True)
    directory, temporary = prepare_run_dir(run_dir)
    ports: list[int] = []
    for index in range(count):
        ports.append(port + index if port is not None else free_port(True, exclude=set(ports)))
    nodes = [LocalNode(port=p, directory=directory / str(p)) for p in ports]
    cluster = LocalCluster(
        nodes, directory, binary, persist=persist, detach=detach, temporary=temporary
    )
    spawn_all(cluster, cluster=True, auto_ports=port is None, timeout=timeout)
    try:
        cluster.form(primaries, timeout)
    except BaseException:
        cluster.stop(timeout=5.0)
        raise
    return cluster


def attach(run_dir: str | os.PathLike[str]) -> LocalGroup | None:
    """The local servers recorded in ``run_dir`` (a :class:`LocalCluster` or
    :class:`~semcache_core.redis_local.LocalServer`), or None when it records none. Their
    pids are checked before every signal: only processes still running our configs are
    touched."""
    from .server import LocalServer

    state = read_state(run_dir)
    if state is None:
        return None
    kinds: dict[str, type[LocalGroup]] = {"cluster": LocalCluster, "standalone": LocalServer}
    group_type = kinds.get(str(state.get("kind")))
    if group_type is None:
        raise RedisServerError(f"{run_dir}: unknown kind {state.get('kind')!r} in its state file")
    binary = state.get("binary")
    if not isinstance(binary, str) or not Path(binary).exists():
        binary = find_redis_server().path
    return group_type(
        nodes_from_state(state),
        Path(run_dir),
        binary,
        persist=bool(state.get("persist", True)),
        detach=True,  # what it restarts outlives this process, as the recorded ones do
    )
