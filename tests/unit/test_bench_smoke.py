"""The benchmarks keep running (their figures are a report, never asserted here)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
CORE_ROWS = ("1", "2a", "3", "3b", "3c", "3d", "4a", "4b", "4f", "6a")
SNAPSHOT_ROWS = ("1a", "1b", "1c", "1d", "1e", "1f", "1g", "1h", "2a", "2b", "2c", "2d")
OTHER_ROWS = ("3a", "3b", "4a", "4b", "5a", "5b", "5c")  # size, durable reopen, seed
LANGCHAIN_ROWS = ("1a", "1b", "1c", "2a", "2b", "2c", "2d", "2e", "3a", "3b", "3c", "3d", "3e")
LLAMAINDEX_ROWS = ("1a", "1b", "2a", "2b", "2c", "3", "4a", "4b", "5", "6")
FAISS_STORE_ROWS = ("7a", "7b", "7c", "7d", "7e")  # FaissVectorStore, the second baseline
NAMESPACE_ROWS = ("1a", "1b", "2a", "2b")
SEED_ROWS = ("1", "2", "2b", "3", "4", "5", "6")
REDIS_ROWS = ("1", "2", "3", "4", "5", *(f"6.{i}" for i in range(1, 5)),
              *(f"7.{i}" for i in range(1, 6)))  # fmt: skip
SEARCH_ROWS = tuple(f"{i}{letter}" for i in (1, 2) for letter in "abcdef")
SEARCH_ENGINES = {
    "ours flat",
    "ours hnsw",
    "numpy",
    "faiss flat",
    "faiss hnsw",
    "usearch",
    "hnswlib",
}
# the chart series a script records for `semcache bench`, and the keys of its data
SERIES_OF = {"bench_persist.py": ("persistence", {"formats", "dump_s", "load_s", "size_bytes"})}


def run_benchmark(script: str, *args: str, results: Path) -> subprocess.CompletedProcess[str]:
    """``script`` run as a user runs it, its recorded results going to ``results``."""
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "SEMCACHE_BENCH_RESULTS": str(results)},
    )


def recorded_series(results: Path, name: str) -> Any:
    lines = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    found = [line["data"] for line in lines if line["kind"] == "series" and line["name"] == name]
    assert len(found) == 1, f"series {name!r} recorded {len(found)} times"
    return found[0]


def assert_rows_printed(stdout: str, rows: tuple[str, ...]) -> None:
    width = max(map(len, rows))  # the "#" column is right-justified, as wide as its rows
    for row in rows:
        cell = f"│ {row:>{width}} │"
        assert cell in stdout, f"row {cell!r} missing from:\n{stdout[-3000:]}"


@pytest.mark.parametrize(
    ("script", "title", "rows"),
    [
        ("bench_core.py", "semcache_core benchmark (quick)", CORE_ROWS),
        ("bench_persist.py", "persistence benchmark (quick)", (*SNAPSHOT_ROWS, *OTHER_ROWS)),
        ("bench_langchain.py", "LangChain benchmark (quick)", LANGCHAIN_ROWS),
        (
            "bench_llamaindex.py",
            "LlamaIndex benchmark (quick)",
            (*LLAMAINDEX_ROWS, *FAISS_STORE_ROWS),
        ),
        ("bench_namespaces.py", "namespace benchmark (quick)", NAMESPACE_ROWS),
        ("bench_seed.py", "seed flow benchmark", SEED_ROWS),
        ("bench_redis.py", "Redis benchmark", REDIS_ROWS),
    ],
)
def test_quick_benchmark_prints_every_row(
    script: str, title: str, rows: tuple[str, ...], tmp_path: Path
) -> None:
    results = tmp_path / "results.jsonl"
    done = run_benchmark(script, "--quick", results=results)
    assert done.returncode == 0, done.stderr[-2000:]
    for header in (title, "measurement", "baseline (same run)"):
        assert header in done.stdout, f"{header!r} missing from:\n{done.stdout[-3000:]}"
    assert_rows_printed(done.stdout, rows)
    assert "targets met" in done.stdout
    if script in SERIES_OF:
        name, keys = SERIES_OF[script]
        data = recorded_series(results, name)
        assert set(data) == keys
        assert len({len(values) for values in data.values()}) == 1  # one figure per format


def test_search_benchmark_measures_every_engine_at_every_size(tmp_path: Path) -> None:
    # a tiny ladder: --quick's (1k to 10k) takes ~20 s, most of it building graphs
    results = tmp_path / "results.jsonl"
    done = run_benchmark("bench_search.py", "--quick", "--sizes", "500,1000", results=results)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "semcache search peers benchmark (quick)" in done.stdout
    assert_rows_printed(done.stdout, SEARCH_ROWS)
    assert "not installed" not in done.stdout  # the bench extra is installed here
    data = recorded_series(results, "search_latency")
    assert data["n"] == [500, 1000]
    assert set(data["series"]) == SEARCH_ENGINES
    for engine, seconds in data["series"].items():
        assert len(seconds) == 2 and all(0 < s < 1 for s in seconds), (engine, seconds)


def test_quick_verified_benchmark_prints_every_mode() -> None:
    """On the held-out intents (``--intents``), which the full run's default is not."""
    holdout = BENCHMARKS / "data" / "holdout" / "stream.jsonl"
    done = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "bench_verified.py"),
            "--quick",
            "--intents",
            str(holdout),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    modes = ("no cache", "exact only", "static 0.80", "static 0.95", "static 0.80 + guards",
             "static 0.95 + guards", "verified δ=0.01", "verified δ=0.02",
             "verified δ=0.05")  # fmt: skip
    first_cells = [
        line.split("│")[1].strip() for line in done.stdout.splitlines() if line.startswith("│")
    ]
    for mode in modes:
        assert first_cells.count(mode) == 2, f"{mode!r} missing from:\n{done.stdout}"
    for delta in ("0.01", "0.02", "0.05"):
        assert done.stdout.count(f"δ={delta}: verified ") == 2
    assert "verified-vs-static benchmark (quick): 300 requests of stream.jsonl" in done.stdout
    # the stream asks held-out intents only: every one the verdict counts is one of them
    asked = {int(n) for n in re.findall(r"the stream asks (\d+) intents", done.stdout)}
    assert asked and all(0 < n <= 162 for n in asked) and max(asked) > 105


def test_quick_hunts_benchmark_records_every_set_and_counts_each_pair_once(
    tmp_path: Path,
) -> None:
    results = tmp_path / "results.jsonl"
    done = run_benchmark("bench_hunts.py", "--quick", results=results)
    assert done.returncode == 0, done.stderr[-2000:]
    recorded = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    assert [line["name"] for line in recorded] == ["guard hunts (quick)"]
    rows = recorded[0]["data"]["rows"]
    assert [row["number"] for row in rows] == [str(n) for n in range(1, 27)]
    for row in rows:  # --quick: the first 40 pairs of each file, each looked up once
        served, pairs = row["ours"].removesuffix(" served").split("/")
        assert pairs == "40" and 0 <= int(served) <= 40
    assert done.stdout.count("│ all ") == 26  # a table per file, its total last
