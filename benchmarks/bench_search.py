"""Search peers: ``SemCache`` flat and HNSW beside numpy, faiss, usearch and hnswlib.

Run::

    .venv/bin/pip install -e ".[bench]"                    # faiss-cpu, usearch (the peers)
    .venv/bin/python benchmarks/bench_search.py            # full (1k to 100k, ~5-10 min)
    .venv/bin/python benchmarks/bench_search.py --quick    # smoke run (1k to 10k, < 60 s)

Exit code is 0 whatever the verdicts: this is a report, not a gate.

Data: for each N of a ladder (1k, 3k, 10k, 30k, 100k; 1k, 3k, 10k with ``--quick``), N
384-dim unit float32 rows of low-rank, embedding-like data (``report.LowRankSource``: 32
latent dims, spectrum (i+1)**-0.7, mixed into 384 dims, isotropic noise), as in
``bench_core.py`` row 4; queries are drawn the same way (none is a stored vector). Every
engine holds the same rows and answers the same queries in the same run.

Engines (top-10, one query per call):

- ours flat: ``SemCache(index="flat")`` filled by one ``set_many``, ``cache.search(q, k=10)``;
- ours raw FlatIndex: ``semcache_core.index.flat.FlatIndex.search`` (what the facade calls);
- numpy: ``X @ q``, ``argpartition``, sort of the top 10 (exact);
- faiss flat: ``faiss.IndexFlatIP`` (inner product of unit rows = cosine, exact);
- ours hnsw: ``SemCache(index="hnsw")`` (its defaults: M=24, ef_construction=100) filled by
  one ``set_many``, ``cache.search(q, k=10)``;
- hnswlib: ``hnswlib.Index(space="ip")`` used directly with our M, ef_construction and
  ef_search, so the gap is what our layer costs over the raw library;
- faiss hnsw: ``faiss.IndexHNSWFlat(384, M=16, METRIC_INNER_PRODUCT)``, efConstruction=100;
- usearch: ``usearch.index.Index(metric="cos", dtype="f32", connectivity=16,
  expansion_add=100)``.

ef: for ours, faiss hnsw (``hnsw.efSearch``) and usearch (``expansion_search``) the search
ef is swept over ``EF_GRID`` at every N and the smallest reaching recall@10 >= 0.95 against
exact numpy results is used (the largest when none does: the row says so); hnswlib takes
ours. Each one's ef and recall@10 are printed.

Method: BLAS is pinned to one thread (env vars set before numpy is imported), and every
search runs on one thread: faiss with ``faiss.omp_set_num_threads(1)``, usearch with
``threads=1``, hnswlib with ``num_threads=1`` (as ours), so the comparison is per-query
work, not parallelism. Builds use every core (ours ``set_many``, hnswlib ``add_items``,
faiss ``add`` with its OpenMP threads raised for the call, usearch ``threads=0``) and are
printed for information. Every latency is the median per query over rounds x queries, after
a warm-up, the engines taking turns round by round (the order rotates, see
``report.turns``), garbage collection paused (as ``timeit`` does). "(±x%)" beside a time is
half the interquartile range. A peer that does not import reads "not installed".

Rows, for the i-th N of the ladder (the issue sets no target here: every row is
information; FAIL only marks a figure of ours that could not be measured):

- i.a: ours flat vs the fastest exact peer (numpy, faiss flat);
- i.b: ours hnsw vs the fastest approximate peer (faiss hnsw, usearch, hnswlib) among
  those reaching recall@10 >= 0.95;
- i.c: what our layer costs over the raw library: ours hnsw vs hnswlib direct (same graph
  parameters and ef);
- i.d: what our facade costs over our raw index: ours flat vs ``FlatIndex.search``;
- i.e: recall@10 and ef of every approximate engine;
- i.f: build times.

The chart series ``search_latency`` (seconds per query at each N, per engine) is recorded
for ``semcache bench`` (see ``report.record``).
"""

from __future__ import annotations

import os

# Pin BLAS before numpy is imported: every search here runs on one thread.
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"
os.environ["SEMCACHE_NUM_THREADS"] = "1"

import dataclasses
import gc
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import hnswlib
import numpy as np
from rich.table import Table

from report import (
    SEED,
    LowRankSource,
    Row,
    Timing,
    arg_parser,
    console,
    environment_line,
    fmt_time,
    gc_paused,
    info_row,
    numpy_top_k,
    print_report,
    record,
    rng_for,
    system_pieces,
    turns,
)
from semcache_core import SemCache
from semcache_core.index.flat import FlatIndex
from semcache_core.index.hnsw import HNSWParams

try:
    import faiss
except ImportError:  # pragma: no cover - the bench extra is not installed
    faiss = None
try:
    from usearch.index import Index as UsearchIndex
except ImportError:  # pragma: no cover - the bench extra is not installed
    UsearchIndex = None

DIM = 384
K = 10
RECALL_TARGET = 0.95
EF_GRID = (10, 16, 24, 32, 48, 64, 96, 128, 192, 256)
PEER_M = 16  # faiss hnsw and usearch connectivity
EF_CONSTRUCTION = HNSWParams().ef_construction  # ours, used for every graph
EXACT = ("ours flat", "ours raw FlatIndex", "numpy", "faiss flat")
APPROXIMATE = ("ours hnsw", "hnswlib", "faiss hnsw", "usearch")
SERIES = ("ours flat", "ours hnsw", "numpy", "faiss flat", "faiss hnsw", "usearch", "hnswlib")
NOT_INSTALLED = "not installed"


# --- configuration -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes and repeat counts for one run."""

    sizes: tuple[int, ...]  # the ladder of N
    queries: int  # distinct queries (each timed once per round)
    rounds: int


FULL = Config(sizes=(1_000, 3_000, 10_000, 30_000, 100_000), queries=200, rounds=5)
QUICK = Config(sizes=(1_000, 3_000, 10_000), queries=100, rounds=3)


# --- engines -----------------------------------------------------------------------------


@dataclasses.dataclass
class Engine:
    """One way of answering a top-10 query over the rows.

    ``call(i)`` is what is timed (query ``i``, the library's own call and result);
    ``ids(i)`` returns the row numbers found (for recall, untimed); ``set_ef`` changes the
    search ef of an approximate engine (None for exact ones).
    """

    name: str
    build_s: float
    call: Callable[[int], object]
    ids: Callable[[int], list[int]]
    set_ef: Callable[[int], None] | None = None
    ef: int | None = None
    recall: float = 1.0


def key_of(row: int) -> str:
    return f"row-{row:06d}"


def row_of(key: str) -> int:
    return int(key[4:])


def timed_build(build: Callable[[], Any]) -> tuple[Any, float]:
    gc.collect()
    begin = time.perf_counter()
    built = build()
    return built, time.perf_counter() - begin


def ours(kind: str, vectors: np.ndarray, queries: np.ndarray) -> Engine:
    """``SemCache(index=kind)`` filled by one ``set_many``; searched by ``cache.search``."""

    def build() -> SemCache:
        cache = SemCache(index=kind)  # type: ignore[arg-type]
        cache.set_many({key_of(i): i for i in range(len(vectors))}, vectors=vectors)
        hybrid = cache.backend.index_for("")  # type: ignore[attr-defined]
        hybrid.wait_until_built()  # int8 codes / graph: part of the build
        assert hybrid.kind == kind, f"SemCache(index={kind!r}) serves {hybrid.kind}"
        return cache

    cache, seconds = timed_build(build)
    engine = Engine(
        f"ours {kind}",
        seconds,
        lambda i: cache.search(queries[i], k=K),
        lambda i: [row_of(hit.key) for hit in cache.search(queries[i], k=K)],
    )
    if kind == "hnsw":
        graph = cache.backend.index_for("").hnsw  # type: ignore[attr-defined]

        def set_ef(ef: int) -> None:
            graph.params = dataclasses.replace(graph.params, ef_search=ef)

        engine.set_ef = set_ef
    return engine


def raw_flat(vectors: np.ndarray, queries: np.ndarray) -> Engine:
    def build() -> FlatIndex:
        index = FlatIndex(DIM, capacity=len(vectors))
        index.add(np.arange(len(vectors)), vectors)
        return index

    index, seconds = timed_build(build)
    return Engine(
        "ours raw FlatIndex",
        seconds,
        lambda i: index.search(queries[i], K),
        lambda i: index.search(queries[i], K)[0].tolist(),
    )


def numpy_engine(vectors: np.ndarray, queries: np.ndarray) -> Engine:
    return Engine(
        "numpy",
        0.0,
        lambda i: numpy_top_k(vectors, queries[i]),
        lambda i: numpy_top_k(vectors, queries[i]).tolist(),
    )


def hnswlib_engine(vectors: np.ndarray, queries: np.ndarray) -> Engine:
    params = HNSWParams()

    def build() -> hnswlib.Index:
        graph = hnswlib.Index(space="ip", dim=DIM)
        graph.init_index(
            max_elements=len(vectors),
            M=params.m,
            ef_construction=params.ef_construction,
            random_seed=params.seed,
        )
        graph.add_items(vectors, np.arange(len(vectors)), num_threads=-1)
        return graph

    graph, seconds = timed_build(build)
    return Engine(
        "hnswlib",
        seconds,
        lambda i: graph.knn_query(queries[i], k=K, num_threads=1),
        lambda i: graph.knn_query(queries[i], k=K, num_threads=1)[0][0].tolist(),
        graph.set_ef,
    )


def with_faiss_threads(build: Callable[[], Any]) -> Callable[[], Any]:
    """``build`` with faiss's OpenMP threads raised to every core, then back to one."""

    def run() -> Any:
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        try:
            return build()
        finally:
            faiss.omp_set_num_threads(1)

    return run


def faiss_engine(kind: str, vectors: np.ndarray, queries: np.ndarray) -> Engine:
    rows = [np.ascontiguousarray(q[None, :]) for q in queries]  # faiss takes (1, d)

    def build() -> Any:
        if kind == "flat":
            index = faiss.IndexFlatIP(DIM)
        else:
            index = faiss.IndexHNSWFlat(DIM, PEER_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = EF_CONSTRUCTION
        index.add(vectors)
        return index

    index, seconds = timed_build(with_faiss_threads(build))
    engine = Engine(
        f"faiss {kind}",
        seconds,
        lambda i: index.search(rows[i], K),
        lambda i: index.search(rows[i], K)[1][0].tolist(),
    )
    if kind == "hnsw":

        def set_ef(ef: int) -> None:
            index.hnsw.efSearch = ef

        engine.set_ef = set_ef
    return engine


def usearch_engine(vectors: np.ndarray, queries: np.ndarray) -> Engine:
    def build() -> Any:
        index = UsearchIndex(
            ndim=DIM,
            metric="cos",
            dtype="f32",
            connectivity=PEER_M,
            expansion_add=EF_CONSTRUCTION,
        )
        index.add(np.arange(len(vectors)), vectors, threads=0)
        return index

    index, seconds = timed_build(build)

    def set_ef(ef: int) -> None:
        index.expansion_search = ef

    return Engine(
        "usearch",
        seconds,
        lambda i: index.search(queries[i], K, threads=1),
        lambda i: index.search(queries[i], K, threads=1).keys.tolist(),
        set_ef,
    )


def build_engines(
    vectors: np.ndarray, queries: np.ndarray
) -> tuple[dict[str, Engine], dict[str, str]]:
    """Every engine over ``vectors``; the second dict says why any is missing."""
    makers: dict[str, Callable[[], Engine]] = {
        "ours flat": lambda: ours("flat", vectors, queries),
        "ours raw FlatIndex": lambda: raw_flat(vectors, queries),
        "numpy": lambda: numpy_engine(vectors, queries),
        "ours hnsw": lambda: ours("hnsw", vectors, queries),
        "hnswlib": lambda: hnswlib_engine(vectors, queries),
    }
    if faiss is not None:
        makers["faiss flat"] = lambda: faiss_engine("flat", vectors, queries)
        makers["faiss hnsw"] = lambda: faiss_engine("hnsw", vectors, queries)
    if UsearchIndex is not None:
        makers["usearch"] = lambda: usearch_engine(vectors, queries)
    engines: dict[str, Engine] = {}
    missing = {name: NOT_INSTALLED for name in (*EXACT, *APPROXIMATE) if name not in makers}
    for name, make in makers.items():
        console.print(f"  [dim]building {name}[/dim]")
        try:
            engines[name] = make()
        except Exception as exc:  # a report, not a crash: show what broke
            console.print(f"[red]{name} failed to build:[/]\n{traceback.format_exc()}")
            missing[name] = f"error: {exc!r}"[:100]
    return engines, missing


# --- recall, ef and timing ---------------------------------------------------------------


def recall_at_k(engine: Engine, truth: list[list[int]]) -> float:
    hits = sum(len(set(engine.ids(i)) & set(t)) for i, t in enumerate(truth))
    return hits / sum(len(t) for t in truth)


def tune_ef(engine: Engine, truth: list[list[int]], ef: int | None = None) -> None:
    """Set ``ef`` when given, else the smallest of ``EF_GRID`` reaching the recall target
    (the largest when none does); records the ef and its recall on the engine."""
    assert engine.set_ef is not None
    for candidate in EF_GRID if ef is None else (ef,):
        engine.set_ef(candidate)
        engine.ef, engine.recall = candidate, recall_at_k(engine, truth)
        if engine.recall >= RECALL_TARGET:
            return


def time_engines(engines: dict[str, Engine], queries: int, rounds: int) -> dict[str, Timing]:
    """Median seconds per query of each engine, taking turns round by round."""
    names = list(engines)
    for name in names:  # warm-up
        for i in range(min(queries, 5)):
            engines[name].call(i)
    samples: dict[str, list[float]] = {name: [] for name in names}
    perf = time.perf_counter
    gc.collect()
    with gc_paused():
        for _, name in turns(names, rounds):
            call, out = engines[name].call, samples[name]
            for i in range(queries):
                start = perf()
                call(i)
                out.append(perf() - start)
    return {name: Timing.of(samples[name]) for name in names}


# --- one N -------------------------------------------------------------------------------


@dataclasses.dataclass
class Step:
    """Everything measured at one N."""

    n: int
    engines: dict[str, Engine]
    missing: dict[str, str]
    latency: dict[str, Timing]


def measure(n: int, cfg: Config, source: LowRankSource, queries: np.ndarray) -> Step:
    console.print(f"[bold]N = {n:,}[/]")
    vectors = source.draw(n)
    engines, missing = build_engines(vectors, queries)
    truth = [numpy_top_k(vectors, q).tolist() for q in queries]
    for name in EXACT:
        if name in engines:
            engines[name].recall = recall_at_k(engines[name], truth)
    console.print("  [dim]sweeping ef to recall@10 >= 0.95[/dim]")
    for name in ("ours hnsw", "faiss hnsw", "usearch"):
        if name in engines:
            tune_ef(engines[name], truth)
    if "hnswlib" in engines:  # ours' ef, as it is ours' graph parameters
        ours_ef = engines["ours hnsw"].ef if "ours hnsw" in engines else None
        tune_ef(engines["hnswlib"], truth, ours_ef or HNSWParams().ef_search)
    console.print(
        f"  [dim]timing {len(engines)} engines, {cfg.rounds} x {cfg.queries} queries[/dim]"
    )
    latency = time_engines(engines, cfg.queries, cfg.rounds)
    return Step(n, engines, missing, latency)


# --- rows --------------------------------------------------------------------------------


def describe(step: Step, name: str) -> str:
    """An engine's latency (and ef, recall for approximate ones), or why it is missing."""
    if name not in step.latency:
        return f"{name}: {step.missing.get(name, 'not measured')}"
    engine = step.engines[name]
    text = f"{name}: {step.latency[name]}"
    if engine.ef is not None:
        text += f", ef={engine.ef}, recall {engine.recall:.3f}"
    return text


def fastest(step: Step, names: Sequence[str]) -> str | None:
    """The fastest of ``names`` reaching the recall target (of all, when none does)."""
    measured = [n for n in names if n in step.latency]
    good = [n for n in measured if step.engines[n].recall >= RECALL_TARGET]
    return min(good or measured, key=lambda n: step.latency[n].median, default=None)


def versus(number: str, label: str, step: Step, mine: str, peers: Sequence[str]) -> Row:
    """Ours (``mine``) beside the fastest of ``peers``: info, FAIL only if ours is missing."""
    if mine not in step.latency:
        return Row(number, label, step.missing.get(mine, "not measured"), "", "", "runs", False)
    best = fastest(step, peers)
    if best is None:
        missing = "; ".join(describe(step, p) for p in peers)
        return info_row(number, label, str(step.latency[mine]), missing)
    ratio = step.latency[mine].median / step.latency[best].median
    return info_row(
        number, label, describe(step, mine), describe(step, best), f"{ratio:.2f}x its time"
    )


# (row letter, what it compares, ours, the peers it is compared with)
COMPARISONS = (
    ("a", "ours flat vs fastest exact peer", "ours flat", ("numpy", "faiss flat")),
    (
        "b",
        f"ours hnsw vs fastest approximate peer (recall >= {RECALL_TARGET})",
        "ours hnsw",
        ("faiss hnsw", "usearch", "hnswlib"),
    ),
    (
        "c",
        "our layer over the raw library: ours hnsw vs hnswlib (same M, ef_construction, ef)",
        "ours hnsw",
        ("hnswlib",),
    ),
    (
        "d",
        "our facade over our raw index: SemCache.search vs FlatIndex.search",
        "ours flat",
        ("ours raw FlatIndex",),
    ),
)


def step_rows(i: int, step: Step) -> list[Row]:
    n = f"N={step.n:,}"
    rows = [
        versus(f"{i}{letter}", f"{n}: {what}", step, mine, peers)
        for letter, what, mine, peers in COMPARISONS
    ]
    recalls = [
        f"{name} ef={step.engines[name].ef} {step.engines[name].recall:.3f}"
        if name in step.engines
        else f"{name} {step.missing.get(name, 'not measured')}"
        for name in APPROXIMATE
    ]
    exact = [f"{name} {step.engines[name].recall:.3f}" for name in EXACT if name in step.engines]
    label = f"{n}: recall@{K} vs exact numpy"
    rows.append(info_row(f"{i}e", label, "; ".join(recalls), "exact: " + "; ".join(exact)))

    def builds(names: Sequence[str]) -> str:
        return "; ".join(
            f"{name} {step.engines[name].build_s:.2f} s" for name in names if name in step.engines
        )

    ours_names = ("ours hnsw", "ours flat", "ours raw FlatIndex")
    peer_names = ("hnswlib", "faiss hnsw", "usearch", "faiss flat")
    label = f"{n}: build (every core)"
    rows.append(info_row(f"{i}f", label, builds(ours_names), builds(peer_names)))
    return rows


def latency_table(steps: list[Step]) -> Table:
    """Median seconds per query, engine by N (what the chart draws)."""
    table = Table(title=f"top-{K} latency per query, one thread (median)")
    table.add_column("engine")
    for step in steps:
        table.add_column(f"N={step.n:,}", justify="right")
    for name in (*EXACT, *APPROXIMATE):
        cells = []
        for step in steps:
            if name in step.latency:
                cells.append(fmt_time(step.latency[name].median))
            else:
                cells.append(step.missing.get(name, "-")[:20])
        table.add_row(name, *cells)
    return table


def series(steps: list[Step]) -> dict[str, Any]:
    """The ``search_latency`` chart series: seconds per query at each N (None where an
    engine failed; an engine missing at every N, e.g. not installed, is left out)."""
    curves = {
        name: [step.latency[name].median if name in step.latency else None for step in steps]
        for name in SERIES
    }
    return {
        "n": [step.n for step in steps],
        "series": {name: curve for name, curve in curves.items() if any(curve)},
    }


# --- report ------------------------------------------------------------------------------


def peer_versions() -> list[str]:
    found = []
    for name in ("hnswlib", "faiss-cpu", "usearch"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} {NOT_INSTALLED}")
    return found


def run(cfg: Config, mode: str) -> None:
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    if faiss is not None:
        faiss.omp_set_num_threads(1)
    console.print(
        environment_line(
            mode,
            *system_pieces(),
            *peer_versions(),
            f"N {', '.join(f'{n:,}' for n in cfg.sizes)} x {DIM} (low-rank)",
            "searches on 1 thread",
            f"seed {SEED}",
        )
    )
    source = LowRankSource(rng_for(1))
    queries = source.draw(cfg.queries)
    steps: list[Step] = []
    rows: list[Row] = []
    for i, n in enumerate(cfg.sizes, start=1):
        step = measure(n, cfg, source, queries)
        steps.append(step)
        rows += step_rows(i, step)
        step.engines.clear()  # free the indexes before the next N
        gc.collect()
    console.print()
    console.print(latency_table(steps))
    record("series", "search_latency", series(steps))
    title = f"semcache search peers benchmark ({mode})"
    widths = {"label_width": 40, "baseline_width": 40, "figure_width": 12}
    print_report(rows, title, started, load_before, "see the ± spreads", **widths)


def main(argv: Sequence[str] | None = None) -> int:
    parser = arg_parser(__doc__)
    parser.add_argument(
        "--sizes",
        type=lambda text: tuple(int(n) for n in text.split(",")),
        help="the ladder of N instead of the configuration's, e.g. 1000,10000",
    )
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    if args.sizes:
        cfg = dataclasses.replace(cfg, sizes=args.sizes)
    run(cfg, "quick" if args.quick else "full")
    return 0


if __name__ == "__main__":
    sys.exit(main())
