"""A Redis Cluster slot under migration (``redis-cli --cluster reshard``: ``CLUSTER SETSLOT
... MIGRATING / IMPORTING``, then ``MIGRATE`` of its keys a few at a time) while the cache
is used, on a cluster of this module's own (its slots are moved about).

Every call on the migrating shard either does what it says or raises
:class:`BackendUnavailableError` having changed nothing; nothing acknowledged is lost, and
no call answers for an entry whose hash sits on the other node. Before: a ``set`` that
replaced an entry there deleted it and raised (its script deleted the hash, then wrote it
again, which Redis refuses mid-migration, and a script is not undone), and ``touch``
answered False for a live entry whose hash had not moved yet.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from redis.crc import key_slot

import redis
from semcache_core import SemCache
from semcache_core.backends.redis import RedisBackend
from semcache_core.backends.redis.connection import map_error
from semcache_core.errors import BackendError, BackendUnavailableError
from semcache_core.redis_local import LocalCluster, start_cluster

NAMESPACE = "moving"
SHARDS = 3
DIM = 4


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    run_dir: Path = tmp_path_factory.mktemp("migrating-cluster")
    started = start_cluster(primaries=3, replicas=0, run_dir=run_dir, persist=False)
    try:
        yield started
    finally:
        started.stop()


class Migration:
    """The slot of one shard of :data:`NAMESPACE`, and the two nodes it moves between."""

    def __init__(self, cluster: LocalCluster, backend: RedisBackend) -> None:
        self.client = cluster.client()
        tag = backend._keys.shard_tags(NAMESPACE, SHARDS)[0]
        self.tag = tag
        self.slot = key_slot(f"{{{tag}}}".encode())
        owner = self.client.get_node_from_key(f"{{{tag}}}")
        other = next(n for n in self.client.get_primaries() if n.name != owner.name)
        self.source = redis.Redis(host=owner.host, port=owner.port)
        self.target = redis.Redis(host=other.host, port=other.port)
        self.ids = [
            n.execute_command("CLUSTER", "MYID").decode() for n in (self.source, self.target)
        ]
        self.keys = [f"k{i}" for i in range(400) if backend._keys.shard_of(f"k{i}", SHARDS) == 0][
            :8
        ]

    @contextlib.contextmanager
    def started(self) -> Iterator[None]:
        """The slot migrating from source to target, no key moved yet; after, the
        migration called off, or seen through where keys moved meanwhile."""
        self.target.execute_command("CLUSTER", "SETSLOT", self.slot, "IMPORTING", self.ids[0])
        self.source.execute_command("CLUSTER", "SETSLOT", self.slot, "MIGRATING", self.ids[1])
        try:
            yield
        finally:
            if self.target.execute_command("CLUSTER", "GETKEYSINSLOT", self.slot, 10):
                self.move(self.names())  # some moved: the migration is seen through
                for node in self.client.get_primaries():
                    owner = redis.Redis(host=node.host, port=node.port)
                    owner.execute_command("CLUSTER", "SETSLOT", self.slot, "NODE", self.ids[1])
            else:  # called off
                for node in (self.source, self.target):
                    node.execute_command("CLUSTER", "SETSLOT", self.slot, "STABLE")

    def move(self, names: list[bytes]) -> None:
        """``MIGRATE`` ``names`` to the target, as the resharding tool does."""
        kwargs = self.target.connection_pool.connection_kwargs
        self.source.execute_command("MIGRATE", kwargs["host"], kwargs["port"], "", 0, 5000,
                                    "KEYS", *names)  # fmt: skip

    def names(self) -> list[bytes]:
        """The slot's keys still on the source."""
        return list(self.source.execute_command("CLUSTER", "GETKEYSINSLOT", self.slot, 10_000))


def _cache(cluster: LocalCluster) -> tuple[SemCache, RedisBackend]:
    backend = RedisBackend(cluster_nodes=cluster.nodes[:1], shards=SHARDS, socket_timeout=2.0)
    cache = SemCache(backend=backend)
    cache.clear(namespace=NAMESPACE)
    return cache, backend


def _vector(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=DIM).astype(np.float32)


_WRITE = st.tuples(
    st.sampled_from(["set", "set_many", "delete", "touch"]),
    st.lists(st.integers(0, 7), min_size=1, max_size=4),  # keys (by index), repeats too
    st.booleans(),  # with a vector
    st.sampled_from([None, 3600.0]),  # ttl
    st.integers(0, 1000),  # the value / the vector's seed
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # a refused call waits ~0.4 s
)
@given(writes=st.lists(_WRITE, min_size=1, max_size=8), expiring=st.booleans())
def test_calls_during_a_migration_do_what_they_say_or_change_nothing(
    cluster: LocalCluster,
    writes: list[tuple[str, list[int], bool, float | None, int]],
    expiring: bool,
) -> None:
    """Overwrites (with or without a vector or an expiry, several in one ``set_many``, a
    key twice), deletes and touches of entries of the migrating shard: each applies, or
    raises :class:`BackendUnavailableError` and changes nothing (a shard whose expiry set
    is missing refuses every script there: Redis asks for keys that are not on the node).
    Compared with a model once the migration is called off, by ``get`` and ``search``."""
    cache, backend = _cache(cluster)
    migration = Migration(cluster, backend)
    model: dict[str, tuple[int, bool, bool]] = {}  # key -> value, has a vector, expires
    for i, key in enumerate(migration.keys):
        cache.set(key, i, vector=_vector(i), namespace=NAMESPACE, ttl=3600 if expiring else None)
        model[key] = (i, True, expiring)
    with migration.started():
        for op, indexes, with_vector, ttl, seed in writes:
            keys = [migration.keys[i] for i in indexes]
            # every key a script names is on the node: the hashes, the vector set and the
            # expiry set (Redis refuses a script naming one that is not: it may have moved)
            named = {*keys} <= model.keys()
            named = named and any(v for _, v, _ in model.values())
            named = named and any(x for _, _, x in model.values())
            before = {key: cache.get(key, namespace=NAMESPACE) for key in keys}
            try:
                if op == "set":
                    vector = _vector(seed) if with_vector else None
                    cache.set(keys[0], seed, vector=vector, namespace=NAMESPACE, ttl=ttl)
                    model[keys[0]] = (seed, with_vector, ttl is not None)
                elif op == "set_many":
                    values = {key: seed + n for n, key in enumerate(keys)}
                    vectors = [_vector(v) for v in values.values()] if with_vector else None
                    cache.set_many(values, vectors=vectors, namespace=NAMESPACE, ttl=ttl)
                    model.update({k: (v, with_vector, ttl is not None) for k, v in values.items()})
                elif op == "delete":
                    assert cache.delete(keys[0], namespace=NAMESPACE) == (keys[0] in model)
                    model.pop(keys[0], None)
                else:
                    assert cache.touch(keys[0], 7200, namespace=NAMESPACE) == (keys[0] in model)
                    if keys[0] in model:
                        model[keys[0]] = (*model[keys[0]][:2], True)
            except BackendUnavailableError:
                assert not named, (op, keys)  # nothing there to refuse it for
                assert {key: cache.get(key, namespace=NAMESPACE) for key in keys} == before
    for key in migration.keys:
        expected = model[key][0] if key in model else None
        assert cache.get(key, namespace=NAMESPACE) == expected, key
    found = cache.search(_vector(0), k=50, threshold=-1.0, namespace=NAMESPACE)
    assert sorted(hit.key for hit in found) == sorted(k for k, (_, v, _) in model.items() if v)
    cache.close()


def test_touch_and_delete_never_answer_for_a_hash_on_the_other_node(cluster: LocalCluster) -> None:
    """The shard's vector and expiry sets moved, the entries' hashes not yet: ``touch`` and
    ``delete`` are refused (:class:`BackendUnavailableError`), never run where the hash is
    not (``touch`` answered False for a live entry: its script read the hash by a name it
    had not declared, on the node the sets had moved to). Once moved, all is there."""
    cache, backend = _cache(cluster)
    migration = Migration(cluster, backend)
    for i, key in enumerate(migration.keys):
        cache.set(key, i, vector=_vector(i), namespace=NAMESPACE, ttl=3600)
    with migration.started():
        sets = [name for name in migration.names() if b":e:" not in name]
        migration.move(sets)
        assert cache.get(migration.keys[1], namespace=NAMESPACE) == 1  # plain reads follow
        for call in (
            lambda: cache.touch(migration.keys[1], 60, namespace=NAMESPACE),
            lambda: cache.delete(migration.keys[2], namespace=NAMESPACE),
            lambda: asyncio.run(cache.atouch(migration.keys[1], 60, namespace=NAMESPACE)),
            lambda: asyncio.run(cache.adelete(migration.keys[2], namespace=NAMESPACE)),
        ):
            with pytest.raises(BackendUnavailableError):
                call()
    assert [cache.get(key, namespace=NAMESPACE) for key in migration.keys] == list(range(8))
    hits = cache.search(_vector(0), k=50, threshold=-1.0, namespace=NAMESPACE)
    assert sorted(hit.key for hit in hits) == sorted(migration.keys)
    cache.close()


def test_a_search_meeting_a_moved_hash_is_refused_or_leaves_the_shard_out(
    cluster: LocalCluster,
) -> None:
    """One entry's hash moved, the sets not: the search script meets a key it cannot read
    there. A typed :class:`BackendUnavailableError` (it was a ``BackendError``), and with
    ``allow_partial=True`` hits of other shards only (those of its node's other shards go
    with it, where an earlier test moved a slot there), marked partial."""
    cache, backend = _cache(cluster)
    migration = Migration(cluster, backend)
    others = [f"o{i}" for i in range(30) if backend._keys.shard_of(f"o{i}", SHARDS) != 0]
    for i, key in enumerate([*migration.keys, *others]):
        cache.set(key, i, vector=_vector(i), namespace=NAMESPACE)
    with migration.started():
        migration.move(
            [
                name
                for name in migration.names()
                if name.endswith(b":e:k" + migration.keys[0][1:].encode())
            ]
        )
        with pytest.raises(BackendUnavailableError):
            cache.search(_vector(0), k=50, threshold=-1.0, namespace=NAMESPACE)
        partial = cache.search(
            _vector(0), k=50, threshold=-1.0, namespace=NAMESPACE, allow_partial=True
        )
        assert partial.partial and {hit.key for hit in partial} <= set(others)
    cache.close()


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (redis.exceptions.ClusterError("TTL exhausted."), True),
        (
            redis.exceptions.ResponseError(
                "Command # 1 (EVAL ...) of pipeline caused error: TTL exhausted."
            ),
            True,
        ),
        (
            redis.exceptions.ResponseError(
                "TRYAGAIN Multiple keys request during rehashing of slot"
            ),
            True,
        ),
        (redis.exceptions.ResponseError("ASK 5440 127.0.0.1:7001"), True),
        (
            redis.exceptions.ResponseError(
                "Script attempted to access a non local key in a cluster node script"
            ),
            True,
        ),
        (
            redis.exceptions.ResponseError("Error running script: user_script:3: bad argument"),
            False,
        ),
        (
            redis.exceptions.ResponseError(
                "OOM command not allowed when used memory > 'maxmemory'"
            ),
            False,
        ),
    ],
)
def test_a_slot_in_migration_is_unavailable_not_an_error(
    error: Exception, unavailable: bool
) -> None:
    """What redis-py raises while a slot moves (also wrapped by a cluster pipeline in a
    plain ``ResponseError``) is a temporary :class:`BackendUnavailableError`; a real
    refusal stays a :class:`BackendError`."""
    mapped: Any = map_error(error, "call")
    assert isinstance(mapped, BackendError)
    assert isinstance(mapped, BackendUnavailableError) is unavailable
