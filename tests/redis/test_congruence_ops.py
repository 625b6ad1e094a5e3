"""Congruence of random operations (qdrant-client's local-vs-server pattern): a state
machine drives the same calls on a local ``SemCache`` and on a Redis-backed one
(standalone, and the session cluster), both on one :class:`FakeClock`, and checks that
every call answers the same (the same value, or the same exception type) and that after
every step both hold the same entries.

The Redis side searches exactly (``exact_below`` far above the data), so searches compare
as in :mod:`test_congruence_redis`: scores within 1e-5, keys in order up to ties.

Deliberate differences, not compared:

- ``stats().expirations`` and ``purge_expired()``'s count: the local backend reclaims an
  expired entry when a read meets it, Redis reclaims it in its own time (``PEXPIRE``, or
  the sweep of :meth:`RedisBackend.purge_expired`); how many entries a purge finds left
  is the backend's business. What stays live is compared after every step.
- exception *messages*: only their types are compared (the field a ``FilterValueError``
  names depends on the order entries are met in, see :mod:`test_congruence_redis`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from fakeclock import FakeClock
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from suite_support import ClientPool
from test_congruence_redis import TREES, assert_same_hits

from semcache_core import SemCache
from semcache_core.backends.local import LocalBackend
from semcache_core.backends.redis import RedisBackend

EXACT = 1_000_000  # exact_below: every shard is scanned exactly
DIM = 4
_PREFIXES = itertools.count()


def _vector(seed: int, dim: int) -> list[float]:
    return [float(x) for x in np.random.default_rng(seed).standard_normal(dim)]


KEYS = st.sampled_from(["k0", "k1", "k2", "k10", "é", "ék"])
PREFIXES = st.sampled_from(["", "k", "k1", "é", "x"])
NAMESPACES = st.sampled_from(["", "", "ns", "名"])
METADATA_VALUES = st.sampled_from(
    [0, 1, -3, 2**60, 1.0, 2.5, math.nan, 1e20, True, None, "a", "é", "", [1, "a"], []]
)
METADATA = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(["n", "s", "tags", "é"]), METADATA_VALUES, max_size=3),
)
VALUES = st.one_of(
    st.sampled_from([0, -1, 2**62, 1.5, math.nan, "v", "ü", b"\x00\xff", None, True]),
    st.lists(st.sampled_from([1, "a", 2.5, None]), max_size=3),
    st.dictionaries(st.sampled_from(["a", "é"]), st.sampled_from([1, "x", [2]]), max_size=2),
)
TTLS = st.sampled_from([None, None, 30.0, 300.0])  # far below the time a run takes
# a few vectors, so equal scores meet; dimension 3 is the "wrong" one once DIM is fixed
FITTING = [None, None, [1.0, 0.0, 0.0, 0.0], *[_vector(seed, DIM) for seed in range(6)]]
VECTORS = st.sampled_from([*FITTING, _vector(0, 3)])
ROWS = st.lists(st.tuples(KEYS, VALUES, st.sampled_from(FITTING), METADATA), max_size=5)


def _outcome(call: Callable[[SemCache], Any], cache: SemCache) -> tuple[str, Any]:
    """What a call answered: its result, or the type of what it raised."""
    try:
        return ("ok", call(cache))
    except Exception as exc:  # any exception: both sides must raise the same type
        return ("raised", type(exc).__name__)


class LocalAndRedis(RuleBasedStateMachine):
    """The same calls on both caches; answers and contents agree after every step."""

    def __init__(self, client: Any) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.local = SemCache(backend=LocalBackend(index="flat"), clock=self.clock)
        self.backend = RedisBackend(
            client=client, prefix=f"ops{next(_PREFIXES)}", exact_below=EXACT
        )
        self.remote = SemCache(backend=self.backend, clock=self.clock)

    def teardown(self) -> None:
        self.backend.clear()
        self.backend.close()

    def both(self, call: Callable[[SemCache], Any]) -> tuple[str, Any]:
        """``call`` on each cache; the same result (compared by ``repr``: NaN equals
        itself there) or the same exception type."""
        want = _outcome(call, self.local)
        got = _outcome(call, self.remote)
        assert repr(got) == repr(want)
        return want

    @initialize(rows=ROWS)
    def start(self, rows: list[tuple[Any, ...]]) -> None:
        """Some entries to begin with, so searches and scans have something to find."""
        self.set_many(rows, None, "", True, None)

    # --- writes ----------------------------------------------------------------------------

    @rule(
        key=KEYS,
        value=VALUES,
        vector=VECTORS,
        metadata=METADATA,
        ttl=TTLS,
        namespace=NAMESPACES,
    )
    def set(
        self, key: str, value: Any, vector: Any, metadata: Any, ttl: Any, namespace: str
    ) -> None:
        self.both(
            lambda c: c.set(
                key, value, vector=vector, metadata=metadata, ttl=ttl, namespace=namespace
            )
        )

    @rule(
        rows=ROWS,
        ttl=TTLS,
        namespace=NAMESPACES,
        with_vectors=st.booleans(),
        wrong=st.sampled_from([None, None, None, 0, 2]),
    )
    def set_many(
        self,
        rows: list[tuple[Any, ...]],
        ttl: Any,
        namespace: str,
        with_vectors: bool,
        wrong: int | None,
    ) -> None:
        """``wrong``: that row's vector has the other dimension (nothing is stored)."""
        items = [(key, value) for key, value, _, _ in rows]
        vectors = [vector for _, _, vector, _ in rows] if with_vectors else None
        if vectors is not None and wrong is not None and wrong < len(vectors):
            vectors[wrong] = _vector(0, 3)
        metadatas = [metadata for _, _, _, metadata in rows]
        self.both(
            lambda c: c.set_many(
                items, vectors=vectors, metadatas=metadatas, ttl=ttl, namespace=namespace
            )
        )

    @rule(key=KEYS, namespace=NAMESPACES)
    def delete(self, key: str, namespace: str) -> None:
        self.both(lambda c: c.delete(key, namespace=namespace))

    @rule(namespace=st.one_of(st.none(), NAMESPACES))
    def clear(self, namespace: str | None) -> None:
        self.both(lambda c: c.clear(namespace))

    @rule(
        key=KEYS,
        seed=st.integers(0, 5),
        dim=st.sampled_from([DIM, DIM, 3]),
        ttl=TTLS,
        namespace=NAMESPACES,
        index=st.sampled_from([None, None, True, False]),
    )
    def get_or_compute(
        self, key: str, seed: int, dim: int, ttl: Any, namespace: str, index: Any
    ) -> None:
        result = _vector(seed, dim)
        self.both(
            lambda c: c.get_or_compute(
                key, lambda _: list(result), ttl=ttl, namespace=namespace, index=index
            )
        )

    @rule(seconds=st.sampled_from([1.0, 31.0, 301.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def purge_expired(self) -> None:
        self.local.purge_expired()  # the counts may differ (module docstring)
        self.remote.purge_expired()

    # --- reads -------------------------------------------------------------------------------

    @rule(key=KEYS, namespace=NAMESPACES)
    def get(self, key: str, namespace: str) -> None:
        self.both(lambda c: c.get(key, "missing", namespace=namespace))

    @rule(key=KEYS, namespace=NAMESPACES)
    def get_entry(self, key: str, namespace: str) -> None:
        self.both(lambda c: c.get_entry(key, namespace=namespace))

    @rule(key=KEYS, namespace=NAMESPACES)
    def exists(self, key: str, namespace: str) -> None:
        self.both(lambda c: c.exists(key, namespace=namespace))

    @rule(keys=st.lists(KEYS, max_size=4), namespace=NAMESPACES)
    def get_many(self, keys: list[str], namespace: str) -> None:
        self.both(lambda c: c.get_many(keys, namespace=namespace))

    @rule(prefix=PREFIXES, limit=st.sampled_from([None, 0, 1, 3]), namespace=NAMESPACES)
    def scan(self, prefix: str, limit: int | None, namespace: str) -> None:
        self.both(lambda c: c.scan(prefix, limit, namespace=namespace))

    @rule(namespace=st.one_of(st.none(), NAMESPACES))
    def count(self, namespace: str | None) -> None:
        self.both(lambda c: c.count(namespace))

    @precondition(lambda self: self.local.dim is not None)  # some vectors to find
    @rule(
        seed=st.integers(0, 6),
        dim=st.sampled_from([DIM, DIM, DIM, 3]),
        k=st.sampled_from([1, 3, 20]),
        threshold=st.sampled_from([None, 0.0, 0.5]),
        tree=st.one_of(st.none(), st.none(), TREES),
        namespace=NAMESPACES,
    )
    def search(
        self, seed: int, dim: int, k: int, threshold: Any, tree: Any, namespace: str
    ) -> None:
        query = _vector(seed, dim)
        options = {"k": k, "threshold": threshold, "filters": tree, "namespace": namespace}
        want = _outcome(lambda c: c.search(query, **options), self.local)
        got = _outcome(lambda c: c.search(query, **options), self.remote)
        if want[0] == "raised" or got[0] == "raised":
            assert got == want, tree
        else:
            assert_same_hits(list(want[1]), list(got[1]))

    # --- after every step -----------------------------------------------------------------------

    @invariant()
    def same_contents(self) -> None:
        assert len(self.remote) == len(self.local)
        spaces = self.both(lambda c: c.namespaces())[1]
        for namespace in spaces:
            keys = self.both(lambda c, ns=namespace: c.scan(namespace=ns))[1]
            for key in keys:
                self.both(lambda c, k=key, ns=namespace: c.get_entry(k, namespace=ns))
            dim = self.both(lambda c, ns=namespace: c.dim_of(ns))[1]
            if dim is not None:  # every vector, ranked
                query = _vector(99, dim)
                want = self.local.search(query, k=20, namespace=namespace, with_vectors=True)
                got = self.remote.search(query, k=20, namespace=namespace, with_vectors=True)
                assert_same_hits(list(want), list(got))

    @invariant()
    def same_counters(self) -> None:
        local, remote = self.local.stats().as_dict(), self.remote.stats().as_dict()
        del local["expirations"], remote["expirations"]  # module docstring
        assert remote == local


SETTINGS = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def clients(request: pytest.FixtureRequest) -> Iterator[ClientPool]:
    pool = ClientPool(request)
    yield pool
    pool.close()


@pytest.mark.parametrize("kind", ["standalone", "cluster"])
def test_random_operations_agree(clients: ClientPool, kind: str) -> None:
    client = clients.maker(kind).client
    run_state_machine_as_test(lambda: LocalAndRedis(client), settings=SETTINGS)
