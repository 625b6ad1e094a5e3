"""Verified mode's observations live with the entry on Redis too: learned through one
engine, read through another on the same server, value / vector / expiry kept."""

from __future__ import annotations

import random

from angle_texts import PARAPHRASE, STORED, angle_embedder

import redis
from semcache_core import SemCache
from semcache_core.backends.redis import RedisBackend
from semcache_core.responses import Prompt, ResponseCache
from semcache_core.verified_responses import OBSERVATIONS_FIELD


def prompt(text: str) -> Prompt:
    return Prompt(exact=text, context="", query=text)


def test_observations_are_carried_by_redis(redis_client: redis.Redis) -> None:
    def responses(max_error_rate: float | None) -> ResponseCache:
        engine = SemCache(backend=RedisBackend(client=redis_client))
        return ResponseCache(engine, embedder=angle_embedder, threshold=0.5, ttl=300,
                             max_error_rate=max_error_rate, rng=random.Random(1))  # fmt: skip

    learner = responses(0.02)
    learner.update(prompt(STORED), "m", "soak")
    assert learner.lookup(prompt(PARAPHRASE), "m") is None
    learner.update(prompt(PARAPHRASE), "m", "soak")

    reader = responses(None)
    key = reader._key(prompt(STORED), "m")
    entry = reader.cache.get_entry(key, namespace=reader.namespace)
    assert entry is not None and entry.value == "soak"
    assert entry.metadata[OBSERVATIONS_FIELD] == [[0.93, 1]]
    assert entry.expires_at is not None
    assert reader.lookup(prompt(PARAPHRASE), "m") is not None  # exact (stored without vector)
    hits = reader.cache.search(angle_embedder(STORED), 3, namespace=reader.namespace)
    assert [hit.key for hit in hits] == [key]  # the rewritten entry keeps its vector
    for cache in (learner.cache, reader.cache):
        cache.close()  # its node clients: left to the GC, a socket warns in another test
