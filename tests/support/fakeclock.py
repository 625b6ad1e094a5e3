"""A clock for TTL tests: seconds since the epoch that move only when a test says so."""

from __future__ import annotations

import threading


class FakeClock:
    """Pass as ``SemCache(clock=...)``; ``advance`` is safe from any thread."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
