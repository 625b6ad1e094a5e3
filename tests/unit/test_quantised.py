"""The int8 batch pass gives every query exactly the candidates a single search gives it.

``batch_candidates`` scores all queries with one threaded int8 matrix product and prunes
by a running lower bound; ``candidates`` is the single-query rule. Equal candidate rows mean
equal re-scored answers, so ``FlatIndex.search_batch`` answers bit for bit like
``FlatIndex.search``. The data below is chosen so that the pruning bounds decide things:
near-duplicates and low-rank rows score within the int8 rounding of each other.
"""

from __future__ import annotations

import itertools
import multiprocessing
import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from threads import run_threads

from semcache_core import InvalidArgumentError, SemCache
from semcache_core.index import FlatIndex
from semcache_core.index.quantised import (
    batch_candidates,
    candidates,
    quantise_queries,
    quantise_rows,
)
from semcache_core.parallel import THREADS_VARIABLE, run_in_threads, worker_count

DATA_KINDS = ["gauss", "near_duplicates", "low_rank", "int8_grid"]


def unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def make_rows(rng: np.random.Generator, n: int, dim: int, kind: str) -> np.ndarray:
    if kind == "near_duplicates":  # a few directions, each repeated with tiny noise
        base = rng.standard_normal((int(rng.integers(1, 6)), dim))
        rows = base[rng.integers(0, len(base), n)] + 1e-3 * rng.standard_normal((n, dim))
    elif kind == "low_rank":  # a plane or 3-space: neighbours far closer than int8 steps
        basis = rng.standard_normal((min(dim, int(rng.integers(1, 4))), dim))
        rows = rng.standard_normal((n, len(basis))) @ basis
    elif kind == "int8_grid":  # rows exactly on the int8 grid: zero row error
        rows = rng.integers(-20, 21, (n, dim)).astype(np.float64)
        rows[np.arange(n), rng.integers(0, dim, n)] = 127.0
    else:
        rows = rng.standard_normal((n, dim))
    rows[np.abs(rows).max(axis=1) == 0] = 1.0  # no all-zero row
    return unit(rows)


def make_queries(rng: np.random.Generator, rows: np.ndarray, m: int) -> np.ndarray:
    """Random directions mixed with stored rows, near rows and negated rows."""
    picks = rows[rng.integers(0, len(rows), m)]
    noise = rng.standard_normal(picks.shape)
    kinds = rng.integers(0, 4, m)[:, None]
    queries = np.where(kinds == 0, noise, np.where(kinds == 1, picks, picks + 1e-3 * noise))
    queries = np.where(kinds == 3, -picks, queries)
    return unit(queries)


def single_candidates(rows: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    codes, scales, errors = quantise_rows(rows)
    quantised = quantise_queries(query[None])
    dots = (codes.astype(np.int64) @ quantised.codes[0].astype(np.int64)).astype(np.float64)
    return candidates(dots, scales, errors, quantised, [0, len(rows)], k)[0]


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@example(n=9000, dim=24, m=9, k=10, kind="near_duplicates", chunk_scores=2000, threads=2, seed=1)
@example(n=8500, dim=3, m=5, k=40, kind="low_rank", chunk_scores=1 << 20, threads=3, seed=2)
@example(n=40, dim=1, m=4, k=40, kind="gauss", chunk_scores=64, threads=2, seed=3)  # k ~ n
@given(
    n=st.integers(33, 9000),  # a thread takes >= 2048 rows: up to four parts
    dim=st.integers(1, 70),
    m=st.integers(1, 9),
    k=st.integers(1, 40),
    kind=st.sampled_from(DATA_KINDS),
    chunk_scores=st.sampled_from([64, 2000, 1 << 20]),
    threads=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_batch_candidates_are_the_single_query_candidates(
    n, dim, m, k, kind, chunk_scores, threads, seed
) -> None:
    rng = np.random.default_rng(seed)
    rows = make_rows(rng, n, dim, kind)
    queries = make_queries(rng, rows, m)
    codes, scales, errors = quantise_rows(rows)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(THREADS_VARIABLE, str(threads))
        found = batch_candidates(codes, scales, errors, queries, k, chunk_scores=chunk_scores)
    assert len(found) == m
    for query, positions in zip(queries, found):
        expected = single_candidates(rows, query, k)
        assert positions.tolist() == expected.tolist()
        # and the rule itself is sound: no row of the exact top k is left out
        truth = rows.astype(np.float64) @ query.astype(np.float64)
        kth = np.sort(truth)[::-1][min(k, n) - 1]
        assert set(np.flatnonzero(truth >= kth - 1e-6).tolist()) <= set(positions.tolist())


def test_concurrent_batches_each_get_their_own_answers(monkeypatch) -> None:
    """Batches from several threads at once share the worker pool and the spare buffers."""
    monkeypatch.setenv(THREADS_VARIABLE, "2")
    rng = np.random.default_rng(12)
    cases = []
    for seed in range(6):
        rows = make_rows(np.random.default_rng(seed), 5000, 12, DATA_KINDS[seed % 4])
        cases.append((rows, make_queries(rng, rows, 5), [9, 2, 33][seed % 3]))
    barrier = threading.Barrier(len(cases))

    def run(case: tuple) -> list[np.ndarray]:
        rows, queries, k = case
        barrier.wait()
        return batch_candidates(*quantise_rows(rows), queries, k, chunk_scores=3000)

    results: dict[int, list[np.ndarray]] = {}
    run_threads([lambda c=c, i=i: results.__setitem__(i, run(c)) for i, c in enumerate(cases)])
    for i, (rows, queries, k) in enumerate(cases):
        for query, positions in zip(queries, results[i]):
            assert positions.tolist() == single_candidates(rows, query, k).tolist()


def test_candidates_hold_the_exact_top_k_when_int8_scores_disagree() -> None:
    """Near-duplicates: the int8 order differs from the float order, the candidates do not
    miss any row of the exact top k (the bounds, not the int8 ranking, decide)."""
    rng = np.random.default_rng(11)
    rows = make_rows(rng, 3000, 16, "near_duplicates")
    queries = make_queries(rng, rows, 8)
    found = batch_candidates(*quantise_rows(rows), queries, 10, chunk_scores=500)
    int8_order_differs = False
    for query, positions in zip(queries, found):
        exact = np.argsort(-(rows @ query), kind="stable")[:10]
        assert set(exact.tolist()) <= set(positions.tolist())
        codes, _, _ = quantise_rows(rows)
        query_codes = quantise_queries(query[None]).codes[0]
        by_int8 = np.argsort(-(codes.astype(np.int64) @ query_codes), kind="stable")
        int8_order_differs |= set(by_int8[:10].tolist()) != set(exact.tolist())
    assert int8_order_differs  # otherwise this data would not test the bounds


@pytest.fixture(scope="module")
def index() -> tuple[FlatIndex, np.ndarray]:
    """~10k rows (the int8 batch path needs >= 512 per wanted result), churned."""
    rng = np.random.default_rng(21)
    rows = make_rows(rng, 12_000, 48, "near_duplicates")
    flat = FlatIndex(48)
    flat.add(np.arange(12_000, dtype=np.int64) * 5, rows)
    flat.remove(np.arange(0, 12_000 * 5, 35, dtype=np.int64))  # swap-removes move rows
    flat.add(np.arange(3, 5 * 300, 5, dtype=np.int64), rows[:300][::-1].copy())  # replace
    return flat, make_queries(rng, rows, 24)


@pytest.mark.parametrize("threads", ["1", "2", "5"])
@pytest.mark.parametrize("filtered", [False, True])
def test_flat_search_batch_answers_bit_for_bit_like_search(
    index: tuple[FlatIndex, np.ndarray], threads: str, filtered: bool, monkeypatch
) -> None:
    flat, queries = index
    # the int8 path needs >= 4096 allowed rows (and 1/8 of all), 5120 for k = 10
    allowed = np.random.default_rng(3).permutation(flat.labels)[:6000] if filtered else None
    monkeypatch.setenv(THREADS_VARIABLE, threads)
    for k in (1, 10):
        batch = flat.search_batch(queries, k, allowed)
        for query, (labels, scores) in zip(queries, batch):
            single_labels, single_scores = flat.search(query, k, allowed)
            assert labels.tolist() == single_labels.tolist()
            assert scores.tobytes() == single_scores.tobytes()
            if allowed is not None:
                assert set(labels.tolist()) <= set(allowed.tolist())


def test_cache_batches_stay_sound_beside_writers(monkeypatch) -> None:
    """Searchers run int8 batches (filtered and not) on two threads each while writers add
    and delete: every batch is well formed, and afterwards batches equal single searches."""
    monkeypatch.setenv(THREADS_VARIABLE, "2")
    rng = np.random.default_rng(31)
    rows = make_rows(rng, 7000, 16, "near_duplicates")
    cache = SemCache(index="flat")
    cache.set_many(
        [(f"k{i}", i) for i in range(6000)],
        vectors=rows[:6000],
        metadatas=[{"group": i % 3} for i in range(6000)],
    )
    queries = make_queries(rng, rows, 6)
    every_group = {"group": {"$ne": -1}}  # allows all: still the int8 path
    failures: list[BaseException] = []
    writing = threading.Event()
    writing.set()

    def search(filters: dict | None) -> None:
        try:
            while writing.is_set():
                for hits in cache.search_batch(queries, 10, filters=filters):
                    assert len({hit.key for hit in hits}) == len(hits) == 10
                    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
        except BaseException as failure:  # reported by the main thread
            failures.append(failure)

    def write(first: int) -> None:
        try:
            for i in range(first, 7000, 2):
                cache.set(f"k{i}", i, vector=rows[i], metadata={"group": i % 3})
                cache.delete(f"k{i - 6000}")
        except BaseException as failure:
            failures.append(failure)

    searchers = [threading.Thread(target=search, args=(f,)) for f in (None, every_group)]
    for thread in searchers:
        thread.start()
    run_threads([lambda: write(6000), lambda: write(6001)])
    writing.clear()
    for thread in searchers:
        thread.join(60)
    assert not failures, failures
    assert len(cache) == 6000
    for filters in (None, every_group):
        batch = cache.search_batch(queries, 10, filters=filters)
        assert batch == [cache.search(query, 10, filters=filters) for query in queries]


# --- the thread count and the shared pool ----------------------------------------------


@pytest.mark.parametrize("raw", ["0", "-2", "two", "1.5"])
def test_a_bad_thread_count_is_refused_by_name_and_changes_nothing(
    index: tuple[FlatIndex, np.ndarray], raw: str, monkeypatch
) -> None:
    flat, queries = index
    before = (len(flat), flat.labels.tolist())
    monkeypatch.setenv(THREADS_VARIABLE, raw)
    with pytest.raises(InvalidArgumentError, match=THREADS_VARIABLE) as caught:
        flat.search_batch(queries, 10)
    assert isinstance(caught.value, ValueError)
    assert repr(raw) in str(caught.value)
    assert (len(flat), flat.labels.tolist()) == before


def test_without_a_setting_every_usable_core_works(monkeypatch) -> None:
    monkeypatch.delenv(THREADS_VARIABLE, raising=False)
    assert worker_count() >= 1
    monkeypatch.setenv(THREADS_VARIABLE, " ")
    assert worker_count() >= 1
    monkeypatch.setenv(THREADS_VARIABLE, "7")
    assert worker_count() == 7


def test_run_in_threads_keeps_order_and_uses_other_threads() -> None:
    names = run_in_threads(lambda part: (part, threading.current_thread().name), [0, 1, 2])
    assert [part for part, _ in names] == [0, 1, 2]
    assert any(name.startswith("semcache-worker") for _, name in names)


def test_run_in_threads_raises_only_after_every_part_is_done() -> None:
    finished = []

    def work(part: int) -> int:
        if part == 0:
            raise RuntimeError("part 0 failed")
        time.sleep(0.05)  # still running when part 0 has already failed
        finished.append(part)
        if part == 2:
            raise RuntimeError("part 2 failed")
        return part

    with pytest.raises(RuntimeError, match="part 0 failed"):  # on the calling thread
        run_in_threads(work, [0, 1])
    assert finished == [1]
    with pytest.raises(RuntimeError, match="part 2 failed"):  # on a pool thread
        run_in_threads(work, [1, 2])
    assert sorted(finished) == [1, 1, 2]


def _batch_in_child(connection) -> None:
    connection.send(run_in_threads(lambda part: part * 2, [1, 2, 3]))
    connection.close()


def test_a_forked_child_gets_its_own_pool() -> None:
    """The parent's worker threads do not exist in a forked child: it must not wait on them."""
    assert run_in_threads(lambda part: part, [1, 2]) == [1, 2]  # the parent's pool exists
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_batch_in_child, args=(sender,))
    child.start()
    child.join(timeout=30)
    assert child.exitcode == 0
    assert receiver.recv() == [2, 4, 6]


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    dim=st.sampled_from([3, 64, 384, 385]),
    rows=st.integers(2, 9),
)
def test_a_row_coded_alone_gets_the_codes_scale_and_error_of_a_batch(
    seed: int, dim: int, rows: int
) -> None:
    """A ``get_or_compute`` miss codes its one row apart; the pruning bounds must not depend
    on that: bit for bit what coding it among others gives (BLAS's dot summed the residual
    in another order than the batch's einsum, and the last bit of the error differed)."""
    vectors = unit(np.random.default_rng(seed).standard_normal((rows, dim)))
    batch = quantise_rows(vectors)
    for i in range(rows):
        alone = quantise_rows(vectors[i : i + 1])
        for part_alone, part_batch in zip(alone, batch):
            assert part_alone.dtype == part_batch.dtype
            assert np.array_equal(part_alone[0], part_batch[i])
