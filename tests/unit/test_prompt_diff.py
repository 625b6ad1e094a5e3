"""prompt_diff: the differing sentences of two prompts, on examples and generated texts."""

from __future__ import annotations

import functools
import itertools
import re
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from semcache_core.guards import DEFAULT_GUARDS, passes
from semcache_core.hit_rule import query_verdict
from semcache_core.prompt_diff import (
    Difference,
    _sentences,
    context_changed,
    differing_sentences,
    differing_spans,
    is_trivial,
    numbers,
    question_words,
    sentence_boundaries,
)

RAG = "Use the context to answer.\nContext:\n{context}\n\nQuestion: {question}\nAnswer:"
EIFFEL = "The Eiffel Tower is in Paris. It is 330 metres tall."


def test_a_question_inside_a_template_is_all_that_differs() -> None:
    d = differing_spans(
        RAG.format(context=EIFFEL, question="How tall is the Eiffel Tower?"),
        RAG.format(context=EIFFEL, question="Who designed the Eiffel Tower?"),
    )
    assert (d.first, d.second) == (
        "How tall is the Eiffel Tower?",
        "Who designed the Eiffel Tower?",
    )


def test_one_differing_sentence_of_a_context_line_is_all_that_differs() -> None:
    question = "Where is the warehouse?"
    d = differing_spans(
        RAG.format(context="The warehouse is in Leeds. It opens at 9am.", question=question),
        RAG.format(context="Our only depot is in Rotterdam. It opens at 9am.", question=question),
    )
    assert (d.first, d.second) == (
        "The warehouse is in Leeds.",
        "Our only depot is in Rotterdam.",
    )


def test_spans_widen_to_whole_sentences() -> None:
    d = differing_spans("Translate 'good morning' now.", "Translate 'good night' now.")
    assert d == Difference(0, 0, "Translate 'good morning' now.", "Translate 'good night' now.")
    assert d.whole


def test_boundaries_after_newlines_terminators_quotes_and_labels() -> None:
    text = 'He said "Hi." Then left!\n- a bullet\nQ: why? Because.'
    starts = sorted(sentence_boundaries(text))
    pieces = [text[a:b] for a, b in itertools.pairwise(starts)]
    assert pieces == [
        'He said "Hi."',
        " ",
        "Then left!",
        "\n",
        "- a bullet\n",
        "Q:",
        " ",
        "why?",
        " ",
        "Because.",
    ]
    assert sentence_boundaries("pi is 3.14 and 9:30") == {0, 19}  # no space after . or :


def test_an_extra_sentence_is_a_span_against_an_empty_one() -> None:
    d = differing_spans(
        "Hi.\nCancel my order.\nThanks", "Hi.\nCancel my order.\nRefund me.\nThanks"
    )
    assert (d.first, d.second) == ("", "Refund me.\n")


def test_trivial_spans_hold_no_words() -> None:
    assert is_trivial("") and is_trivial(" ?!\n") and is_trivial("- …")
    assert not is_trivial("?a") and not is_trivial("42")


def test_numbers_and_question_words() -> None:
    found = numbers("costs $20, not $1,000 since 2024-05-01 at 9:30")
    assert found == ["20", "1,000", "2024-05-01", "9:30"]  # in order
    assert numbers("no digits here") == []
    assert question_words("Who designed it?") == {"who"}
    assert question_words("Where's the depot, and why?") == {"where", "why"}
    assert question_words("How tall is it? What is the height?") == frozenset()


def test_identical_texts_have_empty_spans() -> None:
    d = differing_spans(RAG, RAG)
    assert (d.first, d.second, d.prefix) == ("", "", len(RAG))


# Texts built from sentence-like pieces, so generated pairs share prefixes and suffixes.
_PIECES = st.sampled_from(
    [
        "How tall is it?",
        "How tall is it",
        "Who built it?",
        " ",
        "\n",
        "- ",
        "Question: ",
        'He said "no." ',
        "It is 3.5 m.",
        "a",
        "b",
        ". ",
        ":",
        "!",
    ]
)
_TEXTS = st.lists(_PIECES, max_size=8).map("".join) | st.text(max_size=30)


@settings(max_examples=500, deadline=None)
@given(_TEXTS, _TEXTS, _TEXTS, _TEXTS)
def test_prefix_span_suffix_rebuild_each_text(head: str, x: str, y: str, tail: str) -> None:
    first, second = head + x + tail, head + y + tail
    d = differing_spans(first, second)
    assert first[: d.prefix] == second[: d.prefix]
    assert first[len(first) - d.suffix :] == second[len(second) - d.suffix :]
    assert first[: d.prefix] + d.first + first[len(first) - d.suffix :] == first
    assert second[: d.prefix] + d.second + second[len(second) - d.suffix :] == second


@settings(max_examples=500, deadline=None)
@given(_TEXTS, _TEXTS, _TEXTS, _TEXTS)
def test_spans_never_cut_a_sentence(head: str, x: str, y: str, tail: str) -> None:
    first, second = head + x + tail, head + y + tail
    d = differing_spans(first, second)
    for text in (first, second):
        bounds = sentence_boundaries(text)
        assert d.prefix in bounds
        assert len(text) - d.suffix in bounds


@settings(max_examples=500, deadline=None)
@given(_TEXTS, _TEXTS, _TEXTS, _TEXTS)
def test_symmetric(head: str, x: str, y: str, tail: str) -> None:
    first, second = head + x + tail, head + y + tail
    d, swapped = differing_spans(first, second), differing_spans(second, first)
    assert (d.prefix, d.suffix, d.first, d.second) == (
        swapped.prefix,
        swapped.suffix,
        swapped.second,
        swapped.first,
    )


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_identical_generated_texts_have_empty_spans(text: str) -> None:
    d = differing_spans(text, text)
    assert (d.first, d.second) == ("", "")


@settings(max_examples=300, deadline=None)
@given(_TEXTS, _TEXTS)
def test_shared_parts_are_as_long_as_sentences_allow(first: str, second: str) -> None:
    """No longer shared prefix exists on a boundary of both texts (the widening is minimal)."""
    d = differing_spans(first, second)
    both = sentence_boundaries(first) & sentence_boundaries(second)
    longer = [b for b in both if b > d.prefix and first[:b] == second[:b]]
    assert longer == []


def test_words_tell_spacing_of_letters_apart() -> None:
    from semcache_core.prompt_diff import words

    assert words("Is it open?") == words("Is  it open ?!") == ["Is", "it", "open"]
    assert words("a rose") != words("arose")  # same letters, other words


def test_a_whitespace_only_difference_hits_without_embedding_the_spans() -> None:
    from semcache_core import SemCache
    from semcache_core.embedders import HashingEmbedder
    from semcache_core.responses import Prompt, ResponseCache

    calls: list[str] = []

    class Counting(HashingEmbedder):
        def embed_query(self, text: str):  # type: ignore[no-untyped-def]
            calls.append(text)
            return super().embed_query(text)

        embed_document = embed_query

    responses = ResponseCache(SemCache(embedder=Counting()), threshold=0.9)
    question = "Context: the tower is 330 metres tall. Question: How tall is the tower?"
    responses.update(Prompt(question, "", question), "m", "330 metres")
    assert responses.lookup(Prompt(question + " ", "", question + " "), "m") == "330 metres"
    assert len(calls) == 2  # the stored and the new query text: no span embeddings


IDENTIFIER_SWAPS = [
    ("Delete the folder build/cache.", "Delete the folder build/.cache."),
    ("What is the difference between == and ===?", "What is the difference between != and !==?"),
    ("Should I use C++ for this?", "Should I use C# for this?"),
    ("Run it with --max-cost 3.", "Run it with -max-cost 3."),
    ("Call the v2/api endpoint.", "Call the v2.api endpoint."),
]


def test_a_symbol_inside_a_token_is_a_difference_the_words_do_not_show() -> None:
    """The same words with another symbol inside a token ("build/cache" / "build/.cache")
    never hit without the embedder's say: with one that sees words only (the built-in
    lexical one), each of these pairs scores 1.0 and was served the other's answer."""
    from semcache_core import SemCache
    from semcache_core.prompt_diff import tokens, words
    from semcache_core.responses import Prompt, ResponseCache, query_verdict

    for first, second in IDENTIFIER_SWAPS:
        assert words(first) == words(second) and tokens(first) != tokens(second)
        assert query_verdict(first, second) is False, (first, second)
        responses = ResponseCache(SemCache(), threshold=0.9)  # lexical: words only
        responses.update(Prompt(first, "", first), "m", "answer to the first")
        assert responses.lookup(Prompt(second, "", second), "m") is None, (first, second)
    # prose punctuation around tokens is not such a difference
    assert query_verdict("How tall is it?", "How tall is it") is True
    assert query_verdict('Is "alpha", the tower, open?', "Is alpha the tower open") is True
    # "!" may be a factorial: kept, so an exclamation is a difference (a miss, never wrong)
    assert query_verdict("Is the tower open?", "Is the tower open!") is False


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(alphabet="abcXY _/.=+-!?,;", min_size=1, max_size=6), min_size=1, max_size=6)
)
def test_tokens_ignore_whitespace_and_prose_punctuation_at_token_ends(parts: list[str]) -> None:
    from semcache_core.prompt_diff import tokens

    text = " ".join(parts)
    assert tokens(text) == tokens("  " + "   ".join(parts) + " ")  # spacing
    assert tokens(text) == tokens(text + "?") or text.rstrip().endswith(tuple("=+-/_cbaXY"))
    assert all(token and not token[0].isspace() for token in tokens(text))


SIGN_ORDER_AND_SYMBOL_SWAPS = [
    ("What is 10!?", "What is 10?"),  # a factorial
    ("What is f' at x = 2?", "What is f at x = 2?"),  # a derivative
    ("Is a .5 mg dose safe for a child?", "Is a 5 mg dose safe for a child?"),
    ("Convert -40 C to F", "Convert 40 C to F"),
    ("Is 7 greater than 3?", "Is 3 greater than 7?"),
    ("Flights from 9:30 to 11:00 today?", "Flights from 11:00 to 9:30 today?"),
    ("Explain item (a) of the contract.", "Explain item a of the contract."),
]


def test_signs_leading_points_order_and_symbols_at_token_ends_tell_questions_apart() -> None:
    """Each pair asks something else (found by review: every one was served the other's
    answer once its embedding cleared the threshold)."""
    from semcache_core.responses import query_verdict

    for first, second in SIGN_ORDER_AND_SYMBOL_SWAPS:
        assert query_verdict(first, second) is False, (first, second)
        assert query_verdict(second, first) is False, (second, first)


def test_numbers_keep_their_sign_point_and_order() -> None:
    assert numbers("at -40 take .5 mg, then 3.11 and 3.9") == ["-40", ".5", "3.11", "3.9"]
    assert numbers("pages 10-20, model x-5, v2.0, Python3.11") == ["10-20", "5", "2.0", "3.11"]
    assert numbers("2 - 3") == ["2", "3"]  # a minus between numbers is no sign


def test_a_sentence_added_after_the_shared_one_is_its_own_span() -> None:
    """A text that stops at its question mark shares that sentence with one that goes on
    (found in review: the boundary after the whitespace alone made both texts whole)."""
    for extra in (" Also, how do I delete my account?", "\nAlso how do I delete it?"):
        d = differing_spans("How do I reset my password?" + extra, "How do I reset my password?")
        assert (d.first, d.second) == (extra, "")


def test_two_differing_places_keep_only_their_own_sentences() -> None:
    context = "Source: wiki.\n" + EIFFEL
    first = RAG.format(context=context, question="How tall is it?")
    second = RAG.format(context=context.replace("wiki", "encyclopedia"), question="Who built it?")
    d = differing_sentences(first, second)
    assert (d.first, d.second) == ("wiki.\nHow tall is it?", "encyclopedia.\nWho built it?")
    assert d.shared_inside and not d.whole and not d.one_sided
    assert differing_sentences(first, first.replace("How tall", "How high")) == differing_spans(
        first, first.replace("How tall", "How high")
    )  # one place: the spans as they are


@settings(max_examples=400, deadline=None)
@given(_TEXTS, _TEXTS, _TEXTS, _TEXTS, _TEXTS, _TEXTS)
def test_differing_sentences_drop_only_sentences_both_spans_hold(
    head: str, x: str, y: str, middle: str, z: str, w: str
) -> None:
    first, second = head + x + middle + z, head + y + middle + w
    spans, d = differing_spans(first, second), differing_sentences(first, second)
    pairs = ((spans.first, d.first, spans.second), (spans.second, d.second, spans.first))
    for span, kept, other in pairs:
        if not d.shared_inside:
            assert kept == span
            continue
        assert joins_a_subsequence(kept, _sentences(span))
        # a sentence the other span lacks is never left out of the comparison
        assert all(s in kept for s in _sentences(span) if s not in _sentences(other))


def joins_a_subsequence(text: str, pieces: list[str]) -> bool:
    """Whether ``text`` is ``"\\n".join`` of some of ``pieces``, in their order."""

    @functools.cache
    def fits(at: int, start: int) -> bool:
        if at == len(text):
            return True
        for index in range(start, len(pieces)):
            piece = pieces[index]
            glue = "" if at == 0 else "\n"
            if text.startswith(glue + piece, at) and fits(at + len(glue + piece), index + 1):
                return True
        return False

    return text == "" or fits(0, 0)


def test_a_differing_line_of_symbols_is_still_compared() -> None:
    """Dropping lines without words from the alignment hid "==" / "!=" from the guards."""
    first = "Head.\nCompare the values.\nShared sentence.\n==\nTail."
    second = "Head.\nCompare the numbers.\nShared sentence.\n!=\nTail."
    d = differing_sentences(first, second)
    assert (d.first, d.second) == ("Compare the values.\n==", "Compare the numbers.\n!=")


def test_differing_lines_without_punctuation_are_not_read_as_one_sentence() -> None:
    """Joined by a space, the next line's capitalised first word ("How") stood mid-sentence
    and the names guard read it as a name: an obvious paraphrase was refused. (The pair
    as a whole is a miss now: its context changed along with its question.)"""
    first = "Context:\nthe tower is tall\nshared line\nHow tall is the tower"
    second = "Context:\nthe tower is very tall\nshared line\nWhat is the height of the tower"
    difference = differing_sentences(first, second)
    assert (difference.first, difference.second) == (
        "the tower is tall\nHow tall is the tower",
        "the tower is very tall\nWhat is the height of the tower",
    )
    assert passes(DEFAULT_GUARDS, difference.first, difference.second)  # "How": no name
    assert context_changed(difference) and query_verdict(first, second) is False


# --- long runs of punctuation and blanks: one pass, not one per character -----------------

# The sentence end as first written (a run of punctuation backtracked at every start):
# what sentence_boundaries must still find.
_PLAIN_SENTENCE_END = re.compile(r"((?:[.!?\u2026]+[\"'\u201d\u2019\u00bb)\]]*|:))\s+")
_PUNCTUATED = st.text(alphabet=list("ab .!?\u2026:\"')]\n\t\u00bb\u2019\u201d"), max_size=40)


@settings(max_examples=1000, deadline=None)
@given(_PUNCTUATED)
def test_sentence_boundaries_are_those_of_the_plain_pattern(text: str) -> None:
    expected = {0, len(text)}
    for match in _PLAIN_SENTENCE_END.finditer(text):
        expected.update((match.end(1), match.end()))
    expected.update(i + 1 for i, char in enumerate(text) if char == "\n")
    assert sentence_boundaries(text) == expected


def test_a_long_run_of_punctuation_or_blanks_is_read_in_one_pass() -> None:
    """100,000 dots, dashes or blanks in a prompt took minutes per lookup (each regex
    attempt scanned the rest of the run); a hung lookup fails here instead of hanging."""
    finished: list[bool] = []

    def compare_all() -> None:
        for run in (".", "!", "\u2026", "-", ")", " ", "\t"):
            long = "convert x to y" + run * 100_000 + "?"
            query_verdict(long, "convert y to x" + "." * 100_000 + "!")
            query_verdict(long, long + " Why?")
        finished.append(True)

    worker = threading.Thread(target=compare_all, daemon=True)
    worker.start()
    worker.join(timeout=120)  # seconds of work take ~1 s; the old patterns, hours
    assert finished == [True]
