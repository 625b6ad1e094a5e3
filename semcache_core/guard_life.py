"""The life-stage rule of :mod:`semcache_core.guards`: one side asking about the young.

"What do lambs eat?" / "What do sheep eat?", "What should I feed a baby bird?" / "... a
bird?", "What do young goats eat?" / "What do goats eat?": the same words but for one that
narrows the question to a stage of life, and another answer. "young" narrows only where
the other side says the same without it ("a young dog" / "a dog"): "young professionals"
are "early-career professionals", "the night is young" names no one.

Example::

    >>> life_stages_agree("What do lambs eat?", "What do sheep eat?")
    False
    >>> life_stages_agree("What do young goats eat?", "What do goats eat?")
    False
    >>> life_stages_agree("What do young lions eat?", "What do lion cubs eat?")
    True
    >>> life_stages_agree("Jobs for young professionals", "Jobs for early-career professionals")
    True
"""

from __future__ import annotations

import itertools
import re

from .guard_text import span_words, stem
from .guard_words import DETERMINERS, LIFE_STAGES

__all__ = ["NOT_LIFE_STAGES", "life_stages_agree"]

NOT_LIFE_STAGES = re.compile(
    r"\bchild(?:ren)?\s+(?:process(?:es)?|elements?|nodes?|themes?|windows?|components?|"
    r"threads?|tables?|class(?:es)?|widgets?|views?|tags?)\b|"
    r"\bbaby[-\s](?:proof\w*|carrots?|back|spinach|corn|potato(?:es)?|bok)\b|"
    r"\b(?:kids?|child|baby)[-\s]friendly\b|"
    r"\blamb['\u2019]?s?[-\s](?:lettuce|ears?|wool)\b|\bcub\s+(?:reporters?|scouts?)\b|"
    r"\bpup\s+tents?\b|\bchick\s+(?:flicks?|lit)\b|\bchick[-\s]?peas?\b|"
    r"\bchick[-\s]fil[-\s]a\b|\bfawn(?:s|ed|ing)?\s+(?:over|on|upon)\b|"
    r"\bfawn[-\s](?:colou?r\w*|brown|response)\b|\bha(?:ve|s|d|ving)\s+kittens\b|"
    r"\bkitten[-\s]heels?\b|\bweak\s+as\s+a\s+kitten\b|\bugly\s+duckling\b|"
    r"\byoung['\u2019]s\b|\b(?:how|too|so|as)\s+young\b|\byoung\s+enough\b|"
    r"\byoung[-\s]onset\b|(?:(?<=\w\s)|(?<=\w,\s))(?-i:(?:Young|Joey|Chick|Piglet)\b)",
    re.IGNORECASE,
)
"""Phrases whose life-stage word names none: "a child process", "baby carrots",
"kid-friendly", "lamb's lettuce", "Cub Scouts", "a pup tent", "a chick flick",
"chickpeas", "fawn over", "kitten heels", "an ugly duckling", "Young's modulus",
"young-onset", "young" asked of an age ("How young can you be to rent a car?"), and a
name inside a sentence ("songs by Neil Young", "ask Joey")."""

_NOT_NOUNS = frozenset(["and", "or", "to", "at", "of", "in", "for", "with", "as", "than", "but"])


def life_stages_agree(new: str, stored: str) -> bool:
    """Both sides name a stage of life, or neither does; "young <noun>" names one where
    the other side has that noun after the same word or a determiner ("for young adults"
    / "for adults"), and agrees with a side that names one ("young lions" / "lion cubs")."""
    words = [span_words(NOT_LIFE_STAGES.sub(" ", span)) for span in (new, stored)]
    named = [any(stem(w, plural=False) in LIFE_STAGES for w in side) for side in words]
    if named[0] != named[1]:
        return bool(_young_nouns(words[0] if named[1] else words[1]))
    return named[0] or not (_young_dropped(*words) or _young_dropped(*reversed(words)))


def _young_nouns(words: tuple[str, ...]) -> list[int]:
    """Where ``words`` say "young <noun>": the positions of those "young"."""
    return [
        i
        for i, (word, following) in enumerate(itertools.pairwise(words))
        if word == "young" and following not in _NOT_NOUNS
    ]


def _young_dropped(one: tuple[str, ...], other: tuple[str, ...]) -> bool:
    """``one`` says "young <noun>" where ``other`` says "<noun>" (not after "young") after
    the same word or a determiner, or first."""
    young = _young_nouns(one)
    if not young:
        return False
    at: dict[str, list[int]] = {}  # each stem's places in ``other``: one pass, not one a noun
    for j, other_word in enumerate(other):
        at.setdefault(stem(other_word), []).append(j)
    for i in young:
        head, before = stem(one[i + 1]), one[i - 1] if i else None
        for j in at.get(head, ()):
            previous = other[j - 1] if j else None
            if previous != "young" and (
                previous is None or previous == before or previous in DETERMINERS
            ):
                return True
    return False
