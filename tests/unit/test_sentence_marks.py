"""Sentence marks in the hit rule (found by review: prompts with the same words but other
marks, and prompts with no words at all, shared one answer with the lexical embedder and
with MiniLM at 0.87; the guards never saw them, as the rule served same-word spans first).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.language_models import FakeListChatModel

from semcache_core.guard_marks import marks_agree
from semcache_core.hit_rule import query_verdict
from semcache_integrations.langchain import CachedChatModel, SemCache

MARKED = [
    ("Translate to French: Yes.", "Translate to French: Yes?"),
    ("The meeting is cancelled.", "The meeting is cancelled?"),
    ("Repeat exactly: I am done.", "Repeat exactly: I am done?"),
    ("Count the question marks in this text: ???", "Count the question marks in this text: ?"),
    ("Count the dots in this text: ...", "Count the dots in this text: ."),
    ("?", "..."),
    ("???", "   "),
    ("!", "\n"),
    # found by the change's review: in other cases (the rule compared words with case),
    # and with the mark moved to another word
    ("Translate to French: yes.", "Translate to French: Yes?"),
    ("The meeting is cancelled.", "the meeting is cancelled?"),
    ("No, the meeting is cancelled?", "No? The meeting is cancelled"),
    # a question word or a contraction inside a statement does not make it a question
    ("Translate to French: I know why.", "Translate to French: I know why?"),
    ("Translate to French: He knows who did it.", "Translate to French: He knows who did it?"),
    ("Translate to French: Don't go.", "Translate to French: Don't go?"),
    ("Translate to French: Stop!", "Translate to French: stop."),
]
SAME = [
    ("How tall is the Eiffel Tower?", "How tall is the Eiffel Tower"),
    ("How tall is the Eiffel Tower?", "how tall is the eiffel tower ?"),
    ("Really??", "Really?"),
    ("What is the capital of France.", "What is the capital of France?"),  # a question
    ("So, what is the capital of France.", "so, what is the capital of France?"),
    ("Hey, how do I reset my password.", "Hey, how do I reset my password?"),
    ("Isn't it raining in Paris today.", "Isn't it raining in Paris today?"),
    ("Doesn't the store open at nine.", "Doesn't the store open at nine?"),
    ("Hello, how are you?", "Hello how are you?"),
    ("Hi! How are you?", "Hi, how are you?"),  # marks inside a span are prose
    ("Wait... is it raining?", "wait, is it raining?"),
    ("I think... maybe later.", "I think, maybe later."),
    ("What's the capital of France.", "What's the capital of France?"),
    ("Isn\u2019t it cold.", "Isn\u2019t it cold?"),
    ("Tell me, what is 2+2.", "Tell me, what is 2+2?"),
    ("Is the museum open on Monday.", "Is the museum open on Monday?"),
    ("   ", "\n"),
]


@pytest.mark.parametrize(("first", "second"), MARKED)
def test_other_sentence_marks_are_never_served(first: str, second: str) -> None:
    assert query_verdict(first, second) is False
    assert query_verdict(second, first) is False
    assert query_verdict(first, second, guards=()) is False  # the rule, not a guard


@pytest.mark.parametrize(("first", "second"), SAME)
def test_prose_punctuation_and_a_last_mark_left_off_still_serve(first: str, second: str) -> None:
    assert query_verdict(first, second) is True
    assert query_verdict(second, first) is True


@pytest.mark.parametrize(("first", "second"), MARKED[:3] + MARKED[5:7])
def test_the_langchain_cache_answers_each_with_its_own_answer(first: str, second: str) -> None:
    model = FakeListChatModel(responses=["first answer", "second answer"])
    chat = CachedChatModel(model, cache=SemCache())
    assert chat.invoke(first).content == "first answer"
    assert chat.invoke(second).content == "second answer"


# no question word, and "is", "am" (which ask when they open a sentence) never first here
WORDS = ["the", "meeting", "is", "cancelled", "Yes", "tall", "it", "I", "am", "done"]
OPENING = ["the", "meeting", "Yes", "it", "I", "Translate: Yes"]
MARKS = {"?": "?", "??": "?", ".": ".", "...": ".", "\u2026": ".", "!": "!", "?!": "?!"}
texts = st.builds(
    lambda first, rest: " ".join([first, *rest]),
    st.sampled_from(OPENING),
    st.lists(st.sampled_from(WORDS), max_size=7),
)


@settings(max_examples=300, deadline=None)
@given(texts, st.sampled_from(list(MARKS)), st.data())
def test_a_changed_sentence_mark_is_refused_and_a_dropped_last_one_forgiven(
    text: str, mark: str, data: Any
) -> None:
    """A mark ending a word counts once ("Really??" / "Really?", "Wait..." / "Wait.")."""
    other = data.draw(st.sampled_from([m for m in MARKS if MARKS[m] != MARKS[mark]]))
    assert not marks_agree(f"{text}{mark}", f"{text}{other}")
    assert query_verdict(f"{text}{mark}", f"{text}{other}") is False
    assert marks_agree(f"{text}{mark}", text)  # "How tall is it" asks the same
    assert marks_agree(f"{text}{mark}", f"{text.upper()} {mark}")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=" \n\t.?!\u2026-*#", max_size=8), st.text(alphabet=" \n\t.?!", max_size=8))
def test_prompts_without_words_must_carry_the_same_marks(a: str, b: str) -> None:
    same = re.findall(r"[.!?\u2026]+", a) == re.findall(r"[.!?\u2026]+", b)
    assert marks_agree(a, b) == same
    assert marks_agree(b, a) == same


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["What", "how", "Where", "Is the", "can I", "does it", "So, what"]),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join),
)
def test_a_question_ended_by_a_full_stop_is_still_the_question(opener: str, rest: str) -> None:
    question = f"{opener} {rest}"
    assert marks_agree(f"{question}.", f"{question}?")
    assert query_verdict(f"{question}.", f"{question}?") is True
    assert not marks_agree(f"{question}!", f"{question}?")
