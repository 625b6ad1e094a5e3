"""The direction guard of :mod:`semcache_core.guards`: the same words in another order,
or a word going one way on one side and the other way on the other ("int to string" / "a
string to an int"), is another question.

Example::

    >>> order_agrees("convert Celsius to Fahrenheit", "fahrenheit from celsius")
    True
    >>> order_agrees("convert int to string", "convert a string to an int")
    False
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable

from .guard_text import WORD, span_words, stem
from .guard_words import DETERMINERS, INFINITIVE_VERBS

__all__ = ["order_agrees"]


def order_agrees(new: str, stored: str) -> bool:
    """Not the same words in another order ("make a public repo private" / "make a private
    repo public"), and no word going one way on one side and the other way on the other:
    "convert Celsius to Fahrenheit" / "converting fahrenheit into celsius", "int to
    string" / "get an int from a String" agree, "int to string" / "a string to an int"
    do not (what embeddings, bags of meaning, see least)."""
    new_words, stored_words = span_words(new), span_words(stored)
    if new_words == stored_words:
        return True
    # the same words in another order, a pronoun's case and a plural aside ("Can I sue my
    # roommate?" / "Can my roommate sue me?")
    new_folded, stored_folded = _folded(new_words), _folded(stored_words)
    if new_folded != stored_folded and sorted(new_folded) == sorted(stored_folded):
        return False
    moves = _moves(new)
    if not moves:  # the other side's moves are not needed
        return True
    others = _moves(stored)
    return not any(_reversed(move, other) for move in moves for other in others)


_CONNECTORS = frozenset(["to", "into", "from", "than", "over"])  # "X to Y", "Y from X", "X than Y"
# words, and the punctuation that ends a clause (a dash between spaces too)
_CLAUSE_TOKEN = re.compile(r"\w+(?:['\u2019]\w+)*|[,;:.!?()\[\]\u2013\u2014]|(?<!\w)-+(?!\w)")
_ARROW = re.compile(r"\u2192|\u21d2|\u27f6|=>|->")  # no \s* around: quadratic on long blanks
_OUT_OF = re.compile(r"\bout\s+of\b", re.IGNORECASE)
# "X instead of Y" and "X in place of Y" prefer X as "X over Y" does; "X compared with Y"
# compares as "X compared to Y" does
_OVER = re.compile(r"\b(?:instead|in\s+place)\s+of\b", re.IGNORECASE)
_COMPARED_WITH = re.compile(r"\bcompared\s+with\b", re.IGNORECASE)
_PRONOUNS = {"me": "i", "us": "we", "him": "he", "them": "they"}  # "from me" / "I ... from"
_REACH = 3  # words of each end beside its connector ("a JSON string" into "a Python dict")
# what "than" compares may stand before a longer comparative: "is tea better for you than",
# words of degree left out ("is coffee really that much better for your heart than")
_THAN_REACH = 6
_DEGREE = frozenset(
    [
        "really", "much", "that", "lot", "way", "far", "even", "so", "any", "still",
        "actually", "truly", "significantly", "considerably", "slightly", "somewhat", "bit",
    ]
)  # fmt: skip
_MOVES_MAX = 32  # moves compared per side: thousands of "to"s stay cheap

Move = tuple[frozenset[str], frozenset[str]]


def _moves(span: str) -> list[Move]:
    """(source words, target words) of each "X to Y", "X into Y", "Y from X", "X than Y"
    ("bigger than") and "X over Y" ("prefer X over Y", "X instead of Y") in a span:
    up to :data:`_REACH` words on each side of the connector, short of the next connector
    or punctuation, determiners skipped, possessives and plurals folded: "convert a JSON
    string into a Python dict" -> ``({"convert", "json", "string"}, {"python", "dict"})``."""
    span = _OUT_OF.sub(" from ", _ARROW.sub(" to ", span))  # "X -> Y", "out of X"
    span = _COMPARED_WITH.sub("compared to", _OVER.sub(" over ", span))
    words = [token.lower() for token in _CLAUSE_TOKEN.findall(span)]
    at = [
        i
        for i, word in enumerate(words)
        if word in _CONNECTORS  # not an infinitive: "how to get to the airport"
        and not (word == "to" and i + 1 < len(words) and words[i + 1] in INFINITIVE_VERBS)
    ]
    stops = [i for i, word in enumerate(words) if word in _CONNECTORS or not WORD.match(word)]
    moves = []
    for i in at[:_MOVES_MAX]:
        n = bisect.bisect_left(stops, i)  # i is stops[n]
        start, stop = (
            stops[n - 1] + 1 if n else 0,
            stops[n + 1] if n + 1 < len(stops) else len(words),
        )
        than = words[i] == "than"
        before = _end(
            (words[j] for j in range(i - 1, start - 1, -1) if not (than and words[j] in _DEGREE)),
            _THAN_REACH if than else _REACH,
        )
        after = _end(words[j] for j in range(i + 1, stop))
        before, after = before - after, after - before  # a word at both ends says nothing
        if before and after:
            moves.append((after, before) if words[i] == "from" else (before, after))
    return moves


_FOLDED = {**_PRONOUNS, "does": "do", "has": "have", "am": "be", "is": "be", "are": "be"}


def _folded(words: Iterable[str]) -> list[str]:
    """``words`` with a pronoun's object case, an inflected "do" / "have" / "be" and a
    plural or possessive folded ("me" -> "i", "does" -> "do", "tenant's" -> "tenant")."""
    return [_FOLDED.get(word) or stem(word) for word in words]


def _end(words: Iterable[str], reach: int = _REACH) -> frozenset[str]:
    """The first ``reach`` words of ``words`` that are not determiners, folded."""
    found: list[str] = []
    for word in words:
        if word not in DETERMINERS:
            found.append(_PRONOUNS.get(word) or stem(word))
            if len(found) == reach:
                break
    return frozenset(found)


def _reversed(move: Move, other: Move) -> bool:
    """Whether ``other`` goes the other way: a word of each end at the other end."""
    return _crossing(move[0], other[1]) and _crossing(move[1], other[0])


def _crossing(words: frozenset[str], others: frozenset[str]) -> bool:
    """A word of ``words`` in ``others``, or one a prefix of the other ("int" / "integer")."""
    return any(_same_end(word, other) for word in words for other in others)


def _same_end(word: str, other: str) -> bool:
    if word == other:
        return True
    short, long = sorted((word, other), key=len)
    return len(short) >= 3 and long.startswith(short)
