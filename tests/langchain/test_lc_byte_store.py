"""``SemCacheByteStore``: the standard LangChain store suites, then what they do not cover.

``CacheBackedEmbeddings`` gets ``key_encoder="blake2b"``: its default (SHA-1) emits a
``UserWarning`` about collisions, which ``filterwarnings = error`` rightly turns into a
failure, and which LangChain recommends avoiding in new code by choosing another encoder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeclock import FakeClock
from langchain_classic.embeddings import CacheBackedEmbeddings
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from langchain_tests.integration_tests import BaseStoreAsyncTests, BaseStoreSyncTests

from semcache_core import InvalidArgumentError, InvalidKeyError, InvalidValueError, SemCache
from semcache_integrations.langchain.byte_store import SemCacheByteStore


def cache_with_neighbours() -> SemCache:
    """A cache already used by others, under names the suites use too."""
    cache = SemCache()
    cache.set("foo", b"someone else's")
    cache.set("bar", "a str value")
    cache.set("langchain-bytes-2:foo", b"a namespace that starts like the default")
    cache.set("langchain-bytes", b"the bare namespace name")
    return cache


class TestByteStoreSync(BaseStoreSyncTests[bytes]):
    @pytest.fixture
    def kv_store(self) -> SemCacheByteStore:
        return SemCacheByteStore(cache_with_neighbours())

    @pytest.fixture
    def three_values(self) -> tuple[bytes, bytes, bytes]:
        return b"foo", b"bar", b"\x00buzz\xff"


class TestByteStoreAsync(BaseStoreAsyncTests[bytes]):
    @pytest.fixture
    async def kv_store(self) -> SemCacheByteStore:
        return SemCacheByteStore(cache_with_neighbours())

    @pytest.fixture
    def three_values(self) -> tuple[bytes, bytes, bytes]:
        return b"foo", b"bar", b"\x00buzz\xff"


class TestDurableByteStoreSync(BaseStoreSyncTests[bytes]):
    @pytest.fixture
    def kv_store(self, tmp_path: Path) -> Iterator[SemCacheByteStore]:
        with SemCache(path=tmp_path / "store") as cache:
            yield SemCacheByteStore(cache, namespace="durable")

    @pytest.fixture
    def three_values(self) -> tuple[bytes, bytes, bytes]:
        return b"", b"bar", b"buzz" * 1000


# --- under CacheBackedEmbeddings ---------------------------------------------------------


class CountingEmbeddings(Embeddings):
    """A deterministic model that records the texts of every call reaching it."""

    def __init__(self, size: int = 8) -> None:
        self.model = DeterministicFakeEmbedding(size=size)
        self.document_calls: list[list[str]] = []
        self.query_calls: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.document_calls.append(list(texts))
        return self.model.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.query_calls.append(text)
        return self.model.embed_query(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)


def backed(store: SemCacheByteStore, model: Embeddings, **options) -> CacheBackedEmbeddings:
    return CacheBackedEmbeddings.from_bytes_store(
        model, store, namespace="fake-8", key_encoder="blake2b", **options
    )


def test_cache_backed_embeddings_embeds_each_text_once_across_runs():
    model = CountingEmbeddings()
    store = SemCacheByteStore()
    embedder = backed(store, model)
    texts = ["alpha", "beta", "alpha", "gamma"]
    expected = model.model.embed_documents(texts)

    assert embedder.embed_documents(texts) == expected
    # CacheBackedEmbeddings sends its misses (repeats included) in one call
    assert model.document_calls == [texts]
    assert embedder.embed_documents(texts) == expected  # a second run: all hits
    assert embedder.embed_documents(["gamma", "delta", "alpha"]) == model.model.embed_documents(
        ["gamma", "delta", "alpha"]
    )
    assert model.document_calls == [texts, ["delta"]]
    keys = list(store.yield_keys())
    assert len(keys) == 4 and all(key.startswith("fake-8") for key in keys)


async def test_cache_backed_embeddings_async_and_query_cache():
    model = CountingEmbeddings()
    store = SemCacheByteStore()
    embedder = backed(store, model, query_embedding_cache=True)
    texts = ["one", "two", "one"]

    first = await embedder.aembed_documents(texts)
    second = await embedder.aembed_documents(texts)
    assert first == second == model.model.embed_documents(texts)
    assert model.document_calls == [texts]

    assert await embedder.aembed_query("question") == model.model.embed_query("question")
    assert embedder.embed_query("question") == model.model.embed_query("question")
    assert model.query_calls == ["question"]


def test_cache_backed_embeddings_over_a_durable_cache_across_reopen(tmp_path: Path):
    texts = ["persist me", "and me"]
    with SemCache(path=tmp_path / "cache") as cache:
        model = CountingEmbeddings()
        vectors = backed(SemCacheByteStore(cache), model).embed_documents(texts)
        assert model.document_calls == [texts]
    with SemCache(path=tmp_path / "cache") as cache:
        model = CountingEmbeddings()
        assert backed(SemCacheByteStore(cache), model).embed_documents(texts) == vectors
        assert model.document_calls == []


# --- isolation from other users of the cache ---------------------------------------------


def test_stores_and_other_users_of_one_cache_stay_apart():
    cache = cache_with_neighbours()
    a = SemCacheByteStore(cache, namespace="a")
    b = SemCacheByteStore(cache, namespace="b")
    a.mset([("foo", b"a-foo"), ("food", b"a-food"), ("x:y", b"a-xy")])
    b.mset([("foo", b"b-foo")])

    assert a.mget(["foo", "food", "x:y", "bar"]) == [b"a-foo", b"a-food", b"a-xy", None]
    assert b.mget(["foo", "food"]) == [b"b-foo", None]
    assert sorted(a.yield_keys()) == ["foo", "food", "x:y"]
    assert sorted(a.yield_keys(prefix="foo")) == ["foo", "food"]
    assert list(a.yield_keys(prefix="nothing")) == []
    assert list(b.yield_keys()) == ["foo"]
    assert sorted(SemCacheByteStore(cache).yield_keys()) == []  # the default namespace

    a.mdelete(["foo", "missing"])
    assert b.mget(["foo"]) == [b"b-foo"]
    assert cache.get("foo") == b"someone else's"  # a non-store entry under the same name
    # documented layout: key "food" of the engine namespace "lc-bytes:a"
    assert cache.get("food", namespace="lc-bytes:a") == b"a-food"
    assert cache.get("a:food") is None


async def test_async_yield_keys_is_isolated_and_an_async_generator():
    cache = cache_with_neighbours()
    store = SemCacheByteStore(cache, namespace="mine")
    await store.amset([("k1", b"1"), ("k2", b"2"), ("other", b"3")])
    assert [key async for key in store.ayield_keys()] == ["k1", "k2", "other"]
    assert [key async for key in store.ayield_keys(prefix="k")] == ["k1", "k2"]
    await store.amdelete(["k1"])
    assert await store.amget(["k1", "k2"]) == [None, b"2"]


def test_store_values_expire_with_the_store_ttl():
    clock = FakeClock()
    cache = SemCache(clock=clock)
    store = SemCacheByteStore(cache, ttl=10)
    store.mset([("short", b"lived")])
    cache.set("forever", b"no ttl", namespace=store.engine_namespace)  # by hand, no ttl
    clock.advance(11)
    assert store.mget(["short", "forever"]) == [None, b"no ttl"]
    assert list(store.yield_keys()) == ["forever"]


# --- bad input: a clear typed error, and nothing stored ----------------------------------


@pytest.mark.parametrize(
    ("pairs", "error"),
    [
        ([("k1", b"1"), ("k2", "not bytes")], InvalidValueError),
        ([("k1", b"1"), ("k2", bytearray(b"2"))], InvalidValueError),
        ([("k1", b"1"), ("k2", None)], InvalidValueError),
        ([("k1", b"1"), (2, b"2")], InvalidKeyError),
        ([("k1", b"1"), ("k2",)], InvalidArgumentError),
        ([("k1", b"1"), "k2"], InvalidArgumentError),
    ],
)
async def test_bad_mset_raises_and_stores_nothing(pairs, error):
    store = SemCacheByteStore()
    with pytest.raises(error):
        store.mset(pairs)
    with pytest.raises(error):
        await store.amset(pairs)
    assert store.mget(["k1", "k2"]) == [None, None]
    assert len(store.cache) == 0


async def test_bad_keys_raise_before_anything_happens():
    store = SemCacheByteStore()
    store.mset([("k1", b"1")])
    for call in (store.mget, store.mdelete):
        with pytest.raises(InvalidKeyError):
            call(["k1", 7])
        with pytest.raises(InvalidArgumentError):
            call("k1")  # a single str is not a sequence of keys
    for acall in (store.amget, store.amdelete):
        with pytest.raises(InvalidKeyError):
            await acall(["k1", None])
    assert store.mget(["k1"]) == [b"1"]  # the good key before the bad one was kept
    with pytest.raises(InvalidArgumentError):
        store.yield_keys(prefix=b"k")
    with pytest.raises(InvalidArgumentError):
        store.ayield_keys(prefix=1)


@pytest.mark.parametrize("namespace", ["", 3, None])
def test_bad_namespace_is_refused(namespace):
    with pytest.raises(InvalidArgumentError):
        SemCacheByteStore(namespace=namespace)


def test_bad_ttl_is_refused():
    with pytest.raises(InvalidArgumentError):
        SemCacheByteStore(ttl=0)
