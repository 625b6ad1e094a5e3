"""The persistence benchmark keeps running (its figures are a report, never asserted here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_persist.py"
SNAPSHOT_ROWS = ("1a", "1b", "1c", "1d", "1e", "1f", "1g", "2a", "2b", "2c", "2d")
OTHER_ROWS = ("3a", "3b", "4a", "4b", "5a", "5b", "5c")  # size, durable reopen, seed


def test_quick_benchmark_prints_every_row() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for header in ("persistence benchmark (quick)", "measurement", "baseline (same run)"):
        assert header in done.stdout, f"{header!r} missing from:\n{done.stdout[-3000:]}"
    for row in (*SNAPSHOT_ROWS, *OTHER_ROWS):
        assert f"│ {row} │" in done.stdout, f"row {row!r} missing from:\n{done.stdout[-3000:]}"
    assert "targets met" in done.stdout
