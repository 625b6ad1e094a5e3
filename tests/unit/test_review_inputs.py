"""Inputs a review found refused late, with the wrong type, or never answered: each is now
a typed error at the call that brought it, and changes nothing."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from semcache_core import SemCache, calibrate
from semcache_core.errors import InvalidArgumentError, RedisServerError, SnapshotError
from semcache_core.persist.inspect import inspect_path
from semcache_core.redis_local.server import nodes_from_state
from semcache_integrations.cli import main


@pytest.mark.parametrize("pairs", [None, 5, 3.5, object()])
def test_calibrate_on_no_iterable_is_an_invalid_argument(pairs: Any) -> None:
    """Before: a bare TypeError ("'NoneType' object is not iterable")."""
    with pytest.raises(InvalidArgumentError, match="iterable of pairs"):
        calibrate(pairs, None)


def _fifo(tmp_path: Path) -> Path:
    fifo = tmp_path / "snapshot.semcache"
    os.mkfifo(fifo)
    return fifo


def _within(seconds: float, call: Any, fifo: Path) -> BaseException | None:
    """What ``call`` raised, run in a thread that must end within ``seconds`` (else
    ``fifo`` is opened for writing, which ends its wait, and the test fails)."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # handed to the test
            raised.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        with open(fifo, "wb"):  # a writer at the other end: the blocked open returns
            pass
        pytest.fail("the call blocked on a FIFO")
    return raised[0] if raised else None


def test_loading_or_inspecting_a_fifo_is_a_snapshot_error_not_a_hang(tmp_path: Path) -> None:
    """Before: ``load`` and ``semcache inspect`` waited for good on a FIFO (open blocks
    until a writer comes)."""
    fifo = _fifo(tmp_path)
    cache = SemCache()
    cache.set("kept", 1)

    def load() -> None:
        cache.load(fifo)

    def inspected() -> None:
        inspect_path(fifo)

    for call in (load, inspected):
        assert isinstance(_within(5.0, call, fifo), SnapshotError)
    assert cache.get("kept") == 1 and len(cache) == 1
    assert main(["inspect", str(fifo)]) == 1


@pytest.mark.parametrize("pid", ["abc", 1.5, [1], True, -3, 0])
def test_a_state_file_with_a_pid_of_another_type_is_malformed(tmp_path: Path, pid: Any) -> None:
    """Before: ``semcache cluster status`` / ``down`` died in a traceback
    (``'str' object cannot be interpreted as an integer``) deep in a stop."""
    node = {"port": 7999, "directory": str(tmp_path / "n"), "pid": pid}
    with pytest.raises(RedisServerError, match="malformed node record"):
        nodes_from_state({"nodes": [node]})
    (tmp_path / "semcache-redis.json").write_text(json.dumps({"kind": "cluster", "nodes": [node]}))
    for action in ("status", "down"):
        assert main(["cluster", action, "--run-dir", str(tmp_path)]) != 0
