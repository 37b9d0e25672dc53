"""Team memory: how a team voted on the approach types of its earlier runs (a `TeamRecord`, plain data on
the `Request`), within a budget, so the orchestrator's prompt reuses the names the team knows and favours
what it preferred.

Nothing in the engine reads a database. `read_record` is the one reader of the app's vote totals (the
scoreboard's `type_totals`), shared by the bot and the terminal demo's `--db` so both see the same record;
it takes a connection and never writes."""

from __future__ import annotations

import sqlite3
from xml.sax.saxutils import escape

from orchestrator.events import FOLLOW_UP, SYNTHESIS, TeamRecord, TypeVotes

MAX_RECORD_LINES = 12
"""Types in the prompt, channel and workspace together: the most-voted ones, so the record stays compact."""
MAX_RECORD_CHARS = 1200
"""Characters of those lines together (about 300 tokens), however long the type names are."""
MIN_CHANNEL_VOTES = 10
"""Votes a channel needs before its own record is shown next to the workspace's: fewer say little."""
_NOT_APPROACHES = (SYNTHESIS, FOLLOW_UP)  # voted on, but never a type the orchestrator would propose


def record_line(row: TypeVotes) -> str:
    """One type as the prompt shows it; the name is the model's own earlier text, so it is escaped."""
    return f'<approach_type up="{row.up}" down="{row.down}">{escape(row.type)}</approach_type>'


def fit(record: TeamRecord, max_lines: int = MAX_RECORD_LINES, max_chars: int = MAX_RECORD_CHARS) -> TeamRecord:
    """The record within the budget: the channel's types first (the closer taste), then the workspace's,
    most-voted first, until `max_lines` lines or `max_chars` characters."""
    lines, chars = 0, 0
    kept: list[tuple[TypeVotes, ...]] = []
    for rows in (record.channel, record.workspace):
        keep: list[TypeVotes] = []
        for row in sorted((r for r in rows if r.votes > 0), key=lambda r: (-r.votes, r.type)):
            cost = len(record_line(row)) + 1
            if lines == max_lines or chars + cost > max_chars:
                break
            keep.append(row)
            lines, chars = lines + 1, chars + cost
        kept.append(tuple(keep))
    channel, workspace = kept
    return TeamRecord(workspace=workspace, channel=channel)


def read_record(conn: sqlite3.Connection, team_id: str | None, channel_id: str | None = None) -> TeamRecord:
    """The record of a workspace (every workspace in the file when `team_id` is None) and of one of its
    channels, from the scoreboard's totals (which the app keeps current: see bot/store/scoreboard.py), fitted to
    the budget. A channel with fewer than MIN_CHANNEL_VOTES votes adds nothing of its own."""
    excluded = ", ".join("?" for _ in _NOT_APPROACHES)
    sql = (
        "select type, sum(up), sum(down) from type_totals where type not in (" + excluded + ") {scope}"
        " group by type having sum(up) + sum(down) > 0"
    )
    scope, params = ("and team_id = ?", [*_NOT_APPROACHES, team_id]) if team_id else ("", [*_NOT_APPROACHES])
    workspace = _rows(conn.execute(sql.format(scope=scope), params))
    channel: tuple[TypeVotes, ...] = ()
    if team_id and channel_id:
        channel = _rows(conn.execute(sql.format(scope=scope + " and channel_id = ?"), [*params, channel_id]))
        if sum(row.votes for row in channel) < MIN_CHANNEL_VOTES:
            channel = ()
    return fit(TeamRecord(workspace=workspace, channel=channel))


def _rows(cursor: sqlite3.Cursor) -> tuple[TypeVotes, ...]:
    return tuple(TypeVotes(kind, int(up), int(down)) for kind, up, down in cursor)
