"""The person guard of :mod:`semcache_core.guards`: "my" and "your" ask about different
people, unless "you" is anyone.

"What is my IP address?" / "What is your IP address?" score 0.92 with all-MiniLM-L6-v2,
"Can you see my screen?" / "Can I see your screen?" 0.97. Yet "How do I reset my
password?" / "How do you reset your password?" is one question: a "you" that follows "do",
a modal, "if" or "when" is anyone (a generic subject), as is an "I" there. Only the whole
sentence's persons turn so: "How do I update my / your phone number?" and "Can you reset
my / your password?" ask about someone else.

Example::

    >>> persons_agree("What is my IP address?", "What is your IP address?")
    False
    >>> persons_agree("Can you see my screen?", "Can I see your screen?")
    False
    >>> persons_agree("How do I reset my password?", "How do you reset your password?")
    True
    >>> persons_agree("How do I update my phone number?", "How do I update your phone number?")
    False
"""

from __future__ import annotations

import itertools
import re

from .guard_text import WORD, span_words

__all__ = ["persons_agree"]

_FIRST = frozenset(["i", "me", "my", "mine", "myself", "i'm", "i've", "i'd", "i'll"])
_SECOND = frozenset(
    ["you", "your", "yours", "yourself", "yourselves", "you're", "you've", "you'd", "you'll"]
)
_SUBJECTS = frozenset(
    ["i", "you", "i'm", "you're", "i've", "you've", "i'd", "you'd", "i'll", "you'll"]
)
# words after which "I" or "you" is anyone asking: "how do you...", "can I...", "if you..."
_GENERIC_AFTER = frozenset(
    [
        "do", "does", "did", "can", "could", "should", "would", "will", "shall", "must",
        "may", "might", "if", "when", "whenever", "once", "unless", "until", "before", "after",
        "can't", "cant", "don't", "dont", "doesn't", "doesnt", "didn't", "didnt", "won't",
        "wont", "shouldn't", "shouldnt", "couldn't", "couldnt", "wouldn't", "wouldnt",
        "how", "where", "what", "why", "so", "and", "but", "then", "now",
    ]
)  # fmt: skip
_POSSESSIVES = frozenset(["my", "your"])
# words after which "my" or "your" is someone's own: "What is my IP address?", "What's
# your favourite book?" ("crack my knuckles", "does your body need" are anyone's)
_OWNED_AFTER = frozenset(
    [
        "is", "are", "was", "were", "am", "be", "what's", "whats", "who's", "where's",
        "how's", "that's", "it's", "about",
    ]
)  # fmt: skip
_CLAUSE_END = re.compile(r"[.!?,;:\n]+")
_COURTESY = re.compile(r"\bthank\s+you\b", re.IGNORECASE)  # names nobody asked about


def persons_agree(new: str, stored: str) -> bool:
    """The same people asked about: "I" on one side and "you" on the other agree only
    where each is the one asking or anyone (each side's first person word an "I" or
    "you" opening a clause or after "do", a modal, "if" or "when", a "me", or a "my" /
    "your" not after "is" or "about": "I'd like to upload a photo" / "Could you explain
    how to upload a photo?", "How do I change my email?" / "How to change your email?");
    where each side names both, not swapped ("Can you help me?" / "Can I help you?" do
    not agree)."""
    # one apostrophe for the word lists ("I\u2019m" is "I'm"), and no "thank you"
    new, stored = (_COURTESY.sub(" ", side).replace("\u2019", "'") for side in (new, stored))
    if _partly_turned(span_words(new), span_words(stored)):
        return False  # "How do I update my / your phone number?"
    new_persons, stored_persons = _persons(new), _persons(stored)
    if new_persons == stored_persons:
        return True
    new_people, stored_people = set(new_persons), set(stored_persons)
    if new_people == stored_people == {1, 2}:
        # the persons swapped ("Can you see my screen?" / "Can I see your screen?"), not
        # only named again ("Can you write me a poem?" / "I want you to write me a poem")
        return new_persons != [3 - person for person in stored_persons]
    if new_people in ({1}, {2}) and stored_people in ({1}, {2}) and new_people != stored_people:
        return _generic(new) and _generic(stored)
    return True


def _partly_turned(new: tuple[str, ...], stored: tuple[str, ...]) -> bool:
    """Whether the two word lists differ only in person words turned to the other person
    ("my" / "your"), word for word, while another person word stays as it was ("How do
    I update my / your...?", "Can you reset my / your...?", "Tell me about myself /
    yourself"); not where the turned ones all follow a "how" that asks how anyone does a
    thing and the kept ones all precede it ("Can you tell me how to reset my / your
    password?", "Tell me how I / you reset my / your router")."""
    if len(new) != len(stored) or new == stored:
        return False
    turned: list[int] = []
    kept: list[int] = []
    for position, (one, other) in enumerate(zip(new, stored)):
        person = _person(one)
        if one == other:
            if person:
                kept.append(position)
        elif person == 0 or _person(other) != 3 - person:
            return False
        else:
            turned.append(position)
    if not turned or not kept:
        return False
    return not any(
        kept[-1] < at < turned[0] and _asks_anyone(new, at, turned) for at in range(len(new))
    )


def _asks_anyone(words: tuple[str, ...], at: int, turned: list[int]) -> bool:
    """Whether ``words[at]`` is a "how" asking how anyone does a thing: "how to", "how
    I / you" (a person word turned), or either one word later ("how often I", "how best
    to")."""
    following = enumerate(words[at + 1 : at + 3], at + 1)
    return words[at] == "how" and any(word == "to" or p in turned for p, word in following)


def _person(word: str) -> int:
    """1 for a word naming the first person, 2 for the second, 0 for neither."""
    return 1 if word in _FIRST else 2 if word in _SECOND else 0


def _persons(span: str) -> list[int]:
    """The persons named in order, 1 for "I" and 2 for "you", repeats folded ("you ...
    your ... me": [2, 1])."""
    found = [_person(word) for word in span_words(span) if _person(word)]
    return [person for person, _ in itertools.groupby(found)]


def _generic(span: str) -> bool:
    """Whether the span's first person word is the one asking, or anyone: an "I" or
    "you" that opens a clause ("I'd like to...") or follows "do", a modal or "if" ("how
    do you...", "can I...", "if you..."), a "me", or a "my" / "your" that does not follow
    "is" or "about" ("crack my knuckles", "how much water does your body need")."""
    for clause in _CLAUSE_END.split(span):
        previous = ""
        for word in WORD.findall(clause):  # not span_words: its cache keeps the two spans
            word = word.lower()
            if word in _FIRST or word in _SECOND:
                if word == "me":
                    return True
                if word in _POSSESSIVES:
                    return previous not in _OWNED_AFTER
                return word in _SUBJECTS and (not previous or previous in _GENERIC_AFTER)
            previous = word
    return False
