"""A group of local nodes under one run directory, and the standalone server.

The run directory holds ``semcache-redis.json`` (the kind, the binary, the persistence choice
and every node's port, directory and pid) and one directory per node (``<port>/``). It is
written at every change of pid, so another process (``semcache cluster status`` / ``down``)
can attach to the group and signal exactly the pids it recorded, after checking each one is
still our server.

Example::

    with start_standalone() as server:  # a free port, a temporary run directory
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import RedisServerError
from .binary import find_redis_server
from .node import LocalNode, PortInUseError, free_port, port_is_free

__all__ = ["STATE_FILE", "LocalGroup", "LocalServer", "NodeRef", "start_standalone"]

STATE_FILE = "semcache-redis.json"
NodeRef = LocalNode | str | int  # a node, its "127.0.0.1:PORT" address or its port
_PORT_RETRIES = 5


class LocalGroup:
    """Local servers started together under ``run_dir``: the part standalone and cluster share.

    ``stop()`` and the other signals reach only the processes this group started (checked by
    pid and command line), never a ``redis-server`` someone else runs on the same machine.
    """

    kind = "group"

    def __init__(
        self,
        nodes: list[LocalNode],
        run_dir: Path,
        binary: str,
        *,
        persist: bool,
        detach: bool = False,
        temporary: bool = False,
    ) -> None:
        self.node_list = nodes
        self.run_dir = run_dir
        self.binary = binary
        self.persist = persist
        self.detach = detach
        self._temporary = temporary  # a run dir we made: removed by stop()
        self.extra_config: tuple[str, ...] = ()  # more redis.conf lines (start_standalone)

    # -- what the group is -------------------------------------------------------------
    @property
    def nodes(self) -> list[str]:
        """Every node's ``"127.0.0.1:PORT"``, in start order."""
        return [node.address for node in self.node_list]

    @property
    def urls(self) -> list[str]:
        """Every node's ``"redis://127.0.0.1:PORT"``, in start order."""
        return [node.url for node in self.node_list]

    @property
    def pids(self) -> dict[str, int | None]:
        """Each node's pid while it is running (ours), else None."""
        return {n.address: n.pid if n.alive() else None for n in self.node_list}

    def node(self, ref: NodeRef) -> LocalNode:
        """The node ``ref`` names (a :class:`LocalNode`, ``"127.0.0.1:PORT"`` or a port)."""
        for node in self.node_list:
            if ref is node or ref == node.address or ref == node.port:
                return node
        raise RedisServerError(f"{ref!r} is not a node of this group ({', '.join(self.nodes)})")

    # -- signals -----------------------------------------------------------------------
    def kill(self, ref: NodeRef) -> None:
        """SIGKILL one node, as a crash would (its last second of AOF may be lost)."""
        self.node(ref).kill()

    def stop_node(self, ref: NodeRef, timeout: float = 10.0) -> None:
        """SIGTERM one node (a clean shutdown: its AOF is flushed), SIGKILL after
        ``timeout`` seconds; :meth:`restart` brings it back."""
        self.node(ref).stop(timeout)

    def pause(self, ref: NodeRef) -> None:
        """SIGSTOP one node: it holds its sockets and answers nothing until :meth:`resume`."""
        self.node(ref).pause()

    def resume(self, ref: NodeRef) -> None:
        """SIGCONT one node after :meth:`pause`."""
        self.node(ref).resume()

    def restart(self, ref: NodeRef, timeout: float = 30.0) -> None:
        """Stop one node if it runs (SIGTERM), start it again on the same config and directory
        (its AOF, its cluster identity) and wait until the group is ready again."""
        node = self.node(ref)
        node.stop()
        node.spawn(self.binary, detach=self.detach)
        self.save_state()
        node.wait_ping(time.monotonic() + timeout)
        self.wait_ready(timeout)

    def start_stopped(self, timeout: float = 30.0) -> list[str]:
        """Start every node that is not running, on its recorded config; wait until ready.
        Returns the addresses started."""
        started = [node for node in self.node_list if not node.alive()]
        for node in started:
            node.spawn(self.binary, detach=self.detach)
        self.save_state()
        deadline = time.monotonic() + timeout
        for node in started:
            node.wait_ping(deadline)
        self.wait_ready(max(deadline - time.monotonic(), 1.0))
        return [node.address for node in started]

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Poll until every running node answers; :class:`RedisServerError` after ``timeout``."""
        deadline = time.monotonic() + timeout
        for node in self.node_list:
            if node.alive() and not node.paused:
                node.wait_ping(deadline)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every node this group started: SIGTERM to all, SIGKILL to any still running
        after ``timeout`` seconds. A temporary run directory is then removed."""
        deadline = time.monotonic() + timeout
        for node in self.node_list:  # all signalled first, so their shutdowns overlap
            node.terminate()
        for node in self.node_list:
            node.stop(timeout=max(deadline - time.monotonic(), 0.0))
        if self._temporary:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        else:
            self.save_state()

    def purge(self, timeout: float = 10.0) -> None:
        """:meth:`stop`, then remove what the group wrote: node directories and state file
        (the run directory itself too when that leaves it empty)."""
        self.stop(timeout)
        for node in self.node_list:
            shutil.rmtree(node.directory, ignore_errors=True)
        (self.run_dir / STATE_FILE).unlink(missing_ok=True)
        if self.run_dir.is_dir() and not any(self.run_dir.iterdir()):
            self.run_dir.rmdir()

    def __enter__(self) -> LocalGroup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the state file ----------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "binary": self.binary,
            "persist": self.persist,
            "nodes": [
                {"port": n.port, "directory": str(n.directory.resolve()), "pid": n.pid}
                for n in self.node_list
            ],
        }

    def save_state(self) -> None:
        if not self.run_dir.is_dir():
            return  # purged
        path = self.run_dir / STATE_FILE
        scratch = path.with_suffix(".tmp")
        scratch.write_text(json.dumps(self.state(), indent=2) + "\n")
        os.replace(scratch, path)


def read_state(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The state file of ``run_dir``, or None when it has none."""
    path = Path(run_dir) / STATE_FILE
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise RedisServerError(f"cannot read {path}: {exc}") from exc
    if not isinstance(state, dict) or not isinstance(state.get("nodes"), list):
        raise RedisServerError(f"{path} is not a semcache run-directory state file")
    return state


def nodes_from_state(state: dict[str, Any]) -> list[LocalNode]:
    try:
        return [
            LocalNode(port=int(n["port"]), directory=Path(n["directory"]), pid=_pid(n.get("pid")))
            for n in state["nodes"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise RedisServerError(f"malformed node record in the state file: {exc}") from exc


def _pid(value: Any) -> int | None:
    """A node record's pid: a positive int, or None (not started); else ValueError (a pid
    of another type would be signalled, or fail deep in a stop)."""
    if value is None or (type(value) is int and value > 0):
        return value
    raise ValueError(f"pid must be a positive integer, got {value!r}")


def prepare_run_dir(run_dir: str | os.PathLike[str] | None) -> tuple[Path, bool]:
    """The run directory to use and whether it is a temporary one we made; refuses a
    directory that already holds a group (attach to it instead)."""
    if run_dir is None:
        return Path(tempfile.mkdtemp(prefix="semcache-redis-")), True
    path = Path(run_dir)
    if (path / STATE_FILE).exists():
        raise RedisServerError(
            f"{path} already holds local Redis servers ({STATE_FILE}); stop and purge them "
            "(`semcache cluster down --purge`) or choose another run directory"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path, False


def check_ports_free(ports: list[int], *, cluster: bool) -> None:
    """Raise :class:`RedisServerError` naming the ports (and, for a cluster, the bus
    ports: each + 10,000) that are outside 1-65535 or in use."""
    needed = [*ports, *(p + 10_000 for p in ports if cluster)]
    outside = [p for p in needed if not 1 <= p <= 65_535]
    if outside:
        bus = " (a cluster node's bus port is its port + 10,000)" if cluster else ""
        raise RedisServerError(
            f"port(s) {', '.join(map(str, sorted(outside)))} are outside 1-65535{bus}; "
            "choose another --port (or none, for free ports)"
        )
    busy = [p for p in ports if not port_is_free(p)]
    if cluster:
        busy += [p + 10_000 for p in ports if not port_is_free(p + 10_000)]
    if busy:
        raise RedisServerError(
            f"port(s) {', '.join(map(str, sorted(busy)))} on 127.0.0.1 are in use; "
            "choose another --port (or none, for free ports)"
        )


def spawn_all(group: LocalGroup, *, cluster: bool, auto_ports: bool, timeout: float) -> None:
    """Start every node of a new group and wait for PING. With ``auto_ports``, a node whose
    port was taken meanwhile moves to another free port. On failure, stops what it started."""
    deadline = time.monotonic() + timeout
    try:
        for node in group.node_list:
            node.write_config(cluster=cluster, persist=group.persist, extra=group.extra_config)
            node.spawn(group.binary, detach=group.detach)
        group.save_state()
        for node in group.node_list:
            for attempt in range(_PORT_RETRIES):
                try:
                    node.wait_ping(deadline)
                    break
                except PortInUseError:
                    if not auto_ports or attempt == _PORT_RETRIES - 1:
                        raise
                taken = {n.port for n in group.node_list}
                old_directory = node.directory
                node.port = free_port(cluster, exclude=taken)
                node.directory = old_directory.with_name(str(node.port))
                shutil.rmtree(old_directory, ignore_errors=True)
                node.write_config(cluster=cluster, persist=group.persist, extra=group.extra_config)
                node.spawn(group.binary, detach=group.detach)
                group.save_state()
    except BaseException:
        group.stop(timeout=5.0)
        raise


class LocalServer(LocalGroup):
    """One standalone Redis on 127.0.0.1 (see :func:`start_standalone`)."""

    kind = "standalone"

    @property
    def url(self) -> str:
        """``"redis://127.0.0.1:PORT"``."""
        return self.node_list[0].url

    @property
    def port(self) -> int:
        return self.node_list[0].port

    @property
    def pid(self) -> int | None:
        return self.pids[self.node_list[0].address]

    def client(self, **options: Any) -> Any:
        """A ``redis.Redis`` on the server (``decode_responses`` etc. pass through)."""
        return self.node_list[0].client(**options)

    def __enter__(self) -> LocalServer:
        return self


def start_standalone(
    port: int | None = None,
    run_dir: str | os.PathLike[str] | None = None,
    *,
    persist: bool = True,
    detach: bool = False,
    timeout: float = 30.0,
    extra_config: Sequence[str] = (),
) -> LocalServer:
    """Start one Redis (>= 8, with vector sets) on 127.0.0.1 and wait until it answers.

    ``port=None`` picks a free port. ``run_dir=None`` uses a temporary directory that
    :meth:`~LocalGroup.stop` removes; a given directory is kept (config, pid, log, AOF).
    ``persist`` turns the AOF on (``appendfsync everysec``): a restarted server comes back
    with its data. ``detach`` lets the server outlive this process.
    Raises :class:`RedisServerError` when no binary is found, the port is taken or the
    server does not start.
    """
    extra = tuple(extra_config)
    if any(not isinstance(line, str) or "\n" in line or "\r" in line for line in extra):
        raise RedisServerError(f"extra_config must be single config lines, got {extra!r}")
    binary = find_redis_server().path
    if port is not None:
        check_ports_free([port], cluster=False)
    directory, temporary = prepare_run_dir(run_dir)
    chosen = port if port is not None else free_port(cluster=False)
    node = LocalNode(port=chosen, directory=directory / str(chosen))
    server = LocalServer(
        [node], directory, binary, persist=persist, detach=detach, temporary=temporary
    )
    server.extra_config = extra
    spawn_all(server, cluster=False, auto_ports=port is None, timeout=timeout)
    return server
