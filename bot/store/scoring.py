"""One run's part of the scoreboard, by the rules of bot/store/stats.py: pure, so that the scoreboard (which
keeps the totals as the store writes) and stats (which read them) share it without importing each other."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from orchestrator.types import normalize_type


@dataclass
class Share:
    """Part of a scope's scoreboard: per type, its variations, 👍, 👎 and runs with votes; and its first
    places, counted by how many variations shared each. Shares add up: a scope's is the sum of its runs'."""

    totals: Counter[tuple[str, str]] = field(default_factory=Counter)  # (type, one of TOTALS) -> count
    firsts: Counter[tuple[str, int]] = field(default_factory=Counter)  # (type, shared by k) -> first places

    def add(self, other: Share, sign: int = 1) -> None:
        """Add `other` in (or, with sign=-1, take it out)."""
        for key, n in other.totals.items():
            self.totals[key] += sign * n
        for first, n in other.firsts.items():
            self.firsts[first] += sign * n

    def rows(self) -> Iterator[tuple[str, tuple[int, ...]]]:
        """(type, counts in TOTALS order) for each type with a count that is not zero."""
        kinds = sorted({kind for (kind, _), n in self.totals.items() if n})
        return ((kind, tuple(self.totals[kind, column] for column in TOTALS)) for kind in kinds)


TOTALS = ("variations", "up", "down", "voted_runs")
HIDDEN = "hidden"  # the status the scoreboard gives an open blind run's variations: left out, as failed ones


def run_share(variations: Iterable[tuple[str, str, int, int]]) -> Share:
    """One run's part of its scope's scoreboard, from its variations' (type, status, 👍, 👎), by the rules
    above."""
    counted = [
        (normalize_type(kind), up, down) for kind, status, up, down in variations
        if status not in ("failed", HIDDEN) and kind != "synthesis"
    ]  # fmt: skip
    share = Share()
    for kind, up, down in counted:
        share.totals[kind, "variations"] += 1
        share.totals[kind, "up"] += up
        share.totals[kind, "down"] += down
    voted = [(kind, up - down) for kind, up, down in counted if up + down]
    if voted:
        top = max(net for _, net in voted)
        winners = [kind for kind, net in voted if net == top]
        for kind in winners:
            share.firsts[kind, len(winners)] += 1
        for kind in {kind for kind, _, _ in counted}:
            share.totals[kind, "voted_runs"] += 1
    return share
