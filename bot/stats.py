"""What the votes say: pure read-only queries over the store, for `/variations stats` and the App Home.

Definitions (the README's "Stats and the Home tab" says the same in fewer words):

- **Scope**: one channel (`team_id` + `channel_id`) or the whole workspace (`team_id`): the runs started
  there, and their variations.
- **Votes** are the current ones in `votes` (one per user per variation, `up` or `down`); a withdrawn vote
  no longer counts. A variation's **net** is its 👍 minus its 👎.
- **Failed variations** (status `failed`) are left out everywhere: they had nothing to vote on.
- **Types** are the approach names the orchestrator chose, ignoring case and extra spaces ("Technical"
  and "technical " are one type, shown as `technical`).
- **First place** of a run: among its variations with at least one vote, those with the highest net (even
  when that net is negative). A tie of k shares the place: each gets 1/k. A type's `firsts` is its
  (possibly fractional) number of first places; its `first_share` is `firsts` divided by the number of
  runs with votes in which the type appeared (had a variation that did not fail); 0 when there are none.
- **Ranking**: net votes, then first-place share, then the type's name.
- **Runs this week**: runs created in the last 7 days. **Tokens** are the runs' input plus output tokens
  (orchestrator and workers), this week and all time.

Reads go through `Store.query` (under the store's lock, as the connection is shared), and
nothing here writes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from bot.store import Store

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

    @property
    def votes(self) -> int:
        return self.up + self.down


@dataclass(frozen=True)
class Stats:
    """A scope's scoreboard: its types, best first, and how much it was used."""

    scope_label: str
    runs_this_week: int
    tokens_this_week: int
    tokens_all_time: int
    types: list[TypeStats]


@dataclass(frozen=True)
class RecentRun:
    """One of a user's runs, enough to list it and link to its thread."""

    id: int
    task: str
    created_at: str
    status: str
    channel_id: str
    message_ts: str | None


def normalize_type(name: str) -> str:
    return " ".join(name.split()).lower()


def stats(store: Store, team_id: str, channel_id: str | None = None, *, now: datetime | None = None) -> Stats:
    """The scoreboard of one channel (with `channel_id`) or of the whole workspace (without)."""
    scope = "r.team_id = ?" + (" and r.channel_id = ?" if channel_id is not None else "")
    params: list[str] = [team_id] if channel_id is None else [team_id, channel_id]
    week_ago = ((now or datetime.now(UTC)) - WEEK).isoformat(timespec="milliseconds")

    # julianday() reads any ISO 8601 form (with or without milliseconds or an offset), unlike a text compare.
    runs_this_week, tokens_this_week, tokens_all_time = store.query(
        f"""
        select
          coalesce(sum(julianday(r.created_at) >= julianday(?)), 0),
          coalesce(sum(case when julianday(r.created_at) >= julianday(?)
                       then coalesce(r.input_tokens, 0) + coalesce(r.output_tokens, 0) end), 0),
          coalesce(sum(coalesce(r.input_tokens, 0) + coalesce(r.output_tokens, 0)), 0)
        from runs r where {scope}
        """,
        [week_ago, week_ago, *params],
    )[0]

    rows = store.query(
        f"""
        select v.run_id, v.type,
          coalesce(sum(o.value = 'up'), 0) as up,
          coalesce(sum(o.value = 'down'), 0) as down
        from runs r
        join variations v on v.run_id = r.id
        left join votes o on o.variation_id = v.id
        where {scope} and v.status != 'failed' and v.type != 'synthesis'
        group by v.id
        """,
        params,
    )

    count: dict[str, int] = defaultdict(int)
    up: dict[str, int] = defaultdict(int)
    down: dict[str, int] = defaultdict(int)
    by_run: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
    for run_id, raw_type, ups, downs in rows:
        kind = normalize_type(raw_type)
        count[kind] += 1
        up[kind] += ups
        down[kind] += downs
        by_run[run_id].append((kind, ups, downs))

    firsts: dict[str, Fraction] = defaultdict(Fraction)
    voted_runs: dict[str, int] = defaultdict(int)
    for variations in by_run.values():
        voted = [(kind, ups - downs) for kind, ups, downs in variations if ups + downs]
        if not voted:
            continue
        top = max(net for _, net in voted)
        winners = [kind for kind, net in voted if net == top]
        for kind in winners:
            firsts[kind] += Fraction(1, len(winners))
        for kind in {kind for kind, _, _ in variations}:
            voted_runs[kind] += 1

    types = [
        TypeStats(
            type=kind,
            variations=count[kind],
            up=up[kind],
            down=down[kind],
            net=up[kind] - down[kind],
            firsts=float(firsts[kind]),
            first_share=float(firsts[kind] / voted_runs[kind]) if voted_runs[kind] else 0.0,
        )
        for kind in count
    ]
    types.sort(key=lambda t: (-t.net, -t.first_share, t.type))
    return Stats(
        scope_label=CHANNEL_LABEL if channel_id is not None else WORKSPACE_LABEL,
        runs_this_week=int(runs_this_week),
        tokens_this_week=int(tokens_this_week),
        tokens_all_time=int(tokens_all_time),
        types=types,
    )


def recent_runs(store: Store, team_id: str, user_id: str, limit: int = 5) -> list[RecentRun]:
    """The user's latest runs in this workspace, newest first."""
    rows = store.query(
        """
        select id, task, created_at, status, channel_id, message_ts from runs
        where team_id = ? and user_id = ?
        order by julianday(created_at) desc, id desc
        limit ?
        """,
        [team_id, user_id, limit],
    )
    return [RecentRun(*row) for row in rows]
