"""The Redis backend's shard hash tags (:mod:`semcache_core.backends.redis.keys`): each
the first suffix ``j`` that lands in its shard's slot range, as the simple search by one
``j`` at a time finds it (existing keys must keep their names), computed for every shard
count up to :data:`MAX_SHARDS` (trying one ``j`` at a time took minutes there)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from semcache_core.backends.redis.entry_codec import MAX_SHARDS
from semcache_core.backends.redis.keys import KeyScheme, namespace_id


def first_suffix_one_by_one(head: str, low: int, high: int) -> int:
    j = 0
    while not low <= key_slot(f"{head}{j}".encode()) < high:
        j += 1
    return j


def slot_range(i: int, shards: int) -> tuple[int, int]:
    return i * REDIS_CLUSTER_HASH_SLOTS // shards, (i + 1) * REDIS_CLUSTER_HASH_SLOTS // shards


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=12), st.integers(1, 300))
def test_tags_are_the_first_suffix_in_each_slot_range(namespace: str, shards: int) -> None:
    nsid = namespace_id(namespace)
    tags = KeyScheme("p").shard_tags(namespace, shards)
    expected = [
        f"{nsid}.{i}.{first_suffix_one_by_one(f'{nsid}.{i}.', *slot_range(i, shards))}"
        for i in range(shards)
    ]
    assert list(tags) == expected


def test_the_most_shards_get_tags_each_in_its_own_slot_range() -> None:
    nsid = namespace_id("docs")
    tags = KeyScheme("p").shard_tags("docs", MAX_SHARDS)
    assert len(tags) == len(set(tags)) == MAX_SHARDS
    for i, tag in enumerate(tags):
        low, high = slot_range(i, MAX_SHARDS)
        assert tag.startswith(f"{nsid}.{i}.") and low <= key_slot(tag.encode()) < high
    for i in range(0, MAX_SHARDS, 997):  # the first such suffix, as the slow search finds
        assert tags[i] == f"{nsid}.{i}.{first_suffix_one_by_one(f'{nsid}.{i}.', i, i + 1)}"
