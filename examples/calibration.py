"""Threshold calibration: ``semcache_core.calibrate`` recommends a threshold from labelled
pairs instead of a guess.

Each pair says whether a cache may serve one prompt's answer for the other (``same``).
``calibrate`` scores every pair the way the LLM caches decide a semantic hit (guards
included) and recommends the lowest threshold whose precision reaches ``min_precision``.

Runs twice with the built-in lexical embedder (no download): on a handful of inline pairs,
then on the labelled pairs shipped in ``examples/pairs/*.jsonl`` (read with the CLI's
reader; ``semcache calibrate examples/pairs`` does the same from the shell, and
``--embedder minilm`` with the bundled sentence model).

Run: ``python examples/calibration.py``
"""

from __future__ import annotations

from pathlib import Path

from semcache_core import Calibration, calibrate
from semcache_integrations.cli_calibrate import read_pairs

PAIRS = [
    ("How do I reset my password?", "how do I reset my password", True),
    ("How do I reset my password?", "How do I reset my password please?", True),
    ("What are your opening hours?", "what are your opening hours", True),
    ("How do I reset my password?", "How do I delete my account?", False),
    ("Is the museum open on Monday?", "Is the museum closed on Monday?", False),
    ("What is 15% of 80?", "What is 25% of 80?", False),
    ("Convert 5 miles to km", "Convert 5 km to miles", False),
]


def show(label: str, result: Calibration) -> None:
    print(f"{label}: {result.message}")
    if result.met:
        print(
            f"  threshold {result.threshold}: precision {result.precision:.2f}, "
            f"recall {result.recall:.2f}"
        )


def main() -> None:
    show(f"{len(PAIRS)} inline pairs", calibrate(PAIRS, None, min_precision=0.99))

    pairs, _ = read_pairs([Path(__file__).parent / "pairs"])
    result = calibrate(pairs, None, min_precision=0.99)
    show(f"{len(pairs)} pairs in examples/pairs", result)
    row = result.row_at(0.95)  # the LLM caches' default threshold for this embedder
    print(f"  at the default 0.95: {row.hits} served right, {row.wrong_hits} wrong")
    print(
        "  the lexical embedder serves only near-identical phrasings: for paraphrases, "
        "calibrate a sentence model (semcache calibrate examples/pairs --embedder minilm)"
    )


if __name__ == "__main__":
    main()
