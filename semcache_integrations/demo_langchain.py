"""Section 2 of ``semcache demo``: a LangChain chat app with ``set_llm_cache(SemCache(...))``.

The app is a support assistant: a system prompt and the user's question. Its model is a
langchain-core fake (``GenericFakeChatModel``, which streams word by word) that answers the
question it is asked — it knows each question's intent — with a fixed latency and a
reported token usage, counting its calls. On one cache:

1. **first asks** of some intents (misses: the model is called), then **repeats** of the
   same words (exact hits) and **paraphrases** (other phrasings of the same intents:
   semantic hits where the embedder sees the likeness);
2. a **stream**: ``CachedChatModel.stream`` of a new question passes the model's chunks
   through, and the same question streamed again replays the cached chunks;
3. **near misses**: held-out questions that differ from a cached one by a negation, a
   number, a name, a date, an antonym or an identifier
   (``benchmarks/data/holdout/hard_negatives.jsonl``); serving the cached answer to any of
   them would be wrong, and the tour counts every one it serves.

Every answer served is checked against the intent of the question asked: a wrong answer
is one about another intent.

Example::

    figures = chat_section(engine, embedding, threshold, DemoConsole())
    figures["wrong"] == 0 and figures["model_calls"] < figures["requests"]
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from langchain_core.globals import get_llm_cache, set_llm_cache
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from semcache_core import SemCache as Engine
from semcache_core import SemCacheError

from .langchain import CachedChatModel, SemCache

__all__ = ["MODEL_NAME", "PRICES", "SupportModel", "chat_section", "holdout_questions"]

MODEL_NAME = "demo-support-model"
PRICES = {MODEL_NAME: (0.0025, 0.01)}  # USD per 1k input / output tokens (gpt-4o's)
_HOLDOUT = Path(__file__).resolve().parent.parent / "benchmarks" / "data" / "holdout"
_SYSTEM = SystemMessage("You are the support assistant of a home-goods shop. Be brief.")
_STREAMED = "How do I assemble the oak bookshelf I ordered?"


def holdout_questions(
    intents: int = 12, near_misses_per_kind: int | None = None, root: Path = _HOLDOUT
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(intents, near_miss_pairs)`` from the held-out data: the first ``intents``
    intents of ``stream.jsonl`` (each a list of phrasings) and the pairs of
    ``hard_negatives.jsonl`` (every one, or the first ``near_misses_per_kind`` of each
    kind) that share no text with a question taken before them (so every near miss is a
    new text).

    Raises:
        SemCacheError: the files are not there (an install without the source tree).
    """
    if not (root / "stream.jsonl").is_file() or not (root / "hard_negatives.jsonl").is_file():
        raise SemCacheError(
            f"the demo's held-out questions are not at {root} (stream.jsonl, "
            "hard_negatives.jsonl): run `semcache demo` from a source checkout of semcache"
        )
    with open(root / "stream.jsonl", encoding="utf-8") as handle:
        stream = [json.loads(line) for line in handle if line.strip()][:intents]
    seen = {text for item in stream for text in item["phrasings"]}
    taken: dict[str, int] = {}
    pairs = []
    with open(root / "hard_negatives.jsonl", encoding="utf-8") as handle:
        for line in handle:
            pair = json.loads(line)
            if pair["a"] in seen or pair["b"] in seen:
                continue  # a text asked already is a repeat, not a near miss
            cap = near_misses_per_kind
            if not pair["same"] and (cap is None or taken.get(pair["kind"], 0) < cap):
                seen.update((pair["a"], pair["b"]))
                taken[pair["kind"]] = taken.get(pair["kind"], 0) + 1
                pairs.append(pair)
    return stream, pairs


class SupportModel(GenericFakeChatModel):
    """A fake chat model that answers each known question with its intent's answer, after
    ``latency_s``, reporting ``usage_metadata``; it counts its calls and their seconds."""

    model_name: str = MODEL_NAME  # what ``PRICES`` are keyed by
    intents: dict[str, str] = Field(default_factory=dict)  # question -> intent
    latency_s: float = 0.05
    calls: int = 0
    seconds: float = 0.0

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}  # in the llm_string the cache sees

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        start = time.perf_counter()
        self.calls += 1
        time.sleep(self.latency_s)
        question = str(messages[-1].content)
        text = answer_text(self.intents[question])
        usage = {
            "input_tokens": sum(len(str(m.content).split()) for m in messages) * 4 // 3,
            "output_tokens": len(text.split()) * 4 // 3,
            "total_tokens": 0,
        }
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        message = AIMessage(content=text, usage_metadata=usage)
        self.seconds += time.perf_counter() - start
        return ChatResult(generations=[ChatGeneration(message=message)])


def answer_text(intent: str) -> str:
    """The model's answer for ``intent`` (a wrong answer names another intent)."""
    return f"About {intent}: follow the steps on our help page, and write to us if they fail."


def _ask(
    model: SupportModel, questions: Iterable[str], label: str, console: Console
) -> dict[str, Any]:
    """Invoke ``model`` on each question; counts of model calls, hits and wrong answers,
    and the questions answered wrongly (``"wrong_questions"``)."""
    questions = list(questions)
    before, served, wrong = model.calls, 0, []
    with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task(label, total=len(questions))
        for question in questions:
            calls = model.calls
            reply = model.invoke([_SYSTEM, HumanMessage(question)])
            if model.calls == calls:
                served += 1
                if reply.content != answer_text(model.intents[question]):
                    wrong.append(question)
            progress.advance(task)
    return {
        "asked": len(questions),
        "calls": model.calls - before,
        "hits": served,
        "wrong": len(wrong),
        "wrong_questions": wrong,
    }


def _retyped(question: str) -> str:
    """``question`` as typed in a hurry: lower case, no question mark."""
    return question.lower().rstrip("?")


def _stream_twice(model: SupportModel, cache: SemCache) -> dict[str, Any]:
    chat = CachedChatModel(model, cache=cache)
    before = model.calls
    first = [str(chunk.content) for chunk in chat.stream([_SYSTEM, HumanMessage(_STREAMED)])]
    streamed_calls = model.calls - before
    replay = [str(chunk.content) for chunk in chat.stream([_SYSTEM, HumanMessage(_STREAMED)])]
    tail = replay[len(first) :]  # the replay's last chunk: empty, carrying the metadata
    return {
        "question": _STREAMED,
        "chunks": first,
        "replayed": replay,
        "same": replay[: len(first)] == first and all(not chunk for chunk in tail),
        "model_calls": streamed_calls,
        "replay_calls": model.calls - before - streamed_calls,
    }


def chat_section(
    engine: Engine,
    embedding: Any,
    threshold: float,
    console: Console,
    latency_ms: float = 50.0,
    intents: int = 12,
    near_misses_per_kind: int | None = None,
) -> dict[str, Any]:
    """Run section 2 on ``engine`` and print its tables: the app's cache is the engine
    namespace ``llm:demo``, the near misses' ``llm:demo-near-misses``."""
    stream, pairs = holdout_questions(intents, near_misses_per_kind)
    known = {p: item["intent"] for item in stream for p in item["phrasings"]}
    known |= {_retyped(item["phrasings"][0]): item["intent"] for item in stream}
    known[_STREAMED] = "assembling the oak bookshelf"
    known |= {text: text for pair in pairs for text in (pair["a"], pair["b"])}  # one each
    model = SupportModel(messages=iter(()), intents=known, latency_s=latency_ms / 1000.0)
    cache = SemCache(
        embedding=embedding, threshold=threshold, cache=engine, namespace="demo", prices=PRICES
    )
    if embedding is not None:  # one batch (the tour's model keeps each text's vector)
        embedding.embed_documents(list(known))
    near_cache = SemCache(
        embedding=embedding, threshold=threshold, cache=engine, namespace="demo-near-misses"
    )
    previous = get_llm_cache()
    set_llm_cache(cache)
    try:
        firsts = [item["phrasings"][0] for item in stream]
        rounds = {
            "first asks": _ask(model, firsts, "first asks", console),
            "repeats": _ask(model, firsts, "repeats", console),
            "retyped": _ask(model, [_retyped(q) for q in firsts], "retyped", console),
            "paraphrases": _ask(
                model, [p for item in stream for p in item["phrasings"][1:]], "paraphrases", console
            ),
        }
        streamed = _stream_twice(model, cache)
        # the near misses in a scope of their own: what they could wrongly get is the
        # answer of the held-out question they differ from (not of the intents above,
        # which some of them merely rephrase)
        set_llm_cache(near_cache)
        originals = [pair["a"] for pair in pairs]
        rounds["held-out questions"] = _ask(model, originals, "held-out questions", console)
        near = _ask(model, [pair["b"] for pair in pairs], "near misses", console)
        rounds["near misses"] = near
    finally:
        set_llm_cache(previous)
    _print_rounds(rounds, console, latency_ms)
    _print_stream(streamed, console)
    kinds = sorted({pair["kind"] for pair in pairs})
    console.print(
        f"near misses: {near['asked']} held-out questions ({', '.join(kinds)}), each close to "
        f"a cached question but asking something else: {near['hits']} served from the "
        f"cache, [bold]{near['wrong']} wrong answers[/bold]"
    )
    if near["wrong"]:  # shown, not hidden: what the guards do not know yet
        asked_first = {pair["b"]: pair["a"] for pair in pairs}
        console.print(
            f"[yellow]{near['wrong']} of {near['asked']} near misses "
            f"({near['wrong'] / near['asked']:.1%}) got a cached answer to another question "
            "(benchmarks/bench_guards.py measures this rate per threshold):[/yellow]"
        )
        for question in near["wrong_questions"]:
            console.print(f"  {question!r} was served the answer to {asked_first[question]!r}")
    return {
        "rounds": rounds,
        "requests": sum(run["asked"] for run in rounds.values()) + 2,  # and the 2 streams
        "model_calls": model.calls,
        "model_seconds": model.seconds,
        "paraphrase_hits": rounds["paraphrases"]["hits"],
        "paraphrases": rounds["paraphrases"]["asked"],
        "near_misses": near["asked"],
        "near_miss_hits": near["hits"],
        # wrong answers to the app's own questions (the near misses are counted apart)
        "wrong": sum(run["wrong"] for name, run in rounds.items() if name != "near misses"),
        "near_miss_wrong": near["wrong"],
        "stream": streamed,
        "stats": cache.stats(),
    }


def _print_rounds(rounds: dict[str, dict[str, Any]], console: Console, latency_ms: float) -> None:
    table = Table(title=f"Chat requests through set_llm_cache ({latency_ms:g} ms per model call)")
    for column in ("requests", "asked", "model calls", "served from cache", "wrong answers"):
        table.add_column(column, justify="right")
    for name, run in rounds.items():
        table.add_row(name, *(str(run[k]) for k in ("asked", "calls", "hits", "wrong")))
    console.print(table)


def _print_stream(streamed: dict[str, Any], console: Console) -> None:
    first, replay = streamed["chunks"], streamed["replayed"]
    console.print(
        f"CachedChatModel.stream({streamed['question']!r}):\n"
        f"  first:  {len(first)} chunks from the model ({streamed['model_calls']} call): "
        f"{first[:9]} ...\n"
        f"  again:  {len(replay)} chunks replayed from the cache "
        f"({streamed['replay_calls']} model calls): {replay[:9]} ...\n"
        f"  same chunks: {'yes' if streamed['same'] else 'NO'} (the replay's last chunk is "
        "empty and carries the response metadata)"
    )
