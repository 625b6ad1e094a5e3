"""Subprocess helper for ``test_durable.py`` (a script, not a test module).

Usage::

    python durable_writer.py MODE DIRECTORY [JSON-OPTIONS]

Modes:

``crash``
    Open a durable cache and write a random workload forever, until killed. Before each
    operation it prints ``try <json>``, and ``ok`` once the call has returned (each line
    flushed), so the reader knows every acknowledged operation and the one in flight.
``write``
    Run ``steps`` (set deterministic entries ``entry_for``, delete, checkpoint, load a
    snapshot, clear, sleep), print ``done``, then leave as ``exit`` says: ``"os_exit"``
    (no close: a crash that skips every ``finally``), ``"hang"`` (wait to be killed) or
    ``"close"``.
``try_open``
    Try to open the directory; print ``{"error": name, "message": text}`` or ``{"opened":
    true}`` as JSON.

The helpers (``vector_for``, ``value_for``, ...) are imported by the test module too, so
both sides compute the same expected content.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import time
from typing import Any

import numpy as np

from semcache_core import HashingEmbedder, HNSWParams, SemCache
from semcache_core.persist.durable import DurableBackend

DIM = 24
KEY_POOL = 160  # keys k0..k159: overwrites and deletes of earlier keys are frequent
NAMESPACES = ("", "", "a", "b")
# ef_search above any namespace's size: the graph answers like an exact search
HNSW = HNSWParams(m=12, ef_construction=64, ef_search=256, seed=7)


def embedder() -> HashingEmbedder:
    return HashingEmbedder(dim=DIM)


def vector_for(seed: int) -> np.ndarray:
    """A raw (not normalised) float32 vector, a pure function of ``seed``."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(DIM) * 3.0 + 0.5).astype(np.float32)


def embedding_for(i: int, kind: str) -> Any:
    """What an embedding function returns for text ``i``: a list of floats (``"list"``) or
    an ndarray of dtype ``kind``."""
    vector = vector_for(10_000 + i).astype(np.float64) * 1.7
    return vector.tolist() if kind == "list" else vector.astype(kind)


def unit(vector: np.ndarray) -> np.ndarray:
    wide = np.asarray(vector, dtype=np.float64)
    return (wide / np.linalg.norm(wide)).astype(np.float32)


def value_for(key: str, ver: int) -> Any:
    """Values of every stored kind, a pure function of (key, version)."""
    kind = ver % 7
    if kind == 0:
        return f"value of {key} v{ver} é✓"
    if kind == 1:
        return ver * 7919 - 2**40
    if kind == 2:
        return ver / 7.0
    if kind == 3:
        return {"key": key, "ver": ver, "nested": {"list": [1, 2.5, "x", None, True]}}
    if kind == 4:
        return [key, ver, [ver, -ver], {"b": False}]
    if kind == 5:
        return hashlib.sha256(f"{key}/{ver}".encode()).digest()
    return None


def meta_for(key: str, ver: int) -> dict[str, Any]:
    return {"key": key, "ver": ver, "parity": ver % 2, "tags": ["t", str(ver % 5)]}


def text_for(key: str, ver: int) -> str:
    """Text for ``put``: distinct words per (key, version), so embeddings differ."""
    digest = hashlib.sha1(f"{key}:{ver}".encode()).hexdigest()
    return f"note {key} rev{ver} {digest[:10]} {digest[10:20]} {digest[20:30]}"


def entry_for(i: int, offset: int = 0) -> dict[str, Any]:
    """Entry ``i`` of ``write`` mode: key, version, with metadata?, vector seed."""
    ver = i + offset
    return {"key": f"w{i}", "ver": ver, "meta": i % 2 == 0, "vec": 10_000 + ver}


def _cache(directory: str, opts: dict[str, Any]) -> SemCache:
    interval = opts.get("interval", "default")
    if interval == "default":  # the path= shortcut (checkpoint every 60 s)
        return SemCache(
            path=directory,
            index=opts.get("index", "flat"),
            hnsw_params=HNSW,
            max_entries=opts.get("max_entries"),
            embedder=embedder(),
        )
    backend = DurableBackend(
        directory,
        opts.get("max_entries"),
        opts.get("index", "flat"),
        hnsw_params=HNSW,
        checkpoint_interval=interval,
    )
    return SemCache(backend=backend, embedder=embedder())


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _next_op(rng: random.Random, ver: int, opts: dict[str, Any]) -> dict[str, Any]:
    if rng.random() < opts.get("ckpt_rate", 0.05):
        return {"op": "ckpt"}
    key = f"k{rng.randrange(KEY_POOL)}"
    ns = rng.choice(NAMESPACES)
    meta = rng.random() < 0.6
    roll = rng.random()
    if roll < 0.30:
        return {"op": "set", "key": key, "ver": ver, "ns": ns, "meta": meta, "vec": ver}
    if roll < 0.42:
        return {"op": "set", "key": key, "ver": ver, "ns": ns, "meta": meta, "vec": None}
    if roll < 0.55:
        size = rng.randint(60, 160) if opts.get("big_batches") else rng.randint(1, 40)
        keys = [f"k{rng.randrange(KEY_POOL)}" for _ in range(size)]  # repeats: last wins
        with_vectors = rng.random() < 0.7
        items = [
            [k, ver + j, j % 3 != 0, (ver + j) if with_vectors and j % 4 != 3 else None]
            for j, k in enumerate(keys)
        ]
        return {"op": "set_many", "ns": ns, "items": items, "meta": meta, "vectors": with_vectors}
    if roll < 0.66:
        return {"op": "put", "key": key, "ver": ver, "ns": ns, "meta": meta}
    return {"op": "del", "key": key, "ns": ns}


def _apply(cache: SemCache, op: dict[str, Any]) -> None:
    kind = op["op"]
    if kind == "set":
        key, ver = op["key"], op["ver"]
        cache.set(
            key,
            value_for(key, ver),
            vector=None if op["vec"] is None else vector_for(op["vec"]),
            metadata=meta_for(key, ver) if op["meta"] else None,
            namespace=op["ns"],
        )
    elif kind == "set_many":
        items = op["items"]
        pairs = [(k, value_for(k, ver)) for k, ver, _, _ in items]
        metadatas = [meta_for(k, ver) if m else None for k, ver, m, _ in items]
        vectors = [None if v is None else vector_for(v) for _, _, _, v in items]
        cache.set_many(
            pairs,
            vectors=vectors if op["vectors"] else None,
            metadatas=metadatas if op["meta"] else None,
            namespace=op["ns"],
        )
    elif kind == "put":
        key, ver = op["key"], op["ver"]
        cache.put(
            key,
            text_for(key, ver),
            metadata=meta_for(key, ver) if op["meta"] else None,
            namespace=op["ns"],
        )
    elif kind == "del":
        cache.delete(op["key"], namespace=op["ns"])
    elif kind == "ckpt":
        cache.backend.checkpoint()
    else:  # pragma: no cover - a typo in this script
        raise ValueError(kind)


def crash(directory: str, opts: dict[str, Any]) -> None:
    rng = random.Random(opts["seed"])
    ver = opts.get("first_ver", 0)
    cache = _cache(directory, opts)
    _say("open " + cache.backend.opened_from)
    while True:
        op = _next_op(rng, ver, opts)
        ver += 1000  # set_many uses ver + j (j < 1000): versions never repeat
        _say("try " + json.dumps(op, separators=(",", ":")))
        _apply(cache, op)
        _say("ok")


def write(directory: str, opts: dict[str, Any]) -> None:
    cache = _cache(directory, opts)
    for step in opts.get("steps", []):
        name, *args = step
        if name == "set":  # ["set", first, stop, version offset, ttl or None]
            first, stop, offset, ttl = [*args, *(0, None)[len(args) - 2 :]]
            for i in range(first, stop):
                entry = entry_for(i, offset)
                key = entry["key"]
                cache.set(
                    key,
                    value_for(key, entry["ver"]),
                    vector=vector_for(entry["vec"]),
                    metadata=meta_for(key, entry["ver"]) if entry["meta"] else None,
                    ttl=ttl,
                )
        elif name == "embed":  # ["embed", first, stop, kind]: "e<i>" -> embedding_for(i, kind)
            first, stop, kind = args
            for i in range(first, stop):
                cache.get_or_compute(f"e{i}", lambda key, i=i, k=kind: embedding_for(i, k))
        elif name == "plain":  # ["plain", first, stop]: "p<i>" -> i, no vector
            for i in range(args[0], args[1]):
                cache.set(f"p{i}", i)
        elif name == "del":
            cache.delete(args[0])
        elif name == "ckpt":
            cache.backend.checkpoint()
        elif name == "load":  # ["load", snapshot path]
            cache.load(args[0])
        elif name == "clear":
            cache.clear()
        elif name == "sleep":
            time.sleep(args[0])
        else:  # pragma: no cover - a typo in the test
            raise ValueError(name)
    _say("done")
    how = opts.get("exit", "os_exit")
    if how == "os_exit":
        os._exit(0)
    if how == "hang":
        time.sleep(600)
    cache.close()


def try_open(directory: str, opts: dict[str, Any]) -> None:
    try:
        cache = _cache(directory, opts)
    except Exception as exc:
        _say(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
        return
    cache.close()
    _say(json.dumps({"opened": True}))


MODES = {"crash": crash, "write": write, "try_open": try_open}

if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    options = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    MODES[mode](path, options)
