"""The scoreboard's running totals: each channel's sums of what `/variations stats` shows (see
`bot.store.stats`), kept equal to the rows inside the same write transactions that change them, so a scoreboard
reads a few rows whatever the number of votes.

Every function here runs inside one of the store's write transactions (`Store._write`). Rows changed
some other way (an older version of the app, a hand edit) set a stale flag through triggers, and the totals
are counted again in the background (`store.scoreboard.refresh`, on each heartbeat), never in a request:

1. `start_recount`, a short write: the flag says RECOUNTING, and from then on each change the store makes
   records its run in `scoreboard_changed`.
2. `count_scopes`, on a read-only snapshot, taking no lock: the totals as of that snapshot (the slow part,
   seconds at 400k votes, while clicks go on).
3. `finish_recount`, a short write, with the snapshot still open: those totals, plus for each run changed
   since (current share minus its share in the snapshot). If rows were changed behind the store's back
   meanwhile (the flag is STALE again), nothing is written and the next heartbeat tries again.
"""

from __future__ import annotations

import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlite_utils import Database

from bot.store.connection import Connection
from bot.store.scoring import HIDDEN, Share, run_share

# One row per variation: what the scoreboard rules need to know of it (see bot.store.stats.run_share). An
# open blind run's variations are `hidden` (left out like failed ones): its votes count by name only once
# its voting has closed, so no scoreboard (stats, the Home tab) can tell which approach a letter is.
_VARIATION_VOTES = f"""
    select v.run_id, v.type, case when coalesce(r.blind, 0) and r.voting_closed_at is null then '{HIDDEN}'
        else v.status end,
        coalesce(sum(o.value = 'up'), 0), coalesce(sum(o.value = 'down'), 0)
    from variations v join runs r on r.id = v.run_id left join votes o on o.variation_id = v.id
"""

# The changes to rows that move the totals (a run is counted by its variations, not its insert).
_CHANGES = (
    ("votes", "insert"),
    ("votes", "update"),
    ("votes", "delete"),
    ("variations", "insert"),
    ("variations", "update of run_id, type, status"),
    ("variations", "delete"),
    ("runs", "update of team_id, channel_id, blind, voting_closed_at"),
    ("runs", "delete"),
)


def create_scoreboard(db: Database) -> bool:
    """The totals' tables and the triggers that flag them stale (runs, variations and votes must exist);
    True when they are new, and so must be counted from the rows."""
    new = not db.table("type_totals").exists()
    db.table("type_totals").create(
        {"team_id": str, "channel_id": str, "type": str, "variations": int, "up": int, "down": int, "voted_runs": int},
        pk=("team_id", "channel_id", "type"),
        if_not_exists=True,
    )
    db.table("type_firsts").create(
        {"team_id": str, "channel_id": str, "type": str, "shared_by": int, "wins": int},
        pk=("team_id", "channel_id", "type", "shared_by"),
        if_not_exists=True,
    )
    # Any change the totals depend on flags them stale; the store's own changes keep them right and put the
    # flag back (`keeping_count`), so only changes made some other way leave it set.
    db.execute("create table if not exists scoreboard_state (id integer primary key check (id = 1), stale int)")
    db.execute("insert or ignore into scoreboard_state (id, stale) values (1, 1)")
    db.execute("create table if not exists scoreboard_changed (run_id integer primary key)")  # during a recount
    for table, change in _CHANGES:
        name = f"{table}_{change.split()[0].lower()}_marks_scoreboard"
        db.execute(
            f"create trigger if not exists {name} after {change} on {table}"
            " begin update scoreboard_state set stale = 1; end"
        )
    return new


FRESH, STALE, RECOUNTING = 0, 1, 2  # scoreboard_state.stale

Scope = tuple[str, str]


def state(conn: sqlite3.Connection | Database) -> int:
    (stale,) = conn.execute("select stale from scoreboard_state").fetchone()
    return int(stale)


def is_stale(conn: sqlite3.Connection | Database) -> bool:
    """Whether the totals may differ from the rows (stale, or being recounted)."""
    return state(conn) != FRESH


def rebuild(db: Database, team_id: str | None = None) -> None:
    """Count the totals again from the rows, inside this write transaction: all of them, or (with `team_id`)
    one workspace's, after its approach types were merged or split (the flag is then left as it was)."""
    _write_totals(db, count_scopes(db.conn, team_id=team_id), team_id)
    if team_id is None:
        db.execute("update scoreboard_state set stale = ?", [FRESH])


def start_recount(db: Database) -> bool:
    """Step 1 (see above); False when the totals are fresh."""
    if state(db) == FRESH:
        return False
    db.execute("delete from scoreboard_changed")
    db.execute("update scoreboard_state set stale = ?", [RECOUNTING])
    return True


def count_scopes(conn: sqlite3.Connection, pause: float = 0.0, team_id: str | None = None) -> dict[Scope, Share]:
    """Step 2: every scope's totals (or one workspace's), from the rows `conn` reads. With `pause`, the
    counting sleeps that long after each BATCH rows or runs: beside the app's request threads it would
    otherwise hold the GIL for seconds, and each of a click's SQLite calls would wait for it
    (bench/stats_bench.py)."""
    where, params = ("where team_id = ?", [team_id]) if team_id is not None else ("", [])
    runs = conn.execute(f"select id, team_id, channel_id from runs {where}", params)
    scopes = {run_id: (team, channel) for run_id, team, channel in _paced(runs, pause)}
    by_run: dict[int, list[tuple[str, str, int, int]]] = defaultdict(list)
    of_team = "where v.run_id in (select id from runs where team_id = ?)" if team_id is not None else ""
    for run_id, kind, status, up, down in _paced(
        conn.execute(_VARIATION_VOTES + f" {of_team} group by v.id", params), pause
    ):
        by_run[run_id].append((kind, status, up, down))
    by_scope: dict[Scope, Share] = defaultdict(Share)
    for n, (run_id, rows) in enumerate(by_run.items()):
        if run_id in scopes:
            by_scope[scopes[run_id]].add(run_share(rows))
        if pause and n % BATCH == 0:
            time.sleep(pause)
    return by_scope


BATCH = 1000  # rows or runs counted between pauses


def _paced(cursor: sqlite3.Cursor, pause: float) -> Iterator[Any]:
    while rows := cursor.fetchmany(BATCH):
        yield from rows
        if pause:
            time.sleep(pause)  # lets the request threads have the GIL


def finish_recount(db: Database, snapshot: sqlite3.Connection, counted: dict[Scope, Share]) -> bool:
    """Step 3: write `counted` (read on `snapshot`, still open) with the runs changed since; False when rows
    were changed behind the store's back meanwhile (or another process finished first) and nothing was written."""
    if state(db) != RECOUNTING:
        return False
    _write_totals(db, counted)
    for (run_id,) in db.execute("select run_id from scoreboard_changed").fetchall():
        then_scope, then = _share(snapshot, run_id)
        if then_scope is not None:
            _add_share(db, then_scope, then, -1)
        now_scope, current = _share(db, run_id)
        if now_scope is not None:
            _add_share(db, now_scope, current)
    db.execute("delete from scoreboard_changed")
    db.execute("update scoreboard_state set stale = ?", [FRESH])
    return True


def _write_totals(db: Database, by_scope: dict[Scope, Share], team_id: str | None = None) -> None:
    where, params = ("where team_id = ?", [team_id]) if team_id is not None else ("", [])
    db.execute(f"delete from type_totals {where}", params)
    db.execute(f"delete from type_firsts {where}", params)
    for scope, share in by_scope.items():
        _add_share(db, scope, share)


@contextmanager
def keeping_count(db: Database) -> Iterator[None]:
    """Around the store's own changes, which keep the totals right: they set the stale flag through its
    triggers like any change, so it is put back as it was."""
    before = state(db)
    yield
    db.execute("update scoreboard_state set stale = ?", [before])


@contextmanager
def rescored(db: Database, run_id: int) -> Iterator[None]:
    """Keep the totals equal to the rows across a change to this run: the run's share before the change
    comes out, its share after goes in. During a recount the run is also noted as changed."""
    scope, before = _share(db, run_id)
    with keeping_count(db):
        yield
    if state(db) == RECOUNTING:
        db.execute("insert or ignore into scoreboard_changed (run_id) values (?)", [run_id])
    after_scope, after = _share(db, run_id)
    if scope == after_scope:
        after.add(before, -1)
    elif scope is not None:
        _add_share(db, scope, before, -1)
    if after_scope is not None:
        _add_share(db, after_scope, after)


def _share(db: Database | sqlite3.Connection, run_id: int) -> tuple[Scope | None, Share]:
    scope = db.execute("select team_id, channel_id from runs where id = ?", [run_id]).fetchone()
    rows = db.execute(_VARIATION_VOTES + " where v.run_id = ? group by v.id", [run_id]).fetchall()
    return ((scope[0], scope[1]) if scope else None), run_share(
        (kind, status, up, down) for _, kind, status, up, down in rows
    )


def _add_share(db: Database, scope: Scope, share: Share, sign: int = 1) -> None:
    for kind, (variations, up, down, voted_runs) in share.rows():
        db.execute(
            "insert into type_totals (team_id, channel_id, type, variations, up, down, voted_runs)"
            " values (?, ?, ?, ?, ?, ?, ?) on conflict do update set"
            " variations = variations + excluded.variations, up = up + excluded.up,"
            " down = down + excluded.down, voted_runs = voted_runs + excluded.voted_runs",
            [*scope, kind, sign * variations, sign * up, sign * down, sign * voted_runs],
        )
    for (kind, shared_by), wins in share.firsts.items():
        if wins:
            db.execute(
                "insert into type_firsts (team_id, channel_id, type, shared_by, wins) values (?, ?, ?, ?, ?)"
                " on conflict do update set wins = wins + excluded.wins",
                [*scope, kind, shared_by, sign * wins],
            )


RECOUNT_PAUSE = 0.002  # seconds the background recount sleeps every 1,000 rows, for the clicks beside it


class Scoreboard:
    """The store's part that counts the totals again (`store.scoreboard`)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def rebuild(self) -> None:
        """Recompute the totals from the rows: after rows were written behind the store's back (an import, a
        hand edit). Done by itself when a database first gets those tables."""
        with self._connection.write() as db:
            rebuild(db)

    def refresh(self) -> bool:
        """Recount the totals if rows they depend on were changed other than through a Store (an older
        version of the app still running, a hand edit); returns whether it did. The counting reads a snapshot
        of its own and the write lock is held only briefly before and after (see above), so clicks never wait
        for it; still, it takes seconds on a large database: the recovery thread calls it, never a request."""
        with self._connection.reader() as conn:
            if not is_stale(conn):
                return False
        if self._connection.path == ":memory:":  # no snapshot of its own: count in one transaction
            self.rebuild()
            return True
        with self._connection.write() as db:
            if not start_recount(db):  # another process has recounted meanwhile
                return False
        with self._connection.reader() as snapshot:
            counted = count_scopes(snapshot, pause=RECOUNT_PAUSE)
            with self._connection.write() as db:
                return finish_recount(db, snapshot, counted)
