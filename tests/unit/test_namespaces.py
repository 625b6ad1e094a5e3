"""Namespaces are real partitions: an entry is ``(namespace, key)``, each namespace has its
own dimension, ``clear(namespace)`` touches no other, and an emptied namespace is dropped.

The state machine runs every keyed call against a dict model keyed by ``(namespace,
key)``, through a plain cache and a cache that reloads its own snapshot now and then.
"""

from __future__ import annotations

import gc
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from semcache_core import InvalidArgumentError, SemCache
from semcache_core.errors import DimensionMismatchError
from semcache_core.responses import Prompt, ResponseCache

NAMESPACES = ["", "a", "a:b", "1:ab"]  # "1:ab" spells like a journal entry id on purpose
KEYS = ["k", "b:c", "1:a"]
DIMS = {"": 3, "a": 5, "a:b": 3, "1:ab": 7}


def vector_for(namespace: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, DIMS[namespace]])
    return rng.standard_normal(DIMS[namespace]).astype(np.float32) + 0.1


class NamespaceMachine(RuleBasedStateMachine):
    """Every keyed call, against ``model[(namespace, key)] = (value, has_vector)``."""

    def __init__(self) -> None:
        super().__init__()
        self.cache = SemCache(index="flat")
        self.model: dict[tuple[str, str], tuple[Any, bool]] = {}

    @rule(
        ns=st.sampled_from(NAMESPACES),
        key=st.sampled_from(KEYS),
        value=st.integers(-(2**63), 2**63 - 1),
        seed=st.integers(0, 99) | st.none(),
    )
    def set(self, ns: str, key: str, value: int, seed: int | None) -> None:
        vector = None if seed is None else vector_for(ns, seed)
        self.cache.set(key, value, vector=vector, namespace=ns)
        self.model[(ns, key)] = (value, vector is not None)

    @rule(ns=st.sampled_from(NAMESPACES), keys=st.lists(st.sampled_from(KEYS), max_size=3))
    def set_many(self, ns: str, keys: list[str]) -> None:
        items = [(key, f"{ns}/{key}") for key in keys]
        self.cache.set_many(items, namespace=ns)
        for key, value in items:
            self.model[(ns, key)] = (value, False)

    @rule(ns=st.sampled_from(NAMESPACES), key=st.sampled_from(KEYS))
    def delete(self, ns: str, key: str) -> None:
        assert self.cache.delete(key, namespace=ns) == ((ns, key) in self.model)
        self.model.pop((ns, key), None)

    @rule(ns=st.sampled_from(NAMESPACES), key=st.sampled_from(KEYS))
    def get_or_compute(self, ns: str, key: str) -> None:
        got = self.cache.get_or_compute(key, lambda k: f"computed {ns}/{k}", namespace=ns)
        expected = self.model.setdefault((ns, key), (f"computed {ns}/{key}", False))[0]
        assert got == expected

    @rule(ns=st.sampled_from(NAMESPACES) | st.none())
    def clear(self, ns: str | None) -> None:
        self.cache.clear(ns)
        self.model = {k: v for k, v in self.model.items() if ns is not None and k[0] != ns}

    @rule()
    def reload(self) -> None:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "snap.semcache"
            self.cache.dump(path)
            self.cache = SemCache.from_snapshot(path)

    @invariant()
    def agrees(self) -> None:
        cache, model = self.cache, self.model
        live = sorted({ns for ns, _ in model})
        assert cache.namespaces() == live
        assert len(cache) == len(model)
        for ns in NAMESPACES:
            keys = sorted(key for n, key in model if n == ns)
            assert cache.scan(namespace=ns) == keys
            assert cache.count(ns) == len(keys)
            assert cache.get_many(KEYS, "missing", namespace=ns) == [
                model.get((ns, key), ("missing", False))[0] for key in KEYS
            ]
            indexed = sorted(key for (n, key), (_, vec) in model.items() if n == ns and vec)
            if indexed:
                assert cache.dim_of(ns) == DIMS[ns]
                hits = cache.search(vector_for(ns, 0), k=10, namespace=ns)
                assert sorted(hit.key for hit in hits) == indexed
                assert {hit.namespace for hit in hits} == {ns}


def test_namespaces_behave_as_independent_caches() -> None:
    NamespaceMachine.TestCase.settings = settings(
        max_examples=40,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    NamespaceMachine.TestCase().runTest()


# --- one tenant never reads another's ------------------------------------------------------


def test_get_or_compute_in_another_namespace_computes_its_own() -> None:
    cache = SemCache()
    assert cache.get_or_compute("q", lambda _: "tenant a", namespace="tenant-a") == "tenant a"
    assert cache.get_or_compute("q", lambda _: "tenant b", namespace="tenant-b") == "tenant b"
    assert cache.get("q", namespace="tenant-a") == "tenant a"
    assert cache.get("q") is None


async def test_async_twins_take_namespaces() -> None:
    cache = SemCache()
    await cache.aset("k", 1, namespace="x")
    await cache.aput_json("j", {"a": 1}, namespace="x")
    assert await cache.aget("k") is None
    assert await cache.aget("k", namespace="x") == 1
    assert await cache.aget_json("j", namespace="x") == {"a": 1}
    assert await cache.aexists("k", namespace="x") and not await cache.aexists("k")
    assert await cache.ascan(namespace="x") == ["j", "k"]
    assert await cache.anamespaces() == ["x"]
    assert await cache.acount("x") == 2
    assert await cache.aget_many(["k", "j"], namespace="x") == [1, '{"a": 1}']
    assert await cache.adelete_many(["k"], namespace="x") == 1
    await cache.aclear("x")
    assert await cache.alen() == 0


# --- dimensions ---------------------------------------------------------------------------


def test_each_namespace_has_its_own_dimension_and_dim_fixes_all() -> None:
    cache = SemCache()
    cache.set("a", 1, vector=np.ones(3), namespace="small")
    cache.set("b", 2, vector=np.ones(1536), namespace="large")
    assert (cache.dim_of("small"), cache.dim_of("large"), cache.dim) == (3, 1536, None)
    with pytest.raises(DimensionMismatchError, match="namespace 'small'"):
        cache.set("c", 3, vector=np.ones(4), namespace="small")
    assert cache.scan(namespace="small") == ["a"]
    cache.clear("small")  # an emptied namespace forgets its dimension
    cache.set("c", 3, vector=np.ones(4), namespace="small")
    assert cache.dim_of("small") == 4

    fixed = SemCache(dim=3)
    with pytest.raises(DimensionMismatchError):
        fixed.set("x", 1, vector=np.ones(4), namespace="other")
    assert fixed.namespaces() == []


def test_two_dimensions_share_one_durable_engine(tmp_path: Path) -> None:
    path = tmp_path / "engine"
    with SemCache(path=path) as engine:
        engine.set("doc", "text", vector=np.arange(1, 1537, dtype=np.float32), namespace="v")
        responses = ResponseCache(engine, namespace="chat")
        prompt = Prompt("How tall is it?", "", "How tall is it?")
        responses.update(prompt, "model", "330 metres")
    with SemCache(path=path) as engine:
        assert engine.dim_of("v") == 1536
        (hit,) = engine.search(np.arange(1, 1537, dtype=np.float32), k=1, namespace="v")
        assert hit.key == "doc"
        assert ResponseCache(engine, namespace="chat").lookup(prompt, "model") == "330 metres"
    with SemCache(path=path) as engine:  # the checkpoint written by close
        engine.dump(tmp_path / "snap.semcache")
    loaded = SemCache.from_snapshot(tmp_path / "snap.semcache")
    assert loaded.dim_of("v") == 1536 and loaded.count() == 2


# --- memory follows entries -----------------------------------------------------------------


def test_emptied_namespaces_are_dropped_and_their_memory_released() -> None:
    clock = [1_000.0]
    cache = SemCache(clock=lambda: clock[0], ttl=10)
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for i in range(2_000):
            cache.set("k", i, vector=np.ones(64, np.float32), namespace=f"conversation-{i}")
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - start
        clock[0] += 11
        assert cache.purge_expired() == 2_000
        gc.collect()
        left = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert cache.namespaces() == [] and cache.backend.dims == {}
    assert held < 2_000 * 4_096  # proportional to the entries: no per-namespace slab
    assert left < held * 0.05


def test_llm_cache_scopes_cost_their_entries_only() -> None:
    responses = ResponseCache()
    for i in range(500):
        context = f"conversation {i}"
        responses.update(Prompt(f"{context}|q", context, "the same question"), "m", f"a{i}")
    assert responses.cache.namespaces() == ["llm:default"]  # scopes are not namespaces
    for i in (0, 250, 499):
        context = f"conversation {i}"
        prompt = Prompt(f"{context}|q2", context, "the same question")
        assert responses.lookup(prompt, "m") == f"a{i}"  # semantic hit in its own scope


# --- adapters on one engine ---------------------------------------------------------------


def test_adapters_with_the_same_name_never_see_each_other() -> None:
    from langchain_core.embeddings import DeterministicFakeEmbedding
    from langchain_core.outputs import Generation

    from semcache_integrations.langchain import (
        SemCache as LangChainCache,
    )
    from semcache_integrations.langchain import (
        SemCacheByteStore,
        SemCacheVectorStore,
    )
    from semcache_integrations.llama_index import SemCacheKVStore

    engine = SemCache()
    name = "llm"  # the name the old key-prefix scheme collided on
    llm_cache = LangChainCache(cache=engine, namespace=name)
    vectors = SemCacheVectorStore(DeterministicFakeEmbedding(size=8), engine, namespace=name)
    store = SemCacheByteStore(engine, namespace=name)
    kv = SemCacheKVStore(engine, namespace=name)
    vectors.add_texts(["hello"], ids=["default"])
    store.mset([("default", b"bytes")])
    kv.put("default", {"x": 1})
    llm_cache.update("prompt", "model", [Generation(text="answer")])
    engine.set("default", "core")
    assert len(engine.namespaces()) == 5

    llm_cache.clear()
    assert vectors.get_by_ids(["default"])[0].page_content == "hello"
    assert store.mget(["default"]) == [b"bytes"] and kv.get("default") == {"x": 1}
    store.mdelete(["default"])
    vectors.delete()
    assert kv.get("default") == {"x": 1} and engine.get("default") == "core"
    assert llm_cache.lookup("prompt", "model") is None


def test_every_adapter_refuses_a_namespace_without_utf8_at_construction() -> None:
    """A lone surrogate was taken, and every later call failed (the LangChain vector
    store's after paying for the embedding)."""
    from langchain_core.embeddings import DeterministicFakeEmbedding
    from llama_index.core.llms import MockLLM

    from semcache_integrations.langchain import CachedEmbeddings, SemCacheByteStore
    from semcache_integrations.langchain import SemCache as LangChainCache
    from semcache_integrations.langchain import SemCacheVectorStore as LangChainStore
    from semcache_integrations.llama_index import SemCacheKVStore, SemCacheLLM
    from semcache_integrations.llama_index import SemCacheVectorStore as LlamaIndexStore

    engine = SemCache()
    embedding = DeterministicFakeEmbedding(size=8)
    for make in (
        lambda name: LangChainCache(cache=engine, namespace=name),
        lambda name: LangChainStore(embedding, engine, namespace=name),
        lambda name: SemCacheByteStore(engine, namespace=name),
        lambda name: CachedEmbeddings(embedding, cache=engine, namespace=name),
        lambda name: SemCacheKVStore(engine, namespace=name),
        lambda name: LlamaIndexStore(engine, namespace=name),
        lambda name: SemCacheLLM(MockLLM(), cache=engine, namespace=name),
    ):
        with pytest.raises(InvalidArgumentError, match="lone surrogate"):
            make("tenant-\ud800")
        make("tenant-\u00e9")  # any other text is a name
    assert engine.namespaces() == []


def test_none_is_the_default_namespace_in_every_call() -> None:
    cache = SemCache()
    cache.set("k", 1, namespace=None)  # type: ignore[arg-type]
    assert cache.get("k", namespace=None) == 1  # type: ignore[arg-type]
    assert cache.get("k") == 1 and cache.namespaces() == [""]
    assert cache.exists("k", namespace=None)  # type: ignore[arg-type]
    assert cache.get_or_compute("k", lambda _: 2, namespace=None) == 1  # type: ignore[arg-type]
    assert cache.delete("k", namespace=None)  # type: ignore[arg-type]


# --- found in review: dimensions after deletes, expiry, clears and races ------------------


def test_a_namespace_recreated_with_another_dimension_reopens_after_a_crash(
    tmp_path: Path,
) -> None:
    import shutil

    path = tmp_path / "cache"
    cache = SemCache(path=path)
    cache.set("doc", "v1", vector=[1.0, 0.0, 0.0, 0.0], namespace="a")
    cache.set("other", "o", vector=[0.0, 1.0, 0.0, 0.0], namespace="a")
    cache.backend.checkpoint(force=True)  # type: ignore[attr-defined]
    cache.delete("other", namespace="a")
    cache.delete("doc", namespace="a")  # namespace "a" is gone
    cache.set("doc", "v2", vector=[1.0] * 8, namespace="a")  # back, with 8 dimensions
    shutil.copytree(path, tmp_path / "crashed")  # the files as a kill -9 leaves them
    cache.close()
    with SemCache(path=tmp_path / "crashed") as reopened:
        assert reopened.get("doc", namespace="a") == "v2"
        assert reopened.scan(namespace="a") == ["doc"]
        assert reopened.dim_of("a") == 8


def test_an_expired_namespace_no_longer_fixes_its_dimension() -> None:
    clock = [1_000.0]
    cache = SemCache(clock=lambda: clock[0])
    cache.set("k1", 1, vector=[1.0, 2.0, 3.0, 4.0], ttl=5, namespace="a")
    clock[0] += 10
    assert cache.dim_of("a") is None and cache.namespaces() == []
    cache.set("k2", 2, vector=[1.0] * 8, namespace="a")
    assert cache.get_or_compute("e", lambda _: [0.5] * 8, namespace="a") == [0.5] * 8
    assert {hit.key for hit in cache.search([1.0] * 8, k=5, namespace="a")} == {"k2", "e"}


def test_clearing_a_namespace_frees_its_entries_at_once() -> None:
    cache = SemCache(ttl=3_600, max_entries=100_000)
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        cache.set_many({f"k{i}": "x" * 2_000 for i in range(5_000)}, namespace="a")
        cache.set("kept", 1, namespace="b")
        held = tracemalloc.get_traced_memory()[0] - start
        cache.clear("a")
        cache.set("another", 2, namespace="b")  # a write, no purge: nothing else frees them
        gc.collect()
        left = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert left < held * 0.1
    assert cache.namespaces() == ["b"]


def test_a_computed_embedding_meeting_a_dimension_fixed_meanwhile_is_stored_plain() -> None:
    """Another writer fixes the namespace's dimension between the guess and the write."""
    from semcache_core.backends.base import EntryWrite
    from semcache_core.backends.local import LocalBackend

    class RacedBackend(LocalBackend):
        raced = False

        def set_many(self, writes: list[EntryWrite], now: float) -> None:
            if not self.raced and any(w.vector is not None for w in writes):
                self.raced = True  # the other writer lands first
                other = SemCache(backend=self)
                other.set("first", 1, vector=[1.0] * 5, namespace="x")
            super().set_many(writes, now)

    cache = SemCache(backend=RacedBackend())
    assert cache.get_or_compute("late", lambda _: [0.5, 0.25, 0.125], namespace="x") == [
        0.5,
        0.25,
        0.125,
    ]
    assert cache.get("late", namespace="x") == [0.5, 0.25, 0.125]  # stored, as a plain value
    assert cache.dim_of("x") == 5
    assert [hit.key for hit in cache.search([1.0] * 5, k=5, namespace="x")] == ["first"]
