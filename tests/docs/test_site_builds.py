"""The documentation site builds with ``mkdocs build --strict``: no warning of any kind
(a broken link or anchor, a page outside the nav, a docstring mkdocstrings cannot parse,
a missing benchmark report or chart). This is what ``make docs`` runs; here it builds into
a temporary directory, so ``pytest`` alone (``make test``) catches a broken site too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # mkdocs-material's banner only
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for page in ["index.html", "api/core/index.html", "benchmarks/index.html"]:
        assert (tmp_path / page).is_file(), page
    api = (tmp_path / "api/core/index.html").read_text(encoding="utf-8")
    assert "get_or_compute" in api  # the reference is generated from the docstrings
