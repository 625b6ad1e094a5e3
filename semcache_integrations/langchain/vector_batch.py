"""The documents one ``add_texts`` / ``add_documents`` call of
:class:`~semcache_integrations.langchain.vector_store.SemCacheVectorStore` writes, checked.

:func:`document_batch` checks texts, ids and metadata before anything is embedded
(embedding is what costs money); :func:`check_vectors` checks what the embedder returned
before anything is stored. Either raises, and nothing is written::

    batch = document_batch(["cats purr"], [{"year": 2021}], ids=None)
    check_vectors(embedding.embed_documents(batch.texts), batch)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from semcache_core.checks import check_key, encodes_as_utf8, ordered_rows
from semcache_core.codec import encode_metadata
from semcache_core.errors import (
    EmbedderError,
    InvalidArgumentError,
    InvalidKeyError,
    InvalidValueError,
    shown,
)

__all__ = ["Batch", "check_vectors", "document_batch", "document_id"]


@dataclass(frozen=True, slots=True)
class Batch:
    """Documents to write, validated: parallel ids, texts and metadata dicts."""

    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, Any]]


def document_id(doc_id: Any) -> str:
    """``doc_id`` as a key of the store.

    Raises:
        InvalidKeyError: not a str (a ``TypeError``, as LangChain's stores raise), or a str
            holding a lone surrogate.
    """
    if not isinstance(doc_id, str):
        raise InvalidKeyError(
            f"document ids must be str, got {type(doc_id).__name__} {shown(doc_id)}"
        )
    check_key(doc_id)  # a lone surrogate
    return doc_id


def _final_id(given: Any, fallback: Any) -> str:
    """An explicit id, then ``Document.id``, then a fresh uuid4 hex. ``None`` and ``""``
    count as none (as in langchain_core's ``InMemoryVectorStore``); any other non-str is
    refused, falsy ones too (``0`` would otherwise be dropped for a random id)."""
    for doc_id in (given, fallback):
        if doc_id is not None and (key := document_id(doc_id)):
            return key
    return uuid.uuid4().hex


def document_batch(
    texts: Iterable[str],
    metadatas: Iterable[Mapping[str, Any] | None] | None,
    ids: Iterable[str | None] | None,
    fallback_ids: Iterable[str | None] | None = None,
) -> Batch:
    """``texts`` with their metadata and ids, every one checked. ``metadatas`` and ``ids``
    run parallel to ``texts``: any ordered iterable (an iterator is read once).

    Raises:
        InvalidArgumentError: a single str or bytes for ``texts`` or ``ids``, a mapping or
            set for ``metadatas`` or ``ids``, or not one of them per text.
        InvalidValueError: a text that is not a str or holds a lone surrogate; metadata that
            is not a dict or that msgpack cannot store.
        InvalidKeyError: an id that is neither ``None`` nor a str.
    """
    if isinstance(texts, (str, bytes)):  # list("hello") would store five documents
        raise InvalidArgumentError(
            f"texts must be a sequence of str, got a single {type(texts).__name__}"
        )
    texts = list(texts)
    n = len(texts)
    given_metadatas = (
        [None] * n if metadatas is None else ordered_rows(metadatas, n, "metadatas", "text")
    )
    given_ids = [None] * n if ids is None else ordered_rows(ids, n, "ids", "text")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidValueError(f"texts[{i}] must be a str, got {type(text).__name__}")
        if not encodes_as_utf8(text):
            raise InvalidValueError(f"texts[{i}] is not valid text: it holds a lone surrogate")
    fallback = [None] * n if fallback_ids is None else list(fallback_ids)
    final_ids = [_final_id(g, f) for g, f in zip(given_ids, fallback, strict=True)]
    final_metadatas = []
    for i, given_metadata in enumerate(given_metadatas):
        if given_metadata is not None and not isinstance(given_metadata, Mapping):
            raise InvalidValueError(
                f"metadatas[{i}] must be a dict or None, got {type(given_metadata).__name__}"
            )
        metadata = dict(given_metadata or {})
        try:
            encode_metadata(metadata)
        except TypeError as exc:  # InvalidValueError: say which document
            raise type(exc)(f"metadatas[{i}]: {exc}") from exc
        final_metadatas.append(metadata)
    return Batch(final_ids, texts, final_metadatas)


def check_vectors(vectors: Any, batch: Batch) -> None:
    """What ``embed_documents`` returned for ``batch.texts``: one vector per text, none of
    them ``None`` (``set_many`` takes a ``None`` row as "no vector": the document would be
    stored, reported added and never found by a search, or lose the vector it had).

    Raises:
        EmbedderError: another number of vectors, or a ``None`` among them.
    """
    if len(vectors) != len(batch.texts):
        raise EmbedderError(
            f"the embedding returned {len(vectors)} vectors for {len(batch.texts)} texts"
        )
    for i, vector in enumerate(vectors):
        if vector is None:
            raise EmbedderError(
                f"the embedding returned None for texts[{i}] (id {shown(batch.ids[i])}), not a "
                "vector"
            )
