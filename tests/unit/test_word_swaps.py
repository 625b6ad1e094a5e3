"""A few words swapped inside a long shared sentence (semcache_core.word_swaps): found on
examples and generated sentences, misspellings forgiven, and what the LLM caches serve."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from semcache_core.hit_rule import query_verdict
from semcache_core.responses import Prompt, ResponseCache
from semcache_core.word_swaps import (
    FUNCTION_WORDS,
    SHARED_MIN,
    _edits,
    is_english_word,
    is_misspelling,
    swapped_words,
)

LONG = (
    "Can you explain, step by step and in plain language for a new employee on the team, how to {}?"
)
# different questions that one long sentence holds (the built-in lexical embedder scores
# the first three 0.950-0.955 whole: served at its default 0.95 before; the fourth 0.920)
SWAPS = [
    ("approve an expense report", "appeal an expense report", ("approve", "appeal")),
    ("receive a refund", "refuse a refund", ("receive", "refuse")),
    ("pay the seller", "pay the buyer", ("seller", "buyer")),
    ("cancel my subscription", "cancel my order", ("subscription", "order")),
]
MISSPELT = [
    ("reset my password", "reset my pasword"),
    ("get a refund", "get a refnud"),
    ("receive a refund", "recieve a refund"),
]


@pytest.mark.parametrize(("first", "second", "swapped"), SWAPS)
def test_a_swap_inside_a_long_sentence_is_its_words(
    first: str, second: str, swapped: tuple[str, str]
) -> None:
    assert swapped_words(LONG.format(first), LONG.format(second)) == swapped
    # the swap rule alone (the guards may refuse first: "seller" / "buyer" are opposites)
    assert query_verdict(LONG.format(second), LONG.format(first), guards=()) == swapped[::-1]
    assert query_verdict(LONG.format(second), LONG.format(first)) in (swapped[::-1], False)


@pytest.mark.parametrize(("first", "second"), MISSPELT)
def test_a_misspelling_is_no_swap(first: str, second: str) -> None:
    assert swapped_words(LONG.format(first), LONG.format(second)) is None
    assert query_verdict(LONG.format(first), LONG.format(second)) is True


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("How tall is it?", "How high is it?"),  # too little shared
        ("Tell me whether pets may ride the bus", "Please explain whether pets may ride the bus"),
        ("How's the weather in Chicago today?", "What's the weather in Chicago today?"),
        (LONG.format("pay"), LONG.format("pay the seller")),  # added words: not a swap
        (LONG.format("pay the seller"), LONG.format("settle up with the seller")),  # 4 words
        (LONG.format("reset my password"), LONG.format("reset the password")),  # function words
        (LONG.format("why I'm locked out"), LONG.format("why I am locked out")),  # contraction
        (LONG.format("what\u2019s the limit"), LONG.format("what is the limit")),
        (LONG.format("why I can't pay"), LONG.format("why I cannot pay")),
        (LONG.format("send an e-mail"), LONG.format("send an email")),  # the same letters
        (LONG.format("how to log in"), LONG.format("how to login")),
        (LONG.format("cancel an order in the app"), LONG.format("cancel an order on my app")),
    ],
)  # fmt: skip
def test_no_swap_outside_a_long_shared_sentence(first: str, second: str) -> None:
    assert swapped_words(first, second) is None


@pytest.mark.parametrize(("first", "second", "swapped"), SWAPS[:3])
@pytest.mark.parametrize("asynchronous", [False, True])
def test_the_lexical_default_serves_no_swap_and_forgives_typos(
    first: str, second: str, swapped: tuple[str, str], asynchronous: bool
) -> None:
    import asyncio

    responses = ResponseCache()  # the built-in lexical embedder at its default 0.95

    def prompt(text: str) -> Prompt:
        return Prompt(exact=LONG.format(text), context="", query=LONG.format(text))

    def lookup(text: str) -> object:
        if asynchronous:
            return asyncio.run(responses.alookup(prompt(text), "m"))
        return responses.lookup(prompt(text), "m")

    responses.update(prompt(first), "m", "answer")
    assert lookup(second) is None
    responses.update(prompt("reset my password"), "m", "reset")
    assert lookup("reset my pasword") == "reset"
    stats = responses.stats()
    assert (stats.semantic_hits, stats.misses) == (1, 1)


# --- generated sentences -----------------------------------------------------------------

_VOCABULARY = (
    "the a my your how to can you explain step by plain language new team for on in of "
    "report refund order account invoice seller buyer approve appeal cancel renew "
    "password payment delivery"
)
_WORDS = st.sampled_from(_VOCABULARY.split())
_LONG_SIDE = st.lists(_WORDS, min_size=SHARED_MIN, max_size=12).map(" ".join)
_REPLACEMENT = st.lists(_WORDS, min_size=1, max_size=2).map(" ".join)


@settings(max_examples=500, deadline=None)
@given(_WORDS, _LONG_SIDE, _REPLACEMENT, _REPLACEMENT)
def test_a_generated_swap_is_found_unless_it_is_a_misspelling(
    opening: str, shared: str, old: str, new: str
) -> None:
    first, second = f"{opening} {old} {shared}", f"{opening} {new} {shared}"
    old_words, new_words = old.split(), new.split()
    assume(old_words[0] != new_words[0] and old_words[-1] != new_words[-1])  # a clean swap
    assume(old_words[-1] != shared.split()[0] and new_words[-1] != shared.split()[0])
    found = swapped_words(first, second)
    misspelt = len(old_words) == len(new_words) and all(map(is_misspelling, old_words, new_words))
    functional = FUNCTION_WORDS.issuperset(old_words + new_words)  # "my" / "the"
    assert found == (None if misspelt or functional else (old, new))
    assert swapped_words(second, first) == (None if found is None else found[::-1])


_LETTERS = st.text(alphabet="abcdefghij", min_size=2, max_size=12)


@settings(max_examples=500, deadline=None)
@given(_LETTERS, st.data())
def test_one_edit_after_the_first_letter_is_a_misspelling(word: str, data: st.DataObject) -> None:
    at = data.draw(st.integers(1, len(word) - 1))
    letter = data.draw(st.sampled_from("klmnop"))
    edits = [
        word[:at] + letter + word[at:],  # insertion
        word[:at] + word[at + 1 :],  # deletion
        word[:at] + letter + word[at + 1 :],  # substitution
    ]
    if at + 1 < len(word):
        edits.append(word[:at] + word[at + 1] + word[at] + word[at + 2 :])  # transposition
    for edited in edits:
        if edited == word:  # "aa" transposed
            continue
        both_words = is_english_word(word) and is_english_word(edited)  # "bead" / "bend"
        assert is_misspelling(word, edited) == is_misspelling(edited, word) == (not both_words)
    assert not is_misspelling(word, "z" + word[1:])  # another first letter: another word


@pytest.mark.parametrize(
    ("word", "other"),
    [("employer", "employee"), ("payer", "payee"), ("grantor", "grantee"),
     ("mortgagor", "mortgagee"), ("prevent", "present"), ("upload", "unload"),
     ("trial", "trail")],
)  # fmt: skip
def test_two_english_words_a_letter_apart_are_a_swap_not_a_misspelling(
    word: str, other: str
) -> None:
    """Found by review: each was taken for a typo of the other, so the swap was never
    compared and the cached answer for the other role or verb was served."""
    assert not is_misspelling(word, other)
    assert swapped_words(LONG.format(word), LONG.format(other)) == (word, other)


@pytest.mark.parametrize(
    ("word", "typo"),
    [("password", "pasword"), ("receive", "recieve"), ("refund", "refnud"),
     ("separate", "seperate"), ("address", "adress"), ("color", "colour")],
)  # fmt: skip
def test_a_misspelt_word_is_still_forgiven(word: str, typo: str) -> None:
    assert is_misspelling(word, typo)
    assert swapped_words(LONG.format(word), LONG.format(typo)) is None


@settings(max_examples=500, deadline=None)
@given(_LETTERS, _LETTERS)
def test_misspelling_is_symmetric(word: str, other: str) -> None:
    assert is_misspelling(word, other) == is_misspelling(other, word)


def _reference_edits(a: str, b: str) -> int:
    """Optimal string alignment distance, the whole table (the definition)."""
    table = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i][j] = min(
                table[i - 1][j] + 1,
                table[i][j - 1] + 1,
                table[i - 1][j - 1] + (a[i - 1] != b[j - 1]),
            )
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
    return table[-1][-1]


@settings(max_examples=1000, deadline=None)
@given(st.text("abc", max_size=9), st.text("abc", max_size=9), st.sampled_from([1, 2]))
def test_edits_agree_with_the_definition_within_the_limit(a: str, b: str, limit: int) -> None:
    distance = _reference_edits(a, b)
    found = _edits(a, b, limit)
    assert found == distance if distance <= limit else found > limit


def test_a_long_token_is_no_misspelling_and_costs_no_table() -> None:
    """A DNA sequence with one base changed: not a word, and a lookup must not spend
    seconds on a table of it (a 6,000-letter pair took 14 s)."""
    sequence = "acgt" * 1500
    changed = sequence[:3000] + "t" + sequence[3001:]
    assert not is_misspelling(sequence, changed)
    assert _edits(sequence, changed, 2) == 1  # only the diagonal band is filled
    found = swapped_words(LONG.format(f"align {sequence}"), LONG.format(f"align {changed}"))
    assert found == (sequence, changed)
