"""ResponseCache: what hits saved (tokens, USD) and ``sliding_ttl``, on the engine alone.

The LangChain and LlamaIndex caches have their own tests with real framework objects
(tests/langchain/test_lc_savings.py, tests/llama_index/test_li_savings.py).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from fakeclock import FakeClock
from hypothesis import given, settings
from hypothesis import strategies as st
from threads import run_threads

from semcache_core import SemCache
from semcache_core.errors import InvalidArgumentError
from semcache_core.responses import Prompt, ResponseCache
from semcache_core.savings import Usage, check_prices

QUESTIONS = [
    "How do I reset my password?",
    "Where can I download my invoices?",
    "Which plans include phone support?",
    "Can I move my account to another region?",
]
PRICES = {"model-a": (0.5, 1.5)}
MODELS = {"llm-a": "model-a", "llm-b": "model-b"}  # model (cache scope) -> its priced name


def exact(question: str) -> Prompt:
    return Prompt(exact=question, context="", query=question)


def paraphrase(question: str) -> Prompt:
    """The same question in lower case without its question mark (a semantic hit)."""
    text = question.lower().rstrip("?")
    return Prompt(exact=text, context="", query=text)


# --- counters against a reference --------------------------------------------------------

operations = st.lists(
    st.tuples(
        st.sampled_from(["update", "exact", "paraphrase"]),
        st.integers(0, len(QUESTIONS) - 1),
        st.sampled_from(sorted(MODELS)),
        st.integers(0, 5000),
        st.integers(0, 5000),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(operations)
def test_counters_equal_a_reference_count(ops: list[tuple[str, int, str, int, int]]) -> None:
    responses = ResponseCache(threshold=0.9, prices=PRICES)
    stored: dict[tuple[int, str], Usage] = {}
    expected: dict[str, Any] = dict.fromkeys(
        ["exact", "semantic", "misses", "updates", "in", "out", "unpriced"], 0
    )
    cost = 0.0
    for kind, i, model, tokens_in, tokens_out in ops:
        if kind == "update":
            usage = Usage(tokens_in, tokens_out, MODELS[model])
            responses.update(exact(QUESTIONS[i]), model, f"answer {i} {model}", usage)
            stored[i, model] = usage
            expected["updates"] += 1
            continue
        prompt = exact(QUESTIONS[i]) if kind == "exact" else paraphrase(QUESTIONS[i])
        answer = responses.lookup(prompt, model)
        usage_served = stored.get((i, model))
        if usage_served is None:
            assert answer is None
            expected["misses"] += 1
            continue
        assert answer == f"answer {i} {model}"
        expected[kind if kind == "exact" else "semantic"] += 1
        expected["in"] += usage_served.input_tokens
        expected["out"] += usage_served.output_tokens
        price = PRICES.get(usage_served.model_name or "")
        if price is None:
            expected["unpriced"] += 1
        else:
            cost += (
                usage_served.input_tokens * price[0] + usage_served.output_tokens * price[1]
            ) / 1000
    stats = responses.stats()
    assert (stats.exact_hits, stats.semantic_hits, stats.misses, stats.updates) == (
        expected["exact"],
        expected["semantic"],
        expected["misses"],
        expected["updates"],
    )
    assert (stats.input_tokens_saved, stats.output_tokens_saved) == (
        expected["in"],
        expected["out"],
    )
    assert stats.unpriced_hits == expected["unpriced"]
    assert math.isclose(stats.cost_saved, cost, rel_tol=1e-9, abs_tol=1e-12)


def test_each_hit_saves_one_call_and_a_miss_or_unloadable_hit_saves_nothing() -> None:
    responses = ResponseCache(threshold=0.9, prices={"m": (2.0, 4.0)})
    responses.update(exact(QUESTIONS[0]), "llm", "blob", Usage(100, 50, "m"))
    for _ in range(3):
        assert responses.lookup(exact(QUESTIONS[0]), "llm") == "blob"
    assert responses.lookup(paraphrase(QUESTIONS[0]), "llm") == "blob"
    assert responses.lookup(exact(QUESTIONS[1]), "llm") is None
    assert responses.lookup(exact(QUESTIONS[0]), "llm", load=lambda blob: None) is None
    stats = responses.stats()
    assert (stats.exact_hits, stats.semantic_hits, stats.misses) == (3, 1, 2)
    assert (stats.input_tokens_saved, stats.output_tokens_saved) == (400, 200)
    assert stats.cost_saved == pytest.approx(4 * (100 * 2.0 + 50 * 4.0) / 1000)
    assert stats.unpriced_hits == 0


def test_without_usage_or_prices_hits_save_zero() -> None:
    responses = ResponseCache(threshold=0.9)
    responses.update(exact(QUESTIONS[0]), "llm", "no usage")
    responses.update(exact(QUESTIONS[1]), "llm", "usage", Usage(10, 20, "m"))
    assert responses.lookup(exact(QUESTIONS[0]), "llm") == "no usage"
    assert responses.lookup(exact(QUESTIONS[1]), "llm") == "usage"
    stats = responses.stats()
    assert (stats.input_tokens_saved, stats.output_tokens_saved) == (10, 20)
    assert (stats.cost_saved, stats.unpriced_hits) == (0.0, 0)  # no prices: nothing priced


def test_a_hit_of_an_unpriced_or_unnamed_model_is_counted_as_unpriced() -> None:
    responses = ResponseCache(threshold=0.9, prices={"gpt-4o-mini": (0.15, 0.6)})
    responses.update(exact(QUESTIONS[0]), "llm", "a", Usage(1000, 1000, "gpt-4o-mini-2024-07-18"))
    responses.update(exact(QUESTIONS[1]), "llm", "b", Usage(1000, 1000, None))
    responses.update(exact(QUESTIONS[2]), "llm", "c", Usage(1000, 1000, "gpt-4o-mini"))
    for question in QUESTIONS[:3]:
        assert responses.lookup(exact(question), "llm") is not None
    stats = responses.stats()
    assert stats.unpriced_hits == 2  # exact names only: no prefix matching
    assert stats.cost_saved == pytest.approx(0.75)
    assert stats.input_tokens_saved == 3000


def test_counters_are_exact_under_threads() -> None:
    responses = ResponseCache(threshold=0.9, prices={"m": (1.0, 1.0)})
    responses.update(exact(QUESTIONS[0]), "llm", "blob", Usage(3, 7, "m"))

    def caller() -> None:
        for _ in range(200):
            responses.lookup(exact(QUESTIONS[0]), "llm")
            responses.lookup(exact(QUESTIONS[3]), "llm")

    run_threads([caller] * 8)
    stats = responses.stats()
    assert (stats.exact_hits, stats.misses) == (1600, 1600)
    assert (stats.input_tokens_saved, stats.output_tokens_saved) == (4800, 11200)
    assert stats.cost_saved == pytest.approx(16.0)


@pytest.mark.parametrize(
    "prices,named",
    [
        ([("m", (1, 2))], "map model names"),
        ({3: (1.0, 2.0)}, "3"),
        ({"m": (1.0,)}, "prices['m']"),
        ({"m": (1.0, -0.1)}, "prices['m']"),
        ({"m": (float("nan"), 1.0)}, "prices['m']"),
        ({"m": (1.0, float("inf"))}, "prices['m']"),
        ({"ok": (1, 2), "bad": ("1", 2)}, "prices['bad']"),
        ({"m": (True, 1.0)}, "prices['m']"),
        ({"m": 0.5}, "prices['m']"),
    ],
)
def test_bad_prices_raise_naming_the_entry(prices: Any, named: str) -> None:
    engine = SemCache()
    with pytest.raises(InvalidArgumentError) as raised:
        ResponseCache(engine, prices=prices)
    assert named in str(raised.value)
    assert len(engine) == 0


def test_good_prices_are_floats() -> None:
    assert check_prices({"m": [1, 0]}) == {"m": (1.0, 0.0)}
    assert check_prices(None) == {}


@pytest.mark.parametrize("value", [1, "yes", None])
def test_sliding_ttl_must_be_a_bool(value: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="sliding_ttl"):
        ResponseCache(sliding_ttl=value)


# --- sliding_ttl -------------------------------------------------------------------------


def _responses(clock: FakeClock, sliding: bool | None, **options: Any) -> ResponseCache:
    engine = SemCache(clock=clock, ttl=options.pop("engine_ttl", None))
    if sliding is None:
        return ResponseCache(engine, threshold=0.9, **options)
    return ResponseCache(engine, threshold=0.9, sliding_ttl=sliding, **options)


@pytest.mark.parametrize("sliding", [None, False])
def test_by_default_hits_do_not_extend_an_entry(sliding: bool | None) -> None:
    clock = FakeClock()
    responses = _responses(clock, sliding, ttl=10)
    responses.update(exact(QUESTIONS[0]), "llm", "answer")
    clock.advance(8)
    assert responses.lookup(exact(QUESTIONS[0]), "llm") == "answer"
    assert responses.lookup(paraphrase(QUESTIONS[0]), "llm") == "answer"
    clock.advance(2)
    assert responses.lookup(exact(QUESTIONS[0]), "llm") is None


def test_sliding_ttl_restarts_on_exact_and_semantic_hits() -> None:
    clock = FakeClock()
    responses = _responses(clock, True, ttl=10)
    responses.update(exact(QUESTIONS[0]), "llm", "answer")
    for step in range(3):  # served every 8 s: never 10 s old
        clock.advance(8)
        hit = exact(QUESTIONS[0]) if step % 2 else paraphrase(QUESTIONS[0])
        assert responses.lookup(hit, "llm") == "answer"
    clock.advance(9.5)
    assert responses.lookup(paraphrase(QUESTIONS[0]), "llm") == "answer"
    clock.advance(10)  # not served for 10 s: gone
    assert responses.lookup(exact(QUESTIONS[0]), "llm") is None


def test_sliding_ttl_uses_the_engine_default_when_the_cache_has_none() -> None:
    clock = FakeClock()
    responses = _responses(clock, True, engine_ttl=10)
    responses.update(exact(QUESTIONS[0]), "llm", "answer")
    clock.advance(9)
    assert responses.lookup(exact(QUESTIONS[0]), "llm") == "answer"
    clock.advance(9)
    assert responses.lookup(exact(QUESTIONS[0]), "llm") == "answer"
    clock.advance(10)
    assert responses.lookup(exact(QUESTIONS[0]), "llm") is None


def test_a_miss_or_an_unloadable_hit_does_not_slide() -> None:
    clock = FakeClock()
    responses = _responses(clock, True, ttl=10)
    responses.update(exact(QUESTIONS[0]), "llm", "answer")
    clock.advance(8)
    assert responses.lookup(exact(QUESTIONS[0]), "llm", load=lambda blob: None) is None
    clock.advance(2)
    assert responses.lookup(exact(QUESTIONS[0]), "llm") is None


def test_async_lookups_slide_and_count_savings() -> None:
    clock = FakeClock()
    responses = _responses(clock, True, ttl=10, prices={"m": (1.0, 2.0)})

    async def scenario() -> None:
        await responses.aupdate(exact(QUESTIONS[0]), "llm", "answer", Usage(10, 5, "m"))
        clock.advance(8)
        assert await responses.alookup(exact(QUESTIONS[0]), "llm") == "answer"
        clock.advance(8)
        assert await responses.alookup(paraphrase(QUESTIONS[0]), "llm") == "answer"
        clock.advance(8)
        assert await responses.alookup(exact(QUESTIONS[0]), "llm") == "answer"
        clock.advance(10)
        assert await responses.alookup(exact(QUESTIONS[0]), "llm") is None

    asyncio.run(scenario())
    stats = responses.stats()
    assert (stats.exact_hits, stats.semantic_hits, stats.misses) == (2, 1, 1)
    assert (stats.input_tokens_saved, stats.output_tokens_saved) == (30, 15)
    assert stats.cost_saved == pytest.approx(3 * 0.02)


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_response_stored_during_a_lookup_counts_as_an_exact_hit(asynchronous: bool) -> None:
    """Another caller's ``update`` of the same prompt lands between this lookup's exact read
    and its search (here: while the query is embedded): the search finds the prompt's own
    entry, an exact hit, not a semantic one."""
    question = exact(QUESTIONS[1])
    storing = True

    def embed(text: str) -> list[float]:
        nonlocal storing
        if storing:
            storing = False
            responses.update(question, "llm", "blob")  # the concurrent caller's write
        return [1.0, 0.0, 0.0]

    responses = ResponseCache(embedder=embed, threshold=0.9)
    lookup = responses.alookup(question, "llm") if asynchronous else None
    found = asyncio.run(lookup) if lookup is not None else responses.lookup(question, "llm")
    assert found == "blob"
    stats = responses.stats()
    assert (stats.exact_hits, stats.semantic_hits, stats.misses) == (1, 0, 0)
