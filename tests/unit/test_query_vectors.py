"""One embedding per LLM-cache miss: the update after a miss reuses the lookup's query
vector when the embedder is symmetric, and embeds the document as before when it is not
(``semcache_core.query_vectors``, through a real ``ResponseCache``)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semcache_core import SemCache
from semcache_core.embedders import HashingEmbedder
from semcache_core.query_vectors import CHECKS, QueryVectors, symmetric_by_construction
from semcache_core.responses import Prompt, ResponseCache

MODEL = "model-a"
LEXICAL = HashingEmbedder(dim=64)


class CountingEmbeddings:
    """A LangChain ``Embeddings`` (duck-typed) over the lexical embedder; ``prefix`` makes
    documents embed differently from queries, as E5-style models do."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.queries = 0
        self.documents = 0

    def embed_query(self, text: str) -> list[float]:
        self.queries += 1
        return LEXICAL.embed_query(text).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.documents += len(texts)
        return [LEXICAL.embed_query(self.prefix + text).tolist() for text in texts]

    def document_vector(self, text: str) -> np.ndarray:
        return LEXICAL.embed_query(self.prefix + text)


def prompt(text: str) -> Prompt:
    return Prompt(exact=text, context="", query=text)


def responses(embeddings: CountingEmbeddings) -> ResponseCache:
    return ResponseCache(SemCache(dim=64), embedder=embeddings, threshold=0.999)


def stored_vector_is(cache: ResponseCache, text: str, expected: np.ndarray) -> bool:
    """Whether the entry of ``text`` holds ``expected`` as its vector."""
    [hit] = cache.cache.search(expected, 1, namespace=cache.namespace)
    return hit.key == cache._key(prompt(text), MODEL) and hit.score >= 1 - 1e-5


QUESTIONS = [f"question number {word} about topic {i}" for i, word in enumerate("abcdefghij")]


def test_a_symmetric_embedder_embeds_each_miss_once_after_the_checks() -> None:
    embeddings = CountingEmbeddings()
    cache = responses(embeddings)
    for text in QUESTIONS:
        assert cache.lookup(prompt(text), MODEL) is None
        cache.update(prompt(text), MODEL, f"answer to {text}")
    assert embeddings.queries == len(QUESTIONS)
    assert embeddings.documents == CHECKS  # compared, then trusted
    assert cache._query_vectors.symmetric is True
    for text in QUESTIONS:
        assert stored_vector_is(cache, text, embeddings.document_vector(text))
        assert cache.lookup(prompt(text), MODEL) == f"answer to {text}"


def test_an_asymmetric_embedder_embeds_every_document_as_before() -> None:
    embeddings = CountingEmbeddings(prefix="passage: ")
    cache = responses(embeddings)
    for text in QUESTIONS:
        assert cache.lookup(prompt(text), MODEL) is None
        cache.update(prompt(text), MODEL, f"answer to {text}")
    assert embeddings.documents == len(QUESTIONS)
    assert cache._query_vectors.symmetric is False
    assert len(cache._query_vectors) == 0  # nothing kept once it can never be used
    for text in QUESTIONS:
        assert stored_vector_is(cache, text, embeddings.document_vector(text))


async def test_the_async_twins_reuse_the_query_vector_too() -> None:
    embeddings = CountingEmbeddings()
    cache = responses(embeddings)
    for text in QUESTIONS:
        assert await cache.alookup(prompt(text), MODEL) is None
        await cache.aupdate(prompt(text), MODEL, f"answer to {text}")
    assert embeddings.documents == CHECKS
    for text in QUESTIONS:
        assert stored_vector_is(cache, text, embeddings.document_vector(text))


def test_the_built_in_embedder_is_symmetric_by_construction() -> None:
    assert symmetric_by_construction(HashingEmbedder())
    assert not symmetric_by_construction(CountingEmbeddings())
    calls: list[str] = []

    def embed(text: str) -> np.ndarray:
        calls.append(text)
        return LEXICAL.embed_query(text)

    cache = ResponseCache(SemCache(dim=64), embedder=embed, threshold=0.999)
    for text in QUESTIONS[:4]:
        cache.lookup(prompt(text), MODEL)
        cache.update(prompt(text), MODEL, "answer")
    assert calls == QUESTIONS[:4]  # one call per miss from the first

    class OwnEmbedder:  # the Embedder protocol, written by a user
        dim = 64

        def embed_query(self, text: str) -> np.ndarray:
            calls.append(text)
            return LEXICAL.embed_query(text)

        async def aembed_query(self, text: str) -> np.ndarray:
            return self.embed_query(text)

        embed_document = embed_query
        aembed_document = aembed_query

    calls.clear()
    own = ResponseCache(SemCache(dim=64), embedder=OwnEmbedder(), threshold=0.999)
    for text in QUESTIONS[:4]:
        own.lookup(prompt(text), MODEL)
        own.update(prompt(text), MODEL, "answer")
    assert calls == QUESTIONS[:4]


def test_an_update_without_a_lookup_still_embeds() -> None:
    embeddings = CountingEmbeddings()
    cache = responses(embeddings)
    cache.update(prompt("never looked up"), MODEL, "answer")
    assert (embeddings.queries, embeddings.documents) == (0, 1)
    assert stored_vector_is(cache, "never looked up", embeddings.document_vector("never looked up"))


def test_the_remembered_vectors_are_bounded_newest_kept() -> None:
    vectors = QueryVectors(HashingEmbedder(), limit=3)
    unit = np.ones(4, dtype=np.float32) / 2
    for i in range(10):
        vectors.remember(f"k{i}", "q", unit)
    assert len(vectors) == 3

    def embed() -> np.ndarray:
        return unit * 1.0

    assert vectors.document("k9", "q", embed) is unit  # kept
    assert vectors.document("k0", "q", embed) is not unit  # dropped: embedded again
    assert vectors.document("k8", "another query", embed) is not unit  # not the same text


@settings(max_examples=40, deadline=None)
@given(
    prefix=st.sampled_from(["", "passage: "]),
    steps=st.lists(
        st.tuples(st.sampled_from(["lookup", "update", "alookup", "aupdate"]), st.integers(0, 5)),
        max_size=30,
    ),
)
def test_every_stored_vector_is_the_document_embedding(
    prefix: str, steps: list[tuple[str, int]]
) -> None:
    """Whatever the order of lookups and updates (an update without its lookup, a lookup
    answered by a hit, a prompt updated twice), each entry holds the vector
    ``embed_documents`` gives for its query, and no update embeds more than once."""
    embeddings = CountingEmbeddings(prefix)
    cache = responses(embeddings)
    updates = 0
    for call, number in steps:
        text = QUESTIONS[number]
        if call == "lookup":
            cache.lookup(prompt(text), MODEL)
        elif call == "alookup":
            asyncio.run(cache.alookup(prompt(text), MODEL))
        else:
            updates += 1
            if call == "update":
                cache.update(prompt(text), MODEL, f"answer to {text}")
            else:
                asyncio.run(cache.aupdate(prompt(text), MODEL, f"answer to {text}"))
    assert embeddings.documents <= updates
    if prefix:
        assert embeddings.documents == updates
    for number in {number for call, number in steps if call.endswith("update")}:
        text = QUESTIONS[number]
        assert stored_vector_is(cache, text, embeddings.document_vector(text))


@pytest.mark.parametrize("noise", [1e-3, 5e-2])
def test_vectors_that_differ_beyond_the_tolerance_are_never_trusted(noise: float) -> None:
    vectors = QueryVectors(CountingEmbeddings())
    base = np.zeros(8, dtype=np.float32)
    base[0] = 1.0
    other = base.copy()
    other[1] = noise
    other /= np.linalg.norm(other)
    for i in range(CHECKS):
        vectors.remember(f"k{i}", f"q{i}", base)
        vectors.document(f"k{i}", f"q{i}", lambda: other)
    # cosines 1 - 5e-7 (an API's call-to-call noise: trusted) and 1 - 1.2e-3 (a query or
    # document prefix changes a vector by more: never)
    assert vectors.symmetric is (noise < 1e-2)


def test_one_query_agreeing_again_and_again_is_one_check() -> None:
    vectors = QueryVectors(CountingEmbeddings())
    unit = np.array([0.6, 0.8], dtype=np.float32)
    for _ in range(2 * CHECKS):
        vectors.remember("k", "the same question", unit)
        vectors.document("k", "the same question", lambda: unit.copy())
    assert vectors.symmetric is None  # still checking: one text says little
    for i in range(CHECKS - 1):
        vectors.remember(f"k{i}", f"question {i}", unit)
        vectors.document(f"k{i}", f"question {i}", lambda: unit.copy())
    assert vectors.symmetric is True
