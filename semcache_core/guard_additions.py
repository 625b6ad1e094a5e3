"""The additions guard of :mod:`semcache_core.guards`: a request or a condition added to
the same sentence on one side only asks for more, or for something else.

"How do I reset my password?" and "How do I reset my password and delete my account?",
"Summarize the plot of Hamlet." and "...as a poem.", "Recommend a book like Dune." and
"..., but shorter." embed alike (all-MiniLM-L6-v2: 0.87-0.95), and a hunt through
LlamaIndex (``SemCacheLLM``) was served one's answer for the other in 20 of 22 such pairs.
What one side adds at one place is another request where it opens with a word that joins
one ("and", "or", "but", "with", "as", "under", "including"...) and holds two words or
more, or where a bracket sets it off ("... (rhyming)"), or a comma two words or more
("..., emphasizing leadership"). Words added otherwise are compared as before ("How many
days until Christmas?" / "How many days are left until Christmas?", "Paid 2 years ago,
hence is it still on my report?").

Example::

    >>> additions_agree("How do I reset my password?", "How do I reset my password and delete it?")
    False
    >>> additions_agree("Write a haiku about the sea.", "Write a haiku about the sea (rhyming).")
    False
    >>> additions_agree("Is my flight delayed?", "Is my flight going to be delayed?")
    True
"""

from __future__ import annotations

import difflib

from .guard_text import WORD

__all__ = ["JOINING_WORDS", "additions_agree"]

JOINING_WORDS = frozenset(
    [
        "and", "or", "but", "plus", "with", "without", "as", "under", "over", "including",
        "excluding", "emphasizing", "emphasising", "focusing", "then", "also",
    ]
)  # fmt: skip
"""Words that open a request or a condition added to a sentence ("and delete my account",
"as a poem", "with citations", "under a tight budget")."""
_ASIDE_MARKS = frozenset(",;\u2014")
_FILLERS = frozenset(
    ["please", "pls", "thanks", "thank", "you", "exactly", "actually", "really", "again", "now",
     "ok", "okay"]
)  # fmt: skip


def additions_agree(new: str, stored: str) -> bool:
    """No request or condition added at one place on one side only (see the module)."""
    first, second = list(WORD.finditer(new)), list(WORD.finditer(stored))
    changes = [
        change
        for change in difflib.SequenceMatcher(
            None, [m.group().lower() for m in first], [m.group().lower() for m in second], False
        ).get_opcodes()
        if change[0] != "equal"
    ]
    if len(changes) != 1 or changes[0][0] not in ("insert", "delete"):
        return True
    kind, start, end, other_start, other_end = changes[0]
    text, found, at, to = (
        (stored, second, other_start, other_end) if kind == "insert" else (new, first, start, end)
    )
    added = [match.group().lower() for match in found[at:to]]
    if len(added) >= 2 and added[0] in JOINING_WORDS:
        return False
    if set(added) <= _FILLERS:
        return True
    gap = text[found[at - 1].end() : found[at].start()] if at > 0 else ""
    # set off by a bracket ("(rhyming)"), or by a comma and two words or more ("...,
    # emphasizing leadership"; one word after a comma is a connective: ", hence")
    return "(" not in gap and not (_ASIDE_MARKS & set(gap) and len(added) >= 2)
