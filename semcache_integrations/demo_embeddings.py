"""Section 1 of ``semcache demo``: embedding calls saved.

A slow embedding function (the tour's embedder plus a fixed latency: a stand-in for a
hosted embedding API) is called through ``SemCache.get_or_compute`` on a skewed stream of
requests, and under LangChain's ``CacheBackedEmbeddings`` over :class:`SemCacheByteStore`;
each counts the calls that reached the function against the texts asked for.

Example::

    figures = embedding_section(engine, embedder, DemoConsole())
    figures["get_or_compute"]["calls"] < figures["get_or_compute"]["asked"]
"""

from __future__ import annotations

import random
import time
from typing import Any

from langchain_classic.embeddings import CacheBackedEmbeddings
from langchain_core.embeddings import Embeddings
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from semcache_core import SemCache
from semcache_core.embedders import Embedder

from .langchain import SemCacheByteStore

__all__ = ["SlowEmbeddings", "embedding_requests", "embedding_section"]

_TOPICS = [
    "reset my password",
    "delete my account",
    "change my email address",
    "cancel my subscription",
    "update my billing details",
    "download my invoices",
    "enable two-factor authentication",
    "export my data",
    "contact customer support",
    "upgrade to the pro plan",
    "invite a teammate",
    "change the language of the app",
]
_PHRASINGS = ["How do I {}?", "how can I {}", "What is the way to {}?", "Help me {} please"]
NAMESPACE = "demo-embeddings"


def embedding_requests(count: int, seed: int = 7) -> list[str]:
    """A skewed stream of texts to embed: a few asked often, many asked again later."""
    rng = random.Random(seed)
    texts = [p.format(t) for t in _TOPICS for p in _PHRASINGS]
    weights = [1.0 / (rank + 1) for rank in range(len(texts))]
    return rng.choices(texts, weights=weights, k=count)


class SlowEmbeddings(Embeddings):
    """``embedder`` behind a fixed latency per call, counting its calls, the texts it
    embeds and the seconds it spends (what a hosted embedding API would bill and take)."""

    def __init__(self, embedder: Embedder, latency_s: float) -> None:
        self.embedder = embedder
        self.latency_s = latency_s
        self.calls = 0
        self.texts = 0
        self.seconds = 0.0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        start = time.perf_counter()
        time.sleep(self.latency_s)  # one round trip per call, as a batch API
        vectors = [self.embedder.embed_document(text).tolist() for text in texts]
        self.calls += 1
        self.texts += len(texts)
        self.seconds += time.perf_counter() - start
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def _figures(
    api: SlowEmbeddings, asked: int, uncached_calls: int, seconds: float
) -> dict[str, Any]:
    """What one run asked and what the API did. ``uncached_calls``: the calls the same
    requests make without a cache (one per text for ``get_or_compute``, one per batch for
    ``CacheBackedEmbeddings``). The time saved is estimated from what was measured: the
    latency per call saved, plus the model's measured time per text for each text saved."""
    model_per_text = max(api.seconds - api.calls * api.latency_s, 0.0) / max(api.texts, 1)
    calls_saved = uncached_calls - api.calls
    texts_saved = asked - api.texts
    return {
        "asked": asked,
        "calls": api.calls,
        "calls_saved": calls_saved,
        "texts": api.texts,
        "texts_saved": texts_saved,
        "seconds": seconds,
        "api_seconds": api.seconds,
        "saved_seconds": calls_saved * api.latency_s + texts_saved * model_per_text,
    }


def _get_or_compute(
    engine: SemCache, embedder: Embedder, stream: list[str], latency_s: float, console: Console
) -> dict[str, Any]:
    api = SlowEmbeddings(embedder, latency_s)
    start = time.perf_counter()
    with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("get_or_compute", total=len(stream))
        for text in stream:
            engine.get_or_compute(text, api.embed_query, namespace=NAMESPACE)
            progress.advance(task)
    return _figures(api, len(stream), len(stream), time.perf_counter() - start)


def _cache_backed(
    engine: SemCache, embedder: Embedder, stream: list[str], latency_s: float, batch: int
) -> dict[str, Any]:
    api = SlowEmbeddings(embedder, latency_s)
    store = SemCacheByteStore(engine, namespace=NAMESPACE)
    cached = CacheBackedEmbeddings.from_bytes_store(
        api, store, namespace="demo-model", key_encoder="blake2b"
    )
    start = time.perf_counter()
    for i in range(0, len(stream), batch):
        cached.embed_documents(stream[i : i + batch])
    batches = -(-len(stream) // batch)
    figures = _figures(api, len(stream), batches, time.perf_counter() - start)
    figures["entries"] = sum(1 for _ in store.yield_keys())
    return figures


def embedding_section(
    engine: SemCache,
    embedder: Embedder,
    console: Console,
    requests: int = 200,
    latency_ms: float = 10.0,
) -> dict[str, Any]:
    """Run section 1 on ``engine`` and print its table; returns its figures."""
    stream = embedding_requests(requests)
    latency_s = latency_ms / 1000.0
    figures = {
        "get_or_compute": _get_or_compute(engine, embedder, stream, latency_s, console),
        "CacheBackedEmbeddings": _cache_backed(engine, embedder, stream, latency_s, batch=20),
    }
    table = Table(
        title=f"{len(stream)} texts to embed, {len(set(stream))} distinct "
        f"({latency_ms:g} ms per API call)"
    )
    table.add_column("", no_wrap=True)
    columns = ("texts asked", "texts embedded", "API calls", "calls saved", "time s")
    for column in (*columns, "API s saved (est.)"):
        table.add_column(column, justify="right")
    for name, run in figures.items():
        uncached = run["calls"] + run["calls_saved"]
        table.add_row(
            name,
            str(run["asked"]),
            str(run["texts"]),
            str(run["calls"]),
            f"{run['calls_saved']} of {uncached}",
            f"{run['seconds']:.2f}",
            f"{run['saved_seconds']:.2f}",
        )
    console.print(table)
    console.print(
        "(CacheBackedEmbeddings sends a batch's missing texts in one call, and embeds a text "
        "twice when it repeats within one batch; get_or_compute makes one call per text and "
        "embeds each distinct text once)"
    )
    return figures
