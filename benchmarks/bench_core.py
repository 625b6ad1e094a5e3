"""Core benchmark for ``semcache_core``: every figure beside a baseline measured in the same run.

Run::

    cd /work/main && .venv/bin/python benchmarks/bench_core.py              # full (~2 min)
    .venv/bin/python benchmarks/bench_core.py --crossover                   # + flat/HNSW crossover
    .venv/bin/python benchmarks/bench_core.py --quick                       # smoke run (< 30 s)

Exit code is 0 whatever the PASS/FAIL verdicts: this is a report, not a gate.

Method: BLAS is pinned to one thread (env vars set before numpy is imported), every timing
is the median of repeated calls after a warm-up, ours and the baseline are measured in
alternating rounds, garbage collection is paused while timing (as ``timeit`` does), and all
data comes from seeded generators. "(±x%)" beside a time is half the interquartile range.

Rows (targets from the issue):

1. Exact hit: ``SemCache(ttl=3600, max_entries=N).get`` vs ``cachetools.TTLCache(maxsize=N,
   ttl=3600)`` behind a ``threading.Lock`` (same TTL + LRU + thread-safety duties), N string
   keys/values, random access order. Target: ours >= 2x faster (ratio = baseline / ours).
2. Flat top-10, one query, one thread, N x 384 float32 (isotropic, unit rows):
   ``SemCache(index="flat").search`` and the raw ``FlatIndex.search`` vs numpy ``X @ q`` +
   ``argpartition`` + sorting the top 10. Target: ours <= 0.6x numpy's time. Also printed:
   the memory-read floor (one-thread ``np.dot(X, q)``) and the implied GB/s.
3. Batch: ``search_batch(100 queries, k=10)`` vs 100 single ``search`` calls, per query,
   with 2 threads for both (``SEMCACHE_NUM_THREADS`` and BLAS, switched in-process; a
   subprocess when BLAS cannot be switched). Target: >= 4x faster per query. Row 3b repeats
   it on one thread; row 3d prints the plain numpy batch (``Q @ X.T``, one float32 matrix
   product on 2 BLAS threads, then ``argpartition`` per query) for comparison.
4. HNSW on realistic low-rank data (32 latent dims, spectrum (i+1)**-0.7, mixed into 384
   dims, isotropic noise 0.05*sqrt(32) per component, unit rows; queries drawn the same
   way): ``SemCache(index="hnsw")`` built through ``cache.set`` one entry at a time (build
   time printed). ``ef_search`` is swept and the cheapest value reaching recall@10 >= 0.95
   is used. Targets: recall@10 >= 0.95 against exact flat results, and per-query latency
   >= 10x faster than our exact flat ``SemCache.search`` on the same data.
5. ``--crossover``: raw ``FlatIndex`` vs ``HNSWIndex`` latency (HNSW at its cheapest ef with
   recall >= 0.95) at n = 2k, 5k, 10k, 20k, 50k of the row-4 data, measured while the row-4
   cache grows (500 and 1k added to locate a crossover below 2k); reports where HNSW
   becomes faster, also at the shipped default ef_search (what ``HybridIndex`` queries
   with), and whether that supports ``index/hybrid.py`` ``DEFAULT_HNSW_THRESHOLD``.
6. Seed anchor: the Rust seed's "22 ms semantic search over 100k vectors" beside our
   ``SemCache.search`` time at 100k (flat and HNSW); another machine, so info only.
"""

from __future__ import annotations

import os

# Pin BLAS before numpy is imported (the batch row raises it in-process when it can).
os.environ["OPENBLAS_NUM_THREADS"] = os.environ.get("SEMCACHE_BENCH_BLAS_THREADS", "1")
os.environ["SEMCACHE_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"]
os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"]
os.environ["MKL_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"]

import argparse
import contextlib
import ctypes
import dataclasses
import gc
import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from cachetools import TTLCache
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
    print_summary,
    record,
    results_table,
    rng_for,
    system_pieces,
    time_ratio_row,
    turns,
    unit_rows,
)
from semcache_core import SemCache
from semcache_core.index.flat import FlatIndex
from semcache_core.index.hnsw import HNSWIndex
from semcache_core.index.hybrid import DEFAULT_HNSW_THRESHOLD

DIM = 384
K = 10
RECALL_TARGET = 0.95
EF_GRID = (10, 16, 24, 32, 40, 48, 64, 96, 128, 192, 256, 384)
SEED_ANCHOR_S = 0.022  # "Rust seed: 22 ms semantic search over 100k vectors"
BATCH_THREADS = 2


# --- configuration -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes and repeat counts for one run."""

    n_kv: int  # row 1 entries
    n_vectors: int  # rows 2-4 vectors
    n_queries: int  # distinct single queries per row
    n_batch: int  # queries in one search_batch call
    rounds: int  # timing rounds (each round times every query once)
    crossover_sizes: tuple[int, ...]


FULL = Config(
    n_kv=100_000,
    n_vectors=100_000,
    n_queries=200,
    n_batch=100,
    rounds=7,
    crossover_sizes=(500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000),
)
QUICK = Config(
    n_kv=10_000,
    n_vectors=10_000,
    n_queries=50,
    n_batch=100,
    rounds=3,
    crossover_sizes=(1_000, 2_000, 5_000),
)


# --- results -----------------------------------------------------------------------------


def speedup_row(
    number: str, label: str, ours: Timing, base: Timing, base_label: str, min_speedup: float
) -> Row:
    """A row whose target is ``baseline / ours >= min_speedup``."""
    speedup = base.median / ours.median
    return Row(
        number,
        label,
        str(ours),
        f"{base_label}: {base}",
        f"{speedup:.2f}x faster",
        f">= {min_speedup:g}x faster",
        speedup >= min_speedup,
    )


# --- timing ------------------------------------------------------------------------------


def time_calls(
    fns: dict[str, Callable[[Any], object]],
    args: Sequence[Any],
    rounds: int,
    warmup: int = 3,
    scale: float = 1.0,
) -> dict[str, Timing]:
    """Median time of ``fn(arg)`` for each function, over ``rounds`` passes over ``args``.

    The functions take turns round by round (the order rotates), so slow drift of the
    machine (turbo, a neighbour on the other core) hits all of them alike.
    """
    names = list(fns)
    for name in names:
        for i in range(warmup):
            fns[name](args[i % len(args)])
    samples: dict[str, list[float]] = {name: [] for name in names}
    perf = time.perf_counter
    gc.collect()
    with gc_paused():
        for _, name in turns(names, rounds):
            fn, out = fns[name], samples[name]
            for arg in args:
                start = perf()
                fn(arg)
                out.append(perf() - start)
    return {name: Timing.of(samples[name], scale) for name in names}


# --- BLAS threads ------------------------------------------------------------------------


def _openblas_thread_setters() -> tuple[Callable[[int], None], Callable[[], int]] | None:
    """numpy's bundled OpenBLAS set/get-num-threads functions, found with ctypes."""
    libs_dir = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    for path in sorted(libs_dir.glob("lib*openblas*")):
        lib = ctypes.CDLL(str(path))
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", "", "_64"):
                setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                if setter is not None and getter is not None:
                    setter.argtypes, setter.restype = [ctypes.c_int], None
                    getter.argtypes, getter.restype = [], ctypes.c_int
                    return setter, getter
    return None


@contextlib.contextmanager
def compute_threads(n: int) -> Iterator[bool]:
    """Run the block with ``n`` threads for semcache and for BLAS; yields False when BLAS
    cannot be switched here."""
    before = os.environ["SEMCACHE_NUM_THREADS"]
    os.environ["SEMCACHE_NUM_THREADS"] = str(n)
    try:
        with _blas_threads(n) as switched:
            yield switched
    finally:
        os.environ["SEMCACHE_NUM_THREADS"] = before


@contextlib.contextmanager
def _blas_threads(n: int) -> Iterator[bool]:
    """Run the block with ``n`` BLAS threads; yields False when that cannot be done here."""
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-not-found]
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is not None:
        with threadpool_limits(limits=n, user_api="blas"):
            yield True
        return
    setters = _openblas_thread_setters()
    if setters is None:
        yield False
        return
    set_threads, get_threads = setters
    before = get_threads()
    set_threads(n)
    try:
        yield get_threads() == n
    finally:
        set_threads(before)


# --- data --------------------------------------------------------------------------------


def isotropic(n: int, rng: np.random.Generator) -> np.ndarray:
    return unit_rows(rng.standard_normal((n, DIM), dtype=np.float32))


def keys_and_values(n: int) -> tuple[list[str], list[str]]:
    keys = [f"user:{i:07d}:answer" for i in range(n)]
    values = [f"cached completion number {i} for this prompt" for i in range(n)]
    return keys, values


def fill_cache(cache: SemCache, vectors: np.ndarray, start: int = 0) -> float:
    """``cache.set`` every row (one call each, as entries arrive); returns seconds spent."""
    keys, values = keys_and_values(len(vectors))
    begin = time.perf_counter()
    for i in range(start, len(vectors)):
        cache.set(keys[i], values[i], vector=vectors[i])
    return time.perf_counter() - begin


def bulk_fill_seconds(index: str, vectors: np.ndarray, batch: int = 1000) -> float:
    """Seconds to load every row with ``SemCache.set_many`` in ``batch``-row calls."""
    cache = SemCache(index=index)  # type: ignore[arg-type]
    keys, values = keys_and_values(len(vectors))
    begin = time.perf_counter()
    for i in range(0, len(vectors), batch):
        cache.set_many(
            zip(keys[i : i + batch], values[i : i + batch]), vectors=vectors[i : i + batch]
        )
    return time.perf_counter() - begin


def key_index(key: str) -> int:
    return int(key.split(":")[1])


# --- row 1: exact hits -------------------------------------------------------------------


class LockedTTLCache:
    """The baseline: cachetools' TTL + LRU cache made thread-safe by one lock."""

    def __init__(self, maxsize: int, ttl: float) -> None:
        self._cache: TTLCache[str, Any] = TTLCache(maxsize=maxsize, ttl=ttl)
        self._lock = threading.Lock()

    def set(self, key: str, value: Any) -> None:
        with self._lock:
            self._cache[key] = value

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._cache.get(key, default)


def row_exact_hits(cfg: Config) -> list[Row]:
    n = cfg.n_kv
    keys, values = keys_and_values(n)
    ours, base = SemCache(ttl=3600, max_entries=n), LockedTTLCache(maxsize=n, ttl=3600)
    for key, value in zip(keys, values):
        ours.set(key, value)
        base.set(key, value)
    order = [keys[i] for i in rng_for(1).permutation(n)]
    assert all(ours.get(k) == base.get(k) is not None for k in order[:1000])

    def read_all(get: Callable[[str], Any]) -> Callable[[Any], None]:
        def run(_: Any) -> None:
            for key in order:
                get(key)

        return run

    timings = time_calls(
        {"ours": read_all(ours.get), "base": read_all(base.get)},
        [None],
        rounds=max(5, cfg.rounds + 2),
        warmup=1,
        scale=1 / n,
    )
    return [
        speedup_row(
            "1",
            f"exact-hit SemCache.get, {n:,} str keys, random order",
            timings["ours"],
            timings["base"],
            "TTLCache+Lock .get",
            2.0,
        )
    ]


# --- rows 2 and 3: flat search -----------------------------------------------------------


def flat_fixture(cfg: Config) -> tuple[np.ndarray, np.ndarray, FlatIndex, SemCache]:
    rng = rng_for(2)
    matrix = isotropic(cfg.n_vectors, rng)
    queries = isotropic(cfg.n_queries, rng)
    index = FlatIndex(DIM, capacity=len(matrix))
    index.add(np.arange(len(matrix)), matrix)
    cache = SemCache(index="flat")
    fill_cache(cache, matrix)
    settle_codes(cache, queries[0])
    return matrix, queries, index, cache


def settle_codes(cache: SemCache, query: np.ndarray) -> None:
    """Rows added by ``set`` wait for their int8 codes until a search, which leaves many to
    a background thread: search once and let it finish, so timings see the coded index."""
    cache.search(query, k=K)
    index = cache.backend.index_for("")  # type: ignore[attr-defined]
    index.wait_until_built()


def row_flat(cfg: Config, fixture: tuple) -> tuple[list[Row], Timing]:
    matrix, queries, index, cache = fixture
    n = len(matrix)
    exact = sum(
        np.array_equal(index.search(q, K)[0], numpy_top_k(matrix, q))
        and [key_index(h.key) for h in cache.search(q, K)] == numpy_top_k(matrix, q).tolist()
        for q in queries
    )
    t = time_calls(
        {
            "semcache": lambda q: cache.search(q, k=K),
            "flat": lambda q: index.search(q, K),
            "numpy": lambda q: numpy_top_k(matrix, q),
            "dot": lambda q: np.dot(matrix, q),
        },
        list(queries),
        cfg.rounds,
    )
    f32_bytes = matrix.nbytes
    int8_bytes = n * DIM + 2 * 4 * n  # codes + per-row scales and error norms
    rows = [
        time_ratio_row(
            "2a",
            f"flat top-{K}: SemCache(index='flat').search, {n:,}x{DIM}, 1 thread",
            t["semcache"],
            t["numpy"],
            "numpy X@q+argpartition+sort",
            0.6,
        ),
        time_ratio_row(
            "2b",
            f"flat top-{K}: raw FlatIndex.search, {n:,}x{DIM}, 1 thread",
            t["flat"],
            t["numpy"],
            "numpy X@q+argpartition+sort",
            0.6,
        ),
        info_row(
            "2c",
            "floor: one-thread np.dot(X, q) (float32 matrix read)",
            f"{t['dot']} = {f32_bytes / t['dot'].median / 1e9:.1f} GB/s",
            f"{f32_bytes / 1e6:.1f} MB float32",
        ),
        info_row(
            "2d",
            "our effective bandwidth (FlatIndex.search)",
            f"{f32_bytes / t['flat'].median / 1e9:.1f} GB/s float32-equivalent",
            f"int8 pass reads {int8_bytes / 1e6:.1f} MB",
            f"{int8_bytes / t['flat'].median / 1e9:.1f} GB/s actual",
        ),
        info_row(
            "2e",
            "exactness check: top-10 ids identical to numpy",
            f"{exact}/{len(queries)} queries",
        ),
    ]
    return rows, t["semcache"]


def numpy_batch_top_k(matrix: np.ndarray, queries: np.ndarray, k: int = K) -> list[np.ndarray]:
    """The plain numpy batch: one ``Q @ X.T``, then :func:`numpy_top_k`'s steps per query."""
    scores = queries @ matrix.T
    tops = np.argpartition(scores, -k, axis=1)[:, -k:]
    return [top[np.argsort(-row[top])] for top, row in zip(tops, scores)]


def measure_batch(
    matrix: np.ndarray, cache: SemCache, queries: np.ndarray, rounds: int
) -> dict[str, float]:
    """Per-query seconds of one ``search_batch``, a loop of single ``search`` calls, and the
    plain numpy batch, on the threads the caller set.

    The numpy batch is timed after the other two, not in turns with them: OpenBLAS's idle
    threads keep spinning on a core for a while after each matrix product."""
    batch = cache.search_batch(queries, k=K)
    singles = [cache.search(q, k=K) for q in queries]
    same = all(
        [(h.key, h.score) for h in a] == [(h.key, h.score) for h in b]
        for a, b in zip(batch, singles, strict=True)
    )
    options = {"rounds": max(5, rounds + 2), "warmup": 1, "scale": 1 / len(queries)}
    t = time_calls(
        {
            "batch": lambda _: cache.search_batch(queries, k=K),
            "singles": lambda _: [cache.search(q, k=K) for q in queries],
        },
        [None],
        **options,
    )
    t |= time_calls({"numpy": lambda _: numpy_batch_top_k(matrix, queries)}, [None], **options)
    return {
        **{name: measured.median for name, measured in t.items()},
        **{f"{name}_spread": measured.spread for name, measured in t.items()},
        "same": same,
    }


def batch_in_subprocess(cfg: Config, quick: bool) -> dict[str, float]:
    """Row 3 in a fresh interpreter whose BLAS starts with ``BATCH_THREADS`` threads."""
    env = dict(os.environ, SEMCACHE_BENCH_BLAS_THREADS=str(BATCH_THREADS))
    argv = [sys.executable, __file__, "--batch-json", *(["--quick"] if quick else [])]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def batch_queries(cfg: Config) -> np.ndarray:
    return isotropic(cfg.n_batch, rng_for(3))


def row_batch(cfg: Config, matrix: np.ndarray, cache: SemCache, quick: bool) -> list[Row]:
    queries = batch_queries(cfg)
    with compute_threads(1):
        one_thread = measure_batch(matrix, cache, queries, cfg.rounds)
    threads = min(BATCH_THREADS, os.cpu_count() or 1)
    with compute_threads(threads) as switched:
        result = measure_batch(matrix, cache, queries, cfg.rounds) if switched else None
    where = "in-process"
    if result is None:
        result, where = batch_in_subprocess(cfg, quick), "subprocess"

    def timing(measured: dict[str, float], name: str) -> Timing:
        return Timing(measured[name], measured[f"{name}_spread"])

    singles = f"{cfg.n_batch}x search()"
    return [
        speedup_row(
            "3",
            f"search_batch({cfg.n_batch} q) per query, {threads} threads ({where})",
            timing(result, "batch"),
            timing(result, "singles"),
            singles,
            4.0,
        ),
        speedup_row(
            "3b",
            f"search_batch({cfg.n_batch} q) per query, 1 thread",
            timing(one_thread, "batch"),
            timing(one_thread, "singles"),
            singles,
            4.0,
        ),
        info_row(
            "3c",
            "batch results (keys and scores) identical to single searches",
            f"{bool(result['same'] and one_thread['same'])}",
        ),
        info_row(
            "3d",
            f"search_batch vs a plain numpy batch: Q @ X.T ({threads} BLAS threads) + argpartition",
            str(timing(result, "batch")),
            f"numpy batch {timing(result, 'numpy')}",
            f"{result['numpy'] / result['batch']:.2f}x faster",
        ),
    ]


# --- rows 4 and 5: HNSW and the crossover ------------------------------------------------


@dataclasses.dataclass(frozen=True)
class EfPoint:
    ef: int
    recall: float
    latency: Timing


def recall_at_k(found: Sequence[Sequence[int]], truth: Sequence[Sequence[int]]) -> float:
    hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True))
    return hits / sum(len(t) for t in truth)


def sweep_ef(
    graph: HNSWIndex, queries: np.ndarray, truth: list[list[int]], rounds: int, stop: bool
) -> list[EfPoint]:
    """Recall and latency of the raw graph per ef (``stop``: at the first one >= target)."""
    params = graph.params
    points = []
    try:
        for ef in EF_GRID:
            graph.params = dataclasses.replace(params, ef_search=ef)
            found = [graph.search(q, K)[0].tolist() for q in queries]
            latency = time_calls({"hnsw": lambda q: graph.search(q, K)}, list(queries), rounds)
            points.append(EfPoint(ef, recall_at_k(found, truth), latency["hnsw"]))
            if stop and points[-1].recall >= RECALL_TARGET:
                break
    finally:
        graph.params = params
    return points


def cheapest(points: list[EfPoint]) -> EfPoint | None:
    good = [p for p in points if p.recall >= RECALL_TARGET]
    return min(good, key=lambda p: p.latency.median) if good else None


@dataclasses.dataclass(frozen=True)
class CrossoverPoint:
    n: int
    flat: Timing
    hnsw: EfPoint | None  # the cheapest ef with recall >= target
    default: EfPoint  # the shipped HNSWParams().ef_search, which HybridIndex queries with


def measure_crossover_point(cache: SemCache, queries: np.ndarray, rounds: int) -> CrossoverPoint:
    hybrid = cache.backend.index_for("")
    assert hybrid is not None and hybrid.hnsw is not None
    flat = hybrid.flat
    truth = [flat.search(q, K)[0].tolist() for q in queries]
    flat_time = time_calls({"flat": lambda q: flat.search(q, K)}, list(queries), rounds)["flat"]
    sweep = sweep_ef(hybrid.hnsw, queries, truth, rounds, stop=False)
    default = next(p for p in sweep if p.ef == hybrid.hnsw.params.ef_search)
    return CrossoverPoint(len(flat), flat_time, cheapest(sweep), default)


def build_hnsw_cache(
    vectors: np.ndarray, checkpoints: Sequence[int], on_checkpoint: Callable[[SemCache], None]
) -> tuple[SemCache, float]:
    """Grow a ``SemCache(index="hnsw")`` by ``cache.set``; checkpoint time is not counted."""
    cache = SemCache(index="hnsw")
    keys, values = keys_and_values(len(vectors))
    build, start = 0.0, 0
    for stop in [*sorted(c for c in checkpoints if c < len(vectors)), len(vectors)]:
        begin = time.perf_counter()
        for i in range(start, stop):
            cache.set(keys[i], values[i], vector=vectors[i])
        build += time.perf_counter() - begin
        start = stop
        if stop < len(vectors):
            on_checkpoint(cache)
    return cache, build


def row_hnsw(cfg: Config, crossover: bool) -> tuple[list[Row], list[CrossoverPoint], dict]:
    source = LowRankSource(rng_for(4))
    vectors = source.draw(cfg.n_vectors)
    queries = source.draw(cfg.n_queries)
    n = len(vectors)
    points: list[CrossoverPoint] = []

    def checkpoint(cache: SemCache) -> None:
        console.print(f"  [dim]crossover checkpoint at n={len(cache):,}[/dim]")
        points.append(measure_crossover_point(cache, queries, max(2, cfg.rounds - 2)))

    sizes = cfg.crossover_sizes if crossover else ()
    console.print(f"  [dim]building SemCache(index='hnsw') with {n:,} cache.set calls[/dim]")
    hnsw_cache, build_s = build_hnsw_cache(vectors, sizes, checkpoint)
    flat_cache = SemCache(index="flat")
    flat_build_s = fill_cache(flat_cache, vectors)
    console.print("  [dim]bulk loading the same rows with set_many[/dim]")
    bulk_hnsw_s = bulk_fill_seconds("hnsw", vectors)
    bulk_flat_s = bulk_fill_seconds("flat", vectors)

    hybrid = hnsw_cache.backend.index_for("")
    assert hybrid is not None and hybrid.hnsw is not None and hybrid.kind == "hnsw"
    graph = hybrid.hnsw
    settle_codes(flat_cache, queries[0])
    truth_keys = [[h.key for h in flat_cache.search(q, K)] for q in queries]
    truth_labels = [[key_index(k) for k in keys] for keys in truth_keys]
    numpy_agree = sum(numpy_top_k(vectors, q).tolist() == t for q, t in zip(queries, truth_labels))
    sweep = sweep_ef(graph, queries, truth_labels, max(2, cfg.rounds - 2), stop=False)
    chosen = cheapest(sweep) or max(sweep, key=lambda p: p.recall)
    default = next(p for p in sweep if p.ef == graph.params.ef_search)

    default_params = graph.params
    graph.params = dataclasses.replace(default_params, ef_search=chosen.ef)
    try:
        found = [[h.key for h in hnsw_cache.search(q, K)] for q in queries]
        recall = recall_at_k(found, truth_keys)
        t = time_calls(
            {
                "hnsw": lambda q: hnsw_cache.search(q, k=K),
                "flat": lambda q: flat_cache.search(q, k=K),
                "raw": lambda q: graph.search(q, K),
            },
            list(queries),
            cfg.rounds,
        )
        batch = queries[: cfg.n_batch]
        t_batch = time_calls(
            {
                "batch": lambda _: hnsw_cache.search_batch(batch, k=K),
                "singles": lambda _: [hnsw_cache.search(q, k=K) for q in batch],
            },
            [None],
            rounds=max(5, cfg.rounds + 2),
            warmup=1,
            scale=1 / len(batch),
        )
    finally:
        graph.params = default_params
    ef_note = f"ef_search={chosen.ef} (cheapest of the sweep with recall >= {RECALL_TARGET})"
    if chosen.recall < RECALL_TARGET:
        ef_note = f"ef_search={chosen.ef} (no swept ef reached {RECALL_TARGET})"
    rows = [
        Row(
            "4a",
            f"HNSW recall@{K}, low-rank {n:,}x{DIM}, {ef_note}",
            f"{recall:.4f}",
            f"exact flat SemCache.search ({numpy_agree}/{len(queries)} = numpy)",
            "",
            f">= {RECALL_TARGET}",
            recall >= RECALL_TARGET,
        ),
        speedup_row(
            "4b",
            f"HNSW SemCache.search latency, ef_search={chosen.ef}",
            t["hnsw"],
            t["flat"],
            "exact flat SemCache.search",
            10.0,
        ),
        info_row(
            "4c",
            f"SemCache facade overhead: SemCache.search - raw HNSWIndex.search, ef={chosen.ef}",
            fmt_time(t["hnsw"].median - t["raw"].median),
            f"raw HNSWIndex.search: {t['raw']}",
            f"{t['hnsw'].median / t['raw'].median:.2f}x raw",
        ),
        info_row(
            "4d",
            f"raw HNSWIndex.search at default ef_search={default.ef}",
            str(default.latency),
            f"recall@{K} {default.recall:.4f}",
        ),
        info_row(
            "4e",
            f"HNSW build: {n:,} cache.set calls (M={default_params.m}, "
            f"ef_construction={default_params.ef_construction}, 1 thread)",
            f"{build_s:.1f} s = {fmt_time(build_s / n)}/insert",
            f"flat build {flat_build_s:.1f} s = {fmt_time(flat_build_s / n)}/insert",
        ),
        info_row(
            "4f",
            f"bulk load: {n:,} rows by set_many in 1,000-row calls (HNSW adds use every core)",
            f"HNSW {bulk_hnsw_s:.1f} s = {fmt_time(bulk_hnsw_s / n)}/insert",
            f"flat {bulk_flat_s:.2f} s = {fmt_time(bulk_flat_s / n)}/insert",
            f"{build_s / bulk_hnsw_s:.2f}x faster than 4e",
        ),
        info_row(
            "4g",
            f"HNSW search_batch({len(batch)} q) per query (one hnswlib call, every core)",
            str(t_batch["batch"]),
            f"{len(batch)}x search(): {t_batch['singles']}",
            f"{t_batch['singles'].median / t_batch['batch'].median:.2f}x faster",
        ),
    ]
    extras = {"sweep": sweep, "hnsw": t["hnsw"], "flat": t["flat"], "n": n}
    return rows, points, extras


def crossover_size(
    points: list[CrossoverPoint], graph: Callable[[CrossoverPoint], EfPoint | None]
) -> tuple[float | None, str]:
    """Smallest n from which HNSW (``graph(point)``) stays faster, and how it was found.

    Returns ``(n, "interpolated")`` (log-log between the bracketing sizes), ``(smallest n,
    "below")`` when HNSW already wins at the smallest size, or ``(None, "never")``.
    """
    ratios = []
    for p in sorted(points, key=lambda p: p.n):
        ef_point = graph(p)
        ok = ef_point is not None and ef_point.recall >= RECALL_TARGET
        ratios.append((p.n, p.flat.median / ef_point.latency.median if ok else 0.0))
    for i, (n, ratio) in enumerate(ratios):
        if all(r > 1.0 for _, r in ratios[i:]):
            if i == 0:
                return float(n), "below"
            n0, r0 = ratios[i - 1]
            if r0 <= 0:
                return float(n), "interpolated"
            frac = -np.log(r0) / (np.log(ratio) - np.log(r0))
            return float(np.exp(np.log(n0) + frac * (np.log(n) - np.log(n0)))), "interpolated"
    return None, "never"


def describe_crossover(cross: float | None, how: str, largest: int) -> str:
    if cross is None:
        return f"never, up to n={largest:,}"
    if how == "below":
        return f"< {cross:,.0f} (HNSW faster at every n measured)"
    return f"n ~ {cross:,.0f}"


def crossover_table(points: list[CrossoverPoint]) -> tuple[Table, Row]:
    points = sorted(points, key=lambda p: p.n)
    default_ef = points[0].default.ef
    table = Table(title=f"5. Crossover: raw FlatIndex vs HNSWIndex (recall@{K} >= {RECALL_TARGET})")
    columns = ("n", "flat (exact)", "HNSW cheapest ef", "ef", "recall@10", "flat/HNSW")
    for column in (*columns, f"HNSW ef={default_ef}", "recall@10 ", "flat/HNSW "):
        table.add_column(column, justify="right")
    for p in points:
        cheap = ("-", "-", f"< {RECALL_TARGET}", "-")
        if p.hnsw is not None:
            ratio = p.flat.median / p.hnsw.latency.median
            cheap = (str(p.hnsw.latency), str(p.hnsw.ef), f"{p.hnsw.recall:.4f}", f"{ratio:.2f}x")
        default_ratio = p.flat.median / p.default.latency.median
        table.add_row(
            f"{p.n:,}",
            str(p.flat),
            *cheap,
            str(p.default.latency),
            f"{p.default.recall:.4f}",
            f"{default_ratio:.2f}x",
        )
    largest = points[-1].n
    cross, how = crossover_size(points, lambda p: p.hnsw)
    cross_default, how_default = crossover_size(points, lambda p: p.default)
    threshold = DEFAULT_HNSW_THRESHOLD
    supported = cross is not None and how != "below" and 0.5 <= cross / threshold <= 2.0
    return table, Row(
        "5",
        "crossover: n from which raw HNSW (recall >= 0.95) beats exact flat",
        f"cheapest ef: {describe_crossover(cross, how, largest)}; "
        f"default ef={default_ef}: {describe_crossover(cross_default, how_default, largest)}",
        f"index/hybrid.py DEFAULT_HNSW_THRESHOLD = {threshold:,}",
        "supports it" if supported else "does not support it",
        "crossover within 0.5x-2x of it",
        supported,
    )


# --- row 6: the seed anchor --------------------------------------------------------------


def seed_rows(flat: Timing, flat_n: int, hnsw: Timing | None, hnsw_n: int) -> list[Row]:
    anchor = "Rust seed, published (another machine, not this run): 22 ms over 100k vectors"

    def ratio(ours: Timing, n: int) -> str:  # against another size it would mislead
        return f"{SEED_ANCHOR_S / ours.median:.0f}x faster" if n == 100_000 else "no ratio"

    rows = [
        info_row(
            "6a",
            f"seed anchor: SemCache.search flat, {flat_n:,} vectors",
            str(flat),
            anchor,
            ratio(flat, flat_n),
        )
    ]
    if hnsw is not None:
        rows.append(
            info_row(
                "6b",
                f"seed anchor: SemCache.search hnsw, {hnsw_n:,} vectors",
                str(hnsw),
                anchor,
                ratio(hnsw, hnsw_n),
            )
        )
    return rows


# --- report ------------------------------------------------------------------------------


def sweep_line(sweep: list[EfPoint], n: int) -> str:
    parts = [f"ef={p.ef}: {p.recall:.3f} @ {fmt_time(p.latency.median)}" for p in sweep]
    return f"raw HNSWIndex ef sweep at n={n:,} (recall@{K} @ median latency): " + "; ".join(parts)


def run(cfg: Config, mode: str, crossover: bool, quick: bool) -> None:
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    console.print(
        environment_line(
            mode,
            *system_pieces("simsimd", "numkong", "hnswlib"),
            f"BLAS pinned to {os.environ['OPENBLAS_NUM_THREADS']} thread",
            f"seed {SEED}",
        )
    )
    rows: list[Row] = []

    console.print("[bold]row 1[/] exact hits")
    rows += row_exact_hits(cfg)

    console.print("[bold]rows 2-3[/] flat search and batch")
    fixture = flat_fixture(cfg)
    flat_rows, semcache_flat = row_flat(cfg, fixture)
    rows += flat_rows
    rows += row_batch(cfg, fixture[0], fixture[3], quick)
    del fixture
    gc.collect()

    console.print("[bold]row 4[/] HNSW on low-rank data" + (" (+ crossover)" if crossover else ""))
    hnsw_rows, points, extras = row_hnsw(cfg, crossover)
    rows += hnsw_rows
    cross_table = None
    if crossover and points:
        cross_table, cross_row = crossover_table(points)
        rows.append(cross_row)
    rows += seed_rows(semcache_flat, cfg.n_vectors, extras["hnsw"], extras["n"])

    console.print()
    console.print(results_table(rows, f"semcache_core benchmark ({mode})"))
    record(
        "table",
        f"semcache_core benchmark ({mode})",
        {"rows": [dataclasses.asdict(row) for row in rows]},
    )
    console.print(sweep_line(extras["sweep"], extras["n"]))
    console.print(
        f"row 4 exact flat SemCache.search on the low-rank data: {extras['flat']} "
        f"(isotropic data, row 2a: {semcache_flat})"
    )
    if cross_table is not None:
        console.print(cross_table)
    print_summary(rows, started, load_before, "see the ± spreads")


def main(argv: Sequence[str] | None = None) -> int:
    parser = arg_parser(__doc__)
    parser.add_argument(
        "--crossover", action="store_true", help="also measure flat vs HNSW at growing n"
    )
    parser.add_argument("--batch-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    random.seed(SEED)
    cfg = QUICK if args.quick else FULL
    if args.batch_json:  # row 3 in a subprocess with more BLAS threads
        matrix, _, _, cache = flat_fixture(cfg)
        print(json.dumps(measure_batch(matrix, cache, batch_queries(cfg), cfg.rounds)))
        return 0
    run(cfg, "quick" if args.quick else "full", args.crossover, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
