"""``semcache calibrate``: the table as printed, the exit status, errors by file and line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from semcache_core import calibrate

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "semcache_integrations.cli", "calibrate", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        timeout=300,
    )


def test_the_shipped_pairs_with_the_lexical_embedder() -> None:
    done = run("examples/pairs", "--embedder", "lexical")
    expected = calibrate(shipped_pairs(), None, min_precision=0.99)
    assert done.returncode == (0 if expected.met else 1), done.stdout + done.stderr
    out = done.stdout
    assert "Calibration: 480 pairs (220 same), embedder lexical, rule response" in out
    lines = [line for line in out.splitlines() if line.startswith("│")]
    thresholds = [line.split("│")[1].strip() for line in lines[:30]]
    assert thresholds == [f"{0.70 + step / 100:.2f}" for step in range(30)]
    # The 0.85 row: every cell as the API counts it.
    row = expected.row_at(0.85)
    cells = [cell.strip() for cell in lines[15].split("│")[1:8]]
    assert cells[0] == "0.85" and cells[1:4] == [
        str(row.served),
        str(row.hits),
        str(row.wrong_hits),
    ]
    assert cells[4] == ("-" if row.precision is None else f"{row.precision:.4f}")
    assert "Different pairs scoring highest" in out
    assert expected.message.split(":")[0] in out


def test_no_guards_scores_as_a_cache_with_guards_off() -> None:
    done = run("examples/pairs", "--embedder", "lexical", "--no-guards")
    unguarded = calibrate(shipped_pairs(), None, min_precision=0.99, guards=())
    guarded = calibrate(shipped_pairs(), None, min_precision=0.99)
    out = done.stdout
    assert "embedder lexical, rule response, no guards" in out
    lines = [line for line in out.splitlines() if line.startswith("│")]
    cells = [cell.strip() for cell in lines[15].split("│")[1:4]]
    assert cells == ["0.85", str(unguarded.row_at(0.85).served), str(unguarded.row_at(0.85).hits)]
    # the guards refuse pairs the lexical embedder alone would serve at 0.85
    assert unguarded.row_at(0.85).wrong_hits > guarded.row_at(0.85).wrong_hits


def shipped_pairs() -> list[dict[str, object]]:
    return [
        json.loads(line)
        for path in sorted((ROOT / "examples" / "pairs").glob("*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]


def test_a_set_that_separates_gets_a_recommendation_and_exit_0(tmp_path: Path) -> None:
    pairs = [
        {
            "a": "How do I reset my password?",
            "b": "how do I reset my password",
            "same": True,
            "kind": "case",
        },
        {
            "a": "How do I reset my password?",
            "b": "How do I delete my account?",
            "same": False,
            "kind": "other",
        },
        {"a": "Where is my order?", "b": "Where is my order??", "same": True, "kind": "case"},
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(p) for p in pairs) + "\n\n")
    done = run(
        str(path), "--min-precision", "1", "--embedder", "semcache_core.embedders:HashingEmbedder"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "recommended threshold 0.7: precision 1.0000 >= 1, 2 of 2 same pairs served" in (
        done.stdout
    )
    assert "By kind at threshold 0.7" in done.stdout
    rows = [line for line in done.stdout.splitlines() if "<- recommended" in line]
    assert (
        len(rows) == 1 and rows[0].split("│")[1].strip() == "0.70"
    )  # the recommended row is in the table


def test_a_bad_line_is_named_by_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": "x", "b": "y", "same": true}\n\n{"a": "x", "b": \n')
    done = run(str(path))
    assert done.returncode == 2
    assert f"{path}:3: not JSON" in " ".join(done.stdout.split())


@pytest.mark.parametrize(
    "line",
    ['{"a": "x", "b": "y", "same": true, "n": ' + "9" * 5000 + "}", "[" * 100_000 + "]" * 100_000],
    ids=["5000-digit-int", "nested-100000-deep"],
)
def test_json_python_cannot_read_is_a_bad_line_not_a_traceback(tmp_path: Path, line: str) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_text('{"a": "x", "b": "y", "same": true}\n' + line + "\n")
    done = run(str(path))
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr
    assert f"{path}:2: not readable JSON" in " ".join(done.stdout.split())


def test_a_bad_pair_is_named_by_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    lines = ['{"a": "x", "b": "y", "same": true}', '{"a": "x", "b": "z", "same": "no"}']
    path.write_text("\n".join(lines) + "\n")
    done = run(str(path))
    assert done.returncode == 2
    assert f"{path}:2: pair 1: 'same' must be a bool, got 'no'" in " ".join(done.stdout.split())


def test_an_unknown_embedder_is_refused() -> None:
    done = run("examples/pairs", "--embedder", "no_such_module:thing")
    assert done.returncode == 2 and "--embedder no_such_module:thing" in done.stdout


def test_pair_text_is_printed_as_text_and_a_non_utf8_file_is_named(tmp_path: Path) -> None:
    """Prompts hold brackets ("[/INST]", "[red]"): printed as they are, never as markup."""
    rows = [
        {"a": "[INST] Who wrote it? [/INST]", "b": "[INST] Who wrote it [/INST]", "same": True},
        {"a": "Is 7 [/red] greater than 3?", "b": "Is 3 greater than 7?", "same": False},
        {"a": "cats", "b": "dogs", "same": False, "kind": "[bold]x[/nope]"},
        {"a": "a cat", "b": "one cat", "same": True, "kind": "[bold]x[/nope]"},
    ]
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(row) + "\n" for row in rows))
    done = run(str(pairs), "--embedder", "lexical", "--min-precision", "0.5")
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "[/red]" in done.stdout
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(
        b'{"a": "x", "b": "y", "same": true}\n{"a": "caf\xe9", "b": "c", "same": false}\n'
    )
    done = run(str(latin), "--embedder", "lexical")
    assert done.returncode == 2 and f"{latin}:2: not UTF-8" in done.stdout.replace("\n", "")


@pytest.mark.parametrize(
    ("source", "attr", "said"),
    [
        ("raise RuntimeError('import boom')\n", "x", "RuntimeError: import boom"),
        ("def x(:\n", "x", "SyntaxError"),
        (
            "class Raises:\n    def __init__(self):\n        raise RuntimeError('boom')\n",
            "Raises",
            "RuntimeError: boom",
        ),
        ("class NeedsArg:\n    def __init__(self, x):\n        pass\n", "NeedsArg", "TypeError"),
    ],
    ids=["import-raises", "syntax-error", "init-raises", "init-needs-args"],
)
def test_an_embedder_module_that_raises_is_a_one_line_error_not_a_traceback(
    tmp_path: Path, source: str, attr: str, said: str
) -> None:
    """Found by review: only ImportError / AttributeError were caught; anything else
    printed a traceback and exited 1, which means "no threshold reaches the precision"."""
    (tmp_path / "user_embedder.py").write_text(source)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "semcache_integrations.cli",
            "calibrate",
            "examples/pairs",
            "--embedder",
            f"user_embedder:{attr}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)},
        timeout=300,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert f"--embedder user_embedder:{attr}" in done.stdout and said in done.stdout


def test_an_embedder_module_in_the_current_directory_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by review: the installed ``semcache`` command has its bin directory on
    ``sys.path``, not the current one, so ``--embedder my_embedder:embed`` beside the
    pairs was "No module named" where ``python -m`` found it."""
    from semcache_integrations.cli import main

    name = "calibrate_cwd_embedder"
    (tmp_path / f"{name}.py").write_text(
        "from semcache_core import HashingEmbedder\n"
        "_embedder = HashingEmbedder()\n"
        "def embed(text):\n"
        "    return _embedder.embed_query(text)\n"
    )
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        json.dumps({"a": "Where is my order?", "b": "where is my order", "same": True})
        + "\n"
        + json.dumps({"a": "Where is my order?", "b": "How do I delete my account?", "same": False})
        + "\n"
    )
    monkeypatch.chdir(tmp_path)
    here = {"", ".", str(tmp_path)}  # the current directory: the installed command lacks it
    monkeypatch.setattr(sys, "path", [entry for entry in sys.path if entry not in here])
    try:
        status = main(["calibrate", str(pairs), "--embedder", f"{name}:embed"])
    finally:
        sys.modules.pop(name, None)
    assert status == 0  # 2: the module was not found


def test_the_by_kind_table_counts_as_the_recommendation_does() -> None:
    """A same pair scoring 5e-7 below the threshold is served by the cache
    (SCORE_TOLERANCE) and by calibrate's table; the by-kind table said it was not."""
    import dataclasses
    import io
    import math

    from rich.console import Console

    from semcache_core.calibration import table
    from semcache_integrations.cli_calibrate import _by_kind

    cosines = {"b0": 0.95, "b1": 0.9499995, "b2": 0.5}

    def planted(text: str) -> list[float]:
        if text.startswith("a"):
            return [1.0, 0.0]
        return [cosines[text], math.sqrt(1 - cosines[text] ** 2)]

    pairs = [("a", "b0", True), ("a", "b1", True), ("a", "b2", False)]
    result = calibrate(pairs, planted, min_precision=0.9, guards=(), rule="cosine")
    at = dataclasses.replace(result, threshold=0.95)
    row = table([s.score for s in result.scores], [s.pair.same for s in result.scores], [0.95])[0]
    assert (row.hits, row.wrong_hits) == (2, 0)
    out = io.StringIO()
    Console(file=out, width=200).print(_by_kind(at, ["k"] * 3))
    assert "2/2" in out.getvalue() and "0/1" in out.getvalue()
