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
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from ..backends.local import LocalBackend
from ..checks import check_path
from ..errors import SnapshotError, shown
from .container import FORMAT_VERSION, open_container
from .durable import (
    CHECKPOINT_FILE,
    CHECKPOINT_KIND,
    ENTRY_PREFIX,
    JOURNAL_DIR,
    open_journal,
    split_entry_id,
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


def _inspect_file(path: Path) -> StoreReport:
    with open_container(path) as container:
        if container.kind not in (SNAPSHOT_KIND, CHECKPOINT_KIND):
            raise SnapshotError(
                f"{path} is a {shown(container.kind)} container, not a semcache snapshot or "
                "checkpoint"
            )
        try:
            return _described(path, container)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            # checksums hold, but the metadata is not what semcache writes
            raise SnapshotError(f"{path} has metadata semcache never writes: {exc!r}") from exc


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
    except sqlite3.DatabaseError as exc:
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
    """Count the journal's records into ``report``, ``namespaces`` and ``expiries``."""
    journal = open_journal(path)
    try:
        for key in iter(journal):  # by rowid: iterkeys() is quadratic (see durable._keys)
            if not (isinstance(key, str) and key.startswith(ENTRY_PREFIX)):
                continue
            record = journal.get(key)
            if record is None:
                continue  # deleted while we read
            try:
                _, _, namespace, expires_at, vector = msgpack.unpackb(record, raw=False)
            except Exception:
                report.damaged.append(f"journal record {_entry_name(key)}")
                continue
            namespaces[namespace] += 1
            if vector is not None:
                report.vectors += 1
                report.dims[namespace] = len(vector) // 4
            if expires_at is not None:
                expiries.append(expires_at)
    finally:
        journal.close()


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
        checkpoint = _inspect_file(path)
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
