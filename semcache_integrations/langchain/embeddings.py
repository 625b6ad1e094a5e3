"""``CachedEmbeddings``: a LangChain ``Embeddings`` that pays for each text once.

Example::

    from langchain_openai import OpenAIEmbeddings
    from semcache_core import SemCache
    from semcache_integrations.langchain.embeddings import CachedEmbeddings

    embeddings = CachedEmbeddings(OpenAIEmbeddings(), SemCache(path="./embeddings"))
    vectors = embeddings.embed_documents(["hello", "goodbye", "hello"])  # one API call
    embeddings.cache.search(embeddings.embed_query("hi"), k=1)  # the cached documents

Every distinct text is embedded once, whatever the number of callers: the document misses
of one ``embed_documents`` call go to the model in **one** ``embed_documents`` call, and
single flight (the engine's ``get_or_compute_many`` / ``get_or_compute``) makes concurrent
callers (threads or coroutines) wait for a text another caller is already embedding.

Where entries live (``ns`` is ``namespace``; see :mod:`semcache_core.namespaces`)::

    document vector of text t   key  t   engine namespace  "embed:{ns}"
    query vector of text t      key  t   engine namespace  "embed-query:{ns}"

A query whose text is already cached as a document is answered from that document vector
(no model call): most models embed a query and a document of the same text alike. For
models that do not (E5, Instructor: a prefix or instruction per side), pass
``share_document_vectors=False`` and documents and queries never answer for one another.
``cache.search(vector, namespace=embeddings.document_namespace)`` ranks the cached
documents only. Each namespace takes the model's dimension, whatever else the cache holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from semcache_core import SemCache
from semcache_core.checks import check_keys, ordered_rows
from semcache_core.embedders import to_vector
from semcache_core.engine_arg import check_engine
from semcache_core.errors import EmbedderError, InvalidArgumentError
from semcache_core.model_identity import digest
from semcache_core.namespaces import adapter_namespace

__all__ = ["CachedEmbeddings"]

_MISSING: Any = object()


def _vector(raw: Any, source: str) -> np.ndarray:
    """The model's vector as a 1-D float64 array: what the cache stores and indexes."""
    return to_vector(raw, source, np.float64)


def _floats(value: Any) -> list[float]:
    """A stored vector as the plain ``list[float]`` the Embeddings interface returns."""
    if isinstance(value, np.ndarray):
        return value.astype(np.float64, copy=False).tolist()
    return [float(x) for x in value]


class CachedEmbeddings(Embeddings):
    """Caches an ``Embeddings`` model's vectors in a :class:`~semcache_core.SemCache`.

    Args:
        underlying: the model that embeds what the cache does not hold.
        cache: where vectors live; default a fresh in-process ``SemCache`` whose embedder
            is this object, so ``cache.search("some text")`` works too. Pass a durable
            ``SemCache(path=...)`` to keep vectors across restarts.
        namespace: separates the vectors of several models in one cache: documents live
            in the engine namespace ``"embed:{namespace}"``, queries in
            ``"embed-query:{namespace}"``. Default: named after the model and its
            settings (``"{class}-{digest}"``, :func:`semcache_core.model_identity.digest`:
            its fields less credentials and transport settings), so two models, or one
            model with two ``dimensions``, never share vectors; give a name of your own to
            keep one store across setting changes that leave the vectors alike.
        share_document_vectors: answer ``embed_query`` from a cached document vector of
            the same text; ``False`` for models that embed queries differently.

    Raises:
        InvalidArgumentError: ``underlying`` is not an embedding model, or a bad namespace.
    """

    def __init__(
        self,
        underlying: Embeddings,
        cache: SemCache | None = None,
        *,
        namespace: str | None = None,
        share_document_vectors: bool = True,
    ) -> None:
        if not (hasattr(underlying, "embed_documents") and hasattr(underlying, "embed_query")):
            raise InvalidArgumentError(
                f"underlying must be a LangChain Embeddings, got {type(underlying).__name__}"
            )
        if namespace is None:
            namespace = f"{type(underlying).__name__}-{digest(underlying)}"
        self.document_namespace = adapter_namespace("embed", namespace)
        self.query_namespace = adapter_namespace("embed-query", namespace)
        self.underlying = underlying
        self.share_document_vectors = bool(share_document_vectors)
        self.namespace = namespace
        cache = check_engine(cache, "CachedEmbeddings")
        self.cache = SemCache(embedder=self) if cache is None else cache

    def __repr__(self) -> str:
        return (
            f"CachedEmbeddings({type(self.underlying).__name__}, namespace={self.namespace!r}, "
            f"cache={self.cache!r})"
        )

    @staticmethod
    def document_key(text: str) -> str:
        """The cache key of ``text``'s document vector (in :attr:`document_namespace`)."""
        return CachedEmbeddings._keys([text])[0]

    @staticmethod
    def query_key(text: str) -> str:
        """The cache key of ``text``'s query vector (in :attr:`query_namespace`)."""
        return CachedEmbeddings._keys([text])[0]

    @staticmethod
    def _keys(texts: Sequence[str]) -> list[str]:
        """The cache keys of ``texts`` (the texts themselves, checked)."""
        return check_keys(texts, what="texts to embed")

    def _vectors(self, raw: Any, count: int) -> list[np.ndarray]:
        source = f"{type(self.underlying).__name__}.embed_documents"
        try:  # a set of vectors would be stored against the wrong texts
            rows = ordered_rows(raw, count, f"the result of {source}", per="text")
        except InvalidArgumentError as exc:  # the model's fault, not the caller's
            raise EmbedderError(str(exc)) from exc
        return [_vector(row, source) for row in rows]

    # --- documents: the misses of a call are embedded in one underlying call -------------

    def _compute_documents(self, keys: list[str]) -> list[np.ndarray]:
        return self._vectors(self.underlying.embed_documents(keys), len(keys))

    async def _acompute_documents(self, keys: list[str]) -> list[np.ndarray]:
        raw = await self.underlying.aembed_documents(keys)
        return self._vectors(raw, len(keys))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order; the misses are embedded in one underlying call."""
        keys = self._keys(texts)
        if not keys:
            return []
        values = self.cache.get_or_compute_many(
            keys, self._compute_documents, namespace=self.document_namespace
        )
        return [_floats(value) for value in values]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async :meth:`embed_documents`, through the model's ``aembed_documents``."""
        keys = self._keys(texts)
        if not keys:
            return []
        values = await self.cache.aget_or_compute_many(
            keys, self._acompute_documents, namespace=self.document_namespace
        )
        return [_floats(value) for value in values]

    # --- queries -------------------------------------------------------------------------

    def _cached_document(self, text: str) -> Any:
        """The cached document vector of ``text`` (when shared), else ``_MISSING``."""
        if not self.share_document_vectors:
            return _MISSING
        entry = self.cache.get_entry(self.document_key(text), namespace=self.document_namespace)
        return _MISSING if entry is None else entry.value

    def embed_query(self, text: str) -> list[float]:
        """The query vector of ``text``: its cached document vector when there is one
        (see ``share_document_vectors``), else the model's query vector, cached."""
        (key,) = self._keys([text])
        document = self._cached_document(text)
        if document is not _MISSING:
            return _floats(document)

        def compute(_: str) -> np.ndarray:
            raw = self.underlying.embed_query(text)
            return _vector(raw, f"{type(self.underlying).__name__}.embed_query")

        return _floats(self.cache.get_or_compute(key, compute, namespace=self.query_namespace))

    async def aembed_query(self, text: str) -> list[float]:
        """Async :meth:`embed_query`, through the model's ``aembed_query``."""
        (key,) = self._keys([text])
        document = await asyncio.to_thread(self._cached_document, text)
        if document is not _MISSING:
            return _floats(document)

        async def compute(_: str) -> np.ndarray:
            raw = await self.underlying.aembed_query(text)
            return _vector(raw, f"{type(self.underlying).__name__}.aembed_query")

        value = await self.cache.aget_or_compute(key, compute, namespace=self.query_namespace)
        return _floats(value)
