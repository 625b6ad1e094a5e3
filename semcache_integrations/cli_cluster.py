"""``semcache cluster up | status | down``: a local Redis Cluster for development.

The logic lives in :mod:`semcache_core.redis_local`; this module parses, prints and picks
exit statuses. The run directory (``--run-dir``, default ``./.semcache-cluster``) holds
each node's config, pid, log and AOF plus ``semcache-redis.json``, the record that
``status`` and ``down`` read.

- ``up`` starts a cluster (default 3 primaries x 1 replica on ports 7000-7005; ``--port 0``
  takes free ports) and prints the node list and the ``RedisBackend(...)`` line to paste.
  When the run directory's cluster is already running, ``up`` says so and exits 1 (it is
  not idempotent: a second ``up`` never starts a second cluster or touches the first).
  When it records a stopped cluster (after ``down`` without ``--purge``), ``up`` starts the
  same nodes again, with their data (AOF) and cluster identities.
- ``status`` prints every node's role, pid, whether it runs and its key count; exit 0 when
  every recorded node runs, 1 otherwise.
- ``down`` stops the pids recorded in the run directory, and only those (each is checked to
  be running our config first); ``--purge`` also removes the data. Exit 0, also when
  nothing was running.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from semcache_core.errors import RedisServerError
from semcache_core.redis_local import LocalCluster, LocalGroup, attach, start_cluster
from semcache_core.redis_local.node import redis_module

__all__ = ["DEFAULT_RUN_DIR", "add_cluster_parser", "run_cluster"]

DEFAULT_RUN_DIR = ".semcache-cluster"
DEFAULT_PORT = 7000


def add_cluster_parser(commands: Any) -> None:
    """Register ``cluster`` and its subcommands on the ``semcache`` parser's subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--run-dir", default=DEFAULT_RUN_DIR, help=f"default ./{DEFAULT_RUN_DIR}")
    parser = commands.add_parser("cluster", help="start, inspect or stop a local Redis Cluster")
    actions = parser.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", parents=[common], help="start a local Redis Cluster")
    up.add_argument("--primaries", type=int, default=None, help="shards (default 3)")
    up.add_argument("--replicas", type=int, default=None, help="replicas per shard (default 1)")
    up.add_argument(
        "--port", type=int, default=None, help="first port (default 7000; 0: free ports)"
    )
    up.add_argument("--no-persist", action="store_true", help="no AOF: data dies with a node")
    actions.add_parser("status", parents=[common], help="nodes, roles, pids, keys")
    down = actions.add_parser("down", parents=[common], help="stop the recorded nodes")
    down.add_argument("--purge", action="store_true", help="also delete their data and logs")


def run_cluster(args: argparse.Namespace, console: Console | None = None) -> int:
    """Run the parsed ``cluster`` subcommand; returns the exit status."""
    console = console or Console()
    try:
        if args.action == "up":
            return _up(args, console)
        if args.action == "status":
            return _status(Path(args.run_dir), console)
        return _down(Path(args.run_dir), args.purge, console)
    except RedisServerError as exc:
        console.print(f"[red]{exc}[/red]", highlight=False)
        return 1


def _up(args: argparse.Namespace, console: Console) -> int:
    run_dir = Path(args.run_dir)
    group = attach(run_dir)
    if group is not None:
        running = [address for address, pid in group.pids.items() if pid is not None]
        if running:
            console.print(f"a cluster is already up in {run_dir} ({len(running)} nodes running)")
            _print_status(group, console)
            return 1
        shaped = args.primaries, args.replicas, args.port
        if any(option is not None for option in shaped) or args.no_persist:
            console.print(
                f"{run_dir} holds a stopped cluster: `semcache cluster up` without shape "
                "options starts it again with its data, or `semcache cluster down --purge` "
                "removes it first"
            )
            return 1
        started = group.start_stopped()
        console.print(f"started again from {run_dir}: {', '.join(started)}")
    else:
        port = DEFAULT_PORT if args.port is None else args.port
        group = start_cluster(
            primaries=3 if args.primaries is None else args.primaries,
            replicas=1 if args.replicas is None else args.replicas,
            port=port or None,
            run_dir=run_dir,
            persist=not args.no_persist,
            detach=True,  # the servers outlive this command
        )
    _print_status(group, console)
    nodes = ", ".join(f'"{address}"' for address in group.nodes)
    console.print(
        f"\nfrom semcache_core.backends.redis import RedisBackend\n"
        f"backend = RedisBackend(cluster_nodes=[{nodes}])",
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"\nstop it with: semcache cluster down --run-dir {run_dir}", highlight=False)
    return 0


def _status(run_dir: Path, console: Console) -> int:
    group = attach(run_dir)
    if group is None:
        console.print(f"no cluster recorded in {run_dir}")
        return 1
    running = _print_status(group, console)
    return 0 if running == len(group.node_list) else 1


def _down(run_dir: Path, purge: bool, console: Console) -> int:
    group = attach(run_dir)
    if group is None:
        console.print(f"no cluster recorded in {run_dir}: nothing to stop")
        return 0
    stopped = {address: pid for address, pid in group.pids.items() if pid is not None}
    if purge:
        group.purge()
    else:
        group.stop()
    for address, pid in stopped.items():
        console.print(f"stopped {address} (pid {pid})")
    if not stopped:
        console.print(f"no node recorded in {run_dir} was running")
    console.print("removed its data" if purge else f"data kept in {run_dir}")
    return 0


def _print_status(group: LocalGroup, console: Console) -> int:
    """Print the node table; returns how many nodes run."""
    roles = group.roles() if isinstance(group, LocalCluster) else {}
    redis = redis_module()
    table = Table(title=f"{group.kind} in {group.run_dir}")
    for column in ("node", "role", "pid", "alive", "keys"):
        table.add_column(column)
    running = 0
    for node, (address, pid) in zip(group.node_list, group.pids.items()):
        keys = "-"
        if pid is not None:
            running += 1
            try:
                with node.client(socket_timeout=1.0) as client:
                    keys = str(client.dbsize())
            except redis.exceptions.RedisError:  # a paused or dying node: still a row
                keys = "?"
        table.add_row(
            address,
            roles.get(address, "-"),
            str(pid) if pid is not None else "-",
            "yes" if pid is not None else "no",
            keys,
        )
    console.print(table)
    return running
