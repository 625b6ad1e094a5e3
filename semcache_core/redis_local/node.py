"""One local ``redis-server`` process: its config, its directory, its pid, and signals sent to
it only after checking that the pid is still the process we started.

A node lives in its own directory (``<run_dir>/<port>/``) holding ``redis.conf``,
``redis.pid``, ``redis.log``, the AOF directory and, in a cluster, ``nodes.conf``. The server
runs in the foreground (``daemonize no``): we own its process. Its command line names its
config path and keeps it (``set-proc-title no``), which is how a pid read back from disk is
recognised as ours before any signal is sent: a pid the system reused for something else
does not name our config file.

Example::

    node = LocalNode(port=7000, directory=Path("run/7000"))
    node.write_config(cluster=False, persist=True)
    node.spawn(find_redis_server().path)
    node.wait_ping(deadline=time.monotonic() + 10)
    node.stop()
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import RedisServerError

__all__ = ["HOST", "LocalNode", "PortInUseError", "free_port", "port_is_free", "redis_module"]

HOST = "127.0.0.1"  # the only address a local server ever listens on
CLUSTER_BUS_OFFSET = 10_000  # Redis Cluster's bus port is the data port + 10000
NODE_TIMEOUT_MS = 2_000  # cluster-node-timeout: failure detection (and failover) in seconds
_POLL_S = 0.02
_RESEND_S = 0.5


class PortInUseError(RedisServerError):
    """A node could not bind its port (someone took it between our check and its start)."""


def redis_module() -> Any:
    """redis-py, imported on first use (it is the ``redis`` extra, not a core dependency)."""
    try:
        import redis
    except ImportError as exc:
        raise RedisServerError(
            "local Redis servers need redis-py: pip install 'semcache-integrations[redis]'"
        ) from exc
    return redis


def port_is_free(port: int) -> bool:
    """Whether 127.0.0.1:``port`` can be bound now (no SO_REUSEADDR: a port in TIME_WAIT
    counts as taken, which errs on the safe side)."""
    if not 0 < port < 65_536:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port(cluster: bool, exclude: set[int] | frozenset[int] = frozenset()) -> int:
    """A port the kernel hands out for a bind to port 0, free now; for a cluster node, its
    bus port (port + 10000) is free too."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((HOST, 0))
            port = int(probe.getsockname()[1])
        if port in exclude:
            continue
        if not cluster or port_is_free(port + CLUSTER_BUS_OFFSET):
            return port
    raise RedisServerError("found no free loopback port (with its cluster bus port) to use")


def _proc_args(pid: int) -> list[str] | None:
    """The command line of ``pid``, or None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return None
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    except OSError:
        if Path("/proc/self").exists():
            return None  # /proc is there but this pid is not readable: not ours
        done = subprocess.run(  # no /proc (macOS): ps gives the command line
            ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
        )
        return done.stdout.split() or None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


@dataclass(eq=False)
class LocalNode:
    """A ``redis-server`` on 127.0.0.1:``port`` whose files live in ``directory``.

    ``pid`` is the pid we started (None before :meth:`spawn`); signals go to it only while
    :meth:`is_ours` holds.
    """

    port: int
    directory: Path
    pid: int | None = None
    paused: bool = False

    @property
    def address(self) -> str:
        """``"127.0.0.1:PORT"``, the form ``RedisBackend(cluster_nodes=[...])`` takes."""
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.directory / "redis.conf"

    @property
    def log_path(self) -> Path:
        return self.directory / "redis.log"

    def write_config(self, *, cluster: bool, persist: bool, extra: Sequence[str] = ()) -> None:
        """Write ``redis.conf`` (creating the directory); ``extra`` lines go last (e.g.
        ``'rename-command VADD ""'``)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        lines = [
            f"port {self.port}",
            f"bind {HOST}",  # loopback only, never another interface
            "protected-mode yes",
            "daemonize no",  # we own the process: Popen, pid, signals
            "set-proc-title no",  # keeps the config path in the command line (is_ours)
            f"dir {self.directory.resolve()}",
            f"pidfile {(self.directory / 'redis.pid').resolve()}",
            'save ""',  # no RDB snapshots: the AOF is the one persistence
            f"appendonly {'yes' if persist else 'no'}",
            "appendfsync everysec",
            "repl-diskless-sync-delay 0",  # a replica syncs at once, not after 5 s
            "shutdown-timeout 2",  # SIGTERM waits at most 2 s for lagging replicas
        ]
        if cluster:
            lines += [
                "cluster-enabled yes",
                "cluster-config-file nodes.conf",
                f"cluster-node-timeout {NODE_TIMEOUT_MS}",
                # other shards keep serving while one has no reachable primary
                "cluster-require-full-coverage no",
                # a replica fails over however long it was cut off from its primary
                "cluster-replica-validity-factor 0",
            ]
        lines += list(extra)
        self.config_path.write_text("\n".join(lines) + "\n")

    def spawn(self, binary: str, *, detach: bool = False) -> None:
        """Start ``binary`` on this node's config. ``detach=True`` puts it in its own session,
        so it outlives the process that started it and a Ctrl-C there (the CLI's ``up``).

        ``posix_spawn`` rather than ``Popen``: a detached server is meant to outlive this
        process, which a ``Popen`` object would warn about when collected while it runs.
        """
        if self.alive():
            raise RedisServerError(f"{self.address} is already running (pid {self.pid})")
        log_flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        try:
            self.pid = os.posix_spawn(
                binary,
                [binary, str(self.config_path.resolve())],
                os.environ,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 1, str(self.log_path), log_flags, 0o644),
                    (os.POSIX_SPAWN_DUP2, 1, 2),
                ],
                setsid=detach,
            )
        except OSError as exc:
            raise RedisServerError(f"cannot start {binary} for {self.address}: {exc}") from exc
        self.paused = False
        deadline = time.monotonic() + 5.0
        while _proc_args(self.pid) == [] and time.monotonic() < deadline:
            time.sleep(0.001)  # spawned but not yet exec'd: no command line to check yet

    def is_ours(self) -> bool:
        """Whether ``pid`` is alive and is the server started on this node's config."""
        if self.pid is None:
            return False
        self._reap()
        args = _proc_args(self.pid)
        return args is not None and str(self.config_path.resolve()) in args

    def alive(self) -> bool:
        """Whether our server process is running (paused counts as running)."""
        return self.is_ours()

    def _signal(self, sig: signal.Signals) -> None:
        if self.pid is not None and self.is_ours():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL: the server dies at once, as in a crash (up to 1 s of AOF may be lost)."""
        self._signal(signal.SIGKILL)
        self._wait_gone(10.0)
        self.paused = False

    def pause(self) -> None:
        """SIGSTOP: the process stays, its sockets stay open, nothing answers."""
        self._signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        self._signal(signal.SIGCONT)
        self.paused = False

    def terminate(self) -> None:
        """SIGTERM without waiting (a paused node is resumed first, or it would not act)."""
        if self.paused:
            self.resume()
        self._signal(signal.SIGTERM)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (a clean shutdown: the AOF is flushed), SIGKILL after ``timeout`` seconds.
        Does nothing when the process is not ours or is gone.

        SIGTERM is sent again every half second: Redis refuses a shutdown request while it
        writes its initial AOF (just after a replica's sync) and does not retry by itself.
        """
        deadline = time.monotonic() + timeout
        while self.is_ours():
            self.terminate()
            if self._wait_gone(min(_RESEND_S, max(deadline - time.monotonic(), 0.0))):
                break
            if time.monotonic() >= deadline:
                self._signal(signal.SIGKILL)
                self._wait_gone(10.0)
                break
        self._reap()
        self.paused = False

    def _wait_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.is_ours():
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_S)
        self._reap()
        return True

    def _reap(self) -> None:
        """Collect the exit status if the server is our child and has exited (no zombie)."""
        if self.pid is not None:
            with contextlib.suppress(ChildProcessError):  # not our child (attached), or reaped
                os.waitpid(self.pid, os.WNOHANG)

    def client(self, **options: Any) -> Any:
        """A plain ``redis.Redis`` on this node: short timeouts and no retries unless given
        (redis-py's default retries with backoff would turn one probe of a paused or
        starting node into seconds)."""
        redis = redis_module()
        options.setdefault("socket_timeout", 2.0)
        options.setdefault("socket_connect_timeout", 2.0)
        options.setdefault("retry", redis.retry.Retry(redis.backoff.NoBackoff(), 0))
        return redis.Redis(host=HOST, port=self.port, **options)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def wait_ping(self, deadline: float) -> None:
        """Poll until the server answers PING; :class:`RedisServerError` (with the log's tail)
        when it exits or ``deadline`` (a ``time.monotonic()`` value) passes first."""
        redis = redis_module()
        client = self.client(socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            while True:
                if not self.alive():
                    tail = self.log_tail()
                    error = PortInUseError if "Address already in use" in tail else None
                    raise (error or RedisServerError)(
                        f"redis-server on {self.address} exited at start; its log "
                        f"({self.log_path}) ends:\n{tail}"
                    )
                try:
                    if client.ping():
                        return
                except redis.exceptions.BusyLoadingError:
                    pass  # still replaying its AOF
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                    pass
                if time.monotonic() >= deadline:
                    raise RedisServerError(
                        f"redis-server on {self.address} did not answer PING in time; its "
                        f"log ({self.log_path}) ends:\n{self.log_tail()}"
                    )
                time.sleep(_POLL_S)
        finally:
            client.close()
