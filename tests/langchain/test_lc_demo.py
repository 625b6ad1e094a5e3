"""The LangChain part of the demo: its figures add up and the semantic cache is never wrong."""

from __future__ import annotations

import io

from rich.console import Console

from semcache_integrations.demo_langchain import chat_requests, langchain_demo


def test_semantic_cache_saves_more_calls_than_exact_and_answers_right() -> None:
    output = io.StringIO()
    figures = langchain_demo(60, 0, Console(file=output, width=150))
    none = figures["no cache"]
    exact = figures["InMemoryCache (exact)"]
    semantic = figures["semcache SemCache (semantic, 0.9)"]
    assert none["calls"] == 60
    assert exact["calls"] == len(set(chat_requests(60)))  # one call per distinct text
    assert semantic["calls"] < exact["calls"] and figures["semantic_hits"] > 0
    assert none["wrong"] == exact["wrong"] == semantic["wrong"] == 0
    assert "wrong answers" in output.getvalue()
