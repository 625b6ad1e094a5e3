"""The future against the present, a rule of :func:`semcache_core.guards.opposites_agree`
(and where a question asks with its auxiliary, which its past and present poles read, and
a past obligation against the past event: :func:`obligation_against_event`):
"Who is the CEO of Twitter?" and "Who will be the CEO of Twitter?" score 0.96 with
all-MiniLM-L6-v2, and ask about two people.

Only where the tense is all that differs: the same words once "will" (or "shall", "'ll",
"going to", "gonna") and "be" are set against "is" / "are" / "am" (or "'s", "'re", "'m"),
a verb of something going on in "-ing" after those standing for the same verb after
"will" ("Who is winning the election?" / "Who will win the election?", "Is it raining?" /
"Is it going to rain?"; not what is arranged: "Are you shipping to Canada?" is "Will you
ship...?", nor "When is it arriving?"), and "next" on the future's side ("Who will be the
next CEO?"). A question worded otherwise besides ("How much is shipping?" / "How much will
shipping cost?") is left to the rest of the rule, as are those where the tense rarely
matters: a condition ("What will happen if I skip a dose?"), an amount or a time of day
("How long is the flight?", "What time is the meeting?"). The caller leaves out pairs
where a date says when ("Is the museum open on Monday?" / "Will it be open this
Monday?").

Example::

    >>> future_against_present("Who is the CEO of Twitter?", "Who will be the CEO of Twitter?")
    True
    >>> future_against_present("Is the museum open?", "Is the museum going to be open?")
    True
    >>> future_against_present("Is the Fed cutting rates?", "Will the Fed cut rates?")
    True
    >>> future_against_present("How much is shipping?", "How much will shipping cost?")
    False
"""

from __future__ import annotations

import re
from collections import Counter

from .guard_text import span_words, spelt_out
from .guard_words import DETERMINER_PATTERN

__all__ = [
    "ASKING_AT",
    "NEGATED",
    "PARTICIPLE",
    "PRESENT_ASKED",
    "WH_WORD",
    "future_against_present",
    "obligation_against_event",
]

# where a question asks with its auxiliary (the past and present poles of
# guards.opposites_agree): at a sentence's start, after a question word opening it and
# at most three more words that open no clause ("What kind of music did...?"), or after
# a question word and at most one more ("How do I..., when my card was stolen?" asks
# nothing with "was")
WH_WORD = r"\b(?:who|what|when|where|why|how|which)"
_CLAUSE = (
    r"(?:if|when|whenever|because|since|after|before|that|who|which|where|while|unless|"
    r"until|once)"
)
ASKING_AT = (
    rf"(?:(?:^|(?<=[.!?;:,\n]))\s*(?:{WH_WORD}(?:\s+(?!{_CLAUSE}\b)\w+){{0,3}}?\s+)?|"
    rf"{WH_WORD}(?:\s+\w+)?\s+)"
)
NEGATED = r"(?:n['\u2019]t)?"  # "didn't", "doesn't": the auxiliary all the same
# a past participle, after "has" / "have" / "had" opening a question ("Has AI replaced
# programmers?"; not "Have you got a table?", "Which has more caffeine?", "What has to
# happen?")
PARTICIPLE = (
    r"(?:\w+ed|been|done|gone|seen|made|won|lost|left|taken|given|become|begun|come|run|"
    r"sold|bought|paid|found|built|known|shown|grown|written|spoken|broken|chosen|eaten|"
    r"fallen|driven|risen|stolen|sent|spent|kept|held|told|heard|met|put|set|cut|hit|shut)\b"
)
# "do" / "does" asking, opposite "pastasked"'s "did" ("When does / did the store open?"):
# apart from the guards' phrase poles, whose matches would take its words
PRESENT_ASKED = re.compile(rf"{ASKING_AT}(?:do|does){NEGATED}\b", re.IGNORECASE)

_FUTURE = frozenset(["will", "shall"])
_PRESENT = frozenset(["is", "are", "am"])
_TENSE = _FUTURE | _PRESENT | {"be"}
_FUTURE_ONLY = frozenset(["next"])  # "Who will be the next CEO?" / "Who is the CEO?"
# verbs whose "-ing" says what goes on now ("Is it raining?"), not what is arranged
# ("Are you shipping to Canada?" is "Will you ship to Canada?")
_GOING_ON = frozenset(
    [
        "rain", "snow", "hail", "storm", "win", "lead", "trail", "rise", "fall", "climb",
        "grow", "shrink", "weaken", "strengthen", "crash", "work", "run", "overheat", "sleep",
        "live", "happen", "die", "heal", "burn", "melt", "leak", "erupt", "cut",
    ]
)  # fmt: skip
# "going to" or "gonna" before a verb (not "going to the gym") is "will", and the "is" /
# "are" / "am" it leans on goes with it
_GOING_TO = re.compile(
    r"\b(?:is|are|am)\b(?P<subject>(?:\s+\w+){0,3}?)\s+(?:going\s+to|gonna)\b"
    rf"(?=\s+(?!(?:{DETERMINER_PATTERN})\b)[^\W\d_])",
    re.IGNORECASE,
)
_EXEMPT = re.compile(
    r"\b(?:if|unless|how\s+(?:much|long|far|many|soon|often)|what\s+time)\b|\w\s+when\b",
    re.IGNORECASE,
)


def future_against_present(new: str, stored: str) -> bool:
    """Whether one span asks in the future and the other in the present, with the same
    words otherwise (see the module docstring for what is left out)."""
    if _EXEMPT.search(new) or _EXEMPT.search(stored):
        return False
    one, other = _words(new), _words(stored)
    tenses = [_tense(one), _tense(other)]
    if None in tenses or tenses[0] == tenses[1]:
        return False
    future, present = (one, other) if tenses[0] == "future" else (other, one)
    in_future = _rest(future) - Counter(_FUTURE_ONLY)
    in_present = _rest(present)
    if in_future == in_present:
        return True
    # one verb: "-ing" on the present's side, bare on the future's ("winning" / "win"),
    # but not asking when: "When is my order arriving?" is "When will it arrive?"
    added, dropped = in_present - in_future, in_future - in_present
    if sum(added.values()) != 1 or sum(dropped.values()) != 1 or "when" in in_present:
        return False
    verb = next(iter(dropped))
    return verb in _GOING_ON and next(iter(added)) in _ing_forms(verb)


def _words(span: str) -> list[str]:
    """The span's words, contractions spelt out ("who's" -> "who is", "it'll" -> "it
    will"; a possessive "'s" kept), "is ... going to" read as "... will"."""
    span = spelt_out(span)
    return list(span_words(_GOING_TO.sub(lambda match: f"{match.group('subject')} will", span)))


def _ing_forms(verb: str) -> set[str]:
    """The "-ing" forms ``verb`` may take: "rain" -> "raining", "make" -> "making", "cut"
    -> "cutting", "die" -> "dying"."""
    forms = {f"{verb}ing", f"{verb}{verb[-1:]}ing"}
    if verb.endswith("ie"):
        forms.add(f"{verb[:-2]}ying")
    elif verb.endswith("e"):
        forms.add(f"{verb[:-1]}ing")
    return forms


def _tense(words: list[str]) -> str | None:
    """``"future"`` or ``"present"`` where the words hold one of them only."""
    future, present = bool(_FUTURE.intersection(words)), bool(_PRESENT.intersection(words))
    return "future" if future and not present else "present" if present and not future else None


def _rest(words: list[str]) -> Counter[str]:
    return Counter(word for word in words if word not in _TENSE)


def obligation_against_event(new: Counter[str], stored: Counter[str]) -> bool:
    """Whether both ask about the past, one whether something had to (or needed to) be
    done and the other whether it was ("Did I have to pay?" / "Did I pay?"), given the
    counts of :func:`semcache_core.guards.opposites_agree`'s poles, the other side holding
    no word of an obligation ("Did I need a visa?", "Were they forced to...?", "Was ID
    required?"). In the present the two are often one question ("Do I have to pay at the
    counter?" / "Do I pay at the counter?") and are left alone."""
    if not (new["pastasked"] and stored["pastasked"]):
        return False
    obliged = [bool(side["haveto"] + side["needto"]) for side in (new, stored)]
    if obliged[0] == obliged[1]:
        return False
    plain = stored if obliged[0] else new  # worded otherwise? ("Were they forced to...?")
    return not any(plain[word] for word in _OBLIGATION_WORDS)


_OBLIGATION_WORDS = frozenset(
    [
        "need", "needs", "needed", "supposed", "forced", "required", "obliged", "obligated",
        "mandatory", "compulsory", "must", "should", "ought",
    ]
)  # fmt: skip
