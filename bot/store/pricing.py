"""What model calls cost in money: a price table per model, in US dollars per million tokens, and the
cost of a call from its tokens. Pure: nothing here reads the environment or the database.

A model the table does not know has no cost (None), never a guessed one: a run with such a call shows its
tokens and no cost, so no figure shown is wrong. The table is Anthropic's list prices; a deployment with
other prices (a discount, a model added since) overrides entries with `VARIATIONS_PRICES` (bot.config).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

PER = 1_000_000  # prices are per million tokens
_DATED = re.compile(r"-\d{8}$")  # a snapshot's date, as in claude-haiku-4-5-20251001
_NUMBER = r"\s*(\d+(?:\.\d*)?|\.\d+)\s*"
_ENTRY = re.compile(rf"\s*([^\s=,/]+)\s*={_NUMBER}/{_NUMBER}")


@dataclass(frozen=True)
class Price:
    """A model's list price: US dollars per million input tokens and per million output tokens."""

    input: float
    output: float


# Anthropic's list prices (platform.claude.com, "Pricing"), for the models' API ids and aliases.
LIST_PRICES: Mapping[str, Price] = MappingProxyType(
    {
        "claude-opus-4-8": Price(5, 25),
        "claude-opus-4-7": Price(5, 25),
        "claude-opus-4-6": Price(5, 25),
        "claude-opus-4-5": Price(5, 25),
        "claude-opus-4-1": Price(15, 75),
        "claude-sonnet-4-6": Price(3, 15),
        "claude-sonnet-4-5": Price(3, 15),
        "claude-haiku-4-5": Price(1, 5),
    }
)


@dataclass(frozen=True)
class Prices:
    """The price table a deployment uses."""

    table: Mapping[str, Price] = field(default_factory=lambda: LIST_PRICES)

    def price(self, model: str | None) -> Price | None:
        """The model's price: by its name, else by the name without a snapshot's date; None when unknown."""
        if not model:
            return None
        model = model.strip().lower()
        return self.table.get(model) or self.table.get(_DATED.sub("", model))

    def cost(self, model: str | None, input_tokens: int, output_tokens: int) -> float | None:
        """What a call cost in dollars; 0 for a call that used no tokens, None when the model is unknown."""
        if not input_tokens and not output_tokens:
            return 0.0
        price = self.price(model)
        if price is None:
            return None
        return (input_tokens * price.input + output_tokens * price.output) / PER

    def overridden(self, text: str) -> Prices:
        """This table with the entries of `text` (see `parse_prices`) added or replacing its own."""
        return Prices(MappingProxyType({**self.table, **parse_prices(text)}))


DEFAULT_PRICES = Prices()


def parse_prices(text: str) -> dict[str, Price]:
    """`model=input/output,model=input/output` (dollars per million tokens) as a table; ValueError naming
    the entry that is not of that form."""
    table: dict[str, Price] = {}
    for entry in text.split(","):
        if not entry.strip():
            continue
        found = _ENTRY.fullmatch(entry)
        if found is None:
            raise ValueError(f"{entry.strip()!r} is not model=input/output")
        model, given_in, given_out = found.groups()
        table[model.lower()] = Price(float(given_in), float(given_out))
    return table


def total(costs: Iterable[float | None]) -> float | None:
    """The sum of some calls' costs; None when any is unknown (a part left out would make the sum wrong)."""
    known = list(costs)
    if any(cost is None for cost in known):
        return None
    return sum(cost for cost in known if cost is not None)


def money(dollars: float) -> str:
    """`$0.012` under a dollar (three decimals, so a single run's cost shows), `$45.67` from one up."""
    if dollars == 0:
        return "$0"
    if 0 < dollars < 0.0005:
        return "<$0.001"
    if dollars < 0.9995:  # else it would round to $1.000
        return f"${dollars:.3f}"
    return f"${dollars:,.2f}"
