"""One embedding per LLM-cache miss instead of two.

A lookup embeds the prompt's query text (``embed_query``) to search; after a miss the
``update`` that stores the model's answer embeds the same text again (``embed_document``)
as the entry's vector. For most embedders the two calls give the same vector, and the
second is pure cost: a model run, or an API request with a price. :class:`QueryVectors`
keeps the query vectors of recent misses (bounded: the newest :data:`REMEMBERED`), and hands
one to the update for the same prompt in place of a new ``embed_document`` call when the
embedder is **symmetric**:

- by construction: its ``embed_document`` is its ``embed_query`` (the built-in
  :class:`~semcache_core.embedders.HashingEmbedder`, a plain callable);
- or as observed: updates that find a remembered vector still call ``embed_document`` and
  compare, until :data:`CHECKS` distinct query texts gave vectors within :data:`TOLERANCE`
  of their query vectors; the embedder counts as symmetric from then on. One that differs
  (an embedder with query and document prefixes, such as E5 or Nomic, whose two vectors
  of a text differ by far more) is never trusted again: every update embeds the document
  as before.

The stored vector is the one ``embed_document`` gives, to within the tolerance, which is
the call-to-call noise of embedding APIs (two calls for one text may differ as much): a
similarity moves by at most 0.014, as it may between two ``embed_document`` calls. The
remembered query is kept as a digest, so a cache whose misses never get their update (a
failed model call, an abandoned stream) holds 1,024 vectors at most, not their prompts.

Example::

    >>> import numpy as np
    >>> from semcache_core.embedders import HashingEmbedder
    >>> vectors = QueryVectors(HashingEmbedder())
    >>> unit = np.array([0.6, 0.8], dtype=np.float32)
    >>> vectors.remember("k", "hello", unit)
    >>> def embed_document():
    ...     raise AssertionError("not called: the embedder is symmetric by construction")
    >>> vectors.document("k", "hello", embed_document) is unit
    True
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from .errors import DimensionMismatchError, InvalidVectorError
from .vectors import FloatVector, as_unit_vector

__all__ = [
    "CHECKS",
    "REMEMBERED",
    "TOLERANCE",
    "QueryVectors",
    "symmetric_by_construction",
    "usable_vector",
]

REMEMBERED = 1024
"""Query vectors kept, the newest (a miss's update normally follows within one LLM call)."""
CHECKS = 3
"""Updates that compare ``embed_document`` with the query vector before trusting it."""
TOLERANCE = 1e-4
"""How far below 1 the cosine of the two vectors may be and still count as the same: the
call-to-call noise of embedding APIs (~1e-5 for OpenAI's) passes, a query/document prefix
(1e-2 and more) does not. The vectors then differ by at most 0.014 in length: no
similarity moves by more."""


def symmetric_by_construction(embedder: Any) -> bool:
    """Whether ``embedder``'s ``embed_document`` is its ``embed_query`` (sync and async); a
    wrapper that only guards another embedder's calls answers for that one."""
    unwrap = getattr(embedder, "same_calls", None)
    if callable(unwrap):
        embedder = unwrap()
    kind = type(embedder)
    return bool(
        getattr(kind, "embed_document", None) is getattr(kind, "embed_query", 1)
        and getattr(kind, "aembed_document", None) is getattr(kind, "aembed_query", 1)
    )


class QueryVectors:
    """The query vectors of recent misses by exact key, and what is known of the embedder's
    symmetry (thread-safe).

    Args:
        embedder: the :class:`~semcache_core.embedders.Embedder` both calls go to.
        limit: vectors kept (the newest).
    """

    def __init__(self, embedder: Any, limit: int = REMEMBERED) -> None:
        self._symmetric: bool | None = True if symmetric_by_construction(embedder) else None
        self._agreed: set[bytes] = set()  # digests of the queries that agreed
        self._limit = limit
        self._vectors: OrderedDict[str, tuple[bytes, FloatVector]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def symmetric(self) -> bool | None:
        """True once trusted, False once a pair differed, None while still checking."""
        return self._symmetric

    def remember(self, key: str, query: str, vector: FloatVector) -> None:
        """Keep the unit query ``vector`` of a lookup that missed (unless the embedder is
        known to differ: then nothing will use it)."""
        if self._symmetric is False:
            return
        digest = _digest(query)
        with self._lock:
            self._vectors[key] = (digest, vector)
            self._vectors.move_to_end(key)
            while len(self._vectors) > self._limit:
                self._vectors.popitem(last=False)

    def document(
        self, key: str, query: str, embed: Callable[[], FloatVector | None]
    ) -> FloatVector | None:
        """The entry vector for ``query``: the remembered query vector when trusted, else
        ``embed()`` (the unit ``embed_document`` vector, None when it embeds to nothing),
        compared with the remembered one while the symmetry is being checked."""
        digest = _digest(query)
        remembered = self._pop(key, digest)
        if remembered is not None and self._symmetric:
            return remembered
        vector = embed()
        self._compare(digest, remembered, vector)
        return vector

    async def adocument(
        self, key: str, query: str, aembed: Callable[[], Awaitable[FloatVector | None]]
    ) -> FloatVector | None:
        """Async :meth:`document`."""
        digest = _digest(query)
        remembered = self._pop(key, digest)
        if remembered is not None and self._symmetric:
            return remembered
        vector = await aembed()
        self._compare(digest, remembered, vector)
        return vector

    def discard(self, key: str) -> None:
        """Forget ``key``'s vector (its update stores no vector)."""
        with self._lock:
            self._vectors.pop(key, None)

    def __len__(self) -> int:
        return len(self._vectors)

    def _pop(self, key: str, digest: bytes) -> FloatVector | None:
        with self._lock:
            found = self._vectors.pop(key, None)
        if found is None or found[0] != digest:
            return None
        return found[1]

    def _compare(
        self, digest: bytes, remembered: FloatVector | None, vector: FloatVector | None
    ) -> None:
        if remembered is None or self._symmetric is not None:
            return
        same = (
            vector is not None
            and vector.shape == remembered.shape
            and float(remembered @ vector) >= 1.0 - TOLERANCE
        )
        with self._lock:
            if self._symmetric is not None:
                return
            if not same:
                self._symmetric = False
                self._vectors.clear()
                return
            self._agreed.add(digest)
            if len(self._agreed) >= CHECKS:
                self._symmetric = True
                self._agreed.clear()


def _digest(query: str) -> bytes:
    return hashlib.blake2b(query.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def usable_vector(vector: Any) -> FloatVector | None:
    """A query's embedding as a unit vector; ``None`` when it embeds to nothing (a text
    too short for the embedder gives zeros): such prompts hit exactly only. A vector of
    the wrong dimension still raises :class:`DimensionMismatchError`."""
    try:
        return as_unit_vector(vector, None)
    except DimensionMismatchError:
        raise
    except InvalidVectorError:
        return None
