"""``semcache bench [--quick] [--only NAME] [--out DIR]``: every benchmark, one report.

Runs each ``benchmarks/bench_<name>.py`` in its own subprocess (this Python, cwd the
benchmarks' parent, ``$SEMCACHE_BENCH_RESULTS`` naming a JSON-lines file the script's
``report.record`` appends to, a timeout), its output in ``DIR/logs/<name>.log``, a progress
bar on the console; then writes ``DIR/results.json`` (machine, versions, mode, each
benchmark's status, wall time, tables and series), the PNG charts and ``DIR/REPORT.md``.

Examples::

    semcache bench --quick                       # every benchmark, small sizes (< 5 min)
    semcache bench --only core,persist --out /tmp/bench
    semcache bench --benchmarks path/to/benchmarks

Exit status: 0 when every script ran to its end (whatever its PASS/FAIL verdicts), 1 when a
script crashed or timed out (the others still run and are reported), 2 when the runner
cannot start (no benchmarks directory, an unknown ``--only`` name).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from semcache_core import SemCacheError

from .bench_charts import CHARTS, draw_charts
from .bench_report import machine, render_report, versions

__all__ = [
    "BenchError",
    "ScriptRun",
    "add_bench_parser",
    "discover",
    "find_benchmarks",
    "run_bench",
    "select",
]

RESULTS_ENV = "SEMCACHE_BENCH_RESULTS"  # the variable benchmarks/report.py reads
TIMEOUT_QUICK_S, TIMEOUT_FULL_S = 300.0, 1200.0
_POLL_S = 0.25
_GRACE_S = 10.0  # after SIGINT, for a stopped script's own clean-up (servers, temp dirs)
_TAIL_LINES = 15
# which benchmark records each chart's series (only to say why a chart is missing)
_SERIES_SOURCE = {
    "search_latency": "search",
    "persistence": "persist",
    "llm_cache": "llm_cache",
    "wrong_vs_hits": "verified",
}


class BenchError(SemCacheError, ValueError):
    """``semcache bench`` cannot start: no benchmarks directory, or an unknown name."""


@dataclass
class ScriptRun:
    """One benchmark script's run: how it ended and what it recorded."""

    name: str
    script: Path
    status: str = "not run"  # "ok", "failed (exit code N)", "timed out after N s"
    returncode: int | None = None
    seconds: float | None = None
    log: str = ""
    log_tail: str = ""
    tables: list[dict[str, Any]] = field(default_factory=list)
    series: dict[str, Any] = field(default_factory=dict)
    unreadable: int = 0  # record lines that did not parse (a script killed mid-write)

    @property
    def crashed(self) -> bool:
        """Failed or timed out (a run that ended well with unreadable records did not)."""
        return not self.status.startswith("ok")

    def as_json(self, root: Path) -> dict[str, Any]:
        return {
            "name": self.name,
            "script": _relative(self.script, root),
            "status": self.status,
            "returncode": self.returncode,
            "seconds": self.seconds,
            "log": self.log,
            "log_tail": self.log_tail if self.status != "ok" else "",
            "tables": self.tables,
            "series": self.series,
        }


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def find_benchmarks(explicit: Path | None = None) -> Path:
    """The benchmarks directory: ``explicit``, else the one beside the package (a source
    checkout or editable install), else ``./benchmarks``; :class:`BenchError` if none."""
    import semcache_integrations

    candidates = (
        [explicit]
        if explicit is not None
        else [
            Path(semcache_integrations.__file__).resolve().parents[1] / "benchmarks",
            Path.cwd() / "benchmarks",
        ]
    )
    for candidate in candidates:
        if candidate.is_dir() and any(candidate.glob("bench_*.py")):
            return candidate.resolve()
    tried = ", ".join(str(c) for c in candidates)
    raise BenchError(
        f"no benchmarks directory with bench_*.py scripts (looked in {tried}); run from a "
        "source checkout of semcache or pass --benchmarks DIR"
    )


def discover(directory: Path) -> dict[str, Path]:
    """``{short name: script}`` for every ``bench_<name>.py`` in ``directory``, sorted."""
    return {path.stem.removeprefix("bench_"): path for path in sorted(directory.glob("bench_*.py"))}


def select(known: Sequence[str], only: Sequence[str]) -> list[str]:
    """The names picked by ``--only`` values (each may hold a comma-separated list), in
    discovery order; all of ``known`` when ``only`` is empty. An unknown name raises
    :class:`BenchError` listing the known ones."""
    wanted = [name.strip() for value in only for name in value.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise BenchError(
            f"unknown benchmark {', '.join(map(repr, unknown))}; known: {', '.join(known)}"
        )
    return [name for name in known if not wanted or name in wanted]


def add_bench_parser(commands: Any) -> None:
    """Register ``bench`` on the ``semcache`` command's subparsers."""
    parser = commands.add_parser(
        "bench", help="run the benchmarks beside their peers: results.json, REPORT.md, charts"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (< 5 min in all)")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="a benchmark's short name (core, persist, ...); repeat or comma-separate",
    )
    parser.add_argument("--out", type=Path, default=Path("bench-results"), metavar="DIR")
    parser.add_argument(
        "--benchmarks",
        type=Path,
        default=None,
        metavar="DIR",
        help="the directory of bench_*.py scripts (default: the source checkout's)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"per script (default {TIMEOUT_QUICK_S:g} quick, {TIMEOUT_FULL_S:g} full)",
    )


def run_bench(args: argparse.Namespace, console: Console | None = None) -> int:
    """``semcache bench``: run, record, report. Returns the exit status."""
    console = console or Console()
    try:
        directory = find_benchmarks(args.benchmarks)
        scripts = discover(directory)
        names = select(list(scripts), args.only)
    except BenchError as exc:
        console.print(f"[red]semcache bench: {exc}[/red]")
        return 2
    out: Path = args.out
    (out / "logs").mkdir(parents=True, exist_ok=True)
    (out / "records").mkdir(exist_ok=True)
    timeout = args.timeout or (TIMEOUT_QUICK_S if args.quick else TIMEOUT_FULL_S)
    mode = "quick" if args.quick else "full"
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": mode,
        "only": list(args.only),
        "machine": machine(),
        "versions": versions(),
        "known": list(scripts),
    }
    console.print(f"semcache bench ({mode}): {', '.join(names)} from {directory}")
    runs = [ScriptRun(name, scripts[name]) for name in names]
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[done]}"),  # "2/10" on the overall bar only
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        overall = progress.add_task("benchmarks", total=len(runs), done=f"0/{len(runs)}")
        for finished, run in enumerate(runs, 1):
            _run_script(run, directory.parent, out, args.quick, timeout, progress)
            progress.update(overall, advance=1, done=f"{finished}/{len(runs)}")
            colour = "green" if not run.crashed else "red"
            progress.console.print(
                f"[{colour}]{run.name}: {run.status}[/] in {run.seconds:.1f} s ({run.log})"
            )
    results["load_after"] = list(os.getloadavg())
    results["benchmarks"] = [run.as_json(directory.parent) for run in runs]
    series = {name: data for run in runs for name, data in run.series.items()}
    ran = {run.name: run for run in runs}
    for file in CHARTS:  # a chart not drawn this run must not show an earlier run's
        (out / file).unlink(missing_ok=True)
    outcomes = draw_charts(series, out, lambda name: _why_no_series(name, ran, scripts))
    results["charts"] = {file: vars(outcome) for file, outcome in outcomes.items()}
    (out / "results.json").write_text(json.dumps(results, indent=1, allow_nan=False))
    (out / "REPORT.md").write_text(render_report(results), encoding="utf-8")
    drawn = [file for file, outcome in outcomes.items() if outcome.drawn]
    console.print(
        f"wrote {out / 'results.json'}, {out / 'REPORT.md'} and "
        f"{len(drawn)} of {len(CHARTS)} charts ({', '.join(drawn) or 'none'})"
    )
    for outcome in outcomes.values():
        if not outcome.drawn:
            console.print(f"[yellow]{outcome.file} not drawn: {outcome.reason}[/]")
    crashed = [run.name for run in runs if run.crashed]
    if crashed:
        console.print(f"[red]crashed or timed out: {', '.join(crashed)} (see their logs)[/]")
    damaged = [run.name for run in runs if run.unreadable and not run.crashed]
    if damaged:
        console.print(f"[red]unreadable record lines: {', '.join(damaged)} (see results.json)[/]")
    return 1 if crashed or damaged else 0


def _why_no_series(name: str, ran: dict[str, ScriptRun], known: dict[str, Path]) -> str:
    source = _SERIES_SOURCE.get(name, "")
    if source not in known:
        return f"series {name!r} not recorded: no benchmark {source!r} in this checkout"
    if source not in ran:
        return f"series {name!r} not recorded: benchmark {source!r} was not run (--only)"
    if ran[source].crashed:
        return f"series {name!r} not recorded: benchmark {source!r} {ran[source].status}"
    return f"series {name!r} not recorded by benchmark {source!r}"


def _run_script(
    run: ScriptRun, cwd: Path, out: Path, quick: bool, timeout: float, progress: Progress
) -> None:
    """Run one script to its end (or its timeout), then read back what it recorded."""
    records = out / "records" / f"{run.name}.jsonl"
    records.unlink(missing_ok=True)
    log_path = out / "logs" / f"{run.name}.log"
    run.log = f"logs/{run.name}.log"
    env = {**os.environ, RESULTS_ENV: str(records.resolve()), "PYTHONUNBUFFERED": "1"}
    # the scripts measure the code beside them (a checkout), not another installed copy
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(cwd), os.environ.get("PYTHONPATH")]))
    command = [sys.executable, str(run.script), *(["--quick"] if quick else [])]
    task = progress.add_task(run.name, total=None, done="")
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: what it starts stops with it
        )
        try:
            while process.poll() is None:
                if time.perf_counter() - started > timeout:
                    _stop_group(process)
                    run.status = f"timed out after {timeout:g} s"
                    break
                progress.update(task, description=f"{run.name}: {_last_line(log_path)}")
                time.sleep(_POLL_S)
        finally:
            if process.poll() is None:  # interrupted (Ctrl-C): leave no script behind
                _stop_group(process)
    run.seconds = time.perf_counter() - started
    run.returncode = process.returncode
    if run.status == "not run":
        run.status = "ok" if process.returncode == 0 else f"failed (exit code {process.returncode})"
    progress.remove_task(task)
    run.log_tail = "\n".join(_read_text(log_path).splitlines()[-_TAIL_LINES:])
    _read_records(run, records)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a script and every process it started (servers included): SIGINT to its
    process group first, so its own clean-up runs (servers stopped by pid, temporary
    directories removed), then SIGKILL to whatever of the group is left."""
    for sig in (signal.SIGINT, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:  # the whole group is gone
            break
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(_GRACE_S)
    process.wait()


def _read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def _last_line(path: Path, width: int = 60) -> str:
    with open(path, "rb") as log:
        log.seek(max(0, log.seek(0, os.SEEK_END) - 4096))
        tail = log.read().decode("utf-8", errors="replace")
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    text = lines[-1] if lines else "starting"
    return (text[: width - 1] + "…" if len(text) > width else text).replace("[", "\\[")


def _read_records(run: ScriptRun, path: Path) -> None:
    """Tables and series from the script's JSON-lines file; a line that does not parse
    (a script killed mid-write) is skipped and said so in the status."""
    if not path.exists():
        return
    bad = 0
    for line in _read_text(path).splitlines():
        try:
            record = json.loads(line)
            kind, name, data = record["kind"], record["name"], record["data"]
        except (ValueError, KeyError, TypeError):
            bad += 1
            continue
        if kind == "table":
            run.tables.append({"title": name, **data})
        elif kind == "series":
            run.series[name] = data
    if bad:
        run.unreadable = bad
        run.status += f"; {bad} unreadable record line(s)"
