"""ResponseCache on templated (RAG, support-bot) prompts: the differing sentences decide.

Each case runs with the built-in lexical embedder at the default threshold and with
all-MiniLM-L6-v2 at the threshold the README recommends for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from minilm_support import MINILM_THRESHOLD, minilm

from semcache_core.responses import Prompt, ResponseCache

RAG = (
    "You are a helpful assistant. Answer the question using only the context below. If the "
    "answer is not in the context, say that you don't know.\n\nContext:\n{context}\n\n"
    "Question: {question}\nAnswer:"
)
EIFFEL = (
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. "
    "It is named after the engineer Gustave Eiffel, whose company designed and built the "
    "tower from 1887 to 1889. It is 330 metres tall."
)
SUPPORT = (
    "You are Acme's customer support assistant. Be polite, concise and accurate. Never "
    "promise refunds you cannot give.\nCustomer message: {question}\nReply:"
)

EMBEDDERS = [
    pytest.param((None, 0.95), id="lexical@0.95"),
    pytest.param((minilm, MINILM_THRESHOLD), id=f"minilm@{MINILM_THRESHOLD}"),
]


def prompt(text: str) -> Prompt:
    """A completion-style prompt: the whole text is the query (the hardest case)."""
    return Prompt(exact=text, context="", query=text)


def rag(question: str, context: str = EIFFEL) -> Prompt:
    return prompt(RAG.format(context=context, question=question))


def support(question: str) -> Prompt:
    return prompt(SUPPORT.format(question=question))


@pytest.fixture(params=EMBEDDERS)
def responses(request: pytest.FixtureRequest) -> ResponseCache:
    embedder, threshold = request.param
    return ResponseCache(embedder=embedder, threshold=threshold)


def test_same_rag_template_different_questions_miss(responses: ResponseCache) -> None:
    responses.update(rag("How tall is the Eiffel Tower?"), "m", "330 metres")
    for question in (
        "Who designed the Eiffel Tower?",
        "When was the Eiffel Tower built?",
        "Where is the Eiffel Tower?",
    ):
        assert responses.lookup(rag(question), "m") is None, question
    assert responses.lookup(rag("How tall is the Eiffel Tower?"), "m") == "330 metres"


def test_same_support_template_different_questions_miss(responses: ResponseCache) -> None:
    responses.update(support("I want to cancel my subscription"), "m", "cancelled subscription")
    responses.update(support("Please translate 'good morning' into French."), "m", "Bonjour")
    assert responses.lookup(support("I want to cancel my order"), "m") is None
    assert responses.lookup(support("Please translate 'good night' into French."), "m") is None
    assert responses.stats().semantic_hits == 0


def test_same_question_over_another_retrieved_context_misses(responses: ResponseCache) -> None:
    question = "Where is the warehouse?"
    leeds = "The warehouse is in Leeds. It ships Monday to Friday."
    rotterdam = "Our only depot is in Rotterdam. It ships Monday to Friday."
    responses.update(rag(question, leeds), "m", "Leeds")
    assert responses.lookup(rag(question, rotterdam), "m") is None


def test_a_different_number_in_the_context_misses(responses: ResponseCache) -> None:
    question = "What does the premium plan cost?"
    responses.update(rag(question, "The premium plan costs $20 per month."), "m", "$20")
    assert responses.lookup(rag(question, "The premium plan costs $35 per month."), "m") is None


def test_an_extra_sentence_misses(responses: ResponseCache) -> None:
    responses.update(support("Cancel my order."), "m", "cancelled")
    assert responses.lookup(support("Cancel my order.\nAnd delete my account."), "m") is None


def test_whitespace_and_punctuation_only_differences_hit(responses: ResponseCache) -> None:
    responses.update(rag("How tall is the Eiffel Tower?"), "m", "330 metres")
    text = RAG.format(context=EIFFEL, question="How tall is the Eiffel Tower?")
    assert responses.lookup(prompt(text.replace("\n\nQuestion", "\n\n\nQuestion")), "m")
    assert responses.lookup(prompt(text.replace("Tower?", "Tower??")), "m") == "330 metres"
    assert responses.stats().semantic_hits == 2


def test_a_near_repeat_inside_the_template_still_hits(responses: ResponseCache) -> None:
    responses.update(support("How do I reset my password?"), "m", "Use the reset link.")
    assert responses.lookup(support("how do I reset my password"), "m") == "Use the reset link."


def test_a_paraphrase_inside_the_template_hits_with_minilm() -> None:
    responses = ResponseCache(embedder=minilm, threshold=MINILM_THRESHOLD)
    responses.update(rag("How tall is the Eiffel Tower?"), "m", "330 metres")
    assert responses.lookup(rag("What is the height of the Eiffel Tower?"), "m") == "330 metres"
    responses.update(support("Do you ship to Canada?"), "m", "Yes")
    assert responses.lookup(support("Do you ship to Australia?"), "m") is None


SOURCES = ("Source: wiki.", "Source: encyclopedia.")
MORE = " It is the most visited paid monument in the world. Tickets are sold online."


def test_a_context_line_and_the_question_both_differing_misses(
    responses: ResponseCache,
) -> None:
    """The span ran from the first difference to the last, holding the shared context
    whose embedding decided: "What is the Eiffel Tower made of?" got "330 metres"."""
    context = f"{SOURCES[0]}\n{EIFFEL}{MORE}"
    responses.update(rag("How tall is the Eiffel Tower?", context), "m", "330 metres")
    other = f"{SOURCES[1]}\n{EIFFEL}{MORE}"
    for question in ("What is the Eiffel Tower made of?", "How tall is the Eiffel Tower?"):
        assert responses.lookup(rag(question, other), "m") is None  # the context differs


def test_retrieved_chunks_in_another_order_with_another_question_miss(
    responses: ResponseCache,
) -> None:
    """Retrievers rank the same chunks in another order for another question: the span ran
    from the first chunk to the question, and the shared chunks decided."""
    template = (
        "Context information is below.\n---------------------\n{context}\n"
        "---------------------\nGiven the context information and not prior knowledge, "
        "answer the query.\nQuery: {question}\nAnswer: "
    )
    chunks = [
        "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris. It "
        "is made of puddled iron.",
        "The tower was designed by the company of the engineer Gustave Eiffel and built for "
        "the World's Fair.",
        "It is the most visited paid monument in the world. Visitors can climb the stairs or "
        "take the lifts.",
    ]

    def asked(question: str, order: tuple[int, ...]) -> Prompt:
        context = "\n\n".join(chunks[i] for i in order)
        return prompt(template.format(context=context, question=question))

    responses.update(asked("How tall is the Eiffel Tower?", (0, 1, 2)), "m", "330 metres")
    for question in ("What is the Eiffel Tower made of?", "Who designed the Eiffel Tower?"):
        assert responses.lookup(asked(question, (1, 0, 2)), "m") is None


def test_a_paraphrase_still_hits_when_a_shared_sentence_follows_it() -> None:
    """Sentences shared after the differing ones are left out of the comparison, not
    counted against it."""
    responses = ResponseCache(embedder=minilm, threshold=MINILM_THRESHOLD)
    template = "Question: {}\nContext:\n" + EIFFEL + "\nAnswer briefly."
    responses.update(prompt(template.format("How tall is the Eiffel Tower?")), "m", "330 m")
    found = responses.lookup(
        prompt(template.format("What is the height of the Eiffel Tower?")), "m"
    )
    assert found == "330 m"


@pytest.mark.parametrize("setting", EMBEDDERS)
async def test_async_lookups_decide_the_same(setting: tuple[Any, float]) -> None:
    embedder, threshold = setting
    responses = ResponseCache(embedder=embedder, threshold=threshold)
    await responses.aupdate(rag("How tall is the Eiffel Tower?"), "m", "330 metres")
    assert await responses.alookup(rag("Who designed the Eiffel Tower?"), "m") is None
    assert await responses.alookup(rag("How tall is the Eiffel Tower? "), "m") == "330 metres"
    stats = responses.stats()
    assert (stats.semantic_hits, stats.misses) == (1, 1)


def table_embedder(table: dict[str, float]) -> Callable[[str], list[float]]:
    """Each known text at its angle (degrees) on a circle: cosine = cos(angle difference)."""

    def embed(text: str) -> list[float]:
        angle = math.radians(table[text])
        return [math.cos(angle), math.sin(angle)]

    return embed


def test_a_wrong_template_neighbour_ranked_first_does_not_hide_the_paraphrase() -> None:
    template = "Answer from the manual.\nQuestion: {}\n"
    near, paraphrase, query = "Where is it?", "How high is it?", "How tall is it?"
    embed = table_embedder(
        {
            template.format(near): 1.0,  # whole texts: the wrong neighbour ranks first
            template.format(paraphrase): 5.0,
            template.format(query): 0.0,
            near: 60.0,  # differing sentences: only the paraphrase is close
            paraphrase: 2.0,
            query: 0.0,
        }
    )
    responses = ResponseCache(embedder=embed, threshold=0.99)
    responses.update(prompt(template.format(near)), "m", "in the hall")
    responses.update(prompt(template.format(paraphrase)), "m", "3 metres")
    assert responses.lookup(prompt(template.format(query)), "m") == "3 metres"


def test_the_stored_query_text_is_kept_with_the_entry() -> None:
    responses = ResponseCache()
    responses.update(rag("How tall is the Eiffel Tower?"), "m", "330 metres")
    (key,) = responses.cache.scan(namespace=responses.namespace)
    entry = responses.cache.get_entry(key, namespace=responses.namespace)
    assert entry is not None
    assert entry.metadata["q"] == rag("How tall is the Eiffel Tower?").query
    assert set(entry.metadata) == {"q", "scope"}
