"""The team's data through sqlite-utils: runs, variations, the click log, current votes and the scoreboard's
running totals, each change one transaction (see bot/store/connection.py).

A crash loses nothing already written. `feedback` is append-only: every click is a row, never updated or
deleted. `votes` holds each user's current vote per variation, derived from those clicks. `type_totals` and
`type_firsts` hold each channel's scoreboard sums (see bot/store/stats.py), kept equal to the rows in the same
transactions that change them, so `/variations stats` reads a few rows, not every vote (rows changed any
other way flag them stale, through triggers, and the next scoreboard counts again). Every run and variation
records the process writing it (`owner`, see bot/store/processes.py).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from bot.store.catalogue import Types, canonical_at_insert
from bot.store.connection import Connection, StoreError, explain, new_id, now
from bot.store.migrations import migrate
from bot.store.processes import Processes
from bot.store.rows import MissingRow, RunRow, RunStatus, Tally, VariationRow, VariationStatus, VotingClosed
from bot.store.scoreboard import Scoreboard, rescored
from bot.store.tickets import Tickets

__all__ = ["Store", "StoreError", "Vote"]

VOTE_VALUES = ("up", "down")
WORKING_RUN = tuple(status for status in RunStatus if status.working)
WORKING_VARIATION = (VariationStatus.WRITING,)
_TALLY = "select value, count(*) from votes where variation_id = ? group by value"
EVENT_MEMORY = timedelta(hours=1)
"""How long an event id is remembered: Slack re-sends a missed event three times, the last about five
minutes after the first."""


@dataclass(frozen=True)
class Vote:
    """What one click did: the user's vote after it (None when the click withdrew it), and the counts."""

    value: str | None
    tally: Tally


class Store:
    def __init__(self, path: str, *, owner: str | None = None) -> None:
        """Open (creating if need be) the database at `path`, as the process `owner` (see Processes).
        Raises StoreError when the file cannot be used."""
        self.path = path
        self._connection = Connection(path, migrate)
        self.processes = Processes(self._connection, owner)
        self.types = Types(self._connection)  # the workspace's approach types: listed, merged, split
        self.scoreboard = Scoreboard(self._connection)  # the totals: rebuilt, or recounted in the background
        self.owner = self.processes.owner
        self.tickets = Tickets(self._connection, self.processes)  # the jobs admitted, by every process
        try:
            self.processes.beat()  # also proves, at start, that the file takes writes
        except sqlite3.Error as error:
            self._connection.close()
            raise StoreError(explain(path, error)) from error

    @property
    def db(self) -> Database:
        """The sqlite-utils database on the shared connection, for tests reading once the app is idle. It takes
        no lock: while another process writes the file, a read through it that overlaps one of this store's
        write transactions makes that write fail at once (its snapshot is stale); read with `query` then."""
        return self._connection.db

    def close(self) -> None:
        self._connection.close()

    def reader(self) -> AbstractContextManager[sqlite3.Connection]:
        """A read-only snapshot of its own, for long reads (see Connection.reader)."""
        return self._connection.reader()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a short read-only query (see Connection.query)."""
        return self._connection.query(sql, params)

    # runs

    def create_run(
        self,
        *,
        team_id: str,
        channel_id: str,
        user_id: str,
        task: str,
        context: Mapping[str, str],
        orchestrator_model: str,
        worker_model: str,
        thread_ts: str | None = None,
        blind: bool = False,
    ) -> int:
        """A run being planned, by this process. `thread_ts`: the thread its parent message will be a reply
        in (a run asked for by a mention), else None (the parent starts its own thread); `blind`: its
        approaches are labelled A, B, C… until voting closes."""
        with self._connection.write() as db:
            table = db.table("runs").insert(
                {
                    "team_id": team_id,
                    "channel_id": channel_id,
                    "user_id": user_id,
                    "task": task,
                    "context": json.dumps(dict(context), ensure_ascii=False),
                    "status": RunStatus.PLANNING,
                    "orchestrator_model": orchestrator_model,
                    "worker_model": worker_model,
                    "created_at": now(),
                    "owner": self.owner,
                    "thread_ts": thread_ts,
                    "blind": int(blind),
                }
            )
            return new_id(table)

    def update_run(self, run_id: int, **fields: Any) -> None:
        """Set these columns. Setting a working status (planning, running) makes this process the run's
        owner, unless `owner` is given. MissingRow when the run is gone (purged): ids are never reused, so
        its writer learns it here and stops."""
        if fields.get("status") in WORKING_RUN:
            fields.setdefault("owner", self.owner)
        with self._connection.write() as db:
            _must_have_run(db, run_id)
            if {"team_id", "channel_id", "blind", "voting_closed_at"} & fields.keys():  # what the totals count
                with rescored(db, run_id):
                    db.table("runs").update(run_id, fields)
            else:
                db.table("runs").update(run_id, fields)

    def add_run_tokens(self, run_id: int, input_tokens: int, output_tokens: int, cost_usd: float | None) -> None:
        """Count a follow-up call (synthesis, new version) in its run's tokens and cost (which stays
        unknown, NULL, once any of its calls' is)."""
        with self._connection.write() as db:
            changed = db.execute(
                "update runs set input_tokens = coalesce(input_tokens, 0) + ?,"
                " output_tokens = coalesce(output_tokens, 0) + ?, cost_usd = cost_usd + ? where id = ?",
                [input_tokens, output_tokens, cost_usd, run_id],
            ).rowcount
            if not changed:
                raise MissingRow(f"no run {run_id}")

    def run(self, run_id: int) -> RunRow:
        """The run; MissingRow when there is none (callers that may meet a deleted one use `find_run`)."""
        found = self.find_run(run_id)
        if found is None:
            raise MissingRow(f"no run {run_id}")
        return found

    def find_run(self, run_id: int) -> RunRow | None:
        row = self._connection.get("runs", run_id)
        return RunRow.of(row) if row is not None else None

    def run_in_thread(self, team_id: str, channel_id: str, thread_ts: str) -> RunRow | None:
        """The run whose thread this is: its parent is the thread's root, or (a run a mention asked for) a
        reply in it. The latest, should there be several."""
        found = self._connection.query(
            "select id from runs where channel_id = ? and team_id = ? and (message_ts = ? or thread_ts = ?)"
            " order by id desc limit 1",
            [channel_id, team_id, thread_ts, thread_ts],
        )
        return self.find_run(found[0][0]) if found else None

    def stop_requests(self) -> list[tuple[int, str]]:
        """(run, user) for runs this process is writing that someone asked to stop through another process
        (their `stopped_by` is set while they are still being written)."""
        rows = self._connection.query(
            "select id, stopped_by from runs where owner = ? and stopped_by is not null and status in (?, ?)",
            [self.owner, *WORKING_RUN],
        )
        return [(run_id, str(user)) for run_id, user in rows]

    def close_voting(self, run_id: int) -> bool:
        """Close a run's voting; True for the one caller (of every process sharing the file) that closed
        it, False when it was closed already."""
        with self._connection.write() as db, rescored(db, run_id):  # a blind run's votes now count by name
            cursor = db.execute(
                "update runs set voting_closed_at = ? where id = ? and voting_closed_at is null", [now(), run_id]
            )
            return cursor.rowcount == 1

    def voting_due(self, finished_before: str) -> list[int]:
        """Finished runs, finished before this moment, whose voting is still open (for VARIATIONS_VOTING_HOURS)."""
        rows = self._connection.query(
            "select id from runs where voting_closed_at is null and finished_at < ? and status in (?, ?, ?)",
            [finished_before, RunStatus.DONE, RunStatus.PARTIAL, RunStatus.STOPPED],
        )
        return [run_id for (run_id,) in rows]

    # variations

    def add_variation(
        self,
        run_id: int,
        position: int | None,
        type: str,
        description: str,
        *,
        regenerated_from: int | None = None,
        instruction: str | None = None,
        written_type: str | None = None,
    ) -> int:
        """A variation being written, by this process. `position=None` appends it after the run's others
        (a synthesis or a regenerated version), atomically, so two added at once never collide.
        `written_type`: the name the model wrote when `type` is the catalogue's for it (a new version keeps
        the one of the variation it revises)."""
        with self._connection.write() as db, rescored(db, run_id):
            _must_have_run(db, run_id)  # a purged run gets no new rows
            if written_type is None and regenerated_from is not None:
                found = db.execute("select written_type from variations where id = ?", [regenerated_from]).fetchone()
                written_type = found[0] if found else None
            written_type = written_type or type
            type = canonical_at_insert(db, run_id, type, written_type)
            if position is None:
                (last,) = db.execute("select max(position) from variations where run_id = ?", [run_id]).fetchone()
                position = -1 if last is None else last
                position += 1
            table = db.table("variations").insert(
                {
                    "run_id": run_id,
                    "position": position,
                    "type": type,
                    "description": description,
                    "status": VariationStatus.WRITING,
                    "created_at": now(),
                    "regenerated_from": regenerated_from,
                    "instruction": instruction,
                    "owner": self.owner,
                    "written_type": written_type if written_type != type else None,  # NULL: as written
                }
            )
            return new_id(table)

    def update_variation(self, variation_id: int, **fields: Any) -> None:
        """Set these columns. Setting status `writing` (a retry in place) makes this process the variation's
        owner, unless `owner` is given."""
        if fields.get("status") in WORKING_VARIATION:
            fields.setdefault("owner", self.owner)
        with self._connection.write() as db:
            found = db.execute("select run_id from variations where id = ?", [variation_id]).fetchone()
            if found is None:  # purged: ids are never reused, so no other run's row is touched
                raise MissingRow(f"no variation {variation_id}")
            if {"status", "type"} & fields.keys():  # what the scoreboard counts
                with rescored(db, found[0]):
                    db.table("variations").update(variation_id, fields)
            else:
                db.table("variations").update(variation_id, fields)

    def variation(self, variation_id: int) -> VariationRow:
        """The variation; MissingRow when there is none (see `find_variation`)."""
        found = self.find_variation(variation_id)
        if found is None:
            raise MissingRow(f"no variation {variation_id}")
        return found

    def find_variation(self, variation_id: int) -> VariationRow | None:
        row = self._connection.get("variations", variation_id)
        return VariationRow.of(row) if row is not None else None

    def variations(self, run_id: int) -> list[VariationRow]:
        """A run's variations in thread order."""
        rows = self._connection.rows_where("variations", "run_id = ?", [run_id], order_by="position")
        return [VariationRow.of(row) for row in rows]

    # votes

    def record_click(self, variation_id: int, *, team_id: str, user_id: str, value: str) -> Vote:
        """Log the click and apply it: a new vote, a switch, or (same button again) a withdrawal.

        Log row, vote change, the scoreboard's totals and the counts read back are one transaction, so
        concurrent clicks can neither lose a row nor see a half-applied vote. A click once the run's voting
        has closed raises VotingClosed and is neither applied nor logged: the log is of the votes cast.
        """
        if value not in VOTE_VALUES:
            raise ValueError(f"unknown vote value {value!r}")
        with self._connection.write() as db:
            found = db.execute(
                "select run_id, voting_closed_at from variations join runs on runs.id = run_id where variations.id = ?",
                [variation_id],
            ).fetchone()
            if found is None:
                raise MissingRow(f"no variation {variation_id}")
            run_id, closed_at = found
            if closed_at is not None:
                raise VotingClosed(f"voting on run {run_id} closed at {closed_at}")
            at = now()
            with rescored(db, run_id):
                db.table("feedback").insert(
                    {
                        "variation_id": variation_id,
                        "run_id": run_id,
                        "team_id": team_id,
                        "user_id": user_id,
                        "value": value,
                        "created_at": at,
                    }
                )
                current = db.execute(
                    "select value from votes where variation_id = ? and user_id = ?", [variation_id, user_id]
                ).fetchone()
                if current is not None and current[0] == value:
                    db.table("votes").delete((variation_id, user_id))
                    result = None
                else:
                    db.table("votes").upsert(
                        {
                            "variation_id": variation_id,
                            "user_id": user_id,
                            "run_id": run_id,
                            "value": value,
                            "updated_at": at,
                        },
                        pk=("variation_id", "user_id"),
                    )
                    result = value
            return Vote(result, _tally(db.execute(_TALLY, [variation_id]).fetchall()))

    def tallies(self, run_id: int) -> dict[int, Tally]:
        """Current counts of every variation of a run that has votes, by variation id."""
        rows = self._connection.query(
            "select variation_id, sum(value = 'up'), sum(value = 'down') from votes where run_id = ?"
            " group by variation_id",
            [run_id],
        )
        return {variation_id: Tally(up, down) for variation_id, up, down in rows}

    def tally(self, variation_id: int) -> Tally:
        return _tally(self._connection.query(_TALLY, [variation_id]))

    # events

    def first_sighting(self, event_id: str) -> bool:
        """Whether this is the first time any process sharing the database takes this event (a re-sent one
        is not); ids older than EVENT_MEMORY are forgotten on the way."""
        at = datetime.now(UTC)
        seen, forget = (moment.isoformat(timespec="milliseconds") for moment in (at, at - EVENT_MEMORY))
        with self._connection.write() as db:
            cursor = db.execute("insert or ignore into seen_events (event_id, seen_at) values (?, ?)", [event_id, seen])
            first = cursor.rowcount == 1
            db.execute("delete from seen_events where seen_at < ?", [forget])
        return first


def _must_have_run(db: Database, run_id: int) -> None:
    if db.execute("select 1 from runs where id = ?", [run_id]).fetchone() is None:
        raise MissingRow(f"no run {run_id}")


def _tally(counts: Sequence[tuple[Any, ...]]) -> Tally:
    """A Tally from the rows of _TALLY."""
    by_value = dict(counts)
    return Tally(up=by_value.get("up", 0), down=by_value.get("down", 0))
