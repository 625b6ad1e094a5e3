"""What a cluster node says the cluster looks like (``CLUSTER NODES``), as typed records.

Example::

    >>> view = parse_cluster_nodes(
    ...     "e7d1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\\n"
    ...     "a3f2 127.0.0.1:7003@17003 slave e7d1 0 1 1 connected\\n"
    ... )
    >>> view["e7d1"].slots, view["a3f2"].master_id
    (((0, 5460),), 'e7d1')
"""

from __future__ import annotations

from dataclasses import dataclass

from .node import HOST

__all__ = ["SLOTS", "ClusterView", "NodeView", "Shard", "parse_cluster_nodes", "shards_of"]

SLOTS = 16_384
_BAD_FLAGS = frozenset({"fail", "fail?", "handshake", "noaddr"})


@dataclass(frozen=True)
class NodeView:
    """One line of ``CLUSTER NODES``: a node as another node (or itself) sees it."""

    node_id: str
    address: str  # "127.0.0.1:7000"
    flags: frozenset[str]
    master_id: str | None  # the primary a replica follows; None for a primary
    slots: tuple[tuple[int, int], ...]  # inclusive ranges this primary serves

    @property
    def is_primary(self) -> bool:
        return "master" in self.flags

    @property
    def failing(self) -> bool:
        """Flagged failed (``fail``), suspected (``fail?``) or not yet joined."""
        return bool(self.flags & _BAD_FLAGS)

    def shape(self) -> tuple[str, str, str | None, tuple[tuple[int, int], ...]]:
        """What every node must agree on about this one (flags such as ``myself`` differ)."""
        return self.address, "primary" if self.is_primary else "replica", self.master_id, self.slots


ClusterView = dict[str, NodeView]  # node id -> the node


@dataclass(frozen=True)
class Shard:
    """A primary, the replicas that follow it and the slot ranges it serves."""

    primary: str
    replicas: tuple[str, ...]
    slots: tuple[tuple[int, int], ...]

    @property
    def slot_count(self) -> int:
        return sum(end - start + 1 for start, end in self.slots)


def _slot_range(field: str) -> tuple[int, int] | None:
    if field.startswith("["):  # a slot being migrated or imported: "[93->-<id>]"
        return None
    start, _, end = field.partition("-")
    return int(start), int(end or start)


def parse_cluster_nodes(text: str) -> ClusterView:
    """Parse the reply of ``CLUSTER NODES``. A node that has met no other (the one node of
    a one-node cluster) gives its own address as ``:PORT``: a local node is on 127.0.0.1."""
    view: ClusterView = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        node_id, address, flags, master = fields[:4]
        address = address.split("@", 1)[0]
        ranges = (_slot_range(field) for field in fields[8:])
        view[node_id] = NodeView(
            node_id=node_id,
            address=HOST + address if address.startswith(":") else address,
            flags=frozenset(flags.split(",")),
            master_id=None if master == "-" else master,
            slots=tuple(sorted(r for r in ranges if r is not None)),
        )
    return view


def shards_of(view: ClusterView) -> list[Shard]:
    """The shards in ``view``: primaries serving slots (in slot order), each with the replicas
    not flagged as failed."""
    primaries = [n for n in view.values() if n.is_primary and n.slots]
    primaries.sort(key=lambda n: n.slots[0])
    return [
        Shard(
            primary=primary.address,
            replicas=tuple(
                sorted(
                    n.address
                    for n in view.values()
                    if n.master_id == primary.node_id and not n.failing
                )
            ),
            slots=primary.slots,
        )
        for primary in primaries
    ]
