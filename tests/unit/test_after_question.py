"""What follows a shared question is what the question is about: a statement, a quoted
sentence or a retrieved context given after the question, in the same message or in a
later one (``Prompt.after_question``), that differs is a miss. A chat hunt found these
served with MiniLM at 0.87 ("Is shipping free for me? Policy: shipping is free for
members." / "...for everyone.", "Is this sentence grammatical? 'He don't like it.'" /
"'He doesn't like it.'", a last message "The warranty covers water damage." / "...excludes
water damage." after "Is water damage covered?").
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from minilm_support import MINILM_THRESHOLD, minilm

from semcache_core.hit_rule import query_verdict
from semcache_core.prompt_diff import asked_before, differing_sentences
from semcache_core.responses import Prompt, ResponseCache

AFTER = [
    (
        "Is shipping free for me? Here is the policy: shipping is free for members.",
        "Is shipping free for me? Here is the policy: shipping is free for everyone.",
    ),
    (
        "Is this sentence grammatical? 'He don't like it.'",
        "Is this sentence grammatical? 'He doesn't like it.'",
    ),
    (
        "Q: Is shipping free for me?\nContext: shipping is free for members",
        "Q: Is shipping free for me?\nContext: shipping is free for everyone",
    ),
    (
        "Is shipping free for me?\n\nRelevant documents:\n- Shipping is free for members.\n"
        "- Returns within 30 days.",
        "Is shipping free for me?\n\nRelevant documents:\n- Shipping is free for everyone.\n"
        "- Returns within 30 days.",
    ),
    (
        "Is my answer right? The capital of australia is sydney.",
        "Is my answer right? The capital of australia is canberra.",
    ),
    # a label that asks ("Is this correct:") is a question before what it asks about
    ("Is this correct: The dog wagged its tail.", "Is this correct: The dog wagged it's tail."),
    ("What does this phrase mean: carpe diem", "What does this phrase mean: carpe noctem"),
]
# the last message, after an earlier one that asks (a user's question, the assistant's)
STATEMENTS = [
    ("The warranty covers water damage.", "The warranty excludes water damage."),
    ("The hotel was clean and quiet.", "The hotel was dirty and noisy."),
    ("Shipping is free for members.", "Shipping is free for everyone."),
    ("It squeaks when I brake.", "It squeaks when I accelerate."),
    ("My brother's wedding.", "My brother's funeral."),
]


def prompt(text: str, after_question: bool = False) -> Prompt:
    return Prompt(exact=text, context="ctx", query=text, after_question=after_question)


@pytest.mark.parametrize(("first", "second"), AFTER)
def test_what_differs_after_a_shared_question_is_a_miss(first: str, second: str) -> None:
    for new, stored in ((first, second), (second, first)):
        assert query_verdict(new, stored) is False
    responses = ResponseCache(embedder=minilm, threshold=MINILM_THRESHOLD)
    responses.update(prompt(first), "m", "first answer")
    assert responses.lookup(prompt(second), "m") is None
    assert responses.lookup(prompt(first), "m") == "first answer"


@pytest.mark.parametrize(("first", "second"), STATEMENTS)
def test_a_statement_after_an_earlier_question_that_differs_is_a_miss(
    first: str, second: str
) -> None:
    responses = ResponseCache(embedder=minilm, threshold=0.5)
    responses.update(prompt(first, after_question=True), "m", "first answer")
    assert responses.lookup(prompt(second, after_question=True), "m") is None
    assert responses.lookup(prompt(first, after_question=True), "m") == "first answer"


def test_a_question_reworded_after_an_earlier_one_is_still_compared() -> None:
    """A last message that asks something of its own is a question, compared as one."""
    responses = ResponseCache(embedder=minilm, threshold=MINILM_THRESHOLD)
    responses.update(prompt("How do I reset my password?", True), "m", "Click 'Forgot'.")
    assert responses.lookup(prompt("How can I reset my password?", True), "m") == (
        "Click 'Forgot'."
    )
    # a label that names what follows asks nothing: the question after it is compared
    assert query_verdict("Question: what's the capital of france", "Question: what is the "
                         "capital of france") is True  # fmt: skip
    asked = "What is the capital of France? And what is its population?"
    reworded = "What is the capital of France? And how many people live there?"
    assert asked_before(reworded, differing_sentences(reworded, asked)) is False
    # without its question mark, a question still opens as one: compared, not refused
    shared = "Where are you going? I am going to the library. "
    first, second = shared + "how do i get a library card", shared + "how can i get a card"
    assert asked_before(second, differing_sentences(second, first)) is False
    assert asked_before(second, differing_sentences(second, first), earlier=True) is False


_WORD = st.text(st.characters(codec="ascii", categories=["Ll"]), min_size=2, max_size=9)


@settings(max_examples=200, deadline=None)
@given(
    question=st.lists(_WORD, min_size=2, max_size=6).map(lambda w: " ".join(w).capitalize() + "?"),
    statement=st.lists(_WORD, min_size=2, max_size=8),
    at=st.integers(0, 7),
    other=_WORD,
    earlier=st.booleans(),
)
def test_any_statement_after_a_question_with_a_word_replaced_is_refused(
    question: str, statement: list[str], at: int, other: str, earlier: bool
) -> None:
    """Whatever the words: a question, then a statement with one word replaced (in one
    message, or the statement alone after an earlier message that asks) is refused; the
    same statement word for word is not."""
    at %= len(statement)
    changed = [*statement[:at], other, *statement[at + 1 :]]
    if changed == statement:
        return
    first, second = "The " + " ".join(statement) + ".", "The " + " ".join(changed) + "."
    if earlier:
        responses = ResponseCache(threshold=0.01)
        responses.update(prompt(first, True), "m", "a")
        assert responses.lookup(prompt(second, True), "m") is None
        assert responses.lookup(prompt(first + " ", True), "m") == "a"  # spacing: served
    else:
        new, stored = f"{question} {second}", f"{question} {first}"
        assert query_verdict(new, stored) is False
        assert query_verdict(f"{question}  {first}", stored) is True
