"""The usage of a LlamaIndex LLM response: what each cache hit on it saves.

LlamaIndex has no standard usage field; integrations put token counts in one of two
places, read in this order (the first that holds a count wins):

1. ``additional_kwargs``: ``prompt_tokens`` / ``completion_tokens`` (the OpenAI
   integration's ``_get_response_token_counts``), or ``input_tokens`` / ``output_tokens``;
   for a chat response, its message's ``additional_kwargs`` next (where
   ``CustomLLM.chat`` puts its completion's);
2. ``raw``'s ``usage`` (``raw["usage"]`` or ``raw.usage``, a mapping or an object): the
   same two pairs of names (OpenAI's ``CompletionUsage``, Anthropic's ``Usage``).

Anything else (no usage, counts that are not non-negative ints) counts 0 tokens. The model
name ``prices`` are matched with is the wrapped LLM's ``metadata.model_name``.

Example::

    >>> from llama_index.core.base.llms.types import CompletionResponse
    >>> response = CompletionResponse(text="hi", raw={"usage": {"prompt_tokens": 7,
    ...                                                        "completion_tokens": 2}})
    >>> response_usage(response, "gpt-4o-mini")
    Usage(input_tokens=7, output_tokens=2, model_name='gpt-4o-mini')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llama_index.core.base.llms.types import ChatResponse, CompletionResponse

from semcache_core.savings import Usage, token_count

__all__ = ["response_usage"]

_PAIRS = (("prompt_tokens", "completion_tokens"), ("input_tokens", "output_tokens"))


def response_usage(response: ChatResponse | CompletionResponse, model_name: str | None) -> Usage:
    """The usage ``response`` reports (see the module docstring), for ``model_name``."""
    raw = response.raw
    message = response.message if isinstance(response, ChatResponse) else None
    sources = (
        response.additional_kwargs,
        None if message is None else message.additional_kwargs,
        None if raw is None else _field(raw, "usage"),
    )
    for source in sources:
        counts = _counts(source)
        if counts is not None:
            return Usage(counts[0], counts[1], model_name)
    return Usage(0, 0, model_name)


def _field(holder: Any, name: str) -> Any:
    if isinstance(holder, Mapping):
        return holder.get(name)
    try:
        return getattr(holder, name, None)
    except Exception:  # a raw object whose attribute access fails: no usage there
        return None


def _counts(source: Any) -> tuple[int, int] | None:
    if source is None:
        return None
    for input_name, output_name in _PAIRS:
        given_in, given_out = _field(source, input_name), _field(source, output_name)
        if given_in is not None or given_out is not None:
            return token_count(given_in), token_count(given_out)
    return None
