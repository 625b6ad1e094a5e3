"""The prompt as :class:`~semcache_core.responses.ResponseCache` sees it: what must match
exactly, what is compared by meaning, and whether it follows a question.

Example::

    >>> prompt = Prompt(exact="[...]", context="[...]", query="It squeaks.", after_question=True)
    >>> after_question(prompt), after_question(object())
    (True, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Prompt", "PromptLike", "after_question"]


@dataclass(frozen=True, slots=True)
class Prompt:
    """A prompt as the cache sees it.

    Attributes:
        exact: the whole prompt, serialised; equal strings are an exact hit.
        context: everything that must match exactly for a semantic hit (system prompt,
            earlier turns, tool results), serialised.
        query: the text whose meaning is compared (the last user message); empty for
            prompts that only ever hit exactly.
        after_question: an earlier message asks a question (holds a question mark): a
            query that asks nothing itself is what that question is about (a statement,
            an answer to the assistant's question, a retrieved context sent after the
            question), and one that differs from a cached query in such text is a miss
            (see :func:`~semcache_core.prompt_diff.asked_before`). A prompt object
            without this attribute reads as ``False``.
    """

    exact: str
    context: str
    query: str
    after_question: bool = False


class PromptLike(Protocol):
    """What :class:`ResponseCache` reads of a prompt (see :class:`Prompt`). An adapter may
    compute ``context`` and ``query`` lazily: an exact hit reads only ``exact``."""

    @property
    def exact(self) -> str: ...

    @property
    def context(self) -> str: ...

    @property
    def query(self) -> str: ...


def after_question(prompt: Any) -> bool:
    """:attr:`Prompt.after_question` of any prompt object (``False`` where it has none)."""
    return getattr(prompt, "after_question", False) is True
