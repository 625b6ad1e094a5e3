"""The seed-compatible text calls of :class:`~semcache_core.SemCache`: ``put`` (text that
is embedded and found by meaning), ``put_json`` / ``get_json`` and ``put_string`` /
``get_string`` (text stored as is). Their async twins are in ``cache_async``.

Example::

    >>> from semcache_core import SemCache
    >>> cache = SemCache()
    >>> cache.put("faq:1", "How do I reset my password?")
    >>> cache.get_similar("how do I reset my password", threshold=0.8)
    'How do I reset my password?'
"""

# Each method annotates ``self: SemCache`` to reach the facade (as in cache_async.py).
# mypy: disable-error-code="misc"

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .checks import check_key, check_write_options
from .codec import encode
from .errors import InvalidValueError, shown
from .json_text import dump_json, load_json

if TYPE_CHECKING:
    from .cache import SemCache

__all__ = ["TextCalls"]

_MISSING: Any = object()


class TextCalls:
    """Mixed into :class:`~semcache_core.SemCache`: text stored embedded, as JSON or as is."""

    def _check_put(
        self: SemCache, key: Any, value: Any, ttl: Any, metadata: Any, namespace: Any
    ) -> None:
        """Everything :meth:`put` (and its async twin) stores, checked before the value is
        embedded: bad input must not cost an embedding call."""
        check_key(key)
        if not isinstance(value, str):
            raise InvalidValueError(
                f"put() embeds its value, which must be a str, got {type(value).__name__}; "
                "use set() for other values"
            )
        encode(value)  # a lone surrogate has no UTF-8 form
        check_write_options(ttl, namespace, metadata)

    def put(
        self: SemCache,
        key: str,
        value: str,
        ttl: float | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        namespace: str = "",
    ) -> None:
        """Store text and index its embedding, so :meth:`get_similar` finds it by meaning."""
        self._check_put(key, value, ttl, metadata, namespace)
        self.set(
            key,
            value,
            vector=self._embedder.embed_document(value),
            metadata=metadata,
            ttl=ttl,
            namespace=namespace,
        )

    def put_json(
        self: SemCache,
        key: str,
        obj: Any,
        ttl: float | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        namespace: str = "",
    ) -> None:
        """Store a JSON-serialisable object as JSON text (not embedded), nested at most
        :data:`~semcache_core.json_text.MAX_JSON_DEPTH` levels deep.

        Raises:
            InvalidValueError: ``obj`` is not JSON-serialisable, or nests deeper.
        """
        text = dump_json(obj)
        self.set(key, text, metadata=metadata, ttl=ttl, namespace=namespace)

    def get_json(self: SemCache, key: str, default: Any = None, *, namespace: str = "") -> Any:
        """The object stored by :meth:`put_json`, or ``default``."""
        text = self.get(key, _MISSING, namespace=namespace)
        if text is _MISSING:
            return default
        if not isinstance(text, str):
            raise InvalidValueError(f"{shown(key)} holds {type(text).__name__}, not JSON text")
        try:
            return load_json(text, key)
        except json.JSONDecodeError as exc:
            raise InvalidValueError(f"{shown(key)} does not hold JSON text: {exc}") from exc

    def put_string(
        self: SemCache,
        key: str,
        text: str,
        ttl: float | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        namespace: str = "",
    ) -> None:
        """Store a string as is (not embedded; use :meth:`put` to embed)."""
        if not isinstance(text, str):
            raise InvalidValueError(f"put_string needs a str, got {type(text).__name__}")
        self.set(key, text, metadata=metadata, ttl=ttl, namespace=namespace)

    def get_string(
        self: SemCache, key: str, default: str | None = None, *, namespace: str = ""
    ) -> str | None:
        """The string stored under ``key``, or ``default``."""
        text = self.get(key, _MISSING, namespace=namespace)
        if text is _MISSING:
            return default
        if not isinstance(text, str):
            raise InvalidValueError(f"{shown(key)} holds {type(text).__name__}, not a str")
        return text
