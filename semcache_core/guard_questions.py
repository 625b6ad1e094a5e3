"""The question guard of :mod:`semcache_core.guards`: two questions of different kinds.

"Who designed the Eiffel Tower?" / "When was the Eiffel Tower built?" score 0.93 with
all-MiniLM-L6-v2, "Why do cats purr?" / "How do cats purr?" 0.94, "How many moons does
Jupiter have?" / "Which moons does Jupiter have?" 0.95: each asks for another kind of
answer.

Example::

    >>> question_words_agree("Who designed it?", "When was it built?")
    False
    >>> question_words_agree("Why do cats purr?", "How do cats purr?")
    False
    >>> question_words_agree("Why does smoking cause cancer?", "How does smoking cause cancer?")
    True
"""

from __future__ import annotations

import re

from .guard_text import span_words
from .guard_words import DETERMINER_PATTERN
from .prompt_diff import question_words

__all__ = ["question_words_agree"]

_HOW = re.compile(r"\bhow\b(?!\s+(?:come|long\s+ago)\b)", re.IGNORECASE)
_HOW_MANY = re.compile(r"\bhow\s+many\b", re.IGNORECASE)
_WHY_TO_HOW = {"why": "how"}
# where "how" asks why: a cause ("How does smoking cause cancer?", "...keep you awake?",
# "...make your eyes water?": "make" or "keep" with a thing and what becomes of it, not
# "Why do bees make honey?", which asks another thing than "How do bees make honey?")
# or "how is it so..." ("How is my battery draining so fast?"; a "so" within 80 characters:
# a scan to the end of the sentence from every "how is" would be quadratic)
_WHY_AS_HOW = re.compile(
    r"\b(?:caus\w*|lead(?:s|ing)?\s+to|led\s+to|trigger\w*|"
    rf"(?:makes?|made|keeps?|kept)\s+(?:(?:{DETERMINER_PATTERN})\s+)?"
    rf"(?!(?:{DETERMINER_PATTERN})\b)\w+\s+\w+|"
    r"results?\s+in)\b|\bhow\s+(?:is|are|am|was|were)\b[^.?!]{0,80}?\bso\b",
    re.IGNORECASE,
)


def question_words_agree(new: str, stored: str) -> bool:
    """Not two questions of different kinds: when both spans name who/whom/whose/when/
    where/why, they name the same ones ("Who designed it?" / "When was it built?"), and
    not "why" against "how" where they are all that differs ("Why do cats purr?" / "How do
    cats purr?"; "how come" asks why), nor another question word against "how" or each
    other where that is all they differ in ("How did Marie Curie die?" / "When did...?";
    but "Where do I change my password?" asks how to, as "How do I...?" does), nor "how
    many" against "which" ("How many moons does Jupiter have?" / "Which moons does
    Jupiter have?")."""
    asked, stored_asked = question_words(new), question_words(stored)
    if asked and stored_asked and asked != stored_asked:
        return False
    kinds = {_why_or_how(new, asked), _why_or_how(stored, stored_asked)}
    if kinds == {"why", "how"} and _only_why_how(new, stored):
        return False
    swapped = _swapped_question_words(new, stored)
    if swapped is not None and swapped != {"why", "how"}:  # "How / When did Curie die?"
        # "Where do I change my password?" asks how to, as "How do I...?" does
        how_to = swapped == {"where", "how"} and all(_HOW_TO.search(s) for s in (new, stored))
        if not how_to:
            return False
    # "How many moons does Jupiter have?" / "Which moons...?"
    return {_counted_or_picked(new), _counted_or_picked(stored)} != {"count", "which"}


def _why_or_how(span: str, asked: frozenset[str]) -> str | None:
    """``"why"`` for a span asking why and not how, ``"how"`` the other way."""
    why, how = "why" in asked, bool(_HOW.search(span))
    return "why" if why and not how else "how" if how and not why else None


def _only_why_how(new: str, stored: str) -> bool:
    """Whether "why" and "how" are all the two spans differ in ("Why do cats purr?" /
    "How do cats purr?"), and neither asks for a cause, where "how" asks why too ("How
    does smoking cause cancer?", "How is my battery draining so fast?")."""
    if _WHY_AS_HOW.search(new) or _WHY_AS_HOW.search(stored):
        return False
    return sorted(_WHY_TO_HOW.get(w, w) for w in span_words(new)) == sorted(
        _WHY_TO_HOW.get(w, w) for w in span_words(stored)
    )


_HOW_TO = re.compile(
    r"\b(?:where|how)\s+(?:do|does|can|could|should)\s+(?:i|you|we)\b", re.IGNORECASE
)
_KINDS = frozenset(["how", "when", "where", "who", "why"])  # not "what" / "which": alike


def _swapped_question_words(new: str, stored: str) -> frozenset[str] | None:
    """The two question words, when one each of how / when / where / who / why, other
    ones, is all the two spans differ in ("How did Marie Curie die?" / "When did...");
    else ``None``."""
    new_words, stored_words = span_words(new), span_words(stored)
    new_kinds = [w for w in new_words if w in _KINDS]
    stored_kinds = [w for w in stored_words if w in _KINDS]
    if len(new_kinds) != 1 or len(stored_kinds) != 1 or new_kinds == stored_kinds:
        return None
    if sorted(w for w in new_words if w not in _KINDS) != sorted(
        w for w in stored_words if w not in _KINDS
    ):
        return None
    return frozenset([*new_kinds, *stored_kinds])


def _counted_or_picked(span: str) -> str | None:
    """``"count"`` for a span asking how many and not which, ``"which"`` the other way."""
    counted, picked = bool(_HOW_MANY.search(span)), "which" in span_words(span)
    return "count" if counted and not picked else "which" if picked and not counted else None
