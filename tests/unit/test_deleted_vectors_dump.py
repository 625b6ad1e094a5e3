"""A dump after deletes holds no deleted vector: not in the flat rows, not in a graph's
level-0 slots (hnswlib keeps a deleted vector in its slot until the slot is reused)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from semcache_core import HNSWParams, SemCache

DIM = 16
ENTRIES, DELETED = 1_600, 500  # 1,100 left: searches go to the graph (>= 1,000)
EXACT = HNSWParams(m=12, ef_construction=100, ef_search=1_200, seed=3)  # ef >= size: exact
MATCH_ALL = {"no_such_field": {"$ne": 0}}  # takes the exact path


@pytest.mark.parametrize("index", ["hnsw", "flat"])
def test_a_dump_after_deletes_holds_no_deleted_vector(tmp_path: Path, index: str) -> None:
    rng = np.random.default_rng(11)
    vectors = rng.standard_normal((ENTRIES, DIM)).astype(np.float32)
    cache = SemCache(index=index, hnsw_params=EXACT)
    cache.set_many({f"k{i}": i for i in range(ENTRIES)}, vectors=vectors)
    stored = {}  # each deleted entry's vector exactly as the index holds it
    for i in range(DELETED):
        hits = cache.search(vectors[i], k=1, filters=MATCH_ALL, with_vectors=True)
        assert hits[0].key == f"k{i}" and hits[0].vector is not None
        stored[i] = hits[0].vector.astype(np.float32).tobytes()
        assert cache.delete(f"k{i}")
    if index == "hnsw":
        assert cache.backend.index_for("").kind == "hnsw"  # type: ignore[attr-defined]
    queries = rng.standard_normal((20, DIM)).astype(np.float32)
    before = [[(h.key, h.score) for h in cache.search(q, k=10)] for q in queries]
    path = tmp_path / "after-deletes.semcache"
    cache.dump(path)
    data = path.read_bytes()
    leaked = [i for i, raw in stored.items() if raw in data]
    assert leaked == [], f"{len(leaked)} deleted vectors in the dump, e.g. k{leaked[0]}"
    loaded = SemCache.from_snapshot(path)
    assert len(loaded) == ENTRIES - DELETED
    if index == "hnsw":
        assert loaded.backend.index_for("").kind == "hnsw"  # type: ignore[attr-defined]
    after = [[(h.key, h.score) for h in loaded.search(q, k=10)] for q in queries]
    for got, want in zip(after, before, strict=True):
        assert [key for key, _ in got] == [key for key, _ in want]
        assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-6)
    loaded.set("new", 1, vector=vectors[0])  # a deleted slot is reused after the load
    assert loaded.search(vectors[0], k=1)[0].key == "new"
