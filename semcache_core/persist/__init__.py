"""Persistence: binary snapshots (``dump`` / ``load``) and the durable directory mode."""

from .container import FORMAT_VERSION, open_container, write_container
from .durable import CHECKPOINT_KIND, DurableBackend
from .snapshot import SNAPSHOT_KIND, read_snapshot, write_snapshot

__all__ = [
    "CHECKPOINT_KIND",
    "FORMAT_VERSION",
    "DurableBackend",
    "SNAPSHOT_KIND",
    "open_container",
    "read_snapshot",
    "write_container",
    "write_snapshot",
]
