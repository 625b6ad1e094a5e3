"""The words the guards (:mod:`semcache_core.guards`) compare: a span's words, contractions
kept whole or spelt out, and their stems.

Example::

    >>> span_words("Can't open Monday's file")
    ("can't", 'open', "monday's", 'file')
    >>> print(spelt_out("Who's winning? It'll rain, won't it? Monday's file"))
    Who is winning? It will rain, will not it? Monday's file
    >>> stem("Mondays"), stem("Monday's"), stem("class", plural=False)
    ('Monday', 'Monday', 'class')
"""

from __future__ import annotations

import functools
import re

from .guard_words import CONTRACTED

__all__ = ["WORD", "span_words", "spelt_out", "stem"]

WORD = re.compile(r"\w+(?:['\u2019]\w+)*")
"""A word, contractions kept whole ("can't", "o'clock")."""


@functools.lru_cache(maxsize=64)
def span_words(span: str) -> tuple[str, ...]:
    """The span's words, lower-cased (kept for the next guards: every default guard reads
    the same two spans)."""
    return tuple(word.lower() for word in WORD.findall(span))


_NOT = re.compile(r"\b(\w+)n['\u2019]t\b", re.IGNORECASE)
_NOT_HEADS = {"ca": "can", "wo": "will", "sha": "shall"}  # "can't", "won't", "shan't"
_CONTRACTION = re.compile(r"\b(\w+)['\u2019](s|re|m|ll|ve|d)\b", re.IGNORECASE)
_ENDINGS = {"re": "are", "m": "am", "ll": "will", "ve": "have", "d": "would"}


def spelt_out(text: str, every_s: bool = False) -> str:
    """``text`` with its contractions spelt out: "can't" -> "can not", "I'm" -> "I am",
    "it'll" -> "it will"; an "'s" only after a word whose "'s" is "is"
    (:data:`~semcache_core.guard_words.CONTRACTED`: "what's", "it's"; "let's" is "let
    us"), a possessive kept ("Monday's"), unless ``every_s``: then every "'s" is "is"
    ("the store's open")."""
    text = _NOT.sub(lambda m: f"{_NOT_HEADS.get(m.group(1).lower(), m.group(1))} not", text)
    return _CONTRACTION.sub(lambda match: _spelt_out(match, every_s), text)


def _spelt_out(match: re.Match[str], every_s: bool) -> str:
    head, ending = match.group(1), match.group(2).lower()
    if ending == "s":
        if head.lower() == "let":
            return f"{head} us"
        return f"{head} is" if every_s or head.lower() in CONTRACTED else match.group()
    return f"{head} {_ENDINGS[ending]}"


def stem(word: str, plural: bool = True) -> str:
    """A word less a possessive or (``plural``) a plural ending: "Mondays", "Monday's" ->
    "Monday"."""
    for ending in ("'s", "\u2019s", "s") if plural else ("'s", "\u2019s"):
        if word.endswith(ending) and len(word) > len(ending) + 1:
            return word[: -len(ending)]
    return word
