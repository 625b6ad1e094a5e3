"""Verified mode's observations live with the entry on Redis too: learned through one
engine, read through another on the same server, value / vector / expiry kept."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from angle_texts import PARAPHRASE, STORED, angle_embedder
from restart_stock import YOUNG, restarted_lookups, stock

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
    assert reader.lookup(prompt(PARAPHRASE), "m") is not None  # exact
    hits = reader.cache.search(angle_embedder(STORED), 3, namespace=reader.namespace)
    assert hits[0].key == key  # the rewritten entry keeps its vector
    assert hits[0].metadata[OBSERVATIONS_FIELD] == [[0.93, 1]]
    assert len(hits) == 2  # the paraphrase has an entry of its own, as after a plain miss
    for cache in (learner.cache, reader.cache):
        cache.close()  # its node clients: left to the GC, a socket warns in another test


def _between_read_and_write(engine: SemCache, then: Callable[[], None]) -> None:
    """Run ``then`` (another client's call) right after ``engine``'s next entry read:
    the interleaving two processes can meet, forced."""
    backend = engine._backend
    read = backend.get

    def get_then(*args: Any, **kwargs: Any) -> Any:
        found = read(*args, **kwargs)
        del backend.get  # once
        then()
        return found

    backend.get = get_then  # type: ignore[method-assign]


def test_an_observation_never_undoes_another_clients_invalidate_or_newer_answer(
    redis_client: redis.Redis,
) -> None:
    """Found by review: recording an observation read the entry, then wrote it whole:
    another process's ``invalidate`` in between was undone (its wrong answer served
    again), as was a newer response. Now the write happens only if the entry is as read.
    """

    def responses() -> ResponseCache:
        engine = SemCache(backend=RedisBackend(client=redis_client))
        return ResponseCache(engine, embedder=angle_embedder, threshold=0.5)

    first, other = responses(), responses()
    for interleaved, left in (
        (lambda: other.invalidate(prompt(STORED), "m"), None),
        (lambda: other.update(prompt(STORED), "m", "newer"), "newer"),
    ):
        first.update(prompt(STORED), "m", "wrong")
        assert first.lookup(prompt(PARAPHRASE), "m") == "wrong"  # served by meaning
        _between_read_and_write(first.cache, interleaved)
        assert first.feedback(prompt(PARAPHRASE), "m", False) is False  # nothing learned
        assert other.lookup(prompt(STORED), "m") == left
    # undisturbed, feedback is recorded as before
    first.update(prompt(STORED), "m", "wrong")
    assert first.lookup(prompt(PARAPHRASE), "m") == "wrong"
    assert first.feedback(prompt(PARAPHRASE), "m", False) is True
    entry = other.cache.get_entry(other._key(prompt(STORED), "m"), namespace=other.namespace)
    assert entry is not None and entry.metadata[OBSERVATIONS_FIELD] == [[0.93, 0]]
    for cache in (first.cache, other.cache):
        cache.close()


def test_a_new_process_starts_its_curve_from_the_observations_on_redis(
    redis_client: redis.Redis,
) -> None:
    earlier = SemCache(backend=RedisBackend(client=redis_client))
    stock(earlier)  # another process's entries and what it learned
    newcomer = SemCache(backend=RedisBackend(client=redis_client))
    assert restarted_lookups(newcomer) >= YOUNG * 3 // 4
    redis_client.flushall()
    stock(earlier, carried=None)  # the same entries, nothing learned
    assert restarted_lookups(newcomer) == 0
    for cache in (earlier, newcomer):
        cache.close()
