"""The one ranking rule (a run's leader, its verdict, what a synthesis combines, the types in stats): the
probability that something is the best, from its votes. Pure arithmetic, no Slack and no database.

Each thing's share of 👍 is unknown; its votes make some shares likelier than others. With no vote every
share is equally likely (a uniform prior), so after `up` 👍 and `down` 👎 the share follows a Beta(up + 1,
down + 1) distribution. The chance that one thing is the best is the chance that its share beats every
other's: the integral of its density times the others' distribution functions, computed on a fixed grid
(deterministic: the same votes always give the same figure). Things nobody voted on are one unknown rival
together, so three untouched approaches do not outweigh the one people liked, and a thing voted on alone is
measured against such an untried rival, so it still has something to beat.

It works from the first votes: 3 👍 against 2 👎 makes the first 79% likely the best (97% without an
unvoted rival), 1 👍 against 1 👍 leaves each at most 50%. A winner is named when its chance passes
`WINNER_CHANCE`; otherwise it is too close to call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import exp, log
from typing import TypeVar

WINNER_CHANCE = 0.75  # more than this likely the best: the leader, the winner; else too close to call
TOO_CLOSE = "too close to call"
GRID = 2000  # points the integral is taken on: a share's posterior is well resolved up to thousands of votes

T = TypeVar("T")


@dataclass(frozen=True)
class Ranked:
    """One thing's votes (an approach type, a variation) and its chance of being the best among those it
    was ranked with (`rank` sets it)."""

    up: int
    down: int
    chance: float = 0.0

    @property
    def votes(self) -> int:
        return self.up + self.down

    @property
    def winner(self) -> bool:
        """Likely enough the best to be named the leader or the winner."""
        return round(self.chance, 6) > WINNER_CHANCE

    def describe(self) -> str:
        """`3 👍 0 👎, 93% likely the best`, or `no votes yet`."""
        if not self.votes:
            return "no votes yet"
        return f"{self.up:,} 👍 {self.down:,} 👎, {self.chance:.0%} likely the best"


def _grid_posterior(up: int, down: int) -> tuple[list[float], list[float]]:
    """The Beta(up + 1, down + 1) posterior on the grid's midpoints: its weights (summing to 1) and its
    distribution function at each point."""
    a, b = up + 1, down + 1
    points = [(k + 0.5) / GRID for k in range(GRID)]
    logs = [(a - 1) * log(x) + (b - 1) * log(1 - x) for x in points]
    top = max(logs)
    weights = [exp(v - top) for v in logs]
    total = sum(weights)
    weights = [w / total for w in weights]
    below, cdf = 0.0, []
    for w in weights:
        cdf.append(below + w / 2)
        below += w
    return weights, cdf


def chances(votes: Sequence[tuple[int, int]]) -> list[float]:
    """Each (👍, 👎)'s chance of having the best share of 👍. Those without votes are one rival together,
    whose chance they share equally; the only one with votes, with nothing else, is measured against an
    untried rival (so one 👍 alone is not a sure thing)."""
    if not votes:
        return []
    voted = [i for i, (up, down) in enumerate(votes) if up + down]
    unvoted = [i for i, (up, down) in enumerate(votes) if not up + down]
    untried = bool(unvoted) or len(voted) == 1  # alone, a thing is measured against an untried one
    rivals = [votes[i] for i in voted] + ([(0, 0)] if untried else [])
    if len(rivals) == 1:
        found = [1.0]
    else:
        posteriors = {pair: _grid_posterior(*pair) for pair in set(rivals)}  # equal votes, equal figures
        weights = [posteriors[pair][0] for pair in rivals]
        cdfs = [posteriors[pair][1] for pair in rivals]
        found = [0.0] * len(rivals)
        for k in range(GRID):  # the others' product by prefix and suffix products: linear in the rivals
            at = [cdf[k] for cdf in cdfs]
            suffix = [1.0] * (len(at) + 1)
            for i in range(len(at) - 1, -1, -1):
                suffix[i] = suffix[i + 1] * at[i]
            prefix = 1.0
            for i, value in enumerate(at):
                found[i] += weights[i][k] * prefix * suffix[i + 1]
                prefix *= value
        norm = sum(found) or 1.0
        found = [f / norm for f in found]
    result = [0.0] * len(votes)
    for i, chance in zip(voted, found, strict=False):
        result[i] = chance
    for i in unvoted:
        result[i] = found[-1] / len(unvoted)
    return result


def rank(items: Sequence[T], votes: Callable[[T], tuple[int, int]]) -> list[tuple[T, Ranked]]:
    """The items with their votes and chance of being the best, best first (on a tie, more votes first,
    then the order given)."""
    counts = [votes(item) for item in items]
    ranked = [Ranked(up, down, chance) for (up, down), chance in zip(counts, chances(counts), strict=True)]
    order = sorted(range(len(items)), key=lambda i: (-round(ranked[i].chance, 9), -ranked[i].votes, i))
    return [(items[i], ranked[i]) for i in order]


def winner(ranked: Sequence[tuple[T, Ranked]]) -> tuple[T, Ranked] | None:
    """The first of a `rank`ing when it is likely enough the best (`WINNER_CHANCE`), else None."""
    return ranked[0] if ranked and ranked[0][1].winner else None
