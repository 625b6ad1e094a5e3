"""SemCacheLLM: a LlamaIndex LLM answering from the cache, scoped by model and context."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakeclock import FakeClock
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    CompletionResponseGen,
    ImageBlock,
    LLMMetadata,
    MessageRole,
    TextBlock,
)
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import CustomLLM, MockLLM
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_support import CountingLLM

from semcache_core import SemCache
from semcache_integrations.llama_index.llm import SemCacheLLM, model_identity


def user(text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.USER, content=text)


def system(text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.SYSTEM, content=text)


QUESTION = "How do I reset my password?"
PARAPHRASE = "how do I reset my password"


@pytest.fixture
def inner() -> CountingLLM:
    return CountingLLM()


@pytest.fixture
def llm(inner: CountingLLM) -> SemCacheLLM:
    return SemCacheLLM(inner, threshold=0.9)


# --- complete ----------------------------------------------------------------------------


def test_complete_exact_repeat_calls_wrapped_once(llm: SemCacheLLM, inner: CountingLLM) -> None:
    first = llm.complete(QUESTION)
    second = llm.complete(QUESTION)
    assert inner.calls == 1
    assert second.text == first.text == f"counting-1: {QUESTION}"
    assert second is not first and second.raw is None  # rebuilt, raw dropped
    stats = llm.stats()
    assert (stats.exact_hits, stats.semantic_hits, stats.misses, stats.updates) == (1, 0, 1, 1)


def test_complete_paraphrase_hits(llm: SemCacheLLM, inner: CountingLLM) -> None:
    llm.complete(QUESTION)
    assert llm.complete(PARAPHRASE).text == f"counting-1: {QUESTION}"
    assert inner.calls == 1
    assert llm.stats().semantic_hits == 1


def test_different_question_misses(llm: SemCacheLLM, inner: CountingLLM) -> None:
    llm.complete(QUESTION)
    assert llm.complete("What is the capital of France?").text.endswith("France?")
    assert inner.calls == 2


def test_kwargs_and_formatted_scope_the_entry(llm: SemCacheLLM, inner: CountingLLM) -> None:
    llm.complete(QUESTION, temperature=0.0)
    llm.complete(QUESTION, temperature=0.7)
    llm.complete(QUESTION, formatted=True, temperature=0.0)
    assert inner.calls == 3
    llm.complete(PARAPHRASE, temperature=0.7)
    assert inner.calls == 3


def test_unserialisable_kwargs_bypass_the_cache(llm: SemCacheLLM, inner: CountingLLM) -> None:
    llm.complete(QUESTION, tool=object())
    llm.complete(QUESTION, tool=object())
    assert inner.calls == 2
    assert llm.stats().updates == 0


async def test_embed_model_is_used(inner: CountingLLM) -> None:
    # MockEmbedding gives every text the same vector: any question in scope hits.
    llm = SemCacheLLM(inner, embed_model=MockEmbedding(embed_dim=8))
    llm.complete(QUESTION)
    assert llm.complete("Something else entirely").text == f"counting-1: {QUESTION}"
    assert (await llm.acomplete("And another")).text == f"counting-1: {QUESTION}"
    assert inner.calls == 1


def test_no_hit_across_models() -> None:
    engine = SemCache()
    small, large = CountingLLM(model_name="small"), CountingLLM(model_name="large")
    hot = CountingLLM(model_name="small", temperature=0.9)
    cached = [SemCacheLLM(m, cache=engine, threshold=0.9) for m in (small, large, hot)]
    answers = [c.complete(QUESTION).text for c in cached]
    assert answers == [f"small: {QUESTION}", f"large: {QUESTION}", f"small: {QUESTION}"]
    assert (small.calls, large.calls, hot.calls) == (1, 1, 1)
    assert len({c.model_id for c in cached}) == 3
    assert cached[1].complete(PARAPHRASE).text == f"large: {QUESTION}"


def test_model_identity_is_stable_and_leaves_out_credentials() -> None:
    assert model_identity(MockLLM(max_tokens=3)) == model_identity(MockLLM(max_tokens=3))
    assert model_identity(MockLLM(max_tokens=3)) != model_identity(MockLLM(max_tokens=4))
    assert "counting-1" in model_identity(CountingLLM())


@pytest.mark.parametrize("call", ["complete", "chat", "stream_complete", "acomplete"])
def test_a_setting_changed_after_wrapping_gets_answers_of_its_own(call: str) -> None:
    """The identity was fixed when the wrapper was made: after ``inner.max_tokens = 40``
    the short answer written under the old setting was still served."""
    inner = MockLLM(max_tokens=3)
    wrapper = SemCacheLLM(inner)
    ask = {
        "complete": lambda: wrapper.complete(QUESTION).text,
        "chat": lambda: wrapper.chat([ChatMessage(role="user", content=QUESTION)]).message.content,
        # what a stream says is what its deltas spell (MockLLM's ``text`` lags one behind)
        "stream_complete": lambda: "".join(
            r.delta or "" for r in wrapper.stream_complete(QUESTION)
        ),
        "acomplete": lambda: asyncio.run(wrapper.acomplete(QUESTION)).text,
    }[call]
    short = ask()
    inner.max_tokens = 40
    longer = ask()
    assert len(longer.split()) > len(short.split())
    assert wrapper.model_id == model_identity(inner)  # shows the identity now in use
    assert wrapper.stats().exact_hits == 0
    inner.max_tokens = 3
    assert ask() == short and wrapper.stats().exact_hits == 1  # the first setting's answer


def test_model_id_override_shares_entries() -> None:
    engine = SemCache()
    first = SemCacheLLM(CountingLLM(model_name="a"), cache=engine, model_id="shared")
    second_inner = CountingLLM(model_name="b")
    second = SemCacheLLM(second_inner, cache=engine, model_id="shared")
    first.complete(QUESTION)
    assert second.complete(QUESTION).text == f"a: {QUESTION}"
    assert second_inner.calls == 0


# --- chat --------------------------------------------------------------------------------


def test_chat_exact_and_paraphrase(llm: SemCacheLLM, inner: CountingLLM) -> None:
    first = llm.chat([system("Be brief."), user(QUESTION)])
    again = llm.chat([system("Be brief."), user(QUESTION)])
    para = llm.chat([system("Be brief."), user(PARAPHRASE)])
    assert inner.calls == 1
    assert again.message.content == para.message.content == first.message.content
    assert again.message.role == MessageRole.ASSISTANT
    assert again is not first and again.message is not first.message


def test_chat_no_hit_across_system_prompts_or_turns(llm: SemCacheLLM, inner: CountingLLM) -> None:
    llm.chat([system("Be brief."), user(QUESTION)])
    llm.chat([system("Answer in French."), user(PARAPHRASE)])
    assert inner.calls == 2
    history = [user("Hi"), ChatMessage(role=MessageRole.ASSISTANT, content="Hello!")]
    llm.chat([*history, user(QUESTION)])
    assert inner.calls == 3
    llm.chat([*history, user(PARAPHRASE)])  # same earlier turns: a semantic hit
    assert inner.calls == 3
    other = [user("Hey"), ChatMessage(role=MessageRole.ASSISTANT, content="Hello!")]
    llm.chat([*other, user(PARAPHRASE)])
    assert inner.calls == 4


@examples(max_examples=25, deadline=None)
@given(uploads=st.lists(st.binary(min_size=1, max_size=8), min_size=1, max_size=6))
def test_a_file_block_is_keyed_by_the_file_contents_not_its_path(
    uploads: list[bytes], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """An app that saves each upload to the same path: another image under that path is
    another prompt (it was served the first image's answer, as an exact hit)."""
    path = tmp_path_factory.mktemp("uploads") / "upload.png"
    inner = CountingLLM(chat_model=True)
    llm = SemCacheLLM(inner, threshold=0.9)
    seen: list[bytes] = []
    for contents in uploads:
        path.write_bytes(contents)
        image = ImageBlock(path=path, image_mimetype="image/png")
        llm.chat([ChatMessage(role=MessageRole.USER, blocks=[TextBlock(text=QUESTION), image])])
        if contents not in seen:
            seen.append(contents)
        assert inner.calls == len(seen)  # a repeat of an image is a hit, another one a miss
    path.unlink()  # a block whose file is gone: the model has the call, uncached
    message = ChatMessage(role=MessageRole.USER, blocks=[TextBlock(text=QUESTION), image])
    for _ in range(2):
        calls = inner.calls
        llm.chat([message])
        assert inner.calls == calls + 1


@pytest.mark.parametrize("other", ["", " ", "\n", "Thanks!", "What breed is it?"])
def test_a_question_moved_to_another_image_is_a_miss(other: str, tmp_path: Path) -> None:
    """As in the LangChain cache: text blocks were joined into one query and blanked in
    place, so a question moved to the other image's text slot was served the first dog's
    answer by meaning. With no threshold and no guards, only the context keeps them apart."""
    rex, fido = tmp_path / "rex.png", tmp_path / "fido.png"
    rex.write_bytes(b"rex")
    fido.write_bytes(b"fido")

    def message(first: str, second: str) -> ChatMessage:
        blocks = [TextBlock(text=first), ImageBlock(path=rex, image_mimetype="image/png")]
        blocks += [TextBlock(text=second), ImageBlock(path=fido, image_mimetype="image/png")]
        return ChatMessage(role=MessageRole.USER, blocks=blocks)

    inner = CountingLLM(chat_model=True)
    llm = SemCacheLLM(inner, threshold=0.0, guards=())
    llm.chat([message("What breed is this dog?", other)])
    llm.chat([message(other, "What breed is this dog?")])
    assert inner.calls == 2
    llm.chat([message("Which breed is this dog?", other)])  # a paraphrase in its place
    # it is the query only when the other slot holds no text (else the last text is)
    assert inner.calls == (2 if not other.strip() else 3)


def test_chat_query_is_last_user_message(llm: SemCacheLLM, inner: CountingLLM) -> None:
    tagged = ChatMessage(role=MessageRole.USER, content=QUESTION, additional_kwargs={"n": 1})
    llm.chat([tagged])
    llm.chat([ChatMessage(role=MessageRole.USER, content=PARAPHRASE, additional_kwargs={"n": 2})])
    assert inner.calls == 2  # additional_kwargs are context
    llm.chat([user(QUESTION)], temperature=0.5)
    assert inner.calls == 3  # so are the call's kwargs


def test_chat_and_complete_do_not_share(llm: SemCacheLLM, inner: CountingLLM) -> None:
    llm.complete(QUESTION)
    llm.chat([user(QUESTION)])
    assert inner.calls == 2


# --- async -------------------------------------------------------------------------------


async def test_async_parity(llm: SemCacheLLM, inner: CountingLLM) -> None:
    first = await llm.acomplete(QUESTION)
    assert (await llm.acomplete(PARAPHRASE)).text == first.text
    assert llm.complete(QUESTION).text == first.text  # sync and async share entries
    chat = await llm.achat([user(QUESTION)])
    assert (await llm.achat([user(PARAPHRASE)])).message.content == chat.message.content
    assert inner.calls == 2
    stats = llm.stats()
    assert (stats.exact_hits, stats.semantic_hits, stats.misses) == (1, 2, 2)


# --- streaming ---------------------------------------------------------------------------


def test_stream_complete_miss_then_hit(llm: SemCacheLLM, inner: CountingLLM) -> None:
    chunks = list(llm.stream_complete(QUESTION))
    assert len(chunks) > 1
    assert "".join(c.delta or "" for c in chunks) == f"counting-1: {QUESTION}"
    hit = list(llm.stream_complete(PARAPHRASE))
    assert [(c.text, c.delta) for c in hit] == [(f"counting-1: {QUESTION}",) * 2]
    assert llm.complete(QUESTION).text == f"counting-1: {QUESTION}"  # stored whole
    assert inner.calls == 1


def test_abandoned_stream_is_not_stored(llm: SemCacheLLM, inner: CountingLLM) -> None:
    stream = llm.stream_complete(QUESTION)
    next(stream)
    stream.close()
    list(llm.stream_complete(QUESTION))
    assert inner.calls == 2


def test_stream_chat_miss_then_hit(llm: SemCacheLLM, inner: CountingLLM) -> None:
    chunks = list(llm.stream_chat([user(QUESTION)]))
    assert len(chunks) > 1 and QUESTION in (chunks[-1].message.content or "")
    hit = list(llm.stream_chat([user(PARAPHRASE)]))
    assert len(hit) == 1 and hit[0].delta == hit[0].message.content == chunks[-1].message.content
    assert llm.chat([user(QUESTION)]).message.content == chunks[-1].message.content
    assert inner.calls == 1


@examples(max_examples=15, deadline=None)
@given(tokens=st.integers(1, 12))
def test_a_chat_stream_hit_replays_what_the_miss_streamed(tokens: int) -> None:
    """Found by review: a chat stream stored its last message as it was, and a
    ``CustomLLM``'s (``MockLLM``'s) lags a delta behind the text the caller saw: every
    later hit served an answer one token short."""
    llm = SemCacheLLM(MockLLM(max_tokens=tokens))
    miss = list(llm.stream_chat([user(QUESTION)]))
    seen = "".join(chunk.delta or "" for chunk in miss)
    assert seen == MockLLM(max_tokens=tokens).chat([user(QUESTION)]).message.content
    hit = list(llm.stream_chat([user(QUESTION)]))
    assert hit[-1].message.content == llm.chat([user(QUESTION)]).message.content == seen

    async def streamed() -> tuple[str, str]:
        fresh = SemCacheLLM(MockLLM(max_tokens=tokens))
        chunks = [c async for c in await fresh.astream_chat([user(QUESTION)])]
        again = [c async for c in await fresh.astream_chat([user(QUESTION)])]
        return "".join(c.delta or "" for c in chunks), again[-1].message.content or ""

    seen_async, served_async = asyncio.run(streamed())
    assert served_async == seen_async == seen


async def test_async_streams(llm: SemCacheLLM, inner: CountingLLM) -> None:
    miss = [c async for c in await llm.astream_complete(QUESTION)]
    hit = [c async for c in await llm.astream_complete(PARAPHRASE)]
    assert hit[0].text == miss[-1].text and len(hit) == 1
    chat_miss = [c async for c in await llm.astream_chat([user(QUESTION)])]
    chat_hit = [c async for c in await llm.astream_chat([user(QUESTION)])]
    assert chat_hit[0].message.content == chat_miss[-1].message.content
    assert inner.calls == 2


# --- storage -----------------------------------------------------------------------------


def test_ttl_expiry_with_fake_clock(inner: CountingLLM) -> None:
    clock = FakeClock(1_000.0)
    llm = SemCacheLLM(inner, cache=SemCache(clock=clock), ttl=10)
    llm.complete(QUESTION)
    clock.advance(9)
    llm.complete(QUESTION)
    assert inner.calls == 1
    clock.advance(2)
    llm.complete(QUESTION)
    assert inner.calls == 2


NS = "li-llm:default"  # the engine namespace of a SemCacheLLM without namespace=


@pytest.mark.parametrize("garbage", ['{"not": "a response"}', "not json", b"\x00\x01"])
def test_stored_garbage_is_a_miss(llm: SemCacheLLM, inner: CountingLLM, garbage: Any) -> None:
    llm.chat([user(QUESTION)])
    (key,) = llm.engine.scan(namespace=NS)
    entry = llm.engine.get_entry(key, namespace=NS)
    assert entry is not None
    llm.engine.set(key, garbage, metadata=entry.metadata, namespace=entry.namespace)
    assert QUESTION in (llm.chat([user(QUESTION)]).message.content or "")
    assert inner.calls == 2
    assert llm.stats().hits == 0


def test_completion_entry_does_not_load_as_chat(llm: SemCacheLLM, inner: CountingLLM) -> None:
    llm.complete(QUESTION)
    (key,) = llm.engine.scan(namespace=NS)
    completion_blob = llm.engine.get(key, namespace=NS)
    llm.chat([user(QUESTION)])
    chat_key = next(k for k in llm.engine.scan(namespace=NS) if k != key)
    chat_entry = llm.engine.get_entry(chat_key, namespace=NS)
    assert chat_entry is not None
    llm.engine.set(chat_key, completion_blob, metadata=chat_entry.metadata, namespace=NS)
    llm.chat([user(QUESTION)])
    assert inner.calls == 3


def test_durable_reopen_keeps_responses(tmp_path: Path) -> None:
    path = tmp_path / "responses"
    with SemCache(path=path) as engine:
        SemCacheLLM(CountingLLM(), cache=engine).chat([user(QUESTION)])
    inner = CountingLLM()
    with SemCache(path=path) as engine:
        reopened = SemCacheLLM(inner, cache=engine, threshold=0.9)
        answer = reopened.chat([user(PARAPHRASE)]).message.content
    assert answer is not None and QUESTION in answer
    assert inner.calls == 0


def test_clear_removes_only_this_model() -> None:
    engine = SemCache()
    a, b = CountingLLM(model_name="a"), CountingLLM(model_name="b")
    cached_a, cached_b = SemCacheLLM(a, cache=engine), SemCacheLLM(b, cache=engine)
    cached_a.complete(QUESTION)
    cached_b.complete(QUESTION)
    cached_a.clear()
    cached_a.complete(QUESTION)
    cached_b.complete(QUESTION)
    assert (a.calls, b.calls) == (2, 1)


# --- inside LlamaIndex -------------------------------------------------------------------


def test_wrapper_mirrors_the_wrapped_llm() -> None:
    inner = CountingLLM(system_prompt="Be brief.", chat_model=True)
    llm = SemCacheLLM(inner)
    assert llm.system_prompt == "Be brief."
    assert llm.metadata.model_name == "counting-1" and llm.metadata.is_chat_model
    assert not llm.metadata.is_function_calling_model
    assert llm.class_name() == "SemCacheLLM"


def test_predict_uses_the_cache_with_mock_llm() -> None:
    from llama_index.core.prompts import PromptTemplate

    llm = SemCacheLLM(MockLLM(max_tokens=4))
    template = PromptTemplate("Tell me about {topic}.")
    assert llm.predict(template, topic="cats") == "text text text text"
    assert llm.predict(template, topic="cats") == "text text text text"
    assert llm.stats().exact_hits == 1


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``Settings`` with its LLM and embedding model restored after the test."""
    monkeypatch.setattr(Settings, "_llm", None)
    monkeypatch.setattr(Settings, "_embed_model", None)
    yield Settings


def test_query_engine_under_settings(settings: Any, inner: CountingLLM) -> None:
    settings.llm = SemCacheLLM(inner)
    settings.embed_model = MockEmbedding(embed_dim=8)
    index = VectorStoreIndex.from_documents(
        [Document(text="Passwords are reset from the login page."), Document(text="Cats purr.")]
    )
    engine = index.as_query_engine()
    first = engine.query(QUESTION)
    second = engine.query(QUESTION)
    assert inner.calls == 1
    assert str(second) == str(first) != ""


async def test_chat_response_round_trips_fields() -> None:
    class Fixed(CountingLLM):
        def chat(self, messages: Any, **kwargs: Any) -> ChatResponse:
            self.calls += 1
            return ChatResponse(
                message=ChatMessage(
                    role=MessageRole.ASSISTANT, content="ok", additional_kwargs={"id": 7}
                ),
                additional_kwargs={"usage": {"total_tokens": 3}},
                raw=object(),
            )

    fixed = Fixed()
    cached = SemCacheLLM(fixed)
    cached.chat([user(QUESTION)])
    hit = await cached.achat([user(QUESTION)])
    assert hit.message.additional_kwargs == {"id": 7}
    assert hit.additional_kwargs == {"usage": {"total_tokens": 3}}
    assert hit.raw is None and fixed.calls == 1


class EchoLLM(CustomLLM):
    """Applies its ``completion_to_prompt`` itself (as LlamaCPP and HuggingFaceLLM do) and
    echoes what the model saw; ``handle`` is a setting without a JSON form."""

    style: str = ""
    handle: Any = None

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="echo")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        if not formatted:
            prompt = self.completion_to_prompt(prompt)
        return CompletionResponse(text=f"[{self.style}] {prompt}")

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        raise NotImplementedError


def persona(language: str) -> Any:
    return lambda prompt: f"Answer in {language}. {prompt}"


@examples(max_examples=15, deadline=None, derandomize=True, database=None)
@given(languages=st.lists(st.text(min_size=1, max_size=8), min_size=2, max_size=4, unique=True))
def test_prompt_functions_from_one_factory_are_told_apart(languages: list[str]) -> None:
    """Every lambda ``persona`` returns is ``persona.<locals>.<lambda>``: named by module
    and qualified name only, the German wrapper was served the French-framed answer."""
    engine = SemCache()
    for language in languages:
        wrapped = SemCacheLLM(EchoLLM(completion_to_prompt=persona(language)), cache=engine)
        assert wrapped.complete(QUESTION).text == f"[] Answer in {language}. {QUESTION}"
    again = SemCacheLLM(EchoLLM(completion_to_prompt=persona(languages[0])), cache=engine)
    assert again.model_id == model_identity(EchoLLM(completion_to_prompt=persona(languages[0])))


@examples(max_examples=15, deadline=None, derandomize=True, database=None)
@given(styles=st.lists(st.text(max_size=8), min_size=2, max_size=4, unique=True))
def test_a_setting_without_a_json_form_keeps_the_other_settings_in_the_identity(
    styles: list[str],
) -> None:
    """One field that does not serialise dropped *every* field from the identity: two
    wrappers differing in ``style`` shared answers."""
    engine = SemCache()
    for style in styles:
        wrapped = SemCacheLLM(EchoLLM(style=style, handle=threading.Lock()), cache=engine)
        assert wrapped.complete(QUESTION).text == f"[{style}] {QUESTION}"
    assert "<_thread.lock>" in model_identity(EchoLLM(handle=threading.Lock()))


def test_the_model_identity_is_the_same_in_another_process() -> None:
    """A durable or Redis cache is shared across processes and restarts: the identity may
    hold no memory address (a closure's code object, a function's repr)."""
    script = (
        "import sys; sys.path[:0] = sys.argv[1:]\n"
        "from test_li_llm import EchoLLM, persona\n"
        "from semcache_integrations.llama_index.llm import model_identity\n"
        "print(model_identity(EchoLLM(style='s', completion_to_prompt=persona('fr'))))\n"
    )
    here = str(Path(__file__).parent)
    support = str(Path(__file__).parents[1] / "support")
    runs = [
        subprocess.run(
            [sys.executable, "-c", script, here, support],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for _ in range(2)
    ]
    expected = model_identity(EchoLLM(style="s", completion_to_prompt=persona("fr")))
    assert runs == [expected + "\n"] * 2
    assert " at 0x" not in expected


def test_a_langchain_cache_on_the_same_engine_never_clears_it() -> None:
    """Both adapters lived in "llm:default": LangChain's clear() removed the LlamaIndex
    wrapper's answers (and the other way round)."""
    from langchain_core.outputs import Generation

    from semcache_integrations.langchain import SemCache as LangChainSemCache

    engine = SemCache()
    inner = CountingLLM()
    wrapper = SemCacheLLM(inner, cache=engine)
    langchain = LangChainSemCache(cache=engine)
    wrapper.complete(QUESTION)
    langchain.update("a prompt", "a model", [Generation(text="kept")])
    langchain.clear()
    wrapper.complete(QUESTION)
    assert inner.calls == 1  # still cached
    assert langchain.lookup("a prompt", "a model") is None
    langchain.update("a prompt", "a model", [Generation(text="kept")])
    wrapper.clear()
    assert [g.text for g in langchain.lookup("a prompt", "a model")] == ["kept"]
    assert sorted(engine.namespaces()) == ["llm:default"]


@pytest.mark.parametrize("streamed", [False, True])
def test_callbacks_see_each_model_call_once_and_no_hit(
    monkeypatch: pytest.MonkeyPatch, streamed: bool
) -> None:
    """Token counting and tracing see what the wrapped LLM reports on a miss (once: the
    wrapper fires no event of its own) and nothing on a hit, where no call was made."""
    from llama_index.core import Settings
    from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
    from llama_index.core.llms import MockLLM

    counter = TokenCountingHandler()
    monkeypatch.setattr(Settings, "_callback_manager", CallbackManager([counter]))

    def ask(llm: Any, prompt: str) -> str:
        if streamed:
            return "".join(r.delta or "" for r in llm.stream_complete(prompt))
        return llm.complete(prompt).text

    ask(MockLLM(max_tokens=5), "How do I reset my password?")
    unwrapped = (len(counter.llm_token_counts), counter.total_llm_token_count)
    counter.reset_counts()
    llm = SemCacheLLM(MockLLM(max_tokens=5))
    first = ask(llm, "How do I reset my password?")
    assert (len(counter.llm_token_counts), counter.total_llm_token_count) == unwrapped
    counter.reset_counts()
    assert ask(llm, "How do I reset my password?") == first  # an exact hit
    assert counter.llm_token_counts == []


def test_structured_llms_of_other_output_classes_are_other_models() -> None:
    """Found by review: ``as_structured_llm(Person)`` and ``(Company)`` shared an identity
    (``output_cls`` is left out of dumps), so one was served the other's JSON."""
    from pydantic import BaseModel

    class Person(BaseModel):
        name: str

    class Company(BaseModel):
        name: str
        employees: int

    inner = MockLLM()
    people, companies = inner.as_structured_llm(Person), inner.as_structured_llm(Company)
    assert model_identity(people) != model_identity(companies)
    assert model_identity(people) == model_identity(inner.as_structured_llm(Person))
