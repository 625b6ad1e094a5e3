"""``semcache demo``: a guided tour of the three jobs on one cache, with measured figures.

Sections (each a headed rule, a line on what it shows, then its figures):

1. embedding calls saved (``get_or_compute``; ``CacheBackedEmbeddings`` over our
   ``ByteStore``): :mod:`.demo_embeddings`;
2. a LangChain chat app with ``set_llm_cache``: repeats, paraphrases, a streamed answer
   replayed, held-out near misses: :mod:`.demo_langchain`;
3. a LlamaIndex index: filtered retrieval, persisted and reloaded: :mod:`.demo_llamaindex`;
4. what the cache saved: calls, tokens, money, time.

All of it runs on one :class:`semcache_core.SemCache` (one namespace per job): the
embedded in-process default, or Redis with ``redis_url``. Semantic lookups use the
all-MiniLM-L6-v2 sentence model at threshold 0.87 when its offline package is installed,
else (or with ``lexical=True``) the built-in lexical embedder at its default 0.95.

Example::

    figures = tour(lexical=True)            # returns every printed figure
    figures["chat"]["wrong"] == 0
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from langchain_core.embeddings import Embeddings
from llama_index.core.base.embeddings.base import BaseEmbedding
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from semcache_core import HashingEmbedder, SemCache, SemCacheError

from .demo_embeddings import embedding_section
from .demo_langchain import PRICES, chat_section
from .demo_llamaindex import ModelEmbedding, llamaindex_demo
from .llama_index import HashingEmbedding

__all__ = ["MINILM_THRESHOLD", "TourEmbedder", "choose_embedder", "tour"]

MINILM_THRESHOLD = 0.87  # about the 0.862 `semcache calibrate` finds for all-MiniLM-L6-v2 (README)
LEXICAL_THRESHOLD = 0.95  # the adapters' default, meant for the lexical embedder


@dataclass(frozen=True)
class TourEmbedder:
    """The embedder the tour runs on, for each framework, with its threshold."""

    name: str
    threshold: float
    langchain: Embeddings | None  # None: the engine's built-in lexical embedder
    llama_index: BaseEmbedding
    note: str


class _SentenceEmbeddings(Embeddings):
    """The offline sentence model (:class:`~semcache_integrations.cli_calibrate.MiniLM`,
    which embeds each distinct text once) as LangChain ``Embeddings``."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.model.embed_query(text)


def _lexical(why: str) -> TourEmbedder:
    return TourEmbedder(
        "built-in lexical embedder",
        LEXICAL_THRESHOLD,
        None,
        HashingEmbedding(),
        f"{why}: the built-in lexical embedder (character n-grams, threshold "
        f"{LEXICAL_THRESHOLD}). It sees spelling, not meaning: repeats and near-identical "
        "phrasings hit, paraphrases in other words miss; near misses are still refused.",
    )


def choose_embedder(lexical: bool = False) -> TourEmbedder:
    """all-MiniLM-L6-v2 (offline package) at 0.87 when installed and not ``lexical``;
    else the built-in lexical embedder."""
    if lexical:
        return _lexical("--lexical")
    from .cli_calibrate import MiniLM

    try:
        model = MiniLM()
    except SemCacheError:
        return _lexical("the sentence model is not installed (pip install '.[models]')")
    return TourEmbedder(
        "all-MiniLM-L6-v2",
        MINILM_THRESHOLD,
        _SentenceEmbeddings(model),
        ModelEmbedding(model=model, embed_batch_size=64),
        "the real sentence model all-MiniLM-L6-v2 (installed, offline) at threshold "
        f"{MINILM_THRESHOLD}, about the 0.862 `semcache calibrate` recommends for it on the "
        "shipped pairs: "
        "paraphrases hit; the guards refuse most near misses (any served are listed).",
    )


def _engine(embedder: TourEmbedder, redis_url: str | None) -> tuple[SemCache, str]:
    if redis_url is None:
        return SemCache(embedder=embedder.langchain), "the embedded in-process cache"
    from semcache_core.backends.redis import RedisBackend

    prefix = f"semcache-demo-{uuid.uuid4().hex[:8]}"  # its own keys, removed at the end
    backend = RedisBackend(redis_url, prefix=prefix)
    where = f"Redis at {redis_url} (key prefix {prefix!r}, removed at the end)"
    return SemCache(embedder=embedder.langchain, backend=backend), where


def _section(console: Console, number: int, title: str, what: str) -> None:
    console.rule(f"[bold]{number}. {title}")
    console.print(what)


def tour(
    redis_url: str | None = None,
    lexical: bool = False,
    console: Console | None = None,
    *,
    embed_requests: int = 200,
    embed_latency_ms: float = 10.0,
    chat_latency_ms: float = 50.0,
    intents: int = 12,
    near_misses_per_kind: int | None = None,
    documents: int = 200,
) -> dict[str, Any]:
    """Run the tour, print it, and return its figures (for tests)."""
    console = console or Console()
    started = time.perf_counter()
    embedder = choose_embedder(lexical)
    engine, where = _engine(embedder, redis_url)
    console.print(
        Panel(
            f"One semcache cache for three jobs, on {where}.\nSemantic lookups: {embedder.note}",
            title="semcache demo",
        )
    )
    try:
        _section(
            console,
            1,
            "Embedding calls saved",
            "A slow fake embedding API (the lexical embedder plus a fixed latency) behind "
            "SemCache.get_or_compute, then behind LangChain's CacheBackedEmbeddings over "
            "SemCacheByteStore: a text embedded once is not sent again.",
        )
        embeddings = embedding_section(
            engine, HashingEmbedder(), console, embed_requests, embed_latency_ms
        )
        _section(
            console,
            2,
            "A LangChain chat app with set_llm_cache(SemCache(...))",
            "Repeats and paraphrases are answered from the cache; a streamed answer is "
            "replayed by CachedChatModel; held-out near misses (a word, number or name "
            "away from a cached question) must never get the cached answer.",
        )
        chat = chat_section(
            engine,
            embedder.langchain,
            embedder.threshold,
            console,
            chat_latency_ms,
            intents,
            near_misses_per_kind,
        )
        _section(
            console,
            3,
            "A LlamaIndex index: filtered retrieval, persisted and reloaded",
            "VectorStoreIndex over SemCacheVectorStore and over LlamaIndex's "
            "SimpleVectorStore; the same filtered query before and after a reload.",
        )
        index = llamaindex_demo(documents, console, engine=engine, embedding=embedder.llama_index)
    finally:
        if redis_url is not None:
            engine.clear()  # every namespace the tour wrote, under its own prefix
    saved = _saved(embeddings, chat)
    _section(console, 4, "What the cache saved", "Summed over sections 1 and 2.")
    _print_saved(saved, console)
    total = time.perf_counter() - started
    console.print(f"tour finished in {total:.1f} s")
    return {
        "embedder": embedder.name,
        "threshold": embedder.threshold,
        "backend": "redis" if redis_url else "local",
        "embeddings": embeddings,
        "chat": chat,
        "index": index,
        "saved": saved,
        "seconds": total,
    }


def _saved(embeddings: dict[str, Any], chat: dict[str, Any]) -> dict[str, Any]:
    stats = chat["stats"]
    per_call = chat["model_seconds"] / max(chat["model_calls"], 1)
    # a near miss answered from the cache saved no call: it got a wrong answer
    chat_saved = chat["requests"] - chat["model_calls"] - chat["near_miss_wrong"]
    embed_saved = sum(run["calls_saved"] for run in embeddings.values())
    return {
        "embedding_calls": embed_saved,
        "model_calls": chat_saved,
        "input_tokens": stats.input_tokens_saved,
        "output_tokens": stats.output_tokens_saved,
        "usd": stats.cost_saved,
        "embedding_seconds": sum(run["saved_seconds"] for run in embeddings.values()),
        "model_seconds": chat_saved * per_call,
    }


def _print_saved(saved: dict[str, Any], console: Console) -> None:
    price_in, price_out = next(iter(PRICES.values()))
    table = Table(show_header=False)
    table.add_column("", justify="left")
    table.add_column("", justify="right")
    table.add_row("embedding calls saved", f"{saved['embedding_calls']:,}")
    table.add_row("chat model calls saved", f"{saved['model_calls']:,}")
    tokens = f"{saved['input_tokens']:,} in + {saved['output_tokens']:,} out"
    table.add_row("tokens saved (as the model reported them)", tokens)
    table.add_row(
        f"money saved (USD {price_in}/{price_out} per 1k tokens in/out)", f"${saved['usd']:.4f}"
    )
    table.add_row("time saved: embedding API (s)", f"{saved['embedding_seconds']:.2f}")
    table.add_row("time saved: chat model (s)", f"{saved['model_seconds']:.2f}")
    console.print(table)
    console.print(
        "(time saved: calls not made x the measured mean time of a call made; money: "
        "stats().cost_saved, from each cached answer's usage)"
    )
