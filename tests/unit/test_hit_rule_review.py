"""Prompts of the same words that ask different things, found by a review, each served the
other's answer before (with the built-in lexical embedder at 0.95 and with MiniLM at
0.87, through LangChain and LlamaIndex alike):

- laid out in other lines: code indented into a loop or out of it, a YAML key moved, the
  same words on more lines ("How many lines does this text have?");
- a number or a literal of code in double quotes against the bare one ('Is "1" === 1
  true?', 'typeof "null"');
- the same question about another context formatted into the same message ("Context:
  Shipping is free for members. / ...for everyone.", then "Question: ...?").
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from minilm_support import MINILM_THRESHOLD, minilm

from semcache_core.hit_rule import query_verdict, same_question
from semcache_core.prompt_diff import line_layout
from semcache_core.responses import Prompt, ResponseCache

EMBEDDERS = [
    pytest.param((None, 0.95), id="lexical@0.95"),
    pytest.param((minilm, MINILM_THRESHOLD), id=f"minilm@{MINILM_THRESHOLD}"),
]

CODE_LOOP = "What does this Python code print?\nfor i in range(3):\n    pass\nprint(i)"
CODE_IN_LOOP = "What does this Python code print?\nfor i in range(3):\n    pass\n    print(i)"
YAML_A = "Which service exposes port 80?\nservices:\n  web:\n    image: nginx\n    ports: [80]"
YAML_B = "Which service exposes port 80?\nservices:\n  web:\n    image: nginx\n  ports: [80]"
LINES_A = "How many lines does this text have?\nroses are red violets are blue"
LINES_B = "How many lines does this text have?\nroses are red\nviolets are blue"
QUOTED = [
    ('Is "1" === 1 true in JavaScript?', "Is 1 === 1 true in JavaScript?"),
    ('In Python, is "5" an instance of int?', "In Python, is 5 an instance of int?"),
    ('What does typeof "null" return?', "What does typeof null return?"),
    ('Which rows match WHERE name = "NULL"?', "Which rows match WHERE name = NULL?"),
    ('Is "true" truthy in Python?', "Is true truthy in Python?"),
]
RAG = "Answer using only the context.\nContext: {context}\nQuestion: {question}"


def _prompt(text: str) -> Prompt:
    return Prompt(exact=text, context="", query=text)


@pytest.mark.parametrize(("first", "second"), [(CODE_LOOP, CODE_IN_LOOP), (YAML_A, YAML_B),
                                               (LINES_A, LINES_B), *QUOTED])  # fmt: skip
def test_the_same_words_asking_another_thing_are_refused(first: str, second: str) -> None:
    for new, stored in ((first, second), (second, first)):
        assert query_verdict(new, stored) is False
        assert not same_question(new, stored)


@pytest.mark.parametrize("embedder", EMBEDDERS)
def test_through_the_llm_cache_they_are_misses(embedder: tuple[object, float]) -> None:
    responses = ResponseCache(embedder=embedder[0], threshold=embedder[1])
    pairs = [(CODE_LOOP, CODE_IN_LOOP), (YAML_A, YAML_B), (LINES_A, LINES_B), *QUOTED]
    for first, _ in pairs:
        responses.update(_prompt(first), "m", f"answer to {first!r}")
    for first, second in pairs:
        assert responses.lookup(_prompt(second), "m") is None, second
        assert responses.lookup(_prompt(first), "m") == f"answer to {first!r}"  # exact


_LINE = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.lists(_LINE, min_size=1, max_size=4).map(" ".join), min_size=2, max_size=6),
    moved=st.integers(1, 5),
    by=st.integers(1, 8),
)
def test_a_line_indented_otherwise_is_another_question(
    lines: list[str], moved: int, by: int
) -> None:
    """Any text of two lines or more, one line but the first re-indented: never the same
    question, never served; wrapped in blank lines and spaces, or a blank line doubled:
    the same layout."""
    moved %= len(lines)
    moved = moved or 1
    text = "\n".join(lines)
    other = "\n".join(" " * by + line if i == moved else line for i, line in enumerate(lines))
    assert line_layout(text) != line_layout(other)
    assert query_verdict(other, text) is False and not same_question(other, text)
    assert line_layout(f"\n\n  {text}  \n") == line_layout(text)
    assert same_question(f"  {text} ", text)
    spaced = "\n\n".join(lines)
    assert line_layout(spaced) == line_layout("\n\n\n".join(lines))
    assert same_question(spaced, "\n\n\n".join(lines))


@settings(max_examples=100, deadline=None)
@given(number=st.one_of(st.integers(-(10**6), 10**6).map(str), st.sampled_from(
    ["null", "None", "true", "False", "undefined", "NaN", "3.14", "1,000"])))  # fmt: skip
def test_a_quoted_literal_is_not_the_bare_one_but_a_quoted_word_is(number: str) -> None:
    assert query_verdict(f'Is "{number}" equal to x?', f"Is {number} equal to x?") is False
    assert (
        query_verdict(f"Is \u201c{number}\u201d equal to x?", f"Is {number} equal to x?") is False
    )
    # a word in quotes is prose: 'What does "carpe diem" mean?' asks what it asks bare
    assert query_verdict('What does "carpe diem" mean?', "What does carpe diem mean?") is True


@pytest.mark.parametrize("embedder", EMBEDDERS)
def test_the_same_question_about_another_context_is_a_miss(embedder: tuple[object, float]) -> None:
    """Context and question in one message, the question shared: what differs is what it
    is asked about. The question differing over a shared context is still compared."""
    responses = ResponseCache(embedder=embedder[0], threshold=embedder[1])
    question = "Do I pay for shipping if I am not a member?"
    members = RAG.format(context="Shipping is free for members.", question=question)
    responses.update(_prompt(members), "m", "Yes.")
    for context in ("Shipping is free for everyone.", "Shipping is free for all members."):
        assert (
            responses.lookup(_prompt(RAG.format(context=context, question=question)), "m") is None
        )
    # a label before a colon names the question's topic: compared as the question is
    assert query_verdict("Boil an egg: how long?", "Boiling an egg: how long?") is not False
    assert query_verdict("Boil an egg: how long?", "Poach an egg: how long?") is False  # kinds
    labelled = "Context: Shipping is free for members.\nQuestion: list the shipping fees"
    assert query_verdict(labelled.replace("members", "everyone"), labelled) is False
    asked = RAG.format(
        context="Shipping is free for members.", question="How do I get free shipping?"
    )
    responses.update(_prompt(asked), "m", "Become a member.")
    rephrased = asked.replace("How do I get free shipping?", "How can I get free shipping?")
    assert query_verdict(rephrased, asked) is not False  # the questions' own spans decide
    if embedder[0] is minilm:
        assert responses.lookup(_prompt(rephrased), "m") == "Become a member."
