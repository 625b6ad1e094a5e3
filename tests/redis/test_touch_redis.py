"""``touch`` on Redis moves every copy of an entry's expiry: the hash's ``x`` field, its
``PEXPIRE``, the shard's expiry sorted set and the vector's expiry attribute (the
behaviour itself runs on every backend in test_suite_backends.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fakeclock import FakeClock

from semcache_core import SemCache
from semcache_core.backends.redis import RedisBackend
from semcache_core.backends.redis.entry_codec import EXP_FIELD, NEVER

T0 = 1_000_000.0


@pytest.fixture(params=["standalone", "cluster"])
def client(request: pytest.FixtureRequest) -> Any:
    name = "redis_client" if request.param == "standalone" else "cluster_client"
    return request.getfixturevalue(name)


@pytest.fixture
def backend(client: Any) -> Iterator[RedisBackend]:
    made = RedisBackend(client=client, prefix="touchtest")
    yield made
    made.clear()
    made.close()


def _copies(backend: RedisBackend, client: Any, key: str) -> dict[str, Any]:
    """Where the server keeps the expiry of ``key`` (default namespace)."""
    keys = backend._keys
    tags = keys.shard_tags("", backend._shard_counts[""])
    tag = backend._settings.tag_of(tags, key)
    attribute = client.execute_command("VGETATTR", keys.vset_key(tag), key)
    return {
        "x": client.hget(keys.entry_key(tag, key), "x"),
        "pttl": client.pttl(keys.entry_key(tag, key)),
        "zscore": client.zscore(keys.expiry_key(tag), key),
        "exp": json.loads(attribute)[EXP_FIELD],
        "attributes": json.loads(attribute),
    }


def test_touch_moves_every_copy_of_the_expiry(backend: RedisBackend, client: Any) -> None:
    cache = SemCache(backend=backend, clock=FakeClock(T0))
    cache.set("k", "v", vector=[1.0, 0.0], ttl=10, metadata={"lang": "en", "n": 3})
    assert cache.touch("k", ttl=1000)
    copies = _copies(backend, client, "k")
    assert copies["x"] == repr(T0 + 1000).encode()
    assert 500_000 < copies["pttl"] <= 1_000_000  # PEXPIRE follows (real time passes)
    assert copies["zscore"] == T0 + 1000
    assert copies["exp"] == T0 + 1000
    assert copies["attributes"] == {"lang": "en", "n": 3, EXP_FIELD: T0 + 1000}
    assert cache.touch("k", ttl=None)  # no default ttl: never expires
    copies = _copies(backend, client, "k")
    assert copies["x"] == b"" and copies["pttl"] == -1 and copies["zscore"] is None
    assert copies["exp"] == NEVER


def test_atouch_and_replica_acks_on_the_cluster(cluster_client: Any) -> None:
    backend = RedisBackend(client=cluster_client, prefix="touchacks", min_replica_acks=1)
    try:
        clock = FakeClock(T0)
        cache = SemCache(backend=backend, clock=clock)
        cache.set("k", 1, vector=[0.0, 1.0], ttl=5)
        assert cache.touch("k", ttl=100)

        async def touch_async() -> tuple[bool, bool]:
            return await cache.atouch("k", ttl=200), await cache.atouch("nope", ttl=5)

        assert asyncio.run(touch_async()) == (True, False)
        assert _copies(backend, cluster_client, "k")["zscore"] == T0 + 200
        clock.advance(150)
        assert cache.get("k") == 1 and cache.purge_expired() == 0
    finally:
        backend.clear()
        backend.close()
