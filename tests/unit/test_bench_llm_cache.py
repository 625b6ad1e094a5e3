"""``benchmarks/bench_llm_cache.py``: its request stream is the seed's mix, and on a tiny run
through LangChain ours serves no wrong answer and calls the model less than no cache."""

from __future__ import annotations

import importlib
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    sys.path.insert(0, str(BENCHMARKS))  # the script imports its neighbours as top level
    try:
        return importlib.import_module("bench_llm_cache")
    finally:
        sys.path.remove(str(BENCHMARKS))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(min_value=5, max_value=1_000), seed=st.integers(0, 2**32 - 1))
def test_requests_are_new_exact_and_paraphrase_repeats(
    bench: ModuleType, n: int, seed: int
) -> None:
    requests = bench.make_requests(n, np.random.default_rng(seed))
    kinds = Counter(r.kind for r in requests)
    assert len(requests) == n and requests[0].kind == "new"
    assert kinds["new"] == max(1, round(n * 0.2))
    assert kinds["exact"] + kinds["paraphrase"] == n - kinds["new"]
    assert kinds["exact"] >= kinds["paraphrase"]  # a paraphrase with none left is exact
    phrasings, _ = bench.load_intents()
    asked_texts: set[str] = set()
    asked_intents: set[str] = set()
    for request in requests:
        assert request.text in phrasings[request.intent]
        if request.kind == "exact":
            assert request.text in asked_texts
        elif request.kind == "paraphrase":
            assert request.text not in asked_texts and request.intent in asked_intents
        else:
            assert request.intent not in asked_intents
        asked_texts.add(request.text)
        asked_intents.add(request.intent)


def test_intent_labels_are_unambiguous(bench: ModuleType) -> None:
    phrasings, families = bench.load_intents()
    texts = [text for group in phrasings.values() for text in group]
    assert len(texts) == len(set(texts))  # one intent per phrasing (aliases merged)
    members = [intent for family in families for intent in family]
    assert sorted(members) == sorted(phrasings)


def test_tiny_run_saves_calls_and_counts_wrong_answers(bench: ModuleType, tmp_path: Path) -> None:
    cfg = bench.Config(requests=60, latency=0.0, peers=False)
    run = bench.scenario(cfg, tmp_path)
    none, ours, exact = (run.get(n) for n in (bench.NO_CACHE, bench.OURS, bench.OURS_EXACT))
    assert not (none.error or ours.error or exact.error)
    assert none.calls == 60 and none.hits == 0
    assert exact.wrong == 0  # an exact repeat is served its own answer
    assert ours.calls < exact.calls < none.calls  # paraphrases hit only the semantic cache
    assert ours.calls + ours.hits == exact.calls + exact.hits == 60
    assert len(ours.wrong_examples) == min(ours.wrong, 5)


def test_a_loose_cache_is_caught_serving_wrong_answers(bench: ModuleType) -> None:
    requests = bench.make_requests(60, np.random.default_rng(bench.SEED))
    fresh, _, _, _ = bench.embeddings_factory()
    embeddings = fresh()
    loose = bench.SemCache(embedding=embeddings, threshold=0.3, guards=())
    cfg = bench.Config(requests=60, latency=0.0, peers=False)
    outcome = bench.replay("loose", loose, requests, cfg, embeddings)
    assert outcome.hits > 48 and outcome.wrong > 0  # more hits than repeats: some wrong
    assert outcome.embed_seconds > 0


def test_model_latency_is_added_per_call_not_slept(bench: ModuleType) -> None:
    requests = bench.make_requests(20, np.random.default_rng(bench.SEED))
    cfg = bench.Config(requests=20, latency=30.0, peers=False)
    exact = bench.replay("exact", bench.SemCache(threshold=1.0), requests, cfg)
    # 30 s a call: slept, this test would take minutes
    assert exact.calls < 20 and exact.hits == 20 - exact.calls
    assert exact.calls * 30.0 <= exact.seconds < exact.calls * 30.0 + 10.0


def test_the_business_impact_stream_gets_no_wrong_answer_from_ours(bench: ModuleType) -> None:
    """The benchmark's whole seeded stream (1,000 requests, near misses arriving family by
    family) through LangChain: ours at the threshold the README recommends for the embedder
    serves no wrong answer, and more hits than exact repeats alone (24 wrong answers, all
    near misses the guards then missed, before the direction, relative-day, closed-class
    and scope guards)."""
    requests = bench.make_requests(1_000, np.random.default_rng([bench.SEED, 15]))
    fresh, _, threshold, _ = bench.embeddings_factory()
    cfg = bench.Config(requests=1_000, latency=0.0, peers=False)
    ours = bench.replay(
        "ours", bench.SemCache(embedding=fresh(), threshold=threshold), requests, cfg
    )
    exact_hits = sum(r.kind == "exact" for r in requests)
    assert ours.wrong == 0, ours.wrong_examples
    assert ours.hits > exact_hits
