"""`variations-bot purge --team T…`: delete one workspace's data, when that workspace asks: the runs started
there and everything under them (variations, clicks, votes), its scoreboard totals and its installation
(the bot token kept when the app was installed through OAuth).

It is one transaction over the app's database and, attached to it, the installations file next to it
(bot/store/installations.py): all of it is deleted or none (a crash in the middle of the commit may leave one
of the two files done, since the app's database is in WAL mode; running purge again finishes it). The
scoreboard's totals are kept per workspace and channel, so the workspace's own rows go and every other
workspace's stay right. Other processes' writes wait for it, as for any write (see bot/store/connection.py).

It refuses while a live app process (one whose heartbeat is recent, see bot/store/processes.py) is writing one of
the workspace's runs, unless `force`: then that run's next write finds its rows gone and the run stops, its
thread saying its data was deleted. Ids are never reused (bot/store/autoincrement.py), so it touches no other row.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.store.connection import BUSY_SECONDS
from bot.store.export import TABLES, ExportError, check_team
from bot.store.installations import installations_path

_RUNS = "run_id in (select id from runs where team_id = ?)"
LIVE_SECONDS = 45.0
"""A process whose heartbeat is older than this is gone (the app's own `stale_after`)."""
_WRITING = """
    select count(*) from runs r where r.team_id = ? and (
        (r.status in ('planning', 'running') and r.owner in (select owner from processes where heartbeat_at >= ?))
        or exists (select 1 from variations v where v.run_id = r.id and v.status = 'writing'
                   and v.owner in (select owner from processes where heartbeat_at >= ?)))
"""
_NEEDED = (*TABLES, "type_totals", "type_firsts", "scoreboard_state")


class PurgeError(Exception):
    """The purge cannot run (no such database, not a Variations database); the message is one line."""


@dataclass(frozen=True)
class Purged:
    """How many rows of each kind were deleted."""

    runs: int
    variations: int
    clicks: int
    votes: int
    installations: int

    def __str__(self) -> str:
        counts = (
            (self.runs, "run"),
            (self.variations, "variation"),
            (self.clicks, "click"),
            (self.votes, "vote"),
            (self.installations, "installation"),
        )
        return ", ".join(f"{n:,} {word}{'' if n == 1 else 's'}" for n, word in counts)


def purge(db_path: str, team: str, *, force: bool = False) -> Purged:
    """Delete workspace `team`'s data from the database at `db_path` and its installations file; refused
    (PurgeError) while a live process writes one of its runs, unless `force`."""
    try:
        check_team(team)
    except ExportError as error:
        raise PurgeError(str(error)) from None
    with _open(db_path) as conn:
        installs = _attach_installations(conn, db_path)
        conn.execute("begin immediate")
        try:
            if not force:
                _refuse_if_writing(conn, team)
            (stale,) = conn.execute("select stale from scoreboard_state").fetchone()
            votes = conn.execute(f"delete from votes where {_RUNS}", [team]).rowcount
            clicks = conn.execute(f"delete from feedback where {_RUNS}", [team]).rowcount
            variations = conn.execute(f"delete from variations where {_RUNS}", [team]).rowcount
            runs = conn.execute("delete from runs where team_id = ?", [team]).rowcount
            for totals in ("type_totals", "type_firsts"):
                conn.execute(f"delete from {totals} where team_id = ?", [team])
            if conn.execute("select 1 from sqlite_master where name = 'type_merges'").fetchone():
                conn.execute("delete from type_merges where team_id = ?", [team])  # who merged which types
            # The deletes above flag the totals stale through their triggers; they are right, so the flag
            # goes back to what it was (as bot.store.scoreboard.keeping_count does for the store's own changes).
            # A recount under way (2) counted the purged rows: it must start again (1).
            conn.execute("update scoreboard_state set stale = ?", [min(stale, 1)])
            installations = 0
            if installs:
                found = conn.execute("delete from installs.slack_installations where team_id = ?", [team])
                installations = found.rowcount
                conn.execute("delete from installs.slack_bots where team_id = ?", [team])
            conn.execute("commit")
        except BaseException:
            conn.execute("rollback")
            raise
    return Purged(runs, variations, clicks, votes, installations)


def _refuse_if_writing(conn: sqlite3.Connection, team: str) -> None:
    cutoff = (datetime.now(UTC) - timedelta(seconds=LIVE_SECONDS)).isoformat(timespec="milliseconds")
    (writing,) = conn.execute(_WRITING, [team, cutoff, cutoff]).fetchone()
    if writing:
        raise PurgeError(
            f"{writing} run{'' if writing == 1 else 's'} of workspace {team} {'is' if writing == 1 else 'are'} being"
            " written by a running app process; purge again once they end, or with --force to stop them"
            " (their threads then say their data was deleted)"
        )


@contextmanager
def _open(db_path: str) -> Iterator[sqlite3.Connection]:
    path = Path(db_path)
    if not path.is_file():  # checked first: connecting would leave an empty database behind
        raise PurgeError(f"no database at {path} (set --db or VARIATIONS_DB)")
    try:
        with closing(sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None)) as conn:
            names = {row[0] for row in conn.execute("select name from sqlite_master where type = 'table'")}
            missing = [name for name in _NEEDED if name not in names]
            if missing:
                raise PurgeError(f"{path} is not a Variations database (no table {', '.join(missing)})")
            yield conn
    except sqlite3.Error as error:
        raise PurgeError(f"cannot purge {path}: {error}") from None


def _attach_installations(conn: sqlite3.Connection, db_path: str) -> bool:
    """Attach the installations file as `installs` when there is one with installations in it."""
    path = installations_path(db_path)
    if not os.path.isfile(path):  # never created: attaching would create it
        return False
    conn.execute("attach database ? as installs", [path])
    names = {row[0] for row in conn.execute("select name from installs.sqlite_master where type = 'table'")}
    return {"slack_installations", "slack_bots"} <= names
