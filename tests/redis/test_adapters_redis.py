"""The adapters end to end over the 3-primary cluster: the LangChain LLM cache (its
standard suite and a chat flow through ``set_llm_cache``), the LangChain vector store (its
standard suite) and the LlamaIndex vector store (a ``VectorStoreIndex`` flow), each on
``SemCache(backend=RedisBackend(...))`` passed as ``cache=``."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.caches import BaseCache
from langchain_core.globals import set_llm_cache
from langchain_core.messages import HumanMessage
from langchain_tests.integration_tests import SyncCacheTestSuite, VectorStoreIntegrationTests
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from suite_support import load_unit_module

from semcache_core import SemCache as Engine
from semcache_core.backends.redis import RedisBackend
from semcache_integrations.langchain.llm_cache import SemCache as LLMCache
from semcache_integrations.langchain.vector_store import SemCacheVectorStore as LCStore
from semcache_integrations.llama_index.vector_store import SemCacheVectorStore as LIStore

TESTS = Path(__file__).resolve().parents[1]
_lc = load_unit_module("test_lc_llm_cache", TESTS / "langchain")
_li = load_unit_module("test_li_vector_store", TESTS / "llama_index")
_PREFIXES = itertools.count()


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest) -> Iterator[Any]:
    client = request.getfixturevalue("redis_cluster").client()
    yield client
    client.close()


@pytest.fixture
def engine(cluster: Any) -> Iterator[Engine]:
    """A fresh engine on the cluster (its own key prefix), cleared afterwards."""
    backend = RedisBackend(client=cluster, prefix=f"adapt{next(_PREFIXES)}")
    cache = Engine(backend=backend)
    yield cache
    cache.clear()
    cache.close()


class TestLLMCacheSuiteOnCluster(SyncCacheTestSuite):
    @pytest.fixture
    def cache(self, engine: Engine) -> BaseCache:
        return LLMCache(cache=engine)


def test_chat_flow_through_set_llm_cache(engine: Engine) -> None:
    set_llm_cache(LLMCache(threshold=0.9, cache=engine))
    try:
        model = _lc.chat("a")
        first = _lc.ask(model, "How do I reset my password?")
        assert _lc.ask(model, "How do I reset my password?") == first  # exact
        assert _lc.ask(model, "how do I reset my password") == first  # by meaning
        assert _lc.ask(model, "How do I delete my account?") != first
        other = _lc.chat("b")  # another model never sees a's answers
        assert _lc.ask(other, "How do I reset my password?") == "b answer 0"
        assert (model.calls, other.calls) == (2, 1)
        again = model.invoke([_lc.SYSTEM, HumanMessage("how do I reset my password")])
        assert again.content == first
    finally:
        set_llm_cache(None)
    assert engine.count() > 0 and engine.backend.__class__ is RedisBackend


class TestLangChainVectorStoreOnCluster(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self, engine: Engine) -> Iterator[LCStore]:  # type: ignore[override]
        yield LCStore(self.get_embeddings(), engine)


def test_llama_index_flow(engine: Engine) -> None:
    store = LIStore(engine, namespace="docs")
    context = StorageContext.from_defaults(vector_store=store)
    documents = [
        Document(text="Cats purr when they are content.", metadata={"kind": "pet", "year": 2020}),
        Document(text="Dogs bark at the mail carrier.", metadata={"kind": "pet", "year": 2022}),
        Document(text="Granite is an igneous rock.", metadata={"kind": "rock", "year": 2021}),
    ]
    embed = _li.WordEmbedding()
    index = VectorStoreIndex.from_documents(documents, storage_context=context, embed_model=embed)
    top = index.as_retriever(similarity_top_k=1).retrieve("why do cats purr")
    assert "Cats purr" in top[0].node.get_content()
    pets_after_2021 = MetadataFilters(
        filters=[
            MetadataFilter(key="kind", operator=FilterOperator.EQ, value="pet"),
            MetadataFilter(key="year", operator=FilterOperator.GT, value=2021),
        ]
    )
    hits = index.as_retriever(similarity_top_k=3, filters=pets_after_2021).retrieve("cats")
    assert [h.node.get_content() for h in hits] == ["Dogs bark at the mail carrier."]
    index.delete_ref_doc(documents[0].doc_id, delete_from_docstore=True)
    left = index.as_retriever(similarity_top_k=3).retrieve("why do cats purr")
    assert all("Cats" not in h.node.get_content() for h in left) and len(left) == 2
    assert engine.count() == 2  # the store's entries live in Redis
