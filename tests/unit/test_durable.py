"""Durable mode (``SemCache(path=...)``): acknowledged writes survive SIGKILL, reopen paths,
the directory lock, TTL / LRU / clear / load through the journal, and bad input.

Crashes are real: ``durable_writer.py`` (a script beside this module) runs under this test
run's interpreter and is killed with ``SIGKILL``. What the directory must hold afterwards is
computed from the operations the writer acknowledged, with the same pure helpers
(``value_for``, ``vector_for``, ...), never read back from a cache.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from durable_writer import (
    DIM,
    HNSW,
    KEY_POOL,
    embedder,
    entry_for,
    meta_for,
    text_for,
    unit,
    value_for,
    vector_for,
)
from fakeclock import FakeClock

from semcache_core import SemCache
from semcache_core.errors import (
    BackendError,
    DimensionMismatchError,
    DirectoryLockedError,
    InvalidArgumentError,
    InvalidValueError,
)
from semcache_core.persist.durable import (
    CHECKPOINT_FILE,
    CHECKPOINT_KIND,
    DurableBackend,
    open_journal,
    split_entry_id,
)
from semcache_core.persist.snapshot import read_snapshot

WRITER = Path(__file__).with_name("durable_writer.py")
# the writer imports the semcache_core under test (this checkout's), not an installed one
WRITER_ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(
        filter(None, [str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH")])
    ),
}
NAMESPACES = ("", "a", "b")
PROBE = vector_for(987_654_321)
MATCH_ALL = {"no_such_field": {"$ne": 0}}  # a missing field matches "!=": every entry
EMBEDDER = embedder()


# --- expected content --------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Expected:
    value: Any
    metadata: dict[str, Any]
    namespace: str
    vector: np.ndarray | None  # the unit vector the cache must hold


Model = dict[tuple[str, str], Expected]  # (namespace, key) -> what the entry must be


def apply_op(model: Model, op: dict[str, Any]) -> Model:
    """``model`` after one operation of the writer's ``crash`` workload (a new dict)."""
    model = dict(model)
    kind = op["op"]
    if kind in ("set", "put"):
        key, ver = op["key"], op["ver"]
        if kind == "set":
            value: Any = value_for(key, ver)
            vector = None if op["vec"] is None else unit(vector_for(op["vec"]))
        else:
            value = text_for(key, ver)
            vector = unit(EMBEDDER.embed_document(value))
        metadata = meta_for(key, ver) if op["meta"] else {}
        model[op["ns"], key] = Expected(value, metadata, op["ns"], vector)
    elif kind == "set_many":
        for key, ver, has_meta, seed in op["items"]:  # in order: a repeated key's last wins
            model[op["ns"], key] = Expected(
                value_for(key, ver),
                meta_for(key, ver) if op["meta"] and has_meta else {},
                op["ns"],
                unit(vector_for(seed)) if op["vectors"] and seed is not None else None,
            )
    elif kind == "del":
        model.pop((op["ns"], op["key"]), None)
    else:
        assert kind == "ckpt", kind
    return model


def written(i: int, offset: int = 0) -> tuple[tuple[str, str], Expected]:
    """Entry ``i`` of the writer's ``write`` mode (``["set", first, stop, offset]``), in
    the default namespace: ``(("", key), expected)``."""
    entry = entry_for(i, offset)
    key, ver = entry["key"], entry["ver"]
    return ("", key), Expected(
        value_for(key, ver),
        meta_for(key, ver) if entry["meta"] else {},
        "",
        unit(vector_for(entry["vec"])),
    )


def written_range(first: int, stop: int, offset: int = 0) -> Model:
    return dict(written(i, offset) for i in range(first, stop))


def set_written(cache: SemCache, first: int, stop: int, offset: int = 0) -> Model:
    """Store entries ``first..stop`` as the writer's ``write`` mode does; their model."""
    model = written_range(first, stop, offset)
    for (_, key), exp in model.items():
        cache.set(
            key,
            exp.value,
            vector=exp.vector,
            metadata=exp.metadata or None,
            namespace=exp.namespace,
        )
    return model


def differences(cache: SemCache, model: Model) -> list[str]:
    """Every way the cache's content differs from ``model`` (empty: identical)."""
    spaces = cache.namespaces()
    if spaces != sorted({ns for ns, _ in model}):
        return [f"namespaces differ: {spaces} != {sorted({ns for ns, _ in model})}"]
    entries = {(ns, key) for ns in spaces for key in cache.scan(namespace=ns)}
    if entries != set(model) or any(
        cache.scan(namespace=ns) != sorted(key for n, key in model if n == ns) for ns in spaces
    ):
        missing = sorted(set(model) - entries)
        extra = sorted(entries - set(model))
        return [f"keys differ: missing {missing[:8]} ({len(missing)}), extra {extra[:8]}"]
    problems = []
    if len(cache) != len(model):
        problems.append(f"len {len(cache)} != {len(model)}")
    for ns in spaces:
        want_count = sum(n == ns for n, _ in model)
        if cache.count(ns) != want_count:
            problems.append(f"count({ns!r}) {cache.count(ns)} != {want_count}")
    for (ns, key), exp in sorted(model.items()):
        entry = cache.get_entry(key, namespace=ns)
        got = None if entry is None else (entry.value, entry.metadata, entry.namespace)
        if (
            entry is None
            or type(entry.value) is not type(exp.value)
            or got != (exp.value, exp.metadata, exp.namespace)
            or entry.expires_at is not None
        ):
            problems.append(f"{(ns, key)}: got {got!r}, expected {exp!r}")
    for ns in NAMESPACES:
        want = {key for (n, key), exp in model.items() if exp.vector is not None and n == ns}
        index = cache.backend.index_for(ns)
        indexed = 0 if index is None else len(index)
        hits = cache.search(PROBE, k=KEY_POOL + 50, namespace=ns)
        found = [hit.key for hit in hits]
        if indexed != len(want) or sorted(found) != sorted(want):
            problems.append(
                f"namespace {ns!r}: {indexed} indexed, search found {len(found)}, "
                f"expected {len(want)}; missing {sorted(want - set(found))[:8]}, "
                f"extra {sorted(set(found) - want)[:8]}"
            )
    # each vector exactly as stored: a filter that every entry passes takes the exact path
    with_vectors = found_by_graph = 0
    for (ns, key), exp in sorted(model.items()):
        if exp.vector is None:
            continue
        with_vectors += 1
        hits = cache.search(exp.vector, k=1, namespace=ns, filters=MATCH_ALL, with_vectors=True)
        if (
            not hits
            or hits[0].key != key
            or hits[0].score < 0.9999
            or hits[0].vector is None
            or not np.allclose(hits[0].vector, exp.vector, atol=1e-6)
        ):
            top = None if not hits else (hits[0].key, hits[0].score)
            problems.append(f"{(ns, key)}: exact search by its own vector found {top}")
        hits = cache.search(exp.vector, k=1, namespace=ns)
        found_by_graph += bool(hits) and hits[0].key == key and hits[0].score >= 0.9999
    # unfiltered: exact for flat; HNSW under heavy churn may (rarely) strand a node, which
    # is recall, not durability, but a graph loaded wrong would miss nearly everything
    if cache.backend.settings()["index"] == "flat":
        wanted = with_vectors
    else:
        wanted = int(0.9 * with_vectors)
    if found_by_graph < wanted:
        problems.append(f"unfiltered search by own vector: {found_by_graph}/{with_vectors}")
    return problems


def assert_content(cache: SemCache, model: Model) -> None:
    problems = differences(cache, model)
    assert not problems, "\n".join(problems[:20])


def open_cache(path: Path, index: str = "flat", **options: Any) -> SemCache:
    return SemCache(path=path, index=index, hnsw_params=HNSW, embedder=embedder(), **options)


def journal_keys(path: Path) -> set[tuple[str, str]]:
    """``(namespace, key)`` of every entry with a record in the journal (read only while no
    cache has ``path`` open)."""
    journal = open_journal(path)
    try:
        return {
            split_entry_id(name[1:])
            for name in journal.iterkeys()
            if isinstance(name, str) and name[0] == "e"
        }
    finally:
        journal.close()


# --- the writer subprocess ---------------------------------------------------------------


class Writer:
    """``durable_writer.py MODE DIRECTORY OPTIONS`` with its stdout lines collected.

    ``kill_when(writer)`` is evaluated by the reading thread after each line; once true,
    that thread waits ``delay`` seconds and sends SIGKILL, so the kill lands as close as
    possible to the moment the line describes.
    """

    def __init__(
        self,
        mode: str,
        directory: Path,
        options: dict[str, Any] | None = None,
        kill_when: Callable[[Writer], bool] | None = None,
        delay: float = 0.0,
    ) -> None:
        self.lines: list[str] = []
        self.acks = 0
        self.killed = False
        self.eof = False
        self._kill_when = kill_when
        self._delay = delay
        self._cond = threading.Condition()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115  # closed by close()
        self.proc = subprocess.Popen(
            [sys.executable, str(WRITER), mode, str(directory), json.dumps(options or {})],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=WRITER_ENV,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            if not raw.endswith(b"\n"):
                continue  # cut by the kill mid-write: never a complete acknowledgement
            with self._cond:
                line = raw[:-1].decode()
                self.lines.append(line)
                self.acks += line == "ok"
                self._cond.notify_all()
            if not self.killed and self._kill_when is not None and self._kill_when(self):
                if self._delay:
                    time.sleep(self._delay)
                self.kill()
        with self._cond:
            self.eof = True
            self._cond.notify_all()

    def kill(self) -> None:
        """SIGKILL, unless the process was already reaped."""
        if self.proc.returncode is None and not self.killed:
            self.killed = True
            os.kill(self.proc.pid, signal.SIGKILL)

    def wait_for_line(self, text: str, timeout: float = 60.0) -> None:
        with self._cond:
            self._cond.wait_for(lambda: text in self.lines or self.eof, timeout)
        assert text in self.lines, f"the writer never printed {text!r}: {self.stderr()}"

    def finish(self, timeout: float = 60.0) -> int:
        """Wait for the process to end (killed or not); its return code."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.wait()
            pytest.fail(f"the writer did not end within {timeout} s: {self.stderr()}")
        self._reader.join(timeout)
        return code

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-3000:]

    def close(self) -> None:
        self.kill()
        self.proc.wait()
        self._reader.join()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self._stderr.close()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def run_writer(directory: Path, options: dict[str, Any], kill_after_done: bool = False) -> None:
    """Run ``write`` mode to its end: ``os._exit(0)`` without close, or SIGKILL after
    ``done`` (``options["exit"] == "hang"``)."""
    with Writer("write", directory, options) as writer:
        writer.wait_for_line("done")
        if kill_after_done:
            writer.kill()
        code = writer.finish()
        expected = -signal.SIGKILL if kill_after_done else 0
        assert code == expected, writer.stderr()


# --- 1. crash safety ---------------------------------------------------------------------

# Each phase runs the writer on the directory the previous phase's SIGKILL left behind
# (no clean close in between) and kills it at a moment picked by its scenario:
#   random    after a random number of acknowledgements, plus a random delay
#   set_many  just after a large set_many starts (usually mid-transaction)
#   ckpt      just after an explicit checkpoint() returns
#   open      just after the writer opened (recovered) the directory
#   startup   at a random moment of the start: importing, recovering or writing
# interval "default" is SemCache(path=...) (checkpoint every 60 s); None: only explicit
# checkpoints; 0.05: background checkpoints all the time. ckpt: the share of operations that
# are an explicit checkpoint() (0 with no background ones: recovery reads the journal).
CRASH_CASES = [
    (1, "flat", "default", 0.0, ("random",)),
    (2, "hnsw", None, 0.0, ("random",)),
    (3, "flat", 0.05, 0.05, ("random", "random")),
    (4, "hnsw", 0.05, 0.05, ("ckpt",)),
    (5, "flat", None, 0.0, ("set_many",)),
    (6, "hnsw", None, 0.05, ("set_many", "open")),
    (7, "flat", 0.05, 0.05, ("ckpt", "startup")),
    (8, "hnsw", 0.05, 0.0, ("random", "set_many")),
    (9, "flat", "default", 0.0, ("random", "open")),
    (10, "hnsw", "default", 0.0, ("set_many", "startup")),
    (11, "flat", 0.05, 0.05, ("set_many", "ckpt")),
    (12, "hnsw", "default", 0.05, ("ckpt", "random")),
    (13, "flat", 0.002, 0.0, ("random", "set_many")),  # checkpoints race the writes
    (14, "hnsw", 0.002, 0.0, ("set_many", "random")),
]


def _kill_plan(scenario: str, rng: random.Random) -> tuple[Callable[[Writer], bool], float]:
    if scenario == "random":
        acks = rng.randint(1, 400)
        return (lambda w: w.acks >= acks), rng.uniform(0.0, 0.015)
    if scenario == "set_many":
        acks = rng.randint(0, 30)
        return (
            lambda w: w.acks >= acks and w.lines[-1].startswith('try {"op":"set_many"')
        ), rng.uniform(0.0, 0.003)
    if scenario == "ckpt":
        acks = rng.randint(0, 60)
        return (
            lambda w: w.acks >= acks and w.lines[-1] == "ok" and w.lines[-2] == 'try {"op":"ckpt"}'
        ), rng.uniform(0.0, 0.002)
    assert scenario == "open", scenario
    return (lambda w: w.lines[-1].startswith("open ")), rng.uniform(0.0, 0.002)


def _crash_once(
    directory: Path, options: dict[str, Any], scenario: str, rng: random.Random
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Run the writer until SIGKILL; (acknowledged operations, the one in flight or None)."""
    if scenario == "startup":
        kill_when, delay = None, 0.0
    else:
        kill_when, delay = _kill_plan(scenario, rng)
    with Writer("crash", directory, options, kill_when, delay) as writer:
        if scenario == "startup":
            time.sleep(rng.uniform(0.15, 0.6))
            writer.kill()
        code = writer.finish()
        assert writer.killed and code == -signal.SIGKILL, (
            f"the writer ended by itself ({code}): {writer.stderr()}"
        )
        lines = list(writer.lines)
    acked: list[dict[str, Any]] = []
    pending = None
    for line in lines:
        if line.startswith("open "):
            assert line[5:] in ("checkpoint", "journal", "new"), line
        elif line.startswith("try "):
            pending = json.loads(line[4:])
        else:
            assert line == "ok" and pending is not None, line
            acked.append(pending)
            pending = None
    return acked, pending


@pytest.mark.parametrize(
    ("seed", "index", "interval", "ckpt", "scenarios"),
    CRASH_CASES,
    ids=[f"{s}-{i}-{iv}-{c}-{'+'.join(sc)}" for s, i, iv, c, sc in CRASH_CASES],
)
def test_acknowledged_writes_survive_sigkill(
    tmp_path: Path,
    seed: int,
    index: str,
    interval: Any,
    ckpt: float,
    scenarios: tuple[str, ...],
) -> None:
    rng = random.Random(seed)
    directory = tmp_path / "cache"
    # the possible contents: the acknowledged operations, each time with or without the
    # one operation in flight at the kill (committed whole or not at all)
    candidates: list[Model] = [{}]
    acked_total = 0
    for phase, scenario in enumerate(scenarios):
        options = {
            "seed": seed * 100 + phase,
            "index": index,
            "interval": interval,
            "first_ver": phase * 10**9,
            "big_batches": scenario == "set_many",
            "ckpt_rate": ckpt,
        }
        acked, pending = _crash_once(directory, options, scenario, rng)
        acked_total += len(acked)
        next_candidates = []
        for model in candidates:
            for op in acked:
                model = apply_op(model, op)
            next_candidates.append(model)
            if pending is not None and pending["op"] != "ckpt":
                next_candidates.append(apply_op(model, pending))
        candidates = next_candidates
    assert acked_total > 0

    had_checkpoint = (directory / CHECKPOINT_FILE).exists()
    cache = open_cache(directory, index)
    try:
        opened_from = cache.backend.opened_from
        if had_checkpoint:  # always this journal's and complete (written beside, renamed)
            assert opened_from == "checkpoint"
        elif all(candidates):
            assert opened_from == "journal"
        if index == "hnsw":  # the graph is loaded or built at open, never left for later
            for ns in NAMESPACES:
                built = cache.backend.index_for(ns)
                if built is not None and len(built):
                    assert built.kind == "hnsw", ns
        results = [differences(cache, model) for model in candidates]
        matching = [model for model, problems in zip(candidates, results) if not problems]
        assert matching, "no acceptable content matches:\n" + "\n---\n".join(
            "\n".join(problems[:12]) for problems in results
        )
        model = matching[0]
    finally:
        cache.close()

    cache = open_cache(directory, index)  # the recovery's own checkpoint must be good
    try:
        assert cache.backend.opened_from == "checkpoint"
        assert_content(cache, model)
    finally:
        cache.close()


# --- 2. reopen paths ---------------------------------------------------------------------


def populate(cache: SemCache) -> Model:
    """Mixed content: vectors in two namespaces, entries without one, metadata, deletes."""
    model = set_written(cache, 0, 60)
    for i in range(60, 75):
        key = f"a{i}"
        exp = Expected(value_for(key, i), meta_for(key, i), "a", unit(vector_for(20_000 + i)))
        cache.set(key, exp.value, vector=exp.vector, metadata=exp.metadata, namespace="a")
        model["a", key] = exp
    for i in range(75, 85):
        key = f"plain{i}"
        model["", key] = Expected(value_for(key, i), {}, "", None)
        cache.set(key, model["", key].value)
    for ns, key in (("", "w3"), ("", "w17"), ("a", "a61"), ("", "plain80")):
        assert not cache.delete(key, namespace="b" if ns else "a")  # only its namespace's
        assert cache.delete(key, namespace=ns)
        del model[ns, key]
    return model


QUERIES = [vector_for(30_000 + i) for i in range(6)]


def search_results(cache: SemCache) -> dict[str, list[list[tuple[str, float]]]]:
    return {
        ns: [[(hit.key, hit.score) for hit in cache.search(q, k=8, namespace=ns)] for q in QUERIES]
        for ns in ("", "a")
    }


def assert_same_results(got: dict[str, Any], expected: dict[str, Any]) -> None:
    for ns, per_query in expected.items():
        for hits, want in zip(got[ns], per_query, strict=True):
            assert [key for key, _ in hits] == [key for key, _ in want], ns
            assert [s for _, s in hits] == pytest.approx([s for _, s in want], abs=1e-6), ns


@pytest.mark.parametrize("index", ["flat", "hnsw"])
def test_reopen_after_close_loads_the_checkpoint(tmp_path: Path, index: str) -> None:
    directory = tmp_path / "cache"
    with open_cache(directory, index) as cache:
        assert cache.backend.opened_from == "new"
        model = populate(cache)
        before = search_results(cache)
    with open_cache(directory, index) as cache:
        assert cache.backend.opened_from == "checkpoint"
        # right after open, before any search: a loaded graph, not one left to build
        assert cache.backend.index_for("").kind == index
        assert cache.backend.index_for("a").kind == index
        assert_same_results(search_results(cache), before)
        assert_content(cache, model)


def test_hnsw_graph_stays_consistent_through_reopen_and_churn(tmp_path: Path) -> None:
    """Slots of deleted vectors stay in a saved graph; new vectors after a reopen must not
    take their labels (that corrupts hnswlib's label map: 'Label not found' on delete)."""
    directory = tmp_path / "cache"
    with open_cache(directory, "hnsw") as cache:
        model = set_written(cache, 0, 10)
        for i in range(5, 10):  # the newest labels: deleted, still slots of the graph
            cache.delete(f"w{i}")
            del model["", f"w{i}"]
    with open_cache(directory, "hnsw") as cache:
        assert cache.backend.opened_from == "checkpoint"
        model.update(set_written(cache, 10, 20))
        for i in range(10, 15):
            assert cache.delete(f"w{i}")
            del model["", f"w{i}"]
        model.update(set_written(cache, 0, 3, offset=100))  # overwrites move vectors
        assert_content(cache, model)
    with open_cache(directory, "hnsw") as cache:
        assert_content(cache, model)


@pytest.mark.parametrize(
    ("index", "kill"), [("flat", False), ("hnsw", True)], ids=["flat-os_exit", "hnsw-sigkill"]
)
def test_crash_after_a_checkpoint_replays_the_logged_changes(
    tmp_path: Path, index: str, kill: bool
) -> None:
    directory = tmp_path / "cache"
    steps = [
        ["set", 0, 40],
        ["ckpt"],
        ["set", 0, 5, 1000],  # overwrites
        ["set", 40, 50],
        ["del", "w7"],
        ["del", "w45"],
    ]
    options = {"index": index, "interval": None, "steps": steps}
    run_writer(directory, {**options, "exit": "hang" if kill else "os_exit"}, kill)
    model = {**written_range(0, 40), **written_range(0, 5, 1000), **written_range(40, 50)}
    del model["", "w7"], model["", "w45"]
    state, _ = read_snapshot(directory / CHECKPOINT_FILE, CHECKPOINT_KIND)
    # the rest is only logged
    assert sorted(zip(state.namespaces, state.keys)) == sorted(written_range(0, 40))
    for _ in range(2):
        with open_cache(directory, index) as cache:
            assert cache.backend.opened_from == "checkpoint"
            assert_content(cache, model)


def test_crash_before_any_checkpoint_reads_the_journal(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    steps = [["set", 0, 30], ["del", "w4"], ["set", 10, 12, 500]]
    run_writer(directory, {"interval": None, "steps": steps})
    assert not (directory / CHECKPOINT_FILE).exists()
    model = {**written_range(0, 30), **written_range(10, 12, 500)}
    del model["", "w4"]
    with open_cache(directory) as cache:
        assert cache.backend.opened_from == "journal"
        assert_content(cache, model)
    assert (directory / CHECKPOINT_FILE).exists()
    with open_cache(directory) as cache:
        assert cache.backend.opened_from == "checkpoint"
        assert_content(cache, model)


def _flip_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["deleted", "corrupted", "truncated", "foreign"])
def test_unusable_checkpoint_falls_back_to_the_journal(tmp_path: Path, damage: str) -> None:
    directory = tmp_path / "cache"
    with open_cache(directory, "hnsw") as cache:
        model = populate(cache)
    checkpoint = directory / CHECKPOINT_FILE
    if damage == "deleted":
        checkpoint.unlink()
    elif damage == "corrupted":
        _flip_bytes(checkpoint)
    elif damage == "truncated":
        checkpoint.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    else:  # a valid checkpoint of another directory (another journal)
        with open_cache(tmp_path / "other", "hnsw") as other:
            set_written(other, 0, 70, offset=7)
        shutil.copyfile(tmp_path / "other" / CHECKPOINT_FILE, checkpoint)
    with open_cache(directory, "hnsw") as cache:
        assert cache.backend.opened_from == "journal"
        assert_content(cache, model)
    with open_cache(directory, "hnsw") as cache:  # and again: the journal is not consumed
        assert cache.backend.opened_from in ("journal", "checkpoint")
        assert_content(cache, model)


@pytest.mark.parametrize("damage", ["deleted", "corrupted", "foreign"])
def test_recovery_replaces_an_unusable_checkpoint(tmp_path: Path, damage: str) -> None:
    """durable.py: "Without a usable checkpoint (...) every record is read and the index
    rebuilt, then a checkpoint is written" -- so the next open is fast again."""
    directory = tmp_path / "cache"
    with open_cache(directory) as cache:
        model = populate(cache)
    checkpoint = directory / CHECKPOINT_FILE
    if damage == "deleted":
        checkpoint.unlink()
    elif damage == "corrupted":
        _flip_bytes(checkpoint)
    else:
        with open_cache(tmp_path / "other") as other:
            set_written(other, 0, 3)
        shutil.copyfile(tmp_path / "other" / CHECKPOINT_FILE, checkpoint)
    with open_cache(directory) as cache:
        assert cache.backend.opened_from == "journal"
    with open_cache(directory) as cache:
        assert cache.backend.opened_from == "checkpoint"
        assert_content(cache, model)


# --- 3. one process per directory --------------------------------------------------------


def try_open_elsewhere(directory: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(WRITER), "try_open", str(directory)],
        capture_output=True,
        timeout=60,
        check=False,
        env=WRITER_ENV,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return json.loads(done.stdout.decode().splitlines()[-1])


def test_second_open_in_the_same_process_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    with open_cache(directory) as holder:
        model = set_written(holder, 0, 3)
        with pytest.raises(DirectoryLockedError) as info:
            SemCache(path=directory)
        assert str(directory) in str(info.value)
        assert f"process {os.getpid()}" in str(info.value)
        assert "RedisBackend" in str(info.value)  # where to go to share one cache
        with pytest.raises(DirectoryLockedError):
            DurableBackend(directory, checkpoint_interval=None)
        # the refused opens took nothing from the holder
        model.update(set_written(holder, 3, 5))
        assert_content(holder, model)
    with open_cache(directory) as again:
        assert_content(again, model)


def test_second_open_in_another_process_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    with open_cache(directory) as holder:
        model = set_written(holder, 0, 3)
        refused = try_open_elsewhere(directory)
        assert refused.get("error") == "DirectoryLockedError", refused
        assert str(directory) in refused["message"]
        assert f"process {os.getpid()}" in refused["message"]
        assert_content(holder, model)
    assert try_open_elsewhere(directory) == {"opened": True}
    with open_cache(directory) as again:
        assert_content(again, model)


def test_directory_opens_after_its_holder_is_killed(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    options = {"interval": None, "steps": [["set", 0, 10]], "exit": "hang"}
    with Writer("write", directory, options) as holder:
        holder.wait_for_line("done")
        with pytest.raises(DirectoryLockedError) as info:
            SemCache(path=directory)
        assert str(directory) in str(info.value)
        assert f"process {holder.proc.pid}" in str(info.value)
        holder.kill()
        assert holder.finish() == -signal.SIGKILL
    with open_cache(directory) as cache:  # the kernel dropped the dead holder's flock
        assert cache.backend.opened_from == "journal"
        assert_content(cache, written_range(0, 10))


# --- 4. TTL and LRU ----------------------------------------------------------------------

T0 = 1_000_000.0  # FakeClock's start


def test_expired_entries_leave_the_journal(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    clock = FakeClock(T0)
    with open_cache(directory, clock=clock) as cache:
        cache.set("short", "s", vector=vector_for(1), ttl=10)
        cache.set("short_plain", "sp", ttl=10, namespace="a")
        cache.set("long", "l", vector=vector_for(2), ttl=1000)
        cache.set("forever", "f", vector=vector_for(3))
        cache.set("lapses_open", "x", vector=vector_for(4), ttl=5)
        clock.advance(6)
        assert cache.get("lapses_open") is None  # expired while open: leaves the journal now
    assert journal_keys(directory) == {
        ("", "short"),
        ("a", "short_plain"),
        ("", "long"),
        ("", "forever"),
    }
    clock.advance(50)  # the short ones expire while the directory is closed
    with open_cache(directory, clock=clock) as cache:
        assert cache.namespaces() == [""]  # "a" held only short_plain: gone with it
        assert cache.scan() == ["forever", "long"]
        assert len(cache) == 2
        entry = cache.get_entry("long")
        assert entry is not None and entry.expires_at == T0 + 1000
        assert {hit.key for hit in cache.search(vector_for(1), k=5)} == {"forever", "long"}
    assert journal_keys(directory) == {("", "forever"), ("", "long")}
    # a clock from before the expiry cannot bring them back: their records are gone
    early = FakeClock(T0)
    for source in ("checkpoint", "journal"):
        if source == "journal":
            (directory / CHECKPOINT_FILE).unlink()
        with open_cache(directory, clock=early) as cache:
            assert cache.backend.opened_from == source
            assert cache.namespaces() == [""]
            assert cache.scan() == ["forever", "long"]


def test_lru_evictions_are_not_resurrected(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    with open_cache(directory, max_entries=3) as cache:
        cache.set("a", 1, vector=vector_for(1))
        cache.set("b", 2, vector=vector_for(2))
        cache.set("c", 3, vector=vector_for(3))
        assert cache.get("a") == 1  # b is the least recently used now
        cache.set("d", 4, vector=vector_for(4))
        assert cache.scan() == ["a", "c", "d"]
    assert journal_keys(directory) == {("", "a"), ("", "c"), ("", "d")}
    with open_cache(directory, max_entries=3) as cache:
        assert cache.backend.opened_from == "checkpoint"
        assert cache.scan() == ["a", "c", "d"]
        cache.set("e", 5)  # the checkpoint kept the recency order: c goes
        assert cache.scan() == ["a", "d", "e"]
    (directory / CHECKPOINT_FILE).unlink()
    with open_cache(directory) as cache:  # unbounded, from the journal alone
        assert cache.backend.opened_from == "journal"
        assert cache.scan() == ["a", "d", "e"]
        assert [hit.key for hit in cache.search(vector_for(2), k=5)] != []
        assert {hit.key for hit in cache.search(vector_for(2), k=5)} == {"a", "d"}


def test_lru_eviction_is_durable_when_acknowledged(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    options = {"interval": None, "max_entries": 4, "steps": [["set", 0, 10]], "exit": "hang"}
    run_writer(directory, options, kill_after_done=True)
    with open_cache(directory) as cache:  # unbounded: only the journal decides
        assert_content(cache, written_range(6, 10))


# --- 5. clear ----------------------------------------------------------------------------


def test_clear_is_durable(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    with open_cache(directory) as cache:
        populate(cache)
    with open_cache(directory) as cache:
        cache.clear()
        assert len(cache) == 0
        assert cache.namespaces() == []
        assert cache.scan() == [] and cache.scan(namespace="a") == []
        assert cache.search(PROBE, k=5) == []
        assert cache.search(PROBE, k=5, namespace="a") == []
        model = set_written(cache, 200, 205)
    assert journal_keys(directory) == set(model)
    with open_cache(directory) as cache:
        assert cache.backend.opened_from == "checkpoint"
        assert_content(cache, model)
    (directory / CHECKPOINT_FILE).unlink()
    with open_cache(directory) as cache:
        assert cache.backend.opened_from == "journal"
        assert_content(cache, model)


@pytest.mark.parametrize("after", ["nothing", "writes"])
def test_clear_survives_sigkill(tmp_path: Path, after: str) -> None:
    directory = tmp_path / "cache"
    steps = [["set", 0, 30], ["ckpt"], ["set", 30, 40], ["del", "w2"], ["clear"]]
    if after == "writes":
        steps.append(["set", 100, 103])
    run_writer(directory, {"interval": None, "steps": steps, "exit": "hang"}, True)
    model = written_range(100, 103) if after == "writes" else {}
    with open_cache(directory) as cache:
        assert cache.backend.opened_from == ("journal" if model else "new")
        assert_content(cache, model)
        # closing an empty cache is test_a_cache_without_vectors_closes_and_reopens's topic
        model.update(set_written(cache, 300, 301))
    with open_cache(directory) as cache:
        assert cache.backend.opened_from == "checkpoint"
        assert_content(cache, model)


def test_a_cache_without_vectors_closes_and_reopens(tmp_path: Path) -> None:
    """An empty cache, and one whose entries have no vector (no dimension yet), must close
    (checkpoint) and reopen like any other."""
    directory = tmp_path / "cache"
    SemCache(path=directory).close()
    with SemCache(path=directory) as cache:
        assert cache.backend.opened_from == "checkpoint"
        assert len(cache) == 0
        cache.set("plain", {"no": "vector"})
    with SemCache(path=directory) as cache:
        assert cache.get("plain") == {"no": "vector"}


def test_a_crashed_cache_without_vectors_reopens(tmp_path: Path) -> None:
    """Acknowledged entries without vectors, then a crash: the recovery's own checkpoint
    must not make the directory impossible to open."""
    directory = tmp_path / "cache"
    run_writer(directory, {"interval": None, "steps": [["plain", 0, 5]]})
    with SemCache(path=directory) as cache:
        assert cache.backend.opened_from == "journal"
        assert cache.scan() == [f"p{i}" for i in range(5)]
        assert [cache.get(f"p{i}") for i in range(5)] == list(range(5))


# --- 6. dump / load ----------------------------------------------------------------------


@pytest.mark.parametrize("index", ["flat", "hnsw"])
def test_load_into_a_durable_cache_is_journaled(tmp_path: Path, index: str) -> None:
    source = SemCache(index=index, hnsw_params=HNSW, embedder=embedder())
    model = populate(source)
    snapshot = tmp_path / "snap.semcache"
    source.dump(snapshot)
    directory = tmp_path / "cache"
    with open_cache(directory, index) as cache:
        set_written(cache, 500, 520)  # replaced by the load
        cache.set("old", 1)
        cache.load(snapshot)
        assert_content(cache, model)
    assert journal_keys(directory) == set(model)
    (directory / CHECKPOINT_FILE).unlink()  # the journal alone must hold the loaded content
    with open_cache(directory, index) as cache:
        assert cache.backend.opened_from == "journal"
        assert_content(cache, model)


@pytest.mark.parametrize("index", ["flat", "hnsw"])
def test_dump_of_a_durable_cache_loads_identically(tmp_path: Path, index: str) -> None:
    snapshot = tmp_path / "snap.semcache"
    with open_cache(tmp_path / "cache", index) as cache:
        model = populate(cache)
        before = search_results(cache)
        cache.dump(snapshot)
    memory = SemCache(index=index, hnsw_params=HNSW, embedder=embedder())
    memory.load(snapshot)
    assert_content(memory, model)
    assert_same_results(search_results(memory), before)


# --- 7. bad input ------------------------------------------------------------------------


def test_rejected_writes_never_reach_the_journal(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    with open_cache(directory) as cache:
        model = set_written(cache, 0, 5)
        with pytest.raises(DimensionMismatchError):
            cache.set("bad", 1, vector=np.ones(DIM + 1, dtype=np.float32))
        with pytest.raises(DimensionMismatchError):
            cache.set_many(
                [("m1", 1), ("w0", 2)], vectors=[vector_for(1), np.ones(DIM - 1, np.float32)]
            )
        with pytest.raises(InvalidValueError):
            cache.set("w1", object())  # an existing key keeps its value
        with pytest.raises(InvalidValueError):
            cache.set_many({"m2": 2, "w2": object()})
        assert_content(cache, model)
    assert journal_keys(directory) == set(model)
    with open_cache(directory) as cache:
        assert_content(cache, model)


def test_mixed_dimensions_in_one_batch_never_reach_the_journal(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    with open_cache(directory) as cache:  # no dimension yet: the batch fixes none
        with pytest.raises(DimensionMismatchError):
            cache.set_many(
                [("m1", 1), ("m2", 2)],
                vectors=[vector_for(1), np.ones(DIM + 3, dtype=np.float32)],
            )
        assert cache.scan() == []
        model = set_written(cache, 0, 2)
    assert journal_keys(directory) == set(model)
    with open_cache(directory) as cache:
        assert_content(cache, model)


@pytest.mark.parametrize("interval", [0, -1, "x", True, float("nan"), float("inf"), [1]])
def test_checkpoint_interval_must_be_positive_seconds(tmp_path: Path, interval: Any) -> None:
    directory = tmp_path / "cache"
    with pytest.raises(InvalidArgumentError, match="checkpoint_interval"):
        DurableBackend(directory, checkpoint_interval=interval)
    with SemCache(backend=DurableBackend(directory, checkpoint_interval=None)) as cache:
        cache.set("a", 1, vector=vector_for(1))  # nothing was left locked


def test_path_and_backend_are_exclusive(tmp_path: Path) -> None:
    backend = DurableBackend(tmp_path / "mine", checkpoint_interval=None)
    try:
        with pytest.raises(InvalidArgumentError):
            SemCache(path=tmp_path / "other", backend=backend)
        with pytest.raises(InvalidArgumentError):
            SemCache(path=tmp_path / "mine", backend=backend)
        assert not (tmp_path / "other").exists()
        cache = SemCache(backend=backend)  # the backend is untouched and usable
        cache.set("a", 1, vector=vector_for(1))
        assert cache.get("a") == 1
    finally:
        backend.close()


def test_reopen_with_another_dim_is_refused_and_releases_the_directory(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    with open_cache(directory) as cache:
        model = set_written(cache, 0, 5)
    with pytest.raises(DimensionMismatchError):
        open_cache(directory, dim=DIM + 2)
    with open_cache(directory, dim=DIM) as cache:
        assert cache.dim == DIM
        assert_content(cache, model)


# --- 8. after close ----------------------------------------------------------------------


def test_writes_after_close_raise_backend_error(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    snapshot = tmp_path / "snap.semcache"
    cache = open_cache(directory)
    model = set_written(cache, 0, 3)
    cache.dump(snapshot)
    cache.close()
    writes: list[Callable[[], Any]] = [
        lambda: cache.set("x", 1),
        lambda: cache.set("w0", 1, vector=vector_for(1)),
        lambda: cache.set_many({"x": 1, "y": 2}),
        lambda: cache.put("x", "some text"),
        lambda: cache.delete("w0"),
        cache.clear,
        lambda: cache.load(snapshot),
    ]
    for write in writes:
        with pytest.raises(BackendError):
            write()
    cache.close()  # a second close is harmless
    with open_cache(directory) as again:
        assert_content(again, model)


# --- 9. background checkpoints -----------------------------------------------------------


def _checkpoint_keys(directory: Path) -> set[tuple[str, str]] | None:
    """``(namespace, key)`` of every entry in the checkpoint; None without one."""
    try:
        state, _ = read_snapshot(directory / CHECKPOINT_FILE, CHECKPOINT_KIND)
    except FileNotFoundError:
        return None
    return set(zip(state.namespaces, state.keys))


def test_background_checkpoints_follow_the_writes(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    backend = DurableBackend(directory, index="flat", checkpoint_interval=0.05)
    cache = SemCache(backend=backend)
    try:
        model: Model = {}
        for first, stop in ((0, 20), (20, 25)):
            model.update(set_written(cache, first, stop))
            deadline = time.monotonic() + 10
            while _checkpoint_keys(directory) != set(model) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert _checkpoint_keys(directory) == set(model)
        assert getattr(backend, "last_checkpoint_error", None) is None
    finally:
        cache.close()


def test_background_checkpoint_serves_the_reopen_after_a_crash(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    steps = [["set", 0, 30], ["sleep", 0.5], ["set", 30, 33], ["del", "w1"]]
    run_writer(directory, {"interval": 0.05, "steps": steps})  # os._exit: no close
    assert _checkpoint_keys(directory) is not None
    model = written_range(0, 33)
    del model["", "w1"]
    with open_cache(directory) as cache:
        assert cache.backend.opened_from == "checkpoint"
        assert_content(cache, model)
