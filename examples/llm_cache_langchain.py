"""A LangChain LLM cache: ``set_llm_cache(SemCache(...))`` in front of a chat model.

Shows, with a fake chat model that counts its calls (no API key, no network):

- a repeated question is an exact hit and a paraphrase a semantic hit: the model is not
  called;
- a near-miss ("open" vs "closed") scores 0.94 with the sentence model, above the
  threshold, yet is NOT served: the guards see the opposite words and make it a miss;
- ``stats()``: hits, misses, the tokens the hits saved (read from the cached answers'
  ``usage_metadata``) and the money, with ``prices=`` per 1k input/output tokens.

The semantic lookups use the bundled all-MiniLM-L6-v2 sentence model (offline, from the
``models`` extra) at threshold 0.87, the value ``semcache calibrate`` recommends for it.

Run: ``python examples/llm_cache_langchain.py``
"""

from __future__ import annotations

from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatResult

from semcache_integrations.cli_calibrate import MiniLM
from semcache_integrations.langchain import SemCache


class CountingChat(GenericFakeChatModel):
    """A fake chat model: answers from ``messages`` in order, counting its calls."""

    model_name: str = "fake-gpt"  # what ``prices`` are keyed by
    calls: int = 0

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}  # in the llm_string the cache sees

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        self.calls += 1
        return super()._generate(messages, *args, **kwargs)


class MiniLMEmbeddings(Embeddings):
    """The bundled sentence model as LangChain ``Embeddings``."""

    def __init__(self) -> None:
        self.model = MiniLM()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.model.embed_query(text)


def answer(text: str) -> AIMessage:
    usage = {"input_tokens": 40, "output_tokens": 120, "total_tokens": 160}
    return AIMessage(content=text, usage_metadata=usage)


def main() -> None:
    embeddings = MiniLMEmbeddings()
    cache = SemCache(
        embedding=embeddings,
        threshold=0.87,
        prices={"fake-gpt": (0.15, 0.6)},  # USD per 1k input and output tokens
    )
    set_llm_cache(cache)
    model = CountingChat(
        messages=iter(
            [
                answer("The museum is open on Mondays from 9 to 17."),
                answer("No, the museum is closed only on public holidays."),
            ]
        )
    )
    questions = [
        ("first ask", "Is the museum open on Monday?"),
        ("repeat", "Is the museum open on Monday?"),
        ("paraphrase", "Is the museum open Mondays?"),
        ("near-miss", "Is the museum closed on Monday?"),
    ]
    for label, question in questions:
        before = model.calls
        reply = model.invoke(question)
        source = "model called" if model.calls > before else "from the cache"
        print(f"{label:<11} {question!r:<36} -> {source}: {reply.content}")

    open_, closed = embeddings.embed_documents(
        ["Is the museum open on Monday?", "Is the museum closed on Monday?"]
    )
    cosine = sum(x * y for x, y in zip(open_, closed))
    print(f"open/closed cosine {cosine:.2f} >= threshold 0.87, yet refused by the guards")

    stats = cache.stats()
    print(f"model calls: {model.calls} for {len(questions)} questions")
    print(
        f"stats: {stats.exact_hits} exact hit, {stats.semantic_hits} semantic hit, "
        f"{stats.misses} misses"
    )
    print(
        f"saved: {stats.input_tokens_saved} input + {stats.output_tokens_saved} output "
        f"tokens, ${stats.cost_saved:.4f}"
    )
    set_llm_cache(None)


if __name__ == "__main__":
    main()
