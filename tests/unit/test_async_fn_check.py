"""``aget_or_compute`` checks ``fn`` where it would call it, as ``get_or_compute`` does: a
hit has no use for it, so any ``fn`` answers a hit, and only a miss refuses one that
cannot be called. The native-async twin (Redis) is tested in tests/redis/test_async_more.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from semcache_core import SemCache
from semcache_core.errors import InvalidArgumentError


@pytest.mark.parametrize("fn", [None, 3, "embed", [len]], ids=repr)
async def test_a_hit_answers_whatever_fn_is_as_the_sync_twin_does(fn: Any) -> None:
    cache = SemCache()
    cache.set("k", "v")
    cache.set("vec", [0.6, 0.8], vector=[0.6, 0.8])
    for key, value in (("k", "v"), ("vec", [0.6, 0.8])):
        assert cache.get_or_compute(key, fn) == value
        assert await cache.aget_or_compute(key, fn) == value
    with pytest.raises(InvalidArgumentError, match="callable"):
        cache.get_or_compute("miss", fn)
    with pytest.raises(InvalidArgumentError, match="callable"):
        await cache.aget_or_compute("miss", fn)
    assert cache.get("miss") is None and len(cache) == 2
