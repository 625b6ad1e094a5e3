"""The capitals guard of :mod:`semcache_core.guards`: a word in capitals is another word
than the same letters with other capitals ("CO" is carbon monoxide, "Co" cobalt; "SI"
the units, "Si" silicon).

Sentence models such as all-MiniLM-L6-v2 are uncased: "What is Co in chemistry?" and
"What is CO in chemistry?" embed to the same vector, and a hunt through LlamaIndex
(``SemCacheLLM``) was served one's answer for the other, as for "Si / SI" and "Mg / MG".
A side typed in one case (no capitals, or no lower-case letters: "what is co", "WHAT IS
CO") says nothing by its capitals, nor does a word in lower case: "How do I find my ip
address?" asks what "...my IP address?" asks, though "What does IT / it mean in a job
ad?" is then served one answer (an ambiguity a writer in lower case leaves open).

Example::

    >>> capitals_agree("What is Co in chemistry?", "What is CO in chemistry?")
    False
    >>> capitals_agree("How do I find my IP address?", "How do I find my ip address?")
    True
"""

from __future__ import annotations

from .guard_text import WORD

__all__ = ["capitals_agree"]


def capitals_agree(new: str, stored: str) -> bool:
    """No word written in capitals (two or more: "CO", "SI", "MG") on one side whose
    letters the other writes with other capitals ("Co", "Si", "Mg"), where both sides mix
    capitals and lower-case letters. One in lower case passes: "ip" and "pid" are how
    many type "IP" and "PID"."""
    if not (_mixed_case(new) and _mixed_case(stored)):
        return True
    first, second = _spellings(new), _spellings(stored)
    for folded in first.keys() & second.keys():
        differ = first[folded] ^ second[folded]  # spellings on one side only
        if any(_capitals(word) for word in differ) and all(not w.islower() for w in differ):
            return False
    return True


def _mixed_case(text: str) -> bool:
    return any(char.isupper() for char in text) and any(char.islower() for char in text)


def _spellings(text: str) -> dict[str, set[str]]:
    """Each word's spellings in ``text``, by its case-folded form."""
    found: dict[str, set[str]] = {}
    for word in WORD.findall(text):
        found.setdefault(word.casefold(), set()).add(word)
    return found


def _capitals(word: str) -> bool:
    return sum(char.isupper() for char in word) >= 2
