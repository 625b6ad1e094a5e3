"""The one-owner rule of a durable directory: an exclusive ``flock`` on its ``LOCK`` file,
held for as long as the file stays open (the owner's pid written in it, for the error a
second opener gets).

A process forked from the owner inherits the ``flock`` (it belongs to the open file, not
the process), so the lock also records its owner's pid: :meth:`DirectoryLock.check_owner`
refuses every other process.

Example::

    lock = lock_directory(path)     # DirectoryLockedError when another process holds it
    lock.check_owner()              # DirectoryLockedError in a forked child
    lock.close()                    # releases the directory
"""

from __future__ import annotations

import fcntl
import os
import weakref
from pathlib import Path
from typing import IO

from ..errors import DirectoryLockedError

__all__ = ["LOCK_FILE", "DirectoryLock", "lock_directory"]

LOCK_FILE = "LOCK"


class DirectoryLock:
    """A held directory lock. ``owner``: the pid that took it; ``forked``: True in a
    process forked since (a flag set at the fork: cheaper than a ``getpid`` per read)."""

    def __init__(self, path: Path, handle: IO[str]) -> None:
        self.path = path
        self.owner = os.getpid()
        self.forked = False
        self._handle = handle
        _held.add(self)

    def owned(self) -> bool:
        """Whether this process is the one that took the lock."""
        return os.getpid() == self.owner

    def check_owner(self) -> None:
        """Raises :class:`DirectoryLockedError` in any process but the owner: a forked
        copy's writes would go behind the owner's view, and be lost at its checkpoint."""
        if not self.owned():
            raise DirectoryLockedError(
                f"{self.path} is open in process {self.owner}, and this process "
                f"({os.getpid()}) was forked from it: a durable cache belongs to the process "
                "that opened it. Open it after the fork, in one process, or share one cache "
                "between processes on Redis"
            )

    def close(self) -> None:
        """Release the directory (in a forked child: only its copy of the file)."""
        self._handle.close()


_held: weakref.WeakSet[DirectoryLock] = weakref.WeakSet()


def _mark_forked() -> None:
    for lock in list(_held):
        lock.forked = True


os.register_at_fork(after_in_child=_mark_forked)


def lock_directory(path: Path) -> DirectoryLock:
    """Hold an exclusive ``flock`` on ``path/LOCK`` for as long as the file stays open."""
    handle = open(path / LOCK_FILE, "a+")  # noqa: SIM115  # held open until close()
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise DirectoryLockedError(
            f"{path} is already open (process {holder}); a durable directory has one owner "
            "at a time: close the other cache first, or share one cache between processes "
            "on Redis: SemCache(backend=RedisBackend(url)) "
            "(from semcache_core.backends.redis import RedisBackend)"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return DirectoryLock(path, handle)
