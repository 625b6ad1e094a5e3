"""The LangChain part of ``semcache demo``: a chat model behind no cache, LangChain's
``InMemoryCache`` and semcache's semantic cache, on the same stream of requests.

The stream repeats questions word for word and rephrases them slightly (case, punctuation,
a "please"): an exact cache saves the repeats, a semantic cache the rephrasings too. The
model is a langchain-core fake with a fixed latency standing in for a hosted LLM.
"""

from __future__ import annotations

import random
import time
from typing import Any

from langchain_core.caches import BaseCache, InMemoryCache
from langchain_core.language_models import FakeListChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from .langchain import SemCache

__all__ = ["chat_requests", "langchain_demo"]

_QUESTIONS = [
    "How do I reset my password?",
    "How do I delete my account?",
    "How do I change my email address?",
    "How do I cancel my subscription?",
    "How do I download my invoices?",
    "How do I enable two-factor authentication?",
    "How do I export my data?",
    "How do I contact customer support?",
]
_SYSTEM = SystemMessage("You are the support assistant of an online shop. Be brief.")


def chat_requests(count: int, seed: int = 11) -> list[str]:
    """Questions as users type them: repeated, and slightly rephrased."""
    rng = random.Random(seed)
    variants = [
        lambda q: q,
        lambda q: q.lower(),
        lambda q: q.rstrip("?"),
        lambda q: q.rstrip("?") + " please?",
        lambda q: q.lower().rstrip("?"),
    ]
    return [rng.choice(variants)(rng.choice(_QUESTIONS)) for _ in range(count)]


def _topic(question: str) -> str:
    """The question a phrasing asks (what a correct answer must be about)."""
    return question.lower().removesuffix("?").removesuffix(" please").rstrip("?")


class _SlowChat(FakeListChatModel):
    """A chat model that answers the question it was asked, slowly, counting its calls."""

    latency_s: float = 0.05
    calls: int = 0

    def _call(self, messages: Any, *args: Any, **kwargs: Any) -> str:
        self.calls += 1
        time.sleep(self.latency_s)
        return f"answer to: {_topic(str(messages[-1].content))}"


def _run(cache: BaseCache | bool, stream: list[str], latency_s: float, console: Console) -> dict:
    model = _SlowChat(responses=["unused"], latency_s=latency_s, cache=cache)
    label = "no cache" if cache is False else type(cache).__name__
    wrong = 0
    start = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"chat requests, {label}", total=len(stream))
        for question in stream:
            reply = model.invoke([_SYSTEM, HumanMessage(question)])
            wrong += reply.content != f"answer to: {_topic(question)}"
            progress.advance(task)
    return {"calls": model.calls, "wrong": wrong, "seconds": time.perf_counter() - start}


def langchain_demo(
    requests: int = 80, latency_ms: float = 50.0, console: Console | None = None
) -> dict[str, Any]:
    """Run the three setups, print the comparison, and return the figures (for tests)."""
    console = console or Console()
    stream = chat_requests(requests)
    latency_s = latency_ms / 1000.0
    semantic = SemCache(threshold=0.9)
    figures = {
        "no cache": _run(False, stream, latency_s, console),
        "InMemoryCache (exact)": _run(InMemoryCache(), stream, latency_s, console),
        "semcache SemCache (semantic, 0.9)": _run(semantic, stream, latency_s, console),
    }
    table = Table(
        title=f"LangChain chat: {len(stream)} requests, {len(set(stream))} distinct texts, "
        f"{len(_QUESTIONS)} questions ({latency_ms:g} ms per model call)"
    )
    for column in ("cache", "model calls", "calls saved", "wrong answers", "time (s)"):
        table.add_column(column, justify="right")
    for name, run in figures.items():
        saved = len(stream) - run["calls"]
        table.add_row(
            name,
            str(run["calls"]),
            f"{saved} ({saved / len(stream):.0%})",
            str(run["wrong"]),
            f"{run['seconds']:.2f}",
        )
    console.print(table)
    stats = semantic.stats()
    console.print(
        f"semcache: {stats.exact_hits} exact hits, {stats.semantic_hits} semantic hits, "
        f"{stats.misses} misses"
    )
    return {**figures, "semantic_hits": stats.semantic_hits, "requests": len(stream)}
