"""The language guard of :mod:`semcache_core.guards`: the other guards read English, so a
differing span in another language or script is a miss.

The built-in guards know English negations, question words, tenses, units and number
words; an English sentence model (all-MiniLM-L6-v2) knows little else, and maps most
Chinese, Japanese or Hindi characters to one unknown token. A hunt of prompts in eleven
other languages (``benchmarks/data/hunts/thirteenth_wrong.jsonl``) was served 120 wrong
answers of 388 with MiniLM at 0.87: "Welche Lebensmittel darf man bei Gicht (nicht)
essen?", "¿Cómo comprimo / descomprimo una carpeta?", "Wo / Wann kann ich...",
"オーストリア / オーストラリア" (Austria / Australia, cosine 1.0). Such prompts are served
exact hits only: a cache for another language needs an embedder and guards written for it
(``guards=`` without :func:`in_english`, or guards of your own).

A span reads as English unless:

- it holds letters of a script other than Latin (more than :data:`GREEK_LETTERS_ALLOWED`
  Greek ones: "π" and "θ" are mathematics);
- or it shows more signs of another language than English function words: function words
  of Spanish, French, German, Portuguese, Italian or Dutch that are not English words
  ("qué", "ne", "pas", "nicht", "não", "niet"), a word with an accent or a letter
  English does not use ("explícame", "größe"), an elided article or pronoun
  ("l'Union", "n'est") and Spanish's opening marks "¿" "¡". A capitalised word inside
  the span is a name and no sign ("La La Land", "Zürich", "Los Angeles"); English words
  written with accents (:data:`LOANWORDS`: "café", "naïve", "résumé") are none either.

Example::

    >>> in_english("Is the museum open on Monday?", "Is the museum open Mondays?")
    True
    >>> in_english("Welche Lebensmittel darf man nicht essen?", "Welche darf man essen?")
    False
    >>> in_english("How do I make crème brûlée at home?", "How do I make creme brulee?")
    True
"""

from __future__ import annotations

import functools
import re
import unicodedata

__all__ = [
    "ENGLISH_WORDS",
    "LOANWORDS",
    "FOREIGN_WORDS",
    "GREEK_LETTERS_ALLOWED",
    "in_english",
    "reads_as_english",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


GREEK_LETTERS_ALLOWED = 3
"""Greek letters an English span may hold (symbols of mathematics and science)."""

ENGLISH_WORDS = _words(
    """
    the are were be been being does did done have has had would can could should shall
    may might must of to at for with from by about into onto under after before between
    through during without within and or but if then than that this these those it its
    i you your yours my mine we us our he him his she her they them their what which who
    whom whose why how when where not yes there here some any all each every more most
    much many very just only up out off again
    """
)
"""English function words that are not also common words of the other languages
("a", "in", "is", "do", "no", "me", "on", "an", "am", "was", "will" are left out): the
evidence a span is English."""

FOREIGN_WORDS = _words(
    """
    de el la los las del al un una unos unas que qué es está están estoy por para cómo
    como cuándo cuando dónde donde quién quiénes cuál cuáles cuánto cuánta cuántos
    cuántas se mi mis tu tus su sus lo le les más menos pero muy este esta estos estas
    esto ese esa hay puedo puede pueden tengo tiene tienen hacer sí también nunca ni
    usted ustedes nosotros porque según entre hasta desde después antes
    le les des du et est sont une qui quoi quel quelle quels quelles comment pourquoi
    quand où combien ne pas jamais aucun aucune sans pour avec dans sur au aux ce cette
    ces il elle ils elles je vous nous mon ma mes ton ta tes sa ses leur leurs moins très
    mais ou faire peut peux puis dois doit faut être avoir en
    der das den dem und ist sind nicht kein keine keinen keinem keiner ich du er sie wir
    ihr ein eine einen einem einer zu zum zur mit von für auf im aus bei nach über wie
    wo wann warum wer welche welcher welches welchen wieviel kann können muss müssen
    soll sollte darf dürfen mein meine meinen meinem dein deine sein seine auch oder
    aber nur noch schon sehr mehr wird wurde werden haben gibt ohne nie niemals gestern
    heute morgen
    os da dos um uma uns umas é são não em na nos nas com quando onde quem qual quais
    quanto quanta quantos quantas meu minha meus minhas seu sua você vocês eu ele ela
    eles elas mais muito mas posso pode devo deve fazer sem nem também isso isto essa
    il lo gli di della dello dei degli delle che è sono uno perché dove chi cosa quale
    quali quanti quante ti si ci mio mia miei tuo tua suo più meno molto ma può fare
    senza mai anche questo questa quello quella nel nella nei alla dal dalla sul sulla
    het een zijn niet geen nooit zonder ik je jij wij mijn jouw uw wat hoe waarom
    wanneer waar wie welk hoeveel op voor naar bij uit om ook maar dat dit deze kun
    kunnen moet moeten mag wordt werd worden heb heeft hebben vandaag
    """
)
"""Function words of Spanish, French, German, Portuguese, Italian and Dutch that are not
English words ("no", "me", "die", "was", "per", "come", "van" are left out)."""

_WORD = re.compile(r"\w+(?:['\u2019-]\w+)*")  # "op-ed", "faut-il": a word of its own
_ELIDED = re.compile(r"^(?:l|d|n|qu|j|s|c|m|t)['\u2019]\w", re.IGNORECASE)
_OPENING_MARKS = re.compile("[\u00bf\u00a1]")  # ¿ ¡
_NOT_ENGLISH_LETTERS = frozenset("ßøæœłıđþð")
LOANWORDS = _words(
    """
    café cafés naïve naïvely naïveté résumé résumés cliché clichés fiancé fiancée déjà
    façade façades jalapeño jalapeños piñata piñatas entrée entrées protégé sauté sautéed
    sautéing purée puréed soufflé crème brûlée rosé über doppelgänger touché exposé décor
    blasé passé née coupé flambé frappé pokémon señor señora mañana niño açaí consommé
    appliqué cortège éclair éclairs mêlée pâté pâtisserie smörgåsbord
    """
)
"""English words written with accents: no sign of another language."""


def in_english(new: str, stored: str) -> bool:
    """Both spans read as English (:func:`reads_as_english`), the language the other
    built-in guards read: text in another language or script is a miss (but for the very
    same text, as every guard lets a text match itself)."""
    return new == stored or (reads_as_english(new) and reads_as_english(stored))


@functools.lru_cache(maxsize=64)
def reads_as_english(span: str) -> bool:
    """Whether ``span`` holds no letters of another script (but a few Greek ones) and no
    more signs of another language than English function words (see the module)."""
    greek = 0
    for char in span:
        if char.isalpha() and not _latin(char):
            if not 0x370 <= ord(char) <= 0x3FF:
                return False
            greek += 1
            if greek > GREEK_LETTERS_ALLOWED:
                return False
    english, foreign = 0, len(_OPENING_MARKS.findall(span))
    for position, word in enumerate(_WORD.findall(span)):
        lowered = word.lower()
        if lowered in ENGLISH_WORDS:
            english += 1
        elif word != lowered and position > 0:
            continue  # a name within the sentence: "La La Land", "Zürich", "Des Moines"
        elif lowered in FOREIGN_WORDS or _ELIDED.match(word) is not None:
            foreign += 1
        else:
            foreign += lowered not in LOANWORDS and _accented(word)
    return foreign <= english


def _latin(char: str) -> bool:
    """A letter of the Latin script (with its accents; IPA included), or a full-width one."""
    code = ord(char)
    return code <= 0x2AF or 0x1E00 <= code <= 0x1EFF or 0xFF21 <= code <= 0xFF5A


def _accented(word: str) -> bool:
    """A letter with a diacritic, or one English does not use ("ß", "ø", "ł")."""
    return any(
        char in _NOT_ENGLISH_LETTERS
        or (
            ord(char) > 0x7F
            and char.isalpha()
            and any(unicodedata.combining(part) for part in unicodedata.normalize("NFD", char))
        )
        for char in word
    )
