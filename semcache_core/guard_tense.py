"""The future against the present, a rule of :func:`semcache_core.guards.opposites_agree`:
"Who is the CEO of Twitter?" and "Who will be the CEO of Twitter?" score 0.96 with
all-MiniLM-L6-v2, and ask about two people.

Only where the tense is all that differs: the same words once "will" (or "shall", "'ll",
"going to") and "be" are set against "is" / "are" / "am" (or "'s", "'re", "'m"). A question
worded otherwise besides ("How much is shipping?" / "How much will shipping cost?") is
left to the rest of the rule, as are those where the tense rarely matters: a condition
("What will happen if I skip a dose?"), an amount or a time of day ("How long is the
flight?", "What time is the meeting?"). The caller leaves out pairs where a date says
when ("Is the museum open on Monday?" / "Will it be open this Monday?").

Example::

    >>> future_against_present("Who is the CEO of Twitter?", "Who will be the CEO of Twitter?")
    True
    >>> future_against_present("Is the museum open?", "Is the museum going to be open?")
    True
    >>> future_against_present("How much is shipping?", "How much will shipping cost?")
    False
"""

from __future__ import annotations

import re
from collections import Counter

from .guard_text import span_words
from .guard_words import CONTRACTED

__all__ = ["future_against_present"]

_FUTURE = frozenset(["will", "shall"])
_PRESENT = frozenset(["is", "are", "am"])
_TENSE = _FUTURE | _PRESENT | {"be"}
# "going to" before a verb is "will", and the "is" / "are" / "am" it leans on goes with it
_GOING_TO = re.compile(
    r"\b(?:is|are|am)\b(?P<subject>(?:\s+\w+){0,3}?)\s+going\s+to\b(?=\s+[^\W\d_])",
    re.IGNORECASE,
)
_EXEMPT = re.compile(
    r"\b(?:if|unless|how\s+(?:much|long|far|many|soon|often)|what\s+time)\b|\w\s+when\b",
    re.IGNORECASE,
)
_CONTRACTED = re.compile(r"\b(\w+)['\u2019](s|re|m|ll)\b", re.IGNORECASE)
_SPELT_OUT = {"re": "are", "m": "am", "ll": "will"}


def future_against_present(new: str, stored: str) -> bool:
    """Whether one span asks in the future and the other in the present, with the same
    words otherwise (see the module docstring for what is left out)."""
    if _EXEMPT.search(new) or _EXEMPT.search(stored):
        return False
    one, other = _words(new), _words(stored)
    tenses = [_tense(one), _tense(other)]
    if None in tenses or tenses[0] == tenses[1]:
        return False
    return _rest(one) == _rest(other)


def _words(span: str) -> list[str]:
    """The span's words, contractions spelt out ("who's" -> "who is", "it'll" -> "it
    will"; a possessive "'s" kept), "is ... going to" read as "... will"."""
    span = _CONTRACTED.sub(_spelt_out, span)
    return list(span_words(_GOING_TO.sub(lambda match: f"{match.group('subject')} will", span)))


def _spelt_out(match: re.Match[str]) -> str:
    head, ending = match.group(1), match.group(2).lower()
    if ending == "s":
        return f"{head} is" if head.lower() in CONTRACTED else match.group()
    return f"{head} {_SPELT_OUT[ending]}"


def _tense(words: list[str]) -> str | None:
    """``"future"`` or ``"present"`` where the words hold one of them only."""
    future, present = bool(_FUTURE.intersection(words)), bool(_PRESENT.intersection(words))
    return "future" if future and not present else "present" if present and not future else None


def _rest(words: list[str]) -> Counter[str]:
    return Counter(word for word in words if word not in _TENSE)
