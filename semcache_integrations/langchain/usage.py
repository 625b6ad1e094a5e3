"""What a LangChain response cost: its usage, and the model name ``prices`` are keyed by.

Example::

    >>> model_name("[('_type', 'openai-chat'), ('model_name', 'gpt-4o-mini'), ('stop', None)]")
    'gpt-4o-mini'
    >>> model_name('{"id": ["x"], "kwargs": {"model": "claude-x"}, "lc": 1}---[]')
    'claude-x'

The model name of an ``llm_string`` (the model's identity LangChain hands a cache) is the
first of :data:`MODEL_FIELDS` holding a str: in the call's parameters (after ``---`` for a
serialisable model), then in the model's own fields (its serialised ``kwargs``); ``None``
when none does (such hits save tokens but are never priced).

A response's usage is the ``usage_metadata`` (``input_tokens``, ``output_tokens``) of the
first of its chat generations whose message has one: chat models put the call's usage on
every generation of the call, so one generation's is the whole call's. Plain LLM
generations carry no standard usage: 0 tokens.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation

from semcache_core.savings import Usage, token_count

__all__ = ["MODEL_FIELDS", "model_name", "response_usage"]

MODEL_FIELDS = ("model_name", "model", "model_id")
"""The fields naming a model, most specific first (OpenAI's ``model_name``, Anthropic's
and Ollama's ``model``, Bedrock's ``model_id``)."""

# a field of a params repr that did not parse as literals (an object's repr among them)
_FIELD_REPR = re.compile(r"\('(model_name|model|model_id)', '([^'\\]*)'\)")


_DECODER = json.JSONDecoder()


def model_name(llm_string: str) -> str | None:
    """The model name in ``llm_string`` (see the module docstring), else ``None``."""
    data, end = _json_prefix(llm_string)
    if data is not None and llm_string.startswith("---", end):
        # a serialisable model: its JSON, then the call's params (a "---" inside either,
        # a stop sequence say, is not the separator)
        kwargs = data.get("kwargs") if isinstance(data, dict) else None
        return _in_params(llm_string[end + 3 :]) or _in_mapping(
            kwargs if isinstance(kwargs, dict) else {}
        )
    return _in_params(llm_string)


def _json_prefix(text: str) -> tuple[Any, int]:
    """The JSON value ``text`` starts with and where it ends, or ``(None, 0)``."""
    try:
        return _DECODER.raw_decode(text)
    except ValueError:
        return None, 0


def _in_params(text: str) -> str | None:
    """The model field of a ``str(sorted(params.items()))``."""
    try:
        pairs = ast.literal_eval(text)  # literals only: nothing is evaluated
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        found = {m.group(1): m.group(2) for m in _FIELD_REPR.finditer(text)}
        return _in_mapping(found)
    if not isinstance(pairs, list):
        return None
    return _in_mapping(
        dict(p for p in pairs if isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str))
    )


def _in_mapping(fields: dict[str, Any]) -> str | None:
    for name in MODEL_FIELDS:
        value = fields.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def response_usage(generations: Sequence[Generation], llm_string: str) -> Usage:
    """The usage of the call that produced ``generations`` (see the module docstring)."""
    name = model_name(llm_string)
    for generation in generations:
        if not isinstance(generation, ChatGeneration):
            continue
        message = generation.message
        usage = message.usage_metadata if isinstance(message, AIMessage) else None
        if usage:
            return Usage(
                token_count(usage.get("input_tokens")),
                token_count(usage.get("output_tokens")),
                name,
            )
    return Usage(0, 0, name)
