"""Section 3 of ``semcache demo``: a LlamaIndex index, filtered retrieval, persist, reload.

The same documents go into a ``VectorStoreIndex`` over semcache's store (on the tour's
cache: in process or Redis) and over LlamaIndex's default ``SimpleVectorStore``; both
answer the same question under ``MetadataFilters`` (topic = billing and year >= 2022),
then persist to disk and load back (semcache's store into an in-process cache, from its
binary snapshot), and answer again: the same nodes.

Example::

    figures = llamaindex_demo(400, console, engine=engine, embedding=HashingEmbedding())
    figures["semcache"]["same_after_reload"]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from llama_index.core import Document, StorageContext, VectorStoreIndex, load_index_from_storage
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.vector_stores import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    SimpleVectorStore,
)
from rich.console import Console
from rich.table import Table

from semcache_core import SemCache

from .llama_index import HashingEmbedding, SemCacheVectorStore

__all__ = ["ModelEmbedding", "llamaindex_demo"]

_TOPICS = ["billing", "security", "shipping", "returns", "accounts"]
_TEMPLATES = [
    "How {topic} works for orders placed in {year}",
    "Common {topic} questions from customers in {year}",
    "Changes to our {topic} policy announced in {year}",
    "A step by step {topic} guide, edition {year}",
]
_QUESTION = "what changed in the billing policy"
_FILTERS = MetadataFilters(
    filters=[
        MetadataFilter(key="topic", value="billing"),
        MetadataFilter(key="year", value=2022, operator=FilterOperator.GTE),
    ],
    condition=FilterCondition.AND,
)


class ModelEmbedding(BaseEmbedding):
    """A model with LangChain-style ``embed_documents`` / ``embed_query`` (the tour's
    sentence model) as a LlamaIndex embedding; texts are embedded in batches."""

    model: Any = None

    @classmethod
    def class_name(cls) -> str:
        return "ModelEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return list(self.model.embed_query(query))

    def _get_text_embedding(self, text: str) -> list[float]:
        return list(self.model.embed_documents([text])[0])

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [list(vector) for vector in self.model.embed_documents(texts)]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


def _documents(count: int) -> list[Document]:
    documents = []
    for i in range(count):
        topic, year = _TOPICS[i % len(_TOPICS)], 2016 + (i // len(_TOPICS)) % 10
        text = _TEMPLATES[(i // 50) % len(_TEMPLATES)].format(topic=topic, year=year)
        documents.append(
            Document(text=f"{text} (note {i})", metadata={"topic": topic, "year": year})
        )
    return documents


def _best_of(rounds: int, call: Any) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def _size(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def _run(
    name: str,
    make_store: Any,
    reload_store: Any,
    docs: list[Document],
    root: Path,
    embed: BaseEmbedding,
) -> dict:
    start = time.perf_counter()
    context = StorageContext.from_defaults(vector_store=make_store())
    index = VectorStoreIndex.from_documents(docs, storage_context=context, embed_model=embed)
    built = time.perf_counter() - start
    retriever = index.as_retriever(similarity_top_k=3, filters=_FILTERS)
    found = retriever.retrieve(_QUESTION)
    queried = _best_of(5, lambda: retriever.retrieve(_QUESTION))  # warm, as in production
    directory = root / name
    start = time.perf_counter()
    index.storage_context.persist(persist_dir=str(directory))
    persisted = time.perf_counter() - start
    start = time.perf_counter()
    reloaded_context = StorageContext.from_defaults(
        persist_dir=str(directory), vector_store=reload_store(directory)
    )
    reloaded = load_index_from_storage(reloaded_context, embed_model=embed)
    loaded = time.perf_counter() - start
    again = reloaded.as_retriever(similarity_top_k=3, filters=_FILTERS).retrieve(_QUESTION)
    return {
        "build_s": built,
        "query_s": queried,
        "persist_s": persisted,
        "load_s": loaded,
        "bytes": _size(directory),
        "hits": [(hit.node.get_content(), hit.node.metadata) for hit in found],
        "node_ids": [hit.node.node_id for hit in found],
        "reloaded_ids": [hit.node.node_id for hit in again],
        "same_after_reload": [h.node.node_id for h in again] == [h.node.node_id for h in found],
    }


def llamaindex_demo(
    documents: int = 2000,
    console: Console | None = None,
    *,
    engine: SemCache | None = None,
    embedding: BaseEmbedding | None = None,
) -> dict[str, Any]:
    """Run both stores, print the comparison, and return the figures (for tests).

    ``engine``: the cache semcache's store lives in (namespace ``"demo"``; default a new
    in-process one); ``embedding``: default the built-in lexical :class:`HashingEmbedding`.
    """
    console = console or Console()
    embed = embedding or HashingEmbedding()
    docs = _documents(documents)

    def our_store() -> SemCacheVectorStore:
        return SemCacheVectorStore(engine, namespace="demo")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        figures = {
            "semcache": _run(
                "semcache", our_store, SemCacheVectorStore.from_persist_dir, docs, root, embed
            ),
            "SimpleVectorStore": _run(
                "simple", SimpleVectorStore, SimpleVectorStore.from_persist_dir, docs, root, embed
            ),
        }
    ours = figures["semcache"]
    hits = Table(title=f"LlamaIndex: {_QUESTION!r}, topic = billing and year >= 2022")
    for column in ("document", "topic", "year"):
        hits.add_column(column)
    for text, metadata in ours["hits"]:
        hits.add_row(text, metadata["topic"], str(metadata["year"]))
    console.print(hits)
    table = Table(
        title=f"VectorStoreIndex over {len(docs):,} documents (query: filtered, warm; "
        "same hits: after reload)"
    )
    table.add_column("store", no_wrap=True)
    for column in ("build s", "query ms", "persist s", "load s", "disk KB", "same hits"):
        table.add_column(column, justify="right")
    for name, run in figures.items():
        table.add_row(
            name,
            f"{run['build_s']:.2f}",
            f"{run['query_s'] * 1000:.1f}",
            f"{run['persist_s']:.3f}",
            f"{run['load_s']:.3f}",
            f"{run['bytes'] / 1000:,.0f}",
            "yes" if run["same_after_reload"] else "NO",
        )
    console.print(table)
    if isinstance(embed, ModelEmbedding):
        console.print(
            "build s: semcache's build embeds the documents with the model; the second "
            "build reuses those vectors (the tour's model embeds each text once)"
        )
    return figures
