"""Sentence marks: two spans with the same words must end their sentences alike (part of
the hit rule, :func:`semcache_core.hit_rule.query_verdict`, which the guards never see
such spans for).

Embeddings, and the built-in lexical one most of all, barely see punctuation: "Translate
to French: Yes." and "...: Yes?" score 0.96 and more, as do "The meeting is cancelled." (a
statement) and "The meeting is cancelled?" (a question), "Count the dots: ..." and
"...: .", and every prompt with no words at all ("?", "...", "???") looks like every
other. Where the words are the same, the marks are what was asked; one mark left off at
the very end ("How tall is it?" / "How tall is it") is forgiven.

Example::

    >>> marks_agree("How tall is it?", "how tall is it"), marks_agree("Really??", "Really?")
    (True, True)
    >>> marks_agree("Yes.", "Yes?"), marks_agree("???", "?"), marks_agree("?", "...")
    (False, False, False)
    >>> marks_agree("What is the capital of France.", "What is the capital of France?")
    True
    >>> marks_agree("Who wrote it?", "Who wrote that...")  # other words: not for this rule
    True
"""

from __future__ import annotations

import re

from .guard_text import span_words

__all__ = ["marks_agree"]

_MARKS = re.compile(r"[.!?\u2026]+")
"""A run of sentence marks: full stops, question and exclamation marks, ellipses."""
_REPEATED = re.compile(r"(.)\1+")
_FIRST_WORD = re.compile(r"\w+")
# Words that open a question whatever mark ends it.
_QUESTION_OPENERS = frozenset(
    {"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "is", "are"}
    | {"was", "were", "am", "do", "does", "did", "can", "could", "should", "would", "will"}
    | {"shall", "may", "might", "must", "have", "has", "had"}
)


def marks_agree(new: str, stored: str) -> bool:
    """Whether spans with the same words (any case) end their sentences alike: the same
    runs of sentence marks in the same order, a repeated mark ending a word counted once
    ("Really??" / "Really?", "Wait..." / "Wait."), and one final run missing on one side
    forgiven.
    Spans without any word must carry exactly the same runs: the marks are all they ask.
    Spans with other words pass (other guards, and the embedding, judge those)."""
    words = span_words(new)
    if words != span_words(stored):
        return True
    if not words:
        return _MARKS.findall(new) == _MARKS.findall(stored)
    first, second = _collapsed(new), _collapsed(stored)
    if first == second:
        return True
    shorter, longer = (first, second) if len(first) < len(second) else (second, first)
    return (
        longer[:-1] == shorter
        and _MARKS.search((new if longer is first else stored).rstrip()[-1:]) is not None
    )


def _collapsed(span: str) -> list[str]:
    """The span's runs, each repeated mark once where the run ends a word ("Really??",
    French "Vraiment ??"), and a full stop ending a sentence that opens with a question
    word taken for the question mark it stands for ("What is the capital of France.");
    a run after anything else ("Count them: ???") is text to keep as it is."""
    runs, start = [], 0
    for run in _MARKS.finditer(span):
        mark = run.group()
        if span[: run.start()].rstrip(" \t")[-1:].isalnum():  # "Really??", "Vraiment ??"
            mark = _REPEATED.sub(r"\1", mark.replace("\u2026", "."))
            opening = _FIRST_WORD.search(span, start, run.start())
            if mark == "." and opening and opening.group().lower() in _QUESTION_OPENERS:
                mark = "?"
        runs.append(mark)
        start = run.end()
    return runs
