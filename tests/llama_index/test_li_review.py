"""Wrong answers a review found in ``SemCacheLLM`` under real LlamaIndex components: a ReAct
agent's tool results, structured outputs, evaluators, blank questions, and prompt settings
changed after wrapping.

Most tests give every query the same vector (``SAME``, no guards): any two calls in one
scope would then be a semantic hit, so only what must match exactly keeps them apart,
and no sentence model is needed.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llama_index.core import Document, Settings, VectorStoreIndex, get_response_synthesizer
from llama_index.core.agent.react.types import ObservationReasoningStep
from llama_index.core.agent.workflow import ReActAgent
from llama_index.core.base.llms.types import (
    ChatMessage,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.evaluation import (
    CorrectnessEvaluator,
    FaithfulnessEvaluator,
    GuidelineEvaluator,
    RelevancyEvaluator,
)
from llama_index.core.llms import CustomLLM, MockLLM
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.program import LLMTextCompletionProgram
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from llama_index.core.types import BaseOutputParser
from llama_support import CountingLLM
from pydantic import BaseModel, Field

from semcache_integrations.llama_index.llm import SemCacheLLM
from semcache_integrations.llama_index.prompts import chat_prompt

MEMBERS, EVERYONE = "Shipping is free for members.", "Shipping is free for everyone."


def same(text: str) -> list[float]:
    """Every text the same vector: a semantic hit wherever the scope matches."""
    return [1.0, 0.0, 0.0]


def cached(inner: Any) -> SemCacheLLM:
    return SemCacheLLM(inner, embed_model=same, threshold=0.5, guards=())


@pytest.fixture
def li_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``Settings`` with a local embedding; its LLM and embedding restored afterwards."""
    monkeypatch.setattr(Settings, "_llm", None)
    monkeypatch.setattr(Settings, "_embed_model", None)
    Settings.embed_model = MockEmbedding(embed_dim=8)
    yield Settings


# --- 1. a ReAct agent's tool results must match exactly ----------------------------------


class ReActScript(CustomLLM):
    """A ReAct model: calls the ``policy`` tool, then answers with what it returned."""

    calls: int = Field(default=0, exclude=True)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="react-script", is_chat_model=True)

    def _answer(self, prompt: str) -> str:
        self.calls += 1
        if "I need to check the policy." not in prompt:
            return "Thought: I need to check the policy.\nAction: policy\nAction Input: {}"
        observation = prompt.rsplit("Observation:", 1)[1].strip().splitlines()[0]
        return f"Thought: I can answer without using any more tools.\nAnswer: {observation}"

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self._answer(prompt))

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        text = self._answer(prompt)

        def chunks() -> CompletionResponseGen:
            yield CompletionResponse(text=text, delta=text)

        return chunks()


# the workflow library's own deprecations (pydantic attributes it reads, is_running)
@pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecationWarning")
@pytest.mark.filterwarnings("ignore:is_running called from within a step:DeprecationWarning")
def test_a_react_agent_gets_the_answer_its_own_tool_result_gives() -> None:
    """``ReActChatFormatter`` sends a tool's output as a user message ("Observation: ..."):
    it was the text compared by meaning, and another tool result got the first run's
    answer. It is context now; the query is the user's question."""
    policy = {"text": MEMBERS}
    tool = FunctionTool.from_defaults(
        fn=lambda: policy["text"], name="policy", description="Returns the shipping policy."
    )
    inner = ReActScript()
    llm = cached(inner)

    async def run(question: str) -> str:
        return str(await ReActAgent(tools=[tool], llm=llm).run(user_msg=question))

    def ask(question: str) -> str:
        return asyncio.run(run(question))

    assert ask("Is shipping free for me?") == MEMBERS and inner.calls == 2
    policy["text"] = EVERYONE
    assert ask("Is shipping free for me?") == EVERYONE  # the tool said otherwise: a miss
    assert inner.calls == 3  # its first step (question, no tool result yet) was served
    assert ask("Do I get free shipping?") == EVERYONE and inner.calls == 3  # a paraphrase


@settings(max_examples=50, deadline=None)
@given(
    first=st.text(min_size=1, max_size=40),
    second=st.text(min_size=1, max_size=40),
    role=st.sampled_from([MessageRole.USER, MessageRole.TOOL]),
)
def test_a_tool_result_is_context_never_the_query(first: str, second: str, role: Any) -> None:
    def prompt(observation: str) -> Any:
        step = ObservationReasoningStep(observation=observation).get_content()
        return chat_prompt(
            [
                ChatMessage(role=MessageRole.SYSTEM, content="You are a ReAct agent."),
                ChatMessage(role=MessageRole.USER, content="Is shipping free?"),
                ChatMessage(role=MessageRole.ASSISTANT, content="Action: policy"),
                ChatMessage(role=role, content=step),
            ],
            {},
        )

    one, two = prompt(first), prompt(second)
    assert one.query == two.query == "Is shipping free?"
    assert (one.context == two.context) == (first == second)


def test_a_chat_of_tool_results_alone_hits_exactly_only() -> None:
    messages = [ChatMessage(role=MessageRole.USER, content="Observation: 42")]
    prompt = chat_prompt(messages, {})
    assert prompt is not None and prompt.query == "" and prompt.context == prompt.exact


# --- 2. structured outputs compare only the question -------------------------------------


class Answer(BaseModel):
    answer: str


class ContextJSON(CustomLLM):
    """Answers JSON naming the last context line of the prompt (between dashed lines)."""

    calls: int = Field(default=0, exclude=True)
    chat_model: bool = False

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="context-json", is_chat_model=self.chat_model)

    def _answer(self, prompt: str) -> str:
        self.calls += 1
        found = re.search(r"-{5,}\n(.*?)\n-{5,}", prompt, re.S)
        context = found.group(1).strip().splitlines()[-1] if found else "?"
        return json.dumps({"answer": context, "query_satisfied": True})

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self._answer(prompt))

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        text = self._answer(prompt)
        middle = len(text) // 2

        def chunks() -> CompletionResponseGen:
            yield CompletionResponse(text=text[:middle], delta=text[:middle])
            yield CompletionResponse(text=text, delta=text[middle:])

        return chunks()


@pytest.mark.usefixtures("li_settings")
@pytest.mark.parametrize("chat", [False, True], ids=["completion", "chat"])
@pytest.mark.parametrize(
    "options",
    [{"output_cls": Answer}, {"structured_answer_filtering": True}],
    ids=["output_cls", "answer_filtering"],
)
def test_a_structured_query_engine_answers_each_context(
    options: dict[str, Any], chat: bool
) -> None:
    """``output_cls=`` goes through ``structured_predict`` and ``structured_answer_filtering``
    through ``LLMTextCompletionProgram``: both called ``complete`` / ``chat`` with the whole
    prompt as the query, so the same question over another context was served."""
    inner = ContextJSON(chat_model=chat)
    Settings.llm = cached(inner)
    for policy in (MEMBERS, "Nobody gets free shipping."):
        index = VectorStoreIndex.from_documents([Document(text=policy)])
        engine = index.as_query_engine(response_synthesizer=get_response_synthesizer(**options))
        assert policy in str(engine.query("Is shipping free for me?"))
    assert inner.calls == 2


STRUCTURED = PromptTemplate("Context:\n-----\n{context_str}\n-----\nQuery: {query_str}\nAnswer:")


def _structured_calls(llm: SemCacheLLM) -> list[Callable[..., Answer]]:
    def streamed(**args: Any) -> Answer:
        *_, last = llm.stream_structured_predict(Answer, STRUCTURED, **args)
        return Answer.model_validate(last.model_dump())

    async def astreamed(**args: Any) -> Answer:
        stream = await llm.astream_structured_predict(Answer, STRUCTURED, **args)
        parts = [part async for part in stream]
        return Answer.model_validate(parts[-1].model_dump())

    return [
        lambda **args: llm.structured_predict(Answer, STRUCTURED, **args),
        lambda **args: asyncio.run(llm.astructured_predict(Answer, STRUCTURED, **args)),
        streamed,
        lambda **args: asyncio.run(astreamed(**args)),
    ]


@pytest.mark.parametrize("chat", [False, True], ids=["completion", "chat"])
@pytest.mark.parametrize("way", range(4), ids=["sync", "async", "stream", "astream"])
def test_structured_predict_compares_only_the_question(chat: bool, way: int) -> None:
    inner = ContextJSON(chat_model=chat)
    call = _structured_calls(cached(inner))[way]
    question = f"Is shipping free for me? ({way})"
    assert call(context_str=MEMBERS, query_str=question).answer == MEMBERS
    assert call(context_str=EVERYONE, query_str=question).answer == EVERYONE  # a miss
    assert inner.calls == 2
    assert call(context_str=MEMBERS, query_str=f"Do I get free shipping? ({way})").answer == (
        MEMBERS
    )
    assert inner.calls == 2  # a paraphrase over the same context: served


def test_a_structured_prompt_outside_a_template_call_hits_exactly_only() -> None:
    """A program called directly names no question: its prompt is never compared by
    meaning (the schema instruction tells it apart)."""
    inner = ContextJSON()
    program = LLMTextCompletionProgram.from_defaults(
        output_cls=Answer, prompt=STRUCTURED, llm=cached(inner)
    )
    assert program(context_str=MEMBERS, query_str="Is shipping free?").answer == MEMBERS
    assert program(context_str=EVERYONE, query_str="Is shipping free?").answer == EVERYONE
    assert program(context_str=MEMBERS, query_str="Is shipping free?").answer == MEMBERS
    assert inner.calls == 2  # the repeat: an exact hit


# --- 3. evaluators name their question `query` -------------------------------------------


class Grader(CustomLLM):
    """Grades 5 an answer about members, 1 any other, naming the answer it graded."""

    calls: int = Field(default=0, exclude=True)
    as_json: bool = False

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="grader", is_chat_model=True)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.calls += 1
        found = re.search(r"## Generated Answer\n(.*)\n|\nResponse: (.*)\n", prompt)
        answer = next(group for group in found.groups() if group) if found else "?"
        good = "members" in answer
        if self.as_json:
            return CompletionResponse(text=json.dumps({"passing": good, "feedback": answer}))
        return CompletionResponse(text=f"{5.0 if good else 1.0}\n{answer}")

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        raise NotImplementedError


@pytest.mark.parametrize("kind", ["correctness", "guideline"])
async def test_an_evaluator_grades_each_answer(kind: str) -> None:
    """``{query}`` is the question of LlamaIndex's evaluators: the answer being graded was
    compared by meaning with the rest, and a grade was served for another answer."""
    inner = Grader(as_json=kind == "guideline")
    llm = cached(inner)
    if kind == "correctness":
        judge: Any = CorrectnessEvaluator(llm=llm)
        extra = {"reference": "Members get free shipping."}
    else:
        judge = GuidelineEvaluator(llm=llm, guidelines="Be correct.")
        extra = {}
    # the async entry: the sync one runs its own event loop, left for the collector
    first = await judge.aevaluate(query="Who gets free shipping?", response=MEMBERS, **extra)
    second = await judge.aevaluate(query="Who gets free shipping?", response=EVERYONE, **extra)
    assert (first.passing, second.passing) == (True, False) and inner.calls == 2
    again = await judge.aevaluate(query="Who is given free shipping?", response=MEMBERS, **extra)
    assert again.passing and inner.calls == 2  # the question paraphrased: served


class Checker(CustomLLM):
    """Says YES to a graded answer about members, NO to any other (what LlamaIndex's
    faithfulness and relevancy evaluators ask)."""

    calls: int = Field(default=0, exclude=True)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="checker")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.calls += 1
        graded = re.findall(r"(?:Information|Response): (\S.*)", prompt)
        return CompletionResponse(text="YES" if graded and "members" in graded[-1] else "NO")

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        raise NotImplementedError


@pytest.mark.parametrize("kind", ["faithfulness", "relevancy"])
async def test_an_evaluator_that_passes_the_graded_answer_as_its_question_grades_each(
    kind: str, li_settings: Any
) -> None:
    """Faithfulness passes the answer it grades as ``query_str`` ("Information:
    {query_str}"), relevancy the question and the answer ("Query and Response:"): a
    hunt found two answers alike in meaning given one grade ("free for students" / "...
    students and seniors"). Such a slot is no question: the call hits exactly only."""
    inner = Checker()
    llm = cached(inner)
    judge: Any = (
        FaithfulnessEvaluator(llm=llm) if kind == "faithfulness" else RelevancyEvaluator(llm=llm)
    )
    contexts = ["Members get free shipping."]
    asked = "Who gets free shipping?"
    first = await judge.aevaluate(query=asked, response=MEMBERS, contexts=contexts)
    second = await judge.aevaluate(query=asked, response=EVERYONE, contexts=contexts)
    assert (first.passing, second.passing) == (True, False) and inner.calls == 2
    again = await judge.aevaluate(query=asked, response=MEMBERS, contexts=contexts)
    assert again.passing and inner.calls == 2  # the same call: an exact hit


def test_a_question_slot_labelled_with_the_context_it_is_about_is_still_a_question() -> None:
    """Only a label that names no question ("Information:") or a response beside one
    ("Query and Response:") makes the slot an answer being graded."""
    inner = CountingLLM()
    llm = cached(inner)
    template = PromptTemplate("Answer the question about the context: {query_str}")
    first = llm.predict(template, query_str="Is shipping free?")
    assert llm.predict(template, query_str="Is shipping free of charge?") == first
    assert inner.calls == 1  # the question compared by meaning: a semantic hit


# --- 4. a template call whose question is not found hits exactly only --------------------

QA = PromptTemplate("Context:\n-----\n{context_str}\n-----\nQuery: {query_str}\nAnswer:")


@settings(max_examples=30, deadline=None)
@given(
    blank=st.text(alphabet=" \t\n", max_size=4),
    contexts=st.lists(
        st.text(alphabet=st.characters(codec="ascii", exclude_characters="{}"), min_size=1),
        min_size=2,
        max_size=2,
        unique=True,
    ),
)
def test_a_blank_question_never_compares_the_context(blank: str, contexts: list[str]) -> None:
    inner = MockLLM()  # echoes its prompt
    llm = cached(inner)
    for context in contexts:
        assert context in llm.predict(QA, context_str=context, query_str=blank)
    assert llm.stats().semantic_hits == 0


@pytest.mark.parametrize(
    ("template", "args"),
    [
        (PromptTemplate("Tell me about {topic}."), [{"topic": "cats"}, {"topic": "dogs"}]),
        (  # the question named, but the template has no slot for it
            PromptTemplate("Summarise: {text}"),
            [{"text": MEMBERS, "query_str": "policy"}, {"text": EVERYONE, "query_str": "policy"}],
        ),
    ],
    ids=["no-question", "no-slot"],
)
def test_a_template_call_without_its_question_hits_exactly_only(
    template: PromptTemplate, args: list[dict[str, Any]]
) -> None:
    inner = CountingLLM()
    llm = cached(inner)
    answers = [llm.predict(template, **each) for each in args]
    assert answers[0] != answers[1] and inner.calls == 2
    assert llm.predict(template, **args[0]) == answers[0] and llm.stats().exact_hits == 1


@pytest.mark.parametrize("name", ["query_str", "question", "query"])
def test_the_question_is_found_by_each_name(name: str) -> None:
    template = PromptTemplate(f"Context: {{context_str}}\nQ: {{{name}}}\nA:")
    inner = CountingLLM()
    llm = cached(inner)
    first = llm.predict(template, context_str=MEMBERS, **{name: "Who gets free shipping?"})
    assert llm.predict(template, context_str=MEMBERS, **{name: "Who ships free?"}) == first
    assert llm.predict(template, context_str=EVERYONE, **{name: "Who ships free?"}) != first
    assert inner.calls == 2 and llm.stats().semantic_hits == 1


# --- 5. prompt settings changed after wrapping are sent ----------------------------------


class Brief(BaseOutputParser):
    """Asks for a brief answer and shouts it."""

    def format(self, query: str) -> str:
        return f"{query}\nAnswer briefly."

    def parse(self, output: str) -> Any:
        return output.upper()


SETTINGS: dict[str, Any] = {
    "system_prompt": "Always answer in French.",
    "query_wrapper_prompt": PromptTemplate("[INST] {query_str} [/INST]"),
    "completion_to_prompt": lambda prompt: f"<s>{prompt}</s>",
    "output_parser": Brief(),
}


@pytest.mark.parametrize("name", list(SETTINGS))
@pytest.mark.parametrize("chat", [False, True], ids=["completion", "chat"])
def test_a_setting_changed_after_wrapping_is_sent(name: str, chat: bool) -> None:
    inner = MockLLM(is_chat_model=chat)  # echoes what it is sent
    llm = SemCacheLLM(inner)
    template = PromptTemplate("Q: {query_str}\nA:")
    setattr(inner, name, SETTINGS[name])
    expected = inner.predict(template, query_str="What is 2+2?")
    assert llm.predict(template, query_str="What is 2+2?") == expected
    if name != "output_parser":  # LlamaIndex streams no parsed output
        streamed = "".join(inner.stream(template, query_str="Why?"))
        assert "".join(llm.stream(template, query_str="Why?")) == streamed


def test_a_program_sends_the_system_prompt_set_after_wrapping() -> None:
    """``LLMTextCompletionProgram`` calls ``_extend_messages`` itself (chat models)."""
    seen: list[str] = []

    class Recorder(ContextJSON):
        def _answer(self, prompt: str) -> str:
            seen.append(prompt)
            return super()._answer(prompt)

    inner = Recorder(chat_model=True)
    llm = cached(inner)
    inner.system_prompt = "Always answer in French."
    program = LLMTextCompletionProgram.from_defaults(output_cls=Answer, prompt=STRUCTURED, llm=llm)
    program(context_str=MEMBERS, query_str="Is shipping free?")
    assert "Always answer in French." in seen[-1]


def test_a_setting_set_on_the_wrapper_stays_its_own() -> None:
    inner = MockLLM()
    llm = SemCacheLLM(inner)
    llm.system_prompt = "Wrapper's own."
    inner.system_prompt = "The inner one."
    template = PromptTemplate("Q: {query_str}\nA:")
    assert llm.predict(template, query_str="Why?").startswith("Wrapper's own.")
    given = SemCacheLLM(inner, system_prompt="Given.")
    inner.system_prompt = "Changed."
    assert given.predict(template, query_str="Why?").startswith("Given.")
