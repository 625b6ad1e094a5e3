"""What differs between two prompts, in whole sentences.

Real prompts are a fixed template + retrieved context + a short question. Compared whole,
the shared template dominates their embeddings, so two different questions inside it look
alike. :func:`differing_spans` drops the longest common prefix and suffix of two texts,
widened outwards to sentence boundaries that both texts share, and returns what is left of
each: the sentences a semantic comparison should look at.

Sentence boundaries are the start and end of the text, the position after every newline
(lines, bullets, headings), the end of a ``.``, ``!``, ``?`` or ``…`` run followed by
whitespace (closing quotes and brackets included: ``He said "Hi." Then``) and the end of
that whitespace, and the same around a colon, so that a label the template puts before the
question (``Question: ``, ``Customer message: ``) stays with the shared text. Both ends of
the whitespace count, so a text that stops at a question mark shares that sentence with
one that goes on after it (``"...password?"`` / ``"...password? Also, ..."``: the second
adds a sentence). A span therefore always begins and ends on a boundary of its own text,
and never cuts a sentence.

Example::

    >>> a = "Answer from the context.\\nQuestion: How tall is the Eiffel Tower?\\nAnswer:"
    >>> b = "Answer from the context.\\nQuestion: Who designed the Eiffel Tower?\\nAnswer:"
    >>> d = differing_spans(a, b)
    >>> d.first, d.second
    ('How tall is the Eiffel Tower?', 'Who designed the Eiffel Tower?')
    >>> differing_spans(a, a).first
    ''
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher

__all__ = [
    "MAX_ALIGNMENTS",
    "Difference",
    "differing_sentences",
    "differing_spans",
    "asks_after",
    "asked_before",
    "context_changed",
    "is_trivial",
    "line_layout",
    "tokens",
    "words",
    "numbers",
    "question_words",
    "sentence_boundaries",
]

# A sentence ends after terminal punctuation, any closing quotes/brackets, and whitespace;
# a label ("Question: ", "Customer message: ") ends at its colon and whitespace. A run of
# punctuation is matched from its start only and whole (possessive): a line of 40,000 dots
# is one attempt, not 40,000 that each scan the rest of it.
_SENTENCE_END = re.compile(r"((?:(?<![.!?…])[.!?…]++[\"'\u201d\u2019»)\]]*+|:))\s+")
_WORD = re.compile(r"\w")
_WORDS = re.compile(r"\w+")
# Punctuation that only shapes prose around a token: what tokens() strips, opening quotes
# from a token's start, a clause's or a question's end from its end. Anything else is part
# of the token: "/" and "." inside "build/.cache", "!=" and "C++", and "!", "'" and brackets
# at either end ("10!" is a factorial, "f'" a derivative, "(a)" an item), a leading "."
# (".5") or "-" ("-40").
_OPENING = '"\u201c\u00ab'
_CLOSING = '.,;:?"\u201d\u00bb'
# Digits with their inner separators ("3.11", "1,000", "2024-05-01", "9:30"), a sign and a
# leading decimal point ("-40", ".5") when written against them.
_NUMBER = re.compile(r"(?:(?<![\w.])[-+\u2212])?(?:(?<!\w)\.)?\d+(?:[.,:/-]\d+)*")
# English question words that fix what kind of answer is wanted ("what" and "how" do not:
# "How tall" and "What is the height" ask the same).
_QUESTION_WORD = re.compile(r"\b(who|whom|whose|when|where|why)\b", re.IGNORECASE)
# "how come...?" asks why, "how long ago...?" when
_HOW_WHEN = re.compile(r"\bhow\s+(?:(come)|long\s+ago)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Difference:
    """Two texts as ``prefix + span + suffix`` with the same prefix and suffix for both.

    Attributes:
        prefix: length of the shared leading sentences (the same in both texts).
        suffix: length of the shared trailing sentences (the same in both texts).
        first: what differs in the first text (``first_text[prefix:len - suffix]``; from
            :func:`differing_sentences`, the differing sentences only, joined).
        second: what differs in the second text.
        shared_inside: the spans also share sentences, between their differences (set by
            :func:`differing_sentences`, which leaves those out of ``first`` / ``second``).
        one_sided: a sentence of one span has no counterpart in the other (an insertion
            between shared sentences; set by :func:`differing_sentences`).
    """

    prefix: int
    suffix: int
    first: str
    second: str
    shared_inside: bool = False
    one_sided: bool = False

    @property
    def whole(self) -> bool:
        """Nothing is shared: the spans are the texts themselves."""
        return self.prefix == 0 and self.suffix == 0 and not self.shared_inside


def sentence_boundaries(text: str) -> set[int]:
    """Offsets in ``text`` where a sentence starts (``0`` and ``len(text)`` included)."""
    bounds = {0, len(text)}
    for match in _SENTENCE_END.finditer(text):
        # before and after the whitespace: a text that ends at the punctuation shares the
        # sentence with one that goes on ("...password?" / "...password? Also, ...")
        bounds.update((match.end(1), match.end()))
    position = text.find("\n")
    while position != -1:
        bounds.add(position + 1)
        position = text.find("\n", position + 1)
    return bounds


def _common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix (binary search over C-speed slice compares)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix(a: str, b: str, limit: int) -> int:
    """Length of the longest common suffix, at most ``limit``."""
    low, high = 0, min(limit, len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[len(a) - middle :] == b[len(b) - middle :]:
            low = middle
        else:
            high = middle - 1
    return low


def differing_spans(first: str, second: str) -> Difference:
    """The sentences in which ``first`` and ``second`` differ (see the module's notes).

    Symmetric: swapping the texts swaps the spans. Identical texts give two empty spans.
    """
    first_bounds, second_bounds = sentence_boundaries(first), sentence_boundaries(second)
    raw_prefix = _common_prefix(first, second)
    prefix = max(b for b in first_bounds & second_bounds if b <= raw_prefix)
    # The suffix may not reach into the prefix of either text.
    room = min(len(first), len(second)) - prefix
    raw_suffix = _common_suffix(first, second, room)
    first_ends = {len(first) - b for b in first_bounds}
    suffix = max(s for s in first_ends if s <= raw_suffix and len(second) - s in second_bounds)
    return Difference(
        prefix=prefix,
        suffix=suffix,
        first=first[prefix : len(first) - suffix],
        second=second[prefix : len(second) - suffix],
    )


def differing_sentences(first: str, second: str) -> Difference:
    """:func:`differing_spans`, less the sentences the two spans still share.

    Two prompts can differ in more than one place: a RAG prompt whose retrieved context
    differs in one line *and* whose question differs. The spans then run from the first
    difference to the last and hold the shared context between them, whose embedding
    would decide. Here the spans' sentences are aligned (:class:`difflib.SequenceMatcher`)
    and only the differing ones are kept, each side's on lines of their own, in order (a
    line ends a sentence for the guards too: the next line's capital is no name).

    Example::

        >>> a = "Source: wiki.\\nIt is 330 m tall.\\nQ: How tall is it?"
        >>> b = "Source: encyclopedia.\\nIt is 330 m tall.\\nQ: What is it made of?"
        >>> d = differing_sentences(a, b)
        >>> d.first, d.second, d.shared_inside
        ('wiki.\\nHow tall is it?', 'encyclopedia.\\nWhat is it made of?', True)
    """
    difference = differing_spans(first, second)
    pieces = _sentences(difference.first), _sentences(difference.second)
    if _alignments(*pieces) > MAX_ALIGNMENTS:  # too long to align: no semantic hit
        return dataclasses.replace(difference, one_sided=True)
    matcher = SequenceMatcher(None, *pieces, autojunk=False)
    if not any(block.size for block in matcher.get_matching_blocks()):
        return difference
    kept: tuple[list[str], list[str]] = ([], [])
    one_sided = False
    for tag, start, end, other_start, other_end in matcher.get_opcodes():
        if tag != "equal":
            kept[0].extend(pieces[0][start:end])
            kept[1].extend(pieces[1][other_start:other_end])
            one_sided |= start == end or other_start == other_end
    return Difference(
        difference.prefix,
        difference.suffix,
        "\n".join(kept[0]),
        "\n".join(kept[1]),
        shared_inside=True,
        one_sided=one_sided,
    )


MAX_ALIGNMENTS = 1_000_000
"""The most pairs of equal sentences (one of each span) :func:`differing_sentences`
aligns; beyond, the two prompts are not compared (a miss). Aligning costs about that many
steps: 8,000 lines of ``}`` differing at both ends took 7 s."""


def _alignments(first: list[str], second: list[str]) -> int:
    """How many pairs of equal sentences, one of each list, there are."""
    counts = Counter(first)
    return sum(counts[sentence] for sentence in second)


def _sentences(span: str) -> list[str]:
    """The sentences of ``span`` (see :func:`sentence_boundaries`), stripped; whitespace
    alone is left out (a line of symbols is kept: "==" / "!=" must still be compared)."""
    cuts = sorted(sentence_boundaries(span))
    pieces = (span[start:end].strip() for start, end in itertools.pairwise(cuts))
    return [piece for piece in pieces if piece]


def words(span: str) -> list[str]:
    """The words of ``span`` in order: two spans with the same words differ only in
    whitespace and punctuation."""
    return _WORDS.findall(span)


def tokens(span: str) -> list[str]:
    """The whitespace-separated tokens of ``span``, each stripped of the prose punctuation
    at its ends: two spans with the same tokens differ only in how the prose around them is
    punctuated, while the same :func:`words` with other tokens differ in a symbol that may
    change the meaning ("build/cache" / "build/.cache", "==" / "!=", "C++" / "C#").

    Example::

        >>> tokens('Delete "build/.cache", then run it?')
        ['Delete', 'build/.cache', 'then', 'run', 'it']
    """
    stripped = (_token(token) for token in span.split())
    return [token for token in stripped if token]


# a number or a literal of code in double quotes is a string, not the number or the literal
# ('Is "1" === 1 true?', 'typeof "null"', 'WHERE name = "NULL"'), as in single quotes
_QUOTED_LITERAL = re.compile(
    r"[\"\u201c]((?:[-+]?(?:\d+(?:[.,]\d+)*|\.\d+))|null|none|nil|true|false|undefined|nan)"
    r"[\"\u201d][.,;:?]*",
    re.IGNORECASE,
)


def _token(raw: str) -> str:
    """One token less the prose punctuation at its ends, but a quoted literal's quotes."""
    quoted = _QUOTED_LITERAL.fullmatch(raw)
    if quoted is not None:
        return f'"{quoted.group(1)}"'
    return raw.lstrip(_OPENING).rstrip(_CLOSING)


def line_layout(text: str) -> tuple[int, ...]:
    """How ``text`` is laid out in lines: after its first, each line's indentation (tabs to
    8 columns) and ``-1`` for a run of blank lines; the whitespace around the text left
    out. Two texts of the same words laid out otherwise may ask different things: code
    indented into a loop or out of it, a YAML key moved, "How many lines does this text
    have?" (a paragraph break of two blank lines is one of one). Spaces before the first
    line change nothing.

    Example::

        >>> line_layout("What does it print?\\nfor i in x:\\n    pass\\nprint(i)")
        (0, 4, 0)
        >>> line_layout("  What is it?  ")
        ()
    """
    lines = text.strip().replace("\r\n", "\n").replace("\r", "\n").expandtabs(8).split("\n")
    indents: list[int] = []
    for line in lines[1:]:
        indent = len(line) - len(line.lstrip()) if line.strip() else -1
        if indent != -1 or not indents or indents[-1] != -1:  # a blank run: one
            indents.append(indent)
    return tuple(indents)


# a label that names what is asked ("Question: ", "Query: ")
_QUESTION_LABEL = re.compile(r"\b(?:question|query)\s*:", re.IGNORECASE)


def asks_after(text: str, difference: Difference) -> bool:
    """Whether the text shared after ``difference`` (two prompts' differing sentences)
    asks something: a question mark, or a "Question:" label. What differs before the
    question is then what it is asked about (a retrieved context formatted into the same
    message: "Context: Shipping is free for members.\\nQuestion: Do I pay for shipping?"),
    whose answer it may change however alike the two read. Not where both differ in a
    label before a colon: that names the question's topic ("Boil an egg: how long?"), and
    is compared as the question is."""
    if difference.first.rstrip().endswith(":") and difference.second.rstrip().endswith(":"):
        return False  # a topic the question is about ("boil an egg: how long?"): compared
    shared = text[len(text) - difference.suffix :] if difference.suffix else ""
    return "?" in shared or _QUESTION_LABEL.search(shared) is not None


def asked_before(text: str, difference: Difference, earlier: bool = False) -> bool:
    """Whether a question comes before ``difference`` (a question mark in the text shared
    before it, a label that asks: "Is this correct: ...", "What does this mean: ...", or
    ``earlier``: in an earlier message of the conversation) and neither
    differing span asks one: what differs is then what the question is asked about, given
    after it ("Is shipping free for me? Policy: shipping is free for members.", "Is this
    sentence grammatical? 'He don't like it.'", an answer to the assistant's "When does it
    happen?"), as :func:`asks_after` finds it given before. A differing span that asks
    something of its own ("What is X? And what is Y?", or one that opens as a question
    does: "how do i get a library card") is compared as a question is."""
    if _asks(difference.first) or _asks(difference.second):
        return False
    before = text[: difference.prefix]
    return earlier or "?" in before or _ASKING_LABEL.search(before) is not None


def context_changed(difference: Difference) -> bool:
    """Whether both differing spans hold a statement and, after it, a question: the
    context a question is asked about changed along with the question's words (a RAG
    prompt's "Context: Shipping is free for members.\nQuestion: Is shipping free?" /
    "Context: Shipping is free for everyone.\nQuestion: Is shipping free of charge?"),
    which :func:`asks_after` cannot see, the two questions being worded otherwise."""
    return _statement_then_question(difference.first) and _statement_then_question(
        difference.second
    )


def _statement_then_question(span: str) -> bool:
    """A sentence with words that asks nothing, then one that asks (labels skipped)."""
    stated = False
    for sentence in _sentences(span):
        if sentence.endswith(":") or _WORD.search(sentence) is None:
            continue  # a label ("Context:", "Question:") or no words
        if _asks(sentence):
            return stated
        stated = True
    return False


def _asks(span: str) -> bool:
    """A question mark, or a question's first word ("how do i get a library card")."""
    return "?" in span or _ASKING_START.match(span) is not None


_ASKING_WORDS = (
    r"(?:is|are|was|were|do|does|did|can|could|should|would|will|has|have|"
    r"what|which|who|whom|whose|how|why|where|when)\b"
)
_ASKING_START = re.compile(rf"\s*+{_ASKING_WORDS}", re.IGNORECASE)
# a label that asks, before the text it asks about: "Is this correct: ...", "What does this
# mean: ..." (a label that names, "Question: ...", asks nothing itself)
_ASKING_LABEL = re.compile(rf"(?:^|[.!?\n])\s*+{_ASKING_WORDS}[^.!?\n:]*+:\s*+$", re.IGNORECASE)


def is_trivial(span: str) -> bool:
    """Whether ``span`` holds no word character (only whitespace, punctuation, symbols)."""
    return _WORD.search(span) is None


def numbers(span: str) -> list[str]:
    """The numbers written in digits in ``span``, in order, as written (``"1,000"``,
    ``"-40"``, ``".5"`` stay as they are).

    Sentence embeddings barely see numbers ("costs $20" and "costs $35" score 0.92 with
    all-MiniLM-L6-v2), so a semantic hit also needs both spans to hold the same ones, in
    the same order ("Is 7 greater than 3?" asks the opposite of "Is 3 greater than 7?").

    Example::

        >>> numbers("Python 3.11, not 3.9, since 2024-05-01; at -40 take .5 mg")
        ['3.11', '3.9', '2024-05-01', '-40', '.5']
    """
    return _NUMBER.findall(span)


def numbers_at(span: str) -> list[tuple[int, str]]:
    """:func:`numbers` with where each starts in ``span``."""
    return [(match.start(), match.group()) for match in _NUMBER.finditer(span)]


def question_words(span: str) -> frozenset[str]:
    """The question words in ``span`` that fix the kind of answer (who, when, where, why;
    "how come" is "why", "how long ago" is "when").

    Sentence embeddings put "Who designed the Eiffel Tower?" and "When was the Eiffel Tower
    built?" at 0.93 (all-MiniLM-L6-v2): two spans that both name such words, different
    ones, ask different questions.

    Example::

        >>> sorted(question_words("Who built it, and WHEN? Where's it?"))
        ['when', 'where', 'who']
        >>> sorted(question_words("How come it fell, and how long ago?"))
        ['when', 'why']
    """
    asked = _HOW_WHEN.sub(lambda match: "why" if match.group(1) else "when", span)
    return frozenset(word.lower() for word in _QUESTION_WORD.findall(asked))
