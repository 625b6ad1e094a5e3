"""How the cache calls embedders: async paths off the event loop, failures as EmbedderError.

- Every async path that embeds (``aput``, ``asearch``, ``asearch_batch``,
  ``aget_similar``, the LLM cache's ``alookup`` / ``aupdate``) runs a synchronous
  embedder, the built-in lexical default included, in a thread other than the loop's.
  Checked by thread identity, not by timing.
- Whatever the kind of embedder (plain or async callable, LangChain ``Embeddings``,
  LlamaIndex ``BaseEmbedding``, an object implementing ``Embedder``), an exception it
  raises surfaces as :class:`EmbedderError` with the original as ``__cause__``, on every
  sync and async path, and nothing is stored. Interrupts and cancellation pass as they are.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from llama_support import FunctionEmbedding

from semcache_core import EmbedderError, HashingEmbedder, SemCache
from semcache_core.responses import Prompt, ResponseCache

LONG_PROMPT = "Answer from the context below. " * 350 + "How tall is the Eiffel Tower?"


class ThreadRecordingHashing(HashingEmbedder):
    """The built-in default embedder, noting the thread each text is embedded in."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[int] = []

    def embed_query(self, text: str) -> Any:
        self.threads.append(threading.get_ident())
        return super().embed_query(text)

    embed_document = embed_query


def prompt(query: str) -> Prompt:
    return Prompt(exact=f"sys:be brief|user:{query}", context="sys:be brief", query=query)


async def test_the_default_embedder_never_runs_on_the_event_loop() -> None:
    loop_thread = threading.get_ident()
    embedder = ThreadRecordingHashing()
    cache = SemCache(embedder=embedder)
    await cache.aput("k", LONG_PROMPT)
    assert [h.key for h in await cache.asearch(LONG_PROMPT, k=1)] == ["k"]
    assert await cache.aget_similar(LONG_PROMPT, threshold=0.99) == LONG_PROMPT
    assert [[h.key for h in hits] for hits in await cache.asearch_batch([LONG_PROMPT])] == [["k"]]
    responses = ResponseCache(SemCache(embedder=embedder), threshold=0.9)
    await responses.aupdate(prompt(LONG_PROMPT), "gpt-x", "330 metres")
    assert await responses.alookup(prompt(LONG_PROMPT + " "), "gpt-x") == "330 metres"
    assert len(embedder.threads) == 6
    assert loop_thread not in embedder.threads


async def test_the_llm_cache_default_embedder_runs_off_the_loop() -> None:
    """``ResponseCache()`` with no embedder: the engine's built-in default."""
    loop_thread = threading.get_ident()
    responses = ResponseCache(threshold=0.9)
    assert isinstance(responses.cache.embedder, HashingEmbedder)
    seen: list[int] = []
    original = responses.cache.embedder.embed_query

    def noting(text: str) -> Any:
        seen.append(threading.get_ident())
        return original(text)

    responses.cache.embedder.embed_query = noting  # type: ignore[method-assign]
    assert await responses.alookup(prompt(LONG_PROMPT), "gpt-x") is None
    assert seen and loop_thread not in seen


# --- failures as EmbedderError ------------------------------------------------------------


class Down(ConnectionError):
    """What a model raises: the embedding service is unreachable."""


class Failing:
    """Hands out embedders of every kind that raise ``error`` (the same instance)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def raise_it(self, *args: Any) -> Any:
        raise self.error

    def callable(self) -> Callable[[str], Any]:
        return lambda text: self.raise_it()

    def async_callable(self) -> Callable[[str], Awaitable[Any]]:
        async def embed(text: str) -> Any:
            await asyncio.sleep(0)
            self.raise_it()

        return embed

    def langchain(self) -> Embeddings:
        raise_it = self.raise_it

        class Model(Embeddings):
            def embed_documents(self, texts: list[str]) -> list[list[float]]:
                return raise_it()  # type: ignore[no-any-return]

            def embed_query(self, text: str) -> list[float]:
                return raise_it()  # type: ignore[no-any-return]

        return Model()  # its aembed_* run these in an executor (LangChain's default)

    def llama_index(self) -> FunctionEmbedding:
        raise_it = self.raise_it

        class Model(FunctionEmbedding):
            def _vector(self, text: str) -> list[float]:
                return raise_it()  # type: ignore[no-any-return]

        return Model()

    def protocol(self) -> Any:
        raise_it = self.raise_it

        class Model:
            dim = None

            def embed_query(self, text: str) -> Any:
                return raise_it()

            def embed_document(self, text: str) -> Any:
                return raise_it()

            async def aembed_query(self, text: str) -> Any:
                return raise_it()

            async def aembed_document(self, text: str) -> Any:
                return raise_it()

        return Model()


KINDS = ["callable", "async_callable", "langchain", "llama_index", "protocol"]


def sync_paths(cache: SemCache) -> dict[str, Callable[[], Any]]:
    responses = ResponseCache(cache)
    return {
        "put": lambda: cache.put("k", "some text"),
        "search": lambda: cache.search("some text"),
        "search_batch": lambda: cache.search_batch(["some text", "other"]),
        "get_similar": lambda: cache.get_similar("some text"),
        "lookup": lambda: responses.lookup(prompt("some text"), "gpt-x"),
        "update": lambda: responses.update(prompt("some text"), "gpt-x", "answer"),
    }


def async_paths(cache: SemCache) -> dict[str, Callable[[], Awaitable[Any]]]:
    responses = ResponseCache(cache)
    return {
        "aput": lambda: cache.aput("k", "some text"),
        "asearch": lambda: cache.asearch("some text"),
        "asearch_batch": lambda: cache.asearch_batch(["some text", "other"]),
        "aget_similar": lambda: cache.aget_similar("some text"),
        "alookup": lambda: responses.alookup(prompt("some text"), "gpt-x"),
        "aupdate": lambda: responses.aupdate(prompt("some text"), "gpt-x", "answer"),
    }


def warm(cache: SemCache) -> None:
    """One stored vector, so searches have something to rank (and dim is fixed)."""
    cache.set("seed", "seed", vector=np.ones(4, np.float32))


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "async_callable"])
@pytest.mark.parametrize("path", list(sync_paths(SemCache())))
def test_sync_paths_raise_embedder_error_caused_by_the_models_exception(
    kind: str, path: str
) -> None:
    failing = Failing(Down("embedding service unreachable"))
    cache = SemCache(embedder=getattr(failing, kind)())
    warm(cache)
    with pytest.raises(EmbedderError, match="Down: embedding service unreachable") as info:
        sync_paths(cache)[path]()
    assert info.value.__cause__ is failing.error
    assert len(cache) == 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("path", list(async_paths(SemCache())))
async def test_async_paths_raise_embedder_error_caused_by_the_models_exception(
    kind: str, path: str
) -> None:
    failing = Failing(Down("embedding service unreachable"))
    cache = SemCache(embedder=getattr(failing, kind)())
    warm(cache)
    with pytest.raises(EmbedderError, match="Down: embedding service unreachable") as info:
        await async_paths(cache)[path]()
    assert info.value.__cause__ is failing.error
    assert len(cache) == 1


def test_an_embedder_error_the_model_raises_itself_passes_unchanged() -> None:
    error = EmbedderError("model says: text too long")
    cache = SemCache(embedder=Failing(error).protocol())
    with pytest.raises(EmbedderError) as info:
        cache.put("k", "text")
    assert info.value is error


@pytest.mark.parametrize("kind", ["callable", "langchain", "protocol"])
def test_keyboard_interrupt_in_an_embedder_is_not_wrapped(kind: str) -> None:
    cache = SemCache(embedder=getattr(Failing(KeyboardInterrupt()), kind)())
    with pytest.raises(KeyboardInterrupt):
        cache.put("k", "text")
    assert len(cache) == 0


@pytest.mark.parametrize("kind", ["async_callable", "protocol"])
async def test_cancellation_in_an_async_embedder_is_not_wrapped(kind: str) -> None:
    cache = SemCache(embedder=getattr(Failing(asyncio.CancelledError()), kind)())
    with pytest.raises(asyncio.CancelledError):
        await cache.asearch("text")


@pytest.mark.parametrize(
    ("stored", "asked"), [("🎉", "😀"), ("?", "!!!"), (":)", ":("), ("👍", "👎"), ("?", "??")]
)
def test_two_texts_without_words_are_not_one_question_to_the_default_embedder(
    stored: str, asked: str
) -> None:
    """Found by review: the built-in embedder gave every text without a word one fixed
    vector, so any two (an emoji reaction, a lone "?") were a semantic hit at 1.0."""
    embedder = HashingEmbedder()
    assert float(embedder.embed_query(stored) @ embedder.embed_query(asked)) < 0.8
    responses = ResponseCache()  # the default embedder and threshold
    responses.update(prompt(stored), "gpt-x", "answer to " + stored)
    assert responses.lookup(prompt(asked), "gpt-x") is None
    assert responses.lookup(prompt(stored), "gpt-x") == "answer to " + stored
