"""The particle guard of :mod:`semcache_core.guards`: a verb's particle on one side only.

"How do I shut my laptop down?" / "How do I shut my laptop?", "How do I roll my deployment
back?" / "How do I roll my deployment?", "How do I log all my users out?" / "How do I log
all my users?" score above 0.87 with all-MiniLM-L6-v2: the same words but for a particle
that makes another verb of the one before it ("shut down", "roll back", "log out", "pay
off", "set up", "take out"), and another answer. Particles that only finish what the verb
says are not read: "clean (up) my hard drive", "calm (down)", "print (out) a PDF".

The prepositions a question ends on ("Where are you going (to)?") are
:mod:`semcache_core.guard_roles`'s.

Example::

    >>> particles_agree("How do I shut my laptop down?", "How do I shut my laptop?")
    False
    >>> particles_agree("How do I set up a VPN?", "How do I set a VPN?")
    False
    >>> particles_agree("How do I clean up my hard drive?", "How do I clean my hard drive?")
    True
    >>> particles_agree("How do I turn off the heater?", "How do I turn the heater off?")
    True
"""

from __future__ import annotations

from collections import Counter

from .guard_text import span_words

__all__ = ["particles_agree"]

# verbs each particle only finishes ("clean (up) the garage", "calm (down)", "print (out)
# the form", "dry (off) the dog"): with them a question asks the same either way
_FINISHING = {
    "up": frozenset(
        ["clean", "tidy", "wake", "fill", "hurry", "heat", "warm", "free", "speed", "cheer",
         "wash", "lock", "open", "dry", "sum", "fix", "pack", "charge", "mix", "chop", "cut",
         "cover", "back", "save", "team", "join"]
    ),
    "down": frozenset(["calm", "cool", "slow", "quiet", "settle", "sit", "lie", "wipe"]),
    "out": frozenset(["print", "find", "figure", "sort", "spread", "even", "test", "try",
                      "clean", "empty", "dry", "iron", "map", "plan", "hand"]),
    "off": frozenset(["dry", "finish", "drop", "wipe", "rinse", "brush", "cool", "seal"]),
    "back": frozenset(),
    "away": frozenset(["put", "store", "pack"]),
}  # fmt: skip


def particles_agree(new: str, stored: str) -> bool:
    """No particle ("up", "down", "out", "off", "back", "away") on one side only where the
    two are the same words otherwise, unless it only finishes the verb (see
    :data:`_FINISHING`)."""
    first, second = span_words(new), span_words(stored)
    added, dropped = Counter(first) - Counter(second), Counter(second) - Counter(first)
    for extra, missing, words in ((added, dropped, first), (dropped, added, second)):
        if missing or sum(extra.values()) != 1:
            continue
        particle = next(iter(extra))
        if particle in _FINISHING:
            verbs = _FINISHING[particle]
            return any(root in verbs for word in words for root in _roots(word))
    return True


def _roots(word: str) -> set[str]:
    """The word and what it may inflect ("cleaning", "wiped", "dried", "cutting" give
    "clean", "wipe", "dry", "cut")."""
    roots = {word}
    for ending, replacement in (("ied", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        base = word[: -len(ending)] + replacement
        if word.endswith(ending) and len(base) >= 3:
            roots |= {base, base + "e", base[:-1] if base[-1] == base[-2] else base}
            break
    return roots
