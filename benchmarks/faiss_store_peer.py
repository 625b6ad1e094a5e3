"""LlamaIndex's ``FaissVectorStore`` beside ``SemCacheVectorStore``: rows 7a-7e of
``bench_llamaindex.py`` (a module of its own so that script stays readable).

The peer is set up as the llama-index-vector-stores-faiss docs show: ``FaissVectorStore(
faiss_index=faiss.IndexFlatIP(384))`` over the benchmark's unit-length (normalised)
embeddings, so inner product is cosine and its answers are exact. Ours and the peer are
measured here in the same rounds, taking turns (the order rotates, see ``report.turns``):

- 7a ``add`` of every node in batches (ours: the figure of row 6, until its index is built);
- 7b ``query`` top-10, median per query, garbage collection paused, after a warm-up;
- 7c a metadata-filtered query: the peer raises (it implements no filters), said so;
- 7d ``persist(dir/default__vector_store.json)`` into a new directory each round, with the
  directory's size (the peer's file holds only the faiss index: no text, no metadata);
- 7e ``from_persist_dir(dir)`` into a fresh store, until the call returns.

A missing package (``llama-index-vector-stores-faiss`` or ``faiss-cpu``) prints "not
installed" in every row, never a crash.

Usage (from ``bench_llamaindex.run``)::

    rows += faiss_store_rows(ours_store, ours_add_s, nodes, queries, exact, batch=1000,
                             repeats=5, scratch=scratch, settle=wait_built)
"""

from __future__ import annotations

import gc
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)

from report import Row, Scratch, Timing, console, fmt_time, gc_paused, info_row, turns

try:
    import faiss
    from llama_index.vector_stores.faiss import FaissVectorStore
except ImportError:  # pragma: no cover - the bench extra is not installed
    FaissVectorStore = None

K = 10
NOT_INSTALLED = "not installed (pip install llama-index-vector-stores-faiss faiss-cpu)"
PERSIST_NAME = "default__vector_store.json"  # what StorageContext.persist(dir) passes
NAMES = ("ours", "faiss")


def faiss_store_rows(
    ours: Any,
    ours_add_s: float | None,
    nodes: Sequence[Any],
    queries: np.ndarray,
    exact: list[list[str]],
    *,
    batch: int,
    repeats: int,
    scratch: Scratch,
    settle: Callable[[Any], None],
) -> list[Row]:
    """Rows 7a-7e; ``ours`` is our filled store (None when it is not available),
    ``exact`` every query's exact top-10 node ids (node ``i`` is the i-th added),
    ``settle(store)`` waits for a loaded store of ours' background work (untimed)."""
    n = f"{len(nodes):,}"
    labels = (
        f"FaissVectorStore add: {n} nodes in {batch:,}-node calls (ours: row 6, with its build)",
        f"FaissVectorStore query top-{K}, {n} nodes: median per query, same rounds",
        f"FaissVectorStore query top-{K} with a metadata filter",
        f"FaissVectorStore persist(path), {n} nodes, a new directory each time",
        f"FaissVectorStore from_persist_dir(dir), {n} nodes: until the call returns",
    )
    numbers = ("7a", "7b", "7c", "7d", "7e")
    if FaissVectorStore is None:
        return [info_row(num, label, "", NOT_INSTALLED) for num, label in zip(numbers, labels)]
    try:
        return measure(
            ours, ours_add_s, nodes, queries, exact, batch, repeats, scratch, settle, labels
        )
    except Exception as exc:  # a report, not a crash: show what broke
        console.print(f"[red]FaissVectorStore rows failed:[/]\n{traceback.format_exc()}")
        return [info_row("7a", labels[0], "", f"error: {exc!r}"[:120])]


def measure(
    ours: Any,
    ours_add_s: float | None,
    nodes: Sequence[Any],
    queries: np.ndarray,
    exact: list[list[str]],
    batch: int,
    repeats: int,
    scratch: Scratch,
    settle: Callable[[Any], None],
    labels: tuple[str, ...],
) -> list[Row]:
    dim = len(queries[0])
    peer = FaissVectorStore(faiss_index=faiss.IndexFlatIP(dim))
    console.print(f"  [dim]FaissVectorStore: add {len(nodes):,} nodes[/dim]")
    gc.collect()
    begin = time.perf_counter()
    for start in range(0, len(nodes), batch):
        peer.add(list(nodes[start : start + batch]))
    add_s = time.perf_counter() - begin
    stores = {"ours": ours, "faiss": peer}
    names = [name for name in NAMES if stores[name] is not None]

    console.print(f"  [dim]FaissVectorStore vs ours: {len(queries)} queries per round[/dim]")
    asks = [VectorStoreQuery(query_embedding=q, similarity_top_k=K) for q in queries.tolist()]
    found = [node_ids(nodes, peer.query(ask).ids) for ask in asks]
    recall = sum(len(set(f) & set(e)) for f, e in zip(found, exact)) / (K * len(exact))
    latency = time_queries(stores, names, asks, repeats)

    filtered = VectorStoreQuery(
        query_embedding=asks[0].query_embedding,
        similarity_top_k=K,
        filters=MetadataFilters(
            filters=[MetadataFilter(key="bucket", value=3, operator=FilterOperator.EQ)]
        ),
    )
    try:
        peer.query(filtered)
        filter_note = "answered"
    except Exception as exc:
        filter_note = f"raises {type(exc).__name__}: {exc}"[:90]

    console.print(f"  [dim]persist and load: {repeats} rounds each[/dim]")
    persists, loads, sizes = persist_and_load(stores, names, repeats, scratch, settle)
    return [
        versus("7a", labels[0], Once(ours_add_s), Once(add_s)),
        versus(
            "7b",
            f"{labels[1]}; FaissVectorStore recall@{K} vs exact {recall:.3f}",
            latency.get("ours"),
            latency["faiss"],
        ),
        info_row("7c", labels[2], "ours: row 2a", f"FaissVectorStore: {filter_note}"),
        versus(
            "7d",
            f"{labels[3]}; sizes: ours {mb(sizes.get('ours'))}, FaissVectorStore "
            f"{mb(sizes['faiss'])} (its file: the faiss index only, no text or metadata)",
            persists.get("ours"),
            persists["faiss"],
        ),
        versus("7e", labels[4], loads.get("ours"), loads["faiss"]),
    ]


class Once:
    """One measurement (None: not measured)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds

    def __str__(self) -> str:
        return "not available" if self.seconds is None else fmt_time(self.seconds)


def versus(number: str, label: str, ours: Any, peer: Any) -> Row:
    """Ours beside the peer, information only (ratio: ours' time as a share of the peer's)."""
    base = f"FaissVectorStore: {peer}"
    if ours is None or ours.seconds is None:
        return info_row(number, label, "not available", base)
    return info_row(number, label, str(ours), base, f"{ours.seconds / peer.seconds:.2f}x its time")


def mb(size: int | None) -> str:
    return "-" if size is None else f"{size / 1e6:.1f} MB"


def node_ids(nodes: Sequence[Any], ids: Sequence[str] | None) -> list[str]:
    """The peer answers with insertion positions ("0", "1", ...): the nodes' own ids."""
    return [nodes[int(i)].node_id for i in ids or []]


def time_queries(
    stores: dict[str, Any], names: list[str], asks: list[VectorStoreQuery], rounds: int
) -> dict[str, Timing]:
    for name in names:  # warm-up
        for ask in asks[:5]:
            stores[name].query(ask)
    samples: dict[str, list[float]] = {name: [] for name in names}
    perf = time.perf_counter
    gc.collect()
    with gc_paused():
        for _, name in turns(names, max(2, rounds)):
            query, out = stores[name].query, samples[name]
            for ask in asks:
                start = perf()
                query(ask)
                out.append(perf() - start)
    return {name: Timing.of(samples[name]) for name in names}


def persist_and_load(
    stores: dict[str, Any],
    names: list[str],
    repeats: int,
    scratch: Scratch,
    settle: Callable[[Any], None],
) -> tuple[dict[str, Timing], dict[str, Timing], dict[str, int]]:
    """Each store persisted into new directories and loaded back, taking turns."""
    persists: dict[str, list[float]] = {name: [] for name in names}
    loads: dict[str, list[float]] = {name: [] for name in names}
    sizes: dict[str, int] = {}
    perf = time.perf_counter
    for _, name in turns(names, max(2, repeats)):
        store = stores[name]
        directory = scratch.fresh()
        gc.collect()
        start = perf()
        store.persist(str(directory / PERSIST_NAME))
        persists[name].append(perf() - start)
        sizes[name] = sum(f.stat().st_size for f in Path(directory).rglob("*") if f.is_file())
        gc.collect()
        start = perf()
        loaded = loader(store)(str(directory))
        loads[name].append(perf() - start)
        if name == "ours":
            settle(loaded)  # its background index work, before it is freed
        del loaded
    return medians(persists), medians(loads), sizes


def medians(samples: dict[str, list[float]]) -> dict[str, Timing]:
    return {name: Timing.of(values) for name, values in samples.items()}


def loader(store: Any) -> Callable[[str], Any]:
    """The store class's ``from_persist_dir`` (the documented way back from a directory)."""
    return type(store).from_persist_dir
