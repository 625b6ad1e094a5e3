"""A few words swapped inside a long shared sentence: what the embeddings of the whole
sentence cannot see.

Two prompts that differ by one or two words in an otherwise shared sentence ("...how to
approve an expense report?" / "...how to appeal an expense report?") embed almost alike,
whatever the model: the shared words dominate both vectors (all-MiniLM-L6-v2 puts "pay the
seller" / "pay the buyer" inside one such sentence at 0.949, the lexical embedder
"approve" / "appeal" at 0.950). :func:`swapped_words` finds such a swap, so that the
replaced words themselves are compared instead; a misspelling ("pasword", "refnud") is no
swap: it is what the lexical embedder exists to forgive. Two English words a letter apart
("employer" / "employee") are a swap, not a misspelling.

Example::

    >>> long = "Explain, step by step for a new employee on the team, how to {} a refund?"
    >>> swapped_words(long.format("receive"), long.format("refuse"))
    ('receive', 'refuse')
    >>> swapped_words(long.format("receive"), long.format("recieve")) is None  # a typo
    True
    >>> swapped_words("How tall is it?", "How high is it?") is None  # too little shared
    True
"""

from __future__ import annotations

import functools
from collections.abc import Container

from .guard_text import spelt_out
from .prompt_diff import words

__all__ = [
    "FUNCTION_WORDS",
    "SHARED_MIN",
    "SWAPPED_MAX",
    "is_english_word",
    "is_misspelling",
    "swapped_words",
]

SHARED_MIN = 6
"""Words the two sentences must share (before and after the swap) for a swap to count."""
SWAPPED_MAX = 2
"""The most words a swap replaces on each side."""

_FUNCTION_WORDS = (
    "a an the this that these those my your our his her its their some any each every "
    "in on at of for with by into onto about please"
)
FUNCTION_WORDS = frozenset(_FUNCTION_WORDS.split())
"""Words that shape a sentence without saying what it asks: a swap of these alone ("reset
my password" / "reset the password", "in the app" / "on the app") is a paraphrase."""
LONGEST_WORD = 30
"""Longer tokens (a DNA sequence, a hash) are never misspellings of one another."""


def swapped_words(first: str, second: str) -> tuple[str, str] | None:
    """The words ``first`` and ``second`` put in place of each other where they share at
    least :data:`SHARED_MIN` words around at most :data:`SWAPPED_MAX` replaced ones (in
    any case, contractions spelt out: "I'm" is "I am"), after at least one, or ``None``:
    no such swap, a swap of the opening words (how a request is put: "Tell me" / "Please
    explain"), the same letters split otherwise ("e-mail" / "email", "log in" /
    "login"), one that only misspells (:func:`is_misspelling`), or one of function words
    alone ("my" / "the")."""
    a, b = _plain_words(first), _plain_words(second)
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    replaced, replacing = a[start : len(a) - end], b[start : len(b) - end]
    if (
        start == 0  # the opening words: how a request is put ("Tell me" / "Please explain")
        or start + end < SHARED_MIN
        or not replaced
        or not replacing
        or max(len(replaced), len(replacing)) > SWAPPED_MAX
        or "".join(replaced) == "".join(replacing)
    ):
        return None
    if len(replaced) == len(replacing) and all(map(is_misspelling, replaced, replacing)):
        return None
    if FUNCTION_WORDS.issuperset(replaced) and FUNCTION_WORDS.issuperset(replacing):
        return None
    return " ".join(replaced), " ".join(replacing)


def _plain_words(text: str) -> list[str]:
    """The words of ``text`` in lower case, contractions spelt out ("can't" -> "can not",
    every "'s" as "is": a possessive is one on both sides)."""
    return words(spelt_out(text, every_s=True).lower())


def is_misspelling(word: str, other: str) -> bool:
    """Whether two words are one misspelt as the other: at most one edit apart (an
    insertion, a deletion, a substitution or two neighbours transposed), two for words
    of seven letters or more, with their first letter the same (and neither longer than
    :data:`LONGEST_WORD`), and not both English words (:func:`is_english_word`:
    "employer" / "employee", "prevent" / "present", "trial" / "trail" ask other things)."""
    if word == other:
        return True
    if word[0] != other[0] or max(len(word), len(other)) > LONGEST_WORD:
        return False
    allowed = 2 if min(len(word), len(other)) >= 7 else 1
    if _edits(word, other, allowed) > allowed:
        return False
    return not (is_english_word(word) and is_english_word(other))


def is_english_word(word: str) -> bool:
    """Whether lower-case ``word`` is in pyspellchecker's English word list (about 160,000
    words, US spellings; loaded on first use, about half a second)."""
    return word in _english_words()


@functools.cache
def _english_words() -> Container[str]:
    from spellchecker import SpellChecker  # its list loads in ~0.5 s: only when needed

    words: Container[str] = SpellChecker(distance=1).word_frequency.dictionary
    return words


def _edits(a: str, b: str, limit: int) -> int:
    """The optimal string alignment distance of ``a`` and ``b``, or more than ``limit``
    (only the cells within ``limit`` of the diagonal are filled)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    far = limit + 1
    before: list[int] = []
    row = [j if j <= limit else far for j in range(len(b) + 1)]
    for i in range(1, len(a) + 1):
        above, row = row, [i if i <= limit else far] + [far] * len(b)
        for j in range(max(1, i - limit), min(len(b), i + limit) + 1):
            cost = a[i - 1] != b[j - 1]
            row[j] = min(above[j] + 1, row[j - 1] + 1, above[j - 1] + cost, far)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], before[j - 2] + 1)
        before = above
    return row[-1]
