"""Search results against a brute-force numpy reference.

The flat index (and ``SemCache(index="flat")``) promises *exact* top-k cosine search, also
on its int8 fast path (>= 4096 rows); HNSW and the hybrid ``auto`` mode promise high
recall. Every check compares with ``normalise rows, X @ q, top k`` computed in float64.

Ties: two reference scores within ``TOL`` of each other may come back in either order (and
either one may take the last slot), so results are compared up to such ties only.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from semcache_core import SemCache
from semcache_core.index import FlatIndex

TOL = 1e-5
QUANTISED_MIN_ROWS = 4096  # flat.py: the int8 first pass starts at this many rows

SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}

SIZES = [1, 2, 50, 3000, 5000, 12000]
DATA_KINDS = ["gauss", "duplicates", "huge", "tiny", "grid", "dense", "mixed"]


# --- reference and comparison ----------------------------------------------------------


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def make_data(rng: np.random.Generator, n: int, dim: int, kind: str) -> np.ndarray:
    """Raw (not normalised) float64 rows, all exactly representable in float32."""
    if kind == "mixed":
        parts = np.array_split(np.arange(n), 4)
        chunks = [
            make_data(rng, len(p), dim, k)
            for p, k in zip(parts, ["duplicates", "huge", "tiny", "grid"])
        ]
        x = np.concatenate(chunks)[rng.permutation(n)]
        return x.astype(np.float32).astype(np.float64)
    x = rng.standard_normal((n, dim))
    if kind == "duplicates":
        uniques = max(1, min(n, int(rng.integers(1, 8))))
        base = rng.standard_normal((uniques, dim))
        x = base[rng.integers(0, uniques, n)]
        # some exact duplicates at a different scale, some near-duplicates
        x[: n // 3] *= 10.0 ** rng.uniform(-3, 3, (n // 3, 1))
        x[n // 3 : n // 2] += 1e-6 * rng.standard_normal((n // 2 - n // 3, dim))
    elif kind == "huge":
        cols = rng.integers(0, dim, n)
        x[np.arange(n), cols] *= 10.0 ** rng.uniform(2, 30, n)
    elif kind == "tiny":
        x *= 10.0 ** rng.uniform(-30, -15, (n, 1))
    elif kind == "grid":
        # integer rows with a +-127 peak: exactly representable in int8 (zero row error),
        # so only the query's rounding separates the int8 score from the true one
        x = rng.integers(-20, 21, (n, dim)).astype(np.float64)
        x[np.arange(n), rng.integers(0, dim, n)] = 127.0 * rng.choice([-1.0, 1.0], n)
    elif kind == "dense":
        # many rows in a plane or 3-space: neighbours' scores differ by far less than the
        # int8 rounding, which (in few dimensions) is close to its worst case
        rank = min(dim, int(rng.integers(2, 4)))
        basis = np.linalg.qr(rng.standard_normal((dim, rank)))[0].T
        x = rng.standard_normal((n, rank)) @ basis
    return x.astype(np.float32).astype(np.float64)


def make_queries(rng: np.random.Generator, stored: np.ndarray, dim: int) -> list[np.ndarray]:
    """Random directions, stored rows (exact ties with duplicates), near rows, negations,
    and a basis vector (the direction of the "huge" rows)."""
    queries = [rng.standard_normal(dim), rng.standard_normal(dim)]
    if len(stored):
        row = stored[int(rng.integers(0, len(stored)))]
        queries += [row, row + 1e-3 * rng.standard_normal(dim) * np.abs(row).max(), -row]
    basis = np.zeros(dim)
    basis[int(rng.integers(0, dim))] = 1.0
    queries.append(basis)
    # every component just off a half step of the int8 grid: the largest query rounding
    half_step = rng.integers(-20, 21, dim) + 0.49 * rng.choice([-1.0, 1.0], dim)
    half_step[int(rng.integers(0, dim))] = 127.0
    queries.append(half_step)
    return [unit_rows(q.astype(np.float32).astype(np.float64)) for q in queries]


def reference(vectors: dict[int, np.ndarray], query: np.ndarray, allowed=None):
    """(labels, float64 scores) of every candidate; ``vectors`` holds unit float64 rows."""
    labels = list(vectors) if allowed is None else [int(a) for a in allowed]
    if not labels:
        return [], np.empty(0)
    matrix = np.stack([vectors[label] for label in labels])
    return labels, matrix @ query


def assert_matches_reference(ids, scores, ref_labels, ref_scores, k: int) -> None:
    """Exact top-k up to ties: same size, right scores, right ranks, nothing clearly better
    left out, nothing outside the candidates."""
    ids = [int(i) for i in ids]
    scores = np.asarray(scores, dtype=np.float64)
    m = min(k, len(ref_labels))
    assert len(ids) == m, f"expected {m} results, got {len(ids)}"
    assert len(scores) == m
    assert len(set(ids)) == m, f"duplicate ids in {ids}"
    if m == 0:
        return
    assert np.all(np.diff(scores) <= 0), f"scores not sorted best first: {scores}"
    ref_of = dict(zip(ref_labels, ref_scores.tolist()))
    ranked = np.sort(np.asarray(ref_scores))[::-1]
    for rank, (label, score) in enumerate(zip(ids, scores.tolist())):
        assert label in ref_of, f"label {label} is deleted or not allowed"
        assert abs(score - ref_of[label]) <= TOL, (label, score, ref_of[label])
        assert abs(ref_of[label] - ranked[rank]) <= TOL, (
            f"rank {rank}: label {label} scores {ref_of[label]}, the reference has "
            f"{ranked[rank]} there"
        )
    kth = ranked[m - 1]
    missing = {label for label, s in ref_of.items() if s > kth + TOL} - set(ids)
    assert not missing, f"labels clearly in the top {k} are missing: {sorted(missing)[:10]}"


def assert_equivalent(ids_a, scores_a, ids_b, scores_b) -> None:
    """Two result lists agree up to ties (the same exact search, different float paths)."""
    ids_a, ids_b = [int(i) for i in ids_a], [int(i) for i in ids_b]
    scores_a = np.asarray(scores_a, dtype=np.float64)
    scores_b = np.asarray(scores_b, dtype=np.float64)
    assert len(ids_a) == len(ids_b)
    if not ids_a:
        return
    np.testing.assert_allclose(scores_a, scores_b, atol=TOL, rtol=0)
    for ids_x, sc_x, ids_y, sc_y in [
        (ids_a, scores_a, ids_b, scores_b),
        (ids_b, scores_b, ids_a, scores_a),
    ]:
        pos_y = {label: j for j, label in enumerate(ids_y)}
        for i, label in enumerate(ids_x):
            if label in pos_y:
                assert abs(sc_y[pos_y[label]] - sc_x[i]) <= TOL, (label, i, pos_y[label])
            else:  # only a tie on the last slot may pick another label
                assert sc_x[i] <= sc_y[-1] + TOL, (label, sc_x[i], sc_y[-1])


def pick_allowed(rng: np.random.Generator, live: list[int], kind: str) -> np.ndarray | None:
    if kind == "none":
        return None
    sizes = {
        "empty": 0,
        "one": 1,
        "few": min(len(live), int(rng.integers(1, 60))),
        "tenth": len(live) // 10,
        "half": len(live) // 2,
        "most": (9 * len(live)) // 10,
        "all": len(live),
    }
    size = sizes[kind]
    if size > len(live):
        size = len(live)
    return np.asarray(rng.permutation(np.asarray(live, dtype=np.int64))[:size], dtype=np.int64)


ALLOWED_KINDS = ["none", "empty", "one", "few", "tenth", "half", "most", "all"]


# --- (a) FlatIndex against the reference -----------------------------------------------


@settings(max_examples=90, **SETTINGS)
@example(12000, 300, 50, "duplicates", 0.1, "half", 1)  # int8 pass, filtered, huge ties
@example(5000, 64, 10, "huge", 0.0, "most", 2)  # int8 filtered path just above 4096
@example(12000, 512, 50, "tiny", 0.5, "most", 3)
@example(12000, 2, 50, "duplicates", 0.0, "none", 4)  # dim 2: almost everything ties
@example(5000, 7, 50, "mixed", 0.1, "all", 5)
@example(50, 17, 50, "gauss", 0.5, "few", 6)  # k > n
@example(3000, 128, 5, "huge", 0.5, "tenth", 7)
@example(12000, 33, 1, "gauss", 0.95, "none", 8)  # deletions drop below the int8 threshold
@given(
    n=st.sampled_from(SIZES),
    dim=st.integers(2, 512),
    k=st.integers(1, 50),
    kind=st.sampled_from(DATA_KINDS),
    delete_fraction=st.sampled_from([0.0, 0.1, 0.5, 0.95, 1.0]),
    allowed_kind=st.sampled_from(ALLOWED_KINDS),
    seed=st.integers(0, 2**32 - 1),
)
def test_flat_index_matches_reference(n, dim, k, kind, delete_fraction, allowed_kind, seed):
    rng = np.random.default_rng(seed)
    raw = make_data(rng, n, dim, kind)
    units = unit_rows(raw)
    labels = rng.permutation(10 * n + 10)[:n].astype(np.int64) + 5  # sparse, unordered
    index = FlatIndex(dim, capacity=int(rng.integers(1, 64)))  # forces growth
    for part in np.array_split(np.arange(n), int(rng.integers(1, 4))):
        index.add(labels[part], units[part].astype(np.float32))
    store = {int(label): units[i] for i, label in enumerate(labels.tolist())}
    assert len(index) == n

    def check(allowed_kind: str) -> None:
        live = list(store)
        assert len(index) == len(live)
        assert set(index.labels.tolist()) == set(live)
        for query in make_queries(rng, np.stack(list(store.values())) if store else [], dim):
            allowed = pick_allowed(rng, live, allowed_kind)
            ids, scores = index.search(query.astype(np.float32), k, allowed=allowed)
            assert ids.dtype == np.int64
            ref_labels, ref_scores = reference(store, query, allowed)
            assert_matches_reference(ids, scores, ref_labels, ref_scores, k)

    check("none")

    # delete a random subset (plus unknown labels, which are ignored) and compare again
    doomed = rng.permutation(labels)[: round(delete_fraction * n)]
    index.remove(np.concatenate([doomed, np.array([-1, 10**12], dtype=np.int64)]))
    for label in doomed.tolist():
        del store[label]
        assert label not in index
    check(allowed_kind)

    # upsert some survivors with new vectors and add fresh labels, then compare again
    survivors = np.asarray(list(store), dtype=np.int64)
    replaced = rng.permutation(survivors)[: len(survivors) // 20]
    fresh = np.arange(len(replaced) + int(rng.integers(0, 40)), dtype=np.int64) + 20 * n + 100
    new_labels = np.concatenate([replaced, fresh])
    new_units = unit_rows(make_data(rng, len(new_labels), dim, kind)) if len(new_labels) else []
    if len(new_labels):
        index.add(new_labels, np.asarray(new_units, dtype=np.float32))
        for label, vector in zip(new_labels.tolist(), new_units):
            store[label] = vector
    check(allowed_kind)


def test_flat_index_int8_path_on_adversarial_rows_is_exact():
    """A fixed large case for the int8 pass: ties, spikes and tiny rows side by side."""
    rng = np.random.default_rng(7)
    n, dim = 12000, 96
    raw = make_data(rng, n, dim, "mixed")
    raw[:2000] = raw[0]  # 2000 exact duplicates: the k-th score is a huge tie
    units = unit_rows(raw)
    index = FlatIndex(dim)
    index.add(np.arange(n, dtype=np.int64), units.astype(np.float32))
    store = dict(enumerate(units))
    queries = [*make_queries(rng, units, dim), units[0], unit_rows(units[0] + units[5000])]
    for query in queries:
        for k in (1, 10, 50, 3000):
            ids, scores = index.search(query.astype(np.float32), k)
            assert_matches_reference(ids, scores, *reference(store, query), k)
            allowed = rng.permutation(n)[:6000]  # big enough for the int8 filtered path
            ids, scores = index.search(query.astype(np.float32), k, allowed=allowed)
            assert_matches_reference(ids, scores, *reference(store, query, allowed), k)


@pytest.mark.parametrize("dim", [2, 3])
def test_flat_index_int8_path_is_exact_on_dense_low_dimensional_data(dim):
    """In 2-3 dimensions the int8 rounding error nearly reaches its bound while thousands
    of rows sit within it of the k-th score: any slack missing from the bound shows."""
    rng = np.random.default_rng(dim)
    n = 12000
    units = unit_rows(rng.standard_normal((n, dim)))
    index = FlatIndex(dim)
    index.add(np.arange(n, dtype=np.int64), units.astype(np.float32))
    labels = list(range(n))
    half = rng.permutation(n)[: n // 2]
    for _ in range(120):
        query = unit_rows(rng.standard_normal(dim).astype(np.float32).astype(np.float64))
        exact = units @ query
        for k in (1, 10, 50):
            ids, scores = index.search(query.astype(np.float32), k)
            assert_matches_reference(ids, scores, labels, exact, k)
        ids, scores = index.search(query.astype(np.float32), 20, allowed=half)
        assert_matches_reference(ids, scores, half.tolist(), exact[half], 20)


@pytest.mark.parametrize("dim", [3, 16, 128])
def test_flat_index_int8_path_is_exact_for_int8_exact_rows(dim):
    """Rows on the int8 grid have no rounding error of their own; a query just off the
    half steps carries the largest error, which the bound must still cover."""
    rng = np.random.default_rng(100 + dim)
    n = 6000
    units = unit_rows(make_data(rng, n, dim, "grid"))
    index = FlatIndex(dim)
    index.add(np.arange(n, dtype=np.int64), units.astype(np.float32))
    labels = list(range(n))
    for _ in range(40):
        raw = rng.integers(-20, 21, dim) + 0.49 * rng.choice([-1.0, 1.0], dim)
        raw[int(rng.integers(0, dim))] = 127.0
        query = unit_rows(raw.astype(np.float32).astype(np.float64))
        exact = units @ query
        for k in (1, 10, 50):
            ids, scores = index.search(query.astype(np.float32), k)
            assert_matches_reference(ids, scores, labels, exact, k)


# --- (a) SemCache(index="flat") against the reference ---------------------------------


@settings(max_examples=20, **SETTINGS)
@example(12000, 200, 50, "mixed", 0.2, 60, 1)  # int8 pass through the filtered backend
@example(5000, 64, 10, "duplicates", 0.2, None, 2)
@example(50, 3, 50, "huge", 0.6, 50, 3)  # k > matches
@given(
    n=st.sampled_from(SIZES),
    dim=st.integers(2, 512),
    k=st.integers(1, 50),
    kind=st.sampled_from(DATA_KINDS),
    delete_fraction=st.sampled_from([0.0, 0.2, 0.6, 1.0]),
    group_limit=st.sampled_from([None, 0, 1, 10, 50, 100]),
    seed=st.integers(0, 2**32 - 1),
)
def test_semcache_flat_matches_reference(n, dim, k, kind, delete_fraction, group_limit, seed):
    rng = np.random.default_rng(seed)
    raw = make_data(rng, n, dim, kind)
    cache = SemCache(index="flat")
    groups = rng.integers(0, 100, n)
    for i in range(n):
        cache.set(f"k{i}", i, vector=raw[i].astype(np.float32), metadata={"g": int(groups[i])})
    units = unit_rows(raw)
    store = dict(enumerate(units))
    doomed = rng.permutation(n)[: round(delete_fraction * n)]
    for i in doomed.tolist():
        assert cache.delete(f"k{i}")
        del store[i]
    assert len(cache) == len(store)
    filters = None if group_limit is None else {"g": {"$lt": group_limit}}
    allowed = None if group_limit is None else [i for i in store if groups[i] < group_limit]
    all_stored = np.stack(list(store.values())) if store else []
    for query in make_queries(rng, all_stored, dim):
        hits = cache.search(query.astype(np.float32), k, filters=filters)
        ids = [int(hit.key[1:]) for hit in hits]
        assert all(hit.value == int(hit.key[1:]) for hit in hits)
        assert_matches_reference(ids, [h.score for h in hits], *reference(store, query, allowed), k)


EXTREME_VECTORS = {
    "subnormal": [1e-44, 3e-44, 0.0, 2e-44],  # norm below float32's smallest normal
    "tiny": [1e-30, 3e-30, 0.0, 2e-30],
    "near-max": [3e38, 3e38, 1.0, 0.0],  # finite float32 components, norm above float32 max
    "one-huge": [3e38, 1.0, 1.0, 1.0],
}


@pytest.mark.parametrize("case", list(EXTREME_VECTORS))
def test_semcache_normalises_vectors_at_the_ends_of_float32(case):
    """Valid finite non-zero float32 vectors must be stored as unit vectors: a query equal
    to the stored vector finds it with score 1.0."""
    vector = np.array(EXTREME_VECTORS[case], dtype=np.float32)
    cache = SemCache(index="flat")
    cache.set("other", "other", vector=np.array([0.0, 0.0, 0.0, 1.0], np.float32))
    cache.set(case, case, vector=vector)
    hit = cache.search(vector, 1, with_vectors=True)[0]
    assert hit.vector is not None
    np.testing.assert_allclose(np.linalg.norm(hit.vector.astype(np.float64)), 1.0, atol=TOL)
    np.testing.assert_allclose(hit.vector, unit_rows(vector.astype(np.float64)), atol=TOL)
    assert hit.key == case
    assert abs(hit.score - 1.0) <= TOL, hit.score


# --- (b) search_batch equals per-query search ------------------------------------------


@settings(max_examples=20, **SETTINGS)
@example(12000, 128, 50, "duplicates", 8, 1)
@example(5000, 2, 10, "mixed", 5, 2)
@given(
    n=st.sampled_from([1, 50, 5000, 12000]),
    dim=st.integers(2, 256),
    k=st.integers(1, 50),
    kind=st.sampled_from(DATA_KINDS),
    n_queries=st.integers(2, 12),
    seed=st.integers(0, 2**32 - 1),
)
def test_search_batch_equals_search(n, dim, k, kind, n_queries, seed):
    rng = np.random.default_rng(seed)
    raw = make_data(rng, n, dim, kind)
    units = unit_rows(raw)
    queries = np.stack(
        [q for _ in range(n_queries // 2 + 1) for q in make_queries(rng, units, dim)]
    )[:n_queries]

    index = FlatIndex(dim)
    index.add(np.arange(n, dtype=np.int64), units.astype(np.float32))
    index.remove(np.arange(0, n, 3, dtype=np.int64))
    batch = index.search_batch(queries.astype(np.float32), k)
    assert len(batch) == n_queries
    for query, (ids, scores) in zip(queries, batch):
        single_ids, single_scores = index.search(query.astype(np.float32), k)
        assert_equivalent(ids, scores, single_ids, single_scores)

    cache = SemCache(index="flat")
    for i in range(n):
        cache.set(f"k{i}", i, vector=raw[i].astype(np.float32))
    for i in range(0, n, 3):
        cache.delete(f"k{i}")
    store = {i: units[i] for i in range(n) if i % 3}
    as_matrix = cache.search_batch(queries.astype(np.float32), k)
    as_list = cache.search_batch(list(queries), k)
    assert len(as_matrix) == len(as_list) == n_queries
    for query, hits_m, hits_l in zip(queries, as_matrix, as_list):
        single = cache.search(query, k)
        for hits in (hits_m, hits_l):
            assert_equivalent(
                [int(h.key[1:]) for h in hits],
                [h.score for h in hits],
                [int(h.key[1:]) for h in single],
                [h.score for h in single],
            )
            assert_matches_reference(
                [int(h.key[1:]) for h in hits], [h.score for h in hits], *reference(store, query), k
            )


# --- (c) HNSW recall on clustered data -------------------------------------------------


def clustered(rng: np.random.Generator, n: int, centers: np.ndarray, spread: float):
    """``n`` points and 100 queries around the Gaussian ``centers``."""
    clusters, dim = centers.shape
    data = centers[rng.integers(0, clusters, n)] + spread * rng.standard_normal((n, dim))
    queries = centers[rng.integers(0, clusters, 100)] + spread * rng.standard_normal((100, dim))
    return data.astype(np.float32), queries.astype(np.float32)


def recall_at_10(cache: SemCache, units: np.ndarray, alive: np.ndarray, queries) -> float:
    """Mean recall@10 of ``cache.search`` against exact search over the live rows."""
    recalls = []
    for query in queries:
        q = unit_rows(query.astype(np.float64))
        exact = units @ q
        exact[~alive] = -np.inf
        truth = set(np.argsort(-exact, kind="stable")[:10].tolist())
        hits = cache.search(query, 10)
        assert len(hits) == 10
        got = [int(hit.key[1:]) for hit in hits]
        assert len(set(got)) == 10
        assert all(alive[i] for i in got), "a deleted entry came back"
        for hit, i in zip(hits, got):
            assert abs(hit.score - exact[i]) <= 1e-4
            assert hit.value == i
        recalls.append(len(truth & set(got)) / 10)
    return float(np.mean(recalls))


def test_hnsw_recall_on_clustered_data_with_deletions():
    rng = np.random.default_rng(2024)
    n, dim = 20_000, 64
    centers = rng.standard_normal((200, dim))
    data, queries = clustered(rng, n, centers, spread=0.1)
    units = unit_rows(data)
    cache = SemCache(index="hnsw")
    for i in range(n):
        cache.set(f"k{i}", i, vector=data[i])
    index = cache.backend.index_for("")
    assert index is not None and index.kind == "hnsw"
    alive = np.ones(n, dtype=bool)
    assert recall_at_10(cache, units, alive, queries) >= 0.95

    doomed = rng.permutation(n)[: n // 5]
    for i in doomed.tolist():
        assert cache.delete(f"k{i}")
    alive[doomed] = False
    assert len(index) == len(index.hnsw) == n - len(doomed)
    assert recall_at_10(cache, units, alive, queries) >= 0.95
    # querying with a deleted entry's own vector must never bring it back
    for i in doomed[:300].tolist():
        keys = {hit.key for hit in cache.search(data[i], 10)}
        assert f"k{i}" not in keys
        assert all(alive[int(key[1:])] for key in keys)
    # search_batch on the graph answers like search
    for batch_hits, query in zip(cache.search_batch(queries[:20], 10), queries[:20]):
        assert [h.key for h in batch_hits] == [h.key for h in cache.search(query, 10)]

    # new entries reuse the deleted slots and are found
    extra, _ = clustered(rng, 2000, centers, spread=0.1)
    for j, vector in enumerate(extra):
        cache.set(f"k{n + j}", n + j, vector=vector)
    units = np.concatenate([units, unit_rows(extra)])
    alive = np.concatenate([alive, np.ones(len(extra), dtype=bool)])
    assert len(index.hnsw) == int(alive.sum())
    found = sum(
        f"k{n + j}" in {hit.key for hit in cache.search(extra[j], 10)} for j in range(0, 2000, 10)
    )
    assert found == 200
    assert recall_at_10(cache, units, alive, queries) >= 0.95


def test_hnsw_churn_reuses_deleted_slots_and_grows_past_capacity():
    """Delete/add cycles: freed graph slots are reused and the graph still grows when the
    live count passes its capacity; nothing deleted comes back, everything live is found."""
    rng = np.random.default_rng(31)
    dim = 24
    cache = SemCache(index="hnsw")
    vectors: dict[int, np.ndarray] = {}
    gone: list[int] = []
    next_id = 0
    for _ in range(6):
        for _ in range(700):
            vectors[next_id] = rng.standard_normal(dim).astype(np.float32)
            cache.set(f"k{next_id}", next_id, vector=vectors[next_id])
            next_id += 1
        for i in rng.permutation(sorted(vectors))[:400].tolist():
            assert cache.delete(f"k{i}")
            gone.append(i)
            del vectors[i]
        index = cache.backend.index_for("")
        assert len(index.hnsw) == len(index) == len(vectors)
    assert len(vectors) == 1800  # past the graph's initial capacity of 1024
    for i in sorted(vectors)[::9]:
        assert f"k{i}" in {hit.key for hit in cache.search(vectors[i], 10)}
    for i in gone[::9]:
        keys = {hit.key for hit in cache.search(rng.standard_normal(dim), 10)}
        keys |= {hit.key for hit in cache.search(np.ones(dim) + 0.01 * i, 10)}
        assert all(int(key[1:]) in vectors for key in keys)


# --- (d) auto: crossing the threshold, with writes during the background build ----------


def test_auto_switches_to_hnsw_and_reflects_writes_during_build():
    rng = np.random.default_rng(99)
    threshold, dim = 2000, 32
    data, queries = clustered(rng, 6000, rng.standard_normal((100, dim)), spread=0.15)
    units = unit_rows(data)
    cache = SemCache(index="auto", hnsw_threshold=threshold)
    for i in range(threshold - 1):
        cache.set(f"k{i}", i, vector=data[i])
    index = cache.backend.index_for("")
    assert index is not None and index.kind == "flat" and index.hnsw is None

    alive = np.zeros(len(data), dtype=bool)
    alive[: threshold - 1] = True
    added_during_build: list[int] = []
    deleted: list[int] = []
    try:
        # Hold the backend's lock (the builder takes it per chunk) so these writes certainly
        # land while the graph is still being built.
        with cache.backend._lock:
            cache.set(f"k{threshold - 1}", threshold - 1, vector=data[threshold - 1])
            alive[threshold - 1] = True
            assert index.hnsw is not None and index.kind == "flat"  # building
            for i in range(threshold, threshold + 500):
                cache.set(f"k{i}", i, vector=data[i])
                alive[i] = True
                added_during_build.append(i)
            for i in [*range(0, 1000, 5), *range(threshold, threshold + 500, 7)]:
                assert cache.delete(f"k{i}")
                alive[i] = False
                deleted.append(i)
            assert index.kind == "flat"
        # and some more writes racing with the builder's chunks
        for i in range(threshold + 500, threshold + 1500):
            cache.set(f"k{i}", i, vector=data[i])
            alive[i] = True
            added_during_build.append(i)
            if i % 50 == 0:  # exact (flat) while building, graph afterwards: found either way
                assert f"k{i}" in {hit.key for hit in cache.search(data[i], 10)}
            if i % 4 == 0:
                victim = int(rng.integers(0, i))
                if alive[victim]:
                    assert cache.delete(f"k{victim}")
                    alive[victim] = False
                    deleted.append(victim)
    finally:  # never leave a builder thread running past a failed test
        built = index.wait_until_built(timeout=60)
    assert built
    assert index.kind == "hnsw"
    live = np.flatnonzero(alive)
    assert len(index) == len(index.hnsw) == len(live)
    assert all(int(label) in index.hnsw for label in index.flat.labels.tolist())

    for i in deleted[:400]:
        keys = {hit.key for hit in cache.search(data[i], 10)}
        assert f"k{i}" not in keys
        assert all(alive[int(key[1:])] for key in keys)
    added_alive = [i for i in added_during_build if alive[i]]
    for i in added_alive[::5]:
        assert f"k{i}" in {hit.key for hit in cache.search(data[i], 10)}, i
    assert recall_at_10(cache, units, alive, queries) >= 0.95

    # after the build every add goes straight into the graph
    for i in range(threshold + 1500, threshold + 1700):
        cache.set(f"k{i}", i, vector=data[i])
        alive[i] = True
    assert len(index.hnsw) == len(index.flat) == int(alive.sum())
    assert recall_at_10(cache, units, alive, queries) >= 0.95


@pytest.mark.parametrize("mode", ["flat", "hnsw", "auto"])
def test_k_larger_than_namespace(mode):
    rng = np.random.default_rng(5)
    data = rng.standard_normal((7, 16)).astype(np.float32)
    cache = SemCache(index=mode, hnsw_threshold=3)
    for i, vector in enumerate(data):
        cache.set(f"k{i}", i, vector=vector)
    index = cache.backend.index_for("")
    assert index is not None and index.wait_until_built(timeout=30)
    cache.delete("k3")
    store = {i: unit_rows(v.astype(np.float64)) for i, v in enumerate(data) if i != 3}
    for query in data:
        q = unit_rows(query.astype(np.float64))
        hits = cache.search(query, 50)
        assert_matches_reference(
            [int(h.key[1:]) for h in hits], [h.score for h in hits], *reference(store, q), 50
        )
