"""What :class:`CachedChatModel` stores for an answer, and how it replays one as chunks.

A stored answer is what LangChain's own cache path stores — a list of ``ChatGeneration``
whose message carries the response metadata, its content in the model's
``output_version`` (``"v1"``: content blocks) — so answers cached here and answers cached
by ``set_llm_cache`` + ``model.invoke`` are interchangeable. One addition: an answer that
was streamed keeps the lengths of its text chunks in ``generation_info["semcache_chunks"]``,
for the replay alone: :func:`served` and ``SemCache.lookup`` hand out no generation with it.

Replay (:func:`replay_chunks`):

- the text comes in the recorded chunks when those lengths are stored and still add up to
  the text; otherwise (an answer that was not streamed) in word-sized chunks, each word
  with the whitespace before it (``"Paris"``, ``" is"``, ``" lovely."``);
- tool calls, ``usage_metadata``, ``response_metadata`` and ``additional_kwargs`` come in
  one final chunk (``chunk_position="last"``), so usage is counted once and metadata
  strings are not concatenated when LangChain adds the chunks up;
- content that is a list of blocks comes whole in the first chunk, unless every block has
  an ``index`` no other has (a streamed ``"v1"`` answer's blocks do): then block by block,
  each text block in text chunks as above (LangChain adds them up by that index).

Adding the replayed chunks up gives the stored message back (content, tool calls, usage,
metadata); only its id is new, as for any run. An answer holding an invalid tool call comes
whole, in one chunk (see ``_one_chunk``): its invalid call stays invalid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult, Generation
from langchain_core.utils.utils import LC_ID_PREFIX

__all__ = ["CHUNKS_KEY", "recorded_generation", "replay_chunks", "served", "stored_generations"]

CHUNKS_KEY = "semcache_chunks"
# Per-request metadata LangChain's gateways attach (langchain_core.utils._gateway); it
# describes the request that paid, not the answer, so it is not stored.
_GATEWAY_KEY = "lc_gateway_metadata"
_VERSION_KEY = "output_version"
_WORD = re.compile(r"\s*\S+")


def recorded_generation(
    chunks: Sequence[ChatGenerationChunk], output_version: str | None = None
) -> ChatGeneration:
    """The generation to store for a stream that completed: the model's chunks as
    LangChain's own cache path adds them up for a model of ``output_version``, with the
    lengths of their text chunks noted."""
    generation = generate_from_stream(iter(_as_streamed(chunks, output_version)))
    contents = [chunk.message.content for chunk in chunks]
    marks = None
    if all(isinstance(content, str) for content in contents):
        marks = [len(content) for content in contents if content]
    return _finished(_in_version(generation.generations[0], output_version), marks)


def stored_generations(
    result: ChatResult, output_version: str | None = None
) -> list[ChatGeneration]:
    """The generations to store for a model's (non-streamed) result, as LangChain's cache
    path stores them for a model of ``output_version``: content in that version, the
    response metadata folded into each message (``llm_output`` too when there is one
    generation)."""
    generations = [
        _finished(_in_version(generation, output_version), None)
        for generation in result.generations
    ]
    if len(generations) == 1 and result.llm_output:
        message = generations[0].message
        metadata = {**result.llm_output, **message.response_metadata}
        generations[0].message = message.model_copy(update={"response_metadata": metadata})
    return generations


def served(generation: Generation) -> ChatGeneration:
    """A stored generation as a chat model returns it (without the chunk lengths)."""
    generation = _as_chat(generation)
    info = {k: v for k, v in (generation.generation_info or {}).items() if k != CHUNKS_KEY}
    return ChatGeneration(message=generation.message, generation_info=info or None)


def replay_chunks(generation: Generation, *, whole: bool = False) -> list[ChatGenerationChunk]:
    """A stored generation as the chunks a stream yields (see the module docstring);
    ``whole=True``: the content in one chunk (a model that does not stream, passed through).
    """
    generation = _as_chat(generation)
    message = generation.message
    info = served(generation).generation_info
    if getattr(message, "invalid_tool_calls", None):
        return [ChatGenerationChunk(message=_one_chunk(message), generation_info=info)]
    marks = (generation.generation_info or {}).get(CHUNKS_KEY)
    content = message.content
    pieces: list[str | list[str | dict[str, Any]]]
    if isinstance(content, str):
        pieces = list(_text_pieces(content, [len(content)] if whole else marks))
    elif whole:
        pieces = [content] if content else []
    else:
        pieces = _block_pieces(content, marks)
    # Content blocks of a "v1" answer say so in every chunk, as in a live "v1" stream:
    # LangChain then takes them as they are (a metadata value equal in every chunk is
    # not concatenated when chunks are added up).
    version = message.response_metadata.get(_VERSION_KEY)
    tag = {_VERSION_KEY: version} if version == "v1" and isinstance(content, list) else {}
    chunks = [
        ChatGenerationChunk(
            message=AIMessageChunk(content=piece, id=message.id, response_metadata=tag)
        )
        for piece in pieces
    ]
    last = _last_chunk(
        message, "" if isinstance(content, str) else [], tool_call_chunks=_tool_call_chunks(message)
    )
    chunks.append(ChatGenerationChunk(message=last, generation_info=info))
    return chunks


def _one_chunk(message: Any) -> AIMessageChunk:
    """The whole message as one (last) chunk, its tool calls valid and invalid as they are.

    For a message holding an invalid tool call (malformed arguments): LangChain re-parses
    the arguments of tool call chunks when it adds chunks up, leniently
    (``parse_partial_json`` completes a truncated JSON and reads none as ``{}``), so over
    several chunks the call would come back *valid*, for an agent to run. One chunk is not
    added to anything.
    """
    return _last_chunk(
        message,
        message.content,
        tool_calls=message.tool_calls,
        invalid_tool_calls=message.invalid_tool_calls,
    )


def _last_chunk(message: Any, content: Any, **calls: Any) -> AIMessageChunk:
    """A replay's last chunk: ``content``, the tool calls given (``calls``), and the
    message's usage, metadata and name, which come once so that adding the chunks up
    counts usage once and does not concatenate metadata strings."""
    return AIMessageChunk(
        content=content,
        id=message.id,
        usage_metadata=getattr(message, "usage_metadata", None),
        response_metadata=message.response_metadata,
        additional_kwargs=message.additional_kwargs,
        name=message.name,
        chunk_position="last",
        **calls,
    )


def _block_pieces(
    content: list[str | dict[str, Any]], marks: Any
) -> list[str | list[str | dict[str, Any]]]:
    """List content as the contents of replayed chunks. When each block has an index no
    other block has (a streamed ``"v1"`` answer's blocks do): block by block, a text
    block with an int index cut into text chunks (at ``marks`` when they add up to its
    text), the first carrying the block's other keys and the rest only its type, text and
    index, so that LangChain, adding chunks' blocks of one index up, gives the block back.
    Otherwise whole, in one chunk: LangChain would number or merge its blocks otherwise."""
    indexes = [block.get("index") if isinstance(block, dict) else None for block in content]
    if None in indexes or any(indexes.count(index) > 1 for index in indexes):
        return [content] if content else []
    pieces: list[str | list[str | dict[str, Any]]] = []
    for block, index in zip(content, indexes):
        if (
            isinstance(block, dict)
            and block.get("type") == "text"
            and isinstance(block.get("text"), str)
            and type(index) is int  # merged by index (a bool is no index)
        ):
            texts = _text_pieces(block["text"], marks) or [""]
            pieces.append([{**block, "text": texts[0]}])
            pieces.extend([{"type": "text", "text": text, "index": index}] for text in texts[1:])
        else:
            pieces.append([block])
    return pieces


def _as_streamed(
    chunks: Sequence[ChatGenerationChunk], output_version: str | None
) -> list[ChatGenerationChunk]:
    """The model's chunks as LangChain's cache path hands them to ``generate_from_stream``
    (``BaseChatModel._generate_with_cache``): each one's generation info folded into its
    metadata; for ``"v1"``, its content made content blocks, each numbered by the run of
    same-type blocks it is in unless it has an ``index``; then a last empty chunk
    (``chunk_position="last"``, on which LangChain turns tool call chunks into tool calls)
    unless the model sent one. The model's chunks and blocks are not changed."""
    streamed: list[ChatGenerationChunk] = []
    index, index_type = -1, ""
    for chunk in chunks:
        message = chunk.message.model_copy(update={"response_metadata": _metadata(chunk)})
        if output_version == "v1":
            message = _as_blocks(message)
            blocks = [dict(block) for block in message.content if isinstance(block, dict)]
            for block in blocks:
                if block.get("type") != index_type:
                    index_type = block.get("type", "")
                    index += 1
                block.setdefault("index", index)
            message = message.model_copy(update={"content": blocks})
        streamed.append(ChatGenerationChunk(message=message, generation_info=chunk.generation_info))
    last = streamed[-1].message if streamed else None
    if isinstance(last, AIMessageChunk) and not last.chunk_position:
        empty: str | list[Any] = "" if isinstance(last.content, str) else []
        streamed.append(
            ChatGenerationChunk(message=AIMessageChunk(content=empty, chunk_position="last"))
        )
    return streamed


def _in_version(generation: ChatGeneration, output_version: str | None) -> ChatGeneration:
    """``generation`` with its content in ``output_version`` (as LangChain's cache path
    makes it before storing: only ``"v1"`` changes anything)."""
    if output_version != "v1":
        return generation
    return ChatGeneration(
        message=_as_blocks(generation.message), generation_info=generation.generation_info
    )


def _as_blocks(message: Any) -> Any:
    """``message`` in ``output_version="v1"``: its ``content_blocks`` as content, and
    noted in its metadata (langchain-core's ``_update_message_content_to_blocks``)."""
    metadata = {**message.response_metadata, _VERSION_KEY: "v1"}
    return message.model_copy(
        update={"content": message.content_blocks, "response_metadata": metadata}
    )


def _metadata(generation: ChatGeneration | ChatGenerationChunk) -> dict[str, Any]:
    """The message's response metadata with the generation info (less the gateway's)
    folded in, as LangChain folds it before it stores or streams a message."""
    info = generation.generation_info or {}
    return {
        **{key: value for key, value in info.items() if key != _GATEWAY_KEY},
        **generation.message.response_metadata,
    }


def _finished(generation: ChatGeneration, marks: list[int] | None) -> ChatGeneration:
    """The generation as stored: generation info folded into the message's response
    metadata (as LangChain does before its cache stores), no run id (a hit gets its own)."""
    info = {
        k: v
        for k, v in (generation.generation_info or {}).items()
        if k not in (CHUNKS_KEY, _GATEWAY_KEY)
    }
    message = _without_run_id(generation.message)
    metadata = {**info, **message.response_metadata}
    metadata.pop(_GATEWAY_KEY, None)
    message = message.model_copy(update={"response_metadata": metadata})
    if marks:
        info[CHUNKS_KEY] = marks
    return ChatGeneration(message=message, generation_info=info or None)


def _without_run_id(message: Any) -> Any:
    """``message`` less the id of the run that made it (``lc_run--...``): an answer stored
    by LangChain's own cache path keeps it, and a hit gets its own run's."""
    if isinstance(message.id, str) and message.id.startswith(LC_ID_PREFIX):
        return message.model_copy(update={"id": None})
    return message


def _as_chat(generation: Generation) -> ChatGeneration:
    """A chat generation without a run id; a plain ``Generation`` (a completion model's
    answer stored under the same key) becomes an AI message with its text, as LangChain
    converts it."""
    if isinstance(generation, ChatGeneration):
        message = _without_run_id(generation.message)
        if message is generation.message:
            return generation
        return ChatGeneration(message=message, generation_info=generation.generation_info)
    return ChatGeneration(
        message=AIMessage(content=generation.text), generation_info=generation.generation_info
    )


def _text_pieces(text: str, marks: Any) -> list[str]:
    """The text cut at the recorded chunk lengths, or into words when they do not fit."""
    if (
        isinstance(marks, list)
        and all(isinstance(mark, int) and mark > 0 for mark in marks)
        and sum(marks) == len(text)
    ):
        pieces, start = [], 0
        for mark in marks:
            pieces.append(text[start : start + mark])
            start += mark
        return pieces
    words = _WORD.findall(text)
    rest = text[sum(map(len, words)) :]  # trailing whitespace, or the whole of a blank text
    if rest:
        if words:
            words[-1] += rest
        else:
            words = [rest]
    return words


def _tool_call_chunks(message: Any) -> list[Any]:
    calls = [
        (call["name"], json.dumps(call["args"]), call["id"])
        for call in getattr(message, "tool_calls", [])
    ]
    return [
        tool_call_chunk(name=name, args=args, id=call_id, index=index)
        for index, (name, args, call_id) in enumerate(calls)
    ]
