"""Streaming chat through the cache: ``CachedChatModel``.

The first ``stream()`` of a question is a miss: the wrapped model's chunks pass through as
they come, and the whole answer is stored once the stream completes. Asking again — the
same words, or a near-identical phrasing — replays the stored answer as the same chunks
(plus an empty last one carrying the response's metadata), without calling the model;
``astream()`` replays it too.

The model is langchain-core's ``GenericFakeChatModel`` (it streams word by word), wrapped
to count its calls. The cache is ``SemCache()`` with its defaults: the built-in lexical
embedder at threshold 0.95, which serves near-identical phrasings (case, punctuation);
pass ``SemCache(embedding=..., threshold=...)`` with a sentence model for paraphrases.

Run: ``python examples/streaming_chat.py``
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk

from semcache_integrations.langchain import CachedChatModel, SemCache


class CountingStream(GenericFakeChatModel):
    """A fake chat model streaming its answers word by word, counting its streams."""

    calls: int = 0

    def _stream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        self.calls += 1
        yield from super()._stream(messages, *args, **kwargs)


def stream(chat: CachedChatModel, model: CountingStream, question: str) -> None:
    before = model.calls
    chunks = [str(chunk.content) for chunk in chat.stream(question)]
    source = "model streamed" if model.calls > before else "replayed from the cache"
    print(f"{question!r}: {len(chunks)} chunks, {source}: {''.join(chunks)!r}")


async def astream(chat: CachedChatModel, question: str) -> list[str]:
    return [str(chunk.content) async for chunk in chat.astream(question)]


def main() -> None:
    model = CountingStream(
        messages=iter([AIMessage("Take the 7:15 train from platform 3, it is the fastest.")])
    )
    cache = SemCache()
    chat = CachedChatModel(model, cache=cache)

    stream(chat, model, "What is the fastest train to Lyon tomorrow morning?")  # a miss
    stream(chat, model, "What is the fastest train to Lyon tomorrow morning?")  # exact hit
    stream(chat, model, "what is the fastest train to Lyon tomorrow morning")  # near-identical
    replayed = asyncio.run(astream(chat, "What is the fastest train to Lyon tomorrow morning?"))
    print(f"astream: {len(replayed)} chunks replayed")

    stats = cache.stats()
    print(f"model calls: {model.calls} for 4 streams")
    print(
        f"stats: {stats.exact_hits} exact hits, {stats.semantic_hits} semantic hit, "
        f"{stats.misses} miss"
    )


if __name__ == "__main__":
    main()
