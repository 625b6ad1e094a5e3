"""The replay module of CachedChatModel on its own: what is stored for a stream, and how a
stored answer comes back as chunks that add up to it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, Generation

from semcache_integrations.langchain.chat_replay import (
    CHUNKS_KEY,
    recorded_generation,
    replay_chunks,
    served,
)

USAGE = {"input_tokens": 7, "output_tokens": 5, "total_tokens": 12}
METADATA = {"model_name": "scripted-1", "finish_reason": "stop"}


def merge(chunks: Sequence[ChatGenerationChunk]) -> ChatGenerationChunk:
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return total


def texts(chunks: Sequence[ChatGenerationChunk]) -> list[str]:
    return [str(chunk.message.content) for chunk in chunks if chunk.message.content]


tool_calls = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(["Weather", "Population"]),
            "args": st.dictionaries(st.text(min_size=1, max_size=5), st.integers(), max_size=3),
            "id": st.text(min_size=1, max_size=6),
        }
    ),
    max_size=2,
)


@settings(max_examples=60, deadline=None)
@given(
    pieces=st.lists(st.text(max_size=12), max_size=8),
    calls=tool_calls,
    usage=st.booleans(),
)
def test_replayed_chunks_add_up_to_the_recorded_answer(
    pieces: list[str], calls: list[dict[str, Any]], usage: bool
) -> None:
    chunks = [ChatGenerationChunk(message=AIMessageChunk(content=p)) for p in pieces]
    chunks.append(
        ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                tool_call_chunks=[
                    {
                        "name": c["name"],
                        "args": json.dumps(c["args"]),
                        "id": c["id"],
                        "index": i,
                        "type": "tool_call_chunk",
                    }
                    for i, c in enumerate(calls)
                ],
                usage_metadata=USAGE if usage else None,
                response_metadata=METADATA,
            )
        )
    )
    stored = recorded_generation(chunks)
    replayed = replay_chunks(stored)
    assert texts(replayed) == [p for p in pieces if p]
    again = merge(replayed).message
    assert again.content == stored.message.content == "".join(pieces)
    assert again.tool_calls == stored.message.tool_calls
    assert [c["args"] for c in again.tool_calls] == [c["args"] for c in calls]
    assert again.usage_metadata == (USAGE if usage else None)
    assert again.response_metadata == METADATA
    assert CHUNKS_KEY not in (merge(replayed).generation_info or {})


@given(text=st.text(max_size=40))
def test_word_chunks_add_up_to_the_text(text: str) -> None:
    replayed = replay_chunks(ChatGeneration(message=AIMessage(content=text)))
    assert "".join(str(c.message.content) for c in replayed) == text
    assert all(c.message.content for c in replayed[:-1])


def test_a_completion_answer_is_served_as_an_ai_message() -> None:
    generation = served(Generation(text="Paris", generation_info={CHUNKS_KEY: [5], "k": 1}))
    assert generation.message == AIMessage(content="Paris")
    assert generation.generation_info == {"k": 1}
    assert [str(c.message.content) for c in replay_chunks(Generation(text="Paris"))] == [
        "Paris",
        "",
    ]


invalid_args = st.one_of(
    st.none(),
    st.sampled_from(['{"amount": 1000, "to": "acc', '{"a": ', "[1, 2", "not json", '{"x": 1}}']),
    st.text(max_size=12),
)


@settings(max_examples=80, deadline=None)
@given(args=invalid_args, calls=tool_calls, text=st.text(max_size=20), whole=st.booleans())
def test_an_invalid_tool_call_is_replayed_invalid(
    args: str | None, calls: list[dict[str, Any]], text: str, whole: bool
) -> None:
    """LangChain re-parses tool call chunks leniently when it adds them up (a truncated JSON
    completed, none read as {}): replayed in pieces, a malformed call came back valid, for
    an agent to run. However the replayed chunks are added up, it stays invalid."""
    bad = {"type": "invalid_tool_call", "name": "pay", "args": args, "id": "c9", "error": "bad"}
    message = AIMessage(
        content=text,
        tool_calls=[{"type": "tool_call", **call} for call in calls],
        invalid_tool_calls=[bad],
        usage_metadata=USAGE,
    )
    replayed = replay_chunks(ChatGeneration(message=message), whole=whole)
    again = merge(replayed).message
    assert again.invalid_tool_calls == [bad]
    assert [c["args"] for c in again.tool_calls] == [c["args"] for c in calls]
    assert again.content == text and again.usage_metadata == USAGE


blocks = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"type": st.just("text"), "text": st.text(max_size=15)},
            optional={"id": st.sampled_from(["msg_1", "msg_2"]), "annotations": st.just([{}])},
        ),
        st.fixed_dictionaries(
            {"type": st.just("reasoning"), "reasoning": st.text(max_size=6)},
        ),
        st.fixed_dictionaries(
            {"type": st.just("image"), "url": st.just("https://x/y.png")},
        ),
    ),
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(
    content=blocks,
    numbered=st.sampled_from(["all", "none", "clash"]),
    marks=st.one_of(st.none(), st.lists(st.integers(1, 6), max_size=5)),
    v1=st.booleans(),
)
def test_block_content_replays_into_the_stored_blocks(
    content: list[dict[str, Any]], numbered: str, marks: list[int] | None, v1: bool
) -> None:
    """A list of content blocks (a "v1" answer's, or a provider's) comes back block for
    block, however its text blocks are cut: LangChain adds chunks' blocks of one index up,
    so text blocks are cut only when every block has an index of its own."""
    if numbered == "all":
        content = [{**block, "index": i} for i, block in enumerate(content)]
    elif numbered == "clash":
        content = [{**block, "index": 0} for block in content]
    metadata = {"output_version": "v1", "model_provider": "x"} if v1 else METADATA
    message = AIMessage(content=list(content), response_metadata=metadata, usage_metadata=USAGE)
    info = {CHUNKS_KEY: marks} if marks is not None else None
    replayed = replay_chunks(ChatGeneration(message=message, generation_info=info))
    again = merge(replayed).message
    assert again.content == content
    assert again.response_metadata == metadata and again.usage_metadata == USAGE
    several = sum(1 for chunk in replayed if chunk.message.content) > 1
    indexes = [block.get("index") for block in content]
    assert not several or (None not in indexes and len(set(indexes)) == len(indexes))
