"""The SemCache seed's API (PyPI ``semcache-rs``) on semcache's engine: a seed user changes
the import and nothing else.

Example::

    >>> from semcache_core.rs_compat import SemCache  # was: from semcache_rs import SemCache
    >>> cache = SemCache(ttl=0)  # 0: never expire, as in the seed
    >>> cache.get_or_compute("hello", lambda text: [1.0, 0.0, 0.0])
    [1.0, 0.0, 0.0]
    >>> cache.put("bye", [0.0, 1.0, 0.0])
    >>> cache.get_similar([0.9, 0.1, 0.0], 0.9)
    [1.0, 0.0, 0.0]
    >>> cache.size()
    2

Every call keeps the seed's name, arguments and return values: ``get_or_compute(text,
generator)``, ``get(text)``, ``put(text, vector)``, ``get_similar(query_vec, threshold)``,
``dump(path)``, ``load(path)`` (the number of entries loaded), ``size()``, ``clean()``
(empties the cache). Values are embeddings, as in the seed: a generator's result or a
``put`` vector that is not a sequence of numbers raises
:class:`~semcache_core.errors.InvalidValueError`, a ``TypeError`` as the seed's; a vector
of integers is stored as floats. Embeddings come back float32-rounded, as from the seed.

What differs, because it is semcache underneath: files are semcache snapshots
(checksummed, atomic, never unpickled; not the seed's format), a cache holds vectors of
one dimension (the seed compares vectors of another length as well), and ``cache.engine``
is the :class:`~semcache_core.SemCache` for everything the seed lacks (search with
filters, namespaces, an LRU bound, durable mode).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from .cache import SemCache as Engine
from .checks import as_real, check_key
from .errors import InvalidArgumentError, InvalidValueError, shown

__all__ = ["SemCache"]


def _floats(value: Any, what: str) -> list[float]:
    """``value`` (a sequence of numbers) as a list of floats, as the seed extracts it.

    Raises:
        InvalidValueError: a str or bytes, or not a sequence of real numbers.
    """
    if value.__class__ is list and set(map(type, value)) <= {float}:  # an embedder's list
        return value
    if isinstance(value, (str, bytes)):
        raise InvalidValueError(
            f"{what} must be a sequence of numbers, got a {type(value).__name__}"
        )
    try:
        numbers = [as_real(x) for x in value]
    except TypeError:
        raise InvalidValueError(
            f"{what} must be a sequence of numbers, got {shown(value)}"
        ) from None
    if any(number is None for number in numbers):
        raise InvalidValueError(f"{what} must hold numbers only, got {shown(value)}")
    return [float(number) for number in numbers]  # type: ignore[arg-type]


class SemCache:
    """``semcache_rs.SemCache`` on semcache's engine (see the module docstring).

    Args:
        ttl: seconds an entry lives; 0 (the seed's default): forever.

    Raises:
        InvalidArgumentError: ``ttl`` negative or not a number.
    """

    def __init__(self, ttl: int = 0) -> None:
        seconds = as_real(ttl)
        if seconds is None or seconds < 0:
            raise InvalidArgumentError(f"ttl must be a number of seconds >= 0, got {shown(ttl)}")
        self.engine = Engine(ttl=None if seconds == 0 else seconds)

    def get_or_compute(self, text: str, generator: Callable[[str], Any]) -> list[float]:
        """The embedding of ``text``: cached, or ``generator(text)`` computed once and kept."""
        return self.engine.get_or_compute(
            text, lambda key: _floats(generator(key), "the generator's result"), index=True
        )

    def get(self, text: str) -> list[float] | None:
        """The embedding cached for ``text``, or ``None``."""
        return self.engine.get(text)

    def put(self, text: str, vector: Any) -> None:
        """Cache ``vector`` as the embedding of ``text`` (replacing any)."""
        check_key(text)
        values = _floats(vector, "vector")
        # stored as get_or_compute stores an embedding: once, as the entry's vector
        self.engine._store_computed(text, values, None, "", None, True)

    def get_similar(self, query_vec: Any, threshold: float) -> list[float] | None:
        """The embedding most similar to ``query_vec`` with cosine >= ``threshold``, or
        ``None``."""
        return self.engine.get_similar(_floats(query_vec, "query_vec"), threshold)

    def dump(self, path: str | os.PathLike[str]) -> None:
        """Save every entry to ``path`` (a semcache snapshot)."""
        self.engine.dump(path)

    def load(self, path: str | os.PathLike[str]) -> int:
        """Replace the content with the snapshot at ``path``; the number of entries."""
        self.engine.load(path)
        return len(self.engine)

    def size(self) -> int:
        """The number of entries."""
        return len(self.engine)

    def clean(self) -> None:
        """Remove every entry."""
        self.engine.clear()
