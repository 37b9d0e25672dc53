"""Team memory: how a team voted on the approach types of its earlier runs (a `TeamRecord`, plain data on
the `Request`), within a budget, so the orchestrator's prompt reuses the names the team knows and favours
what it preferred.

A type's weight is people, not clicks: each person counts once per type (👍 when their own 👍 on its
variations outnumber their 👎, 👎 when fewer), and a person's votes on runs they started themselves do not
count. So one person who starts runs and votes on them cannot put a line in anyone's prompt; it takes
someone else's vote. Each canonical type is listed once (the store keeps `variations.type` canonical, see
bot/store/catalogue.py); a channel with enough voters of its own puts its favourites first.

Nothing in the engine reads a database. `read_record` is the one reader of the record, shared by the bot and
the terminal demo's `--db` so both see the same; it takes a connection and never writes."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from xml.sax.saxutils import escape

from orchestrator.events import FOLLOW_UP, SYNTHESIS, TeamRecord, TypeVotes
from orchestrator.types import clean_type, normalize_type

MAX_RECORD_LINES = 12
"""Types in the prompt: the ones most people voted on, so the record stays compact."""
MAX_RECORD_CHARS = 1200
"""Characters of those lines together (about 300 tokens), however long the type names are."""
MIN_CHANNEL_VOTES = 10
"""Votes (one per person and type) a channel needs before its favourites lead the record: fewer say little."""
_NOT_APPROACHES = (SYNTHESIS, FOLLOW_UP)  # voted on, but never a type the orchestrator would propose

# Each person's 👍 and 👎 per type and channel, on variations of runs they did not start; an open blind run's
# votes count only once its voting has closed (until then they would tell which approach a letter is).
_VOTERS = """
    select v.type, r.channel_id, o.user_id, sum(o.value = 'up'), sum(o.value = 'down')
    from votes o join variations v on v.id = o.variation_id join runs r on r.id = v.run_id
    where o.user_id != r.user_id and v.status != 'failed' and v.type not in ({excluded}) {scope}
        and not (coalesce(r.blind, 0) = 1 and r.voting_closed_at is null)
    group by v.type, r.channel_id, o.user_id
"""


def record_line(row: TypeVotes) -> str:
    """One type as the prompt shows it; the name is the model's own earlier text, so it is cleaned of control
    and bidi characters and escaped."""
    name = escape(" ".join(clean_type(row.type).split()))
    return f'<approach_type up="{row.up}" down="{row.down}">{name}</approach_type>'


def fit(record: TeamRecord, max_lines: int = MAX_RECORD_LINES, max_chars: int = MAX_RECORD_CHARS) -> TeamRecord:
    """The record within the budget: its types with votes, in its order, until `max_lines` lines or
    `max_chars` characters."""
    chars = 0
    kept: list[TypeVotes] = []
    for row in record.types:
        if row.votes <= 0:
            continue
        cost = len(record_line(row)) + 1
        if len(kept) == max_lines or chars + cost > max_chars:
            break
        kept.append(row)
        chars += cost
    return TeamRecord(tuple(kept))


def read_record(conn: sqlite3.Connection, team_id: str | None, channel_id: str | None = None) -> TeamRecord:
    """The record of a workspace (every workspace in the file when `team_id` is None), fitted to the budget:
    the types most people voted on first, with those of `channel_id` ahead when it has MIN_CHANNEL_VOTES."""
    scope, params = ("and r.team_id = ?", [team_id]) if team_id else ("", [])
    sql = _VOTERS.format(excluded=", ".join("?" for _ in _NOT_APPROACHES), scope=scope)
    people: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))  # type -> person -> net
    here: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for kind, channel, user, up, down in conn.execute(sql, [*_NOT_APPROACHES, *params]):
        kind = normalize_type(kind)
        people[kind][user] += up - down
        if team_id and channel == channel_id:
            here[kind][user] += up - down
    rows = {kind: _voters(kind, nets) for kind, nets in people.items()}
    channel_rows = {kind: _voters(kind, nets) for kind, nets in here.items()}
    if sum(row.votes for row in channel_rows.values()) < MIN_CHANNEL_VOTES:
        channel_rows = {}

    def order(row: TypeVotes) -> tuple[int, int, str]:
        in_channel = channel_rows.get(row.type)
        return (-(in_channel.votes if in_channel else 0), -row.votes, row.type)

    return fit(TeamRecord(tuple(sorted(rows.values(), key=order))))


def _voters(kind: str, nets: dict[str, int]) -> TypeVotes:
    return TypeVotes(kind, sum(net > 0 for net in nets.values()), sum(net < 0 for net in nets.values()))
