"""What the votes say: pure read-only queries over the store, for `/variations stats` and the App Home.

Definitions (the README's "Stats and the Home tab" says the same in fewer words):

- **Scope**: one channel (`team_id` + `channel_id`) or the whole workspace (`team_id`): the runs started
  there, and their variations.
- **Votes** are the current ones in `votes` (one per user per variation, `up` or `down`); a withdrawn vote
  no longer counts. A variation's **net** is its 👍 minus its 👎.
- **Failed variations** (status `failed`) are left out everywhere: they had nothing to vote on.
- **Types** are the variations' canonical types in the workspace's catalogue (bot/store/catalogue.py): the
  names the orchestrator chose, with spellings that differ in case, spaces or punctuation as one, and merged
  types under the type they were merged into.
- **First place** of a run: among its variations with at least one vote, those with the highest net (even
  when that net is negative). A tie of k shares the place: each gets 1/k. A type's `firsts` is its
  (possibly fractional) number of first places; its `first_share` is `firsts` divided by the number of
  runs with votes in which the type appeared (had a variation that did not fail); 0 when there are none.
- **Ranking** (`bot.store.ranking`, the rule a run's leader and verdict go by): types by their chance of having
  the best share of 👍 among the scope's types, from their votes; ties by first-place share, then name.
- **Blind runs** count only once their voting has closed: while it is open their variations and votes
  are left out, as failed ones are (the scoreboard's totals, see `bot.store.scoreboard`).
- **Runs this week**: runs created in the last 7 days. **Tokens** are the runs' input plus output tokens
  (orchestrator and workers), this week and all time. **Cost** is the sum of the runs' `cost_usd`, priced
  when they ran (`bot.store.pricing`); runs without a cost (a model without a price, or run before costs were
  kept) are left out of it; None when no run in the scope has one.

The store keeps each channel's sums of these numbers up to date (`run_share`, in bot/store/scoring.py, is
one run's part of them), so a scoreboard reads a few rows whatever the number of votes, on a read-only connection of
its own: clicks never wait behind it. Nothing here writes, nor recounts: after rows were changed outside the
app the totals are recounted in the background within a heartbeat or so (bot/store/scoreboard.py), and until then
a scoreboard says it is being recounted (`recounting`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import TYPE_CHECKING

from bot.store.ranking import Ranked, rank
from bot.store.rows import RunStatus

if TYPE_CHECKING:
    from bot.store.store import Store

WEEK = timedelta(days=7)
CHANNEL_LABEL = "This channel"
WORKSPACE_LABEL = "This workspace"


@dataclass(frozen=True)
class TypeStats:
    """One approach type within a scope. `variations` counts those that did not fail."""

    type: str
    variations: int
    up: int
    down: int
    net: int
    firsts: float
    first_share: float
    chance: float = field(default=0.0, compare=False)  # of being the best of its scope's types (`bot.store.ranking`)

    @property
    def votes(self) -> int:
        return self.up + self.down

    @property
    def ranked(self) -> Ranked:
        return Ranked(self.up, self.down, self.chance)


@dataclass(frozen=True)
class Stats:
    """A scope's scoreboard: its types, best first, and how much it was used."""

    scope_label: str
    runs_this_week: int
    tokens_this_week: int
    tokens_all_time: int
    types: list[TypeStats]
    cost_this_week: float | None = None  # dollars
    cost_all_time: float | None = None
    recounting: bool = False  # the totals may be off: rows were changed outside the app, a recount is due


@dataclass(frozen=True)
class RecentRun:
    """One of a user's runs, enough to list it and link to its thread."""

    id: int
    task: str
    created_at: str
    status: RunStatus
    channel_id: str
    message_ts: str | None


def stats(store: Store, team_id: str, channel_id: str | None = None, *, now: datetime | None = None) -> Stats:
    """The scoreboard of one channel (with `channel_id`) or of the whole workspace (without)."""
    scope = "team_id = ?" + (" and channel_id = ?" if channel_id is not None else "")
    params: list[str] = [team_id] if channel_id is None else [team_id, channel_id]
    week_ago = (now or datetime.now(UTC)) - WEEK
    # julianday() reads any ISO 8601 form (with or without milliseconds or an offset), unlike a text compare;
    # the text compare with a day to spare (no offset is a day) only lets the index skip older runs.
    since = [(week_ago.astimezone(UTC) - timedelta(days=1)).date().isoformat(), week_ago.isoformat()]
    tokens = "coalesce(sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0)), 0), sum(cost_usd)"
    with store.reader() as db:  # never recounted here: see `store.scoreboard.refresh`
        (stale,) = db.execute("select stale from scoreboard_state").fetchone()  # see bot.store.scoreboard
        recounting = stale != 0
        runs_this_week, tokens_this_week, cost_this_week = db.execute(
            f"select count(*), {tokens} from runs"
            f" where {scope} and created_at >= ? and julianday(created_at) >= julianday(?)",
            [*params, *since],
        ).fetchone()
        tokens_all_time, cost_all_time = db.execute(f"select {tokens} from runs where {scope}", params).fetchone()
        totals = db.execute(
            f"select type, sum(variations), sum(up), sum(down), sum(voted_runs) from type_totals where {scope}"
            " group by type having sum(variations) > 0",
            params,
        ).fetchall()
        firsts: dict[str, Fraction] = defaultdict(Fraction)
        for kind, shared_by, wins in db.execute(
            f"select type, shared_by, sum(wins) from type_firsts where {scope} group by type, shared_by", params
        ):
            firsts[kind] += Fraction(wins, shared_by)

    types = [
        TypeStats(
            type=kind,
            variations=count,
            up=up,
            down=down,
            net=up - down,
            firsts=float(firsts[kind]),
            first_share=float(firsts[kind] / voted_runs) if voted_runs else 0.0,
        )
        for kind, count, up, down, voted_runs in totals
    ]
    return Stats(
        scope_label=CHANNEL_LABEL if channel_id is not None else WORKSPACE_LABEL,
        runs_this_week=runs_this_week,
        tokens_this_week=tokens_this_week,
        tokens_all_time=tokens_all_time,
        types=rank_types(types),
        cost_this_week=cost_this_week,
        cost_all_time=cost_all_time,
        recounting=recounting,
    )


def rank_types(types: Iterable[TypeStats]) -> list[TypeStats]:
    """The types best first by the ranking rule, each with its chance of being the best of them; ties by
    first-place share, then name."""
    ordered = sorted(types, key=lambda t: (-t.first_share, t.type))
    return [replace(t, chance=r.chance) for t, r in rank(ordered, lambda t: (t.up, t.down))]


def recent_runs(store: Store, team_id: str, user_id: str, limit: int = 5) -> list[RecentRun]:
    """The user's latest runs in this workspace, newest first."""
    with store.reader() as db:
        rows = db.execute(
            """
            select id, task, created_at, status, channel_id, message_ts from runs
            where team_id = ? and user_id = ?
            order by julianday(created_at) desc, id desc
            limit ?
            """,
            [team_id, user_id, limit],
        ).fetchall()
    return [
        RecentRun(run_id, task, created, RunStatus(status), channel, ts)
        for run_id, task, created, status, channel, ts in rows
    ]
