"""One shared thread pool for the engine's numeric work that releases the GIL.

``search_batch``'s int8 pass runs in numkong and numpy, which both release the GIL, so it
splits its rows over threads, as a BLAS matrix product would. How many threads:
``SEMCACHE_NUM_THREADS`` when set (read on every call, like ``OMP_NUM_THREADS`` for a BLAS;
anything but a positive integer raises ``InvalidArgumentError``), else the number of cores
this process may run on.

Example::

    >>> parts = [[1, 2], [3]][: worker_count()]  # one part per thread
    >>> run_in_threads(sum, parts)[0]  # the first part runs on this thread
    3
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

from .errors import InvalidArgumentError

__all__ = ["THREADS_VARIABLE", "run_in_threads", "worker_count"]

THREADS_VARIABLE = "SEMCACHE_NUM_THREADS"

_Part = TypeVar("_Part")
_Result = TypeVar("_Result")

_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_owner = 0  # the pid that made _pool: a forked child must not use its parent's threads
_pool_size = 0


def worker_count() -> int:
    """Threads for one parallel call: ``SEMCACHE_NUM_THREADS``, else the usable cores."""
    raw = os.environ.get(THREADS_VARIABLE)
    if raw is None or not raw.strip():
        return _usable_cores()
    try:
        count = int(raw)
    except ValueError:
        count = 0
    if count < 1:
        raise InvalidArgumentError(f"{THREADS_VARIABLE} must be a positive integer, got {raw!r}")
    return count


def _usable_cores() -> int:
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def run_in_threads(work: Callable[[_Part], _Result], parts: Sequence[_Part]) -> list[_Result]:
    """``[work(part) for part in parts]``, each part on its own thread.

    The first part runs on the calling thread (already awake, unlike a pool thread), the
    others on the shared pool. An exception from any part reaches the caller once every
    part has finished: none may still be reading the caller's arrays then.
    """
    if len(parts) <= 1:
        return [work(part) for part in parts]
    pool = _executor(len(parts) - 1)
    others = [pool.submit(work, part) for part in parts[1:]]
    try:
        first = work(parts[0])
    finally:
        wait(others)
    return [first, *(future.result() for future in others)]


def _executor(threads: int) -> ThreadPoolExecutor:
    global _pool, _pool_owner, _pool_size
    with _pool_lock:
        if _pool is None or _pool_owner != os.getpid() or _pool_size < threads:
            if _pool is not None and _pool_owner == os.getpid():
                _pool.shutdown(wait=False)  # running parts finish; new ones go to the new pool
            _pool = ThreadPoolExecutor(threads, thread_name_prefix="semcache-worker")
            _pool_owner, _pool_size = os.getpid(), threads
        return _pool
