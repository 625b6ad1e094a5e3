"""The language guard (:mod:`semcache_core.guard_language`): the built-in guards read
English, so a prompt in another language or script is served exact hits only. A hunt of
prompts in eleven other languages (``benchmarks/data/hunts/thirteenth_wrong.jsonl``) was
served 120 wrong answers of 388 with MiniLM at 0.87 before it ("Welche Lebensmittel darf
man (nicht) essen?", "オーストリア / オーストラリア")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from minilm_support import MINILM_THRESHOLD, minilm, minilm_batch

from semcache_core.guard_language import (
    ENGLISH_WORDS,
    FOREIGN_WORDS,
    GREEK_LETTERS_ALLOWED,
    in_english,
    reads_as_english,
)
from semcache_core.guards import DEFAULT_GUARDS
from semcache_core.hit_rule import query_verdict
from semcache_core.responses import Prompt, ResponseCache

ROOT = Path(__file__).resolve().parents[2]
HUNT = ROOT / "benchmarks" / "data" / "hunts"


def _pairs(name: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (HUNT / name).read_text().splitlines()]


def _phrasings(path: Path) -> list[str]:
    return [p for line in path.read_text().splitlines() for p in json.loads(line)["phrasings"]]


REFUSED = [
    ("Welche Lebensmittel darf man bei Gicht essen?", "Welche darf man bei Gicht nicht essen?"),
    ("Quels aliments faut-il manger ?", "Quels aliments ne faut-il pas manger ?"),
    ("¿Cómo comprimo una carpeta en Linux?", "¿Cómo descomprimo una carpeta en Linux?"),
    ("Wo kann ich meinen Reisepass verlängern?", "Wann muss ich meinen Reisepass verlängern?"),
    ("Come si fa a ingrassare in modo sano?", "Come si fa a dimagrire in modo sano?"),
    ("Wat is de hoofdstad van Oostenrijk?", "Wat is de hoofdstad van Australië?"),
    ("A que horas abre a agência?", "A que horas fecha a agência?"),
    ("オーストリアの首都はどこ", "オーストラリアの首都はどこ"),
    ("Как включить тёмную тему?", "Как отключить тёмную тему?"),
    ("Explícame git rebase.", "Explain git rebase."),
    ("What does 猫 mean?", "What does 犬 mean?"),
]  # fmt: skip

ENGLISH = [
    "Who is Beyoncé?",
    "How do I make crème brûlée at home?",
    "How far is Rio de Janeiro from São Paulo?",
    "Tell me about La La Land",
    "Is Zürich expensive?",
    "Where is Los Angeles?",
    "Is a café au lait stronger than a latte?",
    "naïve bayes in python",
    "Write an op-ed opposing a ban on smartphones.",
    "What is the value of π times θ?",
    "What's the plural of 'der Hund' in German?",
    "git rebase",
]


@pytest.mark.parametrize(("first", "second"), REFUSED)
def test_another_language_or_script_is_refused(first: str, second: str) -> None:
    assert not in_english(first, second) and not in_english(second, first)
    assert query_verdict(first, second) is False


@pytest.mark.parametrize("text", ENGLISH)
def test_english_with_names_and_loanwords_reads_as_english(text: str) -> None:
    assert reads_as_english(text)


def test_every_stream_phrasing_reads_as_english() -> None:
    phrasings = _phrasings(ROOT / "examples" / "stream" / "intents.jsonl")
    phrasings += _phrasings(ROOT / "benchmarks" / "data" / "holdout" / "stream.jsonl")
    assert len(phrasings) > 1000
    assert [p for p in phrasings if not reads_as_english(p)] == []


def test_the_word_lists_do_not_overlap() -> None:
    assert not ENGLISH_WORDS & FOREIGN_WORDS


_ENGLISH_SENTENCES = st.lists(
    st.sampled_from(sorted(ENGLISH_WORDS))
    | st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=9).filter(
        lambda w: w not in FOREIGN_WORDS
    ),
    min_size=1,
    max_size=12,
).map(" ".join)
_OTHER_SCRIPTS = st.sampled_from(
    ["猫", "ねこ", "ネコ", "고양이", "кошка", "قطة", "बिल्ली", "חתול", "แมว"]
)


@settings(max_examples=300, deadline=None)
@given(sentence=_ENGLISH_SENTENCES)
def test_ascii_words_without_foreign_function_words_read_as_english(sentence: str) -> None:
    assert reads_as_english(sentence)
    assert reads_as_english(sentence.capitalize() + "?")


@settings(max_examples=300, deadline=None)
@given(sentence=_ENGLISH_SENTENCES, word=_OTHER_SCRIPTS, at=st.integers(0, 12))
def test_a_word_of_another_script_anywhere_is_refused(sentence: str, word: str, at: int) -> None:
    words = sentence.split()
    words.insert(min(at, len(words)), word)
    assert not reads_as_english(" ".join(words))


@settings(max_examples=200, deadline=None)
@given(greek=st.text(alphabet="αβγδεπτμλθ", min_size=1, max_size=8))
def test_a_few_greek_letters_are_mathematics_more_are_greek(greek: str) -> None:
    text = "what is the value of " + " ".join(greek)
    assert reads_as_english(text) is (len(greek) <= GREEK_LETTERS_ALLOWED)


@settings(max_examples=300, deadline=None)
@given(
    foreign=st.lists(st.sampled_from(sorted(FOREIGN_WORDS)), min_size=2, max_size=6),
    english=st.lists(st.sampled_from(sorted(ENGLISH_WORDS)), max_size=1),
    content=st.lists(st.text(alphabet="bcdfghklmnprstvz", min_size=4, max_size=8), max_size=4),
)
def test_more_foreign_function_words_than_english_ones_is_refused(
    foreign: list[str], english: list[str], content: list[str]
) -> None:
    assert not reads_as_english(" ".join([*foreign, *content, *english]))


def test_the_hunt_is_served_no_wrong_answer_and_dropping_the_guard_serves_paraphrases() -> None:
    wrong = [p for p in _pairs("thirteenth_wrong.jsonl") if "ambiguous" not in str(p["class"])]
    pairs = [*wrong, *_pairs("thirteenth_paraphrases.jsonl")]
    texts = sorted({str(p[side]) for p in pairs for side in ("a", "b")})
    encoded = dict(zip(texts, minilm_batch(texts), strict=True))  # one batch: seconds

    def embed(text: str) -> list[float]:
        return encoded[text] if text in encoded else minilm(text)

    without = tuple(g for g in DEFAULT_GUARDS if g is not in_english)
    served = {}
    for name, guards in (("default", None), ("without", without)):
        responses = ResponseCache(embedder=embed, threshold=MINILM_THRESHOLD, guards=guards)
        for number, pair in enumerate(pairs):
            first = str(pair["a"])
            responses.update(Prompt(first, "", first), f"m{number}", "cached")
        served[name] = [
            pair
            for number, pair in enumerate(pairs)
            if responses.lookup(Prompt(str(pair["b"]), "", str(pair["b"])), f"m{number}")
        ]
    assert [p for p in served["default"] if not p["same"]] == []
    # the guard is what refused them: without it, wrong answers and paraphrases are served
    assert [p for p in served["without"] if not p["same"]] != []
    assert [p for p in served["without"] if p["same"]] != []
