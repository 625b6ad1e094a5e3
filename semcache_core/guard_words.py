"""The English word lists behind :mod:`semcache_core.guards` (lower case).

General vocabulary, not tuned to any test set: negations, number words, dates, negating
prefixes, and common pairs of opposites, each pole with its usual inflections and
near-synonyms (so that "turn off" and "disable" are one pole, not a swap).
"""

from __future__ import annotations

import re


def _split(words: str) -> list[str]:
    """A word list written as one string, for readability."""
    return words.split()


__all__ = [
    "CONTRACTED",
    "CONTRASTING_PREFIXES",
    "DATE_WORDS",
    "DETERMINERS",
    "DETERMINER_PATTERN",
    "INFINITIVE_VERBS",
    "LIFE_STAGES",
    "LOOKING_BACK",
    "NEGATING_PREFIXES",
    "NEGATIONS",
    "NUMBER_WORDS",
    "OPPOSITES",
    "RELATIVE_DATE",
    "RELATIVE_DAY",
    "RELATIVE_SHIFT",
    "TIME_WINDOW",
    "SCOPES",
    "TOO_AS_ALSO_BEFORE",
    "is_superlative",
]

NEGATIONS = frozenset(
    _split(
        "not no non never none nobody nothing nowhere neither nor without cannot cant dont doesnt "
        "didnt isnt arent wasnt werent wont wouldnt shouldnt couldnt hasnt havent hadnt "
        "mustnt neednt aint unable avoid avoids avoiding skip skips skipping except excluding"
    )
)
"""Words that negate (any word ending in "n't" does too; "non" as in "non-toxic"; "avoid",
"skip" and "except" ask the opposite of the same question without them)."""

NEGATING_PREFIXES = ("un", "dis", "non", "in", "im", "il", "ir", "anti", "mis", "de")
"""Prefixes that make a word's opposite ("unsafe", "dislike", "illegal", "nonprofit",
"deserialize")."""

CONTRASTING_PREFIXES = (
    ("hyper", "hypo"),
    ("over", "under"),
    ("super", "sub"),
    ("inter", "intra"),
    ("macro", "micro"),
    ("milli", "micro"),
    ("kilo", "mega"),
    ("mega", "giga"),
    ("giga", "tera"),
    ("pre", "post"),
    ("up", "down"),
    ("in", "out"),
)
"""Prefixes of opposite or other sizes and directions: the same stem behind each is a swap
("hypertension" / "hypotension", "overestimate" / "underestimate", "milligrams" /
"micrograms", "inbound" / "outbound")."""

DETERMINERS = frozenset(_split("a an the my your our their his her its"))
"""Words before a noun that say which one, skipped where the guards read a phrase's words
("a JSON string", "my landlord")."""
DETERMINER_PATTERN = "|".join(sorted(DETERMINERS))
""":data:`DETERMINERS` as a regular expression's alternation ("a|an|her|...")."""

_CARDINALS = _split(
    "zero _ two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
_TENS = _split("twenty thirty forty fifty sixty seventy eighty ninety")
_ORDINALS = _split(
    "third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
    "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth"
)
_TENTHS = _split("twentieth thirtieth fortieth fiftieth sixtieth seventieth eightieth ninetieth")
_MAGNITUDES = {
    "hundred": "100", "thousand": "1000", "million": "1000000", "billion": "1000000000",
    "trillion": "1000000000000", "dozen": "12",
}  # fmt: skip
NUMBER_WORDS: dict[str, str] = {
    **{word: str(value) for value, word in enumerate(_CARDINALS) if word != "_"},
    **{word: str(20 + 10 * step) for step, word in enumerate(_TENS)},
    **{word: str(3 + step) for step, word in enumerate(_ORDINALS)},
    **{word: str(20 + 10 * step) for step, word in enumerate(_TENTHS)},
    **_MAGNITUDES,
    **{f"{word}s": value for word, value in _MAGNITUDES.items()},  # "thousands of users"
    "half": "0.5", "quarter": "0.25", "twice": "2", "double": "2", "thrice": "3",
    "triple": "3",
}  # fmt: skip
"""Numbers in words, each to its value in digits ("one", "first" and "second" are left
out: "a new one", "first aid" and "wait a second" count nothing); a plural magnitude
counts as its magnitude ("thousands" / "millions" of users ask other things)."""

_NOT_SUPERLATIVES = _split(
    "interest guest quest request forest chest protest contest harvest invest suggest arrest "
    "digest honest modest manifest conquest priest crest unrest behest inquest bequest earnest "
    "budapest bucharest midwest southwest northwest tempest everest palimpsest"
)


def is_superlative(word: str) -> bool:
    """Whether a lower-case word is a superlative ("largest", "most", "best"; not "test",
    "interest"): "second" before one is a rank.

    Example::

        >>> is_superlative("largest"), is_superlative("most"), is_superlative("interest")
        (True, True, False)
    """
    return word in ("most", "least", "best", "worst") or (
        word.endswith("est") and len(word) > 4 and word not in _NOT_SUPERLATIVES
    )


CONTRACTED = frozenset(
    _split(
        "what how who where when why it that there here this he she let something everything "
        "nothing anything"
    )
)
"""Words whose "'s" is "is" or "us" ("What's", "It's", "Let's"), not a possessive."""

_MONTHS = _split("january february april june july august september october november december")
_WEEKDAYS = _split("monday tuesday wednesday thursday friday saturday sunday")
_ABBREVIATIONS = {
    "jan": "january", "feb": "february", "apr": "april", "jun": "june", "jul": "july",
    "aug": "august", "sep": "september", "sept": "september", "oct": "october",
    "nov": "november", "dec": "december", "mon": "monday", "tue": "tuesday",
    "tues": "tuesday", "wed": "wednesday", "thu": "thursday", "thur": "thursday",
    "thurs": "thursday", "fri": "friday", "sat": "saturday", "sun": "sunday",
}  # fmt: skip
_OTHER_DAYS = _split("weekday weekend today tonight tomorrow yesterday overnight eve")
DATE_WORDS: dict[str, str] = {
    **{word: word for word in (*_MONTHS, *_WEEKDAYS, *_OTHER_DAYS)},
    **{f"{word}s": word for word in (*_WEEKDAYS, "weekday", "weekend")},
    **_ABBREVIATIONS,
}
"""Month and weekday names, abbreviations, plurals and relative days ("eve": Christmas Eve is
not Christmas), each to the day or month it names ("may" and "march" are verbs too: a
capitalised May or March is a name, which :func:`~semcache_core.guards.names_agree` sees)."""

RELATIVE_DATE = re.compile(
    r"\b(this|next|last|previous|coming|past)\s+(week|month|year|quarter|weekend|season)\b",
    re.IGNORECASE,
)
"""A relative period ("next week", "last year")."""

RELATIVE_DAY = re.compile(
    r"\b(?:day\s+(?:after|before)\s+\w+|\w+\s+after\s+next|(?:next|last|previous|past)\s+(?:"
    + "|".join(_WEEKDAYS)
    + r"))\b",
    re.IGNORECASE,
)
"""Another day than its words alone: "the day after tomorrow" is not "tomorrow", "the day
after Christmas" not "Christmas", "Monday after next" not "Monday", "next Friday" not "this
Friday" (which is "Friday"); "past" and "previous" Friday are "last" Friday."""

_STRETCH = (
    r"(?:an?|\d+(?:\.\d+)?|(?:a\s+)?few|several|(?:a\s+)?couple(?:\s+of)?|half\s+an|"
    + "|".join(["one", "hundred", *(word for word in _CARDINALS if word != "_"), *_TENS])
    + r")\s+(?:second|minute|hour|day|week|fortnight|month|year|decade|centur(?:y|ie))s?"
)
RELATIVE_SHIFT = re.compile(
    rf"\b(?:(?P<past>ago)|from\s+now(?!\s+on\b)|(?P<within>in\s+{_STRETCH}))\b",
    re.IGNORECASE,
)
"""Which way from now a stretch of time runs, group ``past`` set for the past: "a week
ago" is not "a week from now" nor "in a week" ("from now on" is not a stretch of time).
"In a week" is a stretch of time (group ``within``) where its sentence looks back
(:data:`LOOKING_BACK`: "How much has rent gone up in 5 years?")."""

_WINDOW_QUANTITY = (
    r"(?:\d+(?:[.,]\d+)?|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"fifteen|twenty|thirty|forty|fifty|sixty|ninety|(?:a\s+)?few|several|the\s+first)"
    r"[\s-]*(?:business\s+|working\s+|calendar\s+)?"
    r"(?:second|sec|minute|min|hour|hr|day|night|week|fortnight|month|year|yr)s?"
)
TIME_WINDOW = re.compile(
    r"\b(?:(?P<inside>within|inside(?:\s+of)?|in\s+under|under|(?:in\s+)?less\s+than|"
    r"fewer\s+than|no\s+more\s+than|no\s+later\s+than|up\s+to|below)|"
    r"after|beyond|(?<!the\s)past|over|above|more\s+than|later\s+than|longer\s+than|"
    r"in\s+excess\s+of|outside(?:\s+of)?)\s+"
    rf"(?:{_WINDOW_QUANTITY}|the\s+(?:[\w-]+\s+){{0,2}}"
    r"(?:window|period|limit|deadline|time\s*frame))\b",
    re.IGNORECASE,
)
"""A stretch of time or a limit, and which side of it a question is on: group ``inside``
set for "within 24 hours", "up to 30 days", "under the limit"; unset for "after 24 hours",
"beyond 60 days", "past 30 days", "outside the warranty period". Only a word right before
the stretch counts: "30 days after purchase" is a deadline, as "within 30 days" is."""

LOOKING_BACK = re.compile(r"\b(?:has|have|had|did|was|were|since)\b", re.IGNORECASE)
"""Words of a sentence about the past: there "in 5 years" is not five years from now ("How
much has rent gone up in 5 years?")."""


_PAIRS: list[tuple[str, ...]] = [
    ("before earlier prior", "during while", "after afterwards later"),
    ("until till", "since"),
    ("is are am", "was were"),  # "Who is the CEO?" / "Who was the CEO?"
    # the future against a question about the past ("Will the Fed cut rates?" / "Did the
    # Fed cut rates?", "Has AI replaced programmers?"): "'ll", "going to" and "gonna" are
    # read as "will", "did" / "was" / "were" opening a question, and "has" / "have" /
    # "had" there before a past participle, as "pastasked" ("My flight was cancelled,
    # will I..." asks about the future); see guards
    ("will shall", "pastasked"),
    ("presentasked", "pastasked"),  # "When does / did the store open?"
    # permission / obligation / advice: "Can I disclose...?" / "Must I...?", "Do I have to
    # tip?" / "Should I tip?" ("do I have to" is read as "haveto", "do I need to" as
    # "needto", which advice does not oppose: "Do I need to see a doctor for a sprain?"
    # asks for advice; a modal after "how" or "what" as none: "How can I treat it?" /
    # "What should I do for it?" is one question; see guards)
    ("can may", "must haveto needto"),
    ("must haveto", "should ought"),
    ("can may", "should ought"),  # "Can I pay by card?" / "Should I pay by card?"
    # the two sides of one relation ("What can a landlord legally do?" / "... a tenant..."):
    # a question naming both ("Can a landlord evict a tenant?") swaps nothing
    ("landlord landlords landlady", "tenant tenants renter renters lodger lodgers"),
    ("buyer buyers purchaser purchasers", "seller sellers vendor vendors"),
    ("lender lenders", "borrower borrowers"),
    ("employer employers", "employee employees"),
    ("creditor creditors", "debtor debtors"),
    ("plaintiff plaintiffs claimant claimants", "defendant defendants respondent"),
    ("host hosts", "guest guests"),
    ("franchisor franchisors", "franchisee franchisees"),
    ("sender senders", "recipient recipients receiver receivers"),
    ("donor donors", "recipient recipients"),
    ("parent parents", "child children kid kids"),
    ("teacher teachers", "student students pupil pupils"),
    ("doctor doctors physician physicians", "patient patients"),
    # young and grown ("What vaccines does a kitten need?" / "... does a cat need?")
    ("puppy puppies", "dog dogs"),
    ("kitten kittens", "cat cats"),
    ("duckling ducklings", "duck ducks"),
    ("chick chicks", "chicken chickens hen hens"),
    ("calf calves", "cow cows cattle"),
    ("foal foals", "horse horses"),
    ("piglet piglets", "pig pigs"),
    ("all every", "some most few"),
    ("any", "most all every"),  # "Are any mushrooms poisonous?" / "Are most...?"
    ("most", "few"),
    (
        "instead substitute substitutes replace replacement alternative alternatives besides",
        "with alongside along",
    ),
    ("open opens opened opening reopen", "close closes closed closing shut"),
    ("good great", "bad poor terrible"),
    ("better", "worse"),
    ("best", "worst"),
    (
        "pro pros advantage advantages benefit benefits upside upsides positives strength "
        "strengths",
        "con cons drawback drawbacks downside downsides risk risks negatives weakness "
        "weaknesses danger dangers",
    ),
    (
        "increase increases increased increasing raise raises raised raising boost boosts rise "
        "rises enlarge enlarges enlarged enlarging",
        "decrease decreases decreased decreasing reduce reduces reduced reducing lower lowers "
        "lowered lowering drop drops cut cuts shrink shrinks shrank shrunk shrinking",
    ),
    ("higher highest", "lower lowest"),
    ("high", "low"),
    ("more most", "less least fewer fewest"),
    (
        "max maximum maximal maximise maximize argmax upper oldest",
        "min minimum minimal minimise minimize argmin lower young youngest",
    ),
    ("large larger largest big bigger biggest huge", "small smaller smallest little tiny"),
    ("long longer longest", "short shorter shortest"),
    ("fast faster fastest quick quicker quickest", "slow slower slowest"),
    ("cheap cheaper cheapest inexpensive affordable", "expensive pricey costly"),
    ("free", "paid premium"),
    ("hot hotter hottest warm warmer heat heating", "cold colder coldest cool cooler cooling"),
    (
        "add adds added adding insert inserted",
        "remove removes removed removing delete deletes deleted deleting",
    ),
    (
        "on enable enables enabled enabling activate activated",
        "off disable disables disabled disabling deactivate deactivated",
    ),
    (
        "start starts started starting begin begins beginning launch",
        "stop stops stopped stopping end ends ended ending finish",
    ),
    ("first earliest", "last latest final"),
    ("early", "late"),
    ("import imports imported importing", "export exports exported exporting"),
    ("upload uploads uploaded uploading", "download downloads downloaded downloading"),
    ("buy buys bought buying purchase", "sell sells sold selling"),
    ("push pushes pushed", "pull pulls pulled"),
    ("win wins won winning", "lose loses lost losing"),
    (
        "accept accepts accepted accepting approve approved",
        "reject rejects rejected rejecting decline declined deny denied",
    ),
    ("allow allows allowed permitted", "forbid forbidden prohibited banned block blocks blocked"),
    ("include includes included including", "exclude excludes excluded excluding"),
    ("inside indoor indoors internal", "outside outdoor outdoors external"),
    ("above over", "below under beneath"),
    ("up upward upwards", "down downward downwards"),
    ("left", "right"),
    ("north northern", "south southern"),
    ("east eastern", "west western"),
    ("true", "false"),
    (
        "success successful succeed succeeds succeeded pass passes passed passing works",
        "failure failed fail fails failing",
    ),
    (
        "safe safer safest fine harmless edible benign",
        "dangerous unsafe risky toxic poisonous harmful hazardous deadly lethal",
    ),
    ("male men man boy boys husband father", "female women woman girl girls wife mother"),
    ("adult adults", "child children kid kids baby babies infant infants"),
    ("day daytime", "night nighttime"),
    ("morning", "evening night"),
    ("summer", "winter"),
    ("spring", "autumn fall"),
    ("new newer newest", "old older oldest"),
    ("young younger youngest", "elderly aged senior"),
    ("input inputs", "output outputs"),
    ("read reads reading", "write writes writing"),
    ("send sends sent sending", "receive receives received receiving"),
    ("incoming inbound", "outgoing outbound"),
    ("public", "private"),
    ("positive", "negative"),
    ("plus", "minus"),
    ("ascending asc", "descending desc"),
    ("ascend ascends ascended", "descend descends descended"),
    ("freeze freezes freezing froze frozen", "thaw thaws thawing thawed defrost defrosting"),
    ("learn learns learning learned learnt", "teach teaches teaching taught"),
    ("encrypt encrypts encrypted encryption", "decrypt decrypts decrypted decryption"),
    (
        "compress compresses compressed compression",
        "decompress decompresses decompressed decompression",
    ),
    ("connect connects connected connecting", "disconnect disconnects disconnected disconnecting"),
    ("join joins joined joining", "leave leaves left leaving quit"),
    ("arrive arrives arrived arrival arrivals", "depart departs departed departure departures"),
    ("deposit deposits deposited", "withdraw withdraws withdrew withdrawal"),
    ("credit credits", "debit debits"),
    ("income revenue", "expense expenses cost costs"),
    ("profit profits gain gains gaining gained", "loss losses lose loses losing"),
    ("thick thicker thickest", "thin thinner thinnest"),
    ("loud louder loudest", "quiet quieter quietest"),
    ("tighten tightens tightened tight", "loosen loosens loosened loose"),
    ("forward forwards", "backward backwards"),
    ("horizontal horizontally", "vertical vertically"),
    ("wet", "dry"),
    ("light lighter", "dark darker"),
    ("heavy heavier", "light lighter"),
    ("strong stronger", "weak weaker"),
    ("hard harder", "soft softer"),
    ("easy easier easiest simple", "hard harder hardest difficult complex"),
    ("full", "empty"),
    ("uppercase upper", "lowercase lower"),
    ("love loves", "hate hates"),
    ("always", "never"),
    ("all everything everyone everybody", "none nothing nobody"),
    (
        "same similar alike similarity similarities resemblance",
        "different differ differs difference differences distinction",
    ),
    ("near nearer nearest closer closest nearby", "far farther farthest further furthest distant"),
    ("synonym synonyms synonymous", "antonym antonyms opposite opposites"),
    ("time", "space"),
    ("pre", "post"),
    ("sync synchronous synchronously", "async asynchronous asynchronously"),
    ("client", "server"),
    ("frontend", "backend"),
    ("healthy", "unhealthy"),
    ("rich wealthy", "poor"),
    ("legal lawful", "illegal unlawful"),
    ("valid", "invalid"),
    ("correct right", "incorrect wrong"),
    ("install installs installed installing", "uninstall uninstalls uninstalled uninstalling"),
    ("subscribe subscribes subscribed", "unsubscribe unsubscribes unsubscribed"),
    ("lock locks locked locking", "unlock unlocks unlocked unlocking"),
    ("mount mounts mounted", "unmount unmounts unmounted"),
    ("enter enters entered entry", "exit exits exited"),
    ("login signin", "logout signout"),
    ("like likes liked", "dislike dislikes disliked"),
    ("agree agrees agreed", "disagree disagrees disagreed"),
    ("yes", "no"),
    ("in", "out"),
    ("am", "pm"),
    ("next", "previous"),
    ("show shows showing showed unhide unhides unhiding unhid", "hide hides hiding hid"),
    ("online", "offline"),
    ("sunrise dawn", "sunset dusk"),
    ("encode encodes encoded encoding encoder", "decode decodes decoded decoding decoder"),
    ("increment increments incremented", "decrement decrements decremented"),
    ("upgrade upgrades upgraded upgrading", "downgrade downgrades downgraded downgrading"),
    ("attach attaches attached", "detach detaches detached"),
    ("asleep", "awake"),
    ("alive living", "dead"),
    ("inhale", "exhale"),
    ("deep deeper deepest", "shallow shallower shallowest"),
    ("wide wider widest", "narrow narrower narrowest"),
    ("raw uncooked undercooked", "cooked"),
    ("acidic", "alkaline"),
    ("odd", "evennum"),  # "Is 7 odd?" / "Is 7 even?" ("even" as a number's: see guards)
    ("mild minor", "severe serious major"),
    ("front", "back rear"),
    ("tall taller tallest", "short shorter shortest"),
    ("rare rarer rarest", "common"),
    ("fresh", "stale"),
    ("inner interior", "outer exterior"),
    ("rising", "falling"),
    ("top", "bottom"),
    ("acute", "chronic"),
    ("normal", "abnormal"),
    # "Songs by Elvis" / "Songs about Elvis" / "Letters to Elvis" / "Photos of Elvis"
    ("workby pictureby", "workabout workof", "workto workfor workdedicated"),
    # "By whom was Hamlet written?" / "For whom...?" (see guards)
    ("bywhom", "forwhom", "aboutwhom"),
    # "Who voted for the bill?" / "...against the bill?" (a stance: see guards)
    ("stancefor", "stanceagainst"),
    (
        "prevent prevents prevented preventing prevention",
        "treat treats treated treating treatment cure cures cured heal heals remedy remedies rid "
        "fix fixes fixed fixing remove removes removed removing",
    ),
]

LIFE_STAGES = frozenset(
    _split(
        "baby babies infant infants newborn newborns toddler toddlers child children kid kids "
        "teen teens teenager teenagers pregnant pregnancy lamb lambs cub cubs pup pups puppy "
        "puppies tadpole tadpoles caterpillar caterpillars larva larvae kitten kittens foal "
        "foals fawn fawns joey joeys piglet piglets duckling ducklings chick chicks gosling "
        "goslings cygnet cygnets eaglet eaglets owlet owlets hatchling hatchlings nestling "
        "nestlings adolescent adolescents preteen preteens tween tweens juvenile juveniles"
    )
)
"""Words that narrow a question to a stage of life: one side naming one where the other
names none asks about someone else (:mod:`semcache_core.guard_life`). Not "adult", which
a question without it usually means ("Is 3 mg of melatonin safe?" / "... safe for
adults?"), nor "senior" or "elderly", said "older" too; "young" as that module says."""

OPPOSITES: tuple[tuple[frozenset[str], ...], ...] = tuple(
    tuple(frozenset(_split(pole)) for pole in poles) for poles in _PAIRS
)
"""Groups of opposite poles (pairs, or more: before / during / after): a word of one on
one side only and a word of another on the other side only is a swap of meaning."""


_COUNTRY = r"(?:the\s+|this\s+|my\s+|our\s+)?(?:country|us|usa|uk|eu)\b"
SCOPES: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"\b(?:abroad|overseas|international(?:ly)?|worldwide|foreign(?!\s+(?:keys?|languages?|"
        r"objects?|bod(?:y|ies)|policy|affairs|films?)\b)|(?:another|other)\s+countr(?:y|ies)\b|"
        r"(?:out\s+of|outside(?:\s+of)?)\s+" + _COUNTRY + r")",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:domestic(?:ally)?|inland|nationwide|(?:with)?in\s+" + _COUNTRY + r")",
        re.IGNORECASE,
    ),
)
"""What a question covers, abroad or at home: a scope named on one side only is another
question ("send money abroad" / "send money to another bank in this country"; "abroad" /
"in other countries" is one scope). "foreign key" or "foreign language" names none."""

INFINITIVE_VERBS = frozenset(
    _split(
        "be eat drink take have use get stop go make do give feed start learn try keep let see "
        "buy pay send put find know swim fly drive travel walk run sleep wear bring open close "
        "change cook bake boil freeze rent book visit apply cancel return convert turn parse "
        "cast transfer move upgrade switch connect upload download install reset log sign check "
        "become speak write read call add remove delete create update fix clean lose gain"
    )
)
"""Verbs that a "to" before them marks as an infinitive ("how to get to the airport"), not
a direction."""

TOO_AS_ALSO_BEFORE = frozenset(
    _split("if on in at for and or with to of by as so but when while because since the a an my")
)
"""Words after which "too" means "also" ("cash too if...", "come too on the tour"), not a
degree ("too old")."""
