"""The cache's :class:`~semcache_core.responses.Prompt` of a LlamaIndex ``chat`` or
``complete`` call: the exact call serialised, the context that must match (earlier
messages, the keyword arguments) and the query text compared by meaning (the last user
message, or the completion prompt).

Example::

    >>> completion_prompt("How tall is it?", False, {}).query
    'How tall is it?'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole

from semcache_core.errors import InvalidArgumentError
from semcache_core.responses import Prompt

__all__ = ["call_prompt", "called_prompt", "chat_prompt", "completion_prompt", "kwargs_json"]


def kwargs_json(kwargs: dict[str, Any]) -> Any:
    """The call's keyword arguments as JSON data, or ``_UNCACHEABLE``."""
    try:
        return json.loads(json.dumps(kwargs, sort_keys=True))
    except (TypeError, ValueError):
        return _UNCACHEABLE


_UNCACHEABLE: Any = object()


def chat_prompt(messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> Prompt | None:
    """Exact text, context and query of a chat call; ``None`` when it cannot be cached.

    The query is the text of the last user message; the context is the call with that text
    blanked (its other blocks, its role and ``additional_kwargs`` kept).
    """
    extra = kwargs_json(kwargs)
    if extra is _UNCACHEABLE:
        return None
    try:
        dumped = [ChatMessage.model_validate(m).model_dump(mode="json") for m in messages]
    except Exception:  # not messages LlamaIndex can serialise: let the wrapped LLM decide
        return None
    exact = json.dumps({"chat": dumped, "kwargs": extra}, sort_keys=True)
    for position in range(len(dumped) - 1, -1, -1):
        if dumped[position].get("role") == MessageRole.USER.value:
            query, blanked = _take_text(dumped[position])
            context = [*dumped[:position], blanked, *dumped[position + 1 :]]
            context_json = json.dumps({"chat": context, "kwargs": extra}, sort_keys=True)
            return Prompt(exact=exact, context=context_json, query=query)
    return Prompt(exact=exact, context=exact, query="")  # no user turn: exact hits only


def _take_text(message: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A serialised message's text (its text blocks, as ``ChatMessage.content`` joins
    them), and the message with those texts blanked."""
    blocks = message.get("blocks") or []
    texts = [b.get("text", "") for b in blocks if b.get("block_type") == "text"]
    blanked = [{**b, "text": ""} if b.get("block_type") == "text" else b for b in blocks]
    return "\n".join(texts), {**message, "blocks": blanked}


def called_prompt(prompt: Any, formatted: bool, kwargs: dict[str, Any]) -> Prompt | None:
    """:func:`call_prompt` of what ``feedback`` / ``invalidate`` were given (``None``: a
    call that is never cached).

    Raises:
        InvalidArgumentError: ``prompt`` is neither a str nor a sequence of ChatMessage.
    """
    is_chat = isinstance(prompt, Sequence) and not isinstance(prompt, str)
    if not isinstance(prompt, str) and not (
        is_chat and all(isinstance(message, ChatMessage) for message in prompt)
    ):
        raise InvalidArgumentError(
            "prompt must be the str given to complete() or the ChatMessage list given to "
            f"chat(), got {type(prompt).__name__}"
        )
    return call_prompt(prompt, formatted, kwargs)


def call_prompt(
    prompt: str | Sequence[ChatMessage], formatted: bool, kwargs: dict[str, Any]
) -> Prompt | None:
    """The cache's prompt for a ``complete`` (a string) or ``chat`` (messages) call."""
    if isinstance(prompt, str):
        return completion_prompt(prompt, formatted, kwargs)
    return chat_prompt(prompt, kwargs)


def completion_prompt(prompt: str, formatted: bool, kwargs: dict[str, Any]) -> Prompt | None:
    extra = kwargs_json(kwargs)
    if extra is _UNCACHEABLE or not isinstance(prompt, str):
        return None
    context = json.dumps({"complete": bool(formatted), "kwargs": extra}, sort_keys=True)
    exact = json.dumps({"complete": bool(formatted), "kwargs": extra, "prompt": prompt})
    return Prompt(exact=exact, context=context, query=prompt)
