"""Helpers for tests that run callers in threads: poll for a condition, run and join.

Example::

    >>> run_threads([lambda: cache.get("k")] * 8)
    >>> assert wait_for(lambda: cache.stats().misses >= 8)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``predicate`` (1 ms steps) until true or ``timeout``; whether it came true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """:func:`wait_for`, failing the test when ``predicate`` never comes true."""
    assert wait_for(predicate, timeout), "callers never all arrived"


def run_threads(targets: list[Callable[[], None]], timeout: float = 60.0) -> None:
    """Run each target in its own thread and join them all; a thread left running fails."""
    threads = [threading.Thread(target=t, daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), "threads still running: deadlock?"
