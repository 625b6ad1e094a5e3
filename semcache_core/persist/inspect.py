"""What a snapshot file or a durable directory holds, checked (``semcache inspect``).

A file is checked as a load checks it: checksums first, then the whole content is decoded
and its tables built aside (entries, vectors, labels, every HNSW graph bounds-checked), as
:meth:`~semcache_core.SemCache.load` does before it changes anything; nothing is kept.

Example::

    >>> report = inspect_path("faq.semcache")
    >>> report.entries, report.dim, report.damaged
    (1200, 384, [])
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import diskcache
import msgpack
from diskcache.core import DBNAME

from ..backends.base import EntryWrite
from ..backends.local import LocalBackend
from ..checks import check_path
from ..errors import SemCacheError, SnapshotError, shown
from .container import FORMAT_VERSION, open_container
from .durable import CHECKPOINT_FILE, CHECKPOINT_KIND
from .journal import (
    ENTRY_PREFIX,
    EPOCH_KEY,
    JOURNAL_DIR,
    check_format,
    damaged_journal,
    open_journal,
    read_epoch,
    read_journal_id,
    read_log,
    read_row,
    split_entry_id,
    write_from,
)
from .snapshot import SNAPSHOT_KIND, read_snapshot, settings_from_meta

__all__ = ["StoreReport", "describe_size", "inspect_path"]


@dataclass
class StoreReport:
    """A description of a snapshot or durable directory; ``damaged`` lists what failed."""

    path: str
    kind: str  # "snapshot", "checkpoint" or "durable directory"
    size_bytes: int
    entries: int = 0
    vectors: int = 0
    dim: int | None = None  # the one dimension of every namespace, when they share one
    dims: dict[str, int] = field(default_factory=dict)  # namespace -> dimension
    index: str | None = None
    namespaces: dict[str, int] = field(default_factory=dict)  # name -> entries
    graphs: list[str] = field(default_factory=list)  # namespaces with a saved HNSW graph
    expiry_range: tuple[float, float] | None = None  # oldest, newest (epoch seconds)
    format_version: int | None = None
    created_at: float | None = None
    damaged: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.damaged


def inspect_path(path: str | os.PathLike[str]) -> StoreReport:
    """Describe and verify a snapshot file or a durable cache directory.

    A durable directory is read without taking its lock, so it can be inspected while a
    cache has it open.

    Raises:
        FileNotFoundError: nothing at ``path``.
        SnapshotError: a file that is not a semcache snapshot at all.
    """
    target = check_path(path)
    if target.is_dir():
        return _inspect_directory(target)
    return _inspect_file(target)


def _inspect_file(path: Path, standalone: bool = True) -> StoreReport:
    """Describe and verify a snapshot or checkpoint file; ``standalone``: the file itself
    was named (a checkpoint is then reported as not loadable on its own)."""
    with open_container(path) as container:
        if container.kind not in (SNAPSHOT_KIND, CHECKPOINT_KIND):
            raise SnapshotError(
                f"{path} is a {shown(container.kind)} container, not a semcache snapshot or "
                "checkpoint"
            )
        try:
            report = _described(path, container)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            # checksums hold, but the metadata is not what semcache writes
            raise SnapshotError(f"{path} has metadata semcache never writes: {exc!r}") from exc
    if standalone and report.kind == CHECKPOINT_KIND:
        report.damaged.append(
            "not loadable on its own: it is a durable directory's checkpoint, which "
            "SemCache.load and SemCache.from_snapshot refuse; open its directory "
            f"(SemCache(path={str(path.parent)!r})) to load it"
        )
    return report


def _described(path: Path, container: Any) -> StoreReport:
    """:func:`_inspect_file`'s report of an open snapshot or checkpoint container."""
    meta = container.meta
    spaces = [s if len(s) == 4 else [*s, meta.get("dim")] for s in meta.get("spaces", [])]
    report = StoreReport(
        str(path),
        container.kind,
        container.file_size,
        entries=meta.get("entries", 0),
        vectors=meta.get("vectors", 0),
        index=meta.get("index"),
        dims={name: dim for name, _, _, dim in spaces},
        graphs=[name for name, _, has_graph, _ in spaces if has_graph],
        format_version=FORMAT_VERSION,
        created_at=container.created_at,
    )
    report.dim = meta.get("dim") or _shared(report.dims)
    expiry = meta.get("expiry_range")
    report.expiry_range = None if expiry is None else (expiry[0], expiry[1])
    report.damaged = container.verify()
    if "entries" not in report.damaged:
        columns = msgpack.unpackb(container.section("entries"), raw=False)
        names = columns["namespaces"]
        report.namespaces = dict(Counter(names[i] for i in columns["namespace"]))
    if not report.damaged:
        problem = _load_problem(path, report.kind)
        if problem is not None:
            report.damaged.append(f"cannot be loaded: {problem}")
    return report


def _load_problem(path: Path, kind: str) -> str | None:
    """Why a load of ``path`` would fail, or None: the load's own checks, run aside."""
    try:
        state, meta = read_snapshot(path, kind)
        if kind == SNAPSHOT_KIND:
            settings_from_meta(path, meta)
        # "auto" adopts and checks every saved graph; a huge threshold builds none
        LocalBackend(index="auto", hnsw_threshold=2**62).prepare_restore(state, -float("inf"))
    except (SnapshotError, ValueError) as exc:
        return str(exc)
    return None


def _inspect_directory(path: Path) -> StoreReport:
    journal_dir = path / JOURNAL_DIR
    if not journal_dir.is_dir():
        raise SnapshotError(f"{path} is a directory but not a durable semcache directory")
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    report = StoreReport(str(path), "durable directory", size)
    namespaces: Counter[str] = Counter()
    expiries: list[float] = []
    try:
        _read_journal(path, report, namespaces, expiries)
    except (sqlite3.DatabaseError, UnicodeDecodeError, SemCacheError) as exc:
        # what the open raises too (a damaged journal, another format, a refused row)
        report.damaged.append(f"journal: {exc}")
    report.dim = _shared(report.dims)
    report.entries = sum(namespaces.values())
    report.namespaces = dict(namespaces)
    report.expiry_range = (min(expiries), max(expiries)) if expiries else None
    _describe_checkpoint(path / CHECKPOINT_FILE, report)
    return report


def _read_journal(
    path: Path, report: StoreReport, namespaces: Counter[str], expiries: list[float]
) -> None:
    """Run the open's checks of the journal aside, counting its records into ``report``,
    ``namespaces`` and ``expiries``: SQLite's own check of the database, the format and
    epoch rows, the change log, and every record turned into its write and stored in a
    view of its own, as the open stores it (each record the open would refuse is named
    in ``report.damaged``).

    Raises:
        sqlite3.DatabaseError, UnicodeDecodeError, SemCacheError: what the open raises.
    """
    journal = open_journal(path)
    try:
        _check_database(path)
        epoch = read_epoch(path, journal)
        check_format(path, journal)
        read_journal_id(path, journal)
        _check_writable(journal, epoch)
        _check_log(path, journal)
        view = LocalBackend(index="flat")
        now = time.time()
        live: list[EntryWrite] = []
        for name in _entry_names(path, journal):
            write = _write_of(path, journal, name, report)
            if write is None:
                continue
            namespaces[write.namespace] += 1
            if write.vector is not None:
                report.vectors += 1
                report.dims[write.namespace] = len(write.vector)
            if write.expires_at is not None:
                expiries.append(write.expires_at)
                if write.expires_at <= now:
                    continue  # the open drops it
            live.append(write)
        view.set_many(live, now)  # what the open's view refuses (vectors that disagree)
        view.close()
    finally:
        journal.close()


def _check_log(path: Path, journal: diskcache.Cache) -> None:
    """Read the change log as the open reads it: the open replays logged entries by id.

    Raises:
        SnapshotError: a log row that names no entry (a damaged journal).
        UnsafeRecordError: a log row semcache never writes.
    """
    for name, _ in read_log(path, journal):
        try:
            split_entry_id(name)
        except ValueError as exc:
            raise damaged_journal(path, exc) from exc


class _RolledBack(Exception):
    """Ends :func:`_check_writable`'s transaction, undoing its write."""


def _check_writable(journal: diskcache.Cache, epoch: int) -> None:
    """Write what an open's checkpoint writes (the epoch row), in a transaction rolled
    back: a damaged schema or trigger fails only when SQLite writes.

    Raises:
        sqlite3.DatabaseError, UnicodeDecodeError: SQLite cannot write the journal.
    """
    try:
        with journal.transact():
            journal.set(EPOCH_KEY, epoch)
            raise _RolledBack
    except _RolledBack:
        pass


def _check_database(path: Path) -> None:
    """SQLite's ``integrity_check`` of the journal database (every page and index).

    Raises:
        sqlite3.DatabaseError: SQLite finds the database damaged.
    """
    connection = sqlite3.connect(str(path / JOURNAL_DIR / DBNAME), timeout=60)
    connection.text_factory = lambda raw: raw.decode("utf-8", "replace")
    try:
        problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    finally:
        connection.close()
    if problems != ["ok"]:
        raise sqlite3.DatabaseError(f"SQLite finds the database damaged: {problems[:3]}")


def _entry_names(path: Path, journal: diskcache.Cache) -> list[str]:
    """The entry id of every record (by rowid: iterkeys() is quadratic, see
    ``DurableBackend._keys``)."""
    return [
        key[len(ENTRY_PREFIX) :]
        for key in read_row(path, "a key", list, iter(journal))
        if isinstance(key, str) and key.startswith(ENTRY_PREFIX)
    ]


def _write_of(
    path: Path, journal: diskcache.Cache, name: str, report: StoreReport
) -> EntryWrite | None:
    """The write the open makes of entry ``name``'s record (:func:`write_from`), or None:
    deleted while we read, or refused (then named in ``report.damaged``)."""
    record = read_row(path, f"record of entry {shown(name)}", journal.get, ENTRY_PREFIX + name)
    if record is None:
        return None
    try:
        return write_from(name, record)
    except ValueError:
        report.damaged.append(f"journal record {_entry_name(ENTRY_PREFIX + name)}")
        return None


def _entry_name(record_key: str) -> str:
    """A journal record's entry, as ``'key' of namespace 'name'`` when its id reads."""
    entry = record_key[len(ENTRY_PREFIX) :]
    try:
        namespace, key = split_entry_id(entry)
    except ValueError:
        return repr(entry)
    return f"{shown(key)} of namespace {shown(namespace)}"


def _shared(dims: dict[str, int]) -> int | None:
    distinct = set(dims.values())
    return distinct.pop() if len(distinct) == 1 else None


def _describe_checkpoint(path: Path, report: StoreReport) -> None:
    if not path.exists():
        report.notes.append("no checkpoint yet: the next open re-reads the journal")
        return
    try:
        checkpoint = _inspect_file(path, standalone=False)
    except SnapshotError as exc:
        report.damaged.append(f"checkpoint ({exc})")
        return
    report.damaged.extend(f"checkpoint section {name!r}" for name in checkpoint.damaged)
    report.index = checkpoint.index
    report.graphs = checkpoint.graphs
    report.format_version = checkpoint.format_version
    report.created_at = checkpoint.created_at
    report.notes.append(
        f"checkpoint: {checkpoint.entries} entries, {describe_size(checkpoint.size_bytes)}; "
        "changes since it are replayed from the journal on open"
    )


def describe_size(size: int) -> str:
    """``size`` bytes in decimal units: ``"109.2 MB"``."""
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1000:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"
