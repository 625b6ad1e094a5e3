"""The role guard of :mod:`semcache_core.guards`: who does what to whom.

"How does stress affect sleep?" / "How is stress affected by sleep?" score 0.99 with
all-MiniLM-L6-v2, "Who killed Caesar?" / "Who did Caesar kill?" 0.98, "Can I track my
landlord's phone?" / "Can my landlord track my phone?" 0.98: the same words, the doer and
the one done to swapped, by the passive voice, by asking about the object, or by the
owner of the thing acted on becoming the one who acts.

Example::

    >>> roles_agree("How does stress affect sleep?", "How is stress affected by sleep?")
    False
    >>> roles_agree("How does sleep affect stress?", "How is stress affected by sleep?")
    True
    >>> roles_agree("Who killed Caesar?", "Who did Caesar kill?")
    False
    >>> roles_agree("Who did Kim marry?", "Who married Kim?")  # it takes two either way
    True
    >>> roles_agree("Can I track my landlord's phone?", "Can my landlord track my phone?")
    False
    >>> roles_agree("Who is the letter from?", "Who is the letter for?")
    False
    >>> roles_agree("Who was the letter meant for?", "Who was the letter addressed to?")
    True
    >>> roles_agree("Where is this wine from?", "Where is this wine?")
    False
    >>> roles_agree("Where are you going to?", "Where are you going?")
    True
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .guard_text import span_words, spelt_out, stem
from .guard_words import CONTRACTED, DATE_WORDS, DETERMINERS

__all__ = ["roles_agree"]

_BE = frozenset(["is", "are", "was", "were", "be", "been", "being", "am", "get", "gets", "got"])
_DO = frozenset(["do", "does", "did"])
_ASKING = frozenset(["who", "whom", "what", "which", "whose"])
_DETERMINERS = DETERMINERS | {"this", "that"}  # "Is this form signed by that manager?"
_NOT_VERBS = _BE | _DO | frozenset(["can", "could", "will", "would", "should", "must", "may"])
_IRREGULAR = {
    "written": "write", "wrote": "write", "taught": "teach", "made": "make", "built": "build",
    "bought": "buy", "held": "hold", "eaten": "eat", "ate": "eat", "bitten": "bite",
    "given": "give", "gave": "give", "taken": "take", "took": "take", "driven": "drive",
    "drove": "drive", "chosen": "choose", "chose": "choose", "known": "know", "knew": "know",
    "seen": "see", "saw": "see", "shot": "shoot", "beaten": "beat", "caught": "catch",
    "found": "find", "led": "lead", "won": "win", "sold": "sell", "told": "tell",
    "struck": "strike", "fed": "feed", "paid": "pay", "sent": "send", "brought": "bring",
    "thrown": "throw", "threw": "throw", "drawn": "draw", "drew": "draw", "stolen": "steal",
    "stole": "steal", "hidden": "hide", "hid": "hide", "sung": "sing", "sang": "sing",
    "forgiven": "forgive", "forgave": "forgive", "kept": "keep", "left": "leave",
    "met": "meet", "fought": "fight", "hurt": "hurt", "hit": "hit",
}  # fmt: skip
# verbs whose doer and done-to can swap and keep the answer ("Who did Kim marry?")
_SYMMETRIC = frozenset(
    ["marry", "date", "meet", "divorce", "border", "play", "fight", "face", "star", "see",
     "visit", "consult"]
)  # fmt: skip
_PARTNERING = frozenset(["with", "against", "alongside"])
_PRONOUNS = frozenset(["i", "you", "we", "he", "she", "they", "it", "me", "us", "them"])
_NOT_ACTING = _DETERMINERS | _NOT_VERBS | _PRONOUNS  # what the verb of "<verb> my X's" is not
_WH = frozenset(["who", "whom", "whose", "what", "which", "where", "when", "how"])
# a question's last word, a preposition left stranded, gives the asked word its role ("Who
# is the letter from?" / "... for?"); "to" and "for" both name a recipient ("meant for" /
# "addressed to")
_STRANDED = {
    "to": "to", "for": "to", "from": "from", "with": "with", "of": "of", "by": "by",
    "about": "about", "into": "into", "against": "against", "towards": "to", "toward": "to",
    "in": "in", "inside": "in", "on": "on", "onto": "on", "upon": "on", "at": "at",
    "through": "through", "like": "like", "as": "as", "under": "under", "over": "about",
}  # fmt: skip
# endings naming other roles: a source and a destination or recipient, an opponent and a
# partner, a topic and a partner ("made of / from", "talk to / speak with", "translated to /
# into" alternate freely)
_OPPOSED = frozenset(
    map(frozenset, [("from", "to"), ("from", "into"), ("against", "with"), ("against", "to"),
                    ("about", "with")])
)  # fmt: skip
# where nothing else differs, endings of two other kinds (see _STRANDED: "for" is a "to",
# "over" an "about") ask two things ("What is the book about / for?", "What did you cook
# the fish with / in?"); these alternate freely ("made of / from", "translated to /
# into", "put it in / into", "a story of / about", "taste like / of", "angry at / about",
# "work for / at", "bank with / at", "fly with / on", "suffer from / with")
_ALIKE = frozenset(
    map(frozenset, [("of", "from"), ("to", "into"), ("in", "into"), ("about", "of"),
                    ("like", "of"), ("at", "about"), ("at", "to"), ("with", "at"),
                    ("with", "on"), ("with", "from"), ("against", "from")])
)  # fmt: skip
# endings a question asking where, or what or which thing, may leave out and ask the same
# ("Where are you going (to)?", "What country do you live (in)?", "Which lands did he rule
# (over)?"); other endings, or these after a bare "what" or "who", say what is asked:
# "Where is this wine from?" / "Where is this wine?", "Who is it for?" / "Who is it?",
# "What did she invest in?" / "What did she invest?"
_LEFT_OUT_FREELY = frozenset(
    ["to", "towards", "toward", "into", "in", "inside", "on", "onto", "upon", "at", "over"]
)
_AUXILIARIES = _NOT_VERBS | {"has", "have", "had", "might", "shall"}
# but "from" after leaving names where it leaves ("Which gate does it leave / board
# (from)?"), and "for" after "how long" the time asked ("How long should it rise (for)?",
# "How many minutes should I boil it (for)?")
_LEAVING = frozenset(["leave", "leaves", "left", "leaving", "depart", "departs", "departed",
                      "departing", "board", "boards", "boarded", "boarding"])  # fmt: skip
_TIMES = frozenset(["seconds", "minutes", "hours", "days", "nights", "weeks", "months", "years",
                    "time"])  # fmt: skip


def roles_agree(new: str, stored: str) -> bool:
    """The doer and the done-to in the same roles: not "X affects Y" on one side and "X is
    affected by Y" on the other (the passive with the same verb and its doer after that
    verb on the active side), nor "Who did X kill?" against "Who killed X?" (a question
    about the object against one about the subject, with the same verb and X), nor
    "<verb> my X's thing" against "my X <verb> ..." (the owner of what is acted on is the
    doer on the other side), nor questions ending in other prepositions ("Who is the
    letter from?" / "... for?"), or one ending on a preposition the other leaves out
    where that asks another thing ("Where is this wine from?" / "Where is this wine?")."""
    new_words, stored_words = span_words(new), span_words(stored)
    if new_words == stored_words:
        return True
    if _strandings_oppose(new, stored):
        return False
    for one, other in ((new_words, stored_words), (stored_words, new_words)):
        if _passive_reversed(one, other) or _object_asked(one, other) or _owner_acts(one, other):
            return False
    return True


def _strandings_oppose(new: str, stored: str) -> bool:
    """Whether the questions end on prepositions naming other roles (see :data:`_OPPOSED`
    and :data:`_ALIKE`), or one ends on a preposition the other leaves out where that
    asks another thing (:func:`_ending_left_out`); the first question of a text, where it
    asks one ("Who is the letter from? I must thank them.")."""
    questions = [spelt_out(_question(text), every_s=True) for text in (new, stored)]
    one, other = (span_words(question) for question in questions)
    kinds = _stranded(one), _stranded(other)
    if kinds[0] is None or kinds[1] is None:
        return _ending_left_out(one, other, questions[0]) or _ending_left_out(
            other, one, questions[1]
        )
    if kinds[0] == kinds[1]:
        return False
    pair = frozenset(kinds)
    return pair in _OPPOSED or (pair not in _ALIKE and one[:-1] == other[:-1])


def _ending_left_out(ending: tuple[str, ...], without: tuple[str, ...], question: str) -> bool:
    """Whether ``without`` is the question ``ending`` (the words of ``question``) less the
    preposition it ends on, and that preposition says what is asked (see
    :data:`_LEFT_OUT_FREELY`)."""
    if ending[:-1] != without or _stranded(ending) is None:
        return False
    last = ending[-1]
    if (last == "from" and ending[-2] in _LEAVING) or (last == "for" and _asks_how_long(ending)):
        return False
    return last not in _LEFT_OUT_FREELY or not _asks_where_or_which(_asking_clause(question))


def _asks_how_long(words: tuple[str, ...]) -> bool:
    """Whether the question asks "how long", or "how many" / "how much" of a measure of
    time ("how many minutes")."""
    for i in range(len(words) - 1):
        if words[i] == "how" and (
            words[i + 1] == "long"
            or (words[i + 1] in ("many", "much") and not _TIMES.isdisjoint(words[i + 2 : i + 4]))
        ):
            return True
    return False


def _asking_clause(question: str) -> tuple[str, ...]:
    """The words of the question's last clause that holds a question word ("When the
    market crashed, what did she invest in" asks "what"), or of all of it."""
    for clause in reversed(re.split(r"[,;:]", question)):
        words = span_words(clause)
        if not _WH.isdisjoint(words):
            return words
    return span_words(question)


def _asks_where_or_which(words: tuple[str, ...]) -> bool:
    """Whether a question asks where or when, or what or which thing ("What city...?",
    "Which hotel...?"; not a bare "What did...?", nor "What else...?")."""
    at = next(i for i, word in enumerate(words) if word in _WH)
    asked, after = words[at], words[at + 1 : at + 2]
    if asked in ("where", "when"):
        return True
    return (
        asked in ("what", "which", "whose")
        and bool(after)
        and after[0] not in _AUXILIARIES | {"else"}
    )


def _question(text: str) -> str:
    """``text`` up to its first question mark (all of it without one)."""
    return text.split("?", 1)[0]


def _stranded(words: tuple[str, ...]) -> str | None:
    """The preposition a question ends on (its kind: see :data:`_STRANDED`), if any."""
    if len(words) > 1 and words[-1] in _STRANDED and not _WH.isdisjoint(words[:-1]):
        return _STRANDED[words[-1]]
    return None


def _passive_reversed(passive: tuple[str, ...], active: tuple[str, ...]) -> bool:
    """``passive`` says "... <be> <verb>ed by <doer>", ``active`` has no passive, and in
    ``active`` the same verb comes before the doer (which is then its object); or
    ``passive`` ends in "by" ("What is sleep affected by?") and the one done to comes
    before the verb in ``active`` ("What does sleep affect?")."""
    found = _passive(passive)
    if found is None or _passive(active) is not None:
        return False
    verb, doer, stranded = found
    at_verb = next((i for i, word in enumerate(active) if _same_verb(word, verb)), None)
    if at_verb is None or _symmetric(verb) or _partnered(active, at_verb):
        return False
    at = next((i for i, word in enumerate(active) if stem(word) == doer), None)
    if at is None:
        return False
    if stranded:  # ``doer`` is the one done to: the subject of the active verb swaps it
        return at < at_verb
    # "by phone", "by my phone": a means on both sides, not a doer
    return at > at_verb and "by" not in active[max(0, at - 2) : at]


def _passive(words: tuple[str, ...]) -> tuple[str, str, bool] | None:
    """(verb, doer, False) of the first "<be> ... <participle> by <doer>" in ``words``, or
    (verb, the one done to, True) of "<be> <it> <participle> by" ending them."""
    be_at = None
    for i, word in enumerate(words):
        if word in _BE:
            be_at = i if be_at is None else be_at
        if word != "by" or be_at is None or i < 2 or not _participle(words[i - 1]):
            continue
        if i + 1 == len(words):  # stranded: "Who was Caesar killed by?"
            done_to = next((w for w in words[be_at + 1 : i - 1] if w not in _DETERMINERS), None)
            return None if done_to is None else (words[i - 1], stem(done_to), True)
        doer = next((w for w in words[i + 1 :] if w not in _DETERMINERS), None)
        if doer is not None and not doer.isdigit() and doer not in DATE_WORDS:
            return words[i - 1], stem(doer), False
    return None


def _object_asked(asked: tuple[str, ...], other: tuple[str, ...]) -> bool:
    """``asked`` is "Who [noun] did X <verb> ...?" and ``other`` "Who [noun] <verb>ed X
    ...?" with the same verb and X after it."""
    if len(asked) < 4 or len(other) < 3 or asked[0] not in _ASKING or other[0] not in _ASKING:
        return False
    at_do = 1 if asked[1] in _DO else 2 if asked[2] in _DO else None
    if at_do is None:
        return False
    # the other side's verb: right after the question word, or after its noun
    at_verb = 1 if at_do == 1 else 2
    if at_verb >= len(other) or other[at_verb] in _NOT_VERBS:
        return False
    verb = other[at_verb]
    rest = [word for word in asked[at_do + 1 :] if word not in _DETERMINERS]
    at = next((i for i, word in enumerate(rest) if i and _same_verb(word, verb)), None)
    if at is None or _symmetric(verb) or _partnered(rest, at):
        return False
    doers = {stem(word) for word in rest[:at]}
    return doers <= {stem(word) for word in other[at_verb + 1 :]}


def _owner_acts(owned: tuple[str, ...], acting: tuple[str, ...]) -> bool:
    """``owned`` has "<verb> [my] X's ..." and ``acting`` "X [one or two words] <verb>",
    the same verb ("can I track my landlord's phone" / "can my landlord track my phone";
    "what if I hit my ex's car" / "what if my ex hits my car"): X owns what is acted on
    in one and acts in the other. X as an owner on both sides ("Can my doctor's notes be
    read by me?") is no swap; a plural owner ("my parents' phone") is not read."""
    places: dict[str, list[int]] = {}  # each word's places in ``acting``, found once
    for place, other in enumerate(acting):
        places.setdefault(other, []).append(place)
    for at, word in enumerate(owned):
        if not word.endswith(("'s", "\u2019s")) or at == 0:
            continue
        owner = stem(word)
        if owner in CONTRACTED or owner in _PRONOUNS or owner in _ASKING:
            continue  # "what's" is "what is", not an owner
        verbs = [w for w in owned[max(0, at - 3) : at] if w not in _NOT_ACTING]
        for place in places.get(owner, ()):
            after = acting[place + 1 : place + 4]
            if any(_same_verb(w, verb) for w in after for verb in verbs if w not in _NOT_VERBS):
                return True
    return False


def _partnered(words: Sequence[str], at_verb: int) -> bool:
    """Whether the verb at ``at_verb`` takes a partner, not an object ("work with",
    "compete against", "check with"): "Who did Lennon work with?" / "Who worked with
    Lennon?" ask one thing."""
    return at_verb + 1 < len(words) and words[at_verb + 1] in _PARTNERING


def _symmetric(verb: str) -> bool:
    return any(_same_verb(verb, symmetric) for symmetric in _SYMMETRIC)


def _participle(word: str) -> bool:
    return (word.endswith("ed") and len(word) > 4) or word in _IRREGULAR


def _root(word: str) -> str:
    """A verb less its ending ("affected", "affects" -> "affect"; "married" -> "marry")."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    for ending, replacement in (("ied", "y"), ("ies", "y"), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)] + replacement
    return word


def _same_verb(word: str, other: str) -> bool:
    """One verb inflected two ways ("affect" / "affected", "cause" / "caused", "kill" /
    "killed"; a root a prefix of the other: "caus" of "cause", "stop" of "stopp")."""
    first, second = _root(word), _root(other)
    if first == second:
        return True
    short, long = sorted((first, second), key=len)
    return len(short) >= 3 and long.startswith(short) and len(long) - len(short) <= 1
