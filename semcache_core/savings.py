"""What an LLM response cache saved: tokens and money, counted per hit served.

Each cached response records, when it is stored, the usage of the call that produced it
(:class:`Usage`: input and output tokens, and the model's name as its adapter reads it).
Every hit served from that entry saves one such call, so each hit adds the entry's
tokens, and, when ``prices`` name its model, their cost. A response stored without usage
(a model that reports none, an entry of an earlier version) saves 0 tokens.

``prices`` maps a model name to ``(usd_per_1k_input_tokens, usd_per_1k_output_tokens)``;
the name must equal the one the adapter reads (exactly: ``"gpt-4o-mini"`` does not price
``"gpt-4o-mini-2024-07-18"``, nor the reverse), and a hit of a model with no price is
counted in ``unpriced_hits`` instead of in the cost.

Example::

    >>> prices = check_prices({"gpt-4o-mini": (0.00015, 0.0006)})  # $0.15 / $0.60 per 1M
    >>> savings = Savings(prices)
    >>> savings.add(usage_fields(Usage(1000, 500, "gpt-4o-mini")))  # an entry's metadata
    >>> savings.input_tokens, savings.output_tokens, round(savings.cost, 6)
    (1000, 500, 0.00045)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .checks import as_int, as_real
from .errors import InvalidArgumentError, shown

__all__ = ["Savings", "Usage", "check_prices", "token_count", "usage_fields"]

_USAGE_FIELD = "u"  # an entry's metadata field: [input_tokens, output_tokens, model_name]


@dataclass(frozen=True, slots=True)
class Usage:
    """The usage of the LLM call whose response is cached.

    Attributes:
        input_tokens, output_tokens: counts the model reported (0 when it reported none).
        model_name: the name ``prices`` are looked up by (``None``: unknown, never priced).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    model_name: str | None = None


def token_count(value: Any) -> int:
    """``value`` as a token count: a non-negative int (not a bool), else 0."""
    number = as_int(value)
    return number if number is not None and number >= 0 else 0


def check_prices(prices: Any) -> dict[str, tuple[float, float]]:
    """``prices`` as a dict of model name -> (USD per 1k input tokens, per 1k output).

    Raises:
        InvalidArgumentError: not a mapping, a name that is not a str, or a price that is
            not a pair of finite numbers >= 0; the message names the entry.
    """
    if prices is None:
        return {}
    if not isinstance(prices, Mapping):
        raise InvalidArgumentError(
            "prices must map model names to (usd_per_1k_input, usd_per_1k_output), "
            f"got {type(prices).__name__}"
        )
    checked = {}
    for name, price in prices.items():
        if not isinstance(name, str):
            raise InvalidArgumentError(f"prices: model names are str, got {shown(name)}")
        pair = _price_pair(price)
        if pair is None:
            raise InvalidArgumentError(
                f"prices[{shown(name)}] must be (usd_per_1k_input, usd_per_1k_output), two "
                f"finite numbers >= 0, got {shown(price)}"
            )
        checked[name] = pair
    return checked


def _price_pair(price: Any) -> tuple[float, float] | None:
    if not isinstance(price, (tuple, list)) or len(price) != 2:
        return None
    numbers = [as_real(p) for p in price]
    if any(n is None or not math.isfinite(n) or n < 0 for n in numbers):
        return None
    return numbers[0], numbers[1]  # type: ignore[return-value]


def usage_fields(usage: Usage | None) -> dict[str, Any]:
    """The metadata fields that record ``usage`` in an entry (none for ``None``)."""
    if usage is None:
        return {}
    return {_USAGE_FIELD: [usage.input_tokens, usage.output_tokens, usage.model_name]}


class Savings:
    """Tokens and USD that served hits saved. Not locked: its owner adds under its own
    lock (so one lock guards every counter a stats call reads together)."""

    __slots__ = ("cost", "input_tokens", "output_tokens", "prices", "unpriced_hits")

    def __init__(self, prices: dict[str, tuple[float, float]]) -> None:
        self.prices = prices
        self.input_tokens = self.output_tokens = self.unpriced_hits = 0
        self.cost = 0.0

    def add(self, metadata: Mapping[str, Any] | None) -> None:
        """Count one hit served from the entry of ``metadata``: the usage it records
        (:func:`usage_fields`), or none (an entry stored without, or by an earlier version).

        On every hit, so written for speed: no :class:`Usage` is built.
        """
        fields = None if metadata is None else metadata.get(_USAGE_FIELD)
        if fields.__class__ is not list or len(fields) != 3:
            if self.prices:
                self.unpriced_hits += 1
            return
        tokens_in, tokens_out, name = fields
        if tokens_in.__class__ is not int or tokens_in < 0:
            tokens_in = 0
        if tokens_out.__class__ is not int or tokens_out < 0:
            tokens_out = 0
        self.input_tokens += tokens_in
        self.output_tokens += tokens_out
        if not self.prices:
            return
        price = self.prices.get(name) if name.__class__ is str else None
        if price is None:
            self.unpriced_hits += 1
            return
        self.cost += (tokens_in * price[0] + tokens_out * price[1]) / 1000
