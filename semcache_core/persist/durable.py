"""Durable mode: every acknowledged write survives ``kill -9``; reopening is fast.

A durable cache is a directory::

    journal/             diskcache (SQLite in WAL mode): the source of truth
      "e" + entry id       one record per live entry: value, metadata, namespace,
                           expiry, vector (msgpack); the entry id is
                           "<len(namespace)>:<namespace><key>" (see :func:`entry_id`)
      "c-<n>"              change log: the entry id each write touched, tagged with the epoch
      "m:epoch", "m:id"    current epoch; random id that ties checkpoints to this journal
      "m:format"           the journal's layout version (2: entries keyed by namespace too)
    checkpoint.semcache  the in-memory view at the start of an epoch: a snapshot (entries,
                         vectors, HNSW graph) whose header names that epoch
    LOCK                 held (``flock``) by the one process that has the directory open

Write path (under the backend lock): one SQLite transaction stores the records *and* logs
the keys, then the in-memory view applies the write; a call returns only after the commit,
so anything acknowledged is in the journal. SQLite's WAL with ``synchronous=NORMAL`` keeps
committed transactions through a process crash (a power cut may lose the last few).

Every journal change goes through one method, ``DurableBackend._journal_changes``, called
only by writes (``set_many``, ``delete``, ``touch``, ``restore_state``, ``clear``, open).
Reads never write the journal: an entry the view expires (on a read) or evicts (on a
write) is only noted by the view, and the next journal change removes its record, after
checking that the view holds no entry of that key by then (a note is never a reason to
delete a record written since). An expired record left in the journal by a crash is
harmless: open skips records expired by then, and removes them.

Rows are stored raw, never pickled, and a pickled row is refused unread
(:class:`~semcache_core.persist.journal_disk.RawDisk`).

Checkpoint (on ``close()`` and every ``checkpoint_interval`` seconds when something changed):
under the lock, bump the epoch and copy the view; then, outside it, write the copy as
``checkpoint.semcache`` (atomic rename) and drop the log of the finished epoch.
Reads write nothing, but with ``max_entries`` they move the LRU order, which ``close()``
and :meth:`~DurableBackend.checkpoint` then save (the background one runs for writes only:
a crash loses the recency of the reads since the last checkpoint, never an entry).

Open: load the checkpoint (entries, vectors and graph as saved: no graph rebuild), then
re-read from the journal only the keys logged after its epoch, in the order of their last
logged change (the LRU order of the writes). Without a usable checkpoint
(first open after a crash before any checkpoint, or a damaged file) every record is read
and the index rebuilt, then a checkpoint is written.

A second process opening the same directory gets :class:`DirectoryLockedError` at once:
one process owns a durable directory (share a cache between processes through Redis). So
does a process forked from the owner at its first call: it inherits the lock, but its
writes would go behind the owner's view (lost at the owner's next checkpoint).

Example::

    >>> with SemCache(path="cache-dir") as cache:
    ...     cache.set("q", "answer", vector=[0.1, 0.2, 0.3])
    >>> SemCache(path="cache-dir").get("q")
    'answer'
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..backends.base import BackendCounters, BackendState, EntryWrite, StoredEntry
from ..backends.local import LocalBackend
from ..checks import check_path
from ..errors import (
    CacheClosedError,
    DimensionMismatchError,
    InvalidArgumentError,
    SnapshotError,
    shown,
)
from ..filters import FilterNode
from ..index.hnsw import HNSWParams
from ..index.hybrid import DEFAULT_HNSW_THRESHOLD, IndexMode
from ..vectors import FloatMatrix
from .checkpoint_loop import checkpoint_every, release
from .directory_lock import lock_directory
from .journal import (
    ENTRY_PREFIX,
    EPOCH_KEY,
    FORMAT_KEY,
    JOURNAL_DIR,
    JOURNAL_FORMAT,
    JOURNAL_ID_KEY,
    LOG_PREFIX,
    by_last_change,
    check_format,
    damaged_journal,
    entry_id,
    open_journal,
    read_epoch,
    read_journal_id,
    read_log,
    read_row,
    record_of,
    split_entry_id,
    with_expiry,
    write_from,
)
from .snapshot import read_snapshot, write_snapshot

__all__ = [
    "CHECKPOINT_FILE",
    "CHECKPOINT_KIND",
    "ENTRY_PREFIX",
    "JOURNAL_DIR",
    "DurableBackend",
    "entry_id",
    "open_journal",
    "split_entry_id",
]

CHECKPOINT_KIND = "checkpoint"
CHECKPOINT_FILE = "checkpoint.semcache"
_REPLAY_BATCH = 4096


class DurableBackend:
    """An in-memory :class:`LocalBackend` view over a diskcache journal in ``path``.

    Args:
        path: the directory (created if missing).
        max_entries, index, hnsw_threshold, hnsw_params: as :class:`LocalBackend`.
        checkpoint_interval: seconds between background checkpoints while writes come in
            (``None``: only on :meth:`close` and explicit :meth:`checkpoint` calls).
        clock: seconds since the epoch, for expiry at open (the cache passes its own).

    Raises:
        DirectoryLockedError: another process (or another cache here) has ``path`` open.
        UnsafeRecordError: the journal holds a row semcache never writes (a pickle).

    After :meth:`close` every call raises :class:`CacheClosedError`. A backend dropped
    without ``close()`` releases the directory when it is garbage collected (the journal
    has every acknowledged write; the next open replays it).

    ``opened_from`` tells how the view was rebuilt at open: ``"checkpoint"`` (saved view
    plus the logged changes since), ``"journal"`` (every record re-read, index rebuilt) or
    ``"new"``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        max_entries: int | None = None,
        index: IndexMode = "auto",
        *,
        hnsw_threshold: int = DEFAULT_HNSW_THRESHOLD,
        hnsw_params: HNSWParams | None = None,
        checkpoint_interval: float | None = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # absolute: diskcache opens each thread's connection from it (a chdir would move it)
        self.path = check_path(path).absolute()
        if self.path.exists() and not self.path.is_dir():
            raise InvalidArgumentError(f"{self.path} is a file: durable mode needs a directory")
        checkpoint = self.path / CHECKPOINT_FILE
        if checkpoint.exists() and not checkpoint.is_file():
            # the first checkpoint (at close, or the next open) could never be written
            raise InvalidArgumentError(
                f"{checkpoint} is not a file: durable mode writes its checkpoint there"
            )
        if checkpoint_interval is not None and (
            isinstance(checkpoint_interval, bool)
            or not isinstance(checkpoint_interval, (int, float))
            or not 0 < checkpoint_interval < math.inf
        ):
            raise InvalidArgumentError(
                f"checkpoint_interval must be a number of seconds > 0 or None, got "
                f"{shown(checkpoint_interval)}"
            )
        self._memory = LocalBackend(
            max_entries, index, hnsw_threshold=hnsw_threshold, hnsw_params=hnsw_params
        )
        self._memory.record_drops()
        self._lock = self._memory.lock
        self._checkpoint_lock = threading.Lock()
        self._clock = clock
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock_file = lock_directory(self.path)
        self._closed = False
        self.last_checkpoint_error: BaseException | None = None
        """What made the last background checkpoint fail, if one did (the next one retries)."""
        self._stop = threading.Event()
        # what a dropped backend must still let go of; holds no reference to self
        self._resources: list[Any] = [self._stop, self._lock_file]
        self._finalizer = weakref.finalize(self, release, self._resources)
        try:
            self._journal = open_journal(self.path)
            self._resources.insert(1, self._journal)
            self._epoch = read_epoch(self.path, self._journal)
            check_format(self.path, self._journal)
            self._journal_id = read_journal_id(self.path, self._journal) or self._new_journal_id()
            self._log_tags: set[int] = set()
            self._changes = 0
            self._saved_tick = self._read_clock()
            self.opened_from = self._open()
            self._saved_tick = self._read_clock()  # the order the next open rebuilds
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # SQLite's or a text row's
            self._finalizer()
            raise damaged_journal(self.path, exc) from exc
        except BaseException:
            self._finalizer()
            raise
        self._ticker: threading.Thread | None = None
        if checkpoint_interval is not None:
            self._ticker = threading.Thread(
                target=checkpoint_every,
                args=(weakref.ref(self), self._stop, float(checkpoint_interval)),
                name="semcache-checkpoint",
                daemon=True,
            )
            self._ticker.start()

    def _new_journal_id(self) -> str:
        self._journal.set(FORMAT_KEY, JOURNAL_FORMAT)
        journal_id = uuid.uuid4().hex
        self._journal.set(JOURNAL_ID_KEY, journal_id)
        return journal_id

    # --- open ----------------------------------------------------------------------------

    def _open(self) -> str:
        for stale in self.path.glob(f".{CHECKPOINT_FILE}.*.tmp"):  # a checkpoint cut short
            stale.unlink(missing_ok=True)
        log = read_log(self.path, self._journal)
        self._log_tags = {tag for _, tag in log}
        saved = self._read_checkpoint()
        now = self._clock()
        if saved is not None:
            state, epoch = saved
            try:
                self._memory.restore_state(state, now)
            except ValueError:  # passed its checksums but does not hold together
                saved = None
        if saved is not None:
            changed = dict.fromkeys(key for key, tag in log if tag > epoch)
            self._replay(by_last_change(changed, log), now)
            opened_from = "checkpoint"
        else:
            keys = by_last_change(self._keys(), log)
            self._replay(keys, now)
            opened_from = "journal" if keys or log else "new"
        if opened_from == "journal":
            self.checkpoint(force=True)  # replaces a damaged or foreign checkpoint too
        return opened_from

    def _read_checkpoint(self) -> tuple[BackendState, int] | None:
        """The saved view and its epoch, when it exists and belongs to this journal."""
        try:
            state, meta = read_snapshot(self.path / CHECKPOINT_FILE, CHECKPOINT_KIND, wait=False)
        except (OSError, SnapshotError):  # none, unreadable (a directory...) or damaged
            return None  # the journal has everything: rebuild from it
        epoch = meta.get("epoch")
        if (
            meta.get("journal_id") != self._journal_id
            or type(epoch) is not int  # a damaged header: not a checkpoint of this journal
            or not 0 <= epoch <= self._epoch
        ):
            return None
        return state, epoch

    def _read(self, name: str, read: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``read(*args, **kwargs)`` on the journal, a refused row named by ``name``."""
        return read_row(self.path, name, read, *args, **kwargs)

    def _record(self, name: str) -> bytes | None:
        return self._read(f"record of entry {shown(name)}", self._journal.get, ENTRY_PREFIX + name)

    def _keys(self) -> list[str]:
        """The entry id of every record in the journal, oldest record first.

        ``iter()`` pages through the rows by rowid; ``iterkeys()`` pages with a query that
        SQLite sorts whole for each page of 100 (a crash's reopen of 100k records: 27.7 s
        with it, 4.6 s now)."""
        return [
            key[len(ENTRY_PREFIX) :]
            for key in self._read("a key", list, iter(self._journal))
            if isinstance(key, str) and key.startswith(ENTRY_PREFIX)
        ]

    def _replay(self, names: Iterable[str], now: float) -> None:
        """Make the view match the journal for the entries ``names`` (entry ids); records
        expired by ``now`` go."""
        names = list(names)
        # every logged entry leaves the view first, then the live records come back: only
        # the final state counts, and a namespace re-created with another dimension since
        # the checkpoint must not meet its old entries (the log's order is not the writes')
        for name in names:
            self._memory.delete(*self._entry_of(name), now)
        expired: dict[str, None] = {}
        for start in range(0, len(names), _REPLAY_BATCH):
            writes = []
            for name in names[start : start + _REPLAY_BATCH]:
                record = self._record(name)
                if record is None:
                    continue
                try:
                    write = write_from(name, record)
                except ValueError as exc:
                    raise damaged_journal(self.path, exc) from exc
                if write.expires_at is not None and write.expires_at <= now:
                    expired[name] = None
                else:
                    writes.append(write)
            try:
                self._memory.set_many(writes, now)
            except DimensionMismatchError as exc:  # live records of one namespace disagree
                raise damaged_journal(self.path, exc) from exc
        with self._lock:
            self._journal_changes(expired)

    def _entry_of(self, name: str) -> tuple[str, str]:
        """``(namespace, key)`` of the entry id ``name`` read from the journal.

        Raises:
            SnapshotError: ``name`` is not an entry id (a damaged journal).
        """
        try:
            return split_entry_id(name)
        except ValueError as exc:
            raise damaged_journal(self.path, exc) from exc

    # --- writes: the only callers of _journal_changes ------------------------------------

    def set_many(self, writes: list[EntryWrite], now: float) -> None:
        with self._lock:
            self._check_open()
            try:
                self._memory.check_dimensions(writes)
            except DimensionMismatchError:  # held by expired entries only? then it is free
                self._memory.purge_expired(now)
                self._memory.check_dimensions(writes)
            latest: dict[str, bytes | None] = {  # a repeated entry: the last write wins
                entry_id(w.namespace, w.key): record_of(w) for w in writes
            }
            self._journal_changes(latest)  # acknowledged from here on
            self._memory.set_many(writes, now)
            self._journal_changes({})  # what the write evicted

    def delete(self, namespace: str, key: str, now: float) -> bool:
        with self._lock:
            self._check_open()
            self._journal_changes({entry_id(namespace, key): None})
            return self._memory.delete(namespace, key, now)

    def touch(self, namespace: str, key: str, expires_at: float | None, now: float) -> bool:
        """The new expiry is journaled (it survives a reopen) before the view takes it."""
        with self._lock:
            self._check_open()
            if not self._memory.exists(namespace, key, now):
                return False
            name = entry_id(namespace, key)
            record = self._record(name)
            if record is not None:  # None: a view entry the journal lost is not invented
                self._journal_changes({name: with_expiry(record, expires_at)})
            return self._memory.touch(namespace, key, expires_at, now)

    def _journal_changes(self, records: Mapping[str, bytes | None]) -> None:
        """The one place the journal's records change (lock held), in one transaction:
        store each record of ``records`` (entry id -> record; ``None``: delete it), and
        delete the records of entries the view expired or evicted since the last call,
        unless the view holds that entry again or ``records`` writes it.
        """
        dropped = [
            name
            for namespace, key in self._memory.take_dropped()
            if (name := entry_id(namespace, key)) not in records
            and not self._memory.holds(namespace, key)
        ]
        if not dropped and not records:
            return
        with self._journal.transact():
            for key in dropped:
                self._remove(key)
            for key, record in records.items():
                if record is None:
                    self._remove(key)
                else:
                    self._journal.set(ENTRY_PREFIX + key, record)
                    self._log(key)

    def _remove(self, name: str) -> None:
        if self._journal.delete(ENTRY_PREFIX + name):
            self._log(name)

    def _log(self, name: str) -> None:
        """Record that entry ``name`` changed in this epoch (inside the write's transaction)."""
        self._journal.push(name, prefix=LOG_PREFIX, tag=self._epoch)
        self._log_tags.add(self._epoch)
        self._changes += 1

    def clear(self, namespace: str | None = None) -> None:
        if namespace is not None:
            with self._lock:
                self._check_open()
                keys = self._memory.scan(namespace, "", None, self._clock())
                self._journal_changes({entry_id(namespace, key): None for key in keys})
                self._memory.clear(namespace)
            return
        # the checkpoint lock first (its order everywhere): no checkpoint of the old content
        # may land, or drop log records, after the journal starts over
        with self._checkpoint_lock, self._lock:
            self._check_open()
            (self.path / CHECKPOINT_FILE).unlink(missing_ok=True)  # first: never resurrected
            # one transaction: diskcache's clear() commits every 100 rows (a kill left a part)
            with self._journal.transact():
                self._journal.clear()
                self._journal_id = self._new_journal_id()
            self._epoch, self._log_tags, self._changes = 0, set(), 0
            self._memory.clear()
            self._memory.take_dropped()  # their records went with the journal's content

    def _check_open(self) -> None:
        """Raises :class:`CacheClosedError` after :meth:`close`, and
        :class:`DirectoryLockedError` in a process forked from the one that opened it."""
        if self._closed:
            raise CacheClosedError(
                f"the durable cache at {self.path} is closed: open the directory again"
            )
        self._lock_file.check_owner()

    # --- reads: the view answers; they never write the journal ---------------------------

    def dim_of(self, namespace: str, now: float | None = None) -> int | None:
        return self._memory.dim_of(namespace, now)

    @property
    def dims(self) -> dict[str, int]:
        return self._memory.dims

    def get(
        self, namespace: str, key: str, now: float, count: bool = True, touch: bool = True
    ) -> StoredEntry | None:
        if self._closed or self._lock_file.forked:
            self._check_open()
        return self._memory.get(namespace, key, now, count, touch)

    def read_value(self, namespace: str, key: str, now: float) -> Any:
        """:meth:`LocalBackend.read_value` of the memory copy (reads write no journal)."""
        if self._closed or self._lock_file.forked:
            self._check_open()
        return self._memory.read_value(namespace, key, now)

    def exists(self, namespace: str, key: str, now: float) -> bool:
        self._check_open()
        return self._memory.exists(namespace, key, now)

    def count(self, now: float, namespace: str | None = None) -> int:
        self._check_open()
        return self._memory.count(now, namespace)

    def namespaces(self, now: float) -> list[str]:
        self._check_open()
        return self._memory.namespaces(now)

    def scan(self, namespace: str, prefix: str, limit: int | None, now: float) -> list[str]:
        self._check_open()
        return self._memory.scan(namespace, prefix, limit, now)

    def search(
        self,
        queries: FloatMatrix,
        k: int,
        namespace: str,
        filters: FilterNode | None,
        now: float,
        with_vectors: bool = False,
        threshold: float | None = None,
    ) -> list[list[tuple[StoredEntry, float]]]:
        self._check_open()
        return self._memory.search(queries, k, namespace, filters, now, with_vectors, threshold)

    def purge_expired(self, now: float) -> int:
        self._check_open()
        return self._memory.purge_expired(now)

    def counters(self) -> BackendCounters:
        self._check_open()
        counters = self._memory.counters()
        counters.details["path"] = str(self.path)
        counters.details["opened_from"] = self.opened_from
        return counters

    def index_for(self, namespace: str = "") -> Any:
        """The namespace's in-memory index (for inspection and benchmarks)."""
        self._check_open()
        return self._memory.index_for(namespace)

    def vector_count(self, namespace: str = "") -> int:
        return self._memory.vector_count(namespace)

    def settings(self) -> dict[str, Any]:
        return self._memory.settings()

    # --- snapshots -----------------------------------------------------------------------

    def export_state(self, now: float) -> BackendState:
        self._check_open()
        return self._memory.export_state(now)

    def restore_state(self, state: BackendState, now: float) -> None:
        """Replace the content with ``state``, journaled in one transaction."""
        with self._lock:
            self._check_open()
            prepared = self._memory.prepare_restore(state, now)
            vectors = {}
            for space in state.spaces:
                assert space.vectors is not None  # prepare_restore found them all
                vectors[space.name] = dict(zip(space.labels.tolist(), space.vectors))
            incoming = set(map(entry_id, state.namespaces, state.keys))
            # the old entries the snapshot lacks go (expired ones too: scan drops them)
            changes: dict[str, bytes | None] = {
                name: None
                for namespace in self._memory.namespaces(now)
                for key in self._memory.scan(namespace, "", None, now)
                if (name := entry_id(namespace, key)) not in incoming
            }
            for key, value, metadata, namespace, expires_at, label in prepared.cold.rows():
                vector = None if label is None else vectors[namespace][label]
                write = EntryWrite(key, value, metadata, namespace, expires_at, vector)
                changes[entry_id(namespace, key)] = record_of(write)
            self._journal_changes(changes)
            self._memory.commit_restore(prepared)
            self._journal_changes({})  # the snapshot's expired keys' old records, evictions

    # --- checkpoints and lifecycle -------------------------------------------------------

    def checkpoint(self, force: bool = False) -> bool:
        """Save the view now, so the next open skips re-reading; False when nothing changed.

        Without ``force``, an existing checkpoint with no change since (no write, and no
        read that moved an entry in the LRU order) is kept.
        """
        with self._checkpoint_lock:
            target = self.path / CHECKPOINT_FILE
            with self._lock:
                self._check_open()
                now = self._clock()
                self._memory.purge_expired(now)
                self._journal_changes({})  # what the view dropped leaves the journal first
                unchanged = self._changes == 0 and not self._recency_moved()
                if not force and unchanged and target.exists():
                    return False
                state = self._memory.export_state(now)
                epoch = self._epoch
                self._epoch += 1
                self._journal.set(EPOCH_KEY, self._epoch)
                self._changes = 0
                self._saved_tick = self._read_clock()
            settings = {
                **self._memory.settings(),
                "ttl": None,
                "epoch": epoch,
                "journal_id": self._journal_id,
            }
            write_snapshot(target, state, settings, CHECKPOINT_KIND)
            for tag in sorted(t for t in self._log_tags if t <= epoch):
                self._journal.evict(tag)  # those changes are in the checkpoint now
                self._log_tags.discard(tag)
            return True

    def _read_clock(self) -> int:
        return self._memory.recency_clock  # see LocalBackend.recency_clock (lock held)

    def _recency_moved(self) -> bool:
        """Whether the view's LRU order may differ from the last checkpoint's (or from
        what open rebuilt) where it matters: an entry was read or written since, and the
        view evicts by it (``max_entries``; lock held)."""
        return self._memory.max_entries is not None and self._read_clock() != self._saved_tick

    def close(self) -> None:
        """Save a checkpoint (when anything changed since the last one, the LRU order of
        reads included), close the journal and release the directory.

        In a process forked from the owner it saves nothing: it drops its copies (the
        owner keeps the directory locked)."""
        if self._closed:
            return
        self._stop.set()
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join()
        try:
            if self._lock_file.owned():
                self.checkpoint()
        finally:
            self._closed = True
            self._memory.close()
            self._finalizer()
