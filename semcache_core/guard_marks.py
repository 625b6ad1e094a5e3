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

__all__ = ["marks_agree"]

_MARKS = re.compile(r"[.!?\u2026]+")
"""A run of sentence marks: full stops, question and exclamation marks, ellipses."""
_TOKEN = re.compile(rf"{WORD.pattern}|{_MARKS.pattern}")
_REPEATED = re.compile(r"(.)\1+")
_QUESTION_WORDS = frozenset(
    {"what", "whats", "which", "who", "whom", "whose", "when", "where", "why", "how"}
)
# Words that make a question when they open the sentence.
_AUXILIARIES = frozenset(
    {"is", "are", "was", "were", "am", "do", "does", "did", "can", "could", "should"}
    | {"would", "will", "shall", "may", "might", "must", "have", "has", "had"}
    | {"isn't", "aren't", "wasn't", "weren't", "don't", "doesn't", "didn't", "can't"}
    | {"couldn't", "shouldn't", "wouldn't", "won't", "haven't", "hasn't", "hadn't"}
)

Mark = tuple[int, str]
"""A run of marks: how many words come before it, and the run (see :func:`_marks`)."""


def marks_agree(new: str, stored: str) -> bool:
    """Whether spans with the same words (any case) end their sentences alike: the same
    runs of sentence marks after the same words (see the module for what is forgiven).
    Spans without any word must carry exactly the same runs: the marks are all they ask.
    Spans with other words pass (other guards, and the embedding, judge those)."""
    words = span_words(new)
    if words != span_words(stored):
        return True
    if not words:
        return _MARKS.findall(new) == _MARKS.findall(stored)
    first, second = _marks(new), _marks(stored)
    if first == second:
        return True
    shorter, longer = (first, second) if len(first) < len(second) else (second, first)
    return longer[:-1] == shorter and longer[-1][0] == len(words)  # a last mark left off


def _marks(span: str) -> list[Mark]:
    """Each run of marks with the number of words before it. A run ending a word is read
    for what it says: a repeated mark once ("Really??", French "Vraiment ??"), and a full
    stop ending a question as the question mark it stands for; a run after anything else
    ("Count them: ???") is text to keep as it is."""
    marks: list[Mark] = []
    sentence: list[str] = []  # the words since the last run
    count = 0
    for token in _TOKEN.finditer(span):
        text = token.group()
        if not _MARKS.fullmatch(text):
            sentence.append(text.lower())
            count += 1
            continue
        if span[: token.start()].rstrip(" \t")[-1:].isalnum():  # it ends a word
            text = _REPEATED.sub(r"\1", text.replace("\u2026", "."))
            if text == "." and _asks(sentence):
                text = "?"
        marks.append((count, text))
        sentence = []
    return marks


def _asks(sentence: list[str]) -> bool:
    """Whether a sentence's words ask a question whatever mark ends it."""
    return bool(sentence) and (
        sentence[0] in _AUXILIARIES or any(word in _QUESTION_WORDS for word in sentence)
    )
