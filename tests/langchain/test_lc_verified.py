"""Verified mode, feedback and invalidate through LangChain's own flow (set_llm_cache and a
real fake model): explorations call the model, and the model's answer teaches the entry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from angle_texts import OTHER, PARAPHRASE, STORED, angle_embedder
from langchain_core.embeddings import Embeddings
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import BaseChatModel, FakeListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from observed import stored_observations

from semcache_core import InvalidArgumentError
from semcache_integrations.langchain.llm_cache import SemCache


class AngleEmbeddings(Embeddings):
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [angle_embedder(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return angle_embedder(text)


class CountingChat(FakeListChatModel):
    calls: int = 0

    def _call(self, *args: object, **kwargs: object) -> str:
        self.calls += 1
        return super()._call(*args, **kwargs)


class RecordingCache(SemCache):
    """Remembers what LangChain passed to the last lookup (to give feedback on it)."""

    last: tuple[str, str] = ("", "")

    def lookup(self, prompt: str, llm_string: str) -> object:
        self.last = (prompt, llm_string)
        return super().lookup(prompt, llm_string)

    async def alookup(self, prompt: str, llm_string: str) -> object:
        self.last = (prompt, llm_string)
        return await super().alookup(prompt, llm_string)


def install(**options: object) -> RecordingCache:
    cache = RecordingCache(embedding=AngleEmbeddings(), **options)  # type: ignore[arg-type]
    set_llm_cache(cache)
    return cache


@pytest.fixture(autouse=True)
def _no_global_cache() -> Iterator[None]:
    yield
    set_llm_cache(None)


def ask(model: CountingChat, text: str) -> str:
    return str(model.invoke([HumanMessage(text)]).content)


def test_an_exploration_calls_the_model_and_its_answer_teaches_the_entry() -> None:
    cache = install(threshold=0.5, max_error_rate=0.02)
    model = CountingChat(responses=["soak, then let dry"])
    ask(model, STORED)
    assert ask(model, PARAPHRASE) == "soak, then let dry"
    assert model.calls == 2  # explored: the model answered
    # the messages carry different run ids: the default judge compares the text only
    assert stored_observations(cache.engine) == [[[0.93, 1]]]
    assert cache.max_error_rate == 0.02
    assert cache.judge("a", "a") and not cache.judge("a", "b")


def test_a_judge_on_texts_sees_the_answers() -> None:
    seen: list[tuple[str, str]] = []

    def judge(cached: str, fresh: str) -> bool:
        seen.append((cached, fresh))
        return False

    cache = install(threshold=0.5, max_error_rate=0.02, judge=judge)
    model = CountingChat(responses=["first", "second"])
    ask(model, STORED)
    ask(model, PARAPHRASE)
    assert seen == [("first", "second")]
    assert stored_observations(cache.engine) == [[[0.93, 0]]]


def test_feedback_and_invalidate_reach_the_entry_that_served() -> None:
    cache = install(threshold=0.9)
    model = CountingChat(responses=["soak"])
    ask(model, STORED)
    assert ask(model, PARAPHRASE) == "soak" and model.calls == 1  # a semantic hit
    assert cache.feedback(*cache.last, correct=False) is True
    assert stored_observations(cache.engine) == [[[0.93, 0]]]
    ask(model, OTHER)
    assert cache.invalidate(*cache.last) is True
    assert stored_observations(cache.engine) == [[[0.93, 0], [0.91, 0]]]
    ask(model, STORED)
    assert cache.invalidate(*cache.last) is True  # its own entry, removed
    ask(model, STORED)
    assert model.calls == 2


async def test_async_feedback_and_invalidate() -> None:
    cache = install(threshold=0.9)
    model = CountingChat(responses=["soak"])
    await model.ainvoke([HumanMessage(STORED)])
    await model.ainvoke([HumanMessage(PARAPHRASE)])
    assert await cache.afeedback(*cache.last, correct=True) is True
    await model.ainvoke([HumanMessage(OTHER)])
    assert await cache.ainvalidate(*cache.last) is True
    assert stored_observations(cache.engine) == [[[0.93, 1], [0.91, 0]]]


class ToolCaller(BaseChatModel):
    """Answers every prompt with a tool call only (no text), its argument ``argument`` or
    else the prompt's last word, under a new call id each time: how tool-calling and
    structured-output models answer."""

    calls: int = 0
    argument: str | None = None

    @property
    def _llm_type(self) -> str:
        return "tool-caller"

    def _generate(self, messages: list[BaseMessage], *args: object, **kwargs: object) -> ChatResult:
        self.calls += 1
        about = self.argument or str(messages[-1].content).split()[-1]
        call = {"name": "lookup", "args": {"about": about}}
        message = AIMessage("", tool_calls=[{**call, "id": f"call-{self.calls}"}])
        return ChatResult(generations=[ChatGeneration(message=message)])


def test_an_answer_that_only_calls_a_tool_is_judged_by_its_calls() -> None:
    seen: list[tuple[str, str]] = []

    def judge(cached: str, fresh: str) -> bool:
        seen.append((cached, fresh))
        return cached == fresh

    cache = install(threshold=0.5, max_error_rate=0.02, judge=judge)
    model = ToolCaller()
    model.invoke([HumanMessage(STORED)])
    model.invoke([HumanMessage(PARAPHRASE)])  # explored: the model calls with another argument
    assert model.calls == 2
    assert seen == [
        ('\n{"args": {"about": "cactus"}, "name": "lookup"}',
         '\n{"args": {"about": "routine"}, "name": "lookup"}'),
    ]  # fmt: skip
    assert stored_observations(cache.engine) == [[[0.93, 0]]]  # text alone ("" == "") was right


def test_the_same_tool_call_under_a_new_call_id_is_judged_right() -> None:
    cache = install(threshold=0.5, max_error_rate=0.02)
    model = ToolCaller(argument="cactus")
    model.invoke([HumanMessage(STORED)])
    model.invoke([HumanMessage("how often does a cactus need water")])
    assert model.calls == 2
    assert stored_observations(cache.engine) == [[[0.95, 1]]]


@pytest.mark.parametrize(("option", "value"), [("max_error_rate", 0), ("judge", "exact")])
def test_bad_options_are_refused(option: str, value: object) -> None:
    with pytest.raises(InvalidArgumentError, match=option):
        SemCache(**{option: value})  # type: ignore[arg-type]
