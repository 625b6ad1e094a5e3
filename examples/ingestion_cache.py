"""LlamaIndex ingestion caching: ``IngestionPipeline`` + ``IngestionCache`` over
``SemCacheKVStore``.

The pipeline splits documents and embeds the chunks. Its cache keeps every
transformation's output keyed by its input, in a durable ``SemCache(path=...)``: after
the process "restarts" (the cache closed and reopened from its directory), running the
pipeline on the same documents splits and embeds nothing — zero embedding calls.

The embedding is semcache's built-in lexical embedder wrapped as a LlamaIndex embedding
that counts the texts it embeds (offline, no download).

Run: ``python examples/ingestion_cache.py``
"""

from __future__ import annotations

import tempfile

from llama_index.core import Document
from llama_index.core.ingestion import IngestionCache, IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter

from semcache_core import SemCache
from semcache_integrations.llama_index import HashingEmbedding, SemCacheKVStore


class CountingEmbedding(HashingEmbedding):
    """The built-in lexical embedder as a LlamaIndex embedding, counting texts embedded."""

    texts_embedded: int = 0

    def _get_text_embedding(self, text: str) -> list[float]:
        self.texts_embedded += 1
        return super()._get_text_embedding(text)


DOCUMENTS = [
    Document(text=f"Chapter {i}. " + "The cache keeps what was computed. " * 40, id_=f"ch{i}")
    for i in range(5)
]


def run(directory: str) -> tuple[int, int]:
    """One "process": open the durable cache, run the pipeline, close. (nodes, embedded)"""
    embed = CountingEmbedding()
    with SemCache(path=directory) as cache:
        pipeline = IngestionPipeline(
            transformations=[SentenceSplitter(chunk_size=128, chunk_overlap=0), embed],
            cache=IngestionCache(cache=SemCacheKVStore(cache)),
        )
        nodes = pipeline.run(documents=DOCUMENTS)
    return len(nodes), embed.texts_embedded


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        nodes, embedded = run(directory)
        print(f"first run: {nodes} nodes, {embedded} embedding calls")
        nodes, embedded = run(directory)
        print(f"second run (cache reopened from disk): {nodes} nodes, {embedded} embedding calls")


if __name__ == "__main__":
    main()
