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
# a distance, not a particle: "How far away is it?", "How many miles out is the storm?"
_DISTANCES = frozenset(
    ["far", "miles", "mile", "kilometers", "kilometres", "km", "blocks", "minutes", "hours",
     "days", "weeks", "months", "years", "steps", "feet", "meters", "metres"]
)  # fmt: skip
# after these comes the verb of "How do I log my users out?" ("to": "How to turn it off?")
_SUBJECTS = frozenset(["i", "you", "we", "they", "he", "she", "to"])


def particles_agree(new: str, stored: str) -> bool:
    """No particle ("up", "down", "out", "off", "back", "away") on one side only where the
    two are the same words otherwise, unless it only finishes its verb (see
    :data:`_FINISHING`) or measures a distance ("How far away is it?")."""
    first, second = span_words(new), span_words(stored)
    added, dropped = Counter(first) - Counter(second), Counter(second) - Counter(first)
    for extra, missing, words in ((added, dropped, first), (dropped, added, second)):
        if missing or sum(extra.values()) != 1:
            continue
        particle = next(iter(extra))
        if particle not in _FINISHING:
            continue
        at = words.index(particle)
        if at and words[at - 1] in _DISTANCES:
            return True  # "how far away", "how many miles out"
        return any(root in _FINISHING[particle] for root in _verb_roots(words, at))
    return True


def _verb_roots(words: tuple[str, ...], at: int) -> set[str]:
    """What the verb of the particle at ``at`` may be, inflections undone: the word before
    it ("set up a VPN"), and each word after a subject or "to" before it ("do I log my test
    users out"; not "it", more often the object: "turn it off")."""
    verbs = {words[at - 1]} if at else set()
    verbs.update(words[i + 1] for i in range(at - 1) if words[i] in _SUBJECTS)
    return {root for verb in verbs for root in _roots(verb)}


def _roots(word: str) -> set[str]:
    """The word and what it may inflect ("cleaning", "wiped", "dried", "empties", "cutting"
    give "clean", "wipe", "dry", "empty", "cut")."""
    roots = {word}
    for ending, replacement in (
        ("ied", "y"), ("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")
    ):  # fmt: skip
        base = word[: -len(ending)] + replacement
        if word.endswith(ending) and len(base) >= 3:
            roots |= {base, base + "e", base[:-1] if base[-1] == base[-2] else base}
            break
    return roots
