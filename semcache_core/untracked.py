"""``untrack(*objects)``: objects the garbage collector never needs to walk, taken out of
its lists (the C accelerator's; without it, a no-op).

A cache entry is a few small objects (the entry, its embedding's marker, its place in the
recency and expiry heaps), each tracked by the collector. A cache of 100k embeddings
then adds 200k objects to every full collection the application makes, and their
allocation starts collections: filling 100k embeddings by ``get_or_compute`` took 3.96 s
with the collector on against 1.40 s with it paused. Nothing these objects hold leads back
to them (keys, byte strings, numbers, an immutable marker, a metadata dict decoded from
bytes that never leaves the backend), so no reference cycle runs through them and a
collection has nothing to find there: CPython untracks a tuple or dict of atomic items for
the same reason. They still live and die by their reference counts. Only entries whose
fields are all of built-in types are untracked: a caller's ``str`` subclass as a key can
carry an attribute that leads back to the cache, a cycle only the collector can free.

Example::

    >>> import gc
    >>> class Point:
    ...     def __init__(self, x: int, y: int) -> None:
    ...         self.x, self.y = x, y
    >>> point = Point(1, 2)
    >>> untrack(point)
    >>> gc.is_tracked(point)  # True again only where the accelerator is not built
    False
"""

from __future__ import annotations

from typing import Any

__all__ = ["untrack"]

try:
    from ._speedups import untrack
except ImportError:  # pragma: no cover - built by every install that has a compiler

    def untrack(*objects: Any) -> None:
        """Without the accelerator the collector keeps walking them: slower, not wrong."""
