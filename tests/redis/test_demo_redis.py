"""``semcache demo --redis URL``: the same tour on Redis 8, leaving no key behind."""

from __future__ import annotations

from tour_run import run_tour

import redis
from semcache_core.redis_local import LocalServer


def test_the_tour_runs_on_redis(redis_standalone: LocalServer, redis_client: redis.Redis) -> None:
    figures, printed = run_tour(True, redis_standalone.url, embed_requests=60)
    assert figures["backend"] == "redis" and "Redis at" in printed
    assert (
        figures["chat"]["wrong"] == 0
        and figures["chat"]["model_calls"] < figures["chat"]["requests"]
    )
    assert figures["saved"]["embedding_calls"] > 0
    ours = figures["index"]["semcache"]
    assert ours["node_ids"] and ours["reloaded_ids"] == ours["node_ids"]
    assert redis_client.dbsize() == 0  # the tour removed its keys
