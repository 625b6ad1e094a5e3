"""Engine namespaces for the framework adapters: one per adapter kind and user name.

Every adapter (LLM caches, byte store, cached embeddings, vector stores, KV store) lives
in the engine namespace ``f"{kind}:{name}"``: ``kind`` is fixed by the adapter class, and
``name`` is the adapter's ``namespace=`` argument. Two adapters of different kinds can
never see, search or clear each other's entries, whatever names users pick; two of the
same kind and name share one store on purpose (that is how a store is reopened). On the
Redis backend an engine namespace becomes a key prefix with its own vector sets.

Example::

    >>> adapter_namespace("lc-bytes", "tenant-a")
    'lc-bytes:tenant-a'
"""

from __future__ import annotations

from typing import Any

from .checks import check_text
from .errors import InvalidArgumentError, shown

__all__ = ["adapter_namespace"]


def adapter_namespace(kind: str, name: Any, what: str = "namespace") -> str:
    """The engine namespace of an adapter of ``kind`` named ``name``.

    Raises:
        InvalidArgumentError: ``name`` is not a non-empty str, or holds a lone surrogate
            (no UTF-8 form: every call with it would fail, after an embedding was paid).
    """
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError(f"{what} must be a non-empty str, got {shown(name)}")
    check_text(name, what)
    return f"{kind}:{name}"
