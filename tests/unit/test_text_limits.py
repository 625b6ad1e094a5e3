"""Prompts are untrusted text: every lookup runs the text rules on them. A review found
inputs that took them quadratic time (a greeting before 8,000 spaces: 2 s per lookup,
with an empty cache; 8,000 lines of "}" differing at both ends: 7 s) and a lone surrogate
that crashed the built-in embedder. Each is now linear or bounded.

Not speed targets (those live in benchmarks/): each call here must merely end, on inputs
whose quadratic cost was minutes and whose linear one is milliseconds.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from semcache_core import SemCache
from semcache_core.embedders import HashingEmbedder
from semcache_core.guard_life import life_stages_agree
from semcache_core.guard_roles import roles_agree
from semcache_core.hit_rule import MAX_COMPARED, query_verdict
from semcache_core.prompt_diff import MAX_ALIGNMENTS, differing_sentences

ENDS_WITHIN = 60.0  # seconds: the quadratic versions took minutes to hours here


def _ends(call: Callable[[], Any]) -> Any:
    """``call()``'s result; fails when it is still running after :data:`ENDS_WITHIN`."""
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(call()), daemon=True)
    worker.start()
    worker.join(ENDS_WITHIN)
    assert not worker.is_alive(), "still running: quadratic again?"
    return result[0]


BLANKS = 200_000


def _ends_apart(code: str) -> str:
    """What ``code`` prints, run in a process of its own that must end within
    :data:`ENDS_WITHIN` (a regular expression holds the GIL: no thread can time it)."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=ENDS_WITHIN
        )
    except subprocess.TimeoutExpired:
        pytest.fail("still running: quadratic again?")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("blank", ["' '", "'\\t'"])
def test_a_greeting_before_a_long_run_of_blanks_is_read_in_one_pass(blank: str) -> None:
    """Two stars over the same blanks backtracked through every split of the run."""
    code = f"""
from semcache_core.pleasantries import without_pleasantries
from semcache_core.responses import Prompt, ResponseCache
text = "Hi" + {blank} * {BLANKS} + "how do I reset my password?"
greeted = "Hi!" + {blank} * {BLANKS} + "How do I reset my password?"
print(without_pleasantries(text).endswith("how do I reset my password?"))
print(without_pleasantries(greeted))
print(ResponseCache().lookup(Prompt(exact=text, context="", query=text), "m"))
"""
    assert _ends_apart(code).splitlines() == ["True", "How do I reset my password?", "None"]


def test_a_quantity_before_a_long_run_of_blanks_is_read_in_one_pass() -> None:
    code = f"""
from semcache_core.guard_units import units_agree
blanks = " " * {BLANKS}
print(units_agree("Cost: 5" + blanks + ".", "Cost: 5" + blanks + "!"))
print(units_agree("a" + blanks + "!", "b"))
"""
    assert _ends_apart(code).splitlines() == ["True", "True"]


def test_guards_over_many_owners_and_young_nouns_are_linear() -> None:
    """Each compared every word of one side with every word of the other."""
    owners = "q bob's " * 20_000, "z bob's " * 20_000
    assert _ends(lambda: roles_agree(*owners)) is True
    young = "young cats " * 20_000, "young dogs " * 20_000
    assert _ends(lambda: life_stages_agree(*young)) is True
    # what they decide is unchanged
    assert roles_agree("can I track my landlord's phone", "can my landlord track my phone") is False
    assert (
        life_stages_agree("What should I feed a young bird?", "What should I feed a bird?") is False
    )


def test_prompts_too_long_to_align_or_compare_are_misses() -> None:
    """Sentences repeated thousands of times (code's closing braces) and differing spans
    longer than MAX_COMPARED are not compared by meaning: a miss, at once."""
    braces = "}\n" * 8_000
    first, second = f"x = 1\n{braces}print(x)?", f"x = 2\n{braces}print(y)?"
    assert MAX_ALIGNMENTS < 8_000 * 8_000
    assert _ends(lambda: differing_sentences(first, second)).one_sided
    assert _ends(lambda: query_verdict(first, second)) is False
    long_first = "Summarise: " + "alpha beta gamma " * 200 + "?"
    long_second = "Summarise: " + "alpha beta delta " * 200 + "?"
    assert len(long_first) > MAX_COMPARED
    assert query_verdict(long_first, long_second) is False
    short = "Summarise: alpha beta gamma?", "Summarise: alpha beta delta?"
    assert query_verdict(*short) is not False  # below the limit, compared as before


@pytest.mark.parametrize("text", ["\ud800", "?? \udfff", "a\ud800b"])
def test_the_built_in_embedder_takes_a_lone_surrogate(text: str) -> None:
    """Before: a bare UnicodeEncodeError from embed_query, and from SemCache.search."""
    vector = HashingEmbedder().embed_query(text)
    assert np.isclose(float(np.linalg.norm(vector)), 1.0)
    assert SemCache().search(text, k=1) == []
