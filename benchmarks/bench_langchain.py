"""LangChain benchmark for ``semcache_integrations.langchain``: every figure beside a baseline.

Run::

    cd /work/main && .venv/bin/python benchmarks/bench_langchain.py              # full (~2 min)
    .venv/bin/python benchmarks/bench_langchain.py --quick                       # smoke (< 30 s)

Exit code is 0 whatever the verdicts: this is a report, not a gate. The issue sets no
numeric targets, so every row is information only, except a row that cannot be measured
(an adapter that does not import, a measurement that raised): that one reads FAIL.

Method: every timing alternates ours and its baselines round by round (the order rotates,
as in ``bench_core.py``) after a warm-up; data comes from seeded generators. Rows 1 and 2
time single lookups with garbage collection paused (as ``timeit`` does); row 3 times whole
``embed_documents`` calls with the collector on (a call allocates per text, and a user pays
for the collections that triggers). "(±x%)" beside a time is half the interquartile range.

Rows:

1. LLM cache exact hit: ``lookup(prompt, llm_string)`` of 1,000 chat prompts (the JSON
   LangChain builds: ``dumps([SystemMessage, HumanMessage])``) cached with a
   ``ChatGeneration`` each (an ``AIMessage`` with usage and response metadata). Ours
   (``semcache_integrations.langchain.SemCache``) vs langchain-core's ``InMemoryCache``
   (returns the stored objects: no deserialisation) and langchain-community's
   ``SQLiteCache`` (a file in a temporary directory; deserialises like ours). A sample is
   one pass over all prompts; the figure is the per-lookup median of the passes. The
   SQLite rows are written in one transaction (``update`` commits per prompt: ~10 ms each,
   the same rows) and its ``loads`` warnings (beta, ``allowed_objects``) are silenced.
   Also printed: where our time goes (LangChain's ``loads`` of the stored response, the
   rest; an exact hit does not parse the prompt).
2. Semantic lookup: N prompts (100k; 10k with ``--quick``) cached under one llm_string and
   one system prompt (one engine namespace), then ``lookup`` of 1,000 paraphrase prompts
   that are no exact hit: half near a cached prompt (cosine ~0.97, above the 0.95
   threshold), half unrelated (best cosine ~0.8). Embeddings come from a table (a
   LangChain ``Embeddings`` returning the precomputed ``list[float]`` of a text), and their
   cost is measured apart (the engine's adapter ``embed_query`` on the same texts, same
   rounds) and subtracted per prompt: per prompt the median lookup minus the median embed,
   then p50 and p99 over prompts. Vectors: 384 dims, low-rank (32 latent dims, as in
   ``bench_core.py`` row 4), unit rows. Ours ``index="auto"`` (HNSW past 2,000 vectors) vs
   the same lookup over ``index="flat"`` (exact) in the same run. The caches are filled
   through the engine's ``set_many`` with the keys, namespace and value ``update`` writes
   (the adapter's ``ResponseCache`` key helpers), in one call; the fill time printed
   includes the background graph build of ``"auto"``.
3. Embedding caches over N texts (10k; 2k with ``--quick``): langchain-classic's
   ``CacheBackedEmbeddings.from_bytes_store(underlying, store, namespace=...,
   key_encoder="blake2b")`` over our ``SemCacheByteStore`` vs ``InMemoryByteStore`` and
   ``LocalFileStore`` (a temporary directory): cold (a fresh store: first
   ``embed_documents`` of every text) and warm (the same call again: all hits), ms per
   call. The underlying model is ``DeterministicFakeEmbedding(size=384)``; its own time
   (``embed_documents`` alone, same rounds) is printed, and so is each store alone
   (``mset`` then ``mget`` of the very pairs ``CacheBackedEmbeddings`` writes: blake2b keys,
   the vectors as JSON bytes), so the stores' share of a call shows. Also
   printed: our ``CachedEmbeddings`` over the same model and texts (stores float64 vectors
   and indexes them, so its cache is searchable), cold and warm, with the background index
   build it starts waited for between the two, outside the timing.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_classic.embeddings import CacheBackedEmbeddings
from langchain_classic.storage import LocalFileStore
from langchain_core._api import LangChainBetaWarning
from langchain_core._api.deprecation import LangChainPendingDeprecationWarning
from langchain_core.caches import InMemoryCache
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from langchain_core.load import dumps, loads
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration
from langchain_core.stores import ByteStore, InMemoryByteStore

from report import (
    SEED,
    LowRankSource,
    Row,
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
    turns,
    unit_rows,
)
from semcache_core import SemCache as Engine
from semcache_core.embedders import as_embedder
from semcache_core.index.hybrid import DEFAULT_HNSW_THRESHOLD
from semcache_core.responses import Prompt
from semcache_integrations.langchain import SemCache
from semcache_integrations.langchain.llm_cache import split_prompt

with warnings.catch_warnings():  # "langchain-community is being sunset" on import
    warnings.simplefilter("ignore", DeprecationWarning)
    from langchain_community.cache import SQLiteCache

try:  # being written beside this benchmark: a row says so when it is missing
    from semcache_integrations.langchain.byte_store import SemCacheByteStore
except ImportError as exc:
    SemCacheByteStore = None  # type: ignore[assignment,misc]
    BYTE_STORE_MISSING = f"{type(exc).__name__}: {exc}"
try:
    from semcache_integrations.langchain.embeddings import CachedEmbeddings
except ImportError as exc:
    CachedEmbeddings = None  # type: ignore[assignment,misc]
    CACHED_EMBEDDINGS_MISSING = f"{type(exc).__name__}: {exc}"

DIM = 384
LLM_STRING = (
    '{"lc": 1, "type": "constructor", "id": ["langchain", "chat_models", "openai", '
    '"ChatOpenAI"], "kwargs": {"model_name": "gpt-4o-mini", "temperature": 0.0}}---'
    "[('_type', 'openai-chat'), ('model_name', 'gpt-4o-mini'), ('stop', None), "
    "('temperature', 0.0)]"
)
SYSTEM_PROMPTS = (
    "You are a helpful assistant. Answer briefly.",
    "You are a support agent for ACME routers. Be precise and friendly.",
    "Answer as a senior Python engineer; include a short code sample when useful.",
)
TOPICS = ("password", "router", "invoice", "refund", "shipping", "login", "backup", "update")
NEAR_COSINE = 0.97  # paraphrases near a cached prompt; the adapter's default threshold: 0.95
EMBED_NAMESPACE = "fake-384"


# --- configuration -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes and repeat counts for one run."""

    n_exact: int  # row 1 prompts
    exact_rounds: int  # row 1 passes over every prompt
    n_cached: int  # row 2 cached prompts
    n_queries: int  # row 2 paraphrase prompts
    semantic_rounds: int  # row 2 passes over every paraphrase
    n_texts: int  # row 3 texts
    embed_rounds: int  # row 3 fresh stores per kind


FULL = Config(
    n_exact=1_000,
    exact_rounds=15,
    n_cached=100_000,
    n_queries=1_000,
    semantic_rounds=5,
    n_texts=10_000,
    embed_rounds=3,
)
QUICK = Config(
    n_exact=1_000,
    exact_rounds=5,
    n_cached=10_000,
    n_queries=1_000,
    semantic_rounds=2,
    n_texts=2_000,
    embed_rounds=2,
)


# --- results -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Percentiles:
    """p50 and p99 over prompts of per-prompt median seconds."""

    p50: float
    p99: float

    @classmethod
    def of(cls, per_prompt: np.ndarray) -> Percentiles:
        return cls(float(np.percentile(per_prompt, 50)), float(np.percentile(per_prompt, 99)))

    def __str__(self) -> str:
        return f"p50 {fmt_time(self.p50)}, p99 {fmt_time(self.p99)}"


def times(ours: float, base: float) -> str:
    return f"{ours / base:.2f}x its time"


def error_row(number: str, label: str, exc: BaseException) -> Row:
    """A row for a measurement that raised: FAIL, with the error (traceback printed above)."""
    console.print(f"[red]row {number} failed:[/]\n{traceback.format_exc()}")
    return Row(number, label, f"error: {exc!r}"[:120], "", "", "runs", False)


# --- timing ------------------------------------------------------------------------------


def time_passes(
    fns: dict[str, Callable[[Any], object]], items: Sequence[Any], rounds: int
) -> dict[str, Timing]:
    """Per-item median time of ``fn(item)``: one sample is a pass over every item.

    One warm-up pass each, then the functions take turns round by round (the order
    rotates), garbage collection paused.
    """
    names = list(fns)
    for name in names:
        for item in items:
            fns[name](item)
    samples: dict[str, list[float]] = {name: [] for name in names}
    perf = time.perf_counter
    gc.collect()
    with gc_paused():
        for _, name in turns(names, rounds):
            fn = fns[name]
            start = perf()
            for item in items:
                fn(item)
            samples[name].append(perf() - start)
    return {name: Timing.of(samples[name], 1 / len(items)) for name in names}


def time_each(
    fns: dict[str, Callable[[Any], object]], items: Sequence[Any], rounds: int
) -> dict[str, np.ndarray]:
    """Seconds of every ``fn(item)`` call: an array of shape (rounds, items) per function.

    One warm-up pass each, then the functions take turns round by round (the order
    rotates), garbage collection paused.
    """
    names = list(fns)
    for name in names:
        for item in items:
            fns[name](item)
    samples = {name: np.empty((rounds, len(items))) for name in names}
    perf = time.perf_counter
    gc.collect()
    with gc_paused():
        for round_no, name in turns(names, rounds):
            fn, out = fns[name], samples[name][round_no]
            for i, item in enumerate(items):
                start = perf()
                fn(item)
                out[i] = perf() - start
    return samples


# --- data --------------------------------------------------------------------------------


def chat_prompts(system: str, questions: Sequence[str]) -> list[str]:
    """``dumps([SystemMessage(system), HumanMessage(q)])`` for every question, as LangChain
    builds a chat model's cache prompt; the JSON is templated once and checked on a sample."""
    marker = "@@QUESTION@@"
    template = dumps([SystemMessage(system), HumanMessage(marker)])
    assert template.count(f'"{marker}"') == 1
    before, after = template.split(f'"{marker}"')
    prompts = [before + json.dumps(q) + after for q in questions]
    for i in range(0, len(questions), max(1, len(questions) // 5)):
        assert prompts[i] == dumps([SystemMessage(system), HumanMessage(questions[i])])
    return prompts


def question(i: int) -> str:
    topic = TOPICS[i % len(TOPICS)]
    return f"Question {i}: how do I fix the {topic} problem on account {i * 7919 % 100_003}?"


def paraphrase(i: int) -> str:
    topic = TOPICS[i % len(TOPICS)]
    return f"For question {i}, what fixes the {topic} problem on account {i * 7919 % 100_003}?"


def chat_response(i: int) -> list[ChatGeneration]:
    """One ``ChatGeneration``: an ``AIMessage`` with content, usage and response metadata."""
    topic = TOPICS[i % len(TOPICS)]
    message = AIMessage(
        content=(
            f"To fix the {topic} problem on account {i}: open Settings, choose Security, "
            f"then follow the steps under '{topic.title()}'. If that fails, contact support "
            "with the error code shown on screen."
        ),
        usage_metadata={"input_tokens": 42 + i % 17, "output_tokens": 48, "total_tokens": 90},
        response_metadata={"model_name": "gpt-4o-mini", "finish_reason": "stop"},
        id=f"run-{i:08d}",
    )
    return [ChatGeneration(message=message, generation_info={"finish_reason": "stop"})]


def near(vectors: np.ndarray, cosine: float, rng: np.random.Generator) -> np.ndarray:
    """Unit rows at about ``cosine`` from ``vectors`` (isotropic noise added)."""
    scale = np.sqrt((1 / cosine**2 - 1) / DIM)
    return unit_rows(vectors + rng.standard_normal(vectors.shape, dtype=np.float32) * scale)


class TableEmbeddings(Embeddings):
    """A LangChain ``Embeddings`` that looks precomputed vectors up: its cost is a dict
    lookup and a ``tolist``, measured apart and subtracted."""

    def __init__(self, rows: dict[str, int], matrix: np.ndarray) -> None:
        self.rows = rows
        self.matrix = matrix

    def embed_query(self, text: str) -> list[float]:
        return self.matrix[self.rows[text]].tolist()  # type: ignore[no-any-return]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]


# --- row 1: exact hits -------------------------------------------------------------------


def fill_sqlite(cache: SQLiteCache, prompts: Sequence[str], responses: Sequence[list]) -> None:
    """The rows ``SQLiteCache.update`` writes for every prompt, in one transaction."""
    from sqlalchemy.orm import Session

    schema = cache.cache_schema
    with Session(cache.engine) as session, session.begin():
        for prompt, response in zip(prompts, responses):
            for idx, generation in enumerate(response):
                session.add(
                    schema(prompt=prompt, llm=LLM_STRING, response=dumps(generation), idx=idx)
                )


def same_generations(found: Any, expected: list) -> bool:
    return (
        isinstance(found, list)
        and len(found) == len(expected)
        and all(a == b for a, b in zip(found, expected))
    )


def row_exact(cfg: Config, tmp: Path) -> list[Row]:
    n = cfg.n_exact
    questions = [question(i) for i in range(n)]
    prompts: list[str] = []
    for s, system in enumerate(SYSTEM_PROMPTS):
        prompts += chat_prompts(system, questions[s :: len(SYSTEM_PROMPTS)])
    order = [prompts[i] for i in rng_for(1).permutation(n)]
    responses = {p: chat_response(i) for i, p in enumerate(prompts)}

    ours, memory = SemCache(), InMemoryCache()
    sqlite = SQLiteCache(database_path=str(tmp / "langchain.db"))
    for prompt, response in responses.items():
        ours.update(prompt, LLM_STRING, response)
        memory.update(prompt, LLM_STRING, response)
    fill_sqlite(sqlite, list(responses), list(responses.values()))

    stored = {p: dumps(list(responses[p])) for p in order}  # what ours.update stores

    with warnings.catch_warnings():  # SQLiteCache's loads: beta, then allowed_objects
        warnings.simplefilter("ignore", LangChainBetaWarning)
        warnings.simplefilter("ignore", LangChainPendingDeprecationWarning)
        same = sum(
            same_generations(ours.lookup(p, LLM_STRING), responses[p])
            and same_generations(sqlite.lookup(p, LLM_STRING), responses[p])
            and memory.lookup(p, LLM_STRING) is responses[p]
            for p in order
        )
        t = time_passes(
            {
                "ours": lambda p: ours.lookup(p, LLM_STRING),
                "memory": lambda p: memory.lookup(p, LLM_STRING),
                "sqlite": lambda p: sqlite.lookup(p, LLM_STRING),
                "loads": lambda p: loads(stored[p], allowed_objects="core"),
            },
            order,
            cfg.exact_rounds,
        )
    sqlite.engine.dispose()
    rest = t["ours"].median - t["loads"].median
    label = f"LLM cache exact hit: lookup of {n:,} chat prompts (1 ChatGeneration each)"
    return [
        info_row(
            "1a",
            f"{label}; ours deserialises, InMemoryCache returns the stored objects "
            f"({same}/{n} hits equal to what was stored, all three)",
            f"{t['ours']}/lookup",
            f"InMemoryCache (no deserialisation): {t['memory']}",
            times(t["ours"].median, t["memory"].median),
        ),
        info_row(
            "1b",
            f"{label}; both deserialise (SQLiteCache: file in a temp dir)",
            f"{t['ours']}/lookup",
            f"SQLiteCache: {t['sqlite']}",
            times(t["ours"].median, t["sqlite"].median),
        ),
        info_row(
            "1c",
            "where our exact hit's time goes: LangChain loads(response) | the rest (hash "
            "the prompt, engine get, counts; the prompt is parsed only on a miss)",
            f"{fmt_time(t['loads'].median)} | {fmt_time(rest)}",
            f"of {fmt_time(t['ours'].median)} per lookup",
            f"{t['loads'].median / t['ours'].median:.0%} | {rest / t['ours'].median:.0%}",
        ),
    ]


# --- row 2: semantic lookups -------------------------------------------------------------


@dataclasses.dataclass
class SemanticFixture:
    table: TableEmbeddings
    cached: list[str]  # the cached prompts
    queries: list[str]  # the paraphrase prompts
    query_texts: list[str]  # their human messages (what gets embedded)
    near_count: int
    blob: str  # the stored response, as update writes it


def semantic_fixture(cfg: Config) -> SemanticFixture:
    n, q = cfg.n_cached, cfg.n_queries
    source = LowRankSource(rng_for(2))
    vectors = source.draw(n)
    near_count = q // 2
    targets = rng_for(3).choice(n, size=near_count, replace=False)
    query_vectors = np.concatenate(
        [near(vectors[targets], NEAR_COSINE, rng_for(4)), source.draw(q - near_count)]
    )
    cached_texts = [question(i) for i in range(n)]
    query_texts = [
        # a paraphrase names the same numbers (the LLM cache refuses differing ones)
        *(paraphrase(int(t)) for t in targets),
        *(f"Unrelated question {j}: anything new?" for j in range(q - near_count)),
    ]
    rows = {text: i for i, text in enumerate(cached_texts)}
    rows.update({text: n + j for j, text in enumerate(query_texts)})
    table = TableEmbeddings(rows, np.concatenate([vectors, query_vectors]))
    system = SYSTEM_PROMPTS[0]
    return SemanticFixture(
        table,
        chat_prompts(system, cached_texts),
        chat_prompts(system, query_texts),
        query_texts,
        near_count,
        dumps(chat_response(0)),
    )


def filled_cache(fx: SemanticFixture, index: str) -> tuple[SemCache, float]:
    """Our LLM cache over a ``SemCache(index=index)`` engine holding every cached prompt,
    as ``update`` would store it; seconds spent (the graph built)."""
    engine = Engine(index=index)  # type: ignore[arg-type]
    llm_cache = SemCache(embedding=fx.table, cache=engine)
    responses = llm_cache._responses
    context = split_prompt(fx.cached[0]).context  # one system prompt: one context
    n = len(fx.cached)
    texts = list(fx.table.rows)[:n]
    for i in range(0, n, max(1, n // 5)):
        assert split_prompt(fx.cached[i]) == Prompt(fx.cached[i], context, texts[i])
    scope = responses._scope(Prompt("", context, ""), LLM_STRING)
    keys = [responses._key(Prompt(p, context, ""), LLM_STRING) for p in fx.cached]
    reference = SemCache(embedding=fx.table)  # what update writes, for comparison
    reference.update(fx.cached[0], LLM_STRING, chat_response(0))
    namespace = responses.namespace
    (written,) = reference.engine.scan(namespace=namespace)
    entry = reference.engine.get_entry(written, namespace=namespace)
    assert entry is not None
    assert (written, entry.value) == (keys[0], fx.blob)
    written_fields = {"scope": scope, **responses._metadata(texts[0])}
    assert {name: entry.metadata[name] for name in written_fields} == written_fields
    usage = {name: v for name, v in entry.metadata.items() if name not in written_fields}
    vectors = fx.table.matrix[:n]
    metadatas = [{"scope": scope, **responses._metadata(text), **usage} for text in texts]
    begin = time.perf_counter()
    engine.set_many(
        [(k, fx.blob) for k in keys],
        vectors=vectors,
        metadatas=metadatas,
        namespace=namespace,
    )
    built = engine.backend.index_for(namespace)  # type: ignore[attr-defined]
    built.wait_until_built()  # "auto" builds its graph in the background past the threshold
    seconds = time.perf_counter() - begin
    assert len(engine) == n and llm_cache.lookup(fx.cached[-1], LLM_STRING) is not None
    return llm_cache, seconds


def row_semantic(cfg: Config) -> list[Row]:
    n, q = cfg.n_cached, cfg.n_queries
    console.print(f"  [dim]{n:,} cached prompts, {q:,} paraphrases: building the data[/dim]")
    fx = semantic_fixture(cfg)
    console.print("  [dim]filling index='auto' (HNSW) and index='flat' engines (set_many)[/dim]")
    auto, auto_fill = filled_cache(fx, "auto")
    flat, flat_fill = filled_cache(fx, "flat")
    kind = auto.engine.backend.counters().details["index"]  # type: ignore[attr-defined]
    embedder = as_embedder(fx.table)  # the adapter our lookup embeds through
    text_of = dict(zip(fx.queries, fx.query_texts))
    scope = next(iter(kind))
    search = auto.engine.search
    threshold = auto._responses.threshold
    vector_of = {p: embedder.embed_query(text_of[p]) for p in fx.queries}

    found = {
        name: [cache.lookup(p, LLM_STRING) for p in fx.queries]
        for name, cache in (("auto", auto), ("flat", flat))
    }
    hits = {name: sum(r is not None for r in results) for name, results in found.items()}
    near_hits = sum(r is not None for r in found["auto"][: fx.near_count])
    agree = sum((a is None) == (b is None) for a, b in zip(found["auto"], found["flat"]))

    console.print(f"  [dim]timing {q:,} lookups x {cfg.semantic_rounds} rounds[/dim]")
    samples = time_each(
        {
            "auto": lambda p: auto.lookup(p, LLM_STRING),
            "flat": lambda p: flat.lookup(p, LLM_STRING),
            "embed": lambda p: embedder.embed_query(text_of[p]),
            "search": lambda p: search(vector_of[p], 1, threshold=threshold, namespace=scope),
        },
        fx.queries,
        cfg.semantic_rounds,
    )
    per_prompt = {name: np.median(s, axis=0) for name, s in samples.items()}
    ours = Percentiles.of(per_prompt["auto"] - per_prompt["embed"])
    base = Percentiles.of(per_prompt["flat"] - per_prompt["embed"])
    whole = Percentiles.of(per_prompt["auto"])
    embed = Percentiles.of(per_prompt["embed"])
    engine_search = Percentiles.of(per_prompt["search"])
    hit = np.array([r is not None for r in found["auto"]])
    subtracted = per_prompt["auto"] - per_prompt["embed"]
    split = [
        f"{what} p50 {fmt_time(float(np.median(subtracted[mask])))}"
        for what, mask in (("hits", hit), ("misses", ~hit))
        if mask.any()
    ]
    label = (
        f"semantic lookup over {n:,} cached prompts, {q:,} paraphrases "
        f"({fx.near_count:,} near one, {q - fx.near_count:,} unrelated), embedding subtracted"
    )
    return [
        info_row(
            "2a",
            f"{label}: p50; index='auto' ({kind[scope]} here) vs exact flat",
            fmt_time(ours.p50),
            f"index='flat': {fmt_time(base.p50)}",
            times(ours.p50, base.p50),
        ),
        info_row(
            "2b",
            f"{label}: p99; index='auto' vs exact flat",
            fmt_time(ours.p99),
            f"index='flat': {fmt_time(base.p99)}",
            times(ours.p99, base.p99),
        ),
        info_row(
            "2c",
            f"semantic hits / misses (threshold {threshold}); near paraphrases that hit; "
            "auto and flat agree (hit or miss)",
            f"auto {hits['auto']:,} / {q - hits['auto']:,}; near {near_hits:,}/{fx.near_count:,}",
            f"flat {hits['flat']:,} / {q - hits['flat']:,}",
            f"agree {agree:,}/{q:,}",
        ),
        info_row(
            "2d",
            "index='auto' lookup with the embedding; the embedding subtracted (adapter "
            "embed_query: table lookup + float32 array); engine.search alone",
            f"{whole}",
            f"embedding {embed}; engine.search(k=1) {engine_search}",
            "; ".join(split) + " (embedding subtracted)",
        ),
        info_row(
            "2e",
            f"fill: {n:,} prompts by one engine set_many, until the index is built "
            f"('auto': HNSW graph built in the background past {DEFAULT_HNSW_THRESHOLD:,})",
            f"auto {auto_fill:.1f} s",
            f"flat {flat_fill:.2f} s",
        ),
    ]


# --- row 3: embedding caches -------------------------------------------------------------


def texts_to_embed(n: int) -> list[str]:
    return [
        f"Document {i}: notes on the {TOPICS[i % len(TOPICS)]} workflow, revision {i % 13}."
        for i in range(n)
    ]


class Stores:
    """Fresh, empty byte stores of each kind; a ``LocalFileStore``'s files go when dropped."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.names = ["ours", "memory", "files"] if SemCacheByteStore is not None else []
        self.made = 0

    def make(self, name: str) -> ByteStore:
        self.made += 1
        if name == "ours":
            return SemCacheByteStore(Engine())
        if name == "memory":
            return InMemoryByteStore()
        return LocalFileStore(self.tmp / f"files-{self.made}")

    def drop(self, store: Any) -> None:
        if isinstance(store, LocalFileStore):
            shutil.rmtree(store.root_path, ignore_errors=True)


def backed(underlying: Embeddings, store: ByteStore) -> CacheBackedEmbeddings:
    return CacheBackedEmbeddings.from_bytes_store(
        underlying, store, namespace=EMBED_NAMESPACE, key_encoder="blake2b"
    )


@dataclasses.dataclass
class EmbedTimes:
    cold: dict[str, list[float]]  # per embedder: "model", a store's name, "cached"
    warm: dict[str, list[float]]
    mset: dict[str, list[float]]  # per store alone
    mget: dict[str, list[float]]
    same: dict[str, bool]  # vectors equal to the model's, in the warm-up round
    build: list[float]  # CachedEmbeddings' background index build, after the cold call


def stored_pairs(underlying: Embeddings, texts: list[str]) -> list[tuple[str, bytes]]:
    """The (key, value) pairs CacheBackedEmbeddings writes for ``texts``."""
    store = InMemoryByteStore()
    backed(underlying, store).embed_documents(texts)
    keys = list(store.yield_keys())
    return list(zip(keys, store.mget(keys)))  # type: ignore[arg-type]


def measure_embeddings(cfg: Config, tmp: Path) -> EmbedTimes:
    texts = texts_to_embed(cfg.n_texts)
    underlying = DeterministicFakeEmbedding(size=DIM)
    expected = np.asarray(underlying.embed_documents(texts))
    pairs = stored_pairs(underlying, texts)
    keys = [key for key, _ in pairs]
    stores = Stores(tmp)
    embedders = [*stores.names, "model"]
    if CachedEmbeddings is not None:
        embedders.append("cached")
    out = EmbedTimes(
        {k: [] for k in embedders},
        {k: [] for k in embedders},
        {k: [] for k in stores.names},
        {k: [] for k in stores.names},
        {},
        [],
    )
    perf = time.perf_counter
    for round_no in range(cfg.embed_rounds + 1):  # round 0 is the warm-up
        shift = round_no % len(embedders)
        for name in embedders[shift:] + embedders[:shift]:
            store = stores.make(name) if name in stores.names else None
            if name == "model":
                embedder: Any = underlying
            elif name == "cached":
                embedder = CachedEmbeddings(underlying, namespace=EMBED_NAMESPACE)
            else:
                embedder = backed(underlying, store)
            gc.collect()
            start = perf()
            cold = embedder.embed_documents(texts)
            cold_s = perf() - start
            if name == "cached":
                begin = perf()
                index = embedder.cache.backend.index_for(embedder.document_namespace)
                if index is not None:
                    index.wait_until_built()
                build_s = perf() - begin
            gc.collect()
            start = perf()
            warm = embedder.embed_documents(texts)
            warm_s = perf() - start
            if not round_no:  # checked once: converting the vectors takes a while
                out.same[name] = bool(
                    np.array_equal(np.asarray(cold), expected)
                    and np.array_equal(np.asarray(warm), expected)
                )
            else:
                out.cold[name].append(cold_s)
                out.warm[name].append(warm_s)
                if name == "cached":
                    out.build.append(build_s)
            stores.drop(store)
            del embedder, store, cold, warm
        turn = round_no % max(1, len(stores.names))
        for name in stores.names[turn:] + stores.names[:turn]:
            store = stores.make(name)
            gc.collect()
            start = perf()
            store.mset(pairs)
            mset_s = perf() - start
            start = perf()
            found = store.mget(keys)
            mget_s = perf() - start
            assert found[-1] == pairs[-1][1]
            if round_no:
                out.mset[name].append(mset_s)
                out.mget[name].append(mget_s)
            stores.drop(store)
            del store, found
    return out


def row_embeddings(cfg: Config, tmp: Path) -> list[Row]:
    n = cfg.n_texts
    console.print(f"  [dim]{n:,} texts, {cfg.embed_rounds} rounds of fresh stores[/dim]")
    m = measure_embeddings(cfg, tmp)
    cold = {name: Timing.of(s) for name, s in m.cold.items()}
    warm = {name: Timing.of(s) for name, s in m.warm.items()}
    mset = {name: Timing.of(s) for name, s in m.mset.items()}
    mget = {name: Timing.of(s) for name, s in m.mget.items()}
    model = cold["model"]

    def agreement(names: tuple[str, ...]) -> str:
        """Whether the named caches gave back exactly the model's vectors."""
        checked = [m.same[name] for name in names if name in m.same]
        return "vectors equal to the model's" if all(checked) else "VECTORS DIFFER"

    same = agreement(("ours", "memory", "files"))  # the byte stores of rows 3a, 3b
    label = f"CacheBackedEmbeddings, {n:,} texts, DeterministicFakeEmbedding(384)"
    missing = "not available"
    rows: list[Row] = []
    if "ours" not in cold:
        why = f"SemCacheByteStore does not import ({BYTE_STORE_MISSING})"
        for number, what in (("3a", "cold"), ("3b", "warm"), ("3c", "store alone")):
            rows.append(Row(number, f"{label}: {what}", missing, why[:120], "", "available", False))
        rows.append(Row("3d", "where a cold call goes", missing, "", "", "available", False))
    else:
        for number, what, t in (
            ("3a", "cold (fresh store: mget, embed every text, mset)", cold),
            ("3b", "warm (the same call again: all hits)", warm),
        ):
            rows.append(
                info_row(
                    number,
                    f"{label}: {what}; ours = over SemCacheByteStore ({same})",
                    str(t["ours"]),
                    f"InMemoryByteStore: {t['memory']}; LocalFileStore: {t['files']}",
                    f"{times(t['ours'].median, t['memory'].median)} / "
                    f"{times(t['ours'].median, t['files'].median)}",
                )
            )
        both = {name: mset[name].median + mget[name].median for name in mset}
        rows.append(
            info_row(
                "3c",
                f"store alone: mset, then mget, of the {n:,} (key, JSON bytes) pairs "
                "CacheBackedEmbeddings writes; ours = SemCacheByteStore",
                f"mset {mset['ours']}, mget {mget['ours']}",
                f"InMemoryByteStore: mset {mset['memory']}, mget {mget['memory']}; "
                f"LocalFileStore: mset {mset['files']}, mget {mget['files']}",
                f"{times(both['ours'], both['memory'])} / {times(both['ours'], both['files'])}",
            )
        )
        wrapper = cold["ours"].median - model.median - both["ours"]
        rows.append(
            info_row(
                "3d",
                "where a cold call over SemCacheByteStore goes: the model | the store (mget + "
                "mset, 3c) | CacheBackedEmbeddings itself (JSON of the vectors, key hashing)",
                f"{fmt_time(model.median)} | {fmt_time(both['ours'])} | {fmt_time(wrapper)}",
                f"of {fmt_time(cold['ours'].median)} (3a)",
                f"{model.median / cold['ours'].median:.0%} | "
                f"{both['ours'] / cold['ours'].median:.0%} | {wrapper / cold['ours'].median:.0%}",
            )
        )
    if "cached" in cold:
        build = statistics.median(m.build) if m.build else 0.0
        base = f"model alone: {model}"
        if "ours" in cold:
            base = f"over SemCacheByteStore (3a, 3b): cold {cold['ours']}, warm {warm['ours']}"
        rows.append(
            info_row(
                "3e",
                f"our CachedEmbeddings, {n:,} texts, same model (stores and indexes the "
                f"vectors; background index build after the cold call: {fmt_time(build)}; "
                + (
                    "vectors equal to the model's)"
                    if m.same.get("cached", True)
                    else "vectors not bit-equal to the model's: rounded to float32)"
                ),
                f"cold {cold['cached']}, warm {warm['cached']}",
                base,
                f"model alone: {model}",
            )
        )
    else:
        why = f"CachedEmbeddings does not import ({CACHED_EMBEDDINGS_MISSING})"
        rows.append(Row("3e", "our CachedEmbeddings", missing, why[:120], "", "available", False))
    return rows


# --- report ------------------------------------------------------------------------------


def guarded(number: str, label: str, fn: Callable[[], list[Row]]) -> list[Row]:
    """``fn()``'s rows, or one FAIL row when it raises (the library is being edited)."""
    try:
        return fn()
    except Exception as exc:  # a report, not a crash: show what broke
        return [error_row(number, label, exc)]
    finally:
        gc.collect()


def run(cfg: Config, mode: str) -> None:
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="semcache-bench-") as tmp:
        console.print(
            environment_line(
                mode,
                *system_pieces(
                    "langchain-core", "langchain-classic", "langchain-community", "hnswlib"
                ),
                f"seed {SEED}",
                f"files in {Path(tmp).parent}",
            )
        )
        console.print("[bold]row 1[/] LLM cache exact hits")
        rows += guarded("1a", "LLM cache exact hit", lambda: row_exact(cfg, Path(tmp)))
        console.print("[bold]row 2[/] LLM cache semantic lookups")
        rows += guarded("2a", "semantic lookup", lambda: row_semantic(cfg))
        console.print("[bold]row 3[/] embedding caches")
        rows += guarded("3a", "CacheBackedEmbeddings", lambda: row_embeddings(cfg, Path(tmp)))

    title = f"semcache LangChain benchmark ({mode})"
    widths = {"label_width": 46, "baseline_width": 36, "figure_width": 16}
    print_report(rows, title, started, load_before, "see the ± spreads", **widths)


def main(argv: Sequence[str] | None = None) -> int:
    return run_from_command_line(__doc__, run, QUICK, FULL, argv)


if __name__ == "__main__":
    sys.exit(main())
