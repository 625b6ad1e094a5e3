"""The snapshot file container: named, checksummed sections behind a versioned header.

Layout (little-endian)::

    0     preamble, 64 bytes: MAGIC (16) | format version u32 | header offset u64 |
          header length u32 | header CRC-32 u32 | zero padding
    64    sections, each starting on a 64-byte boundary (a float32 block can be mapped
          straight into an array); raw bytes, described by the header
    end   header: msgpack map {"kind", "created_at", "meta",
          "sections": [[name, offset, length, crc32], ...]}

The header goes last because it lists where the sections landed; the preamble, written
last of all, points at it, and the header must end exactly where the file ends, so a file
cut short (or grown) is caught before any section is read. Every section has its own
CRC-32 (zlib's polynomial, computed by ISA-L: ~40 GB/s here, against ~7 for zlib), so
``semcache inspect`` can name the damaged one.

Writes go to a temporary file in the same directory, are fsynced and then renamed over
the target, and the directory is fsynced: a crash leaves either the old file or the new
one, never a mix. The file being replaced is first hard-linked aside (``.NAME.<id>.old``)
and unlinked after the rename — by a thread when it is large — so the rename does not wait
while the file system frees its blocks; a link a crash leaves behind goes at the next write.

Example::

    >>> write_container("x.semcache", "snapshot", {"dim": 3}, {"blob": b"abc"})
    >>> with open_container("x.semcache") as snap:
    ...     bytes(snap.section("blob")), snap.meta
    (b'abc', {'dim': 3})
"""

from __future__ import annotations

import os
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path
from typing import IO, Any

import msgpack
import numpy as np
import numpy.typing as npt
from isal.isal_zlib import crc32

from ..checks import check_path
from ..errors import InvalidArgumentError, SnapshotError

__all__ = ["FORMAT_VERSION", "MAGIC", "Container", "open_container", "write_container"]

MAGIC = b"\x89SEMCACHE\r\n\x1a\n\x00\x00\x00"  # 16 bytes, PNG-style: text-mode damage shows
FORMAT_VERSION = 2  # 2: a graph's level-0 block holds its namespace's vectors
_PREAMBLE = struct.Struct("<16sIQII")
_PREAMBLE_SIZE = 64
_ALIGN = 64
_UNLINK_IN_BACKGROUND = 32 * 2**20  # bytes: replaced files this large are freed by a thread

Buffer = bytes | bytearray | memoryview | Any  # numpy arrays qualify (buffer protocol)


@dataclass(frozen=True, slots=True)
class SectionInfo:
    name: str
    offset: int
    length: int
    crc32: int


def write_container(
    path: str | os.PathLike[str], kind: str, meta: Mapping[str, Any], sections: Mapping[str, Buffer]
) -> int:
    """Write a container atomically (temporary file, fsync, rename); returns its size.

    Raises:
        InvalidArgumentError: ``path`` is not a str or ``os.PathLike``, is empty, or names
            a directory.
    """
    target = check_path(path)
    if target.is_dir():
        raise InvalidArgumentError(f"{target} is a directory: a snapshot is written to a file")
    tmp_name = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    for stale in target.parent.glob(f".{target.name}.*.old"):  # left by an earlier crash
        stale.unlink(missing_ok=True)
    try:
        with open(tmp_name, "xb") as out:  # "x": a fresh file, with the usual permissions
            size = _write(out, kind, meta, sections)
            out.flush()
            os.fsync(out.fileno())
        old = _keep_old_copy(target)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)
    if old is not None and size < _UNLINK_IN_BACKGROUND:
        old.unlink(missing_ok=True)
    elif old is not None:
        # freeing a large file's blocks takes a while on some file systems: not our caller's
        threading.Thread(target=old.unlink, args=(True,), daemon=True).start()
    return size


def _keep_old_copy(target: Path) -> Path | None:
    """Hard-link the file about to be replaced, so the rename does not free its blocks."""
    old = target.parent / f".{target.name}.{uuid.uuid4().hex}.old"
    try:
        os.link(target, old)
    except OSError:  # no file yet, or a file system without hard links
        return None
    return old


def _write(
    out: IO[bytes], kind: str, meta: Mapping[str, Any], sections: Mapping[str, Buffer]
) -> int:
    out.write(bytes(_PREAMBLE_SIZE))
    position = _PREAMBLE_SIZE
    table: list[list[Any]] = []
    # each section's CRC is computed by a second thread while this one writes it out (both
    # release the GIL), so a large snapshot costs one pass over memory, not two
    with ThreadPoolExecutor(1, thread_name_prefix="semcache-snapshot-crc") as checksums:
        for name, data in sections.items():
            view = memoryview(data)
            view = view.cast("B") if view.nbytes else memoryview(b"")  # cast() refuses 0 sizes
            table.append([name, position, len(view), checksums.submit(crc32, view)])
            out.write(view)
            position += len(view)
            padding = -position % _ALIGN
            out.write(bytes(padding))
            position += padding
        for row in table:
            row[3] = row[3].result()
    header = msgpack.packb(
        {"kind": kind, "created_at": time.time(), "meta": dict(meta), "sections": table},
        use_bin_type=True,
    )
    out.write(header)
    out.seek(0)
    out.write(_PREAMBLE.pack(MAGIC, FORMAT_VERSION, position, len(header), crc32(header)))
    return position + len(header)


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Container:
    """An open container: its header, and sections read and checked on demand."""

    def __init__(self, path: Path, handle: BufferedReader) -> None:
        self.path = path
        self._handle = handle
        self.file_size = os.fstat(handle.fileno()).st_size
        preamble = handle.read(_PREAMBLE_SIZE)
        if not preamble.startswith(MAGIC):
            raise SnapshotError(f"{path} is not a semcache snapshot (no semcache signature)")
        if len(preamble) < _PREAMBLE_SIZE:
            raise SnapshotError(f"{path} is truncated inside its preamble")
        _, version, header_at, header_length, header_crc = _PREAMBLE.unpack_from(preamble)
        if any(preamble[_PREAMBLE.size :]):
            raise SnapshotError(f"{path} is corrupted: the preamble's padding is not zero")
        if version != FORMAT_VERSION:
            raise SnapshotError(
                f"{path} has snapshot format version {version}; this semcache reads version "
                f"{FORMAT_VERSION}"
            )
        end = header_at + header_length
        if end > self.file_size:
            raise SnapshotError(
                f"{path} is truncated: {self.file_size} bytes, the header says {end}"
            )
        if end < self.file_size:
            raise SnapshotError(f"{path} has {self.file_size - end} unexpected trailing bytes")
        handle.seek(header_at)
        header = handle.read(header_length)
        if crc32(header) != header_crc:
            raise SnapshotError(f"{path} is corrupted: the header fails its checksum")
        try:
            fields = msgpack.unpackb(header, raw=False)
            self.kind: str = fields["kind"]
            self.created_at: float = fields["created_at"]
            self.meta: dict[str, Any] = fields["meta"]
            self.sections = {
                name: SectionInfo(name, offset, length, crc)
                for name, offset, length, crc in fields["sections"]
            }
            _check_header_types(self.kind, self.created_at, self.meta, self.sections)
        except Exception as exc:  # a header that passed its CRC but is not ours
            raise SnapshotError(f"{path} has an unreadable header: {exc!r}") from exc
        for info in self.sections.values():
            if info.offset < _PREAMBLE_SIZE or info.offset + info.length > header_at:
                raise SnapshotError(f"{path}: section {info.name!r} lies outside the file")

    def section(self, name: str) -> npt.NDArray[np.uint8]:
        """The bytes of section ``name``, checked against their CRC-32 (thread-safe).

        A writable uint8 array: ``np.frombuffer(section, dtype)`` views it without a copy.
        """
        info = self._info(name)
        data = np.empty(info.length, dtype=np.uint8)  # unlike bytearray(n), not zero-filled
        self._read_into(data, self._handle.fileno(), info)
        return data

    def sections_in_background(
        self,
        names: list[str],
        then: Callable[[dict[str, npt.NDArray[np.uint8]]], object] | None = None,
    ) -> tuple[dict[str, npt.NDArray[np.uint8]], Future[None], Future[None]]:
        """Start reading sections ``names``, one after another, on a thread, and then call
        ``then(sections)`` there. The container may be closed meanwhile.

        Returns their arrays now, a future done once every section is read and checked
        (it raises :class:`SnapshotError` if one is damaged), and one done once ``then``
        has run too (it raises what the first one raises, or what ``then`` raised).
        """
        infos = [self._info(name) for name in names]
        sections = {info.name: np.empty(info.length, dtype=np.uint8) for info in infos}
        read: Future[None] = Future()
        done: Future[None] = Future()
        descriptor = os.dup(self._handle.fileno())

        def work() -> None:
            try:
                try:
                    for info in infos:
                        self._read_into(sections[info.name], descriptor, info)
                finally:
                    os.close(descriptor)
            except BaseException as exc:
                read.set_exception(exc)
                done.set_exception(exc)
                return
            read.set_result(None)
            try:
                if then is not None:
                    then(sections)
                done.set_result(None)
            except BaseException as exc:
                done.set_exception(exc)

        threading.Thread(target=work, name="semcache-snapshot-read", daemon=True).start()
        return sections, read, done

    def _info(self, name: str) -> SectionInfo:
        info = self.sections.get(name)
        if info is None:
            raise SnapshotError(f"{self.path} lacks the {name!r} section")
        return info

    def _read_into(self, data: npt.NDArray[np.uint8], descriptor: int, info: SectionInfo) -> None:
        view = data.data  # a memoryview
        done = 0
        while done < info.length:  # one read returns at most ~2 GiB on Linux
            # positional reads: sections may be read from several threads at once
            got = os.preadv(descriptor, [view[done:]], info.offset + done)
            if got == 0:
                raise SnapshotError(f"{self.path} is truncated inside section {info.name!r}")
            done += got
        if crc32(view) != info.crc32:
            raise SnapshotError(
                f"{self.path} is corrupted: section {info.name!r} fails its checksum"
            )

    def verify(self) -> list[str]:
        """Check every section; returns the names of the damaged ones."""
        damaged = []
        for name in self.sections:
            try:
                self.section(name)
            except SnapshotError:
                damaged.append(name)
        return damaged


def _check_header_types(
    kind: Any, created_at: Any, meta: Any, sections: dict[Any, SectionInfo]
) -> None:
    """Check the types of a decoded header's fields, as :func:`_write` writes them.

    Raises:
        ValueError: a field of another type (a header that passed its CRC but is not ours).
    """
    if type(kind) is not str:
        raise ValueError(f"its kind is {type(kind).__name__}, not str")
    if type(created_at) not in (int, float):
        raise ValueError(f"its creation time is {type(created_at).__name__}, not a number")
    if type(meta) is not dict:
        raise ValueError(f"its meta is {type(meta).__name__}, not a map")
    for info in sections.values():
        numbers = (info.offset, info.length, info.crc32)
        if type(info.name) is not str or any(type(number) is not int for number in numbers):
            raise ValueError(f"section {info.name!r} is not described by a name and counts")


@contextmanager
def open_container(path: str | os.PathLike[str]) -> Iterator[Container]:
    """Open a container for reading; raises :class:`SnapshotError` if it is not a sound one
    (:class:`InvalidArgumentError` for a ``path`` that is not a str or ``os.PathLike``), or
    not a regular file (a FIFO would block the read for good, a device never end)."""
    target = check_path(path)
    if target.exists() and not target.is_file():
        raise SnapshotError(f"{target} is not a regular file: a snapshot is one")
    with open(target, "rb") as handle:
        yield Container(target, handle)
