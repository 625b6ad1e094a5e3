"""The files :meth:`SemCacheVectorStore.persist` writes, and how they are read back.

``StorageContext.persist(dir)`` names the vector store's file ``dir/default__vector_store.json``
and ``StorageContext.from_defaults(persist_dir=dir)`` without ``vector_store=`` reads that
file as ``SimpleVectorStore`` JSON. A binary snapshot there made LlamaIndex fail with a bare
``UnicodeDecodeError``. So for a ``.json`` path the store writes two files:

- ``default__vector_store.semcache``: the cache's binary snapshot (``SemCache.dump``);
- ``default__vector_store.json``: a small JSON *pointer* naming that snapshot and the
  store's namespace, shaped so that LlamaIndex's own loader stops on it with a message
  that says what to do (its ``embedding_dict`` holds text where floats belong, and the
  float conversion error quotes that text)::

      ValueError: could not convert string to float: 'semcache: this is not a
      SimpleVectorStore ... vector_store=SemCacheVectorStore.from_persist_dir(...)'

A path with any other suffix receives the snapshot itself, as before; so does reading an
older ``.json`` file that holds a snapshot.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from semcache_core import SemCache
from semcache_core.errors import InvalidArgumentError, SnapshotError, shown
from semcache_core.persist.container import MAGIC

__all__ = [
    "Persisted",
    "check_fs",
    "check_namespace_found",
    "read_persisted",
    "snapshot_path",
    "write_persisted",
]

POINTER_KIND = "semcache-vector-store"
POINTER_VERSION = 1
_JSON = ".json"
_SNAPSHOT = ".semcache"


@dataclass(frozen=True, slots=True)
class Persisted:
    """Where a persisted store's snapshot is, and the namespace it was persisted from
    (``None``: a bare snapshot, which does not say)."""

    snapshot: str
    namespace: str | None


def snapshot_path(persist_path: str) -> str:
    """The snapshot's path: ``x.json`` -> ``x.semcache``; any other path is the snapshot."""
    if persist_path.endswith(_JSON):
        return persist_path[: -len(_JSON)] + _SNAPSHOT
    return persist_path


def _advice(persist_dir: str) -> str:
    return (
        "semcache: this is not a SimpleVectorStore but the pointer to a SemCacheVectorStore "
        "snapshot; load it with StorageContext.from_defaults(persist_dir="
        f"{persist_dir!r}, vector_store=SemCacheVectorStore.from_persist_dir({persist_dir!r}))"
    )


def write_persisted(persist_path: str, cache: SemCache, namespace: str) -> None:
    """Dump ``cache`` (and, for a ``.json`` path, write the pointer after it, atomically)."""
    directory = os.path.dirname(persist_path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    target = snapshot_path(persist_path)
    cache.dump(target)
    if target == persist_path:
        return
    pointer: dict[str, Any] = {
        "embedding_dict": {"semcache": [_advice(os.path.dirname(persist_path) or ".")]},
        POINTER_KIND: {
            "version": POINTER_VERSION,
            "snapshot": os.path.basename(target),
            "namespace": namespace,
        },
    }
    temporary = f"{persist_path}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as out:
        json.dump(pointer, out, indent=1)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, persist_path)


def read_persisted(persist_path: str) -> Persisted:
    """What :func:`write_persisted` wrote at ``persist_path`` (a snapshot or a pointer).

    Raises:
        FileNotFoundError: nothing at ``persist_path``.
        SnapshotError: neither a semcache snapshot nor a pointer to one.
    """
    with open(persist_path, "rb") as handle:
        start = handle.read(len(MAGIC))
        if start == MAGIC:
            return Persisted(persist_path, None)
        handle.seek(0)
        try:
            document = json.load(handle)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError
            document = None
    pointer = document.get(POINTER_KIND) if isinstance(document, dict) else None
    if not (
        isinstance(pointer, dict)
        and pointer.get("version") == POINTER_VERSION
        and isinstance(pointer.get("snapshot"), str)
        and os.path.basename(pointer["snapshot"]) == pointer["snapshot"]
        and isinstance(pointer.get("namespace"), str)
    ):
        raise SnapshotError(
            f"{persist_path} is neither a semcache snapshot nor a SemCacheVectorStore pointer "
            "(was it written by SemCacheVectorStore.persist?)"
        )
    directory = os.path.dirname(persist_path)
    return Persisted(os.path.join(directory, pointer["snapshot"]), pointer["namespace"])


def check_namespace_found(
    cache: SemCache, engine_namespace: str, namespace: str, persist_path: str
) -> None:
    """Refuse a reload into ``namespace`` (engine namespace ``engine_namespace``) when it
    holds no node but the snapshot holds other vector stores: a store that silently
    answers nothing.

    Raises:
        InvalidArgumentError: naming the store namespaces the snapshot holds.
    """
    found = cache.namespaces()
    if engine_namespace in found:
        return
    kind = engine_namespace.split(":", 1)[0] + ":"
    stores = [name[len(kind) :] for name in found if name.startswith(kind)]
    if stores:
        listed = ", ".join(shown(name) for name in stores[:10])
        raise InvalidArgumentError(
            f"{persist_path} holds no node in namespace {shown(namespace)}; its vector stores' "
            f"namespaces are {listed}: pass namespace=... to load one of them"
        )


def check_fs(fs: Any) -> None:
    """Snapshots are written with atomic renames on a local disk: other filesystems fail."""
    if fs is None:
        return
    protocol = getattr(fs, "protocol", None)
    protocols = {protocol} if isinstance(protocol, str) else set(protocol or ())
    if not protocols & {"file", "local"}:
        raise InvalidArgumentError(
            f"SemCacheVectorStore persists to the local filesystem only, got fs={fs!r}; "
            "pass fs=None (or a local fsspec filesystem)"
        )
