"""``semcache_core.backends.base.read_many``: a backend's own ``get_many`` is used only
where its class defines one with the protocol's arguments; otherwise each key is read by
``get`` (a backend of one's own, written before ``get_many`` or with another
``get_many``, reads as it did)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from semcache_core import SemCache
from semcache_core.backends.base import StoredEntry, read_many
from semcache_core.backends.local import LocalBackend


class OtherGetMany(LocalBackend):
    """A backend of one's own whose ``get_many`` means something else."""

    def get_many(self, namespace: str, keys: list[str], now: float) -> list[Any]:
        raise AssertionError("not the protocol's get_many: must not be called")


class Batched(LocalBackend):
    """A backend reading many keys at once (counts its calls)."""

    calls = 0

    def get_many(
        self, namespace: str, keys: Any, now: float, count: bool = True, touch: bool = True
    ) -> list[StoredEntry | None]:
        type(self).calls += 1
        return [self.get(namespace, key, now, count, touch) for key in keys]


class OldGet(LocalBackend):
    """A backend written before ``get`` took ``touch``."""

    def get(  # type: ignore[override]
        self, namespace: str, key: str, now: float, count: bool = True
    ) -> StoredEntry | None:
        return super().get(namespace, key, now, count)


@settings(max_examples=50, deadline=None)
@given(
    stored=st.dictionaries(st.sampled_from("abcdef"), st.integers(-1000, 1000)),
    asked=st.lists(st.sampled_from("abcdefg"), max_size=12),
)
def test_get_many_answers_as_a_loop_of_get_on_every_kind_of_backend(
    stored: dict[str, int], asked: list[str]
) -> None:
    expected = [stored.get(key) for key in asked]
    for backend in (LocalBackend(), OtherGetMany(), Batched(), OldGet()):
        cache = SemCache(backend=backend)
        cache.set_many(list(stored.items()))
        assert cache.get_many(asked) == expected
        found = read_many(backend, "", asked, cache.now(), count=False, touch=False)
        assert [None if e is None else e.key for e in found] == [
            key if key in stored else None for key in asked
        ]


def test_a_backend_with_the_protocols_get_many_is_read_in_one_call() -> None:
    cache = SemCache(backend=Batched())
    cache.set_many([("a", 1), ("b", 2)])
    before = Batched.calls
    assert cache.get_many(["a", "b", "z"]) == [1, 2, None]
    assert Batched.calls == before + 1
