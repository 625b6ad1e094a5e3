"""Snapshots: ``dump`` / ``load`` / ``from_snapshot`` to one binary file.

``dump(path)`` writes every live entry, vector and index graph to one checksummed file
(written beside ``path`` and renamed over it, so a crash never leaves half a file);
``load(path)`` replaces a cache's content with it; ``SemCache.from_snapshot(path)`` makes
a new cache with the snapshot's content and settings. Nothing is ever unpickled.

Run: ``python examples/snapshots.py``
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from semcache_core import SemCache


def main() -> None:
    cache = SemCache(ttl=3600)
    for i in range(1000):
        cache.set(f"doc:{i}", {"n": i}, vector=[1.0, i / 1000, (i % 7) / 7], metadata={"i": i})
    cache.set("plain", "a value without a vector")

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "cache.snapshot"
        cache.dump(path)
        print(f"dumped {cache.stats().size} entries to {path.name} ({path.stat().st_size:,} bytes)")

        restored = SemCache.from_snapshot(path)
        print(f"from_snapshot: {restored.stats().size} entries, plain = {restored.get('plain')!r}")

        other = SemCache()
        other.set("stale", 1)
        other.load(path)  # replaces the content
        print(f"load: {other.stats().size} entries, stale gone: {other.get('stale') is None}")

    query = [1.0, 0.5, 3 / 7]
    same = [h.key for h in cache.search(query, k=3)] == [h.key for h in restored.search(query, k=3)]
    print(f"same search results after the round trip: {same}")


if __name__ == "__main__":
    main()
