"""Storage backends: the protocol, and the in-process implementation."""

from .base import Backend, BackendCounters, EntryWrite, StoredEntry
from .local import LocalBackend

__all__ = ["Backend", "BackendCounters", "EntryWrite", "LocalBackend", "StoredEntry"]
