"""Durable mode: ``SemCache(path=...)`` keeps every acknowledged write across restarts.

- Every ``set`` is committed to the directory's journal before it returns, so it would
  survive even ``kill -9``; reopening the directory restores the entries and their vectors.
- ``close()`` (or leaving a ``with`` block) saves a checkpoint of the index for a fast
  reopen and releases the directory's lock; the closed cache then refuses every call with
  ``CacheClosedError``.
- One cache owns a directory at a time: a second opener gets ``DirectoryLockedError``.

Run: ``python examples/durable_mode.py``
"""

from __future__ import annotations

import tempfile

from semcache_core import CacheClosedError, DirectoryLockedError, SemCache


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        cache = SemCache(path=directory)
        cache.set("greeting", {"text": "hello"}, vector=[0.1, 0.9, 0.2], metadata={"lang": "en"})
        cache.set("farewell", {"text": "goodbye"}, vector=[0.9, 0.1, 0.3])
        print(f"wrote {cache.stats().size} entries to {directory}")

        try:
            SemCache(path=directory)
        except DirectoryLockedError as exc:
            print(f"a second opener is refused: {type(exc).__name__}")

        cache.close()  # checkpoint saved, lock released
        try:
            cache.get("greeting")
        except CacheClosedError:
            print("after close(): calls raise CacheClosedError")

        with SemCache(path=directory) as reopened:  # a new process would do the same
            print(
                f"reopened: {reopened.stats().size} entries, greeting = {reopened.get('greeting')}"
            )
            hit = reopened.search([0.1, 0.8, 0.2], k=1)[0]
            print(f"search after reopen: {hit.key} (score {hit.score:.3f}, {hit.metadata})")


if __name__ == "__main__":
    main()
