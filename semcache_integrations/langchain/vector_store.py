"""A LangChain ``VectorStore`` over :class:`semcache_core.SemCache`.

Example::

    from langchain_core.embeddings import DeterministicFakeEmbedding
    from semcache_integrations.langchain.vector_store import SemCacheVectorStore

    store = SemCacheVectorStore(DeterministicFakeEmbedding(size=64))
    store.add_texts(["cats purr", "dogs bark"], [{"year": 2021}, {"year": 2019}])
    store.similarity_search("kittens", k=1, filter={"year": {"$gte": 2020}})

How documents are stored: each document is one cache entry in the engine namespace
``"lc-vectors:{namespace}"`` (see :mod:`semcache_core.namespaces`), with

- key: ``Document.id`` or a uuid4 hex;
- value: ``page_content`` (a ``str``);
- metadata: the document's metadata dict, stored as is (msgpack: ``str`` keys; values
  ``None``, bool, int, float, str, bytes, lists and dicts of them; tuples come back as
  lists);
- vector: the embedding (stored unit-length; scores are cosine similarities).

The adapter is thin: search, filtering (before ranking), TTL, eviction and persistence are
the cache's. A ``SemCache(path=...)`` makes the store durable; a cache ``ttl`` or
``max_entries`` applies to documents too. The store's namespace has its own vector
dimension, whatever else the cache holds. Search, ``delete()`` and every read stay inside
the store's namespace, so nothing another adapter writes is ever seen or removed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Self

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from semcache_core import Entry, Hit, SemCache
from semcache_core.checks import check_count, check_k, check_keys, check_keywords
from semcache_core.engine_arg import check_engine
from semcache_core.errors import InvalidArgumentError, shown
from semcache_core.filters import FilterLike, FilterNode, parse_filters
from semcache_core.mmr import check_lambda_mult, mmr_select
from semcache_core.namespaces import adapter_namespace
from semcache_core.vectors import as_unit_vector, score_floor

from .vector_batch import Batch, check_vectors, document_batch

__all__ = ["DEFAULT_NAMESPACE", "SemCacheVectorStore"]

DEFAULT_NAMESPACE = "default"


def _relevance(similarity: float) -> float:
    """Cosine similarity in [-1, 1] -> LangChain relevance in [0, 1]: clamped at 0, and 1
    within ``SCORE_TOLERANCE`` of it (a vector scores 0.99999988 against itself).

    Relevance is the cosine wherever it is positive: a ``score_threshold`` (LangChain
    compares it) means a semcache ``threshold``; opposite vectors are as irrelevant as
    orthogonal ones."""
    return 1.0 if similarity >= score_floor(1.0) else max(0.0, similarity)


def _check_no_extra(method: str, kwargs: dict[str, Any]) -> None:
    hint = " (the metadata filter argument is `filter`)" if "filters" in kwargs else ""
    check_keywords(method, kwargs, hint=hint)


class SemCacheVectorStore(VectorStore):
    """LangChain ``VectorStore`` whose documents live in a :class:`~semcache_core.SemCache`.

    Args:
        embedding: the LangChain ``Embeddings`` for documents and queries.
        cache: where documents live; default a fresh in-process ``SemCache(index="auto")``
            (exact search while small, HNSW beyond). Pass ``SemCache(path=...)`` for a
            durable store, or a cache shared with other components (same dimension).
        namespace: this store's share of the cache (engine namespace
            ``"lc-vectors:{namespace}"``): stores of other names on one cache never see
            each other's documents.

    Scores from ``similarity_search_with_score`` are cosine similarities in [-1, 1],
    higher is closer; ``similarity_search_with_relevance_scores`` clamps them to [0, 1].
    ``filter=`` (every search) takes a dict of equalities (``{"lang": "en"}``), the
    operator syntax (``{"year": {"$gte": 2020}}``, ``$and``/``$or``/``$not``) or a
    :class:`~semcache_core.Filter` / :class:`~semcache_core.FilterGroup`; the cache applies
    it before ranking, so ``k`` results come back whenever ``k`` documents match.

    Raises:
        InvalidArgumentError: ``namespace`` empty or not a str, ``embedding`` without
            ``embed_documents`` and ``embed_query``, a ``cache`` that is not a
            :class:`~semcache_core.SemCache`.
    """

    def __init__(
        self,
        embedding: Embeddings,
        cache: SemCache | None = None,
        *,
        namespace: str = DEFAULT_NAMESPACE,
    ) -> None:
        self._engine_namespace = adapter_namespace("lc-vectors", namespace)
        if not all(
            callable(getattr(embedding, m, None)) for m in ("embed_documents", "embed_query")
        ):
            raise InvalidArgumentError(
                "embedding must be LangChain Embeddings (embed_documents and embed_query), "
                f"got {shown(embedding)}"
            )
        self._embedding = embedding
        cache = check_engine(cache, "SemCacheVectorStore")
        self._cache = SemCache(index="auto", embedder=embedding) if cache is None else cache
        self._namespace = namespace

    @property
    def embeddings(self) -> Embeddings:
        return self._embedding

    @property
    def cache(self) -> SemCache:
        return self._cache

    @property
    def namespace(self) -> str:
        return self._namespace

    @property
    def engine_namespace(self) -> str:
        """The engine namespace holding this store's documents."""
        return self._engine_namespace

    def __repr__(self) -> str:
        return f"SemCacheVectorStore(namespace={self._namespace!r}, cache={self._cache!r})"

    # --- shared logic (sync and async twins differ only in the awaited calls) -------------

    @staticmethod
    def _keys(ids: Any) -> list[str]:
        """Document ids as keys; a single str is refused, not read letter by letter."""
        return check_keys(ids, what="ids")

    def _writes(
        self, batch: Batch, vectors: list[list[float]]
    ) -> tuple[list[tuple[str, str]], dict[str, Any]]:
        """``(items, options)`` of the ``set_many`` call that writes ``batch``, once the
        embedder's ``vectors`` are checked (:func:`~.vector_batch.check_vectors`)."""
        check_vectors(vectors, batch)
        items = list(zip(batch.ids, batch.texts))
        options = {
            "vectors": vectors,
            "metadatas": batch.metadatas,
            "namespace": self._engine_namespace,
        }
        return items, options

    def _document(self, key: str, value: Any, metadata: dict[str, Any]) -> Document | None:
        """The document an entry holds, or None for an entry this store did not write."""
        if not isinstance(value, str):
            return None
        return Document(id=key, page_content=value, metadata=metadata)

    def _from_entry(self, entry: Entry | None) -> Document | None:
        if entry is None:
            return None
        return self._document(entry.key, entry.value, entry.metadata)

    def _scored(self, hits: list[Hit]) -> list[tuple[Document, float]]:
        scored = []
        for hit in hits:
            doc = self._document(hit.key, hit.value, hit.metadata)
            if doc is not None:
                scored.append((doc, float(hit.score)))
        return scored

    def _search_options(
        self, method: str, k: Any, filter: FilterLike, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """The cache's search options; a bad ``k`` or filter raises before the query is
        embedded (as :func:`semcache_core.checks.check_search` has the cache do)."""
        _check_no_extra(method, kwargs)
        check_k(k)
        node: FilterNode | None = parse_filters(filter)
        return {"namespace": self._engine_namespace, "filters": node}

    def _mmr(self, query: Any, hits: list[Hit], k: int, lambda_mult: float) -> list[Document]:
        """MMR among the fetched ``hits`` (fetched with their vectors)."""
        pairs = [
            (doc, hit.vector)
            for hit in hits
            if hit.vector is not None
            and (doc := self._document(hit.key, hit.value, hit.metadata)) is not None
        ]
        # the dimension of what it is compared with: the cache-wide ``dim`` is another
        # namespace's on a shared cache (a query against an empty store was refused)
        unit_query = as_unit_vector(query, pairs[0][1].size if pairs else None, "query")
        matrix = (
            np.stack([vector for _, vector in pairs])
            if pairs
            else np.empty((0, unit_query.size), np.float32)
        )
        return [pairs[i][0] for i in mmr_select(unit_query, matrix, k, lambda_mult)]

    @staticmethod
    def _fetch_k(k: Any, fetch_k: Any, lambda_mult: Any) -> tuple[int, int]:
        """``(k, how many matches MMR picks from)``, every argument checked (before a text
        query is embedded): ``k`` an int >= 1, ``fetch_k`` an int >= 0 (below ``k`` it is
        ``k``), ``lambda_mult`` in [0, 1].

        Raises:
            InvalidArgumentError: any of them out of its range or of another type.
        """
        k, fetch_k = check_count(k, "k"), check_count(fetch_k, "fetch_k", minimum=0)
        check_lambda_mult(lambda_mult)
        return k, max(k, fetch_k)

    # --- writes --------------------------------------------------------------------------

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed ``texts`` and store them; returns their ids (a repeated id replaces).

        ``batch_size`` (sent by LangChain's indexing API) is accepted and ignored: the
        whole batch goes to the cache in one ``set_many`` call, validated before anything
        is embedded or stored.

        ``metadatas`` and ``ids`` may be any ordered iterables (an iterator is read once);
        an id of ``None`` or ``""`` gets a fresh uuid4 hex.

        Raises:
            ValueError: ``metadatas`` or ``ids`` of another length than ``texts``, or
                unordered (a dict or set).
            TypeError: a non-str text or id (``0`` included), or metadata msgpack cannot
                store.
            EmbedderError: the embedding returned another number of vectors, or ``None``
                for a text; nothing is stored.
        """
        return self._add(texts, metadatas, ids, None, "add_texts", kwargs)

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Store ``documents``; ids from ``ids=``, else ``Document.id``, else fresh uuid4 hex.

        The documents themselves are not modified.
        """
        ids = kwargs.pop("ids", None)
        texts = [doc.page_content for doc in documents]
        metadatas = [doc.metadata for doc in documents]
        fallback = [doc.id for doc in documents]
        return self._add(texts, metadatas, ids, fallback, "add_documents", kwargs)

    def _add(
        self,
        texts: Iterable[str],
        metadatas: Iterable[dict[str, Any] | None] | None,
        ids: Iterable[str | None] | None,
        fallback: Iterable[str | None] | None,
        method: str,
        kwargs: dict[str, Any],
    ) -> list[str]:
        kwargs.pop("batch_size", None)
        _check_no_extra(method, kwargs)
        batch = document_batch(texts, metadatas, ids, fallback)
        if batch.texts:
            items, options = self._writes(batch, self._embedding.embed_documents(batch.texts))
            self._cache.set_many(items, **options)
        return batch.ids

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Async :meth:`add_texts` (``aembed_documents``, then the cache's ``aset_many``)."""
        return await self._aadd(texts, metadatas, ids, None, "aadd_texts", kwargs)

    async def aadd_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Async :meth:`add_documents`."""
        ids = kwargs.pop("ids", None)
        texts = [doc.page_content for doc in documents]
        metadatas = [doc.metadata for doc in documents]
        fallback = [doc.id for doc in documents]
        return await self._aadd(texts, metadatas, ids, fallback, "aadd_documents", kwargs)

    async def _aadd(
        self,
        texts: Iterable[str],
        metadatas: Iterable[dict[str, Any] | None] | None,
        ids: Iterable[str | None] | None,
        fallback: Iterable[str | None] | None,
        method: str,
        kwargs: dict[str, Any],
    ) -> list[str]:
        kwargs.pop("batch_size", None)
        _check_no_extra(method, kwargs)
        batch = document_batch(texts, metadatas, ids, fallback)
        if batch.texts:
            vectors = await self._embedding.aembed_documents(batch.texts)
            items, options = self._writes(batch, vectors)
            await self._cache.aset_many(items, **options)
        return batch.ids

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete documents by id (missing ids are fine); ``None`` deletes every document
        of this store (its namespace), as LangChain's ``VectorStore.delete`` specifies.

        Returns True.
        """
        _check_no_extra("delete", kwargs)
        if ids is None:
            self._cache.clear(self._engine_namespace)
        else:
            self._cache.delete_many(self._keys(ids), namespace=self._engine_namespace)
        return True

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Async :meth:`delete`."""
        _check_no_extra("adelete", kwargs)
        if ids is None:
            await self._cache.aclear(self._engine_namespace)
        else:
            await self._cache.adelete_many(self._keys(ids), namespace=self._engine_namespace)
        return True

    # --- reads by id ---------------------------------------------------------------------

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The stored documents among ``ids``, in the order asked; missing ids are skipped."""
        keys = self._keys(ids)
        ns = self._engine_namespace
        found = (self._from_entry(self._cache.get_entry(key, namespace=ns)) for key in keys)
        return [doc for doc in found if doc is not None]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Async :meth:`get_by_ids`."""
        keys = self._keys(ids)
        ns = self._engine_namespace
        found = [self._from_entry(await self._cache.aget_entry(k, namespace=ns)) for k in keys]
        return [doc for doc in found if doc is not None]

    # --- similarity search ---------------------------------------------------------------

    def similarity_search_with_score_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        *,
        filter: FilterLike = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """The ``k`` documents closest to ``embedding``, with cosine similarity, best first."""
        options = self._search_options("similarity_search_with_score_by_vector", k, filter, kwargs)
        return self._scored(self._cache.search(embedding, k, **options))

    def similarity_search_with_score(
        self,
        query: str,
        k: int = 4,
        *,
        filter: FilterLike = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """The ``k`` documents closest to ``query``, with cosine similarity in [-1, 1]."""
        options = self._search_options("similarity_search_with_score", k, filter, kwargs)
        vector = self._embedding.embed_query(query)
        return self._scored(self._cache.search(vector, k, **options))

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, *, filter: FilterLike = None, **kwargs: Any
    ) -> list[Document]:
        scored = self.similarity_search_with_score_by_vector(embedding, k, filter=filter, **kwargs)
        return [doc for doc, _ in scored]

    def similarity_search(
        self, query: str, k: int = 4, *, filter: FilterLike = None, **kwargs: Any
    ) -> list[Document]:
        scored = self.similarity_search_with_score(query, k, filter=filter, **kwargs)
        return [doc for doc, _ in scored]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """Scores are cosine similarities; relevance is that similarity clamped to [0, 1]."""
        return _relevance

    async def asimilarity_search_with_score_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        *,
        filter: FilterLike = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        options = self._search_options("asimilarity_search_with_score_by_vector", k, filter, kwargs)
        return self._scored(await self._cache.asearch(embedding, k, **options))

    async def asimilarity_search_with_score(
        self,
        query: str,
        k: int = 4,
        *,
        filter: FilterLike = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        options = self._search_options("asimilarity_search_with_score", k, filter, kwargs)
        vector = await self._embedding.aembed_query(query)
        return self._scored(await self._cache.asearch(vector, k, **options))

    async def asimilarity_search_by_vector(
        self, embedding: list[float], k: int = 4, *, filter: FilterLike = None, **kwargs: Any
    ) -> list[Document]:
        scored = await self.asimilarity_search_with_score_by_vector(
            embedding, k, filter=filter, **kwargs
        )
        return [doc for doc, _ in scored]

    async def asimilarity_search(
        self, query: str, k: int = 4, *, filter: FilterLike = None, **kwargs: Any
    ) -> list[Document]:
        scored = await self.asimilarity_search_with_score(query, k, filter=filter, **kwargs)
        return [doc for doc, _ in scored]

    # --- maximal marginal relevance ------------------------------------------------------

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        *,
        filter: FilterLike = None,
        **kwargs: Any,
    ) -> list[Document]:
        """``k`` documents picked by MMR among the ``max(k, fetch_k)`` closest matches.

        ``lambda_mult`` in [0, 1]: 1 is plain relevance order, 0 maximum diversity. The
        selection is :func:`semcache_core.mmr.mmr_select` on the vectors the cache returns.
        """
        options = self._search_options("max_marginal_relevance_search_by_vector", k, filter, kwargs)
        k, fetch = self._fetch_k(k, fetch_k, lambda_mult)
        hits = self._cache.search(embedding, fetch, with_vectors=True, **options)
        return self._mmr(embedding, hits, k, lambda_mult)

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        *,
        filter: FilterLike = None,
        **kwargs: Any,
    ) -> list[Document]:
        """:meth:`max_marginal_relevance_search_by_vector` for a text query."""
        self._search_options("max_marginal_relevance_search", k, filter, kwargs)
        self._fetch_k(k, fetch_k, lambda_mult)
        return self.max_marginal_relevance_search_by_vector(
            self._embedding.embed_query(query), k, fetch_k, lambda_mult, filter=filter
        )

    async def amax_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        *,
        filter: FilterLike = None,
        **kwargs: Any,
    ) -> list[Document]:
        options = self._search_options(
            "amax_marginal_relevance_search_by_vector", k, filter, kwargs
        )
        k, fetch = self._fetch_k(k, fetch_k, lambda_mult)
        hits = await self._cache.asearch(embedding, fetch, with_vectors=True, **options)
        # O(k * fetch_k * dim) of numpy: off the loop, like the search itself.
        return await asyncio.to_thread(self._mmr, embedding, hits, k, lambda_mult)

    async def amax_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        *,
        filter: FilterLike = None,
        **kwargs: Any,
    ) -> list[Document]:
        self._search_options("amax_marginal_relevance_search", k, filter, kwargs)
        self._fetch_k(k, fetch_k, lambda_mult)
        vector = await self._embedding.aembed_query(query)
        return await self.amax_marginal_relevance_search_by_vector(
            vector, k, fetch_k, lambda_mult, filter=filter
        )

    # --- construction --------------------------------------------------------------------

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        cache: SemCache | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        **kwargs: Any,
    ) -> Self:
        """A store (over ``cache``, default a fresh one) holding ``texts``."""
        store = cls(embedding, cache, namespace=namespace)
        store.add_texts(texts, metadatas, ids=ids, **kwargs)
        return store

    @classmethod
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        cache: SemCache | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        **kwargs: Any,
    ) -> Self:
        """Async :meth:`from_texts`."""
        store = cls(embedding, cache, namespace=namespace)
        await store.aadd_texts(texts, metadatas, ids=ids, **kwargs)
        return store
