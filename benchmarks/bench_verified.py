"""Static thresholds against verified ones (vCache) on a labelled stream, through LangChain.

Run::

    .venv/bin/python benchmarks/bench_verified.py [--quick] [--requests N] [--intents PATH]

Data: ``examples/stream/intents.jsonl``, 105 intents with 5 phrasings each, in families of
near-miss siblings (cancel my order / my subscription, how do I / why can't I, 15% / 25% of
80, Austria / Australia, open / closed on Monday, ...); ``--intents`` names another file of
the same lines (``benchmarks/data/holdout/stream.jsonl``: the held-out set's 162 intents,
written apart from the code, never tuned on). A seeded stream draws requests from
it (intents by a Zipf-like popularity, phrasings uniformly) and replays them through
``llm.invoke`` with the LangChain LLM cache installed by ``set_llm_cache``; the model is a
fake that answers with the intent of its prompt, so a served answer is right exactly when it
names the request's intent. Embeddings: all-MiniLM-L6-v2 (the offline package).

Rows: no cache; an exact-only cache; static thresholds without guards (``guards=()``: the
differing sentences alone decide); the same with the default guards; verified mode
(``max_error_rate=δ``, default guards, candidates from a floor of :data:`FLOOR`) at
δ = 0.01, 0.02, 0.05; and verified mode at δ = 0.02 restarted :data:`RESTARTS` times
(a new LLM cache over the same engine, as a durable or Redis cache outlives its process).
*error* is wrong answers over all requests; the target for verified mode: error <= δ and
more hits than the best static threshold whose error is <= δ.

Exit code is 0 whatever the figures: this is a report, not a gate.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langchain_core.embeddings import Embeddings
from langchain_core.globals import set_llm_cache
from langchain_core.language_models.llms import LLM

import semcache_core
from report import Row, record
from semcache_integrations.cli_calibrate import load_embedder
from semcache_integrations.langchain import SemCache

INTENTS = Path(__file__).resolve().parents[1] / "examples" / "stream" / "intents.jsonl"
SEED = 20240611
REQUESTS, QUICK_REQUESTS = 1500, 300
STATIC = (0.80, 0.83, 0.86, 0.89, 0.92, 0.95)
DELTAS = (0.01, 0.02, 0.05)
FLOOR = 0.5  # verified mode's candidate floor: the learned thresholds do the rest
ZIPF = 0.8
RESTARTS = 4  # the restarted row's restarts, evenly spaced over the stream

console = Console(width=150)


def load_intents(path: Path = INTENTS) -> dict[str, str]:
    """Every phrasing of the intents in ``path`` (JSON lines ``{"intent", "phrasings"}``)
    and its intent."""
    intent_of: dict[str, str] = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        for phrasing in record["phrasings"]:
            intent_of[phrasing] = record["intent"]
    return intent_of


OPENINGS = ("", "Hi! ", "Hello, ", "Quick question: ", "Hey there. ", "Good morning. ")
CLOSINGS = ("", " Thanks!", " Thank you.", " Cheers.", " Please answer quickly.")


def make_stream(intent_of: dict[str, str], n: int, seed: int, reworded: bool = False) -> list[str]:
    """``n`` requests: intents by a Zipf-like popularity (a seeded order), phrasings
    uniformly; ``reworded``: each with a random greeting and sign-off (few exact repeats).
    A reworded text is added to ``intent_of``."""
    rng = np.random.default_rng(seed)
    intents = sorted(set(intent_of.values()))
    phrasings = {i: [p for p, j in intent_of.items() if j == i] for i in intents}
    order = rng.permutation(len(intents))
    weights = 1.0 / (np.arange(1, len(intents) + 1) ** ZIPF)
    weights /= weights.sum()
    chosen = rng.choice(order, size=n, p=weights)
    stream = []
    for i in chosen:
        text = str(rng.choice(phrasings[intents[i]]))
        if reworded:
            text = f"{rng.choice(OPENINGS)}{text}{rng.choice(CLOSINGS)}"
            intent_of[text] = intents[i]
        stream.append(text)
    return stream


class IntentLLM(LLM):
    """Answers ``"intent: <id>"`` for every known phrasing; counts its calls."""

    intent_of: dict[str, str]
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "intent-fake"

    def _call(self, prompt: str, stop: Any = None, run_manager: Any = None, **kw: Any) -> str:
        self.calls += 1
        return f"intent: {self.intent_of[prompt]}"


class MemoEmbeddings(Embeddings):
    """MiniLM, each text embedded once per run of the script."""

    def __init__(self) -> None:
        self.model = load_embedder("minilm")
        self._memo: dict[str, tuple[float, ...]] = {}
        self._done: set[str] = set()

    def _one(self, text: str) -> tuple[float, ...]:
        if text not in self._memo:
            self._memo[text] = tuple(self.model.embed_query(text))
            self._done.add(text)
        return self._memo[text]

    def warm(self, texts: list[str]) -> None:
        """Embed ``texts`` in batches now (one at a time later would be slower)."""
        todo = [t for t in texts if t not in self._done]
        for text, vector in zip(todo, self.model.embed_documents(todo)):
            self._memo[text] = tuple(vector)
            self._done.add(text)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(self._one(t)) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return list(self._one(text))


@dataclass(frozen=True)
class Outcome:
    label: str
    requests: int
    exact: int
    semantic: int
    wrong: int
    seconds: float
    explorations: int = 0  # verified mode's candidates answered as misses, to learn

    @property
    def hits(self) -> int:
        return self.exact + self.semantic

    @property
    def error(self) -> float:
        return self.wrong / self.requests


def replay(
    label: str, cache: SemCache | None, stream: list[str], intent_of: dict[str, str]
) -> Outcome:
    llm = IntentLLM(intent_of=intent_of)
    set_llm_cache(cache)
    wrong = 0
    started = time.perf_counter()
    try:
        for text in stream:
            calls = llm.calls
            answer = llm.invoke(text)
            if llm.calls == calls and answer != f"intent: {intent_of[text]}":
                wrong += 1
    finally:
        set_llm_cache(None)
    seconds = time.perf_counter() - started
    if cache is None:
        return Outcome(label, len(stream), 0, 0, 0, seconds)
    stats = cache.stats()
    return Outcome(
        label,
        len(stream),
        stats.exact_hits,
        stats.semantic_hits,
        wrong,
        seconds,
        stats.explorations,
    )


def replay_restarted(
    delta: float, embeddings: MemoEmbeddings, stream: list[str], intent_of: dict[str, str]
) -> Outcome:
    """Verified mode at ``delta`` when its process restarts :data:`RESTARTS` times: each
    part of the stream through a new LLM cache over one engine, whose entries (and the
    observations they carry) outlive each cache."""
    engine = semcache_core.SemCache()
    parts = np.array_split(np.arange(len(stream)), RESTARTS + 1)
    outcomes = []
    for number, part in enumerate(parts):
        cache = SemCache(embeddings, cache=engine, threshold=FLOOR, max_error_rate=delta,
                         rng=random.Random(SEED + number))  # fmt: skip
        outcomes.append(replay("part", cache, [stream[i] for i in part], intent_of))
    return Outcome(
        f"{RESTARTS} restarts: verified δ={delta:g}",
        len(stream),
        sum(o.exact for o in outcomes),
        sum(o.semantic for o in outcomes),
        sum(o.wrong for o in outcomes),
        sum(o.seconds for o in outcomes),
        sum(o.explorations for o in outcomes),
    )


def run(
    requests: int, reworded: bool, embeddings: MemoEmbeddings, intents: Path = INTENTS
) -> tuple[list[Outcome], int]:
    """Every row over one seeded stream of ``intents``, and how many intents it asks."""
    intent_of = load_intents(intents)
    stream = make_stream(intent_of, requests, SEED, reworded)
    embeddings.warm(sorted(set(stream)))  # time the cache, not the model
    rows = [replay("no cache", None, stream, intent_of)]
    rows.append(replay("exact only", SemCache(embeddings, threshold=1.0), stream, intent_of))
    for threshold in STATIC:
        cache = SemCache(embeddings, threshold=threshold, guards=())
        rows.append(replay(f"static {threshold:.2f}", cache, stream, intent_of))
    for threshold in STATIC:
        cache = SemCache(embeddings, threshold=threshold)  # guards on by default
        rows.append(replay(f"static {threshold:.2f} + guards", cache, stream, intent_of))
    for delta in DELTAS:
        cache = SemCache(embeddings, threshold=FLOOR, max_error_rate=delta, rng=random.Random(SEED))
        rows.append(replay(f"verified δ={delta:g}", cache, stream, intent_of))
    rows.append(replay_restarted(0.02, embeddings, stream, intent_of))
    return rows, len({intent_of[text] for text in stream})


def table(rows: list[Outcome], title: str) -> Table:
    out = Table(title=title)
    for column in ("mode", "hits", "hit rate", "exact", "semantic", "wrong", "error",
                   "wrong / hits", "explored", "time (embeddings of new spans incl.)"):  # fmt: skip
        out.add_column(column, justify="left" if column == "mode" else "right")
    for row in rows:
        out.add_row(
            row.label,
            str(row.hits),
            f"{row.hits / row.requests:.1%}",
            str(row.exact),
            str(row.semantic),
            str(row.wrong),
            f"{row.error:.2%}",
            f"{row.wrong / row.hits:.2%}" if row.hits else "-",
            str(row.explorations) if "verified" in row.label else "",
            f"{row.seconds:.2f} s",
        )
    return out


def judged(rows: list[Outcome], verified: Outcome, delta: float) -> tuple[Outcome | None, bool]:
    """The best static row whose error is <= δ (``None``: none is), and whether
    ``verified`` meets the target against it: error <= δ and more hits."""
    within = [r for r in rows if r.label.startswith(("static", "exact")) and r.error <= delta]
    best = max(within, key=lambda r: r.hits) if within else None
    return best, verified.error <= delta and (best is None or verified.hits > best.hits)


def verdicts(rows: list[Outcome], first_requests: int) -> list[str]:
    """Per δ: the best static row whose error is <= δ, whether verified mode beats it, and
    the room it had: the best static row's misses less ``first_requests`` (the intents the
    stream asks: a cache that serves no wrong answer misses the first request of each),
    against the explorations verified mode spent."""
    lines = []
    for delta in DELTAS:
        verified = next(r for r in rows if r.label == f"verified δ={delta:g}")
        best, met = judged(rows, verified, delta)
        lines.append(
            f"δ={delta:g}: verified {verified.hits} hits at {verified.error:.2%} error "
            f"({'<=' if verified.error <= delta else '>'} δ); best static within δ: "
            + (f"{best.label}, {best.hits} hits at {best.error:.2%}" if best else "none")
            + f" -> target {'met' if met else 'NOT met'}"
        )
        if best is not None:
            room = best.requests - best.hits - first_requests
            lines.append(
                f"  room: {best.label} misses {best.requests - best.hits} requests; the "
                f"stream asks {first_requests} intents, and a cache serving no wrong answer "
                f"misses the first request of each; verified mode explored "
                f"{verified.explorations} times (beating the row allows about {room})"
            )
    return lines


def family(label: str) -> str | None:
    """The wrong-vs-hits chart's family of a row (``None``: not on the chart)."""
    if label.startswith("verified"):
        return "verified"
    if label.endswith("+ guards"):
        return "guards"
    return "static" if label.startswith(("static", "exact")) else None


def record_rows(rows: list[Outcome], title: str, stream: str, points: list[dict[str, Any]]) -> None:
    """Record the table for ``semcache bench`` (a verified row judged as :func:`verdicts`
    judges it) and add each row's point to the wrong-vs-hits series."""
    recorded = []
    for number, row in enumerate(rows, 1):
        rates = f"({row.hits / row.requests:.1%}), {row.wrong} wrong ({row.error:.2%})"
        baseline, target, passed = "", "info", None
        if row.label.startswith("verified δ="):
            delta = float(row.label.removeprefix("verified δ="))
            best, passed = judged(rows, row, delta)
            if best is not None:
                baseline = f"best static within δ: {best.label}, {best.hits} hits"
            target = f"error <= {delta:g}, more hits than the best static within δ"
        recorded.append(Row(str(number), row.label, f"{row.hits} hits {rates}", baseline, "",
                            target, passed))  # fmt: skip
        kind = family(row.label)
        if kind is not None:
            rate = row.hits / row.requests
            point = {"label": row.label, "family": kind, "set": stream, "hit_rate": rate}
            points.append({**point, "wrong_rate": row.error})
    record("table", title, {"rows": [dataclasses.asdict(row) for row in recorded]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_REQUESTS} requests")
    parser.add_argument("--requests", type=int, default=REQUESTS, help="stream length")
    parser.add_argument("--intents", type=Path, default=INTENTS, help="labelled intents")
    args = parser.parse_args()
    quick = args.quick
    requests = QUICK_REQUESTS if quick else args.requests
    embeddings = MemoEmbeddings()
    points: list[dict[str, Any]] = []
    for reworded, title in (
        (False, "A. the phrasings as written (exact repeats are common)"),
        (True, "B. every request with a random greeting and sign-off (few exact repeats)"),
    ):
        rows, first_requests = run(requests, reworded, embeddings, args.intents)
        console.print(table(rows, f"Verified vs static thresholds, LangChain + MiniLM: {title}"))
        for line in verdicts(rows, first_requests):
            console.print(line)
        record_rows(rows, f"Verified vs static thresholds: {title}", title[0], points)
    record("series", "wrong_vs_hits", {"points": points})
    console.print(
        f"verified-vs-static benchmark{' (quick)' if quick else ''}: {requests} requests"
        f" of {args.intents.name}"
    )


if __name__ == "__main__":
    main()
