"""The benchmarks that print their own tables record them for ``semcache bench`` too, in
``print_report``'s row shape; bench_verified also records the wrong-vs-hits series."""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
ROW_KEYS = ["number", "label", "ours", "baseline", "ratio", "target", "passed"]


@pytest.fixture
def records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The results file ``report.record`` appends to, and benchmarks/ importable."""
    path = tmp_path / "records.jsonl"
    monkeypatch.setenv("SEMCACHE_BENCH_RESULTS", str(path))
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return path


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def bench(name: str) -> ModuleType:
    return importlib.import_module(name)


def test_bench_verified_records_its_table_with_verdicts_and_the_wrong_vs_hits_points(
    records: Path,
) -> None:
    verified = bench("bench_verified")
    outcome = verified.Outcome
    rows = [
        outcome("no cache", 100, 0, 0, 0, 1.0),
        outcome("exact only", 100, 20, 0, 0, 0.1),
        outcome("static 0.90", 100, 20, 30, 1, 0.1),
        outcome("static 0.90 + guards", 100, 20, 25, 0, 0.1),
        outcome("verified δ=0.01", 100, 20, 28, 1, 0.1),
        outcome("verified δ=0.05", 100, 20, 10, 0, 0.1),
    ]
    points: list[dict[str, Any]] = []
    verified.record_rows(rows, "title A", "A", points)
    [table] = read(records)
    assert (table["kind"], table["name"]) == ("table", "title A")
    recorded = table["data"]["rows"]
    assert [list(row) for row in recorded] == [ROW_KEYS] * len(rows)
    assert [row["label"] for row in recorded] == [row.label for row in rows]
    assert recorded[2]["ours"] == "50 hits (50.0%), 1 wrong (1.00%)"
    # δ=0.01: 48 hits at 1% do not beat the best static row within 1% (50 hits)
    assert recorded[4]["baseline"] == "best static within δ: static 0.90, 50 hits"
    assert recorded[4]["passed"] is False
    assert recorded[5]["passed"] is False and recorded[0]["passed"] is None
    assert [(p["family"], p["label"]) for p in points] == [
        ("static", "exact only"),
        ("static", "static 0.90"),
        ("guards", "static 0.90 + guards"),
        ("verified", "verified δ=0.01"),
        ("verified", "verified δ=0.05"),
    ]
    assert points[1] == {"label": "static 0.90", "family": "static", "set": "A",
                         "hit_rate": 0.5, "wrong_rate": 0.01}  # fmt: skip


def test_bench_guards_records_both_tables(records: Path) -> None:
    guards = bench("bench_guards")
    cfg = guards.Config(every=20, templates=1)
    sets = {"shipped": guards.shipped_pairs(cfg), "held-out": guards.holdout_pairs(cfg)}
    sets["held-out x templates"] = guards.in_templates(sets["held-out"], cfg)
    results = {
        (name, set_name, guarded): guards.score(pairs, None, guarded)
        for name in ("lexical", "MiniLM")  # the lexical embedder under both names: fast
        for set_name, pairs in sets.items()
        for guarded in (False, True)
    }
    guards.threshold_table("lexical", sets, results)
    guards.target_table(results)
    thresholds, targets = read(records)
    assert thresholds["name"] == "lexical: served at each threshold, without / with guards"
    rows = thresholds["data"]["rows"]
    assert len(rows) >= 3 * len(guards.THRESHOLDS)
    assert "shipped at 0.8: with guards" in [row["label"] for row in rows]
    assert rows[0]["baseline"].startswith("no guards: ") and " wrong, " in rows[0]["ours"]
    assert targets["name"].startswith("targets: MiniLM with default guards at ")
    assert [row["label"] for row in targets["data"]["rows"]] == [
        "held-out paraphrases served",
        "held-out hard negatives served",
        "wrong among hits inside templates",
        "number or identifier swaps served",
    ]
    assert all(isinstance(row["passed"], bool) for row in targets["data"]["rows"])


def test_bench_templated_records_the_comparison(records: Path) -> None:
    templated = bench("bench_templated")
    pairs = templated.load_pairs()[::10]
    templated.comparison(pairs, [("lexical", templated.lexical(), 0.95)])
    [table] = read(records)
    assert table["name"].startswith("wrong hits / hits, before")
    rows = table["data"]["rows"]
    kinds = list(dict.fromkeys(pair["kind"] for pair in pairs))
    assert len(rows) == len(kinds) + 1
    assert rows[-1]["label"].startswith("lexical @ 0.95, all (")
    assert rows[-1]["baseline"].startswith("before: ") and " wrong / " in rows[-1]["ours"]
    assert [list(row) for row in rows] == [ROW_KEYS] * len(rows)
    report = bench("report")
    assert [field.name for field in dataclasses.fields(report.Row)] == ROW_KEYS
