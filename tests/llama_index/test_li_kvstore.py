"""``SemCacheKVStore``: the ``BaseKVStore`` contract, then the LlamaIndex stores it backs.

No standard LlamaIndex suite exists for key-value stores, so the contract is spelled out
here against what ``SimpleKVStore`` does: a miss is ``None``, values are fresh copies,
collections are separate, ``get_all`` of an unknown collection is ``{}``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from fakeclock import FakeClock
from hypothesis import given, settings
from hypothesis import strategies as st
from llama_index.core import Document
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.data_structs import IndexDict
from llama_index.core.ingestion import IngestionCache, IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.storage.docstore.keyval_docstore import KVDocumentStore
from llama_index.core.storage.index_store.keyval_index_store import KVIndexStore
from llama_index.core.storage.kvstore.types import BaseKVStore
from llama_support import FunctionEmbedding

from semcache_core import InvalidArgumentError, InvalidKeyError, InvalidValueError, SemCache
from semcache_integrations.llama_index.kvstore import SemCacheKVStore


class RecordingCache(SemCache):
    """A ``SemCache`` that records how many engine writes each call made."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.write_calls: list[int] = []

    def set_many(self, items: Any, **options: Any) -> None:
        items = list(items.items()) if isinstance(items, dict) else list(items)
        self.write_calls.append(len(items))
        super().set_many(items, **options)


@pytest.fixture
def store() -> SemCacheKVStore:
    cache = SemCache()
    cache.set("data:k", {"foreign": True})  # a neighbour under a name like ours
    cache.set("llama-kv:data", {"foreign": True})
    cache.set("llama-kv2:data:k", {"foreign": True})
    return SemCacheKVStore(cache)


# --- the contract ------------------------------------------------------------------------


def test_is_a_base_kv_store(store: SemCacheKVStore) -> None:
    assert isinstance(store, BaseKVStore)
    assert "default" in repr(store)
    assert store.engine_namespace == "li-kv:default"


def test_put_get_delete_and_miss(store: SemCacheKVStore) -> None:
    assert store.get("k") is None
    store.put("k", {"a": 1, "nested": {"b": [1, 2]}})
    assert store.get("k") == {"a": 1, "nested": {"b": [1, 2]}}
    assert store.delete("k") is True
    assert store.delete("k") is False
    assert store.get("k") is None


def test_values_are_fresh_copies(store: SemCacheKVStore) -> None:
    val = {"list": [1], "inner": {"x": 1}}
    store.put("k", val)
    val["list"].append(2)  # the caller's later change is not stored
    got = store.get("k")
    assert got == {"list": [1], "inner": {"x": 1}}
    got["inner"]["x"] = 99  # nor is a change to what a read returned
    assert store.get("k") == {"list": [1], "inner": {"x": 1}}
    assert store.get_all()["k"] is not store.get_all()["k"]


def test_collections_are_separate(store: SemCacheKVStore) -> None:
    store.put("k", {"v": "default"})
    store.put("k", {"v": "docstore"}, collection="docstore/data")
    store.put("k", {"v": "index"}, collection="index_store/data")
    assert store.get("k") == {"v": "default"}
    assert store.get("k", collection="docstore/data") == {"v": "docstore"}
    assert store.get_all("index_store/data") == {"k": {"v": "index"}}
    assert store.delete("k", collection="docstore/data")
    assert store.get("k") == {"v": "default"}
    assert store.get_all("docstore/data") == {}
    assert store.get_all("never-used") == {}


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("a", "b:c"), ("a:b", "c")),  # a ":" in the collection cannot shift the boundary
        (("a%3Ab", "c"), ("a:b", "c")),  # nor can an escaped-looking collection
        (("", "x:y"), ("x", "y")),
        (("a", ""), ("a:", "")),
    ],
)
def test_no_two_collection_keys_collide(
    store: SemCacheKVStore, first: tuple[str, str], second: tuple[str, str]
) -> None:
    (c1, k1), (c2, k2) = first, second
    store.put(k1, {"n": 1}, collection=c1)
    store.put(k2, {"n": 2}, collection=c2)
    assert store.get(k1, collection=c1) == {"n": 1}
    assert store.get(k2, collection=c2) == {"n": 2}
    assert store.get_all(c1) == {k1: {"n": 1}}
    assert store.get_all(c2) == {k2: {"n": 2}}


def test_key_scheme_is_readable() -> None:
    store = SemCacheKVStore()
    store.put("doc-1", {"x": 1}, collection="docstore/data")
    store.put("id", {"x": 1}, collection="odd:name%")
    assert store.cache.scan(namespace="li-kv:default") == [
        "docstore/data:doc-1",
        "odd%3Aname%25:id",
    ]
    assert store.cache.namespaces() == ["li-kv:default"]
    entry = store.cache.get_entry("docstore/data:doc-1", namespace="li-kv:default")
    assert entry is not None and entry.namespace == "li-kv:default"


def test_get_all_returns_every_key_of_the_collection(store: SemCacheKVStore) -> None:
    pairs = [(f"key:{i}", {"i": i}) for i in range(25)]
    store.put_all(pairs, collection="c", batch_size=10)
    store.put("other", {"i": -1}, collection="c2")
    assert store.get_all("c") == dict(pairs)


def test_stores_share_a_cache_by_namespace() -> None:
    cache = SemCache()
    one, two = SemCacheKVStore(cache), SemCacheKVStore(cache, namespace="two")
    one.put("k", {"who": 1})
    two.put("k", {"who": 2})
    assert one.get("k") == {"who": 1} and two.get("k") == {"who": 2}
    assert one.get_all() == {"k": {"who": 1}}


def test_foreign_non_dict_values_read_as_misses() -> None:
    cache = SemCache()
    store = SemCacheKVStore(cache)
    cache.set("llama-kv:data:k", "not a dict")
    assert store.get("k") is None
    assert store.get_all() == {}


@pytest.mark.parametrize(("batch_size", "writes"), [(1, [1, 1, 1, 1, 1]), (2, [2, 2, 1]), (9, [5])])
def test_put_all_writes_one_set_many_per_batch(batch_size: int, writes: list[int]) -> None:
    cache = RecordingCache()
    store = SemCacheKVStore(cache)
    pairs = [(f"k{i}", {"i": i}) for i in range(5)]
    store.put_all(pairs, batch_size=batch_size)
    assert cache.write_calls == writes
    assert store.get_all() == dict(pairs)


def test_put_all_empty_and_repeated_keys() -> None:
    cache = RecordingCache()
    store = SemCacheKVStore(cache)
    store.put_all([])
    assert cache.write_calls == []
    store.put_all([("k", {"v": 1}), ("k", {"v": 2})], batch_size=1)
    assert store.get("k") == {"v": 2}


def test_ttl_expires_values() -> None:
    clock = FakeClock()
    store = SemCacheKVStore(SemCache(clock=clock), ttl=10)
    store.put("a", {"v": 1})
    store.put_all([("b", {"v": 2})])
    clock.advance(5)
    assert store.get_all() == {"a": {"v": 1}, "b": {"v": 2}}
    clock.advance(6)
    assert store.get("a") is None
    assert store.get_all() == {}
    assert store.delete("b") is False


# --- bad input: a typed error, and nothing stored ----------------------------------------


def _unstorable() -> dict:
    return {"too big": 2**70}


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda s: s.put(1, {"v": 1}), InvalidKeyError),
        (lambda s: s.put("k", ["not", "a dict"]), InvalidValueError),
        (lambda s: s.put("k", _unstorable()), InvalidValueError),
        (lambda s: s.put("k", {"v": object()}), InvalidValueError),
        (lambda s: s.put("k", {"v": 1}, collection=None), InvalidArgumentError),
        (lambda s: s.put_all([("ok", {"v": 1}), (2, {"v": 2})]), InvalidKeyError),
        (lambda s: s.put_all([("ok", {"v": 1}), ("bad", "str")]), InvalidValueError),
        (lambda s: s.put_all([("ok", {"v": 1}), ("bad", _unstorable())]), InvalidValueError),
        (
            lambda s: s.put_all([("ok", {"v": 1}), ("bad", _unstorable())], batch_size=5),
            InvalidValueError,
        ),
        (lambda s: s.put_all([("ok", {"v": 1}), ("no pair",)]), InvalidArgumentError),
        (lambda s: s.put_all({"ok": {"v": 1}}), InvalidArgumentError),
        (lambda s: s.put_all([("ok", {"v": 1})], batch_size=0), InvalidArgumentError),
        (lambda s: s.put_all([("ok", {"v": 1})], batch_size=True), InvalidArgumentError),
        (lambda s: s.put_all([("ok", {"v": 1})], collection=3), InvalidArgumentError),
    ],
)
def test_bad_writes_raise_and_store_nothing(call: Any, error: type[Exception]) -> None:
    store = SemCacheKVStore()
    with pytest.raises(error):
        call(store)
    assert len(store.cache) == 0


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(
    good=st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=8, unique=True),
    position=st.integers(0, 8),
    batch_size=st.integers(1, 4),
    surrogate=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
)
def test_put_all_with_a_lone_surrogate_key_stores_no_batch(good, position, batch_size, surrogate):
    """The key check was ``isinstance(key, str)`` only: the engine refused the bad key
    when its batch was written, after the earlier batches were (and its message showed
    the internal ``data:`` prefix)."""
    bad = f"bad{surrogate}"
    pairs = [(key, {"v": i}) for i, key in enumerate(good)]
    pairs.insert(min(position, len(pairs)), (bad, {"v": -1}))
    store = SemCacheKVStore()
    with pytest.raises(InvalidKeyError, match="surrogate") as raised:
        store.put_all(pairs, collection="data", batch_size=batch_size)
    assert "data:" not in str(raised.value)
    with pytest.raises(InvalidKeyError, match="surrogate"):
        asyncio.run(store.aput_all(pairs, collection="data", batch_size=batch_size))
    with pytest.raises(InvalidArgumentError, match="surrogate"):
        store.put_all(pairs[:1], collection=f"c{surrogate}")
    assert len(store.cache) == 0


async def test_bad_async_writes_raise_and_store_nothing() -> None:
    store = SemCacheKVStore()
    with pytest.raises(InvalidKeyError):
        await store.aput(None, {"v": 1})  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError):
        await store.aput_all([("ok", {"v": 1}), ("bad", _unstorable())])
    assert len(store.cache) == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.get(1),
        lambda s: s.delete(b"k"),
        lambda s: s.get("k", collection=1),
        lambda s: s.get_all(None),
    ],
)
def test_bad_reads_raise_typed_errors(call: Any) -> None:
    with pytest.raises((InvalidKeyError, InvalidArgumentError)):
        call(SemCacheKVStore())


@pytest.mark.parametrize("namespace", ["", 3, None])
def test_bad_namespace(namespace: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        SemCacheKVStore(namespace=namespace)


def test_bad_ttl() -> None:
    with pytest.raises(InvalidArgumentError):
        SemCacheKVStore(ttl=-1)


# --- async parity ------------------------------------------------------------------------


async def test_async_twins_match_sync(store: SemCacheKVStore) -> None:
    assert await store.aget("k") is None
    await store.aput("k", {"v": 1}, collection="c")
    await store.aput_all([("a", {"v": 2}), ("b", {"v": 3})], collection="c", batch_size=2)
    assert await store.aget("k", collection="c") == store.get("k", collection="c") == {"v": 1}
    assert (
        await store.aget_all("c")
        == store.get_all("c")
        == {
            "k": {"v": 1},
            "a": {"v": 2},
            "b": {"v": 3},
        }
    )
    assert await store.adelete("a", collection="c") is True
    assert await store.adelete("a", collection="c") is False
    assert await store.aget_all("c") == {"k": {"v": 1}, "b": {"v": 3}}
    got = await store.aget("k", collection="c")
    assert got is not None
    got["v"] = 5
    assert await store.aget("k", collection="c") == {"v": 1}


async def test_async_put_all_batches() -> None:
    cache = RecordingCache()
    store = SemCacheKVStore(cache)
    await store.aput_all([(f"k{i}", {"i": i}) for i in range(5)], batch_size=2)
    assert cache.write_calls == [2, 2, 1]


# --- behind LlamaIndex's stores ----------------------------------------------------------


@pytest.fixture
def durable_path(tmp_path: Path) -> Path:
    return tmp_path / "kv"


def test_docstore_round_trip_through_a_reopened_durable_cache(durable_path: Path) -> None:
    doc = Document(text="semcache keeps what it was given", id_="doc-1", metadata={"n": 1})
    with SemCache(path=durable_path) as cache:
        docstore = KVDocumentStore(SemCacheKVStore(cache))
        docstore.add_documents([doc])
        assert docstore.document_exists("doc-1")
    with SemCache(path=durable_path) as cache:
        docstore = KVDocumentStore(SemCacheKVStore(cache))
        got = docstore.get_document("doc-1")
        assert got is not None and got.text == doc.text and got.metadata == {"n": 1}
        assert set(docstore.docs) == {"doc-1"}
        assert docstore.get_document_hash("doc-1") == doc.hash
        docstore.delete_document("doc-1")
        assert not docstore.document_exists("doc-1")


async def test_docstore_async_calls(store: SemCacheKVStore) -> None:
    docstore = KVDocumentStore(store, batch_size=2)
    docs = [Document(text=f"text {i}", id_=f"d{i}") for i in range(3)]
    await docstore.async_add_documents(docs)
    got = await docstore.aget_document("d1")
    assert got is not None and got.text == "text 1"
    assert await docstore.adocument_exists("d2")
    await docstore.adelete_document("d2")
    assert not await docstore.adocument_exists("d2")
    assert set(docstore.docs) == {"d0", "d1"}


def test_index_store_round_trip_through_a_reopened_durable_cache(durable_path: Path) -> None:
    struct = IndexDict()
    struct.add_node(Document(text="x", id_="n1"))
    with SemCache(path=durable_path) as cache:
        KVIndexStore(SemCacheKVStore(cache)).add_index_struct(struct)
    with SemCache(path=durable_path) as cache:
        index_store = KVIndexStore(SemCacheKVStore(cache))
        got = index_store.get_index_struct(struct.index_id)
        assert isinstance(got, IndexDict)
        assert got.nodes_dict == struct.nodes_dict
        assert [s.index_id for s in index_store.index_structs()] == [struct.index_id]


def test_ingestion_cache_put_get_clear(store: SemCacheKVStore) -> None:
    cache = IngestionCache(cache=store)
    nodes = SentenceSplitter(chunk_size=64, chunk_overlap=0)([Document(text="one two three")])
    cache.put("h", nodes)
    got = cache.get("h")
    assert got is not None and [n.get_content() for n in got] == ["one two three"]
    assert cache.get("missing") is None
    cache.clear()
    assert cache.get("h") is None
    assert store.get_all("llama_cache") == {}


# --- an IngestionPipeline that embeds each unchanged chunk once --------------------------


class CountingEmbedding(FunctionEmbedding):
    """Deterministic local vectors; counts every text that reaches the model.

    The counter is a private attribute: ``get_transformation_hash`` hashes the model's
    fields, and a counting field would change the hash (and miss the cache) every run.
    """

    _texts: list[str] = PrivateAttr(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "CountingEmbedding"

    @property
    def texts(self) -> list[str]:
        return self._texts

    def _vector(self, text: str) -> list[float]:
        self._texts.append(text)
        return [float((sum(map(ord, text)) * (i + 1)) % 97 + 1) for i in range(8)]


DOCS = [
    Document(text="Semantic caches answer repeated questions. " * 20, id_="a"),
    Document(text="Durable mode survives a restart of the process. " * 20, id_="b"),
]


def pipeline(kv: SemCacheKVStore, embed: CountingEmbedding) -> IngestionPipeline:
    return IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=64, chunk_overlap=0), embed],
        cache=IngestionCache(cache=kv),
    )


def _docs() -> list[Document]:
    return [Document(text=d.text, id_=d.id_) for d in DOCS]


def test_pipeline_second_run_makes_no_embedding_calls(store: SemCacheKVStore) -> None:
    embed = CountingEmbedding()
    first = pipeline(store, embed).run(documents=_docs())
    calls = len(embed.texts)
    assert calls == len(first) > 2
    second = pipeline(store, embed).run(documents=_docs())
    assert len(embed.texts) == calls
    assert [n.embedding for n in second] == [n.embedding for n in first]
    assert [n.get_content() for n in second] == [n.get_content() for n in first]


async def test_pipeline_async_second_run_makes_no_embedding_calls(
    store: SemCacheKVStore,
) -> None:
    embed = CountingEmbedding()
    first = await pipeline(store, embed).arun(documents=_docs())
    calls = len(embed.texts)
    assert calls == len(first)
    second = await pipeline(store, embed).arun(documents=_docs())
    assert len(embed.texts) == calls
    assert [n.embedding for n in second] == [n.embedding for n in first]


def test_pipeline_cache_survives_close_and_reopen(durable_path: Path) -> None:
    with SemCache(path=durable_path) as cache:
        embed = CountingEmbedding()
        first = pipeline(SemCacheKVStore(cache), embed).run(documents=_docs())
        assert len(embed.texts) == len(first)
    with SemCache(path=durable_path) as cache:
        fresh = CountingEmbedding()  # a new process: new model object, new pipeline
        second = pipeline(SemCacheKVStore(cache), fresh).run(documents=_docs())
        assert fresh.texts == []
        assert [n.embedding for n in second] == [n.embedding for n in first]
        changed = [Document(text="A new document to embed.", id_="c"), *_docs()]
        pipeline(SemCacheKVStore(cache), fresh).run(documents=changed)
        assert len(fresh.texts) > 0  # a changed input is embedded
