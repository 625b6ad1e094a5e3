"""DistributedSemanticKV's ``put_json`` / ``get_json`` and nesting depth, found in review
(the in-process twins are in ``tests/unit/test_engine_review.py``): nesting too deep for
``json`` raised an untyped ``RecursionError``, and JSON stored by a shallow caller did not
read back from a deeper one. Each test failed before its fix."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import redis
from semcache_core import DistributedSemanticKV
from semcache_core.errors import InvalidValueError
from semcache_core.json_text import MAX_JSON_DEPTH
from semcache_core.redis_local import LocalServer


@pytest.fixture
def kv(redis_standalone: LocalServer, redis_client: redis.Redis) -> Iterator[DistributedSemanticKV]:
    client = DistributedSemanticKV([redis_standalone.url])
    yield client
    client.close()


def nested(depth: int, kind: str = "list") -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


def from_deeper(frames: int, call: Callable[[], Any]) -> Any:
    return call() if frames == 0 else from_deeper(frames - 1, call)


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 2_000])
def test_put_json_refuses_deep_nesting_with_a_typed_error(
    kv: DistributedSemanticKV, depth: int
) -> None:
    with pytest.raises(InvalidValueError, match=str(MAX_JSON_DEPTH)):
        kv.put_json("deep", nested(depth))
    assert not kv.exists("deep")


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_json_at_the_depth_limit_reads_back_from_a_deep_caller(
    kv: DistributedSemanticKV, kind: str
) -> None:
    value = nested(MAX_JSON_DEPTH, kind)
    assert kv.put_json("j", value)
    assert from_deeper(500, lambda: kv.get_json("j")) == value


def test_get_json_of_text_too_deep_to_parse_raises_a_typed_error(
    kv: DistributedSemanticKV,
) -> None:
    assert kv.put_string("deep", "[" * 5_000 + "]" * 5_000)
    with pytest.raises(InvalidValueError, match="too deep"):
        kv.get_json("deep")
