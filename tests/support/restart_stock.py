"""What an earlier process leaves a verified cache, and a new process's first lookups
over it (tests/unit/test_verified_recall.py, tests/redis/test_verified_redis.py).

Example::

    engine = SemCache()
    stock(engine)  # 50 entries, the first 30 carrying observations
    assert restarted_lookups(engine) >= YOUNG * 3 // 4
"""

from __future__ import annotations

import asyncio
import random

import numpy as np

from semcache_core import SemCache
from semcache_core.responses import Prompt, ResponseCache
from semcache_core.verified_responses import OBSERVATIONS_FIELD

MODEL = "model-a"
DIM = 64
TAUGHT, YOUNG = 30, 20  # entries carrying observations; entries with none
PARAPHRASED = 0.97  # a paraphrase's similarity to its entry
# what each taught entry carries: right from about 0.8 up (the curve's bound on being
# wrong is 0.03 at 0.97)
CARRIED = [[0.55, 0], [0.7, 0], [0.78, 1], [0.82, 0], [0.88, 1], [0.95, 1], [0.97, 1]]


def embed(text: str) -> list[float]:
    """``"stored i"`` on the i-th axis; ``"asked i"`` at PARAPHRASED to it, the rest of
    its length on the last axis (two paraphrases are far below the floor apart)."""
    kind, number = text.rsplit(" ", 1)
    vector = np.zeros(DIM)
    vector[int(number)] = 1.0 if kind == "stored" else PARAPHRASED
    if kind == "asked":
        vector[-1] = np.sqrt(1 - PARAPHRASED**2)
    return vector.tolist()


def prompt(text: str) -> Prompt:
    return Prompt(exact=text, context="", query=text)


def responses(engine: SemCache, **options: object) -> ResponseCache:
    options.setdefault("max_error_rate", 0.05)
    return ResponseCache(engine, embedder=embed, threshold=0.5, guards=(),
                         rng=random.Random(5), **options)  # type: ignore[arg-type]  # fmt: skip


def stock(engine: SemCache, carried: list[list[float]] | None = CARRIED) -> None:
    """What an earlier process left: every entry stored, the first TAUGHT carrying
    ``carried`` observations (``None``: none)."""
    earlier = responses(engine, max_error_rate=None)
    for i in range(TAUGHT + YOUNG):
        earlier.update(prompt(f"stored {i}"), MODEL, f"answer {i}")
    for i in range(TAUGHT if carried else 0):
        key = earlier._key(prompt(f"stored {i}"), MODEL)
        entry = engine.get_entry(key, namespace=earlier.namespace)
        assert entry is not None
        metadata = {**entry.metadata, OBSERVATIONS_FIELD: carried}
        engine.set(key, entry.value, vector=embed(f"stored {i}"), metadata=metadata,
                   namespace=earlier.namespace)  # fmt: skip


def restarted_lookups(engine: SemCache, asynchronous: bool = False) -> int:
    """A new process's cache over ``engine``: a paraphrase of each entry with no
    observations of its own, each after a taught prompt asked again (an exact hit: the
    error budget is a share of all answers); how many paraphrases were served."""
    cache = responses(engine)
    asked = [
        (prompt(f"stored {i % TAUGHT}"), prompt(f"asked {i}"))
        for i in range(TAUGHT, TAUGHT + YOUNG)
    ]

    async def alookups() -> list[object]:
        served = []
        for again, paraphrase in asked:
            assert await cache.alookup(again, MODEL) is not None
            served.append(await cache.alookup(paraphrase, MODEL))
        return served

    if asynchronous:
        served = asyncio.run(alookups())
    else:
        served = []
        for again, paraphrase in asked:
            assert cache.lookup(again, MODEL) is not None
            served.append(cache.lookup(paraphrase, MODEL))
    stats = cache.stats()
    assert stats.exact_hits == YOUNG and stats.explorations == YOUNG - stats.semantic_hits
    assert all(s in (None, f"answer {i}") for i, s in enumerate(served, TAUGHT))  # its own
    return stats.semantic_hits
