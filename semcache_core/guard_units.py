"""The units guard of :mod:`semcache_core.guards`: the same units of measure and
currencies on both sides, however spelled.

Example::

    >>> units_agree("Is 5 mg a safe dose?", "Is 5 milligrams a safe dose?")
    True
    >>> units_agree("How many tablespoons in a cup?", "How many teaspoons in a cup?")
    False
"""

from __future__ import annotations

import re

from .guard_text import span_words
from .guard_words import NUMBER_WORDS

__all__ = ["SCALES", "UNITS", "units_agree"]


_UNIT_NAMES = {
    "mg": "mg milligram milligrams", "g": "g gram grams gr",
    "kg": "kg kilo kilos kilogram kilograms",
    "mcg": "mcg microgram micrograms \u00b5g", "lb": "lb lbs pound pounds",
    "oz": "oz ounce ounces", "t": "ton tons tonne tonnes",
    "ml": "ml milliliter milliliters millilitre millilitres", "l": "l liter liters litre litres",
    "gal": "gal gallon gallons", "cup": "cup cups", "tbsp": "tbsp tablespoon tablespoons",
    "tsp": "tsp teaspoon teaspoons", "pint": "pint pints", "quart": "quart quarts",
    "mm": "mm millimeter millimeters millimetre millimetres",
    "cm": "cm centimeter centimeters centimetre centimetres",
    "m": "m meter meters metre metres", "km": "km kilometer kilometers kilometre kilometres",
    "mi": "mi mile miles", "ft": "ft foot feet", "in": "inch inches", "yd": "yd yard yards",
    "ms": "ms millisecond milliseconds", "s": "s sec secs second seconds",
    "min": "min mins minute minutes", "h": "h hr hrs hour hours", "day": "day days",
    "week": "week weeks", "month": "month months", "year": "year years yr yrs",
    "b": "byte bytes", "kb": "kb kib kilobyte kilobytes", "mb": "mb mib megabyte megabytes",
    "gb": "gb gib gigabyte gigabytes", "tb": "tb tib terabyte terabytes",
    "kbps": "kbps", "mbps": "mbps", "gbps": "gbps", "hz": "hz hertz", "khz": "khz",
    "mhz": "mhz", "ghz": "ghz", "w": "w watt watts", "kw": "kw kilowatt kilowatts",
    "kwh": "kwh", "v": "v volt volts", "a": "amp amps ampere amperes", "mah": "mah",
    "kcal": "kcal calorie calories cal", "mph": "mph", "kph": "kph kmh", "psi": "psi",
    "rpm": "rpm", "fps": "fps", "dpi": "dpi", "px": "px pixel pixels",
    "percent": "percent % pct", "degree": "degree degrees \u00b0",
    "usd": "usd dollar dollars $", "eur": "eur euro euros \u20ac", "gbp": "gbp \u00a3",
    "jpy": "jpy yen \u00a5", "cent": "cent cents",
}  # fmt: skip
UNITS: dict[str, str] = {
    name: unit for unit, names in _UNIT_NAMES.items() for name in names.split()
}
"""Units of measure and currencies, each spelling to one name ("kilometres" -> "km"); a
unit counts when a number or "a"/"per" comes before it ("5 mg", "per hour")."""

SCALES = frozenset(["celsius", "fahrenheit", "kelvin", "centigrade"])
"""Temperature scales: they count wherever they stand ("in celsius")."""


# A quantity's unit: after a number (digits or words), "a", "an", "one" or "per".
_QUANTITY = re.compile(
    r"(?:(?<![\w.])\d[\d.,]*|\b(?:a|an|one|per|"
    + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
    + r")\b)\s*+-?\s*+([%\u00b0]|[^\W\d_]+)",  # possessive: blanks split one way
    re.IGNORECASE,
)
_CURRENCY = re.compile(r"[$\u20ac\u00a3\u00a5]")
_ASKED = re.compile(r"\b(?:many|much|in|into|to)\s+([^\W\d_]+)", re.IGNORECASE)
_DEGREES = re.compile(r"\u00b0\s*([CFK])\b", re.IGNORECASE)
_SCALE_LETTER = {"c": "celsius", "f": "fahrenheit", "k": "kelvin"}


def units_agree(new: str, stored: str) -> bool:
    """The same units of measure and currencies ("5 mg" / "5 g", "per hour" / "per
    minute", "$20" / "\u20ac20", "30\u00b0C" / "30\u00b0F", "in celsius" / "in fahrenheit"),
    however spelled ("5 km" matches "5 kilometres"); and when both ask for a unit ("how
    many tablespoons", "in miles", "to kilograms"), the same one ("tablespoons" /
    "teaspoons"; "hours of sleep" / "how much sleep" asks in no unit on one side, and
    passes)."""
    if _units(new) != _units(stored):
        return False
    asked_new, asked_stored = _asked_units(new), _asked_units(stored)
    return not (asked_new and asked_stored and asked_new != asked_stored)


def _asked_units(span: str) -> list[str]:
    """The units asked for in ``span``: ``how many tablespoons`` -> ``["tbsp"]``, ``in
    miles`` -> ``["mi"]``."""
    return sorted(UNITS[name] for name in _unit_names(span, _ASKED) if name in UNITS)


def _units(span: str) -> list[str]:
    found = [UNITS[name] for name in _unit_names(span) if name in UNITS]
    found += [UNITS[symbol] for symbol in _CURRENCY.findall(span)]
    found += [_SCALE_LETTER[letter.lower()] for letter in _DEGREES.findall(span)]
    found += [
        "celsius" if word == "centigrade" else word for word in span_words(span) if word in SCALES
    ]
    return sorted(found)


def _unit_names(span: str, pattern: re.Pattern[str] = _QUANTITY) -> list[str]:
    """The unit words ``pattern`` captures (its group 1), lower-cased."""
    return [match.group(1).lower() for match in pattern.finditer(span)]
