"""Guards: cheap checks a semantic hit must also pass, on what differs between two prompts.

Sentence embeddings barely see the words that flip an answer: "Is the museum open on
Monday?" and "...closed on Monday?" score 0.94 with all-MiniLM-L6-v2, "What is 15% of 80?"
and "25% of 80?" 0.82, "Is this safe for children?" and "...not safe...?" 0.99. A guard
looks at the two differing spans (see :func:`semcache_core.prompt_diff.differing_spans`:
the new prompt's and the cached one's, less what they share) and says whether the cached
answer may be served; every guard must agree. A guard is any callable
``guard(new, stored) -> bool``.

The built-in guards (:data:`DEFAULT_GUARDS`, on by default in every LLM cache):

- :func:`in_english` (:mod:`semcache_core.guard_language`): both spans read as English,
  the language the others read; a prompt in another language or script is served exact
  hits only ("Welche Lebensmittel darf man (nicht) essen?", "オーストリア / オーストラリア");
- :func:`numbers_agree`: the same numbers, in digits or in words, in the same order;
- :func:`units_agree` (:mod:`semcache_core.guard_units`): the same units and
  currencies ("5 mg" / "5 g", "per hour" / "per minute", "in Celsius" / "in Fahrenheit");
- :func:`dates_agree`: the same month and weekday names and relative days, and not
  "ago" against "from now";
- :func:`negation_agrees`: as many negations ("not", "can't", "never", "without"...)
  on each side, and no word negated by a prefix on one side only ("safe" / "unsafe");
- :func:`names_agree`: every capitalised name on one side is on the other
  ("Ireland" / "Iceland", "Celsius" / "Fahrenheit");
- :func:`capitals_agree` (:mod:`semcache_core.guard_capitals`): a word in capitals is
  not the same letters with other capitals ("CO" / "Co", "SI" / "Si") where both sides
  mix cases (one in lower case passes: "IP" / "ip");
- :func:`identifiers_agree`: the same code identifiers, flags, paths and quoted strings,
  in the same order (``--max-cost`` / ``--max-heads``, ``fetchOrder`` / ``fetchOrders``);
- :func:`order_agrees`: not the same words in another order, and no direction reversed
  ("Celsius to Fahrenheit" / "Fahrenheit into Celsius", "int to string" / "a string to
  an int");
- :func:`roles_agree`: the doer and the done-to not swapped by the passive or by asking
  about the object ("How does stress affect sleep?" / "How is stress affected by
  sleep?", "Who killed Caesar?" / "Who did Caesar kill?");
- :func:`particles_agree` (:mod:`semcache_core.guard_particles`): no particle that makes
  another verb on one side only ("shut my laptop down" / "shut my laptop");
- :func:`question_words_agree`: no two different who/when/where/why questions, nor why
  against how, nor one question word for another where it is all that differs ("How did
  Marie Curie die?" / "When did..."), nor how many against which;
- :func:`persons_agree`: "my" / "your" asked about the same people ("What is my IP
  address?" / "What is your IP address?"; a "you" after "do" or "if" is anyone);
- :func:`opposites_agree`: no word on one side whose opposite is on the other only
  ("before" / "after", "enable" / "disable", "cheapest" / "most expensive", "kitten" /
  "cat"; "will be" / "is" where the tense is all that differs and no date says when), and
  a stage of life on both sides or neither ("a baby bird" / "a bird");
- :func:`kinds_agree`: no two kinds of one closed class swapped ("checking account" /
  "credit card", "by plane" / "by bus", "dogs" / "cats");
- :func:`qualifiers_agree`: a scope ("abroad", "domestic") or a "too" ("too old") on
  both sides or neither;
- :func:`additions_agree` (:mod:`semcache_core.guard_additions`): no request or
  condition added to the same sentence on one side only ("How do I reset my password
  (and delete my account)?", "Summarize the plot of Hamlet (as a poem).").

They err on the side of a miss: a paraphrase that trips one ("I forgot my password" /
"I can't remember my password") costs one LLM call, a wrong answer costs trust.

Example::

    >>> from semcache_core.guards import DEFAULT_GUARDS, passes
    >>> passes(DEFAULT_GUARDS, "Is the museum open on Monday?", "Is the museum open Mondays?")
    True
    >>> passes(DEFAULT_GUARDS, "Is the museum open on Monday?", "Is it closed on Monday?")
    False
    >>> custom = (*DEFAULT_GUARDS, lambda new, stored: ("refund" in new) == ("refund" in stored))
"""

from __future__ import annotations

import inspect
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .errors import InvalidArgumentError, shown
from .guard_additions import additions_agree
from .guard_capitals import capitals_agree
from .guard_kinds import kinds_agree
from .guard_language import in_english
from .guard_life import life_stages_agree
from .guard_order import order_agrees
from .guard_particles import particles_agree
from .guard_persons import persons_agree
from .guard_questions import question_words_agree
from .guard_roles import roles_agree
from .guard_tense import (
    ASKING_AT,
    NEGATED,
    PARTICIPLE,
    PRESENT_ASKED,
    WH_WORD,
    future_against_present,
    obligation_against_event,
)
from .guard_text import WORD, span_words, stem
from .guard_units import units_agree
from .guard_words import (
    CONTRACTED,
    CONTRASTING_PREFIXES,
    DATE_WORDS,
    DETERMINER_PATTERN,
    LOOKING_BACK,
    NEGATING_PREFIXES,
    NEGATIONS,
    NUMBER_WORDS,
    OPPOSITES,
    RELATIVE_DATE,
    RELATIVE_DAY,
    RELATIVE_SHIFT,
    SCOPES,
    TIME_WINDOW,
    TOO_AS_ALSO_BEFORE,
    is_superlative,
)
from .prompt_diff import numbers_at

__all__ = [
    "DEFAULT_GUARDS",
    "Guard",
    "additions_agree",
    "capitals_agree",
    "check_guards",
    "dates_agree",
    "identifiers_agree",
    "in_english",
    "kinds_agree",
    "names_agree",
    "negation_agrees",
    "numbers_agree",
    "opposites_agree",
    "order_agrees",
    "particles_agree",
    "passes",
    "persons_agree",
    "qualifiers_agree",
    "question_words_agree",
    "roles_agree",
    "units_agree",
]

Guard = Callable[[str, str], bool]
"""``guard(new, stored) -> bool``: whether the cached answer of ``stored`` may be served
for ``new`` (both are the differing spans of the two prompts' query texts)."""

_PRONOUN_I = frozenset(["I", "I'm", "I\u2019m", "I've", "I'd", "I'll"])
# Skipped back from a capitalised word to see whether it starts a sentence, a line or a
# label's value (where any word is capitalised), and what ends the one before.
_BEFORE_SENTENCE = " \t\"'(\u201c\u2018*\u2022-"
_SENTENCE_END = ".!?\u2026:;\n\r"
# Quoted or backticked text: what a user wants treated literally.
_QUOTED = re.compile(
    r"`([^`]+)`|\"([^\"]+)\"|\u201c([^\u201d]+)\u201d|(?<!\w)'([^']+)'(?!\w)|\u2018([^\u2019]+)\u2019"
)
# Prose punctuation around a token (as prompt_diff.tokens strips it).
_OPENING = "\"'\u201c\u2018\u00ab(["
_CLOSING = ".,;:?!\"'\u201d\u2019\u00bb)]"
# What makes a token code rather than prose: an inner "_", ".", "/", ":", "=", "#", "@",
# "$", "\\", "(" or "<"; a leading "-" or "--" before a letter (a flag); a capital after a
# lower-case letter (camelCase); letters and digits mixed; an inner "-" beside a capital
# or a digit ("TS-BLK-L", "gpt-4o").
_CODE_CHAR = re.compile(r"\w[_./:=#@$\\(<]\w|_|^--?[A-Za-z]|[a-z][A-Z]|[A-Za-z]\d|\d[A-Za-z]")
_CODE_HYPHEN = re.compile(r"\w-\w")
# A symbol prose does not use ("%s", "@staticmethod", "==", "C++", "C#", "a|b"), in a
# token that is not an amount ("$20", "15%", "£3.50").
_CODE_SYMBOL = re.compile(r"[%@#&*=<>|~^\\+]")
_AMOUNT = re.compile(r"[-+]?[$\u20ac\u00a3\u00a5]?[\d.,]+%?")
_UPPER_OR_DIGIT = re.compile(r"[A-Z0-9]")


# "second" is a rank before a superlative ("the second largest", "second-most common");
# alone it is a unit or "another" ("wait a second", "a second opinion", "a second test")
_SECOND = re.compile(r"\bsecond[\s-]+(\w+)", re.IGNORECASE)


def numbers_agree(new: str, stored: str) -> bool:
    """The same numbers in the same order ("Is 7 greater than 3?" is not "Is 3 greater
    than 7?"), in digits (``"15%"``, ``"3.11"``, ``"2024-05-01"``, ``"-40"``) or in words,
    each word as its value ("two times" matches "twice", "5 years" matches "five years",
    "10 divided by two" is not "2 divided by ten")."""
    return _numbers_in_order(new) == _numbers_in_order(stored)


def _numbers_in_order(span: str) -> list[str]:
    """The numbers of ``span`` in order, those in words as their value in digits ("second"
    only as a rank: before a superlative)."""
    found = numbers_at(span)
    for match in WORD.finditer(span):
        value = NUMBER_WORDS.get(match.group().lower())
        if value is not None:
            found.append((match.start(), value))
    for match in _SECOND.finditer(span):
        if is_superlative(match.group(1).lower()):
            found.append((match.start(), "2"))
    return [value for _, value in sorted(found)]


def dates_agree(new: str, stored: str) -> bool:
    """The same month and weekday names (any case, abbreviations included) and relative
    days ("today", "tomorrow", "next week"); not "ago" on one side only where the other
    says "from now" only (a side that says neither passes: "How long ago did ..." / "When
    did ..."); and not inside a stretch of time on one side only where the other is past
    it only ("within 24 hours" / "after 24 hours", "up to 30 days" / "beyond 30 days")."""
    if _dates(new) != _dates(stored):
        return False
    for sides in (_shifts, _windows):
        only_new, only_stored = _one_sided(sides(new), sides(stored))
        if only_new and only_stored:
            return False
    return True


def _windows(span: str) -> set[str]:
    """Which sides of a stretch of time or a limit the span asks about: "inside" ("within
    24 hours", "up to 30 days"), "outside" ("after 24 hours", "beyond the warranty
    period")."""
    return {"inside" if m.group("inside") else "outside" for m in TIME_WINDOW.finditer(span)}


def _dates(span: str) -> list[str]:
    found = []
    for word in span_words(span):  # "today's", "todays": "today"
        form = next((f for f in (word, stem(word, False), stem(word)) if f in DATE_WORDS), None)
        if form is not None:
            found.append(DATE_WORDS[form])
    for pattern in (RELATIVE_DATE, RELATIVE_DAY):
        found += [
            _PAST.sub("last", " ".join(m.group().lower().split())) for m in pattern.finditer(span)
        ]
    return sorted(found)


def _shifts(span: str) -> set[str]:
    """Which ways from now the span's stretches of time run: "ago", "from now"."""
    back = LOOKING_BACK.search(span) is not None  # "has gone up in 5 years": a stretch
    return {
        "ago" if m.group("past") else "from now"
        for m in RELATIVE_SHIFT.finditer(span)
        if not (back and m.group("within"))
    }


_PAST = re.compile(r"^(?:past|previous)\b")  # "past Friday", "previous Friday": "last Friday"


def negation_agrees(new: str, stored: str) -> bool:
    """As many negations on each side ("not", "no", "never", "without", "can't", ...), and
    no word on one side that is a word of the other with a negating prefix ("unsafe" /
    "safe", "disadvantages" / "advantages", "illegal" / "legal")."""
    new_words, stored_words = span_words(new), span_words(stored)
    new_count = _negations(new_words) + len(_FREE_OF.findall(new))
    if new_count != _negations(stored_words) + len(_FREE_OF.findall(stored)):
        return False
    only_new, only_stored = _one_sided(new_words, stored_words)
    return not (_prefix_negated(only_new, only_stored) or _prefix_negated(only_stored, only_new))


def _negations(words: Sequence[str]) -> int:
    return sum(word in NEGATIONS or word.endswith(("n't", "n\u2019t")) for word in words)


_FREE_OF = re.compile(r"\w-free\b", re.IGNORECASE)  # "gluten-free": without gluten


def _one_sided(first: Iterable[str], second: Iterable[str]) -> tuple[set[str], set[str]]:
    """The words of each side that the other side lacks."""
    a, b = set(first), set(second)
    return a - b, b - a


def _prefix_negated(words: set[str], others: set[str]) -> bool:
    """A word of ``words`` that is a word of ``others`` with a negating prefix ("unsafe" /
    "safe") or with "less" after it ("eggless" / "eggs", "sugarless" / "sugar")."""
    for word in words:
        for prefix in NEGATING_PREFIXES:
            stem = word[len(prefix) :].lstrip("-")
            if word.startswith(prefix) and len(stem) >= 3 and stem in others:
                return True
        stem = word[: -len("less")].rstrip("-")
        if word.endswith("less") and len(stem) >= 3 and others & {stem, stem + "s", stem + "es"}:
            return True
    return False


def names_agree(new: str, stored: str) -> bool:
    """Every capitalised word that is not a sentence's first (a name: "Ireland", "Celsius",
    "NYC") on either side is on the other too, as many times, in any case and number
    ("france" matches "France", "Monday's" matches "Mondays"); and sentences opening with
    an owner on both sides open with the same ones ("Nigeria's capital..." / "Niger's")."""
    owners, stored_owners = _opening_owners(new), _opening_owners(stored)
    if owners and stored_owners and owners != stored_owners:
        return False
    new_counts = Counter(map(_name_key, WORD.findall(new)))
    stored_counts = Counter(map(_name_key, WORD.findall(stored)))
    names = _names(new) | _names(stored)
    return all(new_counts[name] == stored_counts[name] for name in names)


def _names(span: str) -> set[str]:
    found = set()
    for match in WORD.finditer(span):  # the words the other side is searched for
        word = match.group()
        if not word[0].isupper() or word in _PRONOUN_I:
            continue
        if _starts_sentence(span, match.start()):
            continue
        found.add(_name_key(word))
    return found


def _opening_owners(span: str) -> set[str]:
    """The capitalised possessives that open a sentence ("Nigeria's capital is..."), not
    contractions ("What's", "It's")."""
    return {
        _name_key(match.group())
        for match in WORD.finditer(span)
        if match.group()[0].isupper()
        and (owner := stem(match.group(), plural=False)) != match.group()
        and owner.lower() not in CONTRACTED
        and _starts_sentence(span, match.start())
    }


def _name_key(word: str) -> str:
    """How a word counts as a name: lower case, less a possessive or plural ending, except
    an acronym's final S, which is its own letter (HTTP / HTTPS; but "APIs" is "api")."""
    return stem(word.lower(), plural=not word.isupper())


def _starts_sentence(span: str, position: int) -> bool:
    before = position - 1
    while before >= 0 and span[before] in _BEFORE_SENTENCE:
        before -= 1
    return before < 0 or span[before] in _SENTENCE_END


def identifiers_agree(new: str, stored: str) -> bool:
    """The same code identifiers, flags and paths (``get_user_by_id``, ``--force``,
    ``numpy.argmax``, ``fetchOrders``, ``TS-BLK-L``) and the same quoted or backticked
    strings, in the same order: one character apart is another thing."""
    return _identifiers(new) == _identifiers(stored)


def _identifiers(span: str) -> list[str]:
    found = [next(group for group in match.groups() if group) for match in _QUOTED.finditer(span)]
    for token in span.split():
        token = token.lstrip(_OPENING).rstrip(_CLOSING).strip("`")
        if token and _is_code(token):
            found.append(token)
    return found


def _is_code(token: str) -> bool:
    if _CODE_CHAR.search(token):
        return True
    if _CODE_SYMBOL.search(token) and not _AMOUNT.fullmatch(token):
        return True
    return bool(_CODE_HYPHEN.search(token) and _UPPER_OR_DIGIT.search(token))


def qualifiers_agree(new: str, stored: str) -> bool:
    """Both sides or neither name each scope (:data:`~semcache_core.guard_words.SCOPES`:
    "abroad", "out of the country"; "domestic", "within the country"), and "too" qualifies
    the same words on both ("too old" / "too young", "too much" / none; "too" as "also"
    does not count): each changes what is asked."""
    if any(bool(scope.search(new)) != bool(scope.search(stored)) for scope in SCOPES):
        return False
    return _too(new) == _too(stored)


def _too(span: str) -> list[str]:
    """The words "too" qualifies ("too old", "too much"), sorted; not "too" as "also"
    ("me too", "cash too if...")."""
    return sorted(
        m.group(1).lower()
        for m in _TOO.finditer(span)
        if m.group(1).lower() not in TOO_AS_ALSO_BEFORE
    )


# a verb of motion with "up" or "down", an object between or not: a rise or a drop
_MOTION = re.compile(
    r"\b(?:go|goes|going|gone|went|push|pushes|pushing|pushed|drive|drives|driving|drove|"
    r"driven|bring|brings|bringing|brought|shoot|shoots|shooting|shot)\s+(?:\w+\s+)?(up|down)\b",
    re.IGNORECASE,
)
_MOTION_WORD = {"up": "rises", "down": "drops"}
# phrases read as one word of a pole (the group's name):
# - an obligation or a need asked ("do I have to", "required to", "does my landlord need
#   to"; "I need to change my order" asks no question), permission ("allowed to"),
#   "in place of" as "instead";
# - a question about the past ("Did the Fed...?", "How much did...?", "Has AI
#   replaced...?"; "I was charged twice" asks none) and the future ("I'll", "going to"
#   before a verb, "gonna");
# - "even" as a number's ("Is 7 even?", "even numbers"; not "why does it even...");
# - a stance ("voted for", "argue against": "for" and "against" alone are too common)
#   and a work's author, subject or addressee ("songs by" / "songs about" / "letters to"
#   or "songs dedicated to": "by", "about" and "to" too), and who "whom" is ("by whom" /
#   "for whom"; not "with whom", which is often "to whom": "lodge a complaint with")
# pictures are "of" what they show ("photos of Ansel Adams" / "... by Ansel Adams")
_PICTURES = (
    r"photos?|photographs?|pictures?|pics|images?|portraits?|paintings?|drawings?|"
    r"sketch(?:es)?|sculptures?|statues?|selfies?|videos?|footage|murals?|prints|"
    r"cartoons?|carvings?|engravings?|illustrations?"
)
_PHRASE_POLE = re.compile(
    r"\b(?P<haveto>(?:do|does|did|will|would)\s+(?:\w+\s+){1,3}?have\s+to|"
    r"(?:required|obliged|obligated)\s+to|mandatory|compulsory)\b|"
    r"\b(?P<needto>(?:do|does|did|will|would)\s+(?:\w+\s+){1,3}?need\s+to)\b|"
    rf"(?P<pastasked>{ASKING_AT}(?:did|was|were){NEGATED}\b|"
    rf"(?:^|(?<=[.!?;:,\n])|{WH_WORD}(?:\s+\w+)?)\s*"
    r"\b(?:has|have|had)\s+(?:\w+\s+){0,3}?" + PARTICIPLE + r")|"
    r"(?P<evennum>(?<=\d\s)even\b|\beven(?=\s+(?:numbers?|integers?|or\s+odd)\b))|"
    r"\b(?P<can>(?:allowed|permitted|able|possible)\s+to)\b|\b(?P<instead>in\s+place\s+of)\b|"
    r"\b(?P<should>(?:recommended|advisable|advised|a\s+good\s+idea)\s+to)\b|"
    r"(?P<will>\b\w+['\u2019]ll\b|\bgonna\b|\bgoing\s+to\s+"
    rf"(?!(?:{DETERMINER_PATTERN}|this|that|these|those)\b)[^\W\d_]+)|"
    r"\b(?:vot|argu|testif|campaign|protest|lobb|rul|decid|fight|fought|case|evidence|"
    r"stand|stood|speak|spoke)\w*\s+(?:(?P<stancefor>for|in\s+favou?r\s+of)|"
    r"(?P<stanceagainst>against))\b|"
    r"\b(?:books?|songs?|poems?|movies?|films?|quotes?|paintings?|letters?|speech(?:es)?|"
    r"documentar(?:y|ies)|tweets?|podcasts?|biograph(?:y|ies)|articles?|essays?|novels?|"
    r"interviews?|writes?|wrote|written|made|directed)\s+"
    r"(?:(?P<workby>by)|(?P<workabout>about|on)|(?P<workto>to|with))\b|"
    r"\b(?:writes?|wrote|written|made)\s+(?P<workfor>for)\b|"
    # pictures are "by" their maker, not "sorted by date", and not "on Instagram" nor
    # "taken with my phone"
    r"\b(?:(?:" + _PICTURES + r")(?:\s+(?:taken|painted|drawn))?|painted)\s+(?P<pictureby>by)\b"
    r"(?!\s+(?:date|name|size|person|people|face|location|place|year|month|type|default)\b)|"
    r"\b(?:" + _PICTURES + r")(?:\s+(?:taken|painted|drawn|made))?\s+(?P<workof>of)\b|"
    r"\b(?:songs?|poems?|books?|letters?|novels?|albums?)\s+dedicated\s+(?P<workdedicated>to)\b|"
    r"\b(?:(?P<bywhom>by|from)|(?P<forwhom>for|to)|(?P<aboutwhom>about))\s+whom\b",
    re.IGNORECASE,
)
# a modal asking how or which, not whether ("How can I treat it?" is "How should I treat
# it?", "At what age can you rent a car?" is "What age do you have to be...?"), or asking
# for a service ("Can you tell me whether to tip?" is "Should I tip?")
_MODAL_ASKING_HOW = re.compile(
    r"\b(?:(?:how|what|which)(?:\s+\w+)?|where|when|who)\s+(can|could|should|may|might)\b"
    r"(?!['\u2019])|"  # not the "can" of "who can't": that word is "can't", not "can"
    r"\b(can|could|would|will)\s+you\s+(?:please\s+)?(?:tell|explain|check|recommend|help|"
    r"show|let|give|find|say|list|suggest|advise|describe|confirm|remind|look)\b",
    re.IGNORECASE,
)
_TOO = re.compile(r"\btoo\s+(\w+)", re.IGNORECASE)


def opposites_agree(new: str, stored: str) -> bool:
    """No pair of opposites swapped: one side holding more words of one pole and the other
    more words of the opposite pole ("open" / "closed", "before" / "after", "increase" /
    "lower", "small" / "large"; "safe or dangerous?" / "safe?" is not a swap); not the
    future against the present where that is all that differs and no date says when
    ("Who will be the CEO?" / "Who is the CEO?": :mod:`semcache_core.guard_tense`); and no
    stage of life named on one side only ("What should I feed a baby bird?" / "... a
    bird?")."""
    new_counts, stored_counts = Counter(span_words(new)), Counter(span_words(stored))
    if new_counts == stored_counts:
        return True
    for counts, span in ((new_counts, new), (stored_counts, stored)):  # "go up", "bring it down"
        counts.update(_MOTION_WORD[m.group(1).lower()] for m in _MOTION.finditer(span))
        for m in _PHRASE_POLE.finditer(span):
            counts[str(m.lastgroup)] += 1
            if m.lastgroup in ("haveto", "needto") and m.group().lower().startswith("did"):
                counts["pastasked"] += 1  # "Did / Do I need to...?": its tense asks too
        counts.update("presentasked" for _ in PRESENT_ASKED.finditer(span))
        counts.subtract(
            (m.group(1) or m.group(2)).lower() for m in _MODAL_ASKING_HOW.finditer(span)
        )
    new_counts, stored_counts = +new_counts, +stored_counts  # what the subtraction emptied
    only_new, only_stored = _one_sided(new_counts, stored_counts)
    if _prefix_swapped(only_new, only_stored):
        return False
    if not life_stages_agree(new, stored):
        return False  # "a baby bird" / "a bird"
    if not (_dates(new) or _dates(stored)) and future_against_present(new, stored):
        return False  # "Who will be the CEO?" / "Who is the CEO?"
    if obligation_against_event(new_counts, stored_counts):
        return False  # "Did I have to pay?" / "Did I pay?"
    return not any(_poles_swapped(new_counts, stored_counts, poles) for poles in OPPOSITES)


def _poles_swapped(
    new_counts: Counter[str], stored_counts: Counter[str], poles: Sequence[frozenset[str]]
) -> bool:
    """One side holding more words of one pole and the other more words of another."""
    gaps = [_pole_count(new_counts, pole) - _pole_count(stored_counts, pole) for pole in poles]
    return any(gap > 0 for gap in gaps) and any(gap < 0 for gap in gaps)


def _prefix_swapped(first: set[str], second: set[str]) -> bool:
    """A word of ``first`` and one of ``second`` that are one stem behind contrasting
    prefixes (:data:`~semcache_core.guard_words.CONTRASTING_PREFIXES`)."""
    for one, other in CONTRASTING_PREFIXES:
        for prefix, opposite in ((one, other), (other, one)):
            stems = {w[len(prefix) :] for w in first if w.startswith(prefix)}
            if any(len(stem) >= 3 and opposite + stem in second for stem in stems):
                return True
    return False


def _pole_count(counts: Counter[str], pole: frozenset[str]) -> int:
    return sum(counts[word] for word in pole if word in counts)


DEFAULT_GUARDS: tuple[Guard, ...] = (
    in_english,
    numbers_agree,
    units_agree,
    dates_agree,
    negation_agrees,
    names_agree,
    capitals_agree,
    identifiers_agree,
    order_agrees,
    roles_agree,
    particles_agree,
    question_words_agree,
    persons_agree,
    opposites_agree,
    kinds_agree,
    qualifiers_agree,
    additions_agree,
)
"""The guards every LLM cache runs unless given ``guards=``."""


def passes(guards: Iterable[Guard], new: str, stored: str) -> bool:
    """Whether every guard lets ``stored``'s answer be served for ``new``."""
    return all(guard(new, stored) for guard in guards)


def check_guards(guards: Any) -> tuple[Guard, ...]:
    """``guards`` as a tuple of callables (``None``: :data:`DEFAULT_GUARDS`).

    Raises:
        InvalidArgumentError: ``guards`` is not an iterable of callables (a single
            callable must be wrapped: ``guards=(my_guard,)`` or ``(*DEFAULT_GUARDS, g)``).
    """
    if guards is None:
        return DEFAULT_GUARDS
    if callable(guards) or isinstance(guards, (str, bytes)):
        raise InvalidArgumentError(
            "guards must be an iterable of callables, e.g. (*DEFAULT_GUARDS, my_guard); "
            f"got {type(guards).__name__}"
        )
    try:
        checked = tuple(guards)
    except TypeError:
        raise InvalidArgumentError(
            f"guards must be an iterable of callables, got {type(guards).__name__}"
        ) from None
    for position, guard in enumerate(checked):
        if not callable(guard) or not _takes_two(guard):
            raise InvalidArgumentError(
                f"guards[{position}] must be callable(new, stored) -> bool, got {shown(guard)}"
            )
    return checked


def _takes_two(guard: Callable[..., Any]) -> bool:
    """Whether ``guard`` can be called with two positional arguments (a callable whose
    signature Python cannot read is given the benefit of the doubt)."""
    try:
        inspect.signature(guard).bind("", "")
    except TypeError:
        return False
    except ValueError:
        return True
    return True
