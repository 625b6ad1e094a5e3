"""Closed classes for what an instruction asks for (:mod:`semcache_core.guard_kinds`): how
much detail, for whom or how hard, which exercise, which side, which tone, which
language, which diet, which form or layout, which voice. A hunt of instruction prompts
(``benchmarks/data/hunts/twelfth_wrong.jsonl``) found each served the other's answer with
MiniLM at 0.87 ("Briefly explain / Explain in depth how vaccines work.", "...in favor of / against
school uniforms.", "translate 'see you tomorrow' in swedish / in norwegian")."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from minilm_support import MINILM_THRESHOLD, minilm

from semcache_core.guard_kinds import KINDS, kinds_agree
from semcache_core.responses import Prompt, ResponseCache

REFUSED = [
    ("Briefly explain how vaccines work.", "Explain in depth how vaccines work."),
    ("Explain the rules of cricket in a few words.", "Explain cricket's rules in full detail."),
    ("Explain TCP handshakes in a nutshell.", "Explain TCP handshakes thoroughly."),
    ("Describe the Krebs cycle at a glance.", "Describe the Krebs cycle in exhaustive detail."),
    ("Give me the gist of Kant's ethics.", "Give me a thorough analysis of Kant's ethics."),
    ("Explain recursion for beginners.", "Explain recursion for advanced programmers."),
    ("Write a beginner-friendly yoga routine.", "Write an advanced yoga routine."),
    ("Give me an intermediate LeetCode problem.", "Give me a hard LeetCode problem."),
    ("Write a true-or-false quiz on the solar system.", "Write a fill-in-the-blank quiz on it."),
    ("Write five multiple-choice questions on photosynthesis.",
     "Write five true or false questions on photosynthesis."),
    ("Create a matching exercise on capitals.", "Create a fill in the blanks one on capitals."),
    ("Write an essay in favor of school uniforms.", "Write an essay against school uniforms."),
    ("Defend the central bank's decision.", "Criticize the central bank's decision."),
    ("Write a cheerful poem about rain.", "Write a gloomy poem about rain."),
    ("Write a romantic poem about autumn.", "Write a melancholy poem about autumn."),
    ("Decline this meeting invitation politely.", "Decline this meeting invitation bluntly."),
    ("Write a formal email to my landlord.", "Write a casual email to my landlord."),
    ("translate 'see you tomorrow' in swedish", "translate 'see you tomorrow' in norwegian"),
    ("Write a vegan lasagna recipe.", "Write a vegetarian lasagna recipe."),
    ("Sort these words alphabetically: zebra, kiwi", "Sort these words by length: zebra, kiwi"),
    ("List the events in chronological order.", "List the events in order of importance."),
    ("Sort the prices in ascending order.", "Sort the prices in descending order."),
    ("Summarize just the first chapter of this report.", "Summarize every chapter of this report."),
    ("Rewrite the opening line of my cover letter.", "Rewrite my whole cover letter."),
    ("Rewrite the last sentence of this paragraph.", "Rewrite the entire paragraph."),
    ("Sort alphabetically: pear, fig", "Sort in reverse alphabetical order: pear, fig"),
    ("List the presidents in chronological order.", "List them in reverse chronological order."),
    ("Write a haiku about the ocean.", "Write a limerick about the ocean."),
    ("Write a limerick about a cat named Max.", "Write an acrostic poem about a cat named Max."),
    ("Tell me a joke about penguins.", "Tell me a story about penguins."),
    ("Format the ingredients as a bulleted list.",
     "Format the ingredients as a paragraph of prose."),
    ("Compare the phones in a table.", "Compare the phones in bullet points."),
    ("Write a persuasive paragraph about recycling.", "Write a neutral paragraph about recycling."),
    ("Describe the merger objectively.", "Describe the merger persuasively."),
    ("Rewrite in the passive voice: the cat ate it.",
     "Rewrite in the active voice: the cat ate it."),
]  # fmt: skip

AGREE = [
    ("Briefly explain how vaccines work.", "Give me a short explanation of how vaccines work."),
    ("Explain recursion for beginners.", "Explain recursion for novices."),
    ("Explain it in detail.", "Give me a thorough explanation."),
    ("Write a funny poem about cats.", "Write a humorous poem about cats."),
    ("Translate this into French.", "Please translate this into french."),
    ("Write a multiple-choice quiz.", "Write a multiple choice quiz."),
    ("How deep is Lake Baikal?", "What is the depth of Lake Baikal?"),  # a measure, still
    ("Sort the names alphabetically.", "Put the names in alphabetical order."),
    ("Summarize the whole report.", "Summarize the entire report."),
    ("Write a short poem in haiku form about rain.", "Write a haiku about rain."),
    ("List the planets as bullet points.", "Give me the planets as a bulleted list."),
    ("Write an unbiased summary of the debate.", "Write an impartial summary of the debate."),
]


@pytest.mark.parametrize(("first", "second"), REFUSED)
def test_two_kinds_of_one_instruction_class_are_refused(first: str, second: str) -> None:
    assert not kinds_agree(first, second) and not kinds_agree(second, first)


@pytest.mark.parametrize(("first", "second"), AGREE)
def test_one_kind_in_other_words_agrees(first: str, second: str) -> None:
    assert kinds_agree(first, second) and kinds_agree(second, first)


def test_through_the_llm_cache_they_are_misses() -> None:
    responses = ResponseCache(embedder=minilm, threshold=MINILM_THRESHOLD)
    for first, _ in REFUSED:
        responses.update(Prompt(first, "", first), "m", f"answer to {first}")
    for first, second in REFUSED:
        assert responses.lookup(Prompt(second, "", second), "m") is None, second
        assert responses.lookup(Prompt(first, "", first), "m") == f"answer to {first}"


_MEMBERS = ("brief", "intermediate", "multiplechoice", "infavorof", "romantic", "swedish", "vegan",
            "bylength", "whole", "haiku", "bulleted", "passive")  # fmt: skip
_INSTRUCTION_CLASSES = [
    group
    for group, kinds in enumerate(KINDS)
    if any(member in kind for kind in kinds for member in _MEMBERS)
]


@settings(max_examples=300, deadline=None)
@given(
    group=st.sampled_from(list(_INSTRUCTION_CLASSES)),
    data=st.data(),
    head=st.sampled_from(["Write", "Explain", "Give me", "Please write", "Create"]),
    topic=st.sampled_from(["about the sea", "on climate change", "for my team", "of this text"]),
)
def test_every_two_kinds_of_a_class_are_refused_and_spellings_agree(
    group: int, data: st.DataObject, head: str, topic: str
) -> None:
    kinds = [sorted(k) for k in KINDS[group]]
    first, second = data.draw(st.sampled_from(list(itertools.permutations(range(len(kinds)), 2))))
    word, other = (
        data.draw(st.sampled_from(kinds[first])),
        data.draw(st.sampled_from(kinds[second])),
    )
    same = data.draw(st.sampled_from(kinds[first]))
    assert not kinds_agree(f"{head} {word} {topic}", f"{head} {other} {topic}")
    assert kinds_agree(f"{head} {word} {topic}", f"{head} {same} {topic}")
