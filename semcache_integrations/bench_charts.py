"""The PNG charts of ``semcache bench``, drawn with matplotlib from the recorded series.

Each chart reads one series a benchmark recorded with ``report.record("series", name,
data)`` (the contract in ``benchmarks/report.py``) and writes a fixed file name::

    search_latency.png   "search_latency": {"n": [...], "series": {name: [s/query at each n]}}
    persistence.png      "persistence": {"formats": [...], "dump_s": [...], "load_s": [...],
                                         "size_bytes": [...]}
    llm_cache.png        "llm_cache": {"caches": [...], "seconds_per_request": [...],
                                       "llm_calls": [...], "wrong": [...], "requests": N}
    wrong_vs_hits.png    "wrong_vs_hits": {"points": [{"label", "family", "hit_rate",
                                                      "wrong_rate"}, ...]}

Usage::

    outcomes = draw_charts({"persistence": {...}}, Path("bench-results"))
    outcomes["persistence.png"].drawn    # True; the others say why they were not drawn

matplotlib (the ``bench`` extra) is imported only here, when a chart is drawn; without it
every chart is reported as not drawn, with the install command, instead of a traceback.
Figures are built on ``matplotlib.figure.Figure`` (the Agg canvas), never through pyplot's
global state.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CHARTS",
    "ChartOutcome",
    "ChartsUnavailable",
    "draw_charts",
    "llm_cache_chart",
    "persistence_chart",
    "search_latency_chart",
    "wrong_vs_hits_chart",
]


class ChartsUnavailable(RuntimeError):
    """matplotlib is not installed; the message says how to install it."""


@dataclass(frozen=True)
class ChartOutcome:
    """Whether a chart file was written, and if not, why (for REPORT.md)."""

    file: str
    series: str
    drawn: bool
    reason: str = ""


def _figure(width: float, height: float) -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display; harmless when already chosen
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ChartsUnavailable(
            "matplotlib is not installed: pip install 'semcache-integrations[bench]'"
        ) from exc
    return Figure(figsize=(width, height), layout="constrained")


def _label(text: object) -> str:
    """``text`` as matplotlib shows it literally: no mathtext (``$``), no control
    characters (no glyph), and not hidden from the legend (a leading ``_``)."""
    shown = "".join(ch if ch.isprintable() else " " for ch in str(text)).replace("$", r"\$")
    return f" {shown}" if shown.startswith("_") else shown


def _save(fig: Any, path: Path) -> None:
    with warnings.catch_warnings():
        # a character the font lacks is drawn as a box: not worth losing the chart
        warnings.filterwarnings("ignore", "Glyph .* missing from font", UserWarning)
        fig.savefig(path, dpi=110)


def _floats(values: Any, name: str, length: int | None = None) -> list[float]:
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise ValueError(f"{name} is not a list")
    out = [float(v) for v in values]
    if length is not None and len(out) != length:
        raise ValueError(f"{name} has {len(out)} values, expected {length}")
    return out


def _names(values: Any, name: str) -> list[str]:
    if not isinstance(values, Sequence) or isinstance(values, str) or not values:
        raise ValueError(f"{name} is not a non-empty list")
    return [_label(v) for v in values]


def search_latency_chart(data: Mapping[str, Any], path: Path) -> None:
    """Seconds per query against entries, log-log, one line per series (µs on the axis)."""
    n = _floats(data["n"], "n")
    series = data["series"]
    if not isinstance(series, Mapping) or not series:
        raise ValueError("series is not a non-empty mapping")
    lines = {}
    for name, seconds in series.items():
        # a peer that could not run at some size records 0 or null: leave those points out
        ys = _floats([v or 0.0 for v in seconds], f"series[{name!r}]", len(n))
        points = [(x, y * 1e6) for x, y in zip(n, ys) if x > 0 and y > 0 and math.isfinite(y)]
        if points:
            lines[_label(name)] = points
    if not lines:
        raise ValueError("no positive figure to draw on log axes")
    fig = _figure(7.5, 5)
    ax = fig.add_subplot()
    # explicit limits: one size or one figure alone would make log autoscaling singular
    xs = [x for points in lines.values() for x, _ in points]
    ys = [y for points in lines.values() for _, y in points]
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(min(xs) / 1.5, max(xs) * 1.5)
    ax.set_ylim(min(ys) / 1.5, max(ys) * 1.5)
    ax.set_autoscale_on(False)
    for name, points in lines.items():
        ax.plot(*zip(*points), marker="o", label=name)
    ax.set_xlabel("entries")
    ax.set_ylabel("µs per query")
    ax.set_title("Search latency vs number of entries")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    _save(fig, path)


def _bars(
    ax: Any, labels: list[str], values: list[float], title: str, unit: str, log: bool = False
) -> None:
    """One bar per label; ``log``: a log axis (when every value is positive), so bars
    a hundred times apart both show."""
    ax.bar(range(len(labels)), values, color=[f"C{i % 10}" for i in range(len(labels))])
    if log and values and min(values) > 0:
        # limits first: switching to log autoscaled one bar just above a power of ten
        # (1.0000000000000001e-07) to identical low and high limits (a warned singularity)
        ax.set_ylim(min(values) / 2, max(values) * 2)
        ax.set_yscale("log")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize="small")
    ax.set_title(title)
    ax.set_ylabel(unit)
    ax.grid(True, axis="y", alpha=0.3)


def persistence_chart(data: Mapping[str, Any], path: Path) -> None:
    """Dump time, load time and file size per format: three panels of bars."""
    formats = _names(data["formats"], "formats")
    dump = _floats(data["dump_s"], "dump_s", len(formats))
    load = _floats(data["load_s"], "load_s", len(formats))
    size = _floats(data["size_bytes"], "size_bytes", len(formats))
    fig = _figure(12, 4.5)
    axes = fig.subplots(1, 3)
    _bars(axes[0], formats, dump, "dump", "seconds (log)", log=True)
    _bars(axes[1], formats, load, "load", "seconds (log)", log=True)
    _bars(axes[2], formats, [s / 1e6 for s in size], "size on disk", "MB")
    fig.suptitle("Persistence: dump, load and size per format")
    _save(fig, path)


def llm_cache_chart(data: Mapping[str, Any], path: Path) -> None:
    """Two panels per cache: time per request, and LLM calls saved (of the requests)."""
    caches = _names(data["caches"], "caches")
    per_request = _floats(data["seconds_per_request"], "seconds_per_request", len(caches))
    calls = _floats(data["llm_calls"], "llm_calls", len(caches))
    wrong = _floats(data.get("wrong", [0.0] * len(caches)), "wrong", len(caches))
    requests = float(data["requests"])
    fig = _figure(12, 4.5)
    left, right = fig.subplots(1, 2)
    _bars(left, caches, [s * 1e3 for s in per_request], "time per request", "ms")
    _bars(right, caches, [requests - c for c in calls], f"LLM calls saved of {requests:g}", "")
    for i, count in enumerate(wrong):
        if count:  # a wrong answer served is the figure that matters most: mark it
            right.annotate(
                f"{count:g}\nwrong",
                (i, requests - calls[i]),
                ha="center",
                va="bottom",
                color="red",
                fontsize="x-small",
            )
    fig.suptitle("LLM cache: time per request and LLM calls saved")
    not_run = data.get("not_run") or []
    if not_run:  # a cache that could not run is named, not silently left out
        names = "; ".join(_names(not_run, "not_run"))
        fig.text(0.5, 0.005, _label(f"not run: {names}"), ha="center",
                 fontsize="small", color="C3")  # fmt: skip
    _save(fig, path)


_FAMILIES = {"static": ("C0", "o", "-"), "guards": ("C1", "s", "--"), "verified": ("C2", "D", "")}


def wrong_vs_hits_chart(data: Mapping[str, Any], path: Path) -> None:
    """Wrong-hit rate against hit rate: static thresholds (and with guards) as lines,
    verified points; a point's optional ``"set"`` names the stream it was measured on."""
    points = data["points"]
    if not isinstance(points, Sequence) or not points:
        raise ValueError("points is not a non-empty list")
    groups: dict[tuple[str, str], list[tuple[float, float, str]]] = {}
    for point in points:
        family = str(point["family"])
        if family not in _FAMILIES:
            raise ValueError(f"unknown family {family!r}; expected one of {sorted(_FAMILIES)}")
        key = (family, str(point.get("set", "")))
        xy = (float(point["hit_rate"]) * 100, float(point["wrong_rate"]) * 100)
        groups.setdefault(key, []).append((*xy, _label(point["label"])))
    sets = sorted({s for _, s in groups})
    fig = _figure(7.5, 5.5)
    ax = fig.add_subplot()
    order = list(_FAMILIES)
    for (family, set_name), members in sorted(
        groups.items(), key=lambda g: (order.index(g[0][0]), g[0][1])
    ):
        color, marker, line = _FAMILIES[family]
        members.sort()
        xs, ys, _ = zip(*members)
        fill = "full" if sets.index(set_name) == 0 else "none"
        label = f"{family} ({_label(set_name)})" if set_name else family
        ax.plot(
            xs,
            ys,
            marker=marker,
            linestyle=line or "none",
            color=color,
            label=label,
            fillstyle=fill,
        )
        if family == "verified":
            for x, y, text in members:
                ax.annotate(
                    text.removeprefix("verified "),
                    (x, y),
                    fontsize="x-small",
                    xytext=(4, 4),
                    textcoords="offset points",
                )
    ax.set_xlabel("hit rate (% of requests)")
    ax.set_ylabel("wrong answers served (% of requests)")
    ax.set_title("Wrong hits vs hits: static thresholds, guards, verified")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    _save(fig, path)


Drawer = Callable[[Mapping[str, Any], Path], None]

# file name -> (series name, drawer)
CHARTS: dict[str, tuple[str, Drawer]] = {
    "search_latency.png": ("search_latency", search_latency_chart),
    "persistence.png": ("persistence", persistence_chart),
    "llm_cache.png": ("llm_cache", llm_cache_chart),
    "wrong_vs_hits.png": ("wrong_vs_hits", wrong_vs_hits_chart),
}


def draw_charts(
    series: Mapping[str, Any], out_dir: Path, missing: Callable[[str], str] | None = None
) -> dict[str, ChartOutcome]:
    """Draw every chart whose series is in ``series`` into ``out_dir``; one outcome per
    chart file. ``missing(series_name)`` explains an absent series (default: "not
    recorded"). A malformed series is reported, not raised: the other charts still draw."""
    outcomes: dict[str, ChartOutcome] = {}
    for file, (name, draw) in CHARTS.items():
        if name not in series:
            reason = missing(name) if missing else f"series {name!r} was not recorded"
            outcomes[file] = ChartOutcome(file, name, False, reason)
            continue
        try:
            draw(series[name], out_dir / file)
        except ChartsUnavailable as exc:
            outcomes[file] = ChartOutcome(file, name, False, str(exc))
        except Exception as exc:  # a chart that cannot be drawn must not lose the results
            reason = f"series {name!r} could not be drawn ({type(exc).__name__}: {exc})"
            outcomes[file] = ChartOutcome(file, name, False, reason)
        else:
            outcomes[file] = ChartOutcome(file, name, True)
    return outcomes
