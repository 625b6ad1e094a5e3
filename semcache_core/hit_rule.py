"""The text side of a semantic hit: whether a cached prompt's query text may answer a new one.

The search proposes candidates by embedding; :func:`query_verdict` then looks at what the two
query texts do not share (:func:`~semcache_core.prompt_diff.differing_sentences`) and decides,
or hands the two differing spans back for their own embeddings to decide. The LLM caches
(:mod:`semcache_core.responses`) and calibration (:mod:`semcache_core.calibration`) judge by
this one rule.

Example::

    >>> query_verdict("Is the museum open on Monday?", "Is the museum closed on Monday?")
    False
    >>> query_verdict("How tall is the Eiffel Tower?", "How tall is the Eiffel Tower")
    True
"""

from __future__ import annotations

from collections.abc import Iterable

from .guard_marks import marks_agree, marks_asked_about
from .guards import Guard, check_guards, passes
from .pleasantries import compared_texts
from .prompt_diff import (
    asked_before,
    asks_after,
    context_changed,
    differing_sentences,
    is_trivial,
    line_layout,
    tokens,
    words,
)
from .word_swaps import swapped_words

__all__ = ["MAX_COMPARED", "checked_verdict", "query_verdict", "same_question"]

MAX_COMPARED = 2000
"""The longest differing span (characters) compared by meaning; a longer one is a miss:
two prompts that differ in that much text are seldom one question, and the guards, which
read every word, took over a second on 64,000 characters."""


def query_verdict(
    query: str, stored: str, guards: Iterable[Guard] | None = None
) -> bool | tuple[str, str]:
    """Whether a candidate above the threshold, whose query text is ``stored``, may be
    served for the new query text ``query``, or the two differing spans (new, stored) whose
    embeddings decide it (:func:`semcache_core.calibrate` scores pairs by this rule too).

    - greetings, thanks and sign-offs at either end of a text
      (:func:`~semcache_core.pleasantries.without_pleasantries`) are not compared: "Hi!
      Is the gym open? Thanks." asks what "Is the gym open?" asks; but greetings at other
      times of day ("Good morning!" / "Good evening!"), or at one where the question is
      about now, are a no (:func:`~semcache_core.pleasantries.times_apart`);
    - the texts are laid out in other lines (:func:`~semcache_core.prompt_diff.line_layout`:
      code indented into a loop or out of it, the same words on more lines): no;
    - the texts differ only in whitespace and the punctuation of prose (a comma, a last
      question mark left off): yes; in a number or a literal of code in double quotes
      against the bare one ('"1" === 1', 'typeof "null"'), in a symbol inside a token
      ("build/cache" / "build/.cache", "==" / "!="), in how their sentences end
      ("Translate: Yes." / "Translate: Yes?", "Count the dots: ..." / "...: .", "?" /
      "...": :func:`~semcache_core.guard_marks.marks_agree`), or in a text that asks
      about punctuation or spacing or holds code ("Add the missing commas: ...", "Count
      the spaces in: a  b", "What does this print: print(1, 2)":
      :func:`~semcache_core.guard_marks.marks_asked_about`): no, whatever the embeddings
      say;
    - nothing shared (the spans are the whole texts): yes, the search already compared them
      (the LLM caches and calibration embed a query text less its pleasantries);
    - one side adds or drops a sentence the other lacks: no;
    - what differs comes before a question the texts share (a question mark or a
      "Question:" label after it: :func:`~semcache_core.prompt_diff.asks_after`): no, it is
      what the question is asked about (a context formatted into the same message);
    - both differ in a statement and, after it, a question (a context and a question
      worded otherwise: :func:`~semcache_core.prompt_diff.context_changed`): no;
    - what differs comes after a question the texts share and asks nothing itself
      (:func:`~semcache_core.prompt_diff.asked_before`: "Is shipping free for me? Policy:
      shipping is free for members.", "Is this grammatical? 'He don't like it.'"): no;
    - the texts differ in several places (a RAG prompt's context line and its question):
      the differing sentences of each, without the sentences shared between them
      (:func:`~semcache_core.prompt_diff.differing_sentences`), are what the rest judges;
    - a differing span longer than :data:`MAX_COMPARED` characters, or sentences too many
      to align (:data:`~semcache_core.prompt_diff.MAX_ALIGNMENTS`): no;
    - a guard refuses the spans (``guards``: ``None`` for
      :data:`~semcache_core.guards.DEFAULT_GUARDS`; different numbers, a negation on one
      side only, other names or identifiers...): no;
    - the spans share a long sentence but for one or two words swapped (not misspelt;
      :func:`~semcache_core.word_swaps.swapped_words`): the swapped words, whose
      embeddings decide;
    - otherwise the spans decide.
    """
    return checked_verdict(query, stored, check_guards(guards))


def checked_verdict(
    query: str, stored: str, guards: tuple[Guard, ...], after_question: bool = False
) -> bool | tuple[str, str]:
    """:func:`query_verdict` with ``guards`` already checked (:func:`check_guards`), as the
    LLM caches and calibration hold them: every candidate of every lookup comes here.
    ``after_question``: an earlier message of both prompts asks a question
    (:attr:`~semcache_core.llm_prompt.Prompt.after_question`)."""
    texts = compared_texts(query, stored)
    if texts is None:  # greetings at other times of day
        return False
    if line_layout(texts[0]) != line_layout(texts[1]):  # code indented otherwise, ...
        return False
    difference = differing_sentences(*texts)
    if difference.one_sided:
        return False
    if words(difference.first) == words(difference.second):
        return (
            tokens(difference.first) == tokens(difference.second)
            and marks_agree(difference.first, difference.second)
            and not marks_asked_about(texts, difference.first, difference.second)
        )
    new_trivial, stored_trivial = is_trivial(difference.first), is_trivial(difference.second)
    if new_trivial or stored_trivial:
        return new_trivial and stored_trivial
    if (
        asks_after(texts[0], difference)
        or asked_before(texts[0], difference, after_question)
        or context_changed(difference)
    ):
        return False  # the same question about another context (before it, or after)
    if max(len(difference.first), len(difference.second)) > MAX_COMPARED:
        return False  # the guards read every word: a long span would cost seconds
    if not marks_agree(difference.first, difference.second):  # the same words in other cases
        return False
    if not passes(guards, difference.first, difference.second):
        return False
    swap = swapped_words(difference.first, difference.second)
    if swap is not None:  # a long shared sentence embeds alike: its swapped words decide
        return swap
    if difference.whole:
        return True
    return difference.first, difference.second


def same_question(query: str, stored: str) -> bool:
    """Whether the two query texts ask the very same thing: they differ at most in their
    greetings, thanks and sign-offs (at the same time of day) and in spacing. Verified mode
    serves such a candidate as it serves an exact hit: there is nothing to learn.

    Example::

        >>> same_question("Hi! Is the gym open?  Thanks.", "Is the gym open?")
        True
        >>> same_question("Is the gym open?", "Is the gym open")
        False
    """
    texts = compared_texts(query, stored)
    if texts is None or line_layout(texts[0]) != line_layout(texts[1]):
        return False
    return texts[0].split() == texts[1].split()
