"""Persistence: binary snapshots (``dump`` / ``load``) and the durable directory mode."""

from .container import FORMAT_VERSION, open_container, write_container
from .snapshot import SNAPSHOT_KIND, read_snapshot, write_snapshot

__all__ = [
    "FORMAT_VERSION",
    "SNAPSHOT_KIND",
    "open_container",
    "read_snapshot",
    "write_container",
    "write_snapshot",
]
