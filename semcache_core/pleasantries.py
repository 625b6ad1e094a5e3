"""Greetings, thanks and sign-offs around a question: what a chat user adds that asks
nothing.

"Hi! How do I reset my password? Thanks." asks what "How do I reset my password?" asks,
and "Good morning. Is the gym open? Cheers." what "Is the gym open? Thank you." asks; the
hit rule (:func:`semcache_core.hit_rule.query_verdict`) would otherwise read a greeting
one side adds as a sentence only one side asks, and refuse, and the greeting would pull
the embedding away from the question. :func:`without_pleasantries` takes them off a
one-line text:

- at the start, up to four greetings and openers ("Hi!", "Hello,", "Hey there.", "Good
  morning.", "Quick question:"), each followed by ``!``, ``.``, ``,``, ``:`` or ``;``;
- at the end, up to four thanks and sign-offs ("Thanks!", "Thank you so much.",
  "Cheers.", "Best regards"), each after a sentence's end (``?``, ``.``, ``!``); a thanks
  also where it starts a new sentence with its capital and ends with ``!`` or ``.``
  ("sort a list Thanks!").

Nothing is taken where it may be part of what is asked:

- a text of several lines (an email to proofread, a transcript, code);
- a text about words, tone or a message itself: one that quotes (with ``"``, a backtick
  or an opening single quote), translates, spells, defines, counts letters or sentences,
  classifies, rewrites or summarises, asks about a sign-off or a greeting, or about
  "that" ("Is that gender-neutral?", "Can I open an email like that?");
- a pleasantry after a label's colon ("Reply: Thanks!");
- a greeting followed by a name or title ("Good morning, Vietnam!"), "Hello, world";
- a thanks with no sentence end before it, after a word that takes it as its object
  ("end an email with Thanks!") or a name, or in capitals ("Play Dido Thank You.");
- a text that is nothing but pleasantries ("Good morning. Thanks!" and "Hi!" want
  different replies).

Greetings that name a time of day are pleasantries too, but two texts greeting at
different times ("Good morning! What should I eat now?" / "Good evening! ..."), or one of
them asking about now ("Good morning! Is the bakery still open?" / "Is the bakery still
open?"), do not ask the same: :func:`times_apart` says so, and the hit rule refuses them
(:func:`compared_texts` gives what it compares).
Requests for speed ("Please answer quickly.", "Urgent!") are not pleasantries: they may
be what is asked (the priority of a ticket) or change the answer.

Example::

    >>> without_pleasantries("Hi! Quick question: how do I reset my password? Thanks!")
    'how do I reset my password?'
    >>> without_pleasantries("Hello, Why can't I log in? Cheers.")
    "Why can't I log in?"
    >>> without_pleasantries("Translate to French: Thank you.")
    'Translate to French: Thank you.'
    >>> without_pleasantries("Thanks!")
    'Thanks!'
    >>> times_apart("Good morning! Too late for coffee?", "Good evening! Too late for coffee?")
    True
"""

from __future__ import annotations

import re

__all__ = ["compared_texts", "times_apart", "without_pleasantries"]

_TIME_OF_DAY = r"good\s+(morning|afternoon|evening|day|night)"
_GREETING = (
    rf"(?:(?-i:hi|Hi)|hello|hey|hiya|howdy|greetings|{_TIME_OF_DAY})"  # "HI": Hawaii
    # possessive blanks: a run of them splits one way only (backtracking through every
    # split of 8,000 spaces took 2 s)
    r"(?:[^\S\n]*+,?[^\S\n]*+(?:there|all|everyone|everybody|team|folks|guys)\b)?"
)
_OPENER = (
    r"(?:(?:a\s+)?quick\s+(?:question|q)|(?:one\s+more\s+|another\s+)?question"
    r"|i\s+have\s+a\s+(?:quick\s+)?question|sorry\s+to\s+bother(?:\s+you)?)"
)
_THANKS = (
    r"(?:(?:many\s+)?thanks(?:\s+(?:a\s+lot|so\s+much|very\s+much|in\s+advance))?"
    r"|thank\s+you(?:\s+(?:so\s+much|very\s+much|in\s+advance))?|thx)"
)
_CLOSER = (
    rf"(?:{_THANKS}|cheers|much\s+appreciated|(?:i\s+)?appreciate\s+it"
    r"|(?:best|kind|warm)\s+regards)"
)
# a greeting then its punctuation (matched from a position: no \A), and only before a
# word ("Hi! 👋 How..." keeps its emoji, which the other side lacks)
_LEADING = re.compile(
    rf"[^\S\n]*(?:{_GREETING}|{_OPENER})[^\S\n]*[!.,:;]+[^\S\n]+(?=[\w¿¡(])", re.IGNORECASE
)
# a capitalised word and its punctuation after a greeting: a name or a title ("Good
# morning, Vietnam!", "Hi, Émile!"), unless it greets too ("Hi! Hello! How do I...")
_ADDRESSED = re.compile(r"(\w+)[!.,]")
# after a sentence's end ("...password? Thanks!")
_AFTER_END = re.compile(rf"(?<=[.?!])[^\S\n]+{_CLOSER}[!.]*[^\S\n]*\Z", re.IGNORECASE)
# a thanks starting a new sentence, its capital right after a word, and ending with "!"
# or "." ("sort a list Thanks!"; "the sitcom Cheers." is a title)
_NEW_SENTENCE = re.compile(
    rf"(?<!\w)(\w+)[^\S\n]+(?=(?-i:[A-Z]))({_THANKS})[^\S\n]*[!.]+[^\S\n]*\Z", re.IGNORECASE
)
# words that take a sign-off as their object: "end it with Thanks!", "sign off Cheers."
_TAKES_OBJECT = frozenset(
    {"with", "to", "in", "of", "by", "for", "as", "the", "a", "an", "like", "say", "says",
     "said", "called", "named", "titled", "off", "is", "was", "be", "sang", "sing", "sings",
     "song", "songs"}
)  # fmt: skip
_HELLO_WORLD = re.compile(r"\A\s*hello\W+world\b", re.IGNORECASE)
# the text may be about words, a message or its tone: nothing in it is a pleasantry then
_ABOUT_WORDS = re.compile(
    r"\b(?:translat\w*|say|says|saying|said|spell\w*|pronounc\w*|repeat\w*|mean|means"
    r"|meaning|stand\s+for|abbreviat\w*|acronym\w*|defin\w*|synonym\w*|antonym\w*|word"
    r"|words|phrase\w*|expression\w*|slang|greet|greets|greeted|greeting|salutation\w*"
    r"|polite\w*|rude|formal|informal|casual|tone|sentiment"
    r"|sarcas\w*|sign(?:ing)?[- ]?offs?|(?:opening|closing)\s+lines?|classif\w*"
    r"|categori[sz]\w*|proofread\w*|rewrite|rewrit\w*|rephras\w*|paraphras\w*"
    r"|summari[sz]\w*|convert\w*|turn\s+(?:this|it|that)|count|counts|counting"
    r"|characters?|letters?|vowels?|sentences?|the\s+following|below|above|output|print"
    r"|prints|printed|echo|repl(?:y|ies|ied)|respond\w*|equivalent|in\s+kind"
    r"|(?:my|this|your)\s+(?:opening|closing|ending)|(?:first|last)\s+(?:word|line)s?"
    r"|english|french|german|spanish|italian|portuguese|dutch|russian|japanese|chinese"
    r"|mandarin|cantonese|korean|arabic|hindi|latin|greek|turkish|polish|swedish)\b"
    r"|\bthis\s*[?.!]|\b(?:(?:is|does|was|would|will)\s+(?:that|this)|like\s+(?:that|this)"
    r"|that\s+way)\b"
    '|["`\u201c\u201d\u00ab\u00bb\u2018]',
    re.IGNORECASE,
)
_TIME = re.compile(rf"\b{_TIME_OF_DAY}\b", re.IGNORECASE)
_NOW = re.compile(
    r"\b(?:now|tonight|still|late|later|early|earlier|currently|until|till|ago"
    r"|at\s+the\s+moment"
    r"|this\s+(?:morning|afternoon|evening))\b",
    re.IGNORECASE,
)
_ONLY = re.compile(rf"(?:{_GREETING}|{_OPENER}|{_CLOSER})[!.,:;]*", re.IGNORECASE)
_WORD = re.compile(r"\w")
_MOST = 4  # pleasantries taken off each end at most (each is a search): a longer run keeps
# the rest, and a text that keeps one is compared with it


def without_pleasantries(text: str) -> str:
    """``text`` less the greetings at its start and the thanks and sign-offs at its end
    (see the module's notes); ``text`` itself when nothing would be left, or where they
    may be part of what is asked.

    Example::

        >>> without_pleasantries("Good morning, everyone! Is the gym open? Cheers.")
        'Is the gym open?'
        >>> without_pleasantries("Good morning, Vietnam! Who starred in it?")  # a title
        'Good morning, Vietnam! Who starred in it?'
    """
    return _split(text)[1]


def _split(text: str) -> tuple[str, str]:
    """The greetings ``text`` opens with, and ``text`` less its pleasantries."""
    if len(text.splitlines()) > 1 or _ABOUT_WORDS.search(text) or _HELLO_WORLD.match(text):
        return "", text
    opened = 0
    for _ in range(_MOST):
        match = _LEADING.match(text, opened)
        if match is None or _addressed(text, match.end()):
            break
        opened = match.end()
    kept = text[opened:]
    for _ in range(_MOST):
        match = _AFTER_END.search(kept)
        if match is None:
            match = _NEW_SENTENCE.search(kept)
            if match is None or _takes_it(match.group(1), match.group(2)):
                break
            kept = kept[: match.end(1)]
        else:
            kept = kept[: match.start()]
    if kept == text or not _WORD.search(kept) or _ONLY.fullmatch(kept.strip()):
        return "", text  # nothing else asked: "Good morning. Thanks!" wants its own reply
    return text[:opened], kept.strip()


def _addressed(text: str, at: int) -> bool:
    """Whether the greeting ending at ``at`` greets someone by name, or names a title."""
    named = _ADDRESSED.match(text, at)
    return named is not None and named.group(1)[0].isupper() and _LEADING.match(text, at) is None


def _takes_it(before: str, thanks: str) -> bool:
    """Whether a thanks with no sentence end before it may be what is asked: after a word
    that takes an object ("end it with Thanks!") or a name ("Led Zeppelin Thank You."),
    or itself in capitals ("Play Dido Thank You.", "Lucasfilm THX.")."""
    return (
        before.lower() in _TAKES_OBJECT
        or before[0].isupper()
        or thanks.isupper()
        or any(word[0].isupper() for word in thanks.split()[1:])
    )


def times_apart(first: str, second: str) -> bool:
    """Whether the texts open with greetings of other times of day ("Good morning!" /
    "Good evening!"), or only one names a time and the question is about now ("Good
    morning! Is the bakery still open?" / "Is the bakery still open?"): whatever else
    they share, they may not ask the same (what to eat now, whether it is too late for
    coffee).

    Example::

        >>> times_apart("Good morning! Is it too late?", "Good morning! Is it too late?")
        False
        >>> times_apart("Good morning! How do I reset my password?", "How do I reset it?")
        False
    """
    return _apart(_split(first), _split(second))


def compared_texts(first: str, second: str) -> tuple[str, str] | None:
    """The two texts as the hit rule compares them, each less its pleasantries; ``None``
    where they greet at other times (:func:`times_apart`).

    Example::

        >>> compared_texts("Hi! Is the gym open? Thanks.", "Is the gym open?")
        ('Is the gym open?', 'Is the gym open?')
    """
    one, other = _split(first), _split(second)
    return None if _apart(one, other) else (one[1], other[1])


def _apart(one: tuple[str, str], other: tuple[str, str]) -> bool:
    times = []
    for opened, _ in (one, other):
        found = _TIME.search(opened)
        times.append(None if found is None else found.group(1).lower())
    if times[0] == times[1]:
        return False
    return None not in times or any(_NOW.search(kept) for _, kept in (one, other))
