"""The command line: the demo tour runs (test_lc_demo.py checks its figures); inspect."""

from __future__ import annotations

import importlib.metadata
import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from semcache_core import SemCache, SnapshotError
from semcache_core.persist.container import open_container, write_container
from semcache_integrations.cli import _when, inspect, main


def test_main_runs_the_demo_tour_lexical() -> None:
    options = ["--lexical", "--latency-ms", "0", "--chat-latency-ms", "0", "--documents", "60"]
    assert main(["demo", *options]) == 0  # 0: no wrong answer was served


def _console() -> tuple[Console, io.StringIO]:
    output = io.StringIO()
    return Console(file=output, width=200), output


def _small_cache() -> SemCache:
    cache = SemCache(index="hnsw", clock=lambda: 1_000.0)
    rng = np.random.default_rng(3)
    cache.set_many(
        {f"k{i}": f"v{i}" for i in range(40)}, vectors=rng.standard_normal((40, 8)), ttl=60
    )
    cache.set("tenant", "x", vector=np.ones(8), namespace="acme", ttl=500)
    cache.set("plain", "no vector")
    return cache


def test_inspect_describes_a_snapshot_and_verifies_it(tmp_path: Path) -> None:
    path = tmp_path / "c.semcache"
    _small_cache().dump(path)
    console, output = _console()
    assert inspect(str(path), console) == 0
    text = output.getvalue()
    assert "snapshot" in text and "checksums OK" in text
    assert "│ entries        │ 42" in text and "│ vectors        │ 41" in text
    assert "│ dimension      │ 8" in text and "(default), acme" in text  # graphs of both
    assert "(default): 41, acme: 1" in text
    assert "1970-01-01 00:17:40 UTC" in text and "1970-01-01 00:25:00 UTC" in text  # expiries


def test_inspect_names_the_damaged_section(tmp_path: Path) -> None:
    path = tmp_path / "c.semcache"
    _small_cache().dump(path)
    with open_container(path) as container:  # graphs hold their namespace's vectors
        offset = container.sections["graph/0/level0"].offset + 5
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    console, output = _console()
    assert inspect(str(path), console) == 1
    assert "DAMAGED: graph/0/level0" in output.getvalue()


def test_inspect_rejects_a_foreign_or_missing_file(tmp_path: Path) -> None:
    foreign = tmp_path / "notes.txt"
    foreign.write_text("hello")
    console, output = _console()
    assert inspect(str(foreign), console) == 1
    assert inspect(str(tmp_path / "missing"), console) == 1
    text = " ".join(output.getvalue().split())  # rich wraps a long temporary path's line
    assert "not a semcache snapshot" in text and "No such file" in text


@pytest.mark.parametrize(
    ("kind", "meta", "said"),
    [
        ("weird", {}, "not a semcache snapshot"),
        ("snapshot", {"spaces": [[1]]}, "metadata semcache never writes"),
        ("snapshot", {"spaces": "x", "entries": 3}, "metadata semcache never writes"),
    ],
    ids=["foreign-kind", "short-space-row", "spaces-a-str"],
)
def test_inspect_refuses_a_sound_container_semcache_never_wrote(
    tmp_path: Path, kind: str, meta: dict, said: str
) -> None:
    """Checksums that hold prove nothing about the content: a foreign kind was reported
    "checksums OK; the content loads", a crafted meta ended in a traceback."""
    path = tmp_path / "crafted.semcache"
    write_container(path, kind, meta, {"a": b"abc"})
    console, output = _console()
    assert inspect(str(path), console) == 1
    assert said in " ".join(output.getvalue().split())


def test_a_damaged_journal_is_reported_and_refused_with_a_typed_error(tmp_path: Path) -> None:
    """SQLite's own ``DatabaseError`` escaped from the durable open and from ``inspect``."""
    directory = tmp_path / "durable"
    with SemCache(path=directory) as cache:
        cache.set("kept", 1)
    journal = directory / "journal" / "cache.db"
    journal.write_bytes(b"garbage garbage!" + journal.read_bytes()[16:])
    console, output = _console()
    assert inspect(str(directory), console) == 1
    assert "DAMAGED: journal: file is not a database" in " ".join(output.getvalue().split())
    with pytest.raises(SnapshotError, match="journal is damaged"):
        SemCache(path=directory)


def test_inspect_describes_a_durable_directory_while_it_is_open(tmp_path: Path) -> None:
    directory = tmp_path / "durable"
    with SemCache(path=directory, clock=lambda: 1_000.0) as cache:
        cache.set("a", 1, vector=[1.0, 0.0, 0.0], ttl=10)
        cache.set("b", 2, namespace="other")
        console, output = _console()
        assert inspect(str(directory), console) == 0  # readable while the owner holds it
        text = output.getvalue()
        assert "durable directory" in text and "no checkpoint yet" in text
        assert "│ entries        │ 2" in text and "│ dimension      │ 3" in text
        assert "(default): 1, other: 1" in text
    console, output = _console()
    assert main(["inspect", str(directory)]) == 0
    assert inspect(str(directory), console) == 0
    assert "checkpoint: 2 entries" in output.getvalue()


def test_help_is_plain_text(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "``" not in text  # no raw reStructuredText
    assert "semantic cache" in text
    assert "semcache inspect PATH" in text and "semcache demo" in text


def test_version_comes_from_the_installed_distribution(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == (
        f"semcache {importlib.metadata.version('semcache-integrations')}"
    )


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--latency-ms", "-5", "milliseconds >= 0"),
        ("--latency-ms", "nan", "milliseconds >= 0"),
        ("--chat-latency-ms", "inf", "milliseconds >= 0"),
        ("--chat-latency-ms", "soon", "not a number"),
        ("--documents", "0", "int >= 1"),
        ("--documents", "2.5", "not an int"),
    ],
)
def test_a_bad_demo_option_is_a_usage_error_naming_it(
    option: str, value: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by review: ``--latency-ms -5`` ran the tour up to a ValueError traceback."""
    with pytest.raises(SystemExit) as exited:
        main(["demo", "--lexical", option, value])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert option in error and said in error


@settings(max_examples=50, deadline=None)
@given(
    seconds=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-(2**63), 2**63 - 1),
    )
)
def test_a_time_outside_the_calendar_prints_as_seconds(seconds: float) -> None:
    """Found by review: ``semcache inspect`` of a journal whose expiry was far past year
    9999 (which opens) crashed printing it."""
    assert _when(seconds)
    assert _when(None) == "-"
