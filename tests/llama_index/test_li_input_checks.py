"""LlamaIndex adapters: a typed error for a model name where an LLM belongs, a cache that
is not the engine or a bad ttl; reloading names the fix when ``vector_store=`` is forgotten
and refuses an empty namespace while the snapshot holds others."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from llama_index.core import Document, StorageContext, VectorStoreIndex, load_index_from_storage
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import ChatMessage, MockLLM
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from pydantic import Field

from semcache_core import FilterValueError, InvalidArgumentError, SemCache, SnapshotError
from semcache_core.filters import MAX_FILTER_DEPTH
from semcache_integrations.langchain import SemCache as LangChainSemCache
from semcache_integrations.llama_index.kvstore import SemCacheKVStore
from semcache_integrations.llama_index.llm import SemCacheLLM
from semcache_integrations.llama_index.vector_store import SemCacheVectorStore


@pytest.mark.parametrize("llm", ["gpt-4o", None, SemCache()], ids=["str", "None", "engine"])
def test_semcache_llm_needs_an_llm(llm: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="LlamaIndex LLM") as info:
        SemCacheLLM(llm)
    if isinstance(llm, str):
        assert "'gpt-4o'" in str(info.value) and "OpenAI(model=" in str(info.value)


ADAPTERS = {
    "SemCacheLLM": lambda cache: SemCacheLLM(MockLLM(), cache=cache),
    "SemCacheKVStore": lambda cache: SemCacheKVStore(cache),
    "SemCacheVectorStore": lambda cache: SemCacheVectorStore(cache),
}


@pytest.mark.parametrize("make", list(ADAPTERS.values()), ids=list(ADAPTERS))
def test_the_langchain_cache_is_not_the_engine(make) -> None:
    wrong = LangChainSemCache()
    with pytest.raises(InvalidArgumentError, match=r"semcache_core\.SemCache") as info:
        make(wrong)
    assert ".engine" in str(info.value)
    make(wrong.engine)


@pytest.mark.parametrize("make", list(ADAPTERS.values()), ids=list(ADAPTERS))
def test_a_wrong_cache_argument_is_refused(make) -> None:
    with pytest.raises(InvalidArgumentError, match=r"semcache_core\.SemCache"):
        make("in-memory")


@pytest.mark.parametrize("ttl", [-1, 0, math.nan, "60"], ids=repr)
def test_semcache_llm_refuses_a_bad_ttl_before_any_llm_call(ttl: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="ttl"):
        SemCacheLLM(MockLLM(), ttl=ttl)


@pytest.mark.parametrize(
    "make",
    [
        lambda: SemCacheLLM(MockLLM(), thresold=0.5),
        lambda: SemCacheLLM(MockLLM(), namepsace="tenant-a"),
        lambda: SemCacheVectorStore(namepsace="tenant-a"),
    ],
    ids=["llm-threshold", "llm-namespace", "store-namespace"],
)
def test_a_misspelt_keyword_is_refused_by_name(make: Any) -> None:
    # the pydantic bases drop names they do not know: the tenant's nodes went to "default"
    with pytest.raises(TypeError, match=r"unexpected keyword arguments: (thresold|namepsace)$"):
        make()


def test_the_bases_own_keywords_still_reach_them() -> None:
    llm = SemCacheLLM(MockLLM(), system_prompt="Be brief.", model_id="m")
    assert llm.system_prompt == "Be brief." and llm.model_id == "m"
    assert SemCacheVectorStore(namespace="t", stores_text=True).namespace == "t"


# --- reload -----------------------------------------------------------------------------------

EMBED = MockEmbedding(embed_dim=8)


def _persist(directory: Path, namespace: str = "llama-vectors") -> None:
    store = SemCacheVectorStore(namespace=namespace)
    context = StorageContext.from_defaults(vector_store=store)
    documents = [Document(text="cats purr"), Document(text="dogs bark")]
    index = VectorStoreIndex.from_documents(documents, storage_context=context, embed_model=EMBED)
    index.storage_context.persist(str(directory))


def test_forgetting_vector_store_names_the_fix(tmp_path: Path) -> None:
    _persist(tmp_path)
    with pytest.raises(ValueError) as info:
        StorageContext.from_defaults(persist_dir=str(tmp_path))
    message = str(info.value)
    assert "not a SimpleVectorStore" in message
    assert f"vector_store=SemCacheVectorStore.from_persist_dir({str(tmp_path)!r})" in message
    assert not isinstance(info.value, UnicodeDecodeError)

    store = SemCacheVectorStore.from_persist_dir(str(tmp_path))  # the fix works
    context = StorageContext.from_defaults(vector_store=store, persist_dir=str(tmp_path))
    loaded = load_index_from_storage(context, embed_model=EMBED)
    assert len(loaded.as_retriever(similarity_top_k=5).retrieve("cats")) == 2


def test_a_store_persisted_under_another_namespace_reloads_its_nodes(tmp_path: Path) -> None:
    _persist(tmp_path, namespace="docs")
    store = SemCacheVectorStore.from_persist_dir(str(tmp_path))
    assert store.namespace == "docs"
    assert len(store.get_nodes()) == 2
    same = SemCacheVectorStore.from_persist_dir(str(tmp_path), namespace="docs")
    assert len(same.get_nodes()) == 2


def test_asking_for_an_empty_namespace_names_those_found(tmp_path: Path) -> None:
    _persist(tmp_path, namespace="docs")
    with pytest.raises(InvalidArgumentError, match="'docs'") as info:
        SemCacheVectorStore.from_persist_dir(str(tmp_path), namespace="llama-vectors")
    assert "'llama-vectors'" in str(info.value)


def test_a_bare_snapshot_path_checks_the_namespace_too(tmp_path: Path) -> None:
    store = SemCacheVectorStore(namespace="docs")
    VectorStoreIndex.from_documents(
        [Document(text="cats purr")],
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=EMBED,
    )
    store.persist(str(tmp_path / "vectors.bin"))  # not .json: the snapshot itself
    with pytest.raises(InvalidArgumentError, match="'docs'"):
        SemCacheVectorStore.from_persist_path(str(tmp_path / "vectors.bin"))
    again = SemCacheVectorStore.from_persist_path(str(tmp_path / "vectors.bin"), namespace="docs")
    assert len(again.get_nodes()) == 1


def test_an_empty_store_reloads_empty(tmp_path: Path) -> None:
    SemCacheVectorStore(namespace="docs").persist(str(tmp_path / "default__vector_store.json"))
    store = SemCacheVectorStore.from_persist_dir(str(tmp_path))
    assert store.namespace == "docs" and store.get_nodes() == []


def test_an_older_json_file_holding_a_snapshot_still_loads(tmp_path: Path) -> None:
    cache = SemCache()
    store = SemCacheVectorStore(cache)
    VectorStoreIndex.from_documents(
        [Document(text="cats purr")],
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=EMBED,
    )
    cache.dump(tmp_path / "default__vector_store.json")  # what persist wrote before
    assert len(SemCacheVectorStore.from_persist_dir(str(tmp_path)).get_nodes()) == 1


def test_a_foreign_json_file_is_a_snapshot_error(tmp_path: Path) -> None:
    (tmp_path / "default__vector_store.json").write_text('{"embedding_dict": {}}')
    with pytest.raises(SnapshotError, match="SemCacheVectorStore"):
        SemCacheVectorStore.from_persist_dir(str(tmp_path))


class CountedMock(MockLLM):
    calls: int = Field(default=0, exclude=True)

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        self.calls += 1
        return super().complete(prompt, formatted=formatted, **kwargs)


@pytest.mark.parametrize("surrogate", ["\ud800", "\udfff", "\ud83d"])
def test_a_prompt_that_cannot_be_stored_is_refused_before_the_model_is_paid(
    surrogate: str,
) -> None:
    """The exact key (JSON, the surrogate escaped) passed; the model was called, then
    storing its answer failed and the caller lost the answer it paid for."""
    inner = CountedMock(max_tokens=3)
    wrapper = SemCacheLLM(inner)
    with pytest.raises(InvalidArgumentError, match="surrogate"):
        wrapper.complete(f"what is {surrogate} ?")
    with pytest.raises(InvalidArgumentError, match="surrogate"):
        wrapper.chat([ChatMessage(role="user", content=f"what is {surrogate} ?")])
    with pytest.raises(InvalidArgumentError, match="surrogate"):
        asyncio.run(wrapper.acomplete(f"what is {surrogate} ?"))
    with pytest.raises(InvalidArgumentError, match="surrogate"):
        asyncio.run(wrapper.achat([ChatMessage(role="user", content=f"what is {surrogate} ?")]))
    assert inner.calls == 0 and len(wrapper.engine) == 0


# --- filters and MMR arguments of the vector store (review) ------------------------------------


def _nodes() -> list[TextNode]:
    vectors = {"best": [1.0, 0.3, 0.0], "twin": [1.0, 0.28, 0.0], "other": [0.3, 1.0, 0.0]}
    nodes = []
    for i, (node_id, vector) in enumerate(vectors.items()):
        node = TextNode(id_=node_id, text=node_id, metadata={"n": i})
        node.embedding = vector
        nodes.append(node)
    return nodes


def _nested(depth: int, condition: str) -> MetadataFilters:
    """``n >= 0`` (every node) inside ``depth`` single-child groups."""
    nest = MetadataFilters(filters=[MetadataFilter(key="n", value=0, operator=">=")])
    for _ in range(depth - 1):
        nest = MetadataFilters(filters=[nest], condition=FilterCondition(condition))
    return nest


@settings(max_examples=25, deadline=None)
@example(depth=MAX_FILTER_DEPTH, condition="and")
@example(depth=MAX_FILTER_DEPTH + 1, condition="or")
@example(depth=3000, condition="and")  # past Python's recursion limit
@given(depth=st.integers(1, 3000), condition=st.sampled_from(["and", "or"]))
def test_filters_nested_too_deep_are_a_filter_value_error_at_any_depth(
    depth: int, condition: str
) -> None:
    """3000 levels raised a bare RecursionError from translate_filters; the engine's own
    dict syntax refuses anything over MAX_FILTER_DEPTH on the way down."""
    store = SemCacheVectorStore()
    store.add(_nodes())
    nest = _nested(depth, condition)
    query = VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=5, filters=nest)
    calls = [
        lambda: store.query(query).ids,
        lambda: sorted(n.node_id for n in store.get_nodes(filters=nest)),
        lambda: asyncio.run(store.aquery(query)).ids,
        lambda: store.delete_nodes(filters=nest),
    ]
    if depth <= MAX_FILTER_DEPTH:  # single-child AND / OR groups: every node matches
        unfiltered = store.query(VectorStoreQuery([1.0, 0.0, 0.0], similarity_top_k=5)).ids
        assert calls[0]() == calls[2]() == unfiltered
        assert calls[1]() == ["best", "other", "twin"]
        calls[3]()
        assert store.get_nodes() == []
        return
    for call in calls:
        with pytest.raises(FilterValueError, match=f"more than {MAX_FILTER_DEPTH} levels"):
            call()
    assert sorted(n.node_id for n in store.get_nodes()) == ["best", "other", "twin"]


@settings(max_examples=40, deadline=None)
@given(
    dtype=st.sampled_from([np.float16, np.float32, np.float64, np.longdouble]),
    value=st.one_of(st.floats(-0.5, 1.5), st.just(math.nan)),
    in_query=st.booleans(),
)
def test_mmr_threshold_may_be_any_numpy_float(dtype: Any, value: float, in_query: bool) -> None:
    """np.float32(0.5) was refused: "mmr_threshold must be in [0, 1], got np.float32(0.5)"."""
    store = SemCacheVectorStore()
    store.add(_nodes())

    def mmr(threshold: Any) -> list[str]:
        if in_query:
            query = VectorStoreQuery(
                query_embedding=[1.0, 0.3, 0.0],
                similarity_top_k=2,
                mode=VectorStoreQueryMode.MMR,
                mmr_threshold=threshold,
            )
            return store.query(query).ids
        query = VectorStoreQuery(
            query_embedding=[1.0, 0.3, 0.0], similarity_top_k=2, mode=VectorStoreQueryMode.MMR
        )
        return store.query(query, mmr_threshold=threshold).ids

    threshold = dtype(value)
    if 0.0 <= float(threshold) <= 1.0:
        assert mmr(threshold) == mmr(float(threshold))
    else:
        with pytest.raises(InvalidArgumentError, match="mmr_threshold"):
            mmr(threshold)
