"""How :class:`~semcache_integrations.llama_index.llm.SemCacheLLM` stores a response and
gives it back: JSON without ``raw`` and ``delta`` (a response that does not serialise is
not cached), rebuilt as a new object on every hit (a blob that does not load is a miss),
replayed as a one-chunk stream, and read as text for verified mode's ``judge``.

Example::

    >>> from llama_index.core.base.llms.types import CompletionResponse
    >>> load_completion(dump_response(CompletionResponse(text="Paris"))).text
    'Paris'
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, TypeVar

from llama_index.core.base.llms.types import (
    ChatResponse,
    CompletionResponse,
    TextBlock,
    ToolCallBlock,
)

from semcache_core.verified_responses import answer_text

__all__ = [
    "FORMAT",
    "Response",
    "areplay",
    "as_streamed",
    "chat_chunk",
    "completion_chunk",
    "dump_response",
    "load_chat",
    "load_completion",
    "replay",
    "text_of",
]

FORMAT = 1  # version of the stored response JSON; another version loads as a miss

Response = TypeVar("Response", ChatResponse, CompletionResponse)


def dump_response(response: ChatResponse | CompletionResponse) -> str | None:
    """A response as JSON (no ``raw``, no ``delta``); ``None`` when it does not serialise
    (then it is not cached)."""
    kind = "chat" if isinstance(response, ChatResponse) else "completion"
    try:
        data = response.model_dump(mode="json", exclude={"raw", "delta"})
        return json.dumps({"format": FORMAT, "kind": kind, "response": data})
    except Exception:  # an arbitrary object in additional_kwargs
        return None


def _loader(kind: str, cls: type[Response]) -> Callable[[Any], Response | None]:
    def load(blob: Any) -> Response | None:
        try:
            data = json.loads(blob)
            if data["format"] != FORMAT or data["kind"] != kind:
                return None
            return cls.model_validate(data["response"])
        except Exception:  # written by another version, or not by us: a miss
            return None

    return load


load_chat = _loader("chat", ChatResponse)
load_completion = _loader("completion", CompletionResponse)


def text_of(blob: Any) -> str | None:
    """What ``judge`` compares: the response's text, then the tool calls a chat response
    makes (see :func:`~semcache_core.verified_responses.answer_text`)."""
    chat = load_chat(blob)
    if chat is not None:
        calls: list[tuple[str, Any]] = [
            (block.tool_name, block.tool_kwargs)
            for block in chat.message.blocks
            if isinstance(block, ToolCallBlock)
        ]
        for call in chat.message.additional_kwargs.get("tool_calls") or ():  # OpenAI's form
            calls.append(_named_call(call))
        return answer_text(chat.message.content or "", calls)
    completion = load_completion(blob)
    return None if completion is None else completion.text


def _named_call(call: Any) -> tuple[str, Any]:
    """(name, arguments) of a tool call kept in ``additional_kwargs``: OpenAI's ``{"id",
    "function": {"name", "arguments"}}`` or a flat ``{"id", "name", "args"}``; its id is
    left out (every call has a new one)."""
    if not isinstance(call, dict):
        return "", call
    function = call.get("function", call)
    if not isinstance(function, dict):
        return "", function
    arguments = function.get("arguments", function.get("args", function.get("input")))
    if arguments is None:
        arguments = {k: v for k, v in function.items() if k not in ("id", "name", "type")}
    return str(function.get("name", "")), arguments


def as_streamed(last: Response, deltas: list[str | None]) -> Response:
    """What a completed stream stored: its last chunk, its text the one its deltas spelt
    (what the caller saw) where every chunk had one (``MockLLM``'s ``text`` lags a delta
    behind, and a ``CustomLLM``'s chat stream copies it). A chat message of other blocks
    than one text (tool calls, images) is kept as it is: its deltas spell its text only."""
    if any(d is None for d in deltas):
        return last
    text = "".join(d for d in deltas if d is not None)
    if isinstance(last, CompletionResponse):
        return last if text == last.text else last.model_copy(update={"text": text})
    blocks = last.message.blocks
    if (
        text == last.message.content
        or len(blocks) > 1
        or not all(isinstance(block, TextBlock) for block in blocks)
    ):
        return last
    message = last.message.model_copy(update={"blocks": [TextBlock(text=text)]})
    return last.model_copy(update={"message": message})


def chat_chunk(response: ChatResponse) -> ChatResponse:
    return response.model_copy(update={"delta": response.message.content or ""})


def completion_chunk(response: CompletionResponse) -> CompletionResponse:
    return response.model_copy(update={"delta": response.text})


def replay(chunk: Response) -> Generator[Response, None, None]:
    """A cached response as a stream of one chunk holding the whole text."""
    yield chunk


async def areplay(chunk: Response) -> AsyncGenerator[Response, None]:
    yield chunk
