"""``set_llm_cache(SemCache())`` under a RAG ``ChatPromptTemplate``: each question its answer.

A real langchain-core chat model (a ``FakeListChatModel`` that answers per question) runs a
real ``prompt | model`` chain; the cache sees the prompts exactly as LangChain builds them.
The retrieved context and the question share the human message, as in most RAG chains.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.globals import set_llm_cache
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.prompts import ChatPromptTemplate
from minilm_support import MINILM_THRESHOLD, minilm
from pydantic import Field

from semcache_integrations.langchain import SemCache

ANSWERS = {
    "How tall is the Eiffel Tower?": "330 metres",
    "What is the height of the Eiffel Tower?": "330 metres (paraphrase)",
    "Who designed the Eiffel Tower?": "Gustave Eiffel's company",
    "When was the Eiffel Tower built?": "1887 to 1889",
    "Where is the Eiffel Tower?": "Paris",
}
CONTEXT = (
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. "
    "It is named after the engineer Gustave Eiffel, whose company designed and built the "
    "tower from 1887 to 1889. It is 330 metres tall."
)
PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", "You are a helpful assistant. Answer only from the context."),
        ("human", "Context:\n{context}\n\nQuestion: {question}\nAnswer:"),
    ]
)


class PerQuestionChat(FakeListChatModel):
    """Answers the question in the last message from ``ANSWERS``; counts its calls."""

    responses: list[str] = Field(default_factory=lambda: ["unused"])
    calls: int = 0

    def _call(self, messages: Any, *args: Any, **kwargs: Any) -> str:
        self.calls += 1
        question = re.search(r"Question: (.*)\n", str(messages[-1].content))
        return ANSWERS[question.group(1)] if question else "?"


class MiniLM(Embeddings):
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [minilm(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return minilm(text)


@pytest.fixture(
    params=[
        pytest.param((None, 0.95), id="lexical@0.95"),
        pytest.param((MiniLM(), MINILM_THRESHOLD), id=f"minilm@{MINILM_THRESHOLD}"),
    ]
)
def llm_cache(request: pytest.FixtureRequest) -> Iterator[SemCache]:
    embedding, threshold = request.param
    cache = SemCache(embedding=embedding, threshold=threshold)
    set_llm_cache(cache)
    yield cache
    set_llm_cache(None)


def ask(model: PerQuestionChat, question: str, context: str = CONTEXT) -> str:
    chain = PROMPT | model
    return str(chain.invoke({"context": context, "question": question}).content)


def test_each_question_gets_its_own_answer(llm_cache: SemCache) -> None:
    model = PerQuestionChat()
    questions = [q for q in ANSWERS if "height" not in q]
    for question in questions:
        assert ask(model, question) == ANSWERS[question]
    assert model.calls == len(questions)
    assert ask(model, "How tall is the Eiffel Tower?") == "330 metres"  # exact hit
    assert model.calls == len(questions)
    assert llm_cache.stats().semantic_hits == 0


def test_the_same_question_over_another_context_is_asked_again(llm_cache: SemCache) -> None:
    model = PerQuestionChat()
    ask(model, "Where is the Eiffel Tower?", "The warehouse is in Leeds.\nThe tower is tall.")
    ask(model, "Where is the Eiffel Tower?", "Our only depot is in Rotterdam.\nThe tower is tall.")
    assert model.calls == 2


async def test_async_chains_decide_the_same(llm_cache: SemCache) -> None:
    model = PerQuestionChat()
    chain = PROMPT | model
    first = await chain.ainvoke({"context": CONTEXT, "question": "How tall is the Eiffel Tower?"})
    other = await chain.ainvoke({"context": CONTEXT, "question": "Who designed the Eiffel Tower?"})
    assert (first.content, other.content) == ("330 metres", "Gustave Eiffel's company")
    assert model.calls == 2


def test_a_paraphrase_in_the_template_hits_with_minilm() -> None:
    set_llm_cache(SemCache(embedding=MiniLM(), threshold=MINILM_THRESHOLD))
    try:
        model = PerQuestionChat()
        assert ask(model, "How tall is the Eiffel Tower?") == "330 metres"
        assert ask(model, "What is the height of the Eiffel Tower?") == "330 metres"
        assert model.calls == 1
    finally:
        set_llm_cache(None)


def test_minilm_scores_the_whole_messages_alike() -> None:
    """Why whole-message comparison failed: the template makes different questions close."""
    whole = [
        PROMPT.format_messages(context=CONTEXT, question=q)[-1].content
        for q in ("How tall is the Eiffel Tower?", "Who designed the Eiffel Tower?")
    ]
    first, second = (np.asarray(minilm(str(text))) for text in whole)
    assert float(first @ second) >= MINILM_THRESHOLD
