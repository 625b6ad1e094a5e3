"""The durable backend's background checkpoint loop, and what releases its resources
(see :mod:`semcache_core.persist.durable`)."""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .durable import DurableBackend

__all__ = ["checkpoint_every", "release"]


def release(resources: list[Any]) -> None:
    """Stop the ticker, close the journal and the lock file (dropping the ``flock``): what
    :meth:`DurableBackend.close` ends with, and what a dropped backend's finalizer runs."""
    for resource in resources:
        if isinstance(resource, threading.Event):
            resource.set()
        else:
            resource.close()


def checkpoint_every(
    ref: weakref.ref[DurableBackend], stop: threading.Event, interval: float
) -> None:
    """The background checkpoint loop; holds the backend only while checkpointing, so a
    dropped backend can still be collected (and release its directory)."""
    while not stop.wait(interval):
        backend = ref()
        if backend is None:
            return
        if backend._changes:
            try:
                backend.checkpoint()
            except Exception as exc:  # the journal still has everything; retry next time
                backend.last_checkpoint_error = exc
        del backend
