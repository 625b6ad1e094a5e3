"""What the benchmark scripts share: report rows and table, the run's first and last lines,
seeded data and a paused garbage collector.

``bench_core.py`` and ``bench_persist.py`` import it with ``from report import ...``: a script
run as ``python benchmarks/<script>.py`` (also from a test's subprocess) has ``benchmarks/``
first on ``sys.path``. Each script keeps its own timing type (``Timing``: median and spread,
``Best``: best of a few) and exposes the figure a ratio compares as ``seconds``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from rich.console import Console
from rich.table import Table

# timed blocks pause the garbage collector, as timeit does
from semcache_core.backends.restore import gc_paused as gc_paused

SEED = 20240611

console = Console(width=150)

# ``semcache bench`` sets this to a JSON-lines file per script: every table printed and every
# series recorded goes there, and the runner builds results.json, REPORT.md and charts from it
RESULTS_ENV = "SEMCACHE_BENCH_RESULTS"


def record(kind: str, name: str, data: Any) -> None:
    """Append ``{"kind", "name", "data"}`` (``data`` JSON-able) to the results file named by
    ``$SEMCACHE_BENCH_RESULTS``; nothing when it is unset (a script run by hand).

    ``kind`` is ``"table"`` for a printed report (done by :func:`print_report`) or
    ``"series"`` for figures a chart draws, e.g.::

        record("series", "search_latency", {"n": [1000, 10000], "numpy": [1.2e-4, 9e-4]})
    """
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    line = json.dumps({"kind": kind, "name": name, "data": data}, allow_nan=False)
    with open(path, "a", encoding="utf-8") as sink:
        sink.write(line + "\n")


@contextlib.contextmanager
def collector_on_new_objects() -> Iterator[None]:
    """The garbage collector running, as in an application, over the objects made from here
    on: what exists already (the benchmark's own data) is frozen out of its walks, so a
    timing counts the collections a cache's own objects cause, not the data's size."""
    gc.collect()
    gc.freeze()
    was_enabled = gc.isenabled()
    gc.enable()
    try:
        yield
    finally:
        if not was_enabled:
            gc.disable()
        gc.unfreeze()


# --- data --------------------------------------------------------------------------------


def rng_for(row: int) -> np.random.Generator:
    """An independent, seeded stream per row, so rows do not depend on each other."""
    return np.random.default_rng([SEED, row])


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """``matrix`` with every row scaled to unit length, as float32."""
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def numpy_top_k(matrix: np.ndarray, query: np.ndarray, k: int = 10) -> np.ndarray:
    """The plain exact baseline: ``X @ q``, ``argpartition``, then sort the top k."""
    scores = matrix @ query
    top = np.argpartition(scores, -k)[-k:]
    return top[np.argsort(-scores[top])]


# --- timing ------------------------------------------------------------------------------


def fmt_time(seconds: float) -> str:
    """Seconds with three significant digits in s, ms, µs or ns."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


class Measured(Protocol):
    """A timing result: ``seconds`` is the figure ratios compare; ``str()`` prints it."""

    @property
    def seconds(self) -> float: ...


# --- rows --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Timing:
    """Median seconds of repeated measurements and their relative half-IQR."""

    median: float
    spread: float

    @classmethod
    def of(cls, samples: Sequence[float], scale: float = 1.0) -> Timing:
        q1, q2, q3 = statistics.quantiles(samples, n=4) if len(samples) > 1 else [samples[0]] * 3
        return cls(q2 * scale, (q3 - q1) / (2 * q2) if q2 > 0 else 0.0)

    @property
    def seconds(self) -> float:
        """The figure ratios compare: the median."""
        return self.median

    def __str__(self) -> str:
        return f"{fmt_time(self.median)} (±{self.spread:.0%})"


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the report; ``passed`` is None for information-only lines."""

    number: str
    label: str
    ours: str
    baseline: str
    ratio: str
    target: str
    passed: bool | None = None


def time_ratio_row(
    number: str, label: str, ours: Measured, base: Measured, base_label: str, max_ratio: float
) -> Row:
    """A row whose target is ``ours / baseline <= max_ratio`` (fraction of the baseline time)."""
    ratio = ours.seconds / base.seconds
    return Row(
        number,
        label,
        str(ours),
        f"{base_label}: {base}",
        f"{ratio:.2f}x its time",
        f"<= {max_ratio:g}x its time",
        ratio <= max_ratio,
    )


def info_row(number: str, label: str, ours: str, baseline: str = "", ratio: str = "") -> Row:
    """An information-only row (target "info", no verdict)."""
    return Row(number, label, ours, baseline, ratio, "info")


# --- the report --------------------------------------------------------------------------


def arg_parser(doc: str) -> argparse.ArgumentParser:
    """A parser described by the first paragraph of ``doc``, with ``--quick``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run (< 30 s)")
    return parser


def system_pieces(*distributions: str) -> list[str]:
    """Python's, numpy's and each named distribution's version, then the CPU count."""
    return [
        f"Python {platform.python_version()}",
        f"numpy {np.__version__}",
        *(f"{name} {version(name)}" for name in distributions),
        f"{os.cpu_count()} CPUs",
    ]


def environment_line(mode: str, *pieces: str) -> str:
    """The line a run starts with: ``{mode} run | pieces... | load avg x.xx``."""
    return " | ".join([f"{mode} run", *pieces, f"load avg {os.getloadavg()[0]:.2f}"])


VERDICT = {True: "[green]PASS[/]", False: "[red]FAIL[/]", None: "[dim]info[/]"}


def results_table(
    rows: Sequence[Row],
    title: str,
    *,
    label_width: int = 48,
    baseline_width: int = 34,
    figure_width: int | None = None,
) -> Table:
    """The report table; ``figure_width`` caps the ratio and target columns (None: no cap)."""
    table = Table(title=title, show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("measurement", max_width=label_width)
    table.add_column("ours", max_width=26)
    table.add_column("baseline (same run)", max_width=baseline_width)
    table.add_column("ratio", justify="right", max_width=figure_width)
    table.add_column("target", justify="right", max_width=figure_width)
    table.add_column("result", justify="center")
    for row in rows:
        table.add_row(
            row.number,
            row.label,
            row.ours,
            row.baseline,
            row.ratio,
            row.target,
            VERDICT[row.passed],
        )
    return table


def print_report(
    rows: Sequence[Row],
    title: str,
    started: float,
    load_before: float,
    noise_hint: str,
    **widths: int,
) -> None:
    """The results table (``widths`` as :func:`results_table` takes them), then the summary."""
    console.print()
    console.print(results_table(rows, title, **widths))
    print_summary(rows, started, load_before, noise_hint)
    record(
        "table",
        title,
        {
            "rows": [dataclasses.asdict(row) for row in rows],
            "seconds": time.perf_counter() - started,
            "load_before": load_before,
            "load_after": os.getloadavg()[0],
        },
    )


def run_from_command_line(
    doc: str, run: Callable[[Any, str], None], quick: Any, full: Any, argv: Sequence[str] | None
) -> int:
    """A benchmark's ``main``: ``--quick`` picks the small configuration; exit code 0."""
    args = arg_parser(doc).parse_args(argv)
    run(quick if args.quick else full, "quick" if args.quick else "full")
    return 0


def print_summary(rows: Sequence[Row], started: float, load_before: float, noise_hint: str) -> None:
    """The run's last lines: load and total time, a warning when busy, targets met.

    ``started`` is the ``time.perf_counter()`` and ``load_before`` the 1-minute load
    average taken when the run began; ``noise_hint`` says where to look when it was busy.
    """
    load_after = os.getloadavg()[0]
    console.print(
        f"load average {load_before:.2f} -> {load_after:.2f} on {os.cpu_count()} CPUs; "
        f"total {time.perf_counter() - started:.0f} s"
    )
    # judged on the load before the run only: afterwards it counts the run's own work
    # (graph builds on every core), which is no sign of another process
    if load_before > (os.cpu_count() or 1) - 0.5:
        console.print(
            "[yellow]warning: another process seems busy on this machine; "
            f"timings may be noisy ({noise_hint})[/]"
        )
    passed = [r.passed for r in rows if r.passed is not None]
    console.print(f"{sum(passed)}/{len(passed)} targets met (exit code is 0 regardless)")


def turns(names: Sequence[str], rounds: int) -> Iterator[tuple[int, str]]:
    """``(round, name)``: in every round each name takes a turn, the order rotating from
    round to round, so slow drift of the machine (turbo, a neighbour on the other core)
    hits all of them alike."""
    for round_no in range(rounds):
        shift = round_no % len(names)
        for name in [*names[shift:], *names[:shift]]:
            yield round_no, name


class Scratch:
    """A fresh, empty directory for each timed call under one temporary root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls = 0

    def fresh(self) -> Path:
        self.calls += 1
        path = self.root / f"call-{self.calls:04d}"
        path.mkdir()
        return path


class LowRankSource:
    """Realistic embedding-like data: 32 latent dims with spectrum (i+1)**-0.7, mixed into
    ``dim`` dims, plus isotropic noise (HNSW recall on it resembles real sentence models')."""

    LATENT = 32

    def __init__(self, rng: np.random.Generator, dim: int = 384) -> None:
        self.rng = rng
        self.dim = dim
        self.spectrum = (np.arange(1, self.LATENT + 1, dtype=np.float32) ** -0.7)[None, :]
        self.mixing = rng.standard_normal((self.LATENT, dim), dtype=np.float32)
        self.noise = 0.05 * np.sqrt(self.LATENT)

    def draw(self, n: int) -> np.ndarray:
        latent = self.rng.standard_normal((n, self.LATENT), dtype=np.float32) * self.spectrum
        noise = self.rng.standard_normal((n, self.dim), dtype=np.float32) * self.noise
        return unit_rows(latent @ self.mixing + noise)
