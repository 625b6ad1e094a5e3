"""Every script in ``examples/`` runs to completion and prints what it shows.

Each example runs as its users run it (``python examples/NAME.py``), in a subprocess, with
this checkout first on ``sys.path``. A new example is picked up by the glob; it must also
get a line in ``EXPECTED`` (the test fails until it has one).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

# what each example must print: the lines that show its point
EXPECTED: dict[str, tuple[str, ...]] = {
    "calibration.py": (
        "7 inline pairs: threshold",
        "480 pairs in examples/pairs: threshold",
    ),
    "durable_mode.py": (
        "a second opener is refused: DirectoryLockedError",
        "after close(): calls raise CacheClosedError",
        "reopened: 2 entries, greeting = {'text': 'hello'}",
    ),
    "embedding_cache.py": (
        "CacheBackedEmbeddings, second run: 3 texts embedded in all",
        "get_or_compute: 7 lookups, 3 embed calls",
    ),
    "ingestion_cache.py": (
        "first run: 15 nodes, 15 embedding calls",
        "second run (cache reopened from disk): 15 nodes, 0 embedding calls",
    ),
    "llm_cache_langchain.py": (
        "repeat      'Is the museum open on Monday?'      -> from the cache",
        "paraphrase  'Is the museum open Mondays?'        -> from the cache",
        "near-miss   'Is the museum closed on Monday?'    -> model called",
        "model calls: 2 for 4 questions",
        "saved: 80 input + 240 output tokens, $0.1560",
    ),
    "rag_llamaindex.py": (
        "query engine: 3 questions, 1 LLM call; 1 exact hit, 1 semantic hit",
        "persisted and reloaded: same hits True",
    ),
    "redis_cluster.py": (
        "cluster up: 6 nodes",
        "LLM cache on the cluster: 1 miss, 2 hits",
        "cluster stopped",
    ),
    "semantic_kv_cluster.py": ("6/6 nodes healthy", "get doc:readme -> b'How to install"),
    "snapshots.py": (
        "from_snapshot: 1001 entries",
        "load: 1001 entries, stale gone: True",
        "same search results after the round trip: True",
    ),
    "streaming_chat.py": (
        "model streamed",
        "replayed from the cache",
        "model calls: 1 for 4 streams",
    ),
    "vector_store_langchain.py": (
        "retriever, lang = en: ['How to reset your password', 'Password reset for admins']",
        "retriever, lang = en and year >= 2024: ['Password reset for admins'",
    ),
}


def test_the_examples_are_found() -> None:
    assert len(EXAMPLES) >= len(EXPECTED)


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(script: Path) -> None:
    assert script.name in EXPECTED, f"add what {script.name} must print to EXPECTED"
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}  # this checkout's packages
    done = subprocess.run(
        [sys.executable, str(script.relative_to(ROOT))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{script.name} failed:\n{done.stdout}\n{done.stderr}"
    for line in EXPECTED[script.name]:
        assert line in done.stdout, f"{script.name} did not print {line!r}:\n{done.stdout}"
