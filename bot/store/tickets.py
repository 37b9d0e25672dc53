"""Jobs admitted and not yet ended, as rows every process sharing the database sees, so the limits on work
in flight hold however many replicas run: a ticket is counted and taken in one write transaction (BEGIN
IMMEDIATE, so two processes admitting at once queue rather than both seeing room), and given back when its job
ends. A process that is gone (killed, its container lost) gives nothing back: its tickets are dropped as soon
as it is found gone (see `Processes.is_gone`), before any count.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from bot.store.connection import Connection, new_id, now
from bot.store.processes import Processes


class Full(Exception):
    """No ticket: `scope` ("user", "workspace", or "duplicate" for a job with that key already admitted) has
    `count` jobs in flight."""

    def __init__(self, scope: str, count: int) -> None:
        super().__init__(scope, count)
        self.scope = scope
        self.count = count


def create_tickets(db: Database) -> None:
    """The table (in the schema's transaction)."""
    db.table("tickets").create(
        {"id": int, "owner": str, "team_id": str, "user_id": str, "key": str, "admitted_at": str},
        pk="id",
        not_null={"owner", "team_id", "user_id", "admitted_at"},
        if_not_exists=True,
    )
    db.execute("create unique index if not exists tickets_key on tickets (key) where key is not null")
    db.execute("create index if not exists tickets_team_user on tickets (team_id, user_id)")


class Tickets:
    def __init__(self, connection: Connection, processes: Processes, stale_after: float = 45.0) -> None:
        self._connection = connection
        self._processes = processes
        self.stale_after = stale_after

    def take(self, team_id: str, user_id: str, *, key: str | None, per_user: int, per_workspace: int) -> int:
        """A ticket's id for one more job by this person, or Full."""
        with self._connection.write() as db:
            self._drop_gone(db)
            if key is not None and db.execute("select 1 from tickets where key = ?", [key]).fetchone():
                raise Full("duplicate", 1)
            (mine,) = db.execute(
                "select count(*) from tickets where team_id = ? and user_id = ?", [team_id, user_id]
            ).fetchone()
            if mine >= per_user:
                raise Full("user", mine)
            (theirs,) = db.execute("select count(*) from tickets where team_id = ?", [team_id]).fetchone()
            if theirs >= per_workspace:
                raise Full("workspace", theirs)
            table = db.table("tickets").insert(
                {
                    "owner": self._processes.owner,
                    "team_id": team_id,
                    "user_id": user_id,
                    "key": key,
                    "admitted_at": now(),
                }
            )
            return new_id(table)

    def give_back(self, ticket_id: int) -> None:
        with self._connection.write() as db:
            db.execute("delete from tickets where id = ?", [ticket_id])

    def _drop_gone(self, db: Database) -> None:
        """Delete the tickets of processes found gone: their jobs ended with them."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self.stale_after)
        owners = db.execute(
            "select distinct t.owner, p.host, p.pid, p.heartbeat_at from tickets t"
            " left join processes p on p.owner = t.owner"
        ).fetchall()
        for owner, host, pid, heartbeat_at in owners:
            if self._processes.is_gone(owner, host, pid, heartbeat_at, cutoff):
                db.execute("delete from tickets where owner = ?", [owner])
