"""The words the guards (:mod:`semcache_core.guards`) compare: a span's words, contractions
kept whole, and their stems.

Example::

    >>> span_words("Can't open Monday's file")
    ("can't", 'open', "monday's", 'file')
    >>> stem("Mondays"), stem("Monday's"), stem("class", plural=False)
    ('Monday', 'Monday', 'class')
"""

from __future__ import annotations

import functools
import re

__all__ = ["WORD", "span_words", "stem"]

WORD = re.compile(r"\w+(?:['\u2019]\w+)*")
"""A word, contractions kept whole ("can't", "o'clock")."""


@functools.lru_cache(maxsize=64)
def span_words(span: str) -> tuple[str, ...]:
    """The span's words, lower-cased (kept for the next guards: every default guard reads
    the same two spans)."""
    return tuple(word.lower() for word in WORD.findall(span))


def stem(word: str, plural: bool = True) -> str:
    """A word less a possessive or (``plural``) a plural ending: "Mondays", "Monday's" ->
    "Monday"."""
    for ending in ("'s", "\u2019s", "s") if plural else ("'s", "\u2019s"):
        if word.endswith(ending) and len(word) > len(ending) + 1:
            return word[: -len(ending)]
    return word
