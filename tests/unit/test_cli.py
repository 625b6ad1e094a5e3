"""The demo runs end to end and its figures add up."""

from __future__ import annotations

import io

from rich.console import Console

from semcache_integrations.cli import _requests, demo, main


def test_demo_saves_every_repeated_embedding_call() -> None:
    output = io.StringIO()
    figures = demo(requests=120, latency_ms=0.5, console=Console(file=output, width=120))
    distinct = len(set(_requests(120)))
    assert figures["uncached_calls"] == 120
    assert figures["cached_calls"] == distinct  # one API call per distinct text, no more
    assert figures["semantic_hits"] == 3  # three paraphrases hit, the unrelated query misses
    text = output.getvalue()
    assert "saved" in text and "Semantic lookups" in text


def test_main_runs_the_demo_command() -> None:
    assert main(["demo", "--requests", "20", "--latency-ms", "0"]) == 0
