"""A Redis 8 server and a 3 + 3 cluster for the pages whose examples talk to Redis.

Started on first use (only when such a page runs), on free loopback ports, stopped by pid
at the end of the session; the same helpers as ``tests/redis/conftest.py``.
"""

from __future__ import annotations

import atexit
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from semcache_core.redis_local import LocalCluster, LocalServer, start_cluster, start_standalone


@dataclass(frozen=True)
class DocRedis:
    standalone: LocalServer
    cluster: LocalCluster


@pytest.fixture(scope="session")
def doc_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocRedis]:
    server = start_standalone(run_dir=tmp_path_factory.mktemp("docs-redis"), persist=False)
    atexit.register(server.stop)
    try:
        cluster = start_cluster(
            primaries=3,
            replicas=1,
            run_dir=tmp_path_factory.mktemp("docs-redis-cluster"),
            persist=False,
        )
    except BaseException:
        server.stop()
        raise
    atexit.register(cluster.stop)
    try:
        yield DocRedis(server, cluster)
    finally:
        cluster.stop()
        server.stop()
        atexit.unregister(cluster.stop)
        atexit.unregister(server.stop)
