"""``semcache bench``: the runner, results.json, REPORT.md and the charts (figures are never
asserted: speed lives in the benchmarks themselves)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semcache_integrations.bench_charts import CHARTS, draw_charts
from semcache_integrations.bench_report import area_of, markdown_table
from semcache_integrations.cli import main
from semcache_integrations.cli_bench import BenchError, select

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


def test_a_quick_namespaces_run_writes_results_report_and_says_which_charts_are_missing(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "semcache_integrations.cli", "bench", "--quick",
         "--only", "namespaces", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["mode"] == "quick"
    assert results["machine"]["cpus"] == os.cpu_count() and results["machine"]["ram_bytes"] > 0
    assert results["versions"]["python"] and results["versions"]["numpy"]
    assert "faiss-cpu" in results["versions"]  # every peer listed, installed or not
    [bench] = results["benchmarks"]
    assert (bench["name"], bench["status"], bench["returncode"]) == ("namespaces", "ok", 0)
    [table] = bench["tables"]
    assert table["title"] == "namespace benchmark (quick)"
    assert [row["number"] for row in table["rows"]] == ["1a", "1b", "2a", "2b"]
    assert "namespace benchmark" in (out / bench["log"]).read_text()

    report = (out / "REPORT.md").read_text()
    assert "- mode: quick (`semcache bench --quick --only namespaces`)" in report
    assert "| # | measurement | ours | baseline (same run) | ratio | target | result |" in report
    first = table["rows"][0]
    assert f"| 1a | {first['label']} | {first['ours']} | {first['baseline']} |" in report
    assert "`core` not run (not selected)" in report
    assert "persistence.png: not drawn: series 'persistence' not recorded: benchmark " in report
    assert "'verified' was not run (--only)" in report
    assert not list(out.glob("*.png"))


def test_an_unknown_name_is_a_clear_error_listing_the_known_ones(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(BenchError, match=r"unknown benchmark 'nope'; known: core, .*verified"):
        select(["core", "persist", "verified"], ["core,nope"])
    assert select(["core", "persist", "verified"], ["verified", "core"]) == ["core", "verified"]
    assert main(["bench", "--only", "nope", "--out", str(tmp_path / "out")]) == 2
    assert "unknown benchmark 'nope'; known: core," in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


SCRIPTS = {
    "bench_boom.py": "raise RuntimeError('boom: the benchmark broke')\n",
    "bench_fine.py": """\
        import json, os, sys
        line = {"kind": "table", "name": "fine table | piped",
                "data": {"rows": [{"number": "1", "label": "a\\nb", "ours": "1 s",
                                   "baseline": "2 s", "ratio": "0.5x", "target": "<= 1x",
                                   "passed": True},
                                  {"number": "2", "label": "a peer", "ours": "1 s",
                                   "baseline": "cannot run: no server", "ratio": "",
                                   "target": "info", "passed": None}]}}
        series = {"kind": "series", "name": "persistence",
                  "data": {"formats": ["ours", "json"], "dump_s": [0.1, 0.5],
                           "load_s": [0.2, 0.9], "size_bytes": [1000, 5000]}}
        with open(os.environ["SEMCACHE_BENCH_RESULTS"], "a") as sink:
            sink.write(json.dumps(line) + "\\n" + json.dumps(series) + "\\n")
        print("argv", sys.argv[1:], "cwd", os.getcwd())
        """,
    # starts a process of its own (as bench_redis starts servers), then hangs
    "bench_slow.py": """\
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open(os.path.join(os.environ["CHILD_PID_DIR"], "child.pid"), "w") as sink:
            sink.write(str(child.pid))
        time.sleep(60)
        """,
}


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, reaped by nobody yet, is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_crash_and_a_timeout_are_reported_and_the_others_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    benchmarks = tmp_path / "checkout" / "benchmarks"
    benchmarks.mkdir(parents=True)
    for name, text in SCRIPTS.items():
        (benchmarks / name).write_text(textwrap.dedent(text))
    out = tmp_path / "out"
    out.mkdir()
    (out / "search_latency.png").write_bytes(PNG)  # an earlier run's chart
    monkeypatch.setenv("CHILD_PID_DIR", str(tmp_path))
    argv = ["bench", "--quick", "--benchmarks", str(benchmarks), "--out", str(out)]
    assert main([*argv, "--timeout", "3"]) == 1
    # the timed-out script's own child (a server, in bench_redis) was stopped with it
    child = int((tmp_path / "child.pid").read_text())
    assert not _running(child)
    assert not (out / "search_latency.png").exists()  # not drawn this run: not shown

    results = json.loads((out / "results.json").read_text())
    runs = {bench["name"]: bench for bench in results["benchmarks"]}
    assert list(runs) == ["boom", "fine", "slow"]
    assert runs["boom"]["status"] == "failed (exit code 1)"
    assert "RuntimeError: boom: the benchmark broke" in runs["boom"]["log_tail"]
    assert runs["slow"]["status"] == "timed out after 3 s"
    fine = runs["fine"]
    assert fine["status"] == "ok" and fine["tables"][0]["title"] == "fine table | piped"
    log = (out / "logs" / "fine.log").read_text()
    assert f"argv ['--quick'] cwd {benchmarks.parent}" in log
    assert (out / "persistence.png").read_bytes().startswith(PNG)

    report = (out / "REPORT.md").read_text()
    assert "`boom` failed (exit code 1); the end of its log:" in report
    assert "RuntimeError: boom: the benchmark broke" in report
    assert "| `slow` | timed out after 3 s |" in report
    assert "### fine table | piped (`fine`)" in report
    assert "| 1 | a<br>b | 1 s | 2 s | 0.5x | <= 1x | PASS |" in report
    assert "- peers installed that could not run: a peer (`fine`)" in report
    assert "- [persistence.png](persistence.png)" in report
    assert "- search_latency.png: not drawn: series 'search_latency' not recorded: no " in report


def test_a_run_that_ended_well_with_a_torn_record_line_is_not_called_crashed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by review: a run that exited 0 with one unreadable record line was listed as
    "crashed or timed out"; it is reported as what it is (and still fails the command)."""
    benchmarks = tmp_path / "checkout" / "benchmarks"
    benchmarks.mkdir(parents=True)
    (benchmarks / "bench_torn.py").write_text(
        textwrap.dedent(
            """\
            import json, os
            line = {"kind": "table", "name": "torn", "data": {"rows": []}}
            with open(os.environ["SEMCACHE_BENCH_RESULTS"], "a") as sink:
                sink.write(json.dumps(line) + "\\n" + '{"kind": "tab' + "\\n")
            """
        )
    )
    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "out"
    assert main(["bench", "--benchmarks", str(benchmarks), "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "unreadable record lines: torn" in printed
    assert "crashed or timed out" not in printed
    [bench] = json.loads((out / "results.json").read_text())["benchmarks"]
    assert bench["status"] == "ok; 1 unreadable record line(s)"
    assert [table["title"] for table in bench["tables"]] == ["torn"]


def split_row(line: str) -> list[str]:
    """The cells of a markdown table row: split on pipes that no backslash escapes."""
    assert line.startswith("| ") and line.endswith(" |"), line
    cells, cell, escaped = [], "", False
    for char in line[1:-1]:
        if char == "|" and not escaped:
            cells.append(cell)
            cell = ""
        else:
            cell += char
        escaped = char == "\\" and not escaped
    return [*cells, cell]


def unescape(cell: str) -> str:
    out, escaped = "", False
    for char in cell:
        if char == "\\" and not escaped:
            escaped = True
            continue
        out, escaped = out + char, False
    return out


cell_text = st.one_of(st.text(), st.sampled_from(["|", "\\", "\\|", "a\nb", "\r\n", " ", ""]))


@given(
    header=st.lists(cell_text, min_size=1, max_size=5),
    rows=st.lists(st.lists(cell_text, max_size=7), max_size=4),
)
@settings(max_examples=300)
def test_any_cell_text_makes_a_well_formed_markdown_table(
    header: list[str], rows: list[list[str]]
) -> None:
    lines = markdown_table(header, rows).split("\n")
    assert len(lines) == len(rows) + 2  # no cell breaks a line
    assert lines[1] == "|" + " --- |" * len(header)
    for line, cells in zip([lines[0], *lines[2:]], [header, *rows]):
        parsed = split_row(line)
        assert len(parsed) == len(header)
        for raw, text in zip(parsed, [*cells, *[""] * len(header)]):
            assert raw.startswith(" ") and raw.endswith(" ")
            expected = "\n".join(part.strip() for part in text.splitlines()) or " "
            if "<br>" not in text:
                assert unescape(raw[1:-1]).replace("<br>", "\n") == expected


positive = st.floats(min_value=1e-7, max_value=10.0)


@st.composite
def chart_series(draw: Any) -> dict[str, Any]:
    """Every chart's series in the contract's shapes, with generated sizes and figures."""
    n = draw(st.lists(st.integers(1, 10**7), min_size=1, max_size=5, unique=True))
    names = draw(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=4, unique=True))
    formats = draw(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=5))
    caches = draw(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=5))
    requests = draw(st.integers(1, 2000))
    k = len(formats)
    return {
        "search_latency": {
            "n": sorted(n),
            "series": {name: draw(st.lists(positive, min_size=len(n), max_size=len(n)))
                       for name in names},
        },
        "persistence": {
            "formats": formats,
            "dump_s": draw(st.lists(positive, min_size=k, max_size=k)),
            "load_s": draw(st.lists(positive, min_size=k, max_size=k)),
            "size_bytes": draw(st.lists(st.integers(0, 10**10), min_size=k, max_size=k)),
        },
        "llm_cache": {
            "caches": caches,
            "seconds_per_request": [draw(positive) for _ in caches],
            "llm_calls": [draw(st.integers(0, requests)) for _ in caches],
            "wrong": [draw(st.integers(0, 5)) for _ in caches],
            "requests": requests,
            "not_run": draw(st.lists(st.text(min_size=1, max_size=30), max_size=3)),
        },
        "wrong_vs_hits": {
            "points": [
                {"label": draw(st.text(max_size=10)), "family": family, "set": stream,
                 "hit_rate": draw(st.floats(0, 1)), "wrong_rate": draw(st.floats(0, 1))}
                for family in ("static", "guards", "verified")
                for stream in draw(st.sampled_from([[""], ["A", "B"]]))
                for _ in range(draw(st.integers(1, 4)))
            ]
        },
    }  # fmt: skip


@pytest.mark.parametrize("load", [1.0000000000000001e-07, 1e-07, 3.5e-05, 12.0])
def test_a_log_panel_draws_one_bar_at_any_height(load: float, tmp_path: Path) -> None:
    """One bar just above a power of ten was autoscaled, on switching to a log axis, to
    identical low and high limits: a warning, and the chart was reported undrawable."""
    series = {"formats": ["ours"], "dump_s": [1.0], "load_s": [load], "size_bytes": [0]}
    outcome = draw_charts({"persistence": series}, tmp_path)["persistence.png"]
    assert outcome.drawn, outcome.reason
    assert (tmp_path / "persistence.png").stat().st_size > 0


@given(series=chart_series())
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_every_chart_draws_a_png_from_generated_series(
    series: dict[str, Any], tmp_path: Path
) -> None:
    outcomes = draw_charts(series, tmp_path)
    assert set(outcomes) == set(CHARTS)
    for file, outcome in outcomes.items():
        assert outcome.drawn, outcome.reason
        data = (tmp_path / file).read_bytes()
        assert data.startswith(PNG) and len(data) > len(PNG)


def test_a_malformed_or_absent_series_is_reported_not_raised(tmp_path: Path) -> None:
    series = {
        "persistence": {
            "formats": ["ours", "json"],
            "dump_s": [0.1],
            "load_s": [],
            "size_bytes": [],
        },
        "search_latency": {"n": [1000], "series": {"ours": [0.0]}},  # nothing to draw on log axes
    }
    outcomes = draw_charts(series, tmp_path, lambda name: f"{name} was not run")
    assert "dump_s has 1 values, expected 2" in outcomes["persistence.png"].reason
    assert "no positive figure" in outcomes["search_latency.png"].reason
    assert outcomes["llm_cache.png"].reason == "llm_cache was not run"
    assert not any(outcome.drawn for outcome in outcomes.values())
    assert not list(tmp_path.iterdir())


def test_without_matplotlib_no_chart_is_drawn_and_the_reason_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in [name for name in sys.modules if name.split(".")[0] == "matplotlib"]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what "not installed" looks like
    series = {"persistence": {"formats": ["a"], "dump_s": [1], "load_s": [1], "size_bytes": [1]}}
    outcome = draw_charts(series, tmp_path)["persistence.png"]
    assert not outcome.drawn
    assert outcome.reason == (
        "matplotlib is not installed: pip install 'semcache-integrations[bench]'"
    )


def test_langchain_rows_go_to_the_llm_or_the_embedding_cache_area_by_their_number() -> None:
    semantic = {"number": "2a", "label": "semantic lookup, embedding subtracted: p50"}
    assert area_of("langchain", semantic) == "LLM cache"
    assert area_of("langchain", {"number": "3e", "label": "our CachedEmbeddings"}) == (
        "embedding cache"
    )
    assert area_of("llamaindex", {"number": "3"}) == "vector store"
    assert area_of("a_new_one", {"number": "1"}) == "other"


def test_a_peer_missing_at_some_sizes_leaves_only_those_points_out(tmp_path: Path) -> None:
    series = {"n": [1000, 10000], "series": {"ours": [1e-4, 2e-4], "peer": [3e-4, None]}}
    outcome = draw_charts({"search_latency": series}, tmp_path)["search_latency.png"]
    assert outcome.drawn, outcome.reason
    assert (tmp_path / "search_latency.png").read_bytes().startswith(PNG)
