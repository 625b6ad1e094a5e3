"""The core benchmark keeps running (its figures are a report, never asserted here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_core.py"


def test_quick_benchmark_prints_every_row() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for row in ("│  1 │", "│ 2a │", "│  3 │", "│ 4a │", "│ 4b │", "│ 4f │", "│ 6a │"):
        assert row in done.stdout, f"row {row!r} missing from:\n{done.stdout[-3000:]}"
