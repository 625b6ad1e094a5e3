"""SemCacheLLM's chat: a last user message that follows a question asked earlier (by the
user or by the assistant) and differs is a miss: it is what the question is about. Before,
"The warranty covers water damage." after "Is water damage covered?" was served for
"...excludes water damage." wherever the embedder put the two within the threshold."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_support import CountingLLM

from semcache_integrations.llama_index.llm import SemCacheLLM
from semcache_integrations.llama_index.prompts import chat_prompt


def message(role: MessageRole, text: str) -> ChatMessage:
    return ChatMessage(role=role, content=text)


USER, ASSISTANT, SYSTEM = MessageRole.USER, MessageRole.ASSISTANT, MessageRole.SYSTEM
CHATS = [
    ([message(USER, "Is water damage covered?")], "The warranty covers water damage.",
     "The warranty excludes water damage."),
    ([message(USER, "My car is making a noise."), message(ASSISTANT, "When does it happen?")],
     "It squeaks when I brake.", "It squeaks when I accelerate."),
]  # fmt: skip


@pytest.mark.parametrize(("history", "first", "second"), CHATS)
def test_each_answer_to_an_earlier_question_is_its_own(
    history: list[ChatMessage], first: str, second: str
) -> None:
    inner = CountingLLM(chat_model=True)
    llm = SemCacheLLM(inner, threshold=0.3)  # the hit rule decides, not the threshold
    answer = llm.chat([*history, message(USER, first)]).message.content
    assert llm.chat([*history, message(USER, second)]).message.content != answer
    assert inner.calls == 2
    assert llm.chat([*history, message(USER, first + " ")]).message.content == answer
    assert inner.calls == 2  # the same words, spaced otherwise: served


def test_the_prompt_follows_a_question_only_when_an_earlier_message_asks() -> None:
    def follows(*messages: ChatMessage) -> bool:
        found = chat_prompt(list(messages), {})
        assert found is not None
        return found.after_question

    assert follows(message(USER, "Is it covered?"), message(USER, "The warranty covers it."))
    assert follows(message(ASSISTANT, "Which day?"), message(USER, "Monday."))
    assert not follows(message(SYSTEM, "Be brief."), message(USER, "Is it covered?"))
    assert not follows(message(USER, "Is it covered?"))
