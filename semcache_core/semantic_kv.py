"""``DistributedSemanticKV``: the Semantic KV seed's client, on a Redis Cluster (or one
Redis server) through the engine: a :class:`~semcache_core.SemCache` over a
:class:`~semcache_core.backends.redis.RedisBackend`.

Switching from the seed takes a new import and Redis URLs for the node list (one node of
a cluster is enough: the client discovers the rest)::

    from semcache_core import DistributedSemanticKV

    with DistributedSemanticKV(["redis://127.0.0.1:7000"]) as kv:
        kv.put("doc:api", b"REST API endpoints and authentication")
        kv.get("doc:api")                          # b"REST API endpoints and authentication"
        for key, value, similarity, node in kv.search("api endpoints", top_k=3):
            print(f"{similarity:.2f} {key} on {node}")  # node: "127.0.0.1:7001"
        kv.health_check()                          # {"127.0.0.1:7000": True, ...}

What a value means: ``put`` stores the bytes as given and, when they are UTF-8 text,
embeds that text so :meth:`~DistributedSemanticKV.search` finds the key by meaning (the
seed's node embedded the key itself, though its README said values). Bytes
that are not UTF-8 (an image, a pickle, compressed data) are stored and read back exactly
but not embedded: they have no text to search, and a vector of replacement characters
would only add noise to every search.

Entries live in one namespace of the cache (``namespace="kv"``), so ``clear_all`` and
``cluster_stats`` see this client's entries only, and a :class:`SemCache` on the same
servers reaches them with ``namespace="kv"``.

Differences from the seed, on purpose: a server error raises
:class:`~semcache_core.errors.BackendError` (the seed logged it and returned
``False``/``None``/a shorter result, indistinguishable from a miss); ``search`` merges
every shard or raises, never returns silently short; a stored ``b""`` reads back as
``b""`` (the seed returned ``None``); ``search`` gives the stored bytes exactly (the seed
decoded and re-encoded them, replacing bytes that were not UTF-8).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from .backends.redis import RedisBackend
from .backends.redis.admin import is_cluster
from .cache import SemCache
from .checks import MAX_TTL, as_real, check_count, check_key, check_namespace, check_threshold
from .embedders import Embedder, as_embedder
from .errors import (
    BackendError,
    CacheClosedError,
    EmbedderError,
    InvalidArgumentError,
    InvalidValueError,
    shown,
)
from .json_text import dump_json, load_json

__all__ = [
    "DistributedSemanticKV",
    "SemanticKVClient",
    "StoredJSONError",
    "StoredTextError",
    "provider_embedder",
]

_METRICS = ("puts", "gets", "searches", "hits", "misses", "errors")


class _ModelCall:
    """``text -> model.<method>(text)``: a sentence-transformers model (``encode``) or a
    seed embedding provider (``embed``) as the plain callable :func:`as_embedder` takes."""

    def __init__(self, model: Any, method: str) -> None:
        self._call = getattr(model, method)
        self.__qualname__ = f"{type(model).__name__}.{method}"  # names it in EmbedderError

    def __call__(self, text: str) -> Any:
        return self._call(text)


def provider_embedder(provider: Any) -> Embedder:
    """An :class:`Embedder` from what ``embedding_provider=`` takes: anything
    ``SemCache(embedder=)`` takes, a sentence-transformers model (``.encode(text)``), or a
    seed embedding provider (``.embed(text)``, e.g. its ``SentenceTransformerEmbedding``).

    Raises:
        EmbedderError: none of these.
    """
    if isinstance(provider, (str, bytes)):  # a model's name: it has .encode, yet no vectors
        raise EmbedderError(
            f"embedding_provider takes a model, not its name {shown(provider)}: pass e.g. "
            "SentenceTransformer(name), or a callable str -> vector"
        )
    known = (
        provider is None
        or isinstance(provider, Embedder)
        or hasattr(provider, "embed_query")
        or hasattr(provider, "get_query_embedding")
    )
    if not known:
        for method in ("encode", "embed"):
            if callable(getattr(provider, method, None)):
                return as_embedder(_ModelCall(provider, method))
    return as_embedder(provider)


def _urls(nodes: Any) -> list[str]:
    """``nodes`` as Redis URLs (``"host:port"`` gets ``redis://``)."""
    if isinstance(nodes, (str, bytes)) or not isinstance(nodes, Sequence) or not nodes:
        raise InvalidArgumentError(
            f"nodes must be a non-empty list of Redis URLs, got {shown(nodes)}"
        )
    urls = []
    for node in nodes:
        if not isinstance(node, str):
            raise InvalidArgumentError(f"a node must be a str URL, got {type(node).__name__}")
        url = node if "://" in node else f"redis://{node}"
        scheme = urlsplit(url).scheme
        if scheme not in ("redis", "rediss", "unix"):
            raise InvalidArgumentError(
                f"node {shown(node)} is not a Redis URL (redis://host:port); the seed's "
                "grpc:// Flight nodes are replaced by a Redis Cluster or server"
            )
        urls.append(url)
    return urls


def _host_port(url: str) -> str:
    """``host:port`` of a plain cluster node URL; options RedisBackend's cluster mode does
    not carry (credentials, TLS, a database) are refused rather than dropped."""
    parts = urlsplit(url)
    plain = parts.scheme == "redis" and parts.path in ("", "/", "/0") and not parts.query
    if not plain or parts.username or parts.password:
        raise InvalidArgumentError(
            f"cluster node {url!r}: only redis://host:port is supported for a cluster "
            "(no credentials, TLS, database or other options)"
        )
    try:
        port = parts.port or 6379
    except ValueError as exc:
        raise InvalidArgumentError(f"bad port in {url!r}: {exc}") from exc
    return f"{parts.hostname}:{port}"


def _seconds(value: Any, name: str) -> float:
    number = as_real(value)
    if number is None or not math.isfinite(number) or number <= 0:
        raise InvalidArgumentError(
            f"{name} must be a positive number of seconds, got {shown(value)}"
        )
    return number


def _bytes_of(key: str, value: Any) -> bytes:
    if not isinstance(value, bytes):
        raise InvalidValueError(
            f"{shown(key)} holds {type(value).__name__}, not bytes: it was not written by "
            "DistributedSemanticKV"
        )
    return value


def _server_counters(node: dict[str, Any]) -> dict[str, Any]:
    """The seed's per-node counters, from what the Redis server's ``INFO`` says (every
    client and key of that server since it started)."""
    hits, misses = node["keyspace_hits"], node["keyspace_misses"]
    return {
        "uptime_seconds": node["uptime_seconds"],
        "metrics": {
            "commands": node["commands_processed"],
            "keyspace_hits": hits,
            "keyspace_misses": misses,
        },
        "total_ops": node["commands_processed"],
        "hit_rate": hits / (hits + misses) if hits + misses else 0.0,
    }


class StoredTextError(InvalidValueError, UnicodeDecodeError):
    """``get_string`` (or ``get_json``) of a key that holds bytes that are not UTF-8; also
    the ``UnicodeDecodeError`` (a ``ValueError``) the seed raised, so its handlers work."""

    def __init__(self, key: str, exc: UnicodeDecodeError) -> None:
        UnicodeDecodeError.__init__(self, exc.encoding, exc.object, exc.start, exc.end, exc.reason)
        self.key = key
        self.add_note(f"{shown(key)} does not hold UTF-8 text")


class StoredJSONError(InvalidValueError, json.JSONDecodeError):
    """``get_json`` of a key that holds text that is not JSON; also the
    ``json.JSONDecodeError`` (a ``ValueError``) the seed raised, so its handlers work."""

    def __init__(self, key: str, exc: json.JSONDecodeError) -> None:
        json.JSONDecodeError.__init__(self, exc.msg, exc.doc, exc.pos)
        self.key = key
        self.args = (f"{shown(key)} does not hold JSON: {exc}",)


class DistributedSemanticKV:
    """The Semantic KV seed's client API on Redis (see the module docstring).

    The positional arguments are the seed's, in the seed's order, so that a seed user's
    call works unchanged; what is new is keyword-only.

    Args:
        nodes: Redis URLs (``redis://host:port``; ``host:port`` works too): one node of a
            cluster is enough, or one standalone server.
        replication_factor: copies of each write (the seed's): ``n`` makes every ``put``
            wait until ``n - 1`` replicas hold it (``min_replica_acks``); 0 is 1. A
            primary short of replicas (one died, or its replica was promoted after a
            failover) does not stop the client: reads work, and a ``put`` to its shards
            raises :class:`~semcache_core.errors.ReplicationError` (the value is stored
            on the primary, not acknowledged by its replicas) until it has them again.
        search_timeout: seconds a server may take to answer any call (socket timeout);
            a write waits at most ``min(1, search_timeout / 2)`` seconds for its replicas.
        connection_timeout: seconds to connect to a server.
        max_workers: threads for calls that visit every node (health, stats); default (or
            0, as in the seed) 8.
        retry_count: retries of a call that could not reach a server.
        embedding_provider: what embeds values and queries: anything
            ``SemCache(embedder=)`` takes, a sentence-transformers model, or a seed
            embedding provider; default the built-in lexical embedder.
        min_replica_acks: replicas that must confirm each write before ``put`` returns;
            default ``replication_factor - 1``.
        namespace: the cache namespace holding this client's entries.

    Raises:
        InvalidArgumentError: bad options.
        BackendUnavailableError: no node answers.
        EmbedderError: an ``embedding_provider`` of no supported kind.
    """

    def __init__(
        self,
        nodes: list[str],
        replication_factor: int = 1,
        search_timeout: float = 5.0,
        connection_timeout: float = 2.0,
        max_workers: int | None = None,
        retry_count: int = 2,
        *,
        embedding_provider: Any = None,
        min_replica_acks: int | None = None,
        namespace: str = "kv",
    ) -> None:
        urls = _urls(nodes)
        search_timeout = _seconds(search_timeout, "search_timeout")
        connection_timeout = _seconds(connection_timeout, "connection_timeout")
        # 0 means the default for max_workers, and one copy for replication_factor, as
        # in the seed (``max_workers or ...``; it only stored the factor)
        workers = None if max_workers is None else check_count(max_workers, "max_workers", 0)
        self._workers = workers or 8
        retries = check_count(retry_count, "retry_count", minimum=0)
        copies = check_count(replication_factor, "replication_factor", minimum=0)
        if min_replica_acks is None:
            acks = max(copies - 1, 0)
        else:
            acks = check_count(min_replica_acks, "min_replica_acks", minimum=0)
        self._namespace = check_namespace(namespace)
        embedder = provider_embedder(embedding_provider)
        options: dict[str, Any] = {
            "connect_timeout": connection_timeout,
            "socket_timeout": search_timeout,
            "retries": retries,
            "min_replica_acks": acks,
            # WAIT within the socket timeout, so a shortfall of replicas is said as such
            # (ReplicationError), not as a node that timed out
            "replica_ack_timeout": min(1.0, search_timeout / 2),
            # a replica down stops no client from starting (the seed never refused): only
            # the writes to its primary's shards raise ReplicationError meanwhile
            "check_replicas": False,
        }
        if is_cluster(urls, connection_timeout, search_timeout):
            backend = RedisBackend(cluster_nodes=[_host_port(url) for url in urls], **options)
        elif len(urls) > 1:
            raise InvalidArgumentError(
                f"{len(urls)} nodes given but {urls[0]} is a standalone server: give one "
                "standalone URL, or nodes of one Redis Cluster"
            )
        else:
            backend = RedisBackend(urls[0], **options)
        self._backend = backend
        try:
            self._cache = SemCache(embedder=embedder, backend=backend)
        except BaseException:
            backend.close()
            raise
        self._lock = threading.Lock()
        self._metrics = dict.fromkeys(_METRICS, 0)
        self._closed = False

    # --- bookkeeping ---------------------------------------------------------------------

    @property
    def cache(self) -> SemCache:
        """The engine underneath (its entries are in namespace :attr:`namespace`)."""
        return self._cache

    @property
    def namespace(self) -> str:
        return self._namespace

    def _count(self, *names: str) -> None:
        with self._lock:
            for name in names:
                self._metrics[name] += 1

    @contextmanager
    def _call(self) -> Iterator[SemCache]:
        """The cache, once open; a backend failure is counted as an error."""
        if self._closed:
            raise CacheClosedError("this DistributedSemanticKV is closed")
        try:
            yield self._cache
        except BackendError:
            self._count("errors")
            raise

    # --- key/value -----------------------------------------------------------------------

    def put(self, key: str, value: bytes, ttl_ms: int = 0) -> bool:
        """Store ``value`` under ``key`` (replacing it), embedding it when it is UTF-8 text;
        ``ttl_ms`` > 0 makes it expire after that many milliseconds. True once stored.

        Raises:
            InvalidKeyError: ``key`` not a str; nothing is stored.
            InvalidValueError: ``value`` not bytes; nothing is stored.
            InvalidArgumentError: ``ttl_ms`` not an int in [0, 1e13]; nothing is stored.
        """
        check_key(key)
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise InvalidValueError(f"value must be bytes, got {type(value).__name__}")
        data = bytes(value)
        ttl = check_count(ttl_ms, "ttl_ms", minimum=0)
        if ttl / 1000 > MAX_TTL:  # checked before the value is embedded
            raise InvalidArgumentError(
                f"ttl_ms must be at most {MAX_TTL * 1000:.0f} (about 317 years; 0 for no "
                f"expiry), got {shown(ttl_ms)}"
            )
        with self._call() as cache:
            try:
                text: str | None = data.decode("utf-8")
            except UnicodeDecodeError:
                text = None  # stored, not searchable: see the module docstring
            vector = None if text is None else cache.embedder.embed_document(text)
            cache.set(
                key,
                data,
                vector=vector,
                ttl=ttl / 1000 if ttl else None,
                namespace=self._namespace,
            )
        self._count("puts")
        return True

    def get(self, key: str) -> bytes | None:
        """The bytes stored under ``key``, or None when absent or expired."""
        check_key(key)
        with self._call() as cache:
            value = cache.get(key, namespace=self._namespace)
        self._count("gets", "misses" if value is None else "hits")
        return None if value is None else _bytes_of(key, value)

    def delete(self, key: str) -> bool:
        """Remove ``key``; True when it held a live entry, False when absent."""
        with self._call() as cache:
            return cache.delete(key, namespace=self._namespace)

    def exists(self, key: str) -> bool:
        """Whether ``key`` holds a live entry."""
        with self._call() as cache:
            return cache.exists(key, namespace=self._namespace)

    def scan(self, prefix: str = "", limit: int = 100) -> list[str]:
        """Live keys starting with ``prefix`` across every node, sorted, at most ``limit``."""
        with self._call() as cache:
            return cache.scan(prefix, limit, namespace=self._namespace)

    # --- semantic ------------------------------------------------------------------------

    def search(
        self, query: str, top_k: int = 10, threshold: float = 0.7
    ) -> list[tuple[str, bytes, float, str]]:
        """The ``top_k`` entries whose value is most similar to ``query``, merged from
        every shard, best first, as ``(key, value, similarity, node)``: similarity is
        cosine in [-1, 1] (at least ``threshold``), node the ``"host:port"`` of the
        primary that holds the entry.

        Raises:
            InvalidArgumentError: ``query`` not a str, ``top_k`` < 0 (0 gives ``[]``, as
                in the seed), ``threshold`` outside [-1, 1].
            BackendError: a shard did not answer (no partial result).
        """
        if not isinstance(query, str):
            raise InvalidArgumentError(f"query must be a str, got {type(query).__name__}")
        top_k = check_count(top_k, "top_k", minimum=0)
        floor = check_threshold(threshold)
        if top_k == 0:  # the seed's all_results[:0]
            return []
        with self._call() as cache:
            hits = cache.search(query, top_k, threshold=floor, namespace=self._namespace)
            found = [
                (
                    hit.key,
                    _bytes_of(hit.key, hit.value),
                    float(hit.score),
                    self._backend.node_of(self._namespace, hit.key) or "",
                )
                for hit in hits
            ]
        self._count("searches")
        return found

    # --- text and JSON -------------------------------------------------------------------

    def put_string(self, key: str, value: str, ttl_ms: int = 0) -> bool:
        """:meth:`put` of ``value`` as UTF-8 (embedded)."""
        if not isinstance(value, str):
            raise InvalidValueError(f"put_string needs a str, got {type(value).__name__}")
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidValueError(f"value has no UTF-8 form: {exc}") from exc
        return self.put(key, data, ttl_ms)

    def get_string(self, key: str) -> str | None:
        """The value of ``key`` decoded as UTF-8, or None.

        Raises:
            StoredTextError: the value is not UTF-8 (a ``UnicodeDecodeError``, as the seed's).
        """
        data = self.get(key)
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StoredTextError(key, exc) from exc

    def put_json(self, key: str, value: Any, ttl_ms: int = 0) -> bool:
        """:meth:`put` of ``value`` as JSON text (embedded), nested at most
        :data:`~semcache_core.json_text.MAX_JSON_DEPTH` levels deep.

        Raises:
            InvalidValueError: ``value`` is not JSON-serialisable, or nests deeper.
        """
        return self.put_string(key, dump_json(value, allow_nan=True), ttl_ms)

    def get_json(self, key: str) -> Any:
        """The value of ``key`` parsed as JSON, or None when absent.

        Raises:
            StoredJSONError: the value is not JSON (a ``json.JSONDecodeError``, as the seed's).
            StoredTextError: the value is not UTF-8.
            InvalidValueError: the JSON nests too deep to parse (see :func:`load_json`).
        """
        text = self.get_string(key)
        if text is None:
            return None
        try:
            return load_json(text, key)
        except json.JSONDecodeError as exc:
            raise StoredJSONError(key, exc) from exc

    # --- cluster -------------------------------------------------------------------------

    def health_check(self) -> dict[str, bool]:
        """``{"host:port": answers}`` for every node, primaries and replicas."""
        with self._call():
            return self._backend.health(self._workers)

    def cluster_stats(self) -> dict[str, Any]:
        """``{"host:port": stats}`` for every node, plus ``"_client"``.

        A node's stats are the backend's (:func:`~semcache_core.backends.redis.admin.
        cluster_stats`: ``node_id``, ``role``, ``used_memory``, ``entries`` of every
        namespace, ...) and the seed's names: for this client's namespace ``total_keys``
        (its entries on that node: a replica counts its copies, so sum over primaries for
        the number of entries), ``index_size`` (its vectors there) and ``embedding_dim``
        (of the vectors stored; before any, the embedder's when it declares one, else
        None); and from the node's ``INFO``, for every client and key of that Redis
        server since it started (not this client's: those are ``"_client"``'s
        ``metrics``), ``uptime_seconds``, ``metrics`` (``commands``, ``keyspace_hits``,
        ``keyspace_misses``), ``total_ops`` (commands) and ``hit_rate`` (keyspace hits
        over lookups, 0.0 before any).

        A node that does not answer has ``role`` None (see the backend's), so summing
        ``total_keys`` over ``role == "primary"`` counts every entry on a live primary.
        """
        with self._call() as cache:
            per_node = self._backend.cluster_stats(self._workers)
            dim = cache.dim_of(self._namespace)
            if dim is None:
                dim = cache.embedder.dim  # None when it learns its dimension on first use
        stats: dict[str, Any] = {}
        for address, node in per_node.items():
            if "error" not in node:
                node = (
                    node
                    | {
                        "location": address,
                        "total_keys": node["entries_by_namespace"].get(self._namespace, 0),
                        "index_size": node["vectors_by_namespace"].get(self._namespace, 0),
                        "embedding_dim": dim,
                    }
                    | _server_counters(node)
                )
            stats[address] = node
        with self._lock:
            metrics = dict(self._metrics)
        stats["_client"] = {
            "nodes": len(per_node),
            "primaries": sum(1 for n in per_node.values() if n.get("role") == "primary"),
            "namespace": self._namespace,
            "metrics": metrics,
        }
        return stats

    def clear_all(self) -> dict[str, int]:
        """Remove every entry of this client; ``{"host:port": entries removed}`` per
        primary (replicas follow their primary), ``-1`` for a primary that could not be
        cleared (each counted in ``"_client"``'s ``errors``): the others are cleared all
        the same, as in the seed. A primary whose replicas did not confirm in time
        reports its count (the entries are gone from it); after a failover the new
        primary is cleared instead of the dead one (see the backend's
        ``clear_each_node``)."""
        with self._call():
            removed = self._backend.clear_each_node(self._namespace)
        for count in removed.values():
            if count < 0:
                self._count("errors")
        return removed

    def close(self) -> None:
        """Close the connections; later calls raise :class:`CacheClosedError`."""
        if not self._closed:
            self._closed = True
            self._cache.close()

    def __enter__(self) -> DistributedSemanticKV:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"DistributedSemanticKV(namespace={self._namespace!r}, {state})"


SemanticKVClient = DistributedSemanticKV  # the seed's alias
