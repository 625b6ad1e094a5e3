"""Redis key names of a :class:`~.backend.RedisBackend`: the hash-tag scheme.

Every key starts with the backend's ``prefix`` (default ``"semcache"``), so ``clear()``
removes what the backend owns and nothing else. A namespace is named in keys by ``n``
plus the hex of its UTF-8 bytes (``""`` is ``n``, ``"docs"`` is ``n646f6373``): hex has no
``{``, ``}``, ``:``, ``.`` or glob characters, so keys parse back and glob patterns match
one namespace exactly.

A namespace has ``S`` shards (``S`` is fixed when the namespace is created and kept in its
meta hash). Shard ``i`` has a hash tag ``n<hex>.<i>.<j>`` whose cluster slot lies in the
``i``-th of ``S`` equal slot ranges (``j`` is the first suffix that lands there), so with
``S`` a multiple of the primaries and the usual even slot split, every primary holds
``S / primaries`` shards. Everything of a shard shares its tag, so one script updates an
entry, its vector and its expiry atomically on one node::

    <prefix>:{n<hex>.<i>.<j>}:e:<key>   hash: one entry (fields in .entry_codec)
    <prefix>:{n<hex>.<i>.<j>}:v         vector set: the shard's vectors, element = key
    <prefix>:{n<hex>.<i>.<j>}:x         sorted set: key -> expires_at, for the sweeper
    <prefix>:meta:{n<hex>}              hash: shards (S), dim

A key belongs to shard ``crc32(utf-8 key) % S``.

Example::

    >>> scheme = KeyScheme("semcache")
    >>> tags = scheme.shard_tags("docs", 2)
    >>> scheme.entry_key(tags[0], "a")
    'semcache:{n646f6373.0.2}:e:a'
    >>> scheme.parse_entry_key(scheme.entry_key(tags[1], "x:y"))
    ('docs', 'x:y')
"""

from __future__ import annotations

import itertools
import re
import zlib
from binascii import crc_hqx
from collections.abc import Iterable
from functools import cache, lru_cache

import numpy as np
import numpy.typing as npt
from redis.crc import REDIS_CLUSTER_HASH_SLOTS

__all__ = ["KeyScheme", "glob_escape", "namespace_id", "namespace_of_id", "owned_names"]


def namespace_id(namespace: str) -> str:
    """``n`` + hex of the namespace's UTF-8 bytes."""
    return "n" + namespace.encode("utf-8").hex()


def namespace_of_id(nsid: str) -> str:
    """The namespace named by :func:`namespace_id`; ``ValueError`` for anything else."""
    if not nsid.startswith("n"):
        raise ValueError(f"not a namespace id: {nsid!r}")
    return bytes.fromhex(nsid[1:]).decode("utf-8")


def glob_escape(text: str) -> str:
    """``text`` as a literal inside a Redis glob pattern (``SCAN MATCH``)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


@lru_cache(maxsize=4096)
def _tags(nsid: str, shards: int) -> tuple[str, ...]:
    tags = []
    for i in range(shards):
        low = i * REDIS_CLUSTER_HASH_SLOTS // shards
        high = (i + 1) * REDIS_CLUSTER_HASH_SLOTS // shards
        tags.append(f"{nsid}.{i}.{_first_suffix(f'{nsid}.{i}.'.encode(), low, high)}")
    return tuple(tags)


def _first_suffix(head: bytes, low: int, high: int) -> int:
    """The least ``j`` whose key ``head + str(j)`` lies in a slot in ``[low, high)``.

    A CRC with no initial or final value is linear: the CRC of ``head`` then ``L`` digits
    is that of ``head`` then ``L`` zero bytes, xor that of the digits alone. So each
    length's least ``j`` for each slot (:func:`_first_by_slot`) answers in one step per
    slot of the range: about ``16384 / S`` steps a tag, where trying each ``j`` in turn
    took about ``S`` (minutes for all tags at ``S`` = 16,384).
    """
    slots = np.arange(low, high)
    for length in itertools.count(1):
        shifted = crc_hqx(head + bytes(length), 0)
        first = int(_first_by_slot(length)[(slots ^ shifted) & _SLOT_MASK].min())
        if first < _NONE:
            return (0 if length == 1 else 10 ** (length - 1)) + first
    raise AssertionError("unreachable")  # pragma: no cover


_SLOT_MASK = REDIS_CLUSTER_HASH_SLOTS - 1  # 2**14 slots: a CRC16's low 14 bits
_NONE = np.iinfo(np.int64).max
_CRC_TABLE = np.array([crc_hqx(bytes([b]), 0) for b in range(256)], dtype=np.int64)


@cache
def _first_by_slot(length: int) -> npt.NDArray[np.int64]:
    """For each slot, the least offset of a ``length``-digit ``j`` (from 0, or from
    ``10**(length - 1)`` past one digit) whose digits alone have a CRC16 landing there,
    or :data:`_NONE`."""
    start = 0 if length == 1 else 10 ** (length - 1)
    numbers = np.arange(start, 10**length, dtype=np.int64)
    crc = np.zeros(len(numbers), dtype=np.int64)
    for position in reversed(range(length)):
        digit = ord("0") + numbers // 10**position % 10
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[(crc >> 8) ^ digit]
    slots, offsets = np.unique(crc & _SLOT_MASK, return_index=True)
    first = np.full(REDIS_CLUSTER_HASH_SLOTS, _NONE, dtype=np.int64)
    first[slots] = offsets
    return first


def _is_nsid(nsid: str) -> bool:
    try:
        namespace_of_id(nsid)
    except ValueError:  # odd hex digits, or bytes that are no UTF-8
        return False
    return True


class KeyScheme:
    """Key names under one prefix (see the module docstring). The prefix holds no ``:``
    (the backend refuses one), so a key's prefix is all before its first ``:`` and no
    two prefixes' keys overlap."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        head = re.escape(prefix)
        nsid = "(n(?:[0-9a-f]{2})*)"
        self._own = re.compile(
            rf"{head}:(?:{{{nsid}\.[0-9]+\.[0-9]+}}:(?:e:.*|v|x)|meta:{{{nsid}}})",
            re.DOTALL,
        )

    def owns(self, name: str) -> bool:
        """Whether ``name`` has the shape of a key of this scheme (a foreign key that a
        glob pattern matched has not: it is skipped, never parsed or removed)."""
        found = self._own.fullmatch(name)
        return found is not None and _is_nsid(found.group(1) or found.group(2))

    def shard_tags(self, namespace: str, shards: int) -> tuple[str, ...]:
        """The ``shards`` hash tags of ``namespace``, shard 0 first."""
        return _tags(namespace_id(namespace), shards)

    @staticmethod
    def shard_of(key: str, shards: int) -> int:
        return zlib.crc32(key.encode("utf-8")) % shards

    def entry_prefix(self, tag: str) -> str:
        return f"{self.prefix}:{{{tag}}}:e:"

    def entry_key(self, tag: str, key: str) -> str:
        return self.entry_prefix(tag) + key

    def vset_key(self, tag: str) -> str:
        return f"{self.prefix}:{{{tag}}}:v"

    def expiry_key(self, tag: str) -> str:
        return f"{self.prefix}:{{{tag}}}:x"

    def meta_key(self, namespace: str) -> str:
        return f"{self.prefix}:meta:{{{namespace_id(namespace)}}}"

    # --- glob patterns (SCAN MATCH) and parsing back ----------------------------------

    def entry_pattern(self, namespace: str | None = None, key_prefix: str = "") -> str:
        """Entries of ``namespace`` (all namespaces when None) whose key starts so."""
        nsid = "n*" if namespace is None else glob_escape(namespace_id(namespace)) + ".*"
        return f"{glob_escape(self.prefix)}:{{{nsid}}}:e:{glob_escape(key_prefix)}*"

    def namespace_pattern(self, namespace: str | None = None) -> str:
        """Every key of ``namespace``'s shards (of every namespace when None)."""
        nsid = "n*" if namespace is None else namespace_id(namespace) + ".*"
        return f"{glob_escape(self.prefix)}:{{{nsid}}}:*"

    def meta_pattern(self) -> str:
        return f"{glob_escape(self.prefix)}:meta:{{n*}}"

    def expiry_pattern(self) -> str:
        return f"{glob_escape(self.prefix)}:{{n*}}:x"

    def parse_entry_key(self, name: str) -> tuple[str, str]:
        """(namespace, key) of an entry key; ``ValueError`` for a key of another shape."""
        head = f"{self.prefix}:{{"
        if not name.startswith(head):
            raise ValueError(f"not an entry key: {name!r}")
        close = name.index("}", len(head))
        tag = name[len(head) : close]
        rest = name[close + 1 :]
        if not rest.startswith(":e:"):
            raise ValueError(f"not an entry key: {name!r}")
        return namespace_of_id(tag.split(".", 1)[0]), rest[3:]

    def parse_tag(self, name: str) -> str:
        """The hash tag of a shard key (``...:{tag}:x``)."""
        head = f"{self.prefix}:{{"
        return name[len(head) : name.index("}", len(head))]

    def parse_meta_key(self, name: str) -> str:
        """The namespace of a meta key."""
        head = f"{self.prefix}:meta:{{"
        return namespace_of_id(name[len(head) : -1])


def owned_names(keys: KeyScheme, names: Iterable[bytes | str]) -> set[str]:
    """The names of ``SCAN`` replies that are keys of ``keys`` (see :meth:`KeyScheme.owns`;
    a name that is no UTF-8 is nobody's key here)."""
    found = set()
    for raw in names:
        try:
            name = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError:
            continue
        if keys.owns(name):
            found.add(name)
    return found
