"""One namespace of the in-process backend: its entries, its vector index (from its first
vector on), its entries by label, and what makes its filters fast (recent results, and
the metadata index).

A namespace costs what its entries cost: its index is made by its first vector (small,
growing as rows arrive), and the backend drops the whole namespace when its last entry
leaves.

Example::

    >>> space = Namespace("tenant-a")
    >>> space.ensure_index(4, lambda dim: HybridIndex(dim, "flat", threading.RLock()))
    >>> space.link(0, entry)  # the caller adds the entry's vector to space.index as label 0
    >>> space.allowed(Filter("tenant", "==", "acme"))
    array([0])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from ..errors import DimensionMismatchError
from ..filters import FilterNode, compile_filter, range_leaves
from ..index.hybrid import HybridIndex
from .metadata_index import MetadataIndex

if TYPE_CHECKING:
    from .entries import LocalEntry

__all__ = ["Namespace"]

_FILTER_CACHE_SIZE = 32  # filter results kept per namespace (tenants, doc ids, ...)


class Namespace:
    """One namespace's entries, index, entries by label, and what speeds up its filters.

    ``entries`` holds the thawed entries by key (cold ones are the backend's
    :class:`~.entries.ColdEntries`). ``version`` moves on every change to the namespace's
    vectors; a cached filter result is used only while its version is current, so it is
    never stale. ``metadata`` indexes the fields that ``==``, ``in`` and range conditions
    use, so a filter seen for the first time scans only the entries it can match.
    """

    __slots__ = ("by_label", "entries", "filtered", "index", "metadata", "name", "version")

    def __init__(self, name: str, index: HybridIndex | None = None) -> None:
        self.name = name
        self.entries: dict[str, LocalEntry] = {}
        self.index = index
        # label -> entry; label -> key while the entry is cold (see backends/entries.py)
        self.by_label: dict[int, LocalEntry | str] = {}
        self.version = 0
        self.filtered: dict[str, tuple[int, npt.NDArray[np.int64]]] = {}
        self.metadata = MetadataIndex()

    @property
    def dim(self) -> int | None:
        """The dimension of this namespace's vectors, ``None`` while it holds none (its
        entries may be vector-less), as a remote backend answers from what it holds."""
        return None if self.index is None or not len(self.index) else self.index.dim

    def ensure_index(self, dim: int, make: Callable[[int], HybridIndex]) -> HybridIndex:
        """The namespace's index, made by ``make(dim)`` for its first vector (or for the
        first after its vectors all left, when of another dimension).

        Raises:
            DimensionMismatchError: the namespace holds vectors of another dimension.
        """
        if self.index is None or (self.index.dim != dim and not len(self.index)):
            if self.index is not None:
                self.index.close()  # held no vector: nothing fixes its dimension
            self.index = make(dim)
        elif self.index.dim != dim:
            raise DimensionMismatchError(self.index.dim, dim, self.name)
        return self.index

    def vector_count(self) -> int:
        return 0 if self.index is None else len(self.index)

    def link(self, label: int, entry: LocalEntry) -> None:
        """Record a new entry with a vector (the caller adds the vector to ``index``)."""
        self.by_label[label] = entry
        self.version += 1
        if self.metadata.indexed:
            self.metadata.add(label, entry.metadata_dict())

    def unlink(self, label: int) -> None:
        """Forget a thawed entry (the caller removes its vector from ``index``)."""
        entry = cast("LocalEntry", self.by_label.pop(label))
        self.version += 1
        if self.metadata.indexed:
            self.metadata.remove(label, entry.metadata_dict())

    def allowed(self, filters: FilterNode) -> npt.NDArray[np.int64]:
        """Labels whose metadata ``filters`` accepts (cached per filter until a change).

        Every entry must be thawed: this reads their metadata.
        """
        # repr, not the filter itself, as the key: it tells 1, 1.0 and True apart, which
        # compare equal (and hash alike) but need not match the same entries
        key = repr(filters)
        cached = self.filtered.get(key)
        if cached is not None and cached[0] == self.version:
            return cached[1]
        allowed = self._evaluate(filters)
        if len(self.filtered) >= _FILTER_CACHE_SIZE and key not in self.filtered:
            self.filtered.pop(next(iter(self.filtered)))  # the oldest
        self.filtered[key] = (self.version, allowed)
        return allowed

    def _evaluate(self, filters: FilterNode) -> npt.NDArray[np.int64]:
        predicate = compile_filter(filters)
        by_label = cast("dict[int, LocalEntry]", self.by_label)

        def entries() -> Iterator[tuple[int, dict[str, Any]]]:
            return ((label, e.metadata_dict()) for label, e in by_label.items())

        for leaf in range_leaves(filters):  # before evaluating: see filters.range_leaves
            error = self.metadata.clash(leaf, entries)
            if error is not None:
                raise error
        candidates = self.metadata.candidates(filters, entries)
        labels = by_label.keys() if candidates is None else candidates
        return np.fromiter(
            (label for label in labels if predicate(by_label[label].metadata_dict())),
            dtype=np.int64,
        )

    def close(self) -> None:
        if self.index is not None:
            self.index.close()
