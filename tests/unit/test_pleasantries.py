"""Greetings, thanks and sign-offs around a question are not what it asks
(semcache_core.pleasantries), and the hit rule reads the question without them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from minilm_support import MINILM_THRESHOLD, minilm

from semcache_core import calibrate
from semcache_core.hit_rule import query_verdict, same_question
from semcache_core.pleasantries import times_apart, without_pleasantries
from semcache_core.responses import Prompt, ResponseCache

PAIRS = Path(__file__).resolve().parents[2] / "examples" / "pairs"


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ("Hi! How do I reset my password? Thanks!", "How do I reset my password?"),
        ("Hello, Why can't I log in? Cheers.", "Why can't I log in?"),
        ("hey there; is the gym open today?", "is the gym open today?"),
        ("Good morning. Quick question: is the gym open?", "is the gym open?"),
        ("Is the gym open? Thank you so much!", "Is the gym open?"),
        ("Python: sort a list Thanks!", "Python: sort a list"),
        ("Is it open? Thanks in advance. Best regards", "Is it open?"),
        ("Is it urgent? Thanks", "Is it urgent?"),
        ("Greetings! Where is the station?", "Where is the station?"),
        ("Hi, everyone! How do I sort?", "How do I sort?"),
        ("Hi! Hello! How do I sort a list?", "How do I sort a list?"),
        ("Hi!\u00a0How do I sort?\u00a0Thanks!", "How do I sort?"),  # no-break spaces
    ],
)
def test_pleasantries_at_either_end_are_taken_off(text: str, asked: str) -> None:
    assert without_pleasantries(text) == asked


@pytest.mark.parametrize(
    "text",
    [
        "Translate to French: Thank you.",  # what is translated
        "Translate into German Thank you.",
        'What does "cheers" mean? Thanks!',  # about the word
        "How do I say hello in Japanese? Thanks",
        "Reply: Thanks!",  # after a label's colon: what is asked for
        "Hello, world in Rust",
        "Hello - world programs in C",
        "Who starred in Cheers?",  # a title, not a sign-off
        "Who starred in Cheers",
        "Who starred in the sitcom Cheers.",
        "Good morning, Vietnam! Who starred in it?",  # a title after the greeting
        "Hi, \u00c9mile! What time is it?",  # a name, not in ASCII
        "Hi!\u2028How do I sort?",  # a line separator: two lines
        "Is it OK to end an email with Thanks in advance.",  # the sign-off asked about
        "Is it rude to sign off with Cheers.",
        "Is my sign-off too casual for my boss? Thx.",
        "What does the abbreviation stand for? ASAP.",
        "Classify the sentiment of the last sentence. Thanks a lot.",
        "Hi! How many sentences are in this message?",
        "HELLO! HOW MANY CAPITAL LETTERS ARE HERE?",
        "Hiya! Is this British slang?",
        "Hey guys, is my opening line gender-neutral?",
        "Proofread my email below.\nDear Sam, see you soon.\nCheers",  # several lines
        "What does this shell script print?\necho hi\necho Thanks.",
        "Summarize the plot of Hamlet in detail. Answer quickly.",  # speed is not a pleasantry
        "Classify this ticket's priority. The printer on floor 3 is broken. Urgent!",
        "What's the French for this? Thank you.",  # "this" is the thanks
        "Give me the German equivalent. Thanks a lot.",
        "Hey! Respond in kind.",
        "Hey folks, is my opening gender-neutral?",
        "Guitar chords for Led Zeppelin Thank You.",  # titles and names
        "Play Dido Thank You.",
        "Tell me about Lucasfilm THX.",
        "Text Mom Thank you!",
        "HI. What is the minimum wage?",  # Hawaii
        "Hi! \U0001f44b How do I reset my password?",  # the emoji stays: so does the greeting
        "Hey guys! Is that gender-neutral?",  # about the greeting
        "Is ending a work email like this OK? Cheers.",
        "Good morning. Thanks!",  # nothing but pleasantries
        "Many thanks. Best regards",
        "Thanks!",  # nothing else: a thanks wants its own reply
        "Hi!",
        "Hi there",
        "Good morning in Spanish?",
        "How do I thank my teacher?",
    ],
)
def test_text_where_the_pleasantry_may_be_asked_about_is_kept(text: str) -> None:
    assert without_pleasantries(text) == text


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            "Good morning! What should I eat right now?",
            "Good evening! What should I eat right now?",
        ),
        (
            "Good evening. Is it too late to drink coffee?",
            "Good morning. Is it too late to drink coffee?",
        ),
        (
            "Good afternoon, how many hours until midnight?",
            "Good night, how many hours until midnight?",
        ),
    ],
)
def test_greetings_at_other_times_of_day_are_refused(first: str, second: str) -> None:
    assert times_apart(first, second)
    assert query_verdict(first, second) is False
    assert not times_apart(first, first)
    assert times_apart(first, without_pleasantries(first))  # the question is about now


def test_a_time_greeting_on_one_side_matters_only_for_a_question_about_now() -> None:
    assert not times_apart(
        "Good morning! How do I reset my password?", "Hi! How do I reset my password?"
    )
    assert query_verdict("Good morning! How do I reset my password?", "How do I reset my password?")
    assert times_apart("Good morning! Is the bakery still open?", "Is the bakery still open?")
    assert (
        query_verdict(
            "Good evening! Which pharmacies are open now?", "Hello! Which pharmacies are open now?"
        )
        is False
    )


OPENINGS = [
    "",
    "Hi! ",
    "Hello, ",
    "hey there. ",
    "Good morning. ",
    "Good evening! ",
    "Quick question: ",
]
CLOSINGS = ["", " Thanks!", " Thank you.", " Many thanks!", " Cheers.", " Best regards."]


def _questions() -> list[str]:
    """The shipped labelled pairs' texts whose pleasantries, any of the above, come off
    (not those that ask about words or tone, nor "Cheers." after a word: see above)."""
    texts = set()
    for path in sorted(PAIRS.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            pair = json.loads(line)
            texts.update((pair["a"], pair["b"]))
    return sorted(
        text
        for text in texts
        if all(
            without_pleasantries(opening + text + closing) == text
            for opening in OPENINGS
            for closing in CLOSINGS
        )
    )


QUESTIONS = _questions()


# two questions, each between a greeting and a sign-off (possibly none)
DRESSED_PAIRS = (
    st.sampled_from(QUESTIONS),
    st.sampled_from(QUESTIONS),
    st.sampled_from(OPENINGS),
    st.sampled_from(CLOSINGS),
    st.sampled_from(OPENINGS),
    st.sampled_from(CLOSINGS),
)


def test_the_labelled_pairs_give_enough_questions() -> None:
    assert len(QUESTIONS) > 300


@settings(max_examples=400, deadline=None)
@given(*DRESSED_PAIRS)
def test_pleasantries_never_change_a_verdict(
    first: str, second: str, open_a: str, close_a: str, open_b: str, close_b: str
) -> None:
    """With pleasantries added on either side, the rule says what it says of the bare
    questions (the caches embed them bare too: see the next tests), unless the two greet
    at other times of day."""
    dressed = query_verdict(open_a + first + close_a, open_b + second + close_b)
    times = [opening for opening in (open_a, open_b) if opening.startswith("Good")]
    about_now = re.search(
        r"\b(?:now|tonight|still|late|later|early|earlier|currently|until|till|ago"
        r"|at the moment|this (?:morning|afternoon|evening))\b",
        first + " " + second,
        re.IGNORECASE,
    )
    apart = len(set(times)) == 2 or (len(times) == 1 and about_now is not None)
    assert dressed == (False if apart else query_verdict(first, second))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80), st.sampled_from(OPENINGS), st.sampled_from(CLOSINGS))
def test_what_is_kept_is_a_piece_of_the_text_with_its_words(
    text: str, opening: str, closing: str
) -> None:
    dressed = opening + text + closing
    kept = without_pleasantries(dressed)
    assert kept in dressed
    assert any(c.isalnum() or c == "_" for c in kept) == any(
        c.isalnum() or c == "_" for c in dressed
    )


@settings(max_examples=400, deadline=None)
@given(*DRESSED_PAIRS)
def test_the_same_question_is_the_text_less_its_pleasantries(
    first: str, second: str, open_a: str, close_a: str, open_b: str, close_b: str
) -> None:
    """What verified mode serves without exploring: the very question under other
    pleasantries, which the hit rule serves too; never another text, nor other times."""
    one, other = open_a + first + close_a, open_b + second + close_b
    same = same_question(one, other)
    assert same == same_question(other, one)
    apart = times_apart(one, other)
    assert same == (first.split() == second.split() and not apart)
    if same:
        assert query_verdict(one, other) is True


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_the_same_question_as_itself(text: str) -> None:
    assert same_question(text, text)
    assert same_question(text, f"  {text} ") == (text.split() == f"  {text} ".split())


def _prompt(text: str) -> Prompt:
    return Prompt(exact=text, context="", query=text)


def test_a_greeted_paraphrase_is_served_and_a_greeted_other_question_is_not() -> None:
    responses = ResponseCache(embedder=minilm, threshold=MINILM_THRESHOLD)
    responses.update(_prompt("How do I reset my password?"), "m", "Use the reset link.")
    responses.update(_prompt("Is the museum open on Monday?"), "m", "Yes, 9 to 5.")
    responses.update(_prompt("Translate to French: Thank you."), "m", "Merci.")
    assert (
        responses.lookup(_prompt("Hi! How do I reset my password? Thanks!"), "m")
        == "Use the reset link."
    )
    assert (
        responses.lookup(_prompt("Good morning. Is the museum open on Monday? Cheers."), "m")
        == "Yes, 9 to 5."
    )
    assert responses.lookup(_prompt("Hello, Is the museum closed on Monday? Thanks."), "m") is None
    assert responses.lookup(_prompt("Translate to French: Cheers."), "m") is None
    assert responses.lookup(_prompt("Hi! Why can't I reset my password? Thanks!"), "m") is None


def test_the_cache_embeds_the_question_without_its_pleasantries() -> None:
    """The bare question is what is searched and stored: a greeted repeat scores 1.0
    against it, served even at 0.99, where the greeted text embeds at about 0.9."""
    embedded: list[str] = []

    def recording(text: str) -> list[float]:
        embedded.append(text)
        return minilm(text)

    responses = ResponseCache(embedder=recording, threshold=0.99)
    responses.update(_prompt("Good morning. Is the gym open on Sunday? Thanks!"), "m", "Yes.")
    assert embedded == ["Is the gym open on Sunday?"]
    assert responses.lookup(_prompt("Hi! Is the gym open on Sunday? Cheers."), "m") == "Yes."
    assert embedded[1:] == ["Is the gym open on Sunday?"]
    assert responses.lookup(_prompt("Hello, Is the gym open on Monday? Thanks!"), "m") is None


async def test_the_async_lookup_and_update_embed_the_bare_question_too() -> None:
    responses = ResponseCache(embedder=minilm, threshold=0.99)
    await responses.aupdate(_prompt("Is the gym open on Sunday? Thank you."), "m", "Yes.")
    assert await responses.alookup(_prompt("Hey there. Is the gym open on Sunday?"), "m") == "Yes."
    assert await responses.alookup(_prompt("Is the gym open on Monday? Thanks!"), "m") is None


def test_a_greeted_miss_is_embedded_once_for_its_lookup_and_update() -> None:
    """The lookup's vector of the bare question is the one its update stores (a plain
    callable is one embedder for queries and documents): one embedding, not two."""
    embedded: list[str] = []

    def recording(text: str) -> list[float]:
        embedded.append(text)
        return minilm(text)

    responses = ResponseCache(embedder=recording, threshold=MINILM_THRESHOLD)
    asked = _prompt("Hi! Where is my order? Thanks!")
    assert responses.lookup(asked, "m") is None
    responses.update(asked, "m", "On its way.")
    assert embedded == ["Where is my order?"]
    assert responses.lookup(_prompt("Where is my order?"), "m") == "On its way."


def test_calibration_scores_a_greeted_repeat_as_the_cache_does() -> None:
    """Under the response rule the whole texts are compared less their pleasantries: a
    greeted repeat scores 1.0, served at any threshold the table offers."""
    pairs = [
        ("Hi! Is the gym open on Sunday? Thanks!", "Is the gym open on Sunday?", True),
        ("How do I reset my password?", "How can I reset my password?", True),
        ("Is the museum open on Monday?", "Is the museum closed on Monday?", False),
    ]
    scores = calibrate(pairs, minilm).scores
    assert scores[0].score == pytest.approx(1.0, abs=1e-5)
    assert scores[2].score == float("-inf")  # the negation guard refuses it
