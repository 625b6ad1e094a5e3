"""Which text of a multimodal message is compared by meaning, shared by the LLM caches'
adapters (LangChain content parts, LlamaIndex blocks).

Text among images or other parts is not one query: where each text stands among those
parts is part of the request ("this is Rex: <image> and this is Fido: <image>"), and a
question moved to another slot must not read as a paraphrase of itself. So only the last
text part holding more than whitespace is the query; every other part, texts included,
must match exactly, in place.

Example::

    >>> parts = [{"type": "text", "text": "Which breed?"}, {"type": "image", "url": "rex"}]
    >>> take_last_text(parts, lambda part: part.get("type") == "text")
    ('Which breed?', [[{'type': 'text', 'text': ''}], {'type': 'image', 'url': 'rex'}])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["take_last_text"]


def take_last_text(parts: list[Any], is_text_part: Callable[[Any], bool]) -> tuple[str, list[Any]]:
    """The text of the last part ``is_text_part`` accepts (a dict whose ``"text"`` is a
    str) that holds more than whitespace, and ``parts`` with that part's text blanked and
    the part wrapped in a list: no part of a serialised message is a list, so the blanked
    one is never taken for a part that was empty. Two messages share the result's parts
    only when they differ in that one part's text, in the same place. No such part: no
    query, and every part must match.
    """
    for position in range(len(parts) - 1, -1, -1):
        part = parts[position]
        if is_text_part(part) and part["text"].strip():
            blanked = [{**part, "text": ""}]
            return part["text"], [*parts[:position], blanked, *parts[position + 1 :]]
    return "", parts
