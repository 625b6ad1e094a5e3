"""The seed's own flow: ``semcache_core`` beside the Rust seed (PyPI ``semcache-rs``).

Run::

    .venv/bin/pip install -e ".[bench]"                    # semcache-rs, the seed
    .venv/bin/python benchmarks/bench_seed.py              # full (100k x 384, ~1 min)
    .venv/bin/python benchmarks/bench_seed.py --quick      # smoke run (< 30 s)

Exit code is 0 whatever the PASS/FAIL verdicts: this is a report, not a gate.

The seed caches embedding calls: ``vec = cache.get_or_compute(text, embed)`` with ``embed``
returning a list of floats, then ``get_similar(vec, threshold)`` (an exact linear scan),
``dump(path)`` and ``load(path)``. Both caches run that flow on the same data in one run:
N texts (100k; 5k with ``--quick``) whose "embedding function" returns a precomputed list
of 384 Python floats (low-rank, embedding-like rows), so the rows time the caches, not a
model. Ours is ``SemCache(index="flat")``, exact like the seed's scan; an embedding is
stored once, as its entry's float32 vector.

Rows (target for each: ours faster, or smaller, than the seed):

1. fill N by ``get_or_compute`` (every call a miss), timed once per cache, the garbage
   collector running as in an application (over the caches' objects: the benchmark's data
   is frozen out of its walks); each result is dropped once returned, as an application
   drops an embedding once used;
2. ``get_or_compute`` hit: median per call over rounds of H calls on random stored texts,
   each result dropped (ours then recycles its floats, see ``_speedups.c``); 2b (for
   information): the same with the last 100 results held, as a caller batching them does;
3. ``get_similar`` of a stored text's vector plus noise at threshold 0.8, median per call;
4. ``dump`` to a new file (best of a few);
5. ``load`` into a fresh cache plus its first ``get_similar`` (best of a few);
6. the file size.
"""

from __future__ import annotations

import collections
import dataclasses
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from report import (
    SEED,
    LowRankSource,
    Row,
    Scratch,
    Timing,
    collector_on_new_objects,
    console,
    environment_line,
    gc_paused,
    info_row,
    print_report,
    rng_for,
    run_from_command_line,
    system_pieces,
    time_ratio_row,
    turns,
)
from semcache_core import SemCache

try:
    import semcache_rs
except ImportError:  # pragma: no cover - the bench extra is not installed
    semcache_rs = None

DIM = 384
THRESHOLD = 0.8
NAMES = ("ours", "seed")


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes and repeat counts for one run."""

    n: int
    hits: int  # calls per round of the hit row
    queries: int  # get_similar calls per round
    rounds: int


# an even number of rounds: each cache goes first as often as second (see report.turns)
FULL = Config(n=100_000, hits=20_000, queries=20, rounds=4)
QUICK = Config(n=5_000, hits=2_000, queries=20, rounds=4)


@dataclasses.dataclass(frozen=True)
class Best:
    """Best of a few calls (median printed beside it): file operations."""

    samples: tuple[float, ...]

    @property
    def seconds(self) -> float:
        return min(self.samples)

    def __str__(self) -> str:
        return f"{Timing.of(list(self.samples)).median:.3g} s med, {self.seconds:.3g} s best"


@dataclasses.dataclass(frozen=True)
class Once:
    """One timed call."""

    seconds: float

    def __str__(self) -> str:
        return f"{self.seconds:.3g} s"


def make_data(n: int) -> tuple[list[str], dict[str, list[float]], np.ndarray]:
    """Texts, ``text -> list of floats`` (what the embedding function returns), queries."""
    rows = LowRankSource(rng_for(1)).draw(n)
    texts = [f"text-{i:06d}" for i in range(n)]
    table = dict(zip(texts, rows.tolist()))
    rng = rng_for(2)
    picks = rng.integers(0, n, 64)
    queries = rows[picks] + rng.standard_normal((64, DIM), dtype=np.float32) * 0.01
    return texts, table, queries


def new_cache(name: str) -> Any:
    return SemCache(index="flat") if name == "ours" else semcache_rs.SemCache()


def call_each(get_or_compute: Callable[..., Any], texts: list[str], embed: Any) -> None:
    """``get_or_compute(text, embed)`` for each text, each result dropped as an application
    drops an embedding once used: keeping 100k results of 384 Python floats (1.2 GB) alive
    would time the allocator's fresh pages, not the caches."""
    for text in texts:
        get_or_compute(text, embed)


def call_each_keeping(get_or_compute: Callable[..., Any], texts: list[str], embed: Any) -> None:
    """:func:`call_each` holding the last 100 results, so no float is handed back."""
    held: collections.deque[Any] = collections.deque(maxlen=100)
    for text in texts:
        held.append(get_or_compute(text, embed))


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def run(cfg: Config, mode: str) -> None:
    if semcache_rs is None:
        console.print("[red]semcache-rs is not installed: pip install -e '.[bench]'[/]")
        return
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    texts, table, queries = make_data(cfg.n)
    embed = table.__getitem__
    console.print(
        environment_line(
            mode,
            f"{cfg.n:,} x {DIM} float lists",
            *system_pieces("semcache-rs", "msgpack"),
            f"seed {SEED}",
        )
    )
    fills: dict[str, float] = {}
    caches: dict[str, Any] = {}
    for _, name in turns(NAMES, 1):
        cache = new_cache(name)
        with collector_on_new_objects():
            fills[name] = timed(lambda c=cache: call_each(c.get_or_compute, texts, embed))
        caches[name] = cache

    hit_samples: dict[str, list[float]] = {name: [] for name in NAMES}
    kept_samples: dict[str, list[float]] = {name: [] for name in NAMES}
    similar_samples: dict[str, list[float]] = {name: [] for name in NAMES}
    rng = rng_for(3)
    query_lists = [q.tolist() for q in queries]
    for round_no, name in turns(NAMES, cfg.rounds):
        cache = caches[name]
        picked = [texts[i] for i in rng.integers(0, cfg.n, cfg.hits)]
        with gc_paused():
            seconds = timed(lambda c=cache, p=picked: call_each(c.get_or_compute, p, embed))
        hit_samples[name].append(seconds / cfg.hits)
        with gc_paused():
            seconds = timed(lambda c=cache, p=picked: call_each_keeping(c.get_or_compute, p, embed))
        kept_samples[name].append(seconds / cfg.hits)
        for i in range(cfg.queries):
            query = query_lists[(round_no * cfg.queries + i) % len(query_lists)]
            found: list[Any] = []
            similar_samples[name].append(
                timed(lambda c=cache, q=query, f=found: f.append(c.get_similar(q, THRESHOLD)))
            )
            assert found[0] is not None, f"{name}: get_similar found nothing"

    dumps: dict[str, list[float]] = {name: [] for name in NAMES}
    loads: dict[str, list[float]] = {name: [] for name in NAMES}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="semcache-bench-seed-") as tmp:
        scratch = Scratch(Path(tmp))
        for _, name in turns(NAMES, cfg.rounds):
            path = scratch.fresh() / "cache.bin"
            dumps[name].append(timed(lambda c=caches[name], p=str(path): c.dump(p)))
            sizes[name] = path.stat().st_size
            fresh = new_cache(name)
            gc.collect()

            def load_and_search(c: Any = fresh, p: str = str(path)) -> None:
                c.load(p)
                assert c.get_similar(query_lists[0], THRESHOLD) is not None

            loads[name].append(timed(load_and_search))
            if name == "ours":
                fresh.close()
            del fresh
            path.unlink()

    def per_call(samples: list[float]) -> Timing:
        return Timing.of(samples)

    n = f"{cfg.n:,}"
    rows = [
        time_ratio_row(
            "1",
            f"fill {n} by get_or_compute (misses)",
            Once(fills["ours"]),
            Once(fills["seed"]),
            "seed",
            1.0,
        ),
        time_ratio_row(
            "2",
            "get_or_compute hit, per call",
            per_call(hit_samples["ours"]),
            per_call(hit_samples["seed"]),
            "seed",
            1.0,
        ),
        kept_row(per_call(kept_samples["ours"]), per_call(kept_samples["seed"])),
        time_ratio_row(
            "3",
            f"get_similar over {n}, per call",
            per_call(similar_samples["ours"]),
            per_call(similar_samples["seed"]),
            "seed",
            1.0,
        ),
        time_ratio_row(
            "4", f"dump {n}", Best(tuple(dumps["ours"])), Best(tuple(dumps["seed"])), "seed", 1.0
        ),
        time_ratio_row(
            "5",
            f"load {n} + first get_similar",
            Best(tuple(loads["ours"])),
            Best(tuple(loads["seed"])),
            "seed",
            1.0,
        ),
        size_row(sizes["ours"], sizes["seed"], cfg.n),
    ]
    title = f"seed flow benchmark: semcache_core vs semcache-rs ({mode})"
    widths = {"label_width": 40, "baseline_width": 36, "figure_width": 14}
    print_report(rows, title, started, load_before, "compare the spreads", **widths)


def kept_row(ours: Timing, seed: Timing) -> Row:
    return info_row(
        "2b",
        "get_or_compute hit, last 100 results held",
        str(ours),
        f"seed: {seed}",
        f"{ours.seconds / seed.seconds:.2f}x its time",
    )


def size_row(ours: int, seed: int, n: int) -> Row:
    raw = n * DIM * 4
    return Row(
        "6",
        f"file size ({raw / 1e6:.0f} MB of float32 vectors)",
        f"{ours / 1e6:.1f} MB",
        f"seed: {seed / 1e6:.1f} MB",
        f"{ours / seed:.2f}x its size",
        "<= 1x its size",
        ours <= seed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_from_command_line(__doc__, run, QUICK, FULL, argv)


if __name__ == "__main__":
    sys.exit(main())
