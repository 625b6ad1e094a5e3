"""The fenced code blocks of a Markdown page, with the marker that may precede each one.

A fence is three or more backticks or tildes, indented or not (a block inside a list item
is dedented by the fence's own indentation). A block is skipped by the tests only when the
line before its fence (blank lines aside) is ``<!-- docs-test: skip: REASON -->`` with a
reason; see ``test_code_blocks.py`` for what happens to each kind of block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_SKIP = re.compile(r"^\s*<!--\s*docs-test:\s*skip:\s*(?P<reason>\S.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language (``""`` when unlabelled), its code."""

    page: str
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    skip_reason: str | None

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def blocks_of(path: Path, root: Path) -> list[Block]:
    """Every fenced block of the page at ``path`` (named relative to ``root``), in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    page = path.relative_to(root).as_posix()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        lang = opening["info"].strip().split(" ")[0].lower() if opening["info"].strip() else ""
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not re.match(
            rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[j]
        ):
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j])
            j += 1
        if j == len(lines):
            raise ValueError(f"{page}:{i + 1}: a fence that is never closed")
        found.append(Block(page, i + 1, lang, "\n".join(body) + "\n", _skip_reason(lines, i)))
        i = j + 1
    return found


def _skip_reason(lines: list[str], fence_index: int) -> str | None:
    k = fence_index - 1
    while k >= 0 and not lines[k].strip():
        k -= 1
    if k < 0:
        return None
    marker = _SKIP.match(lines[k])
    return marker["reason"] if marker else None
