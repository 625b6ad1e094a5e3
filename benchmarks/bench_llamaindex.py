"""LlamaIndex benchmark for ``SemCacheVectorStore``: every figure beside ``SimpleVectorStore``.

Run::

    cd /work/main && .venv/bin/python benchmarks/bench_llamaindex.py              # full (~4 min)
    .venv/bin/python benchmarks/bench_llamaindex.py --quick                       # smoke (< 30 s)

Exit code is 0 whatever the PASS/FAIL verdicts: this is a report, not a gate. A figure of
ours that cannot be measured (the store does not import, a call raised) reads "not
available" or the error, and its row FAIL; the baseline's figure is still printed.

Workload: N nodes (50k; 3k with ``--quick``), ``TextNode(text=f"node {i}",
id_=f"node-{i:06d}", embedding=<384 floats, a list as LlamaIndex holds them>,
metadata={"bucket": i % 10, "year": 2000 + i % 25})``. Vectors are low-rank, as in
``bench_core.py`` row 4 (32 latent dims, spectrum (i+1)**-0.7, mixed into 384 dims,
isotropic noise, unit rows), so an HNSW graph meets the recall real embeddings give it, not
the pessimistic isotropic case; queries are drawn the same way (none is a stored vector).
Ours is ``SemCacheVectorStore()`` (a fresh in-process ``SemCache``, index ``"auto"``: exact
flat below 2,000 vectors, HNSW beyond; the kind serving queries is printed in the labels),
the baseline llama-index-core's ``SimpleVectorStore``, both filled by ``add`` in
1,000-node batches and measured in the same run. Files go to a
``tempfile.TemporaryDirectory()``.

Method: ``SimpleVectorStore`` is slow at this size (a query converts every stored list to
an array: ~0.5 s; persist ~40 s; load ~80 s), so its runs are capped: 20 queries (5 with
``--quick``) against our 200 (50), and one persist and one load against our 5 (2). Queries
are timed one call at a time, garbage collection paused (as ``timeit`` does), after a
warm-up, the two stores taking turns block by block (one baseline query, then ten of ours;
the order alternates); the figure is the median over queries. Persists and loads run with
the collector on (a load allocates an object per node, and a user pays for the collections
that triggers), each persist into a new directory, each load into a fresh store that is
checked and freed, outside the timing; the baseline's single run sits in the middle of
ours. "(±x%)" beside a time is half the interquartile range.

Rows (targets from the issue, ours vs ``SimpleVectorStore``):

1. ``query(VectorStoreQuery(query_embedding, similarity_top_k=10))``: >= 100x faster;
   recall@10 of ours against the baseline's results (its queries) and against exact numpy
   results (all queries) printed (ours is approximate once its graph serves queries).
2. The same with ``MetadataFilters([MetadataFilter(key="bucket", value=3,
   operator=FilterOperator.EQ)])``: 10% of the nodes match. >= 20x faster; recall printed.
3. ``persist(path)``: >= 50x faster.
4. ``from_persist_path(path)``: >= 50x faster (until the call returns); the loaded store's
   index kind right then and its results for a few queries (vs the store before persist)
   printed, for both stores.
5. File size: ours >= 3x smaller than the baseline's JSON.
6. Filling: ``add`` in batches, ours until the calls return and until its background graph
   build finishes; info only.
7. A second baseline, llama-index's ``FaissVectorStore`` over ``faiss.IndexFlatIP`` (exact
   cosine on the unit rows), measured with ours in the same rounds: add, query, filtered
   query (it has none), persist and ``from_persist_dir`` (see ``faiss_store_peer.py``);
   information only, "not installed" when its package is missing.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores import SimpleVectorStore
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryResult,
)

from faiss_store_peer import faiss_store_rows
from report import (
    SEED,
    LowRankSource,
    Measured,
    Row,
    Scratch,
    Timing,
    console,
    environment_line,
    fmt_time,
    gc_paused,
    info_row,
    print_report,
    rng_for,
    run_from_command_line,
    system_pieces,
)
from semcache_core import SemCache

try:  # being written beside this benchmark: its rows say so when it is missing
    from semcache_integrations.llama_index.vector_store import SemCacheVectorStore
except Exception as exc:  # ImportError, or a half-written module (SyntaxError, NameError...)
    SemCacheVectorStore = None  # type: ignore[assignment,misc]
    STORE_MISSING = f"{type(exc).__name__}: {exc}"

T = TypeVar("T")

DIM = 384
K = 10
BUCKETS = 10  # metadata "bucket" = i % 10
BUCKET = 3  # the filtered queries keep bucket 3: 10% of the nodes
PROBES = 3  # queries whose results are compared before persist and after load
NAMESPACE = "llama-vectors"  # SemCacheVectorStore's default


# --- configuration -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes and repeat counts for one run."""

    n: int  # nodes
    queries: int  # ours, per query kind (a multiple of base_queries)
    base_queries: int  # SimpleVectorStore's, per query kind
    batch: int  # nodes per add call
    repeats: int  # our persists and loads (SimpleVectorStore: once)


FULL = Config(n=50_000, queries=200, base_queries=20, batch=1_000, repeats=5)
QUICK = Config(n=3_000, queries=50, base_queries=5, batch=1_000, repeats=2)


# --- results -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Missing:
    """Stands for a figure of ours that could not be measured; ``why`` is printed."""

    why: str

    def __str__(self) -> str:
        return self.why


NOT_AVAILABLE = Missing("not available")


@dataclasses.dataclass(frozen=True)
class Once:
    """A single measurement (the capped baseline's persist and load)."""

    seconds: float

    def __str__(self) -> str:
        return f"{fmt_time(self.seconds)} (once)"


def failure(what: str, exc: BaseException) -> Missing:
    """A ``Missing`` for a call of ours that raised; the traceback is printed."""
    console.print(f"[red]{what} raised:[/]\n{traceback.format_exc()}")
    return Missing(f"error: {exc!r}"[:100])


def attempt(what: str, fn: Callable[[], T]) -> T | Missing:
    """``fn()``, or a ``Missing`` when it raises."""
    try:
        return fn()
    except Exception as exc:  # a report, not a crash: show what broke
        return failure(what, exc)


def speedup_row(
    number: str,
    label: str,
    ours: Measured | Missing,
    base: Measured,
    target: float,
) -> Row:
    """A row whose target is ``baseline / ours >= target`` (times faster)."""
    goal = f">= {target:g}x faster"
    base_text = f"SimpleVectorStore: {base}"
    if isinstance(ours, Missing):
        return Row(number, label, str(ours), base_text, "", goal, False)
    speedup = base.seconds / ours.seconds
    return Row(
        number, label, str(ours), base_text, f"{speedup:.1f}x faster", goal, speedup >= target
    )


def missing_row(number: str, label: str, ours: Missing, baseline: str = "") -> Row:
    """An information row of ours that could not be measured: FAIL."""
    return Row(number, label, str(ours), baseline, "", "available", False)


def fmt_mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def recall(found: Sequence[Sequence[str]], expected: Sequence[Sequence[str]]) -> float:
    """Mean share of each expected top-k found in the same query's results."""
    shared = sum(len(set(f) & set(e)) for f, e in zip(found, expected))
    return shared / max(1, sum(len(e) for e in expected))


# --- our store, looked into ----------------------------------------------------------------


def engine_of(store: Any) -> SemCache | None:
    """The ``SemCache`` behind our store, wherever it keeps it (None when not found)."""
    candidates: list[Any] = []
    for name in ("cache", "client", "engine", "_cache"):
        try:
            candidates.append(getattr(store, name))
        except Exception:  # an attribute that does not exist or raises
            continue
    candidates += list((getattr(store, "__pydantic_private__", None) or {}).values())
    candidates += list(getattr(store, "__dict__", {}).values())
    return next((c for c in candidates if isinstance(c, SemCache)), None)


def index_of(store: Any) -> Any:
    """The engine index holding our store's vectors (None when it cannot be found)."""
    engine = engine_of(store)
    index_for = getattr(engine.backend, "index_for", None) if engine is not None else None
    if engine is None or index_for is None:
        return None
    namespace = getattr(store, "engine_namespace", NAMESPACE)
    index = index_for(namespace) if isinstance(namespace, str) else None
    if index is None:  # another namespace scheme: the first namespace with an index
        for name in engine.backend.counters().details.get("index") or {}:
            index = index_for(name)
            if index is not None:
                break
    return index


def kind_of(store: Any) -> str:
    """``"hnsw"`` or ``"flat"``: what serves our store's queries now ("?" when unknown)."""
    index = index_of(store)
    return "?" if index is None else str(index.kind)


def kind_note(store: Any) -> str:
    """What the labels say of our store: its index mode and the kind serving queries now."""
    if isinstance(store, Missing):
        return "ours not available"
    return f"ours index='auto', {kind_of(store)} here"


def wait_built(store: Any) -> None:
    """Wait for our store's background index work (a graph build, int8 coding)."""
    index = index_of(store)
    if index is not None:
        index.wait_until_built()


# --- data --------------------------------------------------------------------------------


def node_id(i: int) -> str:
    return f"node-{i:06d}"


@dataclasses.dataclass
class Data:
    vectors: np.ndarray  # (n, DIM) unit rows, float32
    queries: np.ndarray  # (queries, DIM) unit rows, float32
    nodes: list[TextNode]

    def exact(self, rows: np.ndarray | None = None) -> list[list[str]]:
        """Exact top-k node ids of every query (numpy), among ``rows`` when given."""
        ids = np.arange(len(self.vectors)) if rows is None else rows
        scores = self.queries @ self.vectors[ids].T
        top = np.argsort(-scores, axis=1, kind="stable")[:, :K]
        return [[node_id(int(ids[j])) for j in row] for row in top]


def make_data(cfg: Config) -> Data:
    source = LowRankSource(rng_for(0))
    vectors = source.draw(cfg.n)
    queries = source.draw(cfg.queries)
    lists = vectors.tolist()
    nodes = [
        TextNode(
            text=f"node {i}",
            id_=node_id(i),
            embedding=lists[i],
            metadata={"bucket": i % BUCKETS, "year": 2000 + i % 25},
        )
        for i in range(cfg.n)
    ]
    return Data(vectors, queries, nodes)


def bucket_filter() -> MetadataFilters:
    return MetadataFilters(
        filters=[MetadataFilter(key="bucket", value=BUCKET, operator=FilterOperator.EQ)]
    )


def query_objects(data: Data, filters: MetadataFilters | None) -> list[VectorStoreQuery]:
    return [
        VectorStoreQuery(query_embedding=q, similarity_top_k=K, filters=filters)
        for q in data.queries.tolist()
    ]


YEARS = 25  # metadata "year" = 2000 + i % 25: each year holds 4% of the nodes


def first_filter_row(filled: Filled, data: Data) -> Row:
    """Our filtered query the first time its filter is seen (no reused filter result)."""
    label = (
        f"query top-{K} with a filter seen for the first time (year == y, {YEARS} values, "
        "4% of nodes each); the first filter on a field also indexes the field"
    )
    if isinstance(filled.ours, Missing):
        return info_row("2c", label, "not available")
    samples = []
    for year in range(YEARS):
        filters = MetadataFilters(
            filters=[MetadataFilter(key="year", value=2000 + year, operator=FilterOperator.EQ)]
        )
        query = VectorStoreQuery(
            query_embedding=data.queries[year].tolist(), similarity_top_k=K, filters=filters
        )
        start = time.perf_counter()
        filled.ours.query(query)
        samples.append(time.perf_counter() - start)
    return info_row(
        "2c",
        label,
        f"{Timing.of(samples[1:])} (the first, indexing: {fmt_time(samples[0])})",
        "SimpleVectorStore: see 2a",
    )


def ids_of(result: VectorStoreQueryResult) -> list[str]:
    if result.ids is not None:
        return list(result.ids)
    return [node.node_id for node in result.nodes or []]


# --- row 6: filling ----------------------------------------------------------------------


@dataclasses.dataclass
class Filled:
    ours: Any  # the store, or a Missing
    rows: list[Row]
    simple: SimpleVectorStore
    ours_add_s: float | None = None  # add calls + background build


def add_all(store: Any, nodes: list[TextNode], batch: int) -> float:
    begin = time.perf_counter()
    for start in range(0, len(nodes), batch):
        store.add(nodes[start : start + batch])
    return time.perf_counter() - begin


def fill(data: Data, cfg: Config) -> Filled:
    n = len(data.nodes)
    label = f"add: {n:,} nodes in {cfg.batch:,}-node calls"
    simple = SimpleVectorStore()
    gc.collect()
    simple_s = add_all(simple, data.nodes, cfg.batch)
    base = f"SimpleVectorStore: {fmt_time(simple_s)}"
    ours: Any = NOT_AVAILABLE
    if SemCacheVectorStore is not None:
        ours = attempt("SemCacheVectorStore()", SemCacheVectorStore)
    if isinstance(ours, Missing):
        return Filled(ours, [missing_row("6", label, ours, base)], simple)
    gc.collect()
    added = attempt("SemCacheVectorStore.add", lambda: add_all(ours, data.nodes, cfg.batch))
    if isinstance(added, Missing):
        return Filled(added, [missing_row("6", label, added, base)], simple)
    begin = time.perf_counter()
    wait_built(ours)
    built_s = time.perf_counter() - begin
    kind = kind_of(ours)
    row = info_row(
        "6",
        f"{label}; ours until the calls return, then until its background index work "
        f"(graph build) is done; kind then: {kind}",
        f"{fmt_time(added)}; + {fmt_time(built_s)}",
        base,
        f"{(added + built_s) / simple_s:.2f}x its time (with the build)",
    )
    return Filled(ours, [row], simple, added + built_s)


# --- rows 1 and 2: queries ---------------------------------------------------------------


@dataclasses.dataclass
class Queried:
    ours: Timing | Missing
    base: Timing
    ours_ids: list[list[str]]  # every query's, in order
    base_ids: list[list[str]]  # the first base_queries queries'


def time_queries(
    ours: Any, simple: SimpleVectorStore, queries: list[VectorStoreQuery], cfg: Config
) -> Queried:
    """Ours on every query, the baseline on the first ``cfg.base_queries``, block by block."""
    per_block = len(queries) // cfg.base_queries
    failed: Missing | None = ours if isinstance(ours, Missing) else None
    simple.query(queries[0])  # warm-up
    if failed is None:
        warm = attempt("SemCacheVectorStore.query", lambda: [ours.query(q) for q in queries])
        failed = warm if isinstance(warm, Missing) else None
    ours_s: list[float] = []
    base_s: list[float] = []
    ours_results: list[VectorStoreQueryResult] = []
    base_results: list[VectorStoreQueryResult] = []
    perf = time.perf_counter

    def run_base(block: int) -> None:
        start = perf()
        result = simple.query(queries[block])
        base_s.append(perf() - start)
        base_results.append(result)

    def run_ours(block: int) -> None:
        nonlocal failed
        for query in queries[block * per_block : (block + 1) * per_block]:
            try:
                start = perf()
                result = ours.query(query)
                ours_s.append(perf() - start)
            except Exception as exc:
                failed = failure("SemCacheVectorStore.query", exc)
                return
            ours_results.append(result)

    gc.collect()
    with gc_paused():
        for block in range(cfg.base_queries):
            turns = (run_base, run_ours) if block % 2 == 0 else (run_ours, run_base)
            for turn in turns:
                if turn is run_base or failed is None:
                    turn(block)
    return Queried(
        failed if failed is not None else Timing.of(ours_s),
        Timing.of(base_s),
        [ids_of(r) for r in ours_results],
        [ids_of(r) for r in base_results],
    )


def query_rows(
    numbers: tuple[str, str],
    what: str,
    filled: Filled,
    data: Data,
    cfg: Config,
    filters: MetadataFilters | None,
    target: float,
) -> tuple[list[Row], Queried]:
    ours, simple = filled.ours, filled.simple
    n, q, b = len(data.nodes), cfg.queries, cfg.base_queries
    console.print(f"  [dim]{what}: {q} queries of ours, {b} of SimpleVectorStore[/dim]")
    kind = kind_note(ours)
    result = time_queries(ours, simple, query_objects(data, filters), cfg)
    rows_kept = None
    if filters is not None:
        rows_kept = np.flatnonzero(np.arange(n) % BUCKETS == BUCKET)
    exact = data.exact(rows_kept)
    base_exact = sum(f == e for f, e in zip(result.base_ids, exact))
    label = (
        f"{what}, {n:,} x {DIM}: median over queries ({kind}): ours {q} queries, "
        f"SimpleVectorStore {b}"
    )
    rows = [speedup_row(numbers[0], label, result.ours, result.base, target)]
    recall_label = (
        f"{what}: recall@{K} of ours vs SimpleVectorStore (its {b} queries) | vs exact "
        f"numpy (all {q}); SimpleVectorStore's top-{K} = exact in {base_exact}/{b}"
    )
    if isinstance(result.ours, Missing):
        rows.append(missing_row(numbers[1], recall_label, result.ours))
    else:
        vs_base = recall(result.ours_ids[:b], result.base_ids)
        vs_exact = recall(result.ours_ids, exact)
        filled_up = sum(len(ids) == K for ids in result.ours_ids)
        rows.append(
            info_row(
                numbers[1],
                recall_label,
                f"{vs_base:.3f} | {vs_exact:.3f}",
                f"ours returned {K} ids for {filled_up}/{q} queries",
            )
        )
    return rows, result


# --- rows 3, 4 and 5: persist, load, file size -------------------------------------------


def size_of(path: Path) -> int:
    """A file's size, or the total of the files under a directory."""
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


@dataclasses.dataclass
class Persisted:
    ours: Timing | Missing
    base: Once
    ours_path: Path | None  # the last persist's, kept for the loads
    base_path: Path


def persist_all(filled: Filled, cfg: Config, scratch: Scratch) -> Persisted:
    """Our persists into new directories (the last kept), the baseline's once mid-way."""
    ours, simple = filled.ours, filled.simple
    samples: list[float] = []
    failed: Missing | None = ours if isinstance(ours, Missing) else None
    ours_path: Path | None = None
    base_s = 0.0
    base_path = Path()
    perf = time.perf_counter
    for round_no in range(cfg.repeats):
        if round_no == cfg.repeats // 2:
            base_path = scratch.fresh() / "default__vector_store.json"
            gc.collect()
            start = perf()
            simple.persist(str(base_path))
            base_s = perf() - start
        if failed is not None:
            continue
        path = scratch.fresh() / "vector_store.semcache"
        gc.collect()
        try:
            start = perf()
            ours.persist(str(path))
            samples.append(perf() - start)
        except Exception as exc:
            failed = failure("SemCacheVectorStore.persist", exc)
            continue
        if ours_path is not None:
            shutil.rmtree(ours_path.parent)
        ours_path = path
    if failed is not None or ours_path is None or not ours_path.exists():
        why = failed or Missing("error: persist wrote nothing")
        return Persisted(why, Once(base_s), None, base_path)
    return Persisted(Timing.of(samples), Once(base_s), ours_path, base_path)


@dataclasses.dataclass
class Loaded:
    ours: Timing | Missing
    base: Once
    ours_kinds: list[str]  # right as each load returned
    ours_same: list[int]  # probe queries answered as before persist, per load
    base_same: int


def load_all(
    persisted: Persisted, cfg: Config, probes: list[VectorStoreQuery], before: Queried
) -> Loaded:
    """Our loads into fresh stores, the baseline's once mid-way; each checked, then freed."""
    samples: list[float] = []
    kinds: list[str] = []
    same: list[int] = []
    failed: Missing | None = persisted.ours if isinstance(persisted.ours, Missing) else None
    base_s, base_same = 0.0, 0
    perf = time.perf_counter
    ours_before = before.ours_ids[: len(probes)]
    base_before = before.base_ids[: len(probes)]
    for round_no in range(cfg.repeats):
        if round_no == cfg.repeats // 2:
            gc.collect()
            start = perf()
            loaded: Any = SimpleVectorStore.from_persist_path(str(persisted.base_path))
            base_s = perf() - start
            base_same = sum(ids_of(loaded.query(q)) == e for q, e in zip(probes, base_before))
            del loaded
        if failed is not None:
            continue
        assert SemCacheVectorStore is not None and persisted.ours_path is not None
        gc.collect()
        try:
            start = perf()
            loaded = SemCacheVectorStore.from_persist_path(str(persisted.ours_path))
            samples.append(perf() - start)
            kinds.append(kind_of(loaded))
            wait_built(loaded)
            same.append(sum(ids_of(loaded.query(q)) == e for q, e in zip(probes, ours_before)))
        except Exception as exc:
            failed = failure("SemCacheVectorStore.from_persist_path", exc)
            continue
        finally:
            loaded = None
    gc.collect()
    return Loaded(
        failed if failed is not None else Timing.of(samples),
        Once(base_s),
        kinds,
        same,
        base_same,
    )


def persistence_rows(
    filled: Filled, data: Data, cfg: Config, scratch: Scratch, before: Queried
) -> list[Row]:
    n = len(data.nodes)
    console.print(f"  [dim]persist: {cfg.repeats} of ours, SimpleVectorStore once[/dim]")
    persisted = persist_all(filled, cfg, scratch)
    base_size = size_of(persisted.base_path)
    ours_size = None if persisted.ours_path is None else size_of(persisted.ours_path)
    probes = query_objects(data, None)[:PROBES]
    console.print(f"  [dim]load: {cfg.repeats} of ours, SimpleVectorStore once[/dim]")
    loaded = load_all(persisted, cfg, probes, before)
    kind = kind_note(filled.ours)
    rows = [
        speedup_row(
            "3",
            f"persist(path): {n:,} nodes, a new file each time ({kind}; SimpleVectorStore: JSON)",
            persisted.ours,
            persisted.base,
            50,
        ),
        speedup_row(
            "4a",
            f"from_persist_path(path): {n:,} nodes into a fresh store, until the call returns",
            loaded.ours,
            loaded.base,
            50,
        ),
    ]
    check_label = (
        f"after from_persist_path: index kind right as it returns; top-{K} of {PROBES} "
        "queries as the store answered before persist"
    )
    if isinstance(loaded.ours, Missing):
        rows.append(missing_row("4b", check_label, loaded.ours))
    else:
        rows.append(
            info_row(
                "4b",
                check_label,
                f"kind {'/'.join(sorted(set(loaded.ours_kinds)))}; same "
                f"{sum(loaded.ours_same)}/{PROBES * len(loaded.ours_same)}",
                f"SimpleVectorStore: same {loaded.base_same}/{PROBES}",
            )
        )
    size_label = f"file size after persist: {n:,} nodes x {DIM} (ours vs JSON)"
    base_text = f"SimpleVectorStore: {fmt_mb(base_size)}"
    if ours_size is None:
        why = persisted.ours if isinstance(persisted.ours, Missing) else NOT_AVAILABLE
        rows.append(Row("5", size_label, str(why), base_text, "", ">= 3x smaller", False))
    else:
        ratio = base_size / ours_size
        rows.append(
            Row(
                "5",
                f"{size_label}; raw float32 vectors alone: {fmt_mb(data.vectors.nbytes)}",
                fmt_mb(ours_size),
                base_text,
                f"{ratio:.1f}x smaller",
                ">= 3x smaller",
                ratio >= 3.0,
            )
        )
    return rows


# --- report ------------------------------------------------------------------------------


def error_row(number: str, label: str, exc: BaseException) -> Row:
    """A row for a section that raised: FAIL, with the error (traceback printed above)."""
    console.print(f"[red]row {number} failed:[/]\n{traceback.format_exc()}")
    return Row(number, label, f"error: {exc!r}"[:120], "", "", "runs", False)


def run(cfg: Config, mode: str) -> None:
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="semcache-bench-") as tmp:
        scratch = Scratch(Path(tmp))
        console.print(
            environment_line(
                mode,
                f"{cfg.n:,} nodes x {DIM} (low-rank)",
                *system_pieces("llama-index-core", "hnswlib"),
                f"seed {SEED}",
                f"files in {scratch.root.parent}",
            )
        )
        if SemCacheVectorStore is None:
            console.print(f"[red]SemCacheVectorStore does not import:[/] {STORE_MISSING}")
        console.print(f"  [dim]{cfg.n:,} TextNodes with seeded low-rank vectors[/dim]")
        data = make_data(cfg)
        console.print("[bold]row 6[/] filling both stores")
        filled = fill(data, cfg)
        rows += filled.rows
        before: Queried | None = None
        for numbers, what, filters, target in (
            (("1a", "1b"), f"query top-{K}", None, 100),
            (
                ("2a", "2b"),
                f"query top-{K}, bucket == {BUCKET} (10% of nodes, the same filter each time)",
                bucket_filter(),
                20,
            ),
        ):
            console.print(f"[bold]row {numbers[0][0]}[/] {what}")
            try:
                found, queried = query_rows(numbers, what, filled, data, cfg, filters, target)
                rows += found
                if filters is None:
                    before = queried  # the unfiltered results: the load rows' reference
            except Exception as exc:  # a report, not a crash: show what broke
                rows.append(error_row(numbers[0], what, exc))
        rows.append(first_filter_row(filled, data))
        console.print("[bold]rows 3-5[/] persist, load, file size")
        if before is None:
            rows.append(Row("3", "persist, load, file size", "skipped", "", "", "runs", False))
        else:
            try:
                rows += persistence_rows(filled, data, cfg, scratch, before)
            except Exception as exc:
                rows.append(error_row("3", "persist, load, file size", exc))
        console.print("[bold]row 7[/] FaissVectorStore")
        rows += faiss_store_rows(
            None if isinstance(filled.ours, Missing) else filled.ours,
            filled.ours_add_s,
            data.nodes,
            data.queries,
            data.exact(),
            batch=cfg.batch,
            repeats=cfg.repeats,
            scratch=scratch,
            settle=wait_built,
        )
        del filled
        gc.collect()

    rows.sort(key=lambda row: row.number)
    title = f"semcache LlamaIndex benchmark ({mode})"
    widths = {"label_width": 46, "baseline_width": 34, "figure_width": 14}
    print_report(rows, title, started, load_before, "see the ± spreads", **widths)


def main(argv: Sequence[str] | None = None) -> int:
    return run_from_command_line(__doc__, run, QUICK, FULL, argv)


if __name__ == "__main__":
    sys.exit(main())
