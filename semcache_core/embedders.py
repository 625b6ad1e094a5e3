"""Embedders: the built-in lexical default, and adapters for anything that embeds text.

:func:`as_embedder` accepts

- ``None``: the built-in :class:`HashingEmbedder` (character n-gram hashing, numpy only,
  deterministic, no download) so ``SemCache()`` works out of the box;
- a plain callable ``str -> vector`` (sync or ``async def``);
- a LangChain ``Embeddings`` (``embed_query`` / ``embed_documents`` / ``aembed_*``);
- a LlamaIndex embedding (``get_query_embedding`` / ``get_text_embedding`` / ``aget_*``);
- an object already implementing :class:`Embedder`.

Whatever the kind, an exception the user's model raises surfaces as
:class:`~semcache_core.errors.EmbedderError` with the original as ``__cause__``
(``KeyboardInterrupt`` and cancellation pass through as they are), and the async methods
never run a synchronous model on the event loop: it goes to a worker thread.

Stored texts go through ``embed_document`` and search texts through ``embed_query``: models
that embed queries and passages differently (E5, instructor, ...) get what they expect.

Example::

    >>> embedder = as_embedder(None)
    >>> v = embedder.embed_query("How do I reset my password?")
    >>> v.shape, v.dtype
    ((256,), dtype('float32'))
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import re
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import EmbedderError
from .vectors import FloatVector

__all__ = [
    "CallableEmbedder",
    "Embedder",
    "HashingEmbedder",
    "as_embedder",
    "embed_documents",
    "to_vector",
]


@runtime_checkable
class Embedder(Protocol):
    """What the cache needs from an embedder. ``dim`` may be ``None`` until first use."""

    dim: int | None

    def embed_query(self, text: str) -> FloatVector: ...

    def embed_document(self, text: str) -> FloatVector: ...

    async def aembed_query(self, text: str) -> FloatVector: ...

    async def aembed_document(self, text: str) -> FloatVector: ...


def to_vector(raw: Any, source: str, dtype: Any = np.float32) -> Any:
    """What an embedding model returned, as a 1-D array of ``dtype``.

    Raises:
        EmbedderError: naming ``source``, when ``raw`` is not a non-empty 1-D vector of
            finite real numbers (``None``, ``"0.5"`` or ``True`` components included: a
            plain conversion reads them as NaN, 0.5 and 1).
    """
    try:
        given = np.asarray(raw)
        if given.dtype.kind not in "fiu":
            raise EmbedderError(f"{source} returned {_components(given)}, not numbers")
        with np.errstate(over="ignore"):
            array = given.astype(dtype, copy=False)
    except (TypeError, ValueError) as exc:
        raise EmbedderError(f"{source} returned {type(raw).__name__}, not a vector") from exc
    if array.ndim != 1 or array.size == 0:
        raise EmbedderError(f"{source} returned an array of shape {array.shape}, not a vector")
    if not np.isfinite(array).all():
        raise EmbedderError(f"{source} returned a vector with NaN or infinite components")
    return array


def _components(array: np.ndarray) -> str:
    if array.dtype.kind == "b":
        return "bools"
    kinds = sorted({type(item).__name__ for item in array.ravel().tolist()})
    return f"components of type {', '.join(kinds)}" if kinds else f"dtype {array.dtype}"


def _failed(source: str, exc: Exception) -> EmbedderError:
    return EmbedderError(f"{source} failed: {type(exc).__name__}: {exc}")


def _call(source: str, fn: Callable[[str], Any], text: str) -> Any:
    """``fn(text)``; an exception it raises comes out as :class:`EmbedderError` (caused by
    it), so callers catch one type whatever the model. Interrupts and cancellation pass."""
    try:
        return fn(text)
    except EmbedderError:
        raise
    except Exception as exc:
        raise _failed(source, exc) from exc


async def _acall(source: str, fn: Callable[[str], Awaitable[Any]], text: str) -> Any:
    """Async :func:`_call`."""
    try:
        return await fn(text)
    except EmbedderError:
        raise
    except Exception as exc:
        raise _failed(source, exc) from exc


class HashingEmbedder:
    """Lexical embedder: hashed character n-grams and words, signed, log-scaled, normalised.

    Deterministic across processes (CRC32, not Python's salted ``hash``). It sees spelling,
    not meaning: "reset my password" ~ "reset password" scores high, a paraphrase with other
    words scores low, so it suits exact-ish repeats; plug in a real model for paraphrases.

    Example::

        >>> e = HashingEmbedder(dim=64)
        >>> a, b = e.embed_query("hello world"), e.embed_query("Hello,  world!")
        >>> float(a @ b) > 0.99
        True
    """

    def __init__(self, dim: int = 256, ngram_range: tuple[int, int] = (3, 5)) -> None:
        if dim < 8:
            raise EmbedderError(f"HashingEmbedder needs dim >= 8, got {dim}")
        self.dim: int | None = dim
        self._dim = dim
        self._ngrams = range(ngram_range[0], ngram_range[1] + 1)

    _WORDS = re.compile(r"\w+")

    def _features(self, text: str) -> list[str]:
        words = self._WORDS.findall(text.lower())
        features = [f"w:{word}" for word in words]
        padded = f" {' '.join(words)} "
        for n in self._ngrams:
            features.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
        if features:
            return features
        # no word: the text itself and its characters ("?" / "🎉"), so that two wordless
        # texts do not share one vector (they scored 1.0: a semantic hit for any two)
        stripped = text.strip()
        if not stripped:
            return ["<empty>"]  # empty text still gets a (fixed) non-zero vector
        return [f"t:{stripped}", *(f"c:{char}" for char in stripped if not char.isspace())]

    def embed_query(self, text: str) -> FloatVector:
        counts = np.zeros(self._dim, dtype=np.float64)
        for feature in self._features(text):
            digest = zlib.crc32(feature.encode("utf-8", "surrogatepass"))  # a lone one too
            sign = 1.0 if digest & 0x80000000 else -1.0
            counts[digest % self._dim] += sign
        vector = np.sign(counts) * np.log1p(np.abs(counts))
        if not vector.any():  # every feature cancelled out: a bucket of the text's own
            vector[zlib.crc32(text.encode("utf-8", "surrogatepass")) % self._dim] = 1.0
        return (vector / np.linalg.norm(vector)).astype(np.float32)

    embed_document = embed_query

    async def aembed_query(self, text: str) -> FloatVector:
        # a pure-Python n-gram loop: ~25 ms for an 11k-character prompt, off the event loop
        return await asyncio.to_thread(self.embed_query, text)

    aembed_document = aembed_query


class CallableEmbedder:
    """Wraps ``fn(text) -> vector`` (or ``async def fn``) as an :class:`Embedder`."""

    def __init__(self, fn: Callable[[str], Any]) -> None:
        self.dim: int | None = None
        self._fn = fn
        self._is_async = inspect.iscoroutinefunction(fn)
        self._name = getattr(fn, "__qualname__", type(fn).__name__)

    def embed_query(self, text: str) -> FloatVector:
        if self._is_async:
            raise EmbedderError(
                f"embedder {self._name} is async; use the cache's async methods (asearch, ...)"
            )
        source = f"embedder {self._name}"
        return to_vector(_call(source, self._fn, text), source)

    embed_document = embed_query

    async def aembed_query(self, text: str) -> FloatVector:
        if self._is_async:
            source = f"embedder {self._name}"
            return to_vector(await _acall(source, self._fn, text), source)
        return await asyncio.to_thread(self.embed_query, text)

    aembed_document = aembed_query


class _MethodEmbedder:
    """Adapter for framework embeddings, given their query/document calls (async optional)."""

    def __init__(
        self,
        name: str,
        query: Callable[[str], Any],
        document: Callable[[str], Any],
        aquery: Callable[[str], Any] | None,
        adocument: Callable[[str], Any] | None,
    ) -> None:
        self.dim: int | None = None
        self._name = name
        self._query, self._document = query, document
        self._aquery, self._adocument = aquery, adocument

    def embed_query(self, text: str) -> FloatVector:
        source = f"{self._name} (query)"
        return to_vector(_call(source, self._query, text), source)

    def embed_document(self, text: str) -> FloatVector:
        source = f"{self._name} (document)"
        return to_vector(_call(source, self._document, text), source)

    async def aembed_query(self, text: str) -> FloatVector:
        if self._aquery is None:
            return await asyncio.to_thread(self.embed_query, text)
        source = f"{self._name} (query)"
        return to_vector(await _acall(source, self._aquery, text), source)

    async def aembed_document(self, text: str) -> FloatVector:
        if self._adocument is None:
            return await asyncio.to_thread(self.embed_document, text)
        source = f"{self._name} (document)"
        return to_vector(await _acall(source, self._adocument, text), source)


def _langchain(model: Any) -> _MethodEmbedder:
    async def adocument(text: str) -> Any:
        return (await model.aembed_documents([text]))[0]

    return _MethodEmbedder(
        type(model).__name__,
        model.embed_query,
        lambda text: model.embed_documents([text])[0],
        getattr(model, "aembed_query", None),
        adocument if hasattr(model, "aembed_documents") else None,
    )


def _llama_index(model: Any) -> _MethodEmbedder:
    return _MethodEmbedder(
        type(model).__name__,
        model.get_query_embedding,
        model.get_text_embedding,
        getattr(model, "aget_query_embedding", None),
        getattr(model, "aget_text_embedding", None),
    )


class _GuardedEmbedder:
    """A user's own :class:`Embedder`, its exceptions raised as :class:`EmbedderError`."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._name = type(embedder).__name__

    def same_calls(self) -> Any:
        """The embedder whose calls these are (what decides if its two calls agree)."""
        return self.embedder

    @property
    def dim(self) -> int | None:
        return self.embedder.dim

    @dim.setter
    def dim(self, value: int | None) -> None:
        self.embedder.dim = value

    def embed_query(self, text: str) -> FloatVector:
        return _call(f"{self._name}.embed_query", self.embedder.embed_query, text)

    def embed_document(self, text: str) -> FloatVector:
        return _call(f"{self._name}.embed_document", self.embedder.embed_document, text)

    async def aembed_query(self, text: str) -> FloatVector:
        return await _acall(f"{self._name}.aembed_query", self.embedder.aembed_query, text)

    async def aembed_document(self, text: str) -> FloatVector:
        return await _acall(f"{self._name}.aembed_document", self.embedder.aembed_document, text)


def as_embedder(obj: Any) -> Embedder:
    """Adapt ``obj`` (see module docstring) to the :class:`Embedder` protocol.

    Raises:
        EmbedderError: ``obj`` is none of the supported kinds.
    """
    if obj is None:
        return HashingEmbedder()
    if isinstance(obj, (HashingEmbedder, CallableEmbedder, _MethodEmbedder, _GuardedEmbedder)):
        return obj
    if isinstance(obj, Embedder):
        return _GuardedEmbedder(obj)
    if hasattr(obj, "embed_query") and hasattr(obj, "embed_documents"):
        return _langchain(obj)
    if hasattr(obj, "get_query_embedding") and hasattr(obj, "get_text_embedding"):
        return _llama_index(obj)
    if callable(obj):
        return CallableEmbedder(obj)
    raise EmbedderError(
        f"cannot use {type(obj).__name__} as an embedder: pass a callable str -> vector, "
        "a LangChain Embeddings or a LlamaIndex embedding"
    )


def _batch_call(model: Any) -> Callable[[list[str]], Any] | None:
    """The model's own call for a list of texts (LangChain ``embed_documents``, LlamaIndex
    ``get_text_embedding_batch``), or ``None`` when it embeds one text at a time."""
    if hasattr(model, "embed_query") and hasattr(model, "embed_documents"):
        return model.embed_documents
    if hasattr(model, "get_text_embedding_batch"):
        return model.get_text_embedding_batch
    return None


def _whole(batch: Callable[[list[str]], Any], chunk: list[str], _text: str) -> Any:
    """``batch(chunk)``, called as :func:`_call` calls a one-text model."""
    return batch(chunk)


def embed_documents(model: Any, texts: Sequence[str], batch_size: int = 64) -> list[FloatVector]:
    """The document embeddings of ``texts``, in order, for anything :func:`as_embedder`
    takes: ``batch_size`` texts per call where the model embeds lists, one call per text
    otherwise.

    Raises:
        EmbedderError: the model failed, or returned something other than one vector per
            text.
    """
    batch = _batch_call(model)
    if batch is None or isinstance(model, Embedder):
        embedder = as_embedder(model)
        return [embedder.embed_document(text) for text in texts]
    source = f"{type(model).__name__} (documents)"
    vectors: list[FloatVector] = []
    for start in range(0, len(texts), batch_size):
        chunk = list(texts[start : start + batch_size])
        raw = _call(source, functools.partial(_whole, batch, chunk), "")
        rows = list(raw) if raw is not None else []
        if len(rows) != len(chunk):
            raise EmbedderError(f"{source} returned {len(rows)} vectors for {len(chunk)} texts")
        vectors.extend(to_vector(row, source) for row in rows)
    return vectors
