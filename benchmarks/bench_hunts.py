"""The guard hunts' pairs, replayed through the LangChain LLM cache: what is served, by class.

Run::

    .venv/bin/python benchmarks/bench_hunts.py [--quick]

Data: ``benchmarks/data/hunts/``, question pairs written by helpers hunting for classes of
wrong hits that the guards missed (JSON lines ``{"a", "b", "same", "class"}``):

- ``first_wrong.jsonl``: 958 pairs in 17 classes that need other answers, each served the
  other's answer when written (word order, tense, modals, quantifiers...);
- ``first_caught.jsonl``: 890 such pairs in 15 classes the guards already refused then;
- ``second_wrong.jsonl``: 372 pairs in 11 classes (my / your, the passive, obligation,
  "will", why / how, subject / object questions...);
- ``second_paraphrases.jsonl``: 156 paraphrases of those classes, which a rule should
  still serve;
- ``third_wrong.jsonl`` and ``third_paraphrases.jsonl``: 127 pairs that need other
  answers and 143 paraphrases (24 of them ambiguous, in classes of their own), written
  by a review of the guards for comparatives, question words, the future against the
  present or the past, life stages and a work's author or addressee, and obligation
  against advice;
- ``fourth_wrong.jsonl`` and ``fourth_paraphrases.jsonl``: 73 pairs that need other
  answers and 98 paraphrases (16 of them ambiguous), written by a review of the rules
  for a verb going on against "will", a person word turned while another stays, young
  animals, "by whom" / "for whom" and contractions;
- ``fifth_wrong.jsonl`` and ``fifth_paraphrases.jsonl``: 78 pairs that need other answers
  and 82 paraphrases (11 of them ambiguous), written by a helper for pictures "of" and
  "by", a question's last preposition, "young" and young animals, and near misses of
  its own choosing;
- ``sixth_wrong.jsonl`` and ``sixth_paraphrases.jsonl``: 75 pairs that need other answers
  and 146 paraphrases, written by a review of those rules: "young" in its other senses,
  names and idioms (kitten heels, fawn over), pictures "on" or "sorted by", prepositions
  that alternate freely ("made of / from", "talk to / speak with");
- ``seventh_wrong.jsonl`` and ``seventh_paraphrases.jsonl``: 86 pairs that need other
  answers and 117 paraphrases (17 of them ambiguous), written by a helper for a
  question's last preposition swapped ("What is the book about / for?") or left out
  ("Where is this wine from?" / "Where is this wine?"), and "did" against "do" / "does"
  ("When does / did the store open?"); the rules for them were refined after reading it;
- ``eighth_wrong.jsonl`` and ``eighth_paraphrases.jsonl``: 61 pairs that need other
  answers and 71 paraphrases (6 ambiguous) in the same classes, written by another helper
  after those rules, to check them on pairs they were not fitted to ("how long ... for"
  and "board from" were added after reading it);
- ``ninth_wrong.jsonl`` and ``ninth_paraphrases.jsonl``: 47 pairs that need other answers
  and 67 paraphrases (18 ambiguous), a verb's particle on one side only ("How do I shut
  down my server?" / "... shut my server?"), written by a helper after the particle rule,
  which the eighth hunt's wrong answers still served had called for;
- ``tenth_wrong.jsonl`` and ``tenth_paraphrases.jsonl``: 332 pairs that need other
  answers and 141 paraphrases in 19 classes of near misses the earlier hunts left out
  (what is measured, which figure, a difference or a likeness, cause or remedy, what a
  choice is made for, a part or the whole, in or near...), written by a helper who never
  read the guards; the rules for five of them were written after reading it;
- ``eleventh_wrong.jsonl`` and ``eleventh_paraphrases.jsonl``: 127 pairs that need other
  answers and 168 paraphrases (42 of them everyday questions that merely hold such
  words: "high in fiber", "a big deal", "sign up"), in those five classes, written by
  another helper after the rules, without reading them: the rules' validation;
- ``twelfth_wrong.jsonl`` and ``twelfth_paraphrases.jsonl``: 405 pairs that need other
  answers and 136 paraphrases of *instructions* (output format, target language, length
  and depth, tone, audience, exercise type, stance, order, scope...: "Briefly explain /
  Explain in depth how vaccines work."), written by a helper who never read the guards
  (its report: ``twelfth_REPORT.md``); the instruction classes of
  :mod:`semcache_core.guard_kinds` were written after reading it;
- ``thirteenth_wrong.jsonl`` and ``thirteenth_paraphrases.jsonl``: 404 pairs that need
  other answers and 138 paraphrases of questions in eleven other languages (Spanish,
  French, German, Portuguese, Italian, Dutch, Russian, Chinese, Japanese, Arabic, Hindi)
  and code-switched ones, written by a helper who never read the guards (its report:
  ``thirteenth_REPORT.md``); :mod:`semcache_core.guard_language` was written after it.

Each pair: ``a`` is cached (its own model string, so pairs never meet), ``b`` is looked up
at :data:`THRESHOLD` (the README's advice for MiniLM) with the default guards; *served*
counts hits (``--quick``: the first 40 pairs of each file). For the wrong
pairs a hit is a wrong answer; for the paraphrases a hit is what the cache is for. The
CHANGELOG quotes these counts before and after each guard change.

Exit code is 0 whatever the figures: this is a report, not a gate.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langchain_core.outputs import Generation

from report import Row, console, record, run_from_command_line
from semcache_integrations.cli_calibrate import load_embedder
from semcache_integrations.langchain import SemCache

HUNTS = Path(__file__).resolve().parent / "data" / "hunts"
THRESHOLD = 0.87
SETS = (
    ("1", "first hunt: wrong answers served", "first_wrong.jsonl"),
    ("2", "first hunt: wrong answers served (caught then)", "first_caught.jsonl"),
    ("3", "second hunt: wrong answers served", "second_wrong.jsonl"),
    ("4", "second hunt: paraphrases served", "second_paraphrases.jsonl"),
    ("5", "third hunt (a review): wrong answers served", "third_wrong.jsonl"),
    ("6", "third hunt (a review): paraphrases served", "third_paraphrases.jsonl"),
    ("7", "fourth hunt (a review): wrong answers served", "fourth_wrong.jsonl"),
    ("8", "fourth hunt (a review): paraphrases served", "fourth_paraphrases.jsonl"),
    ("9", "fifth hunt: wrong answers served", "fifth_wrong.jsonl"),
    ("10", "fifth hunt: paraphrases served", "fifth_paraphrases.jsonl"),
    ("11", "sixth hunt (a review): wrong answers served", "sixth_wrong.jsonl"),
    ("12", "sixth hunt (a review): paraphrases served", "sixth_paraphrases.jsonl"),
    ("13", "seventh hunt: wrong answers served", "seventh_wrong.jsonl"),
    ("14", "seventh hunt: paraphrases served", "seventh_paraphrases.jsonl"),
    ("15", "eighth hunt (validation): wrong answers served", "eighth_wrong.jsonl"),
    ("16", "eighth hunt (validation): paraphrases served", "eighth_paraphrases.jsonl"),
    ("17", "ninth hunt (validation): wrong answers served", "ninth_wrong.jsonl"),
    ("18", "ninth hunt (validation): paraphrases served", "ninth_paraphrases.jsonl"),
    ("19", "tenth hunt: wrong answers served", "tenth_wrong.jsonl"),
    ("20", "tenth hunt: paraphrases served", "tenth_paraphrases.jsonl"),
    ("21", "eleventh hunt (validation): wrong answers served", "eleventh_wrong.jsonl"),
    ("22", "eleventh hunt (validation): paraphrases served", "eleventh_paraphrases.jsonl"),
    ("23", "twelfth hunt (instructions): wrong answers served", "twelfth_wrong.jsonl"),
    ("24", "twelfth hunt (instructions): paraphrases served", "twelfth_paraphrases.jsonl"),
    ("25", "thirteenth hunt (other languages): wrong answers served", "thirteenth_wrong.jsonl"),
    ("26", "thirteenth hunt (other languages): paraphrases served", "thirteenth_paraphrases.jsonl"),
)
QUICK, FULL = 40, None  # pairs per file


def served_by_class(
    path: Path, embedder: Any, limit: int | None
) -> tuple[Counter[str], Counter[str]]:
    """(served, pairs) per class of the first ``limit`` pairs in ``path`` (all: None)."""
    cache = SemCache(embedder, threshold=THRESHOLD)
    served: Counter[str] = Counter()
    pairs: Counter[str] = Counter()
    for number, line in enumerate(path.read_text().splitlines()[:limit]):
        pair = json.loads(line)
        model = f"pair-{number}"  # one model string a pair: pairs never serve each other
        cache.update(pair["a"], model, [Generation(text="cached")])
        pairs[pair["class"]] += 1
        served[pair["class"]] += cache.lookup(pair["b"], model) is not None
    return served, pairs


def run(limit: int | None, mode: str) -> None:
    started = time.perf_counter()
    embedder = load_embedder("minilm")
    rows = []
    console.print(f"guard hunts benchmark ({mode}): MiniLM at {THRESHOLD}, default guards")
    for number, label, name in SETS:
        served, pairs = served_by_class(HUNTS / name, embedder, limit)
        table = Table(title=f"{label} ({name})")
        table.add_column("class")
        table.add_column("served", justify="right")
        for kind in sorted(pairs):
            table.add_row(kind, f"{served[kind]}/{pairs[kind]}")
        total = f"{sum(served.values())}/{sum(pairs.values())}"
        table.add_row("all", total, style="bold")
        console.print(table)
        rows.append(Row(number, label, f"{total} served", "", "", "info"))
    record("table", f"guard hunts ({mode})", {"rows": [dataclasses.asdict(row) for row in rows]})
    console.print(f"total {time.perf_counter() - started:.0f} s")


def main(argv: list[str] | None = None) -> int:
    return run_from_command_line(__doc__ or "", run, QUICK, FULL, argv)


if __name__ == "__main__":
    raise SystemExit(main())
