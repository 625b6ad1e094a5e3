"""Closed classes of kinds, a guard of :mod:`semcache_core.guards`: one kind of a class
on one side only and another kind of the same class on the other is another question
("checking account" / "credit card", "by plane" / "by bus", "Can dogs eat grapes?" /
"Can cats eat grapes?", "How tall is a giraffe?" / "How heavy is a giraffe?", "the
minimum wage" / "the average wage").

Example::

    >>> kinds_agree("Can dogs eat grapes?", "Can cats eat grapes?")
    False
    >>> kinds_agree("How tall is a giraffe?", "What is the height of a giraffe?")
    True
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from .guard_text import span_words, stem

__all__ = ["CODE_CONTEXT", "CODE_KINDS", "KINDS", "KIND_PHRASES", "kinds_agree"]


def _split(words: str) -> list[str]:
    return words.split()


_KIND_GROUPS = [
    ("checking chequing currentaccount", "savings", "credit", "debit", "prepaid"),
    (
        "plane planes airplane airplanes aeroplane flight flights airline airlines fly flying",
        "train trains rail railway",
        "bus buses coach coaches",
        "car cars drive driving",
        "ferry ferries boat boats",
        "bike bikes bicycle bicycles",
        "motorcycle motorcycles motorbike motorbikes",
        "taxi taxis cab cabs",
    ),
    (
        "dog dogs puppy puppies pup pups",
        "cat cats kitten kittens kitty kitties",
        "rabbit rabbits bunny bunnies",
        "horse horses",
        "bird birds parrot parrots",
        "hamster hamsters",
        "cow cows cattle",
        "pig pigs",
        "guineapig guineapigs",
        "guineafowl guineafowls guineahen guineahens",
        "chicken chickens hen hens",
        "sheep",
        "goat goats",
    ),
    ("breakfast", "brunch", "lunch", "dinner supper"),
    (
        "bake bakes baked baking roast roasts roasted roasting",
        "grill grills grilled grilling broil broiled", "fry fries fried frying fryer fryers",
        "airfry airfries airfried airfrying airfryer",
        "boil boils boiled boiling",
        "steam steams steamed steaming", "poach poached poaching",
        "microwave microwaves microwaved microwaving",
    ),
    ("rugbyunion", "rugbyleague", "rugbysevens", "touchrugby"),
    ("morning mornings", "noon midday", "afternoon afternoons", "evening evenings",
     "night nights tonight", "midnight"),
    ("spring", "summer", "autumn fall", "winter"),
    ("red", "blue", "green", "yellow", "black", "white", "purple", "pink", "brown", "grey gray"),
    ("gold", "silver", "bronze", "platinum", "copper", "iron", "steel", "aluminium aluminum"),
    ("newborn newborns infant infants baby babies", "toddler toddlers",
     "teen teens teenager teenagers"),
    ("son sons", "daughter daughters"),
    ("brother brothers", "sister sisters"),
    ("aunt aunts", "uncle uncles"),
    ("laptop laptops notebook", "phone phones smartphone", "tablet tablets ipad", "desktop"),
    ("windows pc pcs", "linux ubuntu", "mac macos osx", "android", "ios iphone iphones"),
    (
        "python", "java", "javascript js", "typescript ts", "ruby", "php", "kotlin", "swift",
        "rust", "scala", "perl", "golang",
    ),
    # what is measured ("How tall / heavy is a giraffe?", "How thick / wide should a
    # driveway be?"); "how long" before "does", "can", "to" ... is a duration, one kind
    # with speed ("How fast is shipping?" / "How long does shipping take?"), "how high" a
    # height; "long", "high", "far", "big" and "large" alone are none: they often say
    # how much ("Is my bill so high / big?", "How far down should I plant bulbs?")
    (
        "height tall altitude elevation howhigh", "width wide breadth", "length distance",
        "depth deep", "weight weigh weighs weighed heavy mass", "thickness thick",
        "speed fast howlong",
    ),
    # which figure of a quantity ("the minimum / average wage", "the recommended /
    # maximum tire pressure"; the usual, typical, normal, median or recommended one is
    # one figure to most who ask)
    (
        "minimum min lowest",
        "average typical typically usual usually normal median recommended ideal",
        "maximum max highest upper",
    ),
    # how two things relate ("What's the difference between X and Y?" / "What do X and Y
    # have in common?")
    (
        "difference differences different differ differs distinguish distinguishes",
        "similar similarity similarities alike incommon",
    ),
    # cause, signs, consequences and remedy of a condition ("What causes / cures
    # migraines?", "What are the symptoms / causes of iron deficiency?"; "effect" is
    # none: "Is hair loss a side effect of stress?" asks "Can stress cause hair loss?")
    (
        "cause causes caused causing trigger triggers triggered",
        "symptom symptoms signof signsof",
        "consequence consequences complication complications",
        "treat treats treated treating treatment treatments cure cures cured remedy remedies "
        "relieve relieves relief fix fixes fixing repair repairs",
    ),
    # what a choice is made for ("cheapest" / "fastest way to...", "naturally" /
    # "permanently")
    (
        "cheap cheaper cheapest cheaply inexpensive affordable", "fastest quickest",
        "safest", "easiest", "naturally", "permanently", "reliable", "comfortable",
        "quiet quietest", "durable", "lightweight",
    ),
    # what an instruction asks for: how much detail ("Briefly explain / Explain in depth
    # how vaccines work", "a quick overview / a comprehensive guide"), for whom or how hard
    # ("for beginners / for experts"), which exercise ("multiple-choice / true-or-false
    # questions"), which side ("in favor of / against school uniforms", "Defend /
    # Criticize the decision"), which tone ("a cheerful / gloomy poem", "decline politely /
    # bluntly"), which language ("translate ... in swedish / in norwegian") and which diet
    (
        "brief briefly concise concisely succinct succinctly short shorter overview gist "
        "inanutshell ataglance inafewwords",
        "detail detailed indetail indepth thorough thoroughly comprehensive "
        "comprehensively exhaustive exhaustively extensive extensively elaborate stepbystep",
    ),
    (
        "beginner beginners novice novices introductory basic basics easy",
        "intermediate",
        "advanced expert experts hard difficult challenging",
    ),
    (
        "multiplechoice", "trueorfalse truefalse", "fillintheblank fillintheblanks",
        "matching", "shortanswer", "essay essays", "openended",
    ),
    (
        "infavorof infavourof defend defends defending praise praises praising",
        "against criticize criticise criticizes criticises criticizing criticising critique "
        "critiques",
    ),
    (
        "formal formally professional", "casual casually informal informally",
        "funny humorous humorously witty", "serious seriously", "romantic",
        "sad melancholy melancholic gloomy", "cheerful happy upbeat joyful",
        "polite politely", "blunt bluntly rude rudely", "persuasive persuasively",
        "neutral neutrally objective objectively impartial impartially unbiased",
    ),
    (
        "english", "french", "german", "spanish", "italian", "portuguese", "dutch",
        "swedish", "norwegian", "danish", "finnish", "polish", "russian", "ukrainian",
        "chinese mandarin", "cantonese", "japanese", "korean", "arabic", "hindi", "turkish",
        "greek", "hebrew", "latin", "vietnamese", "thai", "indonesian",
    ),
    ("vegan vegans", "vegetarian vegetarians", "pescatarian pescatarians"),
    # in which order ("alphabetically / by length", "in chronological order / in order of
    # importance") and how much of a text ("the first chapter / every chapter")
    (
        "alphabetical alphabetically alphabetic", "chronological chronologically",
        "bylength", "bysize", "bydate", "byprice", "byimportance orderofimportance",
        "ascending", "descending",
        "reversealphabetical reversechronological reverseorder reversedorder",
    ),
    ("whole entire every", "first opening", "last final closing"),
    # which kind of work or text ("a haiku / a limerick", "a book / a movie like Dune",
    # "an email / a letter", "a blog post / a tweet"), which layout ("as a bulleted list /
    # as a paragraph of prose", "as a table"), and which voice ("the passive / active")
    (
        "haiku haikus", "limerick limericks", "sonnet sonnets", "acrostic acrostics",
        "ode odes", "ballad ballads", "song songs lyrics", "joke jokes",
        "riddle riddles", "tweet tweets", "slogan slogans tagline taglines",
        "poem poems poetry", "book books novel novels story stories",
        "movie movies film films", "tvshow tvshows",
        "album albums", "game games videogame videogames", "podcast podcasts",
        "email emails", "letter letters", "blogpost blogposts",
    ),
    (
        "bullet bullets bulleted bulletpoint bulletpoints", "numbered",
        "table tables tabular", "paragraph paragraphs prose",
    ),
    ("passive", "active"),
]  # fmt: skip
_DATA_TYPES = (
    "string strings str", "list lists array arrays", "tuple tuples",
    "dict dicts dictionary dictionaries hashmap hashmaps", "integer integers int ints",
    "float floats", "boolean booleans bool bools",
)  # fmt: skip
_KIND_GROUPS.append(_DATA_TYPES)
CODE_KINDS = len(_KIND_GROUPS) - 1
"""The class of :data:`KINDS` (its index) that counts only in a question about code
(:data:`CODE_CONTEXT`): elsewhere "list", "string", "float" and "dictionary" are everyday
words ("a list of synonyms", "what floats in water")."""
CODE_CONTEXT = re.compile(
    r"\b(?:python|java|javascript|js|typescript|ts|ruby|php|kotlin|swift|rust|scala|perl|"
    r"golang|sql|numpy|pandas|code|coding|programming|script|function|variable|regex|json)\b"
    r"|c\+\+|c#",
    re.IGNORECASE,
)
"""A question about code: it names a language or a programming word."""

KIND_PHRASES = re.compile(
    r"\b(?:guinea[\s-]+(?:pig|fowl|hen)|current[\s-]+account|touch[\s-]+rugby|"
    r"rugby[\s-]+(?:union|league|sevens)|air[\s-]+fr(?:y|ies|ied|ying|yers?)\b|"
    r"in\s+common\b|signs?\s+of\b|in[\s-]+(?:depth|detail)\b|in\s+a\s+nutshell\b|"
    r"at\s+a\s+glance\b|in\s+a\s+few\s+words\b|step[\s-]+by[\s-]+step\b|"
    r"multiple[\s-]+choice\b|true[\s-]+(?:or[\s-]+)?false\b|"
    r"fill[\s-]+in[\s-]+the[\s-]+blanks?\b|short[\s-]+answer\b|open[\s-]+ended\b|"
    r"in\s+favou?r\s+of\b|by\s+(?:length|size|date|price|importance)\b|"
    r"order\s+of\s+importance\b|reversed?\s+(?:alphabetical|chronological|order)\b|"
    r"tv\s+shows?\b|blog\s+posts?\b|video\s+games?\b)|"
    r"\bhow\s+long(?=\s+(?:does|do|did|will|would|can|could|should|to|has|have)\b)|"
    r"\bhow\s+high\b",
    re.IGNORECASE,
)
"""Kinds named by two words, read as one (their words joined: "guineapig"; a hyphen
between them too): a guinea pig is not a pig, nor a guinea fowl (or hen) a chicken; a
current account is a checking account; rugby union is not rugby league, nor touch rugby;
air frying is not frying; "in common" is a likeness, "signs of" a symptom ("sign in" is
none), "how high" a height, and "how long" before "does", "can", "to" ... a duration; "in
depth", "in a nutshell", "step by step" say how much detail, "multiple choice" and "true or
false" which exercise, "in favor of" which side, "by length" and "reverse alphabetical"
which order, "tv show", "blog post" and "video game" which kind of work."""
KINDS: tuple[tuple[frozenset[str], ...], ...] = tuple(
    tuple(frozenset(_split(kind)) for kind in group) for group in _KIND_GROUPS
)
"""Closed classes whose members answer different questions: one kind on one side only and
another kind of the same class on the other is a swap ("checking account" / "credit card",
"by plane" / "by bus", "Can dogs eat grapes?" / "Can cats eat grapes?"). Each kind lists
its spellings and plurals."""


def kinds_agree(new: str, stored: str) -> bool:
    """No two kinds of one closed class swapped (:data:`KINDS`):
    "checking account" / "credit card", "by plane" / "by bus", "my dog's ears" / "my
    cat's ears", "lunches" / "breakfasts", "How tall / heavy is it?", "the minimum /
    average wage", "What causes / cures it?"; data types where either side is about
    code)."""
    code = CODE_CONTEXT.search(new) is not None or CODE_CONTEXT.search(stored) is not None
    gaps = _kinds(new, code)
    gaps.subtract(_kinds(stored, code))
    more = {group for (group, _), gap in gaps.items() if gap > 0}
    return not more & {group for (group, _), gap in gaps.items() if gap < 0}


_KIND_OF = {
    word: (group, kind)
    for group, kinds in enumerate(KINDS)
    for kind, spellings in enumerate(kinds)
    for word in spellings
}


def _singulars(word: str) -> Iterator[str]:
    """``word``, then what it may be the plural of: "kitties" -> "kitty", "lunches" ->
    "lunch", "cats" -> "cat"."""
    yield word
    for ending, replacement in (("ies", "y"), ("es", ""), ("s", "")):
        if word.endswith(ending) and len(word) > len(ending) + 1:
            yield word[: -len(ending)] + replacement


def _kinds(span: str, code: bool) -> Counter[tuple[int, int]]:
    """(class, kind) of each word of a closed class in ``span``, possessives and plurals
    folded ("cat's", "lunches", "kitties"); data types only in a question about ``code``."""
    found: Counter[tuple[int, int]] = Counter()
    span = KIND_PHRASES.sub(lambda match: re.sub(r"[\s-]+", "", match.group()), span)
    for word in span_words(span):
        bare = stem(word, plural=False).rstrip("'\u2019")
        kind = next((_KIND_OF[form] for form in _singulars(bare) if form in _KIND_OF), None)
        if kind is not None and (code or kind[0] != CODE_KINDS):
            found[kind] += 1
    return found
