"""Real Redis servers for the tests in this folder (no fakeredis), on 127.0.0.1 only.

Session-scoped, started on first use and stopped by pid at the end of the run (also when a
test fails or the run is interrupted: pytest's teardown, with ``atexit`` behind it):

- ``redis_standalone``: one Redis 8 (:class:`LocalServer`; ``.url`` is
  ``"redis://127.0.0.1:PORT"``), no AOF;
- ``redis_cluster``: 3 primaries + 3 replicas (:class:`LocalCluster`; ``.nodes`` lists every
  ``"127.0.0.1:PORT"``, ``.primaries`` / ``.replicas`` the roles now, ``.urls``), no AOF.

Function-scoped:

- ``redis_client``: a ``redis.Redis`` on ``redis_standalone``, after ``FLUSHALL``;
- ``cluster_client``: a ``redis.RedisCluster`` on ``redis_cluster``, after ``FLUSHALL`` on
  every primary;
- ``disposable_cluster``: its own 3 + 3 cluster with AOF on, for tests that kill, pause or
  restart nodes (never do that to ``redis_cluster``: later tests share it).

The session servers run without AOF: they are flushed between tests, and what they test is
not persistence (``disposable_cluster`` and ``start_standalone(persist=True)`` are).
"""

from __future__ import annotations

import atexit
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import redis
from semcache_core.redis_local import LocalCluster, LocalServer, start_cluster, start_standalone


@pytest.fixture(scope="session")
def redis_standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    server = start_standalone(run_dir=tmp_path_factory.mktemp("redis-standalone"), persist=False)
    atexit.register(server.stop)  # if the session's teardown never runs
    try:
        yield server
    finally:
        server.stop()
        atexit.unregister(server.stop)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = start_cluster(
        primaries=3, replicas=1, run_dir=tmp_path_factory.mktemp("redis-cluster"), persist=False
    )
    atexit.register(cluster.stop)
    try:
        yield cluster
    finally:
        cluster.stop()
        atexit.unregister(cluster.stop)


@pytest.fixture
def redis_client(redis_standalone: LocalServer) -> Iterator[redis.Redis]:
    client: redis.Redis = redis.Redis.from_url(redis_standalone.url)
    client.flushall()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def cluster_client(redis_cluster: LocalCluster) -> Iterator[Any]:
    client = redis_cluster.client()
    client.flushall(target_nodes=redis.RedisCluster.PRIMARIES)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def disposable_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    cluster = start_cluster(primaries=3, replicas=1, run_dir=tmp_path / "cluster", persist=True)
    atexit.register(cluster.stop)
    try:
        yield cluster
    finally:
        cluster.stop()
        atexit.unregister(cluster.stop)
