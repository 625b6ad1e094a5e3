"""The benchmarks keep running (their figures are a report, never asserted here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
CORE_ROWS = ("1", "2a", "3", "3b", "3c", "3d", "4a", "4b", "4f", "6a")
SNAPSHOT_ROWS = ("1a", "1b", "1c", "1d", "1e", "1f", "1g", "2a", "2b", "2c", "2d")
OTHER_ROWS = ("3a", "3b", "4a", "4b", "5a", "5b", "5c")  # size, durable reopen, seed
LANGCHAIN_ROWS = ("1a", "1b", "1c", "2a", "2b", "2c", "2d", "2e", "3a", "3b", "3c", "3d", "3e")
LLAMAINDEX_ROWS = ("1a", "1b", "2a", "2b", "2c", "3", "4a", "4b", "5", "6")
NAMESPACE_ROWS = ("1a", "1b", "2a", "2b")
SEED_ROWS = ("1", "2", "3", "4", "5", "6")
REDIS_ROWS = ("1", "2", "3", "4", "5", "6.1", "6.2", "6.3", "6.4")


@pytest.mark.parametrize(
    ("script", "title", "rows"),
    [
        ("bench_core.py", "semcache_core benchmark (quick)", CORE_ROWS),
        ("bench_persist.py", "persistence benchmark (quick)", (*SNAPSHOT_ROWS, *OTHER_ROWS)),
        ("bench_langchain.py", "LangChain benchmark (quick)", LANGCHAIN_ROWS),
        ("bench_llamaindex.py", "LlamaIndex benchmark (quick)", LLAMAINDEX_ROWS),
        ("bench_namespaces.py", "namespace benchmark (quick)", NAMESPACE_ROWS),
        ("bench_seed.py", "seed flow benchmark", SEED_ROWS),
        ("bench_redis.py", "Redis benchmark", REDIS_ROWS),
    ],
)
def test_quick_benchmark_prints_every_row(script: str, title: str, rows: tuple[str, ...]) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for header in (title, "measurement", "baseline (same run)"):
        assert header in done.stdout, f"{header!r} missing from:\n{done.stdout[-3000:]}"
    width = max(map(len, rows))  # the "#" column is right-justified, as wide as its rows
    for row in rows:
        cell = f"│ {row:>{width}} │"
        assert cell in done.stdout, f"row {cell!r} missing from:\n{done.stdout[-3000:]}"
    assert "targets met" in done.stdout


def test_quick_verified_benchmark_prints_every_mode() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_verified.py"), "--quick"],
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
    assert "verified-vs-static benchmark (quick): 300 requests" in done.stdout
