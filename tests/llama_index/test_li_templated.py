"""``Settings.llm = SemCacheLLM(my_llm, threshold=0.87)`` (the README's block) under a default
``VectorStoreIndex`` query engine: each question gets its own answer.

The index is real (LlamaIndex's ``VectorStoreIndex`` over a deterministic local embedding);
the LLM is a ``CustomLLM`` that answers the query it finds in the prompt LlamaIndex built.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.base.llms.types import CompletionResponse, CompletionResponseGen, LLMMetadata
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_support import FunctionEmbedding
from minilm_support import MINILM_THRESHOLD, minilm
from pydantic import Field

from semcache_core import HashingEmbedder
from semcache_integrations.llama_index.llm import SemCacheLLM

ANSWERS = {
    "How tall is the Eiffel Tower?": "330 metres",
    "What is the height of the Eiffel Tower?": "330 metres (asked again)",
    "Who designed the Eiffel Tower?": "Gustave Eiffel's company",
    "When was the Eiffel Tower built?": "1887 to 1889",
    "Where is the Eiffel Tower?": "Paris",
}
FACTS = (
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. "
    "It is named after the engineer Gustave Eiffel, whose company designed and built the "
    "tower from 1887 to 1889. It is 330 metres tall."
)


class PerQuestionLLM(CustomLLM):
    """Answers the ``Query:`` line of the prompt from ``ANSWERS``; counts its calls."""

    calls: int = Field(default=0, exclude=True)  # not part of the model identity

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="per-question")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.calls += 1
        query = re.search(r"Query: (.*)\n", prompt)
        return CompletionResponse(text=ANSWERS[query.group(1)] if query else "?")

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        raise NotImplementedError


class Lexical(FunctionEmbedding):
    """The built-in lexical embedder as a LlamaIndex embedding (retrieval only)."""

    def _vector(self, text: str) -> list[float]:
        return [float(x) for x in HashingEmbedder(dim=64).embed_query(text)]


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``Settings`` with its LLM and embedding model restored after the test."""
    monkeypatch.setattr(Settings, "_llm", None)
    monkeypatch.setattr(Settings, "_embed_model", None)
    Settings.embed_model = Lexical()
    yield Settings


def engine() -> Any:
    return VectorStoreIndex.from_documents([Document(text=FACTS)]).as_query_engine()


@pytest.mark.parametrize(
    "embed_model", [pytest.param(None, id="lexical"), pytest.param(minilm, id="minilm")]
)
def test_each_question_gets_its_own_answer(settings: Any, embed_model: Any) -> None:
    inner = PerQuestionLLM()
    settings.llm = SemCacheLLM(inner, embed_model=embed_model, threshold=0.87)
    queries = engine()
    questions = [q for q in ANSWERS if "height" not in q]
    for question in questions:
        assert str(queries.query(question)) == ANSWERS[question]
    assert inner.calls == len(questions)
    assert str(queries.query("Who designed the Eiffel Tower?")) == "Gustave Eiffel's company"
    assert inner.calls == len(questions)  # the repeat is an exact hit


def test_a_paraphrase_hits_with_minilm(settings: Any) -> None:
    inner = PerQuestionLLM()
    settings.llm = SemCacheLLM(inner, embed_model=minilm, threshold=MINILM_THRESHOLD)
    queries = engine()
    assert str(queries.query("How tall is the Eiffel Tower?")) == "330 metres"
    assert str(queries.query("What is the height of the Eiffel Tower?")) == "330 metres"
    assert inner.calls == 1


class ContextEchoLLM(PerQuestionLLM):
    """Answers with the retrieved context (between the dashed lines of LlamaIndex's QA
    prompt): what a model grounded in that context says."""

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="context-echo")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.calls += 1
        return CompletionResponse(text=re.split(r"-{5,}", prompt)[1].strip())

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        text = self.complete(prompt, formatted).text
        half = len(text) // 2
        yield CompletionResponse(text=text[:half], delta=text[:half])
        yield CompletionResponse(text=text, delta=text[half:])


POLICY = (
    "For every order placed through the online store or through the mobile application "
    "during the regular season, refunds are paid back to the {} after the returned parcel "
    "has been inspected by our warehouse team in the usual way."
)


@pytest.mark.parametrize(
    "embed_model", [pytest.param(None, id="lexical"), pytest.param(minilm, id="minilm")]
)
def test_a_context_one_word_apart_gets_its_own_answer(settings: Any, embed_model: Any) -> None:
    """Two tenants' documents differ in one word of a long sentence ("buyer" / "seller"):
    the whole sentences embed alike (lexical 0.95, MiniLM 0.95), the swapped words do not."""
    inner = ContextEchoLLM()
    threshold = 0.95 if embed_model is None else MINILM_THRESHOLD
    settings.llm = SemCacheLLM(inner, embed_model=embed_model, threshold=threshold)
    for party in ("buyer", "seller"):
        index = VectorStoreIndex.from_documents([Document(text=POLICY.format(party))])
        answer = str(index.as_query_engine().query("How are refunds paid?"))
        assert f"paid back to the {party}" in answer
    assert inner.calls == 2


# --- the review: short contexts whose differing sentences embed alike (MiniLM 0.875) -------

SHORT_CONTEXTS = [
    ("Shipping is free for members.", "Shipping is free for everyone.", "Who gets free shipping?"),
    ("Tickets can be refunded online.", "Tickets can be refunded at the counter.", "How?"),
    ("The gym is open to residents.", "The gym is open to the public.", "Who can use the gym?"),
]


@pytest.mark.parametrize(("first", "second", "question"), SHORT_CONTEXTS)
@pytest.mark.parametrize("streaming", [False, True], ids=["query", "streaming"])
def test_the_same_question_over_another_context_is_never_served(
    settings: Any, first: str, second: str, question: str, streaming: bool
) -> None:
    """Only the template call's question is compared by meaning: its retrieved context,
    like the template, must match exactly."""
    inner = ContextEchoLLM()
    settings.llm = SemCacheLLM(inner, embed_model=minilm, threshold=MINILM_THRESHOLD)
    for context in (first, second, first):
        index = VectorStoreIndex.from_documents([Document(text=context)])
        answer = index.as_query_engine(streaming=streaming).query(question)
        text = "".join(answer.response_gen) if streaming else str(answer)
        assert text == context
    assert inner.calls == 2  # the third is the first's exact hit


class ChatContextEcho(ContextEchoLLM):
    """A chat model (LlamaIndex formats templates into messages for it)."""

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="chat-context-echo", is_chat_model=True)


@pytest.mark.parametrize("chat", [False, True], ids=["completion", "chat"])
def test_template_calls_compare_only_the_question(chat: bool) -> None:
    """predict / stream / apredict / astream, the question given or partially formatted
    (as response synthesizers do): a paraphrase over the same context hits, the same
    question over another context does not, and a call outside any template compares
    the whole prompt as before."""
    import asyncio

    from llama_index.core.prompts import PromptTemplate

    inner = ChatContextEcho() if chat else ContextEchoLLM()
    llm = SemCacheLLM(inner, embed_model=minilm, threshold=MINILM_THRESHOLD)
    template = PromptTemplate("Context:\n-----\n{context_str}\n-----\nQuery: {query_str}\nAnswer:")

    async def astreamed(**args: Any) -> str:
        return "".join([token async for token in await llm.astream(template, **args)])

    calls = [
        lambda **args: llm.predict(template, **args),
        lambda **args: "".join(llm.stream(template, **args)),
        lambda **args: asyncio.run(llm.apredict(template, **args)),
        lambda **args: asyncio.run(astreamed(**args)),
    ]
    for number, call in enumerate(calls):
        first, second, _ = SHORT_CONTEXTS[0]
        question = f"Who gets free shipping, case {number}?"
        assert call(context_str=first, query_str=question) == first
        paraphrase = f"Who is given free shipping, case {number}?"
        assert call(context_str=first, query_str=paraphrase) == first  # served
        partial = template.partial_format(query_str=question)
        assert llm.predict(partial, context_str=second) == second  # not served
        assert inner.calls == 2 * (number + 1)


def test_a_paraphrase_hits_when_the_context_holds_the_question_word_for_word() -> None:
    """An FAQ chunk retrieved for its own question: blanking every occurrence of the
    question set its paraphrases' prompts apart (found by the change's review)."""
    from llama_index.core.prompts import PromptTemplate

    inner = ContextEchoLLM()
    llm = SemCacheLLM(inner, embed_model=minilm, threshold=MINILM_THRESHOLD)
    template = PromptTemplate("Context:\n-----\n{context_str}\n-----\nQuery: {query_str}\nAnswer:")
    faq = "Eiffel Tower FAQ. How tall is the Eiffel Tower? It is 330 metres tall."
    first = llm.predict(template, context_str=faq, query_str="How tall is the Eiffel Tower?")
    again = llm.predict(
        template, context_str=faq, query_str="What is the height of the Eiffel Tower?"
    )
    assert first == again == faq and inner.calls == 1


def test_the_refine_template_blanks_its_own_question_not_the_chunks_copy() -> None:
    """LlamaIndex's refine template puts the question before the context: its last
    occurrence was the FAQ chunk's copy (found by review). The template's text before its
    slot finds the right one."""
    from llama_index.core.prompts.default_prompts import DEFAULT_REFINE_PROMPT

    inner = ContextEchoLLM()
    llm = SemCacheLLM(inner, embed_model=minilm, threshold=MINILM_THRESHOLD)
    faq = "FAQ. Q: How do I reset my password? A: Use the reset link on the login page."
    args = {"context_msg": f"-----\n{faq}\n-----", "existing_answer": "Use the reset link."}
    first = llm.predict(DEFAULT_REFINE_PROMPT, query_str="How do I reset my password?", **args)
    again = llm.predict(DEFAULT_REFINE_PROMPT, query_str="how can I reset my password", **args)
    assert first == again and inner.calls == 1
    other_chunk = {**args, "context_msg": "-----\nPasswords are reset by support.\n-----"}
    llm.predict(DEFAULT_REFINE_PROMPT, query_str="How do I reset my password?", **other_chunk)
    assert inner.calls == 2  # another context: its own answer
