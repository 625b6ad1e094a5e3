"""The LangChain cache's ``stats()`` tokens and USD saved, and ``sliding_ttl``, through real
chat models (``GenericFakeChatModel`` answering messages that carry ``usage_metadata``)
installed with ``set_llm_cache``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fakeclock import FakeClock
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import FakeListLLM
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage

from semcache_core import InvalidArgumentError
from semcache_core import SemCache as Engine
from semcache_integrations.langchain.llm_cache import SemCache
from semcache_integrations.langchain.usage import model_name

QUESTION = "How do I reset my password?"
PARAPHRASE = "how do I reset my password"
OTHER = "Where can I download my invoices?"


class NamedChat(GenericFakeChatModel):
    """A fake chat model whose llm_string names its model (as ChatOpenAI's does); every
    answer reports 120 input and 30 output tokens. ``calls`` counts the misses."""

    model_name: str = "gpt-4o-mini"
    calls: int = 0

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return super()._generate(*args, **kwargs)


class SerialisableChat(NamedChat):
    """Its llm_string is its serialised JSON, then ``---`` and the call's parameters."""

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True


def answers(n: int = 20) -> Iterator[AIMessage]:
    usage = {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150}
    return iter([AIMessage(f"answer {i}", usage_metadata=usage) for i in range(n)])  # type: ignore[arg-type]


@pytest.fixture
def installed() -> Iterator[list[SemCache]]:
    """Install a cache with ``installed.append(cache)``; uninstalled after the test."""
    caches: list[SemCache] = []
    yield caches
    set_llm_cache(None)


def install(caches: list[SemCache], cache: SemCache) -> SemCache:
    caches.append(cache)
    set_llm_cache(cache)
    return cache


@pytest.mark.parametrize("chat_class", [NamedChat, SerialisableChat])
def test_hits_save_the_cached_calls_tokens_and_cost(
    installed: list[SemCache], chat_class: type[NamedChat]
) -> None:
    cache = install(installed, SemCache(threshold=0.9, prices={"gpt-4o-mini": (0.15, 0.6)}))
    model = chat_class(messages=answers())
    first = model.invoke([HumanMessage(QUESTION)])
    assert model.invoke([HumanMessage(QUESTION)]).content == first.content  # exact
    assert model.invoke([HumanMessage(PARAPHRASE)]).content == first.content  # semantic
    model.invoke([HumanMessage(OTHER)])
    assert model.calls == 2
    stats = cache.stats()
    assert (stats.exact_hits, stats.semantic_hits, stats.misses, stats.updates) == (1, 1, 2, 2)
    assert (stats.input_tokens_saved, stats.output_tokens_saved) == (240, 60)
    assert stats.cost_saved == pytest.approx(2 * (120 * 0.15 + 30 * 0.6) / 1000)
    assert stats.unpriced_hits == 0


def test_another_models_hits_are_unpriced(installed: list[SemCache]) -> None:
    cache = install(installed, SemCache(prices={"gpt-4o": (2.5, 10.0)}))
    model = NamedChat(messages=answers(), model_name="gpt-4o-mini")  # not "gpt-4o"
    for _ in range(3):
        model.invoke([HumanMessage(QUESTION)])
    stats = cache.stats()
    assert (stats.exact_hits, stats.input_tokens_saved, stats.output_tokens_saved) == (2, 240, 60)
    assert (stats.cost_saved, stats.unpriced_hits) == (0.0, 2)


def test_responses_without_usage_save_no_tokens(installed: list[SemCache]) -> None:
    cache = install(installed, SemCache())
    llm = FakeListLLM(responses=["plain answer"] * 5)  # plain generations: no usage
    chat = NamedChat(messages=iter([AIMessage("no usage") for _ in range(5)]))
    for _ in range(2):
        llm.invoke(QUESTION)
        chat.invoke([HumanMessage(QUESTION)])
    stats = cache.stats()
    assert stats.exact_hits == 2
    assert (stats.input_tokens_saved, stats.output_tokens_saved, stats.cost_saved) == (0, 0, 0.0)


def test_async_calls_count_savings(installed: list[SemCache]) -> None:
    cache = install(installed, SemCache(threshold=0.9, prices={"gpt-4o-mini": (1.0, 1.0)}))
    model = NamedChat(messages=answers())

    async def scenario() -> None:
        await model.ainvoke([HumanMessage(QUESTION)])
        await model.ainvoke([HumanMessage(QUESTION)])
        await model.ainvoke([HumanMessage(PARAPHRASE)])

    asyncio.run(scenario())
    stats = cache.stats()
    assert (stats.exact_hits, stats.semantic_hits, stats.input_tokens_saved) == (1, 1, 240)
    assert stats.cost_saved == pytest.approx(0.3)


@pytest.mark.parametrize(
    "llm_string,name",
    [
        ("[('_type', 'openai-chat'), ('model_name', 'gpt-4o'), ('stop', None)]", "gpt-4o"),
        ("[('_type', 'anthropic-chat'), ('model', 'claude-x'), ('stop', None)]", "claude-x"),
        ("[('model', 'generic'), ('model_name', 'specific')]", "specific"),
        ("[('_type', 'x'), ('client', <Client object at 0x7f>), ('model', 'm-1')]", "m-1"),
        ('{"kwargs": {"model_name": "json-model"}, "lc": 1}---[(\'stop\', None)]', "json-model"),
        ('{"kwargs": {"model": "constructor"}}---[(\'model\', \'per-call\')]', "per-call"),
        ('{"kwargs": {"model_id": "bedrock-id"}}---[]', "bedrock-id"),
        ("[('_type', 'fake-list-chat-model'), ('responses', ['a']), ('stop', None)]", None),
        ("not a repr at all", None),
        ('{"kwargs": ["odd"]}---[]', None),
        ("[('model_name', 3)]", None),
    ],
)
def test_model_name_rule(llm_string: str, name: str | None) -> None:
    assert model_name(llm_string) == name


@settings(max_examples=100, deadline=None)
@given(
    name=st.text(alphabet="abcdefghij-0123456789.", min_size=1, max_size=12),
    stop=st.lists(st.sampled_from(["---", "--", "\n---\n", "END", "a---b"]), max_size=3),
    serialisable=st.booleans(),
)
def test_a_stop_sequence_with_dashes_hides_no_model_name(
    name: str, stop: list[str], serialisable: bool
) -> None:
    """The llm_string was split at its first "---": a stop sequence "---" (in the call's
    params, or in a serialisable model's JSON) hid the name, and hits went unpriced."""
    params = str(sorted({"model_name": name, "stop": stop}.items()))
    if serialisable:
        model = json.dumps({"lc": 1, "kwargs": {"model_name": name, "stop": stop}})
        assert model_name(f"{model}---{params}") == name
        assert model_name(f"{model}---[('stop', {stop!r})]") == name  # from the JSON
    else:
        assert model_name(params) == name


@pytest.mark.parametrize(
    "prices", [{"gpt-4o": (1.0, -1.0)}, {"gpt-4o": (float("nan"), 1.0)}, {"gpt-4o": 1.0}]
)
def test_bad_prices_are_refused_at_construction(prices: Any) -> None:
    with pytest.raises(InvalidArgumentError, match=r"prices\['gpt-4o'\]"):
        SemCache(prices=prices)


@pytest.mark.parametrize("sliding", [False, True])
def test_sliding_ttl_through_set_llm_cache(installed: list[SemCache], sliding: bool) -> None:
    clock = FakeClock()
    cache = install(
        installed,
        SemCache(cache=Engine(clock=clock), ttl=10, threshold=0.9, sliding_ttl=sliding),
    )
    model = NamedChat(messages=answers())
    first = model.invoke([HumanMessage(QUESTION)]).content
    clock.advance(8)
    assert model.invoke([HumanMessage(PARAPHRASE)]).content == first  # a semantic hit
    clock.advance(8)  # 16 s after the write, 8 s after the hit
    assert (model.invoke([HumanMessage(QUESTION)]).content == first) is sliding
    assert model.calls == (1 if sliding else 2)
    assert cache.stats().semantic_hits == 1


def test_sliding_ttl_is_off_by_default(installed: list[SemCache]) -> None:
    clock = FakeClock()
    cache = install(installed, SemCache(cache=Engine(clock=clock), ttl=10))
    model = NamedChat(messages=answers())
    model.invoke([HumanMessage(QUESTION)])
    clock.advance(9)
    model.invoke([HumanMessage(QUESTION)])
    clock.advance(1)
    model.invoke([HumanMessage(QUESTION)])
    assert model.calls == 2 and cache.stats().exact_hits == 1
