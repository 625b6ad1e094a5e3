"""A ``get_or_compute`` miss whose function returns a list of floats is written in one step
(``LocalBackend.add_float_list``: the unit row straight into the index, no ``EntryWrite``).

That step must leave exactly what the general write (``computed_writes`` + ``set_many``)
leaves: the same entries, values to the bit, labels, LRU order, expiries, search results
and counters, whatever came before it (other namespaces, plain values, replaced and
deleted keys, expiry, eviction, a snapshot's cold entries, graph indexes). A cache whose
one-step write is switched off is the reference.

The computing call returns the function's own list when storing it rounded nothing;
every waiter gets a list of its own, made from what was stored.
"""

from __future__ import annotations

import gc
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semcache_core import SemCache, _speedups
from semcache_core.backends.base import EntryWrite
from semcache_core.backends.local import LocalBackend
from semcache_core.errors import DimensionMismatchError

DIM = 6


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def float32_unit(rng: np.random.Generator, dim: int = DIM) -> list[float]:
    """An embedding as most models give it: unit length, float32 values (reads back as is)."""
    row = rng.standard_normal(dim).astype(np.float32)
    return (row / np.linalg.norm(row)).astype(np.float32).tolist()


def result_of(kind: str, rng: np.random.Generator) -> Any:
    """What a function returns, by kind: embeddings the one-step write takes or refuses,
    and values that are not embeddings at all."""
    if kind == "unit32":
        return float32_unit(rng)
    if kind == "float64":  # rounded to float32 when stored: a list of its own comes back
        return (rng.standard_normal(DIM) * 10.0).tolist()
    if kind == "float32":
        return (rng.standard_normal(DIM) * 3.0).astype(np.float32).tolist()
    if kind == "ints":
        return rng.integers(-5, 5, DIM).tolist()
    if kind == "mixed":
        return [1, *rng.standard_normal(DIM - 1).tolist()]
    if kind == "nan":
        return [float("nan"), *rng.standard_normal(DIM - 1).tolist()]
    if kind == "zeros":
        return [0.0] * DIM
    if kind == "tiny":  # every component underflows float32
        return [1e-46] * DIM
    if kind == "huge":
        return [3e38] + [1.0] * (DIM - 1)
    if kind == "other_dim":
        return rng.standard_normal(DIM + 1).tolist()
    if kind == "tuple":
        return tuple(rng.standard_normal(DIM).tolist())
    if kind == "array":
        return rng.standard_normal(DIM).astype(np.float32)
    if kind == "negative_zero":
        return [-0.0, *float32_unit(rng, DIM - 1)]
    return {"plain": kind}


KINDS = [
    "unit32",
    "unit32",
    "unit32",
    "float64",
    "float32",
    "ints",
    "mixed",
    "nan",
    "zeros",
    "tiny",
    "huge",
    "other_dim",
    "tuple",
    "array",
    "negative_zero",
    "dict",
]

ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("compute"),
            st.sampled_from(["", "b"]),
            st.integers(0, 7),
            st.sampled_from(KINDS),
            st.sampled_from([None, None, 5.0, 50.0]),  # ttl
            st.sampled_from([None, None, {"tag": "x"}]),  # metadata
            st.sampled_from([None, None, True, False]),  # index=
        ),
        st.tuples(st.just("set"), st.sampled_from(["", "b"]), st.integers(0, 7), st.booleans()),
        st.tuples(st.just("delete"), st.sampled_from(["", "b"]), st.integers(0, 7)),
        st.tuples(st.just("advance"), st.sampled_from([1.0, 6.0, 60.0])),
        st.tuples(st.just("search"), st.sampled_from(["", "b"])),
        st.tuples(st.just("reload")),
        st.tuples(st.just("clear"), st.sampled_from([None, "", "b"])),
    ),
    max_size=40,
)

CONFIGS = [
    {"index": "flat"},
    {"index": "flat", "max_entries": 5},
    {"index": "auto", "hnsw_threshold": 4},
    {"index": "hnsw"},
]


def bits(value: Any) -> Any:
    """A value compared to the bit (NaN equal to itself, -0.0 unequal to 0.0)."""
    if isinstance(value, list) and all(type(x) is float for x in value):
        return ("floats", np.asarray(value, dtype=np.float64).tobytes())
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.tobytes())
    if isinstance(value, list) and value and hasattr(value[0], "score"):  # search hits
        return ("hits", [(hit.key, hit.score) for hit in value])
    return ("value", repr(value))


def returning(value: Any) -> Any:
    return lambda _: value


def agree(caches: tuple[SemCache, ...], method: str, *args: Any, **kwargs: Any) -> None:
    """Both caches give the same answer (or raise the same error type) to one call."""
    outcomes = []
    for cache in caches:
        try:
            outcomes.append(bits(getattr(cache, method)(*args, **kwargs)))
        except Exception as exc:
            outcomes.append(("error", type(exc).__name__))
    assert outcomes[0] == outcomes[1], (method, args, kwargs)


def state(cache: SemCache) -> Any:
    """Everything a cache holds and how it answers: the backend's exported columns (LRU
    order, labels, values, expiries), its vectors, and its counters."""
    exported = cache.backend.export_state(cache.now())  # type: ignore[attr-defined]
    exported.wait_for_vectors()
    spaces = sorted(
        (
            space.name,
            space.labels.tolist(),
            None if space.vectors is None else np.asarray(space.vectors).tobytes(),
        )
        for space in exported.spaces
    )
    stats = cache.stats()
    return (
        exported.keys,
        exported.values,
        exported.metadata,
        exported.namespaces,
        exported.expires_at,
        exported.labels,
        exported.next_label,
        spaces,
        (stats.size, stats.hits, stats.misses, stats.computes, stats.evictions),
    )


def general(cache: SemCache) -> SemCache:
    """The reference: the same cache with its one-step write switched off."""
    cache._add_float_list = None
    return cache


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(map(str, c.values())))
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=ops, seed=st.integers(0, 2**32 - 1))
def test_the_one_step_write_leaves_what_the_general_write_leaves(
    config: dict[str, Any], steps: list[tuple[Any, ...]], seed: int, tmp_path: Path
) -> None:
    clock = Clock()
    fast, reference = SemCache(clock=clock, **config), general(SemCache(clock=clock, **config))
    assert fast._add_float_list is not None
    rng = np.random.default_rng(seed)
    for step_no, step in enumerate(steps):
        caches = (fast, reference)
        if step[0] == "compute":
            _, namespace, key_no, kind, ttl, metadata, index = step
            options = {"ttl": ttl, "namespace": namespace, "metadata": metadata, "index": index}
            fn = returning(result_of(kind, rng))
            agree(caches, "get_or_compute", f"k{key_no}", fn, **options)
        elif step[0] == "set":
            _, namespace, key_no, with_vector = step
            vector = float32_unit(rng) if with_vector else None
            agree(caches, "set", f"k{key_no}", {"set": step_no}, vector=vector, namespace=namespace)
        elif step[0] == "delete":
            agree(caches, "delete", f"k{step[2]}", namespace=step[1])
        elif step[0] == "advance":
            clock.now += step[1]
        elif step[0] == "search":
            agree(caches, "search", float32_unit(rng), k=4, namespace=step[1])
        elif step[0] == "reload":  # the snapshot's entries come back cold
            fast.dump(tmp_path / "fast")
            reference.dump(tmp_path / "reference")
            fast = SemCache.from_snapshot(tmp_path / "fast", clock=clock, **config)
            reference = general(
                SemCache.from_snapshot(tmp_path / "reference", clock=clock, **config)
            )
        else:
            agree(caches, "clear", step[1])
        assert state(fast) == state(reference), step


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(map(str, c.values())))
def test_a_fill_by_misses_leaves_what_the_general_write_leaves(config: dict[str, Any]) -> None:
    """Many misses in a row: past ``max_entries`` (evictions), the ``auto`` threshold, and
    the int8 coding batch; TTLs expiring on the way."""
    clock = Clock()
    fast, reference = SemCache(clock=clock, **config), general(SemCache(clock=clock, **config))
    rng = np.random.default_rng(5)
    for i in range(1_100):
        row = float32_unit(rng)
        ttl = [None, 3.0, 30.0][i % 3]
        for cache in (fast, reference):
            assert cache.get_or_compute(f"k{i}", returning(row), ttl=ttl) == row
        if i % 7 == 0:
            clock.now += 1.0
        if i % 97 == 0:
            assert state(fast) == state(reference)
            query = float32_unit(rng)
            assert [(h.key, h.score) for h in fast.search(query, k=5)] == [
                (h.key, h.score) for h in reference.search(query, k=5)
            ]
    assert state(fast) == state(reference)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(KINDS))
def test_a_miss_returns_the_functions_own_list_only_when_it_reads_back_unchanged(
    seed: int, kind: str
) -> None:
    rng = np.random.default_rng(seed)
    cache = SemCache()
    cache.get_or_compute("first", lambda _: float32_unit(rng))  # fixes the dimension
    result = result_of(kind, rng)
    given_bits = bits(result)
    got = cache.get_or_compute("k", lambda _: result)
    read = cache.get_or_compute("k", lambda _: 1 / 0)
    assert bits(got) == bits(read)  # what every later read gives, to the bit
    assert bits(result) == given_bits  # the function's list is never changed
    if got is result:
        assert bits(result) == bits(read)
    elif kind == "unit32":
        pytest.fail("a float32 embedding read back unchanged, yet was copied")
    if isinstance(got, list):
        got.append(1.0)  # the caller's list: the cache's entry does not change
        assert bits(cache.get_or_compute("k", lambda _: 1 / 0)) == bits(read)


def test_waiters_get_lists_of_their_own_made_before_the_leader_returns() -> None:
    """The leader's caller holds the function's own list and may change it at once: each
    waiter's value was copied before, and is nobody else's."""
    rng = np.random.default_rng(7)
    cache = SemCache()
    cache.get_or_compute("first", lambda _: float32_unit(rng))
    embedding = float32_unit(rng)
    expected = list(embedding)
    waiters_in = threading.Event()

    def slow(_: str) -> list[float]:
        assert waiters_in.wait(10)
        return embedding

    got: dict[str, Any] = {}

    def lead() -> None:
        value = got["leader"] = cache.get_or_compute("k", slow)
        value[:] = [9.0] * DIM  # the caller's own business, at once

    def follow(name: str) -> None:
        got[name] = cache.get_or_compute("k", slow)

    leader = threading.Thread(target=lead)
    leader.start()
    while not cache._flights._flights:  # the leader holds the key's place
        pass
    followers = [threading.Thread(target=follow, args=(f"w{i}",)) for i in range(3)]
    for thread in followers:
        thread.start()
    while cache._flights.waiting(("", "k")) < 3:
        pass
    waiters_in.set()
    for thread in (leader, *followers):
        thread.join(10)
    assert got["leader"] is embedding
    values = [got[f"w{i}"] for i in range(3)]
    assert all(value == expected for value in values)
    assert len({id(value) for value in values} | {id(embedding)}) == 4
    assert cache.get("k") == expected


def test_a_backend_subclass_that_intercepts_set_many_sees_every_computed_write() -> None:
    seen: list[str] = []

    class Recording(LocalBackend):
        def set_many(self, writes: list[EntryWrite], now: float) -> None:
            seen.extend(write.key for write in writes)
            super().set_many(writes, now)

    cache = SemCache(backend=Recording())
    rng = np.random.default_rng(3)
    for i in range(5):
        cache.get_or_compute(f"k{i}", lambda _: float32_unit(rng))
    assert seen == [f"k{i}" for i in range(5)]
    assert cache._add_float_list is None


@pytest.mark.parametrize("index", ["auto", "hnsw"])
def test_graph_indexes_find_the_rows_written_in_one_step(index: str) -> None:
    rng = np.random.default_rng(11)
    cache = SemCache(index=index, hnsw_threshold=50)
    rows = {f"k{i}": float32_unit(rng, 16) for i in range(1_500)}  # the graph answers
    for key, row in rows.items():
        cache.get_or_compute(key, lambda _, row=row: row)
    cache.backend._spaces[""].index.wait_until_built()  # type: ignore[attr-defined]
    assert cache.backend._spaces[""].index.kind == "hnsw"  # type: ignore[attr-defined]
    for key in list(rows)[::100]:
        assert cache.get_similar(rows[key], 0.99) == rows[key]


def test_unit_into_writes_the_row_and_refuses_what_it_cannot_write() -> None:
    matrix = np.zeros((2, 3), np.float32)
    values = [0.6, 0.8, 0.0]
    norm, back, row = _speedups.unit_into(values, matrix, 1)
    assert norm == pytest.approx(1.0) and matrix[0].tolist() == [0.0, 0.0, 0.0]
    assert row == matrix[1].tobytes()
    assert np.array_equal(matrix[1], np.asarray(values, np.float32) / np.float32(norm))
    assert back == [float(np.float32(x)) for x in values]
    assert _speedups.unit_into([1, 2, 3], matrix, 0) is None  # ints: the general path's
    assert _speedups.unit_into([1.0, 2.0], matrix, 0) is None  # another dimension
    for bad_matrix, row in [
        (matrix, 2),
        (matrix, -1),
        (np.zeros((2, 3), np.float64), 0),
        (np.zeros(3, np.float32), 0),
        (np.zeros((3, 2), np.float32).T, 0),
    ]:
        with pytest.raises(ValueError, match=r"unit_into|contiguous"):
            _speedups.unit_into(values, bad_matrix, row)
    frozen = np.zeros((2, 3), np.float32)
    frozen.flags.writeable = False
    with pytest.raises((BufferError, ValueError)):
        _speedups.unit_into(values, frozen, 0)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(width=64) | st.floats(width=32), min_size=1, max_size=12))
def test_unit_into_agrees_with_unit_of_float_list(values: list[float]) -> None:
    matrix = np.full((3, len(values)), 7.0, np.float32)
    found = _speedups.unit_into(values, matrix, 2)
    reference = _speedups.unit_of_float_list(values, None)
    assert (found is None) == (reference is None)
    if found is None or reference is None:
        return
    (norm, back, row), (want_norm, unit, want_back) = found, reference
    assert bits([norm]) == bits([want_norm])
    assert matrix[2].tobytes() == unit == row and (matrix[:2] == 7.0).all()
    assert bits(back) == bits(want_back)
    assert (back is values) == (bits(want_back) == bits(values))


def test_waiters_get_the_stored_value_even_when_the_functions_list_changes_at_once() -> None:
    """The function's list is checked against the stored row in C; a finaliser (here a
    collector callback, as a ``__del__`` would) changing it right after must not reach the
    waiters: theirs is made from the stored row."""
    cache = SemCache()
    cache.get_or_compute("first", lambda _: [1.0, 0.0, 0.0, 0.0])
    buffer = [0.5, 0.5, 0.5, 0.5]
    stored = threading.Event()
    go = threading.Event()

    def recycle(phase: str, info: dict) -> None:  # the function's buffer refilled
        if phase == "start" and stored.is_set():
            buffer[:] = [9.0] * 4

    def fn(_: str) -> list[float]:
        assert go.wait(10)
        gc.set_threshold(1)  # a collection on each container allocation
        return buffer

    index = cache.backend.index_for("")  # type: ignore[attr-defined]
    write = index.add_written

    def add_written(label: int, row: bytes) -> None:  # the entry is stored: then refill
        write(label, row)
        stored.set()

    index.add_written = add_written

    got: dict[str, Any] = {}
    gc.callbacks.append(recycle)
    thresholds = gc.get_threshold()
    try:
        leader = threading.Thread(
            target=lambda: got.setdefault("leader", cache.get_or_compute("k", fn))
        )
        leader.start()
        while not cache._flights._flights:
            pass
        follower = threading.Thread(
            target=lambda: got.setdefault("follower", cache.get_or_compute("k", fn))
        )
        follower.start()
        while cache._flights.waiting(("", "k")) < 1:
            pass
        go.set()
        leader.join(10)
        follower.join(10)
    finally:
        gc.set_threshold(*thresholds)
        gc.callbacks.remove(recycle)
    assert buffer == [9.0] * 4  # the finaliser ran
    assert cache.get("k") == [0.5] * 4
    assert got["follower"] == [0.5] * 4


@pytest.mark.parametrize(
    ("index", "at"),
    [
        *[(index, at) for index in ("flat", "auto", "hnsw") for at in ("_enter", "add_written")],
        *[(index, "append_written") for index in ("flat", "auto", "hnsw")],
        ("auto", "_start_graph_when_due"),  # the write that reaches the threshold
        ("hnsw", "_graph_follows"),
    ],
)
def test_an_interrupt_in_the_write_never_makes_a_row_answer_for_another_key(
    index: str, at: str
) -> None:
    """Ctrl-C landing inside the one-step write (a ``KeyboardInterrupt`` raised at a call
    there): later misses and searches never give one key's entry for another's vector."""
    cache = SemCache(index=index, hnsw_threshold=2)
    rows = [[1.0 if i == j else 0.0 for i in range(8)] for j in range(8)]
    cache.get_or_compute("k0", returning(rows[0]))
    fired: list[str] = []

    def interrupt(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_name == at and not fired:
            fired.append(at)
            raise KeyboardInterrupt

    sys.settrace(interrupt)
    try:
        cache.get_or_compute("k1", returning(rows[1]))
    except KeyboardInterrupt:
        pass
    finally:
        sys.settrace(None)
    assert fired
    for j in range(2, 8):
        assert cache.get_or_compute(f"k{j}", returning(rows[j])) == rows[j]
    assert cache.get("k1") in (None, rows[1])  # the interrupted write: all or nothing
    for j in range(8):
        hits = cache.search(rows[j], k=1)
        assert not hits or hits[0].key == f"k{j}" or (j == 1 and hits[0].score < 0.5)


def test_a_cache_of_fixed_dimension_keeps_to_it_on_a_shared_backend() -> None:
    """``dim=`` is the cache's: another cache on the same backend may hold vectors of
    another size in a namespace, and this one must not store such a list as a vector."""
    backend = LocalBackend()
    fixed = SemCache(dim=4, backend=backend)
    SemCache(backend=backend).set("seed", "x", vector=[1.0] + [0.0] * 5, namespace="n")
    with pytest.raises(DimensionMismatchError):
        fixed.get_or_compute("a", lambda _: [0.1] * 6, namespace="n", index=True)
    assert not fixed.exists("a", namespace="n")
    assert fixed.get_or_compute("b", lambda _: [0.1] * 6, namespace="n") == [0.1] * 6  # plain
    assert backend.vector_count("n") == 1


@pytest.mark.parametrize("action", ["delete", "write", "write_and_delete"])
def test_code_re_entering_the_cache_inside_the_write_never_takes_its_row(action: str) -> None:
    """An allocation inside the one-step write may start the collector, whose finalisers
    (here a callback, as a ``__del__`` would) may use the cache on this thread: the lock
    lets them in. Deleting a key moves the last row; writing one takes the free row the
    write already filled. Every key must still give its own vector, and searches their
    own key."""
    rng = np.random.default_rng(9)
    rows = {key: float32_unit(rng, 8) for key in "abcdefg"}
    cache = SemCache(index="flat")
    for key in "abcde":  # five rows, room for eight
        cache.get_or_compute(key, returning(rows[key]))
    fired: list[bool] = []

    def re_enter(phase: str, info: dict) -> None:
        frame = sys._getframe(1)
        while frame is not None and not (  # the row written, its entry not yet in
            frame.f_code.co_name == "add_float_list" and "found" in frame.f_locals
        ):
            frame = frame.f_back
        if fired or phase != "start" or frame is None:
            return
        fired.append(True)
        if action != "write":
            cache.delete("a")  # the last row moves into a's place
        if action != "delete":
            cache.get_or_compute("f", returning(rows["f"]))  # takes the free row

    thresholds = gc.get_threshold()
    gc.callbacks.append(re_enter)
    gc.set_threshold(1)
    try:
        assert cache.get_or_compute("g", returning(rows["g"])) == rows["g"]
    finally:
        gc.set_threshold(*thresholds)
        gc.callbacks.remove(re_enter)
    assert fired
    for key, row in rows.items():
        if (key == "a" and action != "write") or (key == "f" and action == "delete"):
            assert cache.get(key) is None
            continue
        assert cache.get(key) == row, key
        assert cache.search(row, k=1)[0].key == key
