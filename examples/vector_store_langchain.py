"""A LangChain vector store and retriever: ``SemCacheVectorStore`` + ``as_retriever``.

Adds a few documents with metadata, runs a similarity search, then a retriever whose
metadata filter (``{"lang": "en"}``, and the operator syntax ``{"year": {"$gte": 2024}}``)
is applied by the cache before ranking, so ``k`` results come back whenever ``k`` match.

The embeddings are semcache's built-in lexical embedder (character n-grams, no download)
wrapped as LangChain ``Embeddings``: it matches shared words, not meaning; use a sentence
model (OpenAIEmbeddings, HuggingFaceEmbeddings...) in real use.

Run: ``python examples/vector_store_langchain.py``
"""

from __future__ import annotations

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from semcache_core import HashingEmbedder
from semcache_integrations.langchain import SemCacheVectorStore


class LexicalEmbeddings(Embeddings):
    """semcache's built-in lexical embedder as LangChain ``Embeddings``."""

    def __init__(self) -> None:
        self.embedder = HashingEmbedder()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embedder.embed_document(text).tolist() for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text).tolist()


DOCUMENTS = [
    Document("How to reset your password", metadata={"lang": "en", "year": 2023}),
    Document("Password reset for admins", metadata={"lang": "en", "year": 2025}),
    Document("Réinitialiser votre password", metadata={"lang": "fr", "year": 2025}),
    Document("Shipping times for international orders", metadata={"lang": "en", "year": 2025}),
    Document("Cancel a subscription before renewal", metadata={"lang": "en", "year": 2024}),
]


def main() -> None:
    store = SemCacheVectorStore(LexicalEmbeddings())  # cache=SemCache(path=...) for durable
    ids = store.add_documents(DOCUMENTS)
    print(f"added {len(ids)} documents")

    for doc, score in store.similarity_search_with_score("reset my password", k=3):
        print(f"  {score:.2f} {doc.page_content!r} {doc.metadata}")

    retriever = store.as_retriever(search_kwargs={"k": 2, "filter": {"lang": "en"}})
    found = retriever.invoke("reset my password")
    print("retriever, lang = en:", [doc.page_content for doc in found])

    recent = store.as_retriever(
        search_kwargs={"k": 2, "filter": {"$and": [{"lang": "en"}, {"year": {"$gte": 2024}}]}}
    )
    found = recent.invoke("reset my password")
    print("retriever, lang = en and year >= 2024:", [doc.page_content for doc in found])


if __name__ == "__main__":
    main()
