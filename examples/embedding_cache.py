"""Embedding cache: pay for each text's embedding once.

Two ways, each counting the calls that reach the embedding model:

- LangChain's ``CacheBackedEmbeddings.from_bytes_store`` over ``SemCacheByteStore``: the
  second ``embed_documents`` of the same texts makes no model call;
- ``SemCache.get_or_compute(text, embed_fn)``: the engine's own helper, one call per
  distinct text; the vectors it stores are searchable with ``get_similar``.

The "model" is langchain-core's ``DeterministicFakeEmbedding`` (a hash of the text), so this
runs offline; use your real embeddings the same way.

Run: ``python examples/embedding_cache.py``
"""

from __future__ import annotations

from langchain_classic.embeddings import CacheBackedEmbeddings
from langchain_core.embeddings import DeterministicFakeEmbedding

from semcache_core import SemCache
from semcache_integrations.langchain import SemCacheByteStore


class CountingEmbeddings(DeterministicFakeEmbedding):
    """A fake embedding model counting the texts it is asked to embed."""

    texts_embedded: int = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.texts_embedded += len(texts)
        return super().embed_documents(texts)


TEXTS = [
    "semcache answers repeated questions from memory",
    "embeddings cost money and time",
    "a byte store keeps the vectors between runs",
]


def langchain_byte_store() -> None:
    model = CountingEmbeddings(size=64)
    store = SemCacheByteStore(namespace="embeddings")  # SemCacheByteStore(SemCache(path=...))
    cached = CacheBackedEmbeddings.from_bytes_store(
        model, store, namespace="fake-64", key_encoder="blake2b"
    )
    first = cached.embed_documents(TEXTS)
    print(f"CacheBackedEmbeddings, first run: {model.texts_embedded} texts embedded")
    again = cached.embed_documents(TEXTS)
    print(f"CacheBackedEmbeddings, second run: {model.texts_embedded} texts embedded in all")
    print(f"same vectors: {first == again}; {len(list(store.yield_keys()))} entries in the store")


def get_or_compute() -> None:
    model = CountingEmbeddings(size=64)
    cache = SemCache()

    def embed(text: str) -> list[float]:
        return model.embed_documents([text])[0]

    for text in [*TEXTS, *TEXTS, TEXTS[0]]:
        cache.get_or_compute(text, embed, namespace="vectors")
    print(f"get_or_compute: 7 lookups, {model.texts_embedded} embed calls")
    hit = cache.search(embed(TEXTS[1]), k=1, namespace="vectors")[0]
    print(f"search finds the stored vector: {hit.key!r} (similarity {hit.score:.2f})")


def main() -> None:
    langchain_byte_store()
    get_or_compute()


if __name__ == "__main__":
    main()
