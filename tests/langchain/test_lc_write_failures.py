"""A cache write that fails after the model answered never costs the caller the answer.

The embeddings API refusing the write (a 429 on ``embed_documents``) and the cache closed
under a call stand for every failure of the write: each call below still returns (or
streams) the model's answer, with a ``CacheWriteWarning`` naming the error, stores
nothing, and the next call asks the model again. The caller's own mistakes still raise.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.globals import set_llm_cache
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import Generation

from semcache_core import CacheWriteWarning, InvalidArgumentError, InvalidValueError
from semcache_core import SemCache as Engine
from semcache_integrations.langchain import CachedChatModel, SemCache

QUESTION = "What is the capital of France?"
ANSWER = "Paris is the capital of France"


class RateLimitedEmbeddings(Embeddings):
    """Queries embed; documents (the write) hit the API's rate limit while ``limited``."""

    def __init__(self) -> None:
        self.limited = True

    def embed_query(self, text: str) -> list[float]:
        return [1.0, float(len(text) % 7), 0.5]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if self.limited:
            raise RuntimeError("429 Too Many Requests")
        return [self.embed_query(text) for text in texts]


class CountingFake(GenericFakeChatModel):
    """GenericFakeChatModel (streams word by word) that counts the calls reaching it (its
    streams generate first: each call goes through ``_generate`` once)."""

    calls: int = 0

    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return super()._generate(*args, **kwargs)


def fake() -> CountingFake:
    return CountingFake(messages=iter([AIMessage(content=ANSWER)] * 10))


def call(chat: CachedChatModel, how: str) -> str:
    if how == "invoke":
        return str(chat.invoke(QUESTION).content)
    if how == "stream":
        return "".join(str(chunk.content) for chunk in chat.stream(QUESTION))
    if how == "ainvoke":
        return str(asyncio.run(chat.ainvoke(QUESTION)).content)

    async def astream() -> str:
        return "".join([str(chunk.content) async for chunk in chat.astream(QUESTION)])

    return asyncio.run(astream())


@pytest.mark.parametrize("how", ["invoke", "stream", "ainvoke", "astream"])
def test_an_embedder_failing_on_the_write_costs_no_answer(how: str) -> None:
    embeddings = RateLimitedEmbeddings()
    model = fake()
    chat = CachedChatModel(model, cache=SemCache(embedding=embeddings))
    with pytest.warns(CacheWriteWarning, match="429 Too Many Requests"):
        assert call(chat, how) == ANSWER
    assert chat.llm_cache.stats().updates == 0
    embeddings.limited = False  # the API recovers: the next call is a miss, then stored
    assert call(chat, how) == ANSWER
    assert call(chat, how) == ANSWER
    assert model.calls == 2


class ClosingFake(CountingFake):
    """Closes the cache's engine while answering (as another thread could)."""

    engine: Any = None

    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        self.engine.close()
        return super()._generate(*args, **kwargs)


def test_a_cache_closed_during_the_call_costs_no_answer(tmp_path: Any) -> None:
    engine = Engine(path=tmp_path / "cache")
    model = ClosingFake(messages=iter([AIMessage(content=ANSWER)]), engine=engine)
    chat = CachedChatModel(model, cache=SemCache(cache=engine))
    with pytest.warns(CacheWriteWarning, match="CacheClosedError"):
        assert call(chat, "invoke") == ANSWER


def test_the_llm_cache_path_keeps_the_answer_too() -> None:
    """``set_llm_cache``: LangChain calls ``update`` with the answer in hand."""
    embeddings = RateLimitedEmbeddings()
    model = fake()
    set_llm_cache(SemCache(embedding=embeddings))
    try:
        with pytest.warns(CacheWriteWarning, match="429"):
            assert model.invoke(QUESTION).content == ANSWER
    finally:
        set_llm_cache(None)


def test_the_callers_own_mistakes_still_raise() -> None:
    cache = SemCache(embedding=RateLimitedEmbeddings())
    with pytest.raises(InvalidArgumentError, match="llm_string"):
        cache.update(QUESTION, 42, [Generation(text=ANSWER)])  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="generations"):
        cache.update(QUESTION, "model", "not generations")  # type: ignore[arg-type]
    assert cache.stats().updates == 0
