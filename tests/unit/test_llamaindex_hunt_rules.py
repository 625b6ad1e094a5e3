"""Rules a hunt through LlamaIndex (``SemCacheLLM`` in ``complete``, ``chat``, ``predict``,
query and chat engines) called for, each once served the other's answer with MiniLM at
0.87: a request added to the same sentence ("... and delete my account"), a word in
capitals against the same letters with other capitals ("CO" / "Co"), punctuation or spacing
where the prompt asks about it or is code ("Add the missing commas: ...", "print(1, 2)"),
another kind of work ("a book / a movie like Dune"), and a context changed along with
the question's words ("Context: Shipping is free for members / everyone. Question: Is
shipping free (of charge)?")."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llama_support import CountingLLM
from minilm_support import MINILM_THRESHOLD, minilm

from semcache_core.guard_additions import JOINING_WORDS, additions_agree
from semcache_core.guard_capitals import capitals_agree
from semcache_core.guard_kinds import kinds_agree
from semcache_core.guard_marks import marks_asked_about
from semcache_core.hit_rule import query_verdict
from semcache_integrations.llama_index import SemCacheLLM

ADDED = [
    ("How do I reset my password?", "How do I reset my password and delete my account?"),
    ("How do I cancel my subscription?", "How do I cancel my subscription and get a refund?"),
    ("Recommend a book like Dune.", "Recommend a book like Dune, but shorter."),
    ("Summarize the plot of Hamlet.", "Summarize the plot of Hamlet as a poem."),
    ("Write a haiku about the sea.", "Write a haiku about the sea (rhyming)."),
    ("What's the capital of Australia?", "What's the capital of Australia, and its population?"),
    ("What is the best laptop for students?",
     "What is the best laptop for students under a tight budget?"),
    ("Write a cover letter for an analyst job.",
     "Write a cover letter for an analyst job, emphasizing leadership."),
    ("What are the symptoms of diabetes?",
     "What are the symptoms of diabetes and how is it treated?"),
    ("Explain how vaccines work.", "Explain how vaccines work, with citations."),
]  # fmt: skip
CAPITALS = [
    ("What is Co in chemistry?", "What is CO in chemistry?"),
    ("What is Si in chemistry?", "What is SI in chemistry?"),
    (
        "What's the difference between a Mg and a mg?",
        "What's the difference between a MG and a mg?",
    ),
]
MARKS = [
    ("Is this sentence punctuated correctly? I like cooking, my family, and my pets.",
     "Is this sentence punctuated correctly? I like cooking my family and my pets."),
    ("Add the missing commas: Woman without her man is nothing.",
     "Add the missing commas: Woman, without her man, is nothing."),
    ("Does this sentence have a comma splice: I was tired, I went to bed.",
     "Does this sentence have a comma splice: I was tired; I went to bed."),
    ("Is this a valid Python dict: {'a': 1, 'b': 2}",
     "Is this a valid Python dict: {'a': 1 'b': 2}"),
    ("What does this print: print(1, 2)", "What does this print: print(1 2)"),
    ("Is this valid JSON: [1, 2, 3]", "Is this valid JSON: [1 2 3]"),
    ("What does this SQL return: SELECT a, b FROM t",
     "What does this SQL return: SELECT a b FROM t"),
    ("Count the spaces in: a b c", "Count the spaces in: a  b  c"),
    ("How many characters are in: hello world", "How many characters are in: hello  world"),
]  # fmt: skip
CONTEXTS = [  # a context changed and the question reworded, in one message
    ("Context: Shipping is free for members.\nQuestion: Is shipping free?",
     "Context: Shipping is free for everyone.\nQuestion: Is shipping free of charge?"),
    ("Our gym is open to members only. Can I use the gym?",
     "Our gym is open to everyone. Am I allowed to use the gym?"),
    ("Menu: The soup contains peanuts.\nIs the soup safe for someone with a nut allergy?",
     "Menu: The soup contains cream.\nIs the soup okay for someone with a nut allergy?"),
    ("Contract: The tenant pays for water.\nWho pays for water?",
     "Contract: The landlord pays for water.\nWho is responsible for paying for water?"),
]  # fmt: skip
WORKS = [
    ("Recommend a book like Dune.", "Recommend a movie like Dune."),
    ("Recommend a game like Minecraft.", "Recommend a book like Minecraft."),
    ("Suggest a song like Bohemian Rhapsody.", "Suggest a movie like Bohemian Rhapsody."),
    ("Write an email declining the meeting.", "Write a letter declining the meeting."),
    ("Write a blog post about remote work.", "Write a tweet about remote work."),
]
SERVED = [  # what the rules must leave alone
    ("Can you check how much luggage I can bring?", "How much luggage can I bring?"),
    ("How many days until Christmas?", "How many days are left until Christmas?"),
    ("What is the capital of France, please?", "What is the capital of France?"),
    ("How do I boil an egg, quickly?", "How do I boil an egg quickly?"),
    ("HOW DO I RESET MY PASSWORD", "How do I reset my password?"),
    ("what does it mean in a job ad", "What does IT mean in a job ad?"),
    ("How do I find my ip address?", "How do I find my IP address?"),
    (
        "How do I kill a process by its PID on Linux?",
        "How do I kill a process by its pid on Linux?",
    ),
    ("Is Dorian Gray a horror novel?", "Is Dorian Gray a horror story?"),
    ("How do I sort a list in Python?", "How do I sort a list in Python"),
    ("Recommend a good novel.", "Recommend a good book."),
]


@pytest.mark.parametrize(("first", "second"), ADDED + CAPITALS + MARKS + WORKS + CONTEXTS)
def test_each_is_refused_both_ways(first: str, second: str) -> None:
    assert query_verdict(first, second) is False and query_verdict(second, first) is False


@pytest.mark.parametrize(("first", "second"), SERVED)
def test_what_the_rules_leave_alone(first: str, second: str) -> None:
    assert query_verdict(first, second) is not False
    assert query_verdict(second, first) is not False


@pytest.mark.parametrize(("first", "second"), ADDED)
def test_additions_guard(first: str, second: str) -> None:
    assert not additions_agree(first, second) and not additions_agree(second, first)


@pytest.mark.parametrize(("first", "second"), CAPITALS)
def test_capitals_guard(first: str, second: str) -> None:
    assert not capitals_agree(first, second) and not capitals_agree(second, first)


@pytest.mark.parametrize(("first", "second"), WORKS)
def test_works_are_kinds(first: str, second: str) -> None:
    assert not kinds_agree(first, second)


_WORD = st.text(alphabet="bcdfghjklmnprstvz", min_size=2, max_size=8)  # no function words
_WORDS = st.lists(_WORD, min_size=2, max_size=8, unique=True)


@settings(max_examples=300, deadline=None)
@given(
    sentence=_WORDS,
    joining=st.sampled_from(sorted(JOINING_WORDS)),
    added=_WORDS,
    at=st.integers(0, 20),
)
def test_a_joined_request_added_anywhere_is_refused(
    sentence: list[str], joining: str, added: list[str], at: int
) -> None:
    added = [word for word in added if word not in sentence] or ["qq"]  # no ambiguous diff
    at = min(at, len(sentence))
    longer = [*sentence[:at], joining, *added, *sentence[at:]]
    assert not additions_agree(" ".join(sentence), " ".join(longer))
    assert additions_agree(" ".join(sentence), " ".join(sentence))


@settings(max_examples=300, deadline=None)
@given(words=_WORDS, at=st.integers(0, 20), upper=st.booleans())
def test_one_case_throughout_or_a_word_in_lower_case_says_nothing_other_capitals_do(
    words: list[str], at: int, upper: bool
) -> None:
    text = " ".join(words)
    typed = text.upper() if upper else text.lower()
    assert capitals_agree(typed, "Tell me " + text)  # one side in one case: no sign
    at = min(at, len(words) - 1)
    acronym = "Tell me " + " ".join([*words[:at], words[at].upper(), *words[at + 1 :]])
    capitalised = "Tell me " + " ".join([*words[:at], words[at].capitalize(), *words[at + 1 :]])
    if words[at].upper() != words[at].capitalize():  # two letters or more
        assert not capitals_agree(acronym, capitalised)
    assert capitals_agree(acronym, "Tell me " + text)  # in lower case: how many type it


@settings(max_examples=200, deadline=None)
@given(words=_WORDS, ending=st.sampled_from(["", "?", ".", "!"]))
def test_only_the_ending_never_counts_and_spacing_only_where_asked(
    words: list[str], ending: str
) -> None:
    text = "Is this valid JSON: " + ", ".join(words)
    assert not marks_asked_about((text, text + ending), text, text + ending)
    spaced = text.replace(" ", "  ")
    assert not marks_asked_about((text, spaced), text, spaced)  # JSON: no word on spacing
    asked = "Count the spaces in: " + " ".join(words)
    assert marks_asked_about((asked, asked.replace(" ", "  ")), asked, asked.replace(" ", "  "))


_WHO = st.sampled_from(["members", "everyone", "students", "seniors", "staff", "guests"])
_ASKED = st.sampled_from(
    ["Is shipping free?", "Is shipping free of charge?", "Do I pay for shipping?",
     "Will I be charged for shipping?", "is shipping free for me"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    who=st.lists(_WHO, min_size=2, max_size=2, unique=True),
    asked=st.lists(_ASKED, min_size=2, max_size=2, unique=True),
    label=st.sampled_from(["", "Context: ", "Policy: "]),
    joint=st.sampled_from([" ", "\n", "\nQuestion: "]),
)
def test_another_context_with_the_question_reworded_is_refused(
    who: list[str], asked: list[str], label: str, joint: str
) -> None:
    first = f"{label}Shipping is free for {who[0]}.{joint}{asked[0]}"
    second = f"{label}Shipping is free for {who[1]}.{joint}{asked[1]}"
    assert query_verdict(first, second) is False


def test_through_semcache_llm_each_gets_its_own_answer() -> None:
    inner = CountingLLM()  # answers "<model>: <prompt>"
    llm = SemCacheLLM(inner, embed_model=minilm, threshold=MINILM_THRESHOLD)
    pairs = ADDED + CAPITALS + MARKS + WORKS + CONTEXTS
    for first, _ in pairs:
        llm.complete(first)
    for first, second in pairs:
        assert llm.complete(second).text == f"counting-1: {second}"
        assert llm.complete(first).text == f"counting-1: {first}"
    assert inner.calls == len({text for pair in pairs for text in pair})  # once each
