"""The demo tour at test sizes (no latency slept), its figures and what it printed."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from semcache_integrations.demo_tour import tour


def run_tour(
    lexical: bool, redis_url: str | None = None, embed_requests: int = 120
) -> tuple[dict[str, Any], str]:
    output = io.StringIO()
    figures = tour(
        redis_url,
        lexical,
        Console(file=output, width=150),
        embed_requests=embed_requests,
        embed_latency_ms=0,
        chat_latency_ms=0,
        documents=60,
    )
    return figures, output.getvalue()
