"""The cache's :class:`~semcache_core.responses.Prompt` of a LlamaIndex ``chat`` or
``complete`` call: the exact call serialised, the context that must match (earlier
messages, the keyword arguments) and the query text compared by meaning (the last user
message, or the completion prompt).

Inside a template call (``predict`` / ``stream``, ``structured_predict`` /
``stream_structured_predict`` and their async twins, which query engines, response
synthesizers and evaluators make) whose arguments name the question (``query_str``,
``question`` or ``query``), only that question is compared by meaning: the rest of the
formatted prompt (the template, the retrieved context, an earlier answer being refined, an
answer being graded) must match exactly. A retrieved context differing in one sentence
("Shipping is free for members." / "...for everyone.", 0.875 with all-MiniLM-L6-v2) is
another question's evidence. A template call whose question is not found (no argument
names one, it is blank, the template has no slot for it, the prompt does not hold it, or
the template's label before the slot names something else: an evaluator's "Information:
{query_str}" holds the answer it grades) hits exactly only: its whole prompt is never
compared by meaning.

Outside template calls, two kinds of text are never compared by meaning:

- a ReAct agent's tool result, which LlamaIndex's ``ReActChatFormatter`` sends as a user
  message ``"Observation: ..."``: such a message is context (it must match exactly) and the
  query is the last user message that is not one;
- a structured-output program's prompt (``LLMTextCompletionProgram``, which
  ``structured_answer_filtering`` and ``get_program_for_llm`` build and call directly), known
  by its ``PydanticOutputParser`` schema instruction ("Here's a JSON schema to follow:"):
  its question is unknown, so the call hits exactly only.

Example::

    >>> completion_prompt("How tall is it?", False, {}).query
    'How tall is it?'
    >>> with template_question(None, {"context_str": "It is 330 m.", "query_str": "How tall?"}):
    ...     prompt = completion_prompt("Context: It is 330 m. Q: How tall? A:", False, {})
    >>> prompt.query, "It is 330 m." in prompt.context
    ('How tall?', True)
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncGenerator, Callable, Generator, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.output_parsers.pydantic import PYDANTIC_FORMAT_TMPL

from semcache_core.errors import InvalidArgumentError
from semcache_core.message_parts import take_last_text
from semcache_core.responses import Prompt

__all__ = [
    "OBSERVATION_PREFIX",
    "QUESTION_ARGUMENTS",
    "SCHEMA_MARKER",
    "astepwise",
    "call_prompt",
    "called_prompt",
    "chat_prompt",
    "completion_prompt",
    "kwargs_json",
    "stepwise",
    "template_question",
]

QUESTION_ARGUMENTS = ("query_str", "question", "query")
"""The template arguments that hold the question, first found first (LlamaIndex's query
engines and synthesizers use ``query_str``, its evaluators ``query``)."""

OBSERVATION_PREFIX = "Observation:"
"""How ``ObservationReasoningStep.get_content`` opens a ReAct tool result."""

SCHEMA_MARKER = next(line for line in PYDANTIC_FORMAT_TMPL.splitlines() if line.strip())
"""The first line of ``PydanticOutputParser``'s schema instruction (structured outputs)."""

# The current template call: (its question, the template's text before its slot), or
# (None, "") when the call names no question it can be found by: then exact hits only.
_QUESTION: ContextVar[tuple[str | None, str] | None] = ContextVar(
    "semcache_template_question", default=None
)
_Item = TypeVar("_Item")
_BLANK = "\x00"  # stands for the question in the context that must match exactly


@contextmanager
def template_question(template: Any, prompt_args: Mapping[str, Any]) -> Iterator[None]:
    """Within it, the ``chat`` / ``complete`` calls compare only the question named by the
    call's ``prompt_args`` or the template's partial arguments (response synthesizers
    give ``query_str`` by ``partial_format``) by meaning, or hit exactly only when there
    is none (see the module)."""
    partial = getattr(template, "kwargs", None)
    arguments = {**(partial if isinstance(partial, Mapping) else {}), **prompt_args}
    question: tuple[str | None, str] = (None, "")
    name = next((k for k in QUESTION_ARGUMENTS if isinstance(arguments.get(k), str)), None)
    if name is not None and arguments[name].strip():
        anchor = _slot_anchor(template, name)
        if anchor is not None:
            question = (arguments[name], anchor)
    token = _QUESTION.set(question)
    try:
        yield
    finally:
        _QUESTION.reset(token)


def _slot_anchor(template: Any, name: str) -> str | None:
    """The template's own text just before its ``{name}`` slot ("Query: "), which finds
    the question's place in the formatted prompt; "" when the template does not say
    (not a LlamaIndex template), ``None`` when its text has no such slot (the argument is
    not the question it asks)."""
    try:
        text = template.get_template()
    except Exception:  # not a LlamaIndex template: the last occurrence decides
        return ""
    if not isinstance(text, str):
        return ""
    slot = re.search(r"\{\{?\s*" + re.escape(name) + r"\s*\}\}?", text)
    if slot is None:
        return None
    at = slot.start()
    anchor = text[text.rfind("}", 0, at) + 1 : at]
    label = next((line for line in reversed(anchor.splitlines()) if line.strip()), "")
    if _NOT_A_QUESTION.search(label) is not None and (
        _A_QUESTION.search(label) is None or _RESPONSE.search(label) is not None
    ):
        return None  # "Information: {query_str}": an answer being graded, not a question
    return anchor


# A label that names what fills a question's slot as something else: LlamaIndex's
# evaluators pass the answer they grade as ``query_str`` or ``query`` ("Information:
# {query_str}", "Query and Response: {query_str}"); two answers alike in meaning may
# differ in what they claim ("free for students" / "...students and seniors")
# (a label that names a question too asks one, "Answer the question about the context:",
# unless it names a response beside it)
_NOT_A_QUESTION = re.compile(
    r"\b(?:response|answer|information|claim|statement|passage|document|context)\b",
    re.IGNORECASE,
)
_A_QUESTION = re.compile(r"\b(?:question|query)\b", re.IGNORECASE)
_RESPONSE = re.compile(r"\bresponses?\b", re.IGNORECASE)


def _split(text: str) -> tuple[str, str] | None:
    """``(text with the current template's question blanked, the question)``, or None
    outside a template call, when it names no question, or when the text does not hold
    it. Only the template's occurrence is blanked, found after the template's text before
    its slot ("Query: "), else the last one: a retrieved FAQ chunk may hold the question
    word for word, and blanking that too would set apart the prompts of its paraphrases."""
    question, anchor = _QUESTION.get() or (None, "")
    if question is None:
        return None
    at = text.find(anchor + question) if anchor else -1
    at = at + len(anchor) if at >= 0 else text.rfind(question)
    if at < 0:
        return None
    return text[:at] + _BLANK + text[at + len(question) :], question


def stepwise(
    stream: Generator[_Item, None, None], scope: Callable[[], AbstractContextManager[None]]
) -> Generator[_Item, None, None]:
    """``stream`` advanced one step at a time inside ``scope()``: a generator's body (here
    the model call) runs when it is iterated, after the call that made it has returned,
    and a scope held across its ``yield`` would reach the caller's code between steps
    (``template_question`` around ``stream_structured_predict``)."""
    try:
        while True:
            with scope():
                try:
                    item = next(stream)
                except StopIteration:
                    return
            yield item
    finally:
        stream.close()


async def astepwise(
    stream: AsyncGenerator[_Item, None], scope: Callable[[], AbstractContextManager[None]]
) -> AsyncGenerator[_Item, None]:
    try:
        while True:
            with scope():
                try:
                    item = await stream.__anext__()
                except StopAsyncIteration:
                    return
            yield item
    finally:
        await stream.aclose()


def _in_template_call() -> bool:
    return _QUESTION.get() is not None


def kwargs_json(kwargs: dict[str, Any]) -> Any:
    """The call's keyword arguments as JSON data, or ``_UNCACHEABLE``."""
    try:
        return json.loads(json.dumps(kwargs, sort_keys=True))
    except (TypeError, ValueError):
        return _UNCACHEABLE


_UNCACHEABLE: Any = object()


def chat_prompt(messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> Prompt | None:
    """Exact text, context and query of a chat call; ``None`` when it cannot be cached.

    The query is the text of the last user message that is not a ReAct observation; the
    context is the call with that text blanked (its other blocks, its role and
    ``additional_kwargs`` kept); it follows a question when an earlier message's text
    holds a question mark (:attr:`~semcache_core.llm_prompt.Prompt.after_question`). Exact
    hits only (see the module): no such message, a
    structured-output prompt outside a template call, or a template call whose question
    that message does not hold.
    """
    extra = kwargs_json(kwargs)
    if extra is _UNCACHEABLE:
        return None
    try:
        dumped = [ChatMessage.model_validate(m).model_dump(mode="json") for m in messages]
        dumped = [_with_file_contents(message) for message in dumped]
    except Exception:  # not messages LlamaIndex can serialise, or a file it cannot read:
        return None  # let the wrapped LLM decide
    exact = json.dumps({"chat": dumped, "kwargs": extra}, sort_keys=True)
    exact_only = Prompt(exact=exact, context=exact, query="")
    if not _in_template_call() and any(SCHEMA_MARKER in _text(m) for m in dumped):
        return exact_only
    for position in range(len(dumped) - 1, -1, -1):
        if dumped[position].get("role") == MessageRole.USER.value and not _is_observation(
            dumped[position]
        ):
            query, blanked = _take_text(dumped[position])
            scope: dict[str, Any] = {"chat": [*dumped[:position], blanked, *dumped[position + 1 :]]}
            split = _split(query)
            if split is not None:  # the retrieved context is in the user's message
                scope["rest"], query = split
            elif _in_template_call():  # its question is not there: nothing is a paraphrase
                return exact_only
            context = json.dumps({**scope, "kwargs": extra}, sort_keys=True)
            after_question = any("?" in _text(m) for m in dumped[:position])
            return Prompt(exact=exact, context=context, query=query, after_question=after_question)
    return exact_only  # no user turn: exact hits only


def _text(message: dict[str, Any]) -> str:
    """A serialised message's text blocks, joined (as ``ChatMessage.content`` reads)."""
    blocks = message.get("blocks") or []
    return "\n".join(b["text"] for b in blocks if _is_text_block(b))


def _is_observation(message: dict[str, Any]) -> bool:
    """A ReAct tool result (``ReActChatFormatter`` sends it as a user message): context,
    never the query (see the module)."""
    return _text(message).lstrip().startswith(OBSERVATION_PREFIX)


def _with_file_contents(message: dict[str, Any]) -> dict[str, Any]:
    """The serialised message with each block given by ``path`` (an image, audio, a video,
    a document) keyed by the file's contents too: an app that saves each upload to the
    same path sends another image under the same path.

    Raises:
        OSError: a file that cannot be read.
    """
    blocks = message.get("blocks")
    if not isinstance(blocks, list) or not any(_has_path(b) for b in blocks):
        return message
    keyed = [
        {**b, "path_contents": hashlib.blake2b(Path(b["path"]).read_bytes()).hexdigest()}
        if _has_path(b)
        else b
        for b in blocks
    ]
    return {**message, "blocks": keyed}


def _has_path(block: Any) -> bool:
    return isinstance(block, dict) and isinstance(block.get("path"), str)


def _take_text(message: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A serialised message's query text, and the message with it blanked: what else
    must match exactly. Text blocks alone read as one text (as ``ChatMessage.content``
    joins them), blanked in place; among images or other blocks, the query is the last
    text block with any, and where every other text stands is part of the request
    (:func:`semcache_core.message_parts.take_last_text`)."""
    blocks = message.get("blocks") or []
    if not all(_is_text_block(b) for b in blocks):
        text, kept = take_last_text(blocks, _is_text_block)
        return text, {**message, "blocks": kept}
    blanked = [{**b, "text": ""} for b in blocks]
    return _text(message), {**message, "blocks": blanked}


def _is_text_block(block: Any) -> bool:
    return (
        isinstance(block, dict)
        and block.get("block_type") == "text"
        and isinstance(block.get("text"), str)
    )


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
    """Exact text, context and query of a complete call; ``None`` when it cannot be cached.

    The query is the whole prompt; inside a template call, its question (the rest must
    match exactly), or none when the prompt does not hold it; outside one, none for a
    structured-output prompt (see the module). No query: exact hits only.
    """
    extra = kwargs_json(kwargs)
    if extra is _UNCACHEABLE or not isinstance(prompt, str):
        return None
    exact = json.dumps({"complete": bool(formatted), "kwargs": extra, "prompt": prompt})
    scope: dict[str, Any] = {"complete": bool(formatted), "kwargs": extra}
    split = _split(prompt)
    if split is not None:  # the template and the retrieved context must match exactly
        scope["rest"], query = split
    elif _in_template_call() or SCHEMA_MARKER in prompt:
        return Prompt(exact=exact, context=exact, query="")
    else:
        query = prompt
    return Prompt(exact=exact, context=json.dumps(scope, sort_keys=True), query=query)
