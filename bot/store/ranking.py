"""Ranking by votes that accounts for how many there are: pure arithmetic, no Slack and no database.

Raw net votes let one 👍 on a new approach beat 9 👍 to 3 👎 on an old one. Instead, something ranks by the
lower bound of the 95 % Wilson score interval on its share of 👍 among its votes: the share it has at least,
given how few votes back it (1 of 1 is at least 21 %, 9 of 12 at least 47 %). Anything with fewer than
`MIN_VOTES` votes is not ranked at all ("not enough votes yet"). `/variations stats` ranks approach types
this way, and a run's parent names its leading variation by the same rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import sqrt
from typing import TypeVar

MIN_VOTES = 5  # fewer votes than this are "not enough votes yet": never ranked, never called the leader
Z_95 = 1.959963984540054  # the standard normal quantile for a two-sided 95 % interval
NOT_ENOUGH = "not enough votes yet"

T = TypeVar("T")


def wilson_interval(up: int, votes: int) -> tuple[float, float]:
    """The 95 % Wilson score interval on the share of 👍 among `votes`, as (low, high) in [0, 1];
    (0, 1) without votes."""
    if votes <= 0:
        return 0.0, 1.0
    share = up / votes
    z2 = Z_95 * Z_95
    denominator = 1 + z2 / votes
    centre = (share + z2 / (2 * votes)) / denominator
    half = Z_95 * sqrt(share * (1 - share) / votes + z2 / (4 * votes * votes)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def wilson_lower(up: int, votes: int) -> float:
    """The score things rank by: the lower bound of the 95 % Wilson interval on the share of 👍."""
    return wilson_interval(up, votes)[0]


@dataclass(frozen=True)
class Ranked:
    """One thing's votes (an approach type, a variation) and what they say."""

    up: int
    down: int

    @property
    def votes(self) -> int:
        return self.up + self.down

    @property
    def enough(self) -> bool:
        """Whether it has the `MIN_VOTES` it takes to be ranked."""
        return self.votes >= MIN_VOTES

    @property
    def share(self) -> float:
        """The share of 👍 among its votes (0 without votes)."""
        return self.up / self.votes if self.votes else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.up, self.votes)

    @property
    def score(self) -> float:
        return wilson_lower(self.up, self.votes)

    @property
    def order(self) -> tuple[bool, float, int]:
        """A sort key, best first: ranked ones by score (more votes first on a tie), then the others by
        their number of votes."""
        return (not self.enough, -self.score if self.enough else 0.0, -self.votes)

    def describe(self) -> str:
        """`72% 👍 (55-85%), 40 votes`, or `not enough votes yet (3 of 5 votes)`."""
        if not self.enough:
            return f"{NOT_ENOUGH} ({self.votes} of {MIN_VOTES} votes)"
        low, high = self.interval
        return f"{self.share:.0%} 👍 ({low * 100:.0f}-{high * 100:.0f}%), {self.votes:,} votes"


def leaders(items: Sequence[T], votes: Callable[[T], Ranked]) -> list[T]:
    """The items that lead: those with enough votes and the best score (several on an exact tie, that is
    the same 👍 and 👎); none while nothing has enough votes."""
    ranked = [(item, r) for item in items if (r := votes(item)).enough]
    if not ranked:
        return []
    best = min(r.order for _, r in ranked)
    return [item for item, r in ranked if r.order == best]
