"""Sentence marks: two spans with the same words must end their sentences alike (part of
the hit rule, :func:`semcache_core.hit_rule.query_verdict`, which the guards never see
such spans for).

Embeddings, and the built-in lexical one most of all, barely see punctuation: "Translate
to French: Yes." and "...: Yes?" score 0.96 and more, as do "The meeting is cancelled." (a
statement) and "The meeting is cancelled?" (a question), "Count the dots: ..." and
"...: .", and every prompt with no words at all ("?", "...", "???") looks like every
other. Where the words are the same, the marks (and the words they follow) are what was
asked. Forgiven: one mark left off at the very end ("How tall is it?" / "How tall is
it"), a mark repeated ("Really??"), and a full stop ending a sentence that asks anyway
("So, what is the capital of France.": a question word in it, or an auxiliary opening it).

Example::

    >>> marks_agree("How tall is it?", "how tall is it"), marks_agree("Really??", "Really?")
    (True, True)
    >>> marks_agree("Yes.", "Yes?"), marks_agree("???", "?"), marks_agree("?", "...")
    (False, False, False)
    >>> marks_agree("So, what is the capital of France.", "So, what is the capital of France?")
    True
    >>> marks_agree("No, it is cancelled?", "No? It is cancelled")  # the mark moved
    False
    >>> marks_agree("Who wrote it?", "Who wrote that...")  # other words: not for this rule
    True
"""

from __future__ import annotations

import re

from .guard_text import WORD, span_words

__all__ = ["marks_agree", "marks_asked_about"]

# A text that asks about its punctuation or its spacing, or holds code: there the marks
# and the spaces are what is asked ("Add the missing commas: ...", "Count the spaces in:
# a  b  c", "Is this valid JSON: [1, 2, 3]").
_ABOUT_PUNCTUATION = re.compile(
    r"\b(?:punctuat\w*|commas?|semicolons?|colons?|apostrophes?|hyphens?|dash(?:es)?|"
    r"full\s+stops?|quotation\s+marks?|splices?|parenthes[ie]s|brackets?|grammar|"
    r"grammatical(?:ly)?|proofread\w*|json|sql|python|javascript|regex|code|syntax)\b",
    re.IGNORECASE,
)
_ABOUT_SPACING = re.compile(
    r"\b(?:spaces?|spacing|whitespace|characters?|typos?|indent\w*|tabs?)\b", re.IGNORECASE
)
_CODE_MARKS = re.compile(r"[()\[\]{}<>=;]")
_ENDING = ".!?\u2026 \t\n"

_MARKS = re.compile(r"[.!?\u2026]+")
"""A run of sentence marks: full stops, question and exclamation marks, ellipses."""
_TOKEN = re.compile(rf"{WORD.pattern}|{_MARKS.pattern}|[,;:]")
_REPEATED = re.compile(r"(.)\1+")
# Words that make a question when they open a sentence or a clause ("So, what is...").
_QUESTION_WORDS = frozenset(
    {"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "whats"}
    | {"what's", "who's", "where's", "when's", "why's", "how's"}
)
# Auxiliaries that make a question when they open a clause before its subject ("Is the
# museum open.", "Isn't it cold."; not "Don't go.").
_AUXILIARIES = frozenset(
    {"is", "are", "was", "were", "am", "do", "does", "did", "can", "could", "should"}
    | {"would", "will", "shall", "may", "might", "must", "have", "has", "had"}
    | {"isn't", "aren't", "wasn't", "weren't", "don't", "doesn't", "didn't", "can't"}
    | {"couldn't", "shouldn't", "wouldn't", "won't", "haven't", "hasn't", "hadn't"}
)
_SUBJECTS = frozenset(
    {"i", "you", "he", "she", "we", "they", "it", "there", "this", "that", "these", "those"}
    | {"the", "a", "an", "my", "your", "his", "her", "our", "their", "anyone", "someone"}
)

Mark = tuple[int, str]
"""A run of marks: how many words come before it, and the run (see :func:`_marks`)."""


def marks_agree(new: str, stored: str) -> bool:
    """Whether spans with the same words (any case) ask alike: question marks after the
    same words, and the same mark ending them (see the module for what is forgiven).
    Spans without any word must carry exactly the same runs: the marks are all they ask.
    Spans with other words pass (other guards, and the embedding, judge those)."""
    words = span_words(new)
    if words != span_words(stored):
        return True
    if not words:
        return _MARKS.findall(new) == _MARKS.findall(stored)
    first, second = _marks(new), _marks(stored)
    first_end, second_end = _ending(first, len(words)), _ending(second, len(words))
    if (first_end is None) != (second_end is None):  # one mark left off at the very end
        first, second = (first[:-1], second) if second_end is None else (first, second[:-1])
        first_end = second_end = None
    return first_end == second_end and _questions(first) == _questions(second)


def _ending(marks: list[Mark], words: int) -> str | None:
    """The run ending the span, if one does."""
    return marks[-1][1] if marks and marks[-1][0] == words else None


def _questions(marks: list[Mark]) -> list[int]:
    """Where the span asks: the words before each question mark (other marks inside a
    span, "Hi! How are you?" / "Hi, how are you?", "I think... maybe", are prose)."""
    return [words for words, run in marks if "?" in run]


def _marks(span: str) -> list[Mark]:
    """Each run of marks with the number of words before it. A run ending a word is read
    for what it says: a repeated mark once ("Really??", French "Vraiment ??"), and a full
    stop ending a question as the question mark it stands for; a run after anything else
    ("Count them: ???") is text to keep as it is."""
    marks: list[Mark] = []
    openings: list[list[str]] = [[]]  # the words of each clause of the current sentence
    count = 0
    for token in _TOKEN.finditer(span):
        text = token.group()
        if text in ",;:":
            openings.append([])
            continue
        if not _MARKS.fullmatch(text):
            openings[-1].append(text.lower().replace("\u2019", "'"))
            count += 1
            continue
        if span[: token.start()].rstrip(" \t")[-1:].isalnum():  # it ends a word
            text = _REPEATED.sub(r"\1", text.replace("\u2026", "."))
            if text == "." and any(_asks(clause) for clause in openings):
                text = "?"
        marks.append((count, text))
        openings = [[]]
    return marks


def _asks(clause: list[str]) -> bool:
    """Whether a clause's words ask, whatever mark ends its sentence: it opens with a
    question word, or with an auxiliary before its subject."""
    return bool(clause) and (
        clause[0] in _QUESTION_WORDS
        or (clause[0] in _AUXILIARIES and len(clause) > 1 and clause[1] in _SUBJECTS)
    )


def marks_asked_about(texts: tuple[str, str], new: str, stored: str) -> bool:
    """Whether two spans with the same words (``new`` and ``stored``, of the two
    ``texts``) differ in punctuation inside a text that asks about punctuation or holds
    code (a bracket, a brace, "=", ";" in a span, or "JSON", "SQL", "Python", "code"... in
    a text), or in spacing inside one that asks about spacing: then the marks are the
    question ("Add the missing commas: Woman without her man is nothing.",
    "print(1, 2)" / "print(1 2)", "Count the spaces in: a b c" / "a  b  c"). How a
    sentence ends is :func:`marks_agree`'s to judge.

    Example::

        >>> texts = ("What does this print: print(1, 2)", "What does this print: print(1 2)")
        >>> marks_asked_about(texts, "print(1, 2)", "print(1 2)")
        True
        >>> texts = ("How do I boil an egg, quickly?", "How do I boil an egg quickly")
        >>> marks_asked_about(texts, *texts)
        False
    """
    new_spaced, stored_spaced = " ".join(new.split()), " ".join(stored.split())
    if new_spaced != stored_spaced:
        if new_spaced.rstrip(_ENDING) == stored_spaced.rstrip(_ENDING):
            return False  # only the ending differs
        return any(_ABOUT_PUNCTUATION.search(text) for text in texts) or any(
            _CODE_MARKS.search(span) for span in (new, stored)
        )
    return new != stored and any(_ABOUT_SPACING.search(text) for text in texts)
