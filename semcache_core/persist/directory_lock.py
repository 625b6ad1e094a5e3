"""The one-owner rule of a durable directory: an exclusive ``flock`` on its ``LOCK`` file,
held for as long as the file stays open (the owner's pid written in it, for the error a
second opener gets).

Example::

    handle = lock_directory(path)   # DirectoryLockedError when another process holds it
    ...
    handle.close()                  # releases the directory
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from ..errors import DirectoryLockedError

__all__ = ["LOCK_FILE", "lock_directory"]

LOCK_FILE = "LOCK"


def lock_directory(path: Path) -> Any:
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
    return handle
