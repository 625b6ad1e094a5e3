"""semcache_core.redis_local on real servers: vector sets, loopback only, sharding, AOF
restarts, failover and rejoin, pause, and signals that reach only our own processes."""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from redis.crc import key_slot

import redis
from semcache_core.errors import RedisServerError
from semcache_core.redis_local import (
    MIN_VERSION,
    LocalCluster,
    LocalNode,
    LocalServer,
    find_redis_server,
    start_cluster,
    start_standalone,
)
from semcache_core.redis_local.topology import SLOTS


def _keys_on(cluster: LocalCluster, primary: str, count: int) -> list[str]:
    """``count`` keys whose slots the shard of ``primary`` serves."""
    (shard,) = [s for s in cluster.shards() if s.primary == primary]
    keys: list[str] = []
    tag = 0
    while len(keys) < count:
        key = f"{{t{tag}}}:k"
        slot = key_slot(key.encode())
        if any(start <= slot <= end for start, end in shard.slots):
            keys.append(key)
        tag += 1
    return keys


def _listening(ports: set[int]) -> list[tuple[str, int]]:
    """(local address, port) of every LISTEN socket on ``ports``, from /proc/net/tcp{,6}."""
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] != "0A" or int(port_hex, 16) not in ports:
                continue
            raw = bytes.fromhex(address)
            if width == 8:
                host = socket.inet_ntop(socket.AF_INET, struct.pack("<I", int(address, 16)))
            else:  # four little-endian 32-bit words
                words = struct.unpack("<4I", raw)
                host = socket.inet_ntop(socket.AF_INET6, struct.pack(">4I", *words))
            found.append((host, int(port_hex, 16)))
    return found


def test_the_binary_found_has_vector_sets(redis_client: redis.Redis) -> None:
    assert find_redis_server().version[:2] >= MIN_VERSION
    redis_client.execute_command("VADD", "vs", "VALUES", 3, 1.0, 0.0, 0.0, "a")
    redis_client.execute_command("VADD", "vs", "VALUES", 3, 0.0, 1.0, 0.0, "b")
    reply = redis_client.execute_command("VSIM", "vs", "VALUES", 3, 1.0, 0.1, 0.0, "COUNT", 1)
    assert reply == [b"a"]
    assert redis_client.execute_command("VCARD", "vs") == 2


def test_every_server_listens_on_loopback_only(
    redis_standalone: LocalServer, redis_cluster: LocalCluster
) -> None:
    ports = {redis_standalone.port} | {int(a.rsplit(":", 1)[1]) for a in redis_cluster.nodes}
    ports |= {port + 10_000 for port in ports - {redis_standalone.port}}  # cluster bus ports
    sockets = _listening(ports)
    assert {port for _, port in sockets} == ports  # every data and bus port is listening...
    assert {host for host, _ in sockets} == {"127.0.0.1"}  # ...on 127.0.0.1 and nothing else
    assert redis_standalone.client().config_get("bind") == {"bind": "127.0.0.1"}


def test_cluster_spreads_slots_and_keys_over_three_primaries(
    redis_cluster: LocalCluster, cluster_client: redis.RedisCluster
) -> None:
    shards = redis_cluster.shards()
    assert len(shards) == 3 and len(redis_cluster.primaries) == 3
    assert sum(shard.slot_count for shard in shards) == SLOTS
    assert all(shard.slot_count in (5461, 5462) for shard in shards)
    assert all(len(shard.replicas) == 1 for shard in shards)  # one replica each, distinct
    assert sorted(r for s in shards for r in s.replicas) == redis_cluster.replicas
    assert set(redis_cluster.primaries) | set(redis_cluster.replicas) == set(redis_cluster.nodes)
    for index in range(300):
        cluster_client.set(f"key:{index}", index)
    per_primary = {}
    for address in redis_cluster.primaries:
        with redis_cluster.node(address).client() as client:
            per_primary[address] = client.dbsize()
    assert sum(per_primary.values()) == 300
    assert all(count > 50 for count in per_primary.values()), per_primary


def test_a_one_node_cluster_forms_and_serves_every_slot(tmp_path: Path) -> None:
    """Found by review: a node that met no other names itself ":PORT" in CLUSTER NODES, so
    a one-primary cluster (accepted) never got ready: 60 s, then "not running"."""
    cluster = start_cluster(primaries=1, replicas=0, run_dir=tmp_path / "one", persist=False)
    try:
        (shard,) = cluster.shards()
        assert shard.slot_count == SLOTS and [shard.primary] == cluster.primaries
        assert shard.primary.startswith("127.0.0.1:")
        client = cluster.client()
        client.set("k", "v")
        assert client.get("k") == b"v"
        client.close()
    finally:
        cluster.stop()


def test_cluster_client_fixture_starts_each_test_empty(cluster_client: redis.RedisCluster) -> None:
    assert cluster_client.dbsize() == 0  # the previous test's 300 keys were flushed


@pytest.mark.parametrize("persist", [True, False])
def test_a_restarted_standalone_keeps_its_data_only_with_aof(tmp_path: Path, persist: bool) -> None:
    with start_standalone(run_dir=tmp_path / "run", persist=persist) as server:
        client = server.client()
        client.mset({f"k{i}": i for i in range(100)})
        first_pid = server.pid
        server.restart(server.port)
        assert server.pid not in (None, first_pid)
        assert client.dbsize() == (100 if persist else 0)
        assert (server.node(server.port).directory / "appendonlydir").exists() == persist
        client.close()


def test_a_stopped_shard_comes_back_from_its_aof_and_rejoins(
    disposable_cluster: LocalCluster,
) -> None:
    cluster = disposable_cluster
    client = cluster.client()
    primary = cluster.primaries[0]
    (replica,) = cluster.shards()[0].replicas
    keys = _keys_on(cluster, primary, 50)
    elsewhere = _keys_on(cluster, cluster.primaries[1], 1)[0]
    for key in [*keys, elsewhere]:
        client.set(key, key)
    cluster.stop_node(replica)  # both copies of the shard go down: only the AOF holds it
    cluster.stop_node(primary)
    assert cluster.pids[primary] is None and cluster.pids[replica] is None
    with cluster.node(cluster.primaries[1]).client() as other:
        assert other.get(elsewhere) == elsewhere.encode()  # the other shards still serve
    cluster.restart(primary)
    assert [client.get(key) for key in keys] == [key.encode() for key in keys]
    client.close()
    cluster.restart(replica)
    assert cluster.primaries[0] == primary and cluster.shards()[0].replicas == (replica,)
    cluster.stop()  # every node shuts down cleanly (SIGTERM honoured), none is SIGKILLed,
    for node in cluster.node_list:  # also the replica writing its first AOF after its sync
        assert node.log_path.read_text().rstrip().endswith("Redis is now ready to exit, bye bye...")


def test_a_killed_primary_is_replaced_and_rejoins_as_a_replica(
    disposable_cluster: LocalCluster,
) -> None:
    cluster = disposable_cluster
    client = cluster.client()
    client.mset_nonatomic({f"key:{i}": i for i in range(200)})
    victim = cluster.primaries[1]
    (heir,) = cluster.shards()[1].replicas
    for primary in cluster.primaries:  # every write reached its replica before the kill
        with cluster.node(primary).client() as node_client:
            assert node_client.wait(1, 5000) == 1
    cluster.kill(victim)
    assert cluster.pids[victim] is None
    cluster.wait_ready()  # bounded by its timeout: the replica takes over
    assert victim not in cluster.primaries and heir in cluster.primaries
    cluster.restart(victim)
    assert victim in cluster.replicas
    assert cluster.roles()[victim] == f"replica of {heir}"
    assert [int(client.get(f"key:{i}")) for i in range(200)] == list(range(200))
    client.close()


def test_a_paused_node_answers_nothing_until_resumed(tmp_path: Path) -> None:
    with start_standalone(run_dir=tmp_path / "run", persist=False) as server:
        client = server.client(socket_timeout=0.3)  # no retries: LocalNode.client()
        assert client.ping()
        server.pause(server.port)
        assert server.pid is not None  # paused is still running
        with pytest.raises(redis.exceptions.TimeoutError):
            client.ping()
        server.resume(server.port)
        assert client.ping()
        client.close()
        server.pause(server.port)  # stop() resumes a paused server before its SIGTERM
    assert not server.node(server.port).alive()


def test_signals_never_reach_a_pid_that_does_not_run_our_config(tmp_path: Path) -> None:
    foreign = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        node = LocalNode(port=1, directory=tmp_path, pid=foreign.pid)  # a stale record
        assert not node.alive()
        node.pause()
        node.kill()
        node.stop(timeout=0.1)
        with pytest.raises(subprocess.TimeoutExpired):  # a SIGKILL would have landed by now
            foreign.wait(timeout=0.5)
        with open(f"/proc/{foreign.pid}/stat") as stat:
            assert stat.read().rsplit(")", 1)[1].split()[0] in {"S", "R"}  # not SIGSTOPped
    finally:
        foreign.kill()
        foreign.wait()


def test_a_busy_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(RedisServerError, match=str(port)):
            start_standalone(port=port, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_run_dir_holding_servers_is_refused(tmp_path: Path) -> None:
    with start_standalone(run_dir=tmp_path, persist=False) as server:
        with pytest.raises(RedisServerError, match="already holds"):
            start_standalone(run_dir=tmp_path, persist=False)
        assert server.client().ping()  # the first one untouched


def test_stop_asks_again_when_redis_refuses_to_shut_down(tmp_path: Path) -> None:
    # Redis refuses a SIGTERM while it writes its initial AOF (here: AOF switched on at run
    # time, its rewrite slowed per key; in a cluster: a replica just after its sync), and
    # does not retry: stop() must ask again rather than wait for the SIGKILL
    server = start_standalone(run_dir=tmp_path / "run", persist=False)
    with server.client() as client:
        client.mset({f"k{i}": i for i in range(10)})
        client.config_set("rdb-key-save-delay", 100_000)  # 0.1 s per key: a 1 s rewrite
        client.config_set("appendonly", "yes")
    server.stop(timeout=8.0)
    log = server.node(server.port).log_path.read_text()
    assert "Writing initial AOF, can't exit." in log  # the first SIGTERM was refused...
    assert log.rstrip().endswith("Redis is now ready to exit, bye bye...")  # ...a later one won
