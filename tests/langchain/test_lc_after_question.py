"""A chat whose last user message answers or follows a question asked earlier (by the user
or by the assistant) is a miss when that message differs: it is what the question is
about. Through ``set_llm_cache`` and ``CachedChatModel`` alike, with MiniLM; found by a
chat hunt, each served the other's answer before ("Is water damage covered?", then "The
warranty covers water damage." / "...excludes water damage.")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import FakeListChatModel
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from minilm_support import minilm

from semcache_integrations.langchain import CachedChatModel, SemCache
from semcache_integrations.langchain.llm_cache import split_prompt


class MiniLM:
    """MiniLM as LangChain ``Embeddings``."""

    def embed_query(self, text: str) -> list[float]:
        return minilm(text)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [minilm(text) for text in texts]


SYSTEM = SystemMessage("Answer the user's question.")
CHATS = [
    (
        [SYSTEM, HumanMessage("Is water damage covered?")],
        "The warranty covers water damage.",
        "The warranty excludes water damage.",
    ),
    (
        [SYSTEM, HumanMessage("Is this review positive?")],
        "The hotel was clean and quiet.",
        "The hotel was dirty and noisy.",
    ),
    (
        [HumanMessage("Is shipping free for me?"), AIMessage("Please paste the policy.")],
        "Shipping is free for members.",
        "Shipping is free for everyone.",
    ),
    (
        [HumanMessage("My car is making a noise."), AIMessage("When does it happen?")],
        "It squeaks when I brake.",
        "It squeaks when I accelerate.",
    ),
    (
        [HumanMessage("Help me write a toast."), AIMessage("For what occasion?")],
        "My brother's wedding.",
        "My brother's funeral.",
    ),
]


@pytest.fixture
def global_cache() -> Iterator[SemCache]:
    cache = SemCache(embedding=MiniLM(), threshold=0.8)
    set_llm_cache(cache)
    yield cache
    set_llm_cache(None)


def model() -> FakeListChatModel:
    return FakeListChatModel(responses=["first answer", "second answer"])


@pytest.mark.parametrize(("history", "first", "second"), CHATS)
def test_through_set_llm_cache_each_answer_is_its_own(
    global_cache: SemCache, history: list[BaseMessage], first: str, second: str
) -> None:
    chat = model()
    assert chat.invoke([*history, HumanMessage(first)]).content == "first answer"
    assert chat.invoke([*history, HumanMessage(second)]).content == "second answer"
    assert chat.invoke([*history, HumanMessage(first)]).content == "first answer"  # exact


@pytest.mark.parametrize(("history", "first", "second"), CHATS)
def test_through_cached_chat_model_each_answer_is_its_own(
    history: list[BaseMessage], first: str, second: str
) -> None:
    chat = CachedChatModel(model(), cache=SemCache(embedding=MiniLM(), threshold=0.8))
    assert chat.invoke([*history, HumanMessage(first)]).content == "first answer"
    streamed = "".join(str(c.content) for c in chat.stream([*history, HumanMessage(second)]))
    assert streamed == "second answer"


def test_a_follow_up_question_reworded_is_still_served(global_cache: SemCache) -> None:
    history = [HumanMessage("What is a good pasta dish?"), AIMessage("Try carbonara.")]
    chat = model()
    chat.invoke([*history, HumanMessage("How do I make carbonara?")])
    reworded = chat.invoke([*history, HumanMessage("How can I make carbonara?")])
    assert reworded.content == "first answer"


def test_the_prompt_follows_a_question_only_when_an_earlier_message_asks() -> None:
    def split(*messages: BaseMessage) -> bool:
        return split_prompt(dumps(list(messages))).after_question

    assert split(HumanMessage("Is it covered?"), HumanMessage("The warranty covers it."))
    assert split(AIMessage(content=[{"type": "text", "text": "Why?"}]), HumanMessage("Rain."))
    assert not split(SystemMessage("Be brief."), HumanMessage("Is it covered?"))
    assert not split(HumanMessage("Is it covered?"))
    assert not split(HumanMessage("Is it covered?"), AIMessage("Which one?"))  # no human after
