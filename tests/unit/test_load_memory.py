"""A snapshot load holds its values encoded: no decoded copy of a dict or list stays behind.

A load decodes every value once, to check it; it used to keep every decoded value too,
though only scalars are ever handed out from that copy (a 5.8 MB file held 30 MB).
"""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import numpy as np

from semcache_core import SemCache

ENTRIES = 4_000


def _value(i: int) -> dict:
    return {"id": i, "tags": ["alpha", "beta", str(i)], "scores": [0.5, 1.5, i / 7], "ok": True}


def test_a_load_keeps_no_decoded_copy_of_dict_values(tmp_path: Path) -> None:
    source = SemCache(index="flat")
    source.set_many({f"k{i}": _value(i) for i in range(ENTRIES)})
    source.set("vec", "scalar", vector=np.ones(4, dtype=np.float32))
    path = tmp_path / "dicts.semcache"
    source.dump(path)
    encoded = sum(len(value) for value in source.backend.export_state(0.0).values)  # type: ignore[attr-defined]
    target = SemCache(index="flat")
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        target.load(path)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    print(f"load of {ENTRIES} dict values: {held} B held for {encoded} B encoded")
    # the encoded values, keys and per-row bookkeeping: a decoded dict costs ~10x its bytes
    assert held < 3 * encoded + 400 * ENTRIES, (held, encoded)
    assert target.get("k7") == _value(7)
    assert target.get("vec") == "scalar"
