"""``dump`` / ``load`` for :class:`~.backend.RedisBackend`: the backend's content to and
from a :class:`~..base.BackendState` (the snapshot format of the local backend, unchanged,
so a Redis dump loads into a local cache and the reverse).

Both directions stream in batches of :data:`BATCH` entries: the export reads the entry
hashes a pipelined batch at a time and appends straight into the state's columns (each
namespace's vectors into one growing buffer that becomes its matrix without a copy); the
restore checks the whole state first, then clears and writes one batch at a time. So
the only full copy in memory is the state itself, which the snapshot file needs anyway.

Example::

    cache = SemCache(backend=RedisBackend(cluster_nodes=["127.0.0.1:7000"]))
    cache.dump("cache.semcache")          # export_state, below
    SemCache().load("cache.semcache")     # into a local cache, or the reverse

Not atomic on Redis: a restore that fails while writing (a server lost) leaves the
entries written so far; a state that is inconsistent is refused before anything changes.
HNSW graphs of a local snapshot are not used (vector sets build their own).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..base import BackendState, EntryWrite, SpaceState
from .connection import mapped_errors
from .entry_codec import refused, stored_entry, text_of

if TYPE_CHECKING:
    from .backend import RedisBackend

__all__ = ["BATCH", "export_state", "restore_state"]

BATCH = 512
_FIELDS = ["k", "v", "m", "x", "n", "f"]


def export_state(backend: RedisBackend, now: float) -> BackendState:
    """Every entry live at ``now``, sorted by (namespace, key), with its vector."""
    state = BackendState(None)
    buffers: dict[str, bytearray] = {}  # namespace -> float32 vectors, label order
    dims: dict[str, int] = {}
    with mapped_errors("dump"):
        names = backend._entry_names(backend._keys.entry_pattern())
        rows: list[tuple[str, str, bytes, bytes, float | None, bytes | None]] = []
        for start in range(0, len(names), BATCH):
            pipe = backend._conn.pipeline()
            for name in names[start : start + BATCH]:
                pipe.hmget(name, _FIELDS)
            for key, value, metadata, x, namespace, blob in pipe.execute():
                if key is None:
                    continue  # gone meanwhile
                entry = stored_entry(
                    text_of(key, "k"), text_of(namespace, "n"), value, metadata, x, blob
                )
                if entry.expires_at is not None and entry.expires_at <= now:
                    continue  # expired meanwhile
                rows.append((entry.namespace, entry.key, value, metadata, entry.expires_at, blob))
    rows.sort(key=lambda row: (row[0], row[1]))
    for namespace, key, value, metadata, expires_at, blob in rows:
        label = None
        if blob:
            buffer = buffers.setdefault(namespace, bytearray())
            if len(blob) != 4 * dims.setdefault(namespace, len(blob) // 4):
                why = f"{len(blob)} bytes in a namespace of {dims[namespace]} floats"
                raise refused("f", why, key)
            label = len(buffer) // len(blob)
            buffer += blob
        state.keys.append(key)
        state.values.append(value)
        state.metadata.append(metadata)
        state.namespaces.append(namespace)
        state.expires_at.append(expires_at)
        state.labels.append(label)
    for namespace, buffer in buffers.items():
        vectors = np.frombuffer(buffer, dtype="<f4").reshape(-1, dims[namespace])
        labels = np.arange(len(vectors), dtype=np.int64)
        state.spaces.append(
            SpaceState(
                namespace, labels, vectors.astype(np.float32, copy=False), None, dims[namespace]
            )
        )
    state.next_label = max((len(space.labels) for space in state.spaces), default=0)
    return state


def restore_state(backend: RedisBackend, state: BackendState, now: float) -> None:
    """Replace the whole content with ``state`` (entries expired at ``now`` left out).

    Raises:
        ValueError: the state is inconsistent; nothing changed.
    """
    columns = (state.values, state.metadata, state.namespaces, state.expires_at, state.labels)
    if any(len(column) != len(state.keys) for column in columns):
        raise ValueError("the entry columns differ in length")
    if len(set(zip(state.namespaces, state.keys))) != len(state.keys):
        raise ValueError("an entry appears twice")
    state.wait_for_vectors()
    spaces: dict[str, tuple[dict[int, int], Any]] = {}
    for space in state.spaces:
        vectors = space.vectors
        if (
            space.name in spaces
            or vectors is None
            or vectors.shape != (len(space.labels), space.dim)
        ):
            raise ValueError(f"namespace {space.name!r}: vectors do not match labels")
        rows = {int(label): row for row, label in enumerate(space.labels)}
        spaces[space.name] = (rows, vectors)
    for namespace, label in zip(state.namespaces, state.labels):
        if label is not None and label not in spaces.get(namespace, ({}, None))[0]:
            raise ValueError(f"namespace {namespace!r}: label {label} has no vector")
    backend.clear()
    writes: list[EntryWrite] = []
    for i, key in enumerate(state.keys):
        expires_at = state.expires_at[i]
        if expires_at is not None and expires_at <= now:
            continue
        namespace, label = state.namespaces[i], state.labels[i]
        vector = None
        if label is not None:
            rows, vectors = spaces[namespace]
            vector = np.asarray(vectors[rows[label]], dtype=np.float32)
        writes.append(
            EntryWrite(key, state.values[i], state.metadata[i], namespace, expires_at, vector)
        )
        if len(writes) == BATCH:
            backend.set_many(writes, now)
            writes = []
    backend.set_many(writes, now)
