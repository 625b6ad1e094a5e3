"""``semcache demo --redis URL``: the same tour on Redis 8, leaving no key behind."""

from __future__ import annotations

import io

from rich.console import Console

import redis
from semcache_core.redis_local import LocalServer
from semcache_integrations.demo_tour import tour


def test_the_tour_runs_on_redis(redis_standalone: LocalServer, redis_client: redis.Redis) -> None:
    output = io.StringIO()
    figures = tour(
        redis_standalone.url,
        True,
        Console(file=output, width=150),
        embed_requests=60,
        embed_latency_ms=0,
        chat_latency_ms=0,
        documents=60,
    )
    assert figures["backend"] == "redis" and "Redis at" in output.getvalue()
    assert (
        figures["chat"]["wrong"] == 0
        and figures["chat"]["model_calls"] < figures["chat"]["requests"]
    )
    assert figures["saved"]["embedding_calls"] > 0
    ours = figures["index"]["semcache"]
    assert ours["node_ids"] and ours["reloaded_ids"] == ours["node_ids"]
    assert redis_client.dbsize() == 0  # the tour removed its keys
