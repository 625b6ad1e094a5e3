"""The Semantic KV seed's quick start, on a local Redis Cluster.

Starts 3 primaries + 3 replicas on free 127.0.0.1 ports (``semcache cluster up`` does the
same from the shell), uses ``DistributedSemanticKV`` as the seed's README does, and stops
the cluster. Switching from the seed is the import and the node list::

    from semantic_kv import DistributedSemanticKV      # before: Arrow Flight nodes
    kv = DistributedSemanticKV(["grpc://localhost:8815", "grpc://localhost:8816"])

    from semcache_core import DistributedSemanticKV    # after: a Redis Cluster
    kv = DistributedSemanticKV(["redis://127.0.0.1:7000"])  # one node is enough

Run: ``python examples/semantic_kv_cluster.py``
"""

from __future__ import annotations

from semcache_core import DistributedSemanticKV
from semcache_core.redis_local import start_cluster


def main() -> None:
    cluster = start_cluster(primaries=3, replicas=1, persist=False)
    try:
        with DistributedSemanticKV([cluster.urls[0]]) as kv:
            health = kv.health_check()
            print(f"{sum(health.values())}/{len(health)} nodes healthy")

            kv.put("doc:readme", b"How to install and configure the system")
            kv.put("doc:api", b"REST API endpoints and authentication")
            kv.put("doc:deploy", b"Kubernetes deployment guide")
            print("get doc:readme ->", kv.get("doc:readme"))

            # the built-in embedder is lexical: a query sharing two words of five scores
            # under the seed's default threshold (0.7); pass a sentence-transformers model
            # as embedding_provider= to find paraphrases
            found = kv.search("API authentication", top_k=3, threshold=0.3)
            for key, value, similarity, node in found:
                print(f"{similarity:.2f} | {key}: {value[:40]!r} (on {node})")

            kv.put_string("config:host", "localhost")
            kv.put_json("metrics:cpu", {"value": 45.2, "unit": "percent"})
            print("config:host ->", kv.get_string("config:host"))
            print("metrics:cpu ->", kv.get_json("metrics:cpu"))
            print("exists config:host ->", kv.exists("config:host"))
            print("scan config: ->", kv.scan(prefix="config:", limit=100))
            print("delete config:host ->", kv.delete("config:host"))

            for i in range(30):
                kv.put(f"dist:key:{i}", f"value {i}".encode())
            stats = kv.cluster_stats()
            for node, node_stats in sorted(stats.items()):
                if node != "_client":
                    print(f"{node} {node_stats['role']:<7} {node_stats['total_keys']} entries")

            cleared = kv.clear_all()
            print(f"cleared {sum(cleared.values())} entries from {len(cleared)} primaries")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
