"""LlamaIndex RAG over semcache: ``SemCacheVectorStore`` for the index, ``SemCacheLLM`` for
the answers.

- ``VectorStoreIndex`` over ``SemCacheVectorStore``; a query engine whose ``Settings.llm``
  is ``SemCacheLLM(MockLLM())``: asking the same question twice calls the LLM once;
- filtered retrieval (``MetadataFilters``, applied by the store before ranking);
- ``persist`` to a temp directory and reload with ``SemCacheVectorStore.from_persist_dir``:
  the reloaded index retrieves the same nodes.

``Settings.embed_model`` is semcache's built-in lexical embedder (character n-grams, no
download) wrapped as a LlamaIndex embedding; the LLM is LlamaIndex's ``MockLLM``, counting
its calls. Both stand in for real models, offline.

Run: ``python examples/rag_llamaindex.py``
"""

from __future__ import annotations

import tempfile
from typing import Any

from llama_index.core import (
    Document,
    Settings,
    StorageContext,
    VectorStoreIndex,
    load_index_from_storage,
)
from llama_index.core.base.llms.types import CompletionResponse
from llama_index.core.llms import MockLLM
from llama_index.core.vector_stores import MetadataFilter, MetadataFilters
from pydantic import Field

from semcache_integrations.llama_index import HashingEmbedding, SemCacheLLM, SemCacheVectorStore


class CountingLLM(MockLLM):
    """LlamaIndex's mock LLM (it answers with the prompt's start), counting its calls."""

    # a counter is state, not a setting: left out of the model identity (which SemCacheLLM
    # reads at each call, so that a changed setting never gets another setting's answers)
    calls: int = Field(default=0, exclude=True)

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.calls += 1
        return super().complete(prompt, formatted=formatted, **kwargs)


DOCUMENTS = [
    Document(text="Refunds are paid within 14 days of the return.", metadata={"topic": "billing"}),
    Document(
        text="Invoices can be downloaded from the billing page.", metadata={"topic": "billing"}
    ),
    Document(text="Parcels ship within 2 days from our warehouse.", metadata={"topic": "shipping"}),
    Document(text="Returns are free for 30 days after delivery.", metadata={"topic": "returns"}),
]


def main() -> None:
    mock = CountingLLM(max_tokens=12)
    Settings.embed_model = HashingEmbedding()
    llm = SemCacheLLM(mock)
    Settings.llm = llm

    store = SemCacheVectorStore()
    index = VectorStoreIndex.from_documents(
        DOCUMENTS, storage_context=StorageContext.from_defaults(vector_store=store)
    )
    engine = index.as_query_engine(similarity_top_k=2)
    for question in ["When are refunds paid?", "When are refunds paid?", "when are refunds paid"]:
        engine.query(question)
    stats = llm.stats()
    print(
        f"query engine: 3 questions, {mock.calls} LLM call; {stats.exact_hits} exact hit, "
        f"{stats.semantic_hits} semantic hit"
    )

    billing = MetadataFilters(filters=[MetadataFilter(key="topic", value="billing")])
    retriever = index.as_retriever(similarity_top_k=2, filters=billing)
    found = [hit.node.get_content() for hit in retriever.retrieve("how long do returns take")]
    print(f"filtered retrieval, topic = billing: {found}")

    with tempfile.TemporaryDirectory() as directory:
        index.storage_context.persist(persist_dir=directory)
        reloaded = load_index_from_storage(
            StorageContext.from_defaults(
                persist_dir=directory,
                vector_store=SemCacheVectorStore.from_persist_dir(directory),
            )
        )
        again = reloaded.as_retriever(similarity_top_k=2, filters=billing)
        same = [hit.node.get_content() for hit in again.retrieve("how long do returns take")]
    print(f"persisted and reloaded: same hits {same == found}")


if __name__ == "__main__":
    main()
