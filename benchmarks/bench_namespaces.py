"""Namespace benchmark: memory follows entries, per namespace and per LLM-cache scope.

An LLM cache keeps one (model, conversation) scope per conversation; a busy application
makes thousands. Each row measures Python-heap bytes (``tracemalloc``, numpy's buffers
included) held by the engine, against a baseline measured in the same run: the same
number of entries with one scope (or in one namespace).

    python benchmarks/bench_namespaces.py [--quick]
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from dataclasses import dataclass

import numpy as np

from report import (
    Row,
    console,
    environment_line,
    print_report,
    run_from_command_line,
    system_pieces,
)
from semcache_core import SemCache
from semcache_core.responses import Prompt, ResponseCache

TITLE = "namespace benchmark"


@dataclass(frozen=True)
class Config:
    scopes: int


QUICK = Config(scopes=1_000)
FULL = Config(scopes=10_000)


class Clock:
    """A clock the run moves forward, so every entry can expire without sleeping."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def fill_responses(count: int, one_scope: bool, clock: Clock) -> ResponseCache:
    """``count`` responses, each in its own conversation scope (or all in one)."""
    responses = ResponseCache(SemCache(clock=clock), ttl=60)
    for i in range(count):
        context = "system: be brief" if one_scope else f"system: be brief|conversation {i}"
        prompt = Prompt(f"{context}|user: question {i}", context, f"question number {i}")
        responses.update(prompt, "gpt-x", f"answer {i}")
    return responses


def fill_namespaces(count: int, own_namespace: bool, clock: Clock) -> SemCache:
    """``count`` 384-d entries, each in a namespace of its own (or all in one)."""
    cache = SemCache(clock=clock, ttl=60)
    rng = np.random.default_rng(7)
    for i in range(count):
        vector = rng.standard_normal(384).astype(np.float32)
        cache.set(f"k{i}", i, vector=vector, namespace=f"tenant-{i}" if own_namespace else "t")
    return cache


def memory_rows(cfg: Config) -> list[Row]:
    n = cfg.scopes
    rows = []
    for number, label, fill in (
        ("1", f"LLM cache: {n:,} conversation scopes, one response each", fill_responses),
        ("2", f"{n:,} namespaces with one 384-d vector each", fill_namespaces),
    ):
        tracemalloc.start()  # one session per row: frees count only for traced allocations
        try:
            start = traced()
            baseline = fill(n, False, Clock())
            base = traced() - start
            del baseline
            start = traced()
            clock = Clock()
            owner = fill(n, True, clock)
            spread = traced() - start
            cache = owner.cache if isinstance(owner, ResponseCache) else owner
            clock.now += 3_600  # every entry expires
            cache.purge_expired()
            left = len(cache.namespaces())
            held = traced() - start
        finally:
            tracemalloc.stop()
        ratio = spread / base
        rows.append(
            Row(
                f"{number}a",
                label,
                f"{spread / n:,.0f} B/entry",
                f"all in one: {base / n:,.0f} B/entry",
                f"{ratio:.2f}x",
                "<= 1.5x",
                ratio <= 1.5,
            )
        )
        released = 1 - held / spread
        rows.append(
            Row(
                f"{number}b",
                "after every entry expired: memory still held, namespaces left",
                f"{held / 2**20:.2f} MiB, {left} left",
                f"held before: {spread / 2**20:.1f} MiB",
                f"{released:.0%} released",
                ">= 90%, 0 left",
                released >= 0.9 and left == 0,
            )
        )
    return rows


def run(cfg: Config, mode: str) -> None:
    started, load_before = time.perf_counter(), __import__("os").getloadavg()[0]
    console.print(environment_line(mode, *system_pieces()))
    rows = memory_rows(cfg)
    print_report(rows, f"{TITLE} ({mode})", started, load_before, "memory figures are exact")


def main(argv: list[str] | None = None) -> int:
    return run_from_command_line(__doc__ or "", run, QUICK, FULL, argv)


if __name__ == "__main__":
    raise SystemExit(main())
