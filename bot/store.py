"""SQLite through sqlite-utils: the schema, runs, variations, the click log, current votes, the scoreboard's
running totals, and which process is writing what.

One connection per process, shared by its threads under a lock, in WAL mode. Every write is one transaction
begun with BEGIN IMMEDIATE: it takes the database's write lock before its first read, so when another process
holds the lock it waits (up to the busy timeout) instead of failing, as a deferred transaction upgrading from
read to write does under WAL. A crash loses nothing already written. `feedback` is append-only: every click
is a row, never updated or deleted. `votes` holds each user's current vote per variation, derived from those
clicks. `type_totals` and `type_firsts` hold each channel's scoreboard sums (see bot/stats.py), kept equal to
the rows in the same transactions that change them, so `/variations stats` reads a few rows, not every vote
(rows changed any other way flag them stale, through triggers, and the next scoreboard counts again).
Long reads use a read-only connection of their own (`reader()`), so they neither wait for clicks nor hold
them up.

Every run and variation records the process writing it (`owner`); each process keeps a row in `processes`
with a heartbeat, so a process that starts can tell work left by one that is gone from work another live
process is still doing (`orphans()`).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlite_utils import Database
from sqlite_utils.db import Table

from bot.rows import MissingRow, RunRow, RunStatus, Tally, VariationRow, VariationStatus
from bot.schema import create_schema
from bot.scoreboard import is_stale, keeping_count, rebuild, rescored

VOTE_VALUES = ("up", "down")
WORKING_RUN = tuple(status for status in RunStatus if status.working)
WORKING_VARIATION = (VariationStatus.WRITING,)
BUSY_SECONDS = 30  # how long a write waits for another process's write lock before giving up


def now() -> str:
    """UTC time as ISO 8601, readable in Datasette and sortable as text."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class StoreError(Exception):
    """The database cannot be opened or written at start; the message is one line that says what to do."""


@dataclass(frozen=True)
class Vote:
    """What one click did: the user's vote after it (None when the click withdrew it), and the counts."""

    value: str | None
    tally: Tally


class Store:
    def __init__(self, path: str, *, owner: str | None = None) -> None:
        """Open (creating if need be) the database at `path`, as the process `owner` (by default a new id for
        this process start: host:pid:random). Raises StoreError when the file cannot be used."""
        self.path = path
        # `file:` URI of the same file, read-only; absolute, so a later chdir cannot point it elsewhere.
        self._read_only = f"file:{quote(os.path.abspath(path), safe='/:')}?mode=ro"
        self.host = socket.gethostname()
        self.owner = owner or f"{self.host}:{os.getpid()}:{secrets.token_hex(4)}"
        self.started_at = now()
        self._lock = threading.RLock()
        try:
            self._open()
        except (OSError, sqlite3.Error) as error:
            raise StoreError(_explain(path, error)) from error

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def _open(self) -> None:
        if self.path != ":memory:" and not os.path.exists(self.path):
            # Votes and requests are the team's data: readable by the bot's user only.
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        # isolation_level=None: no transaction is ever opened behind our back; `_write` opens each one.
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=BUSY_SECONDS, isolation_level=None)
        self.db = Database(conn)
        try:
            if self.path != ":memory:":
                self.db.enable_wal()
                # With WAL, NORMAL still survives the process being killed (only a power cut can drop the
                # last commits) and spares every click an fsync while it holds the lock.
                self.db.execute("PRAGMA synchronous=NORMAL")
            self._create_schema()
            self.beat()  # also proves, at start, that the file takes writes
        except BaseException:
            conn.close()
            raise

    @contextmanager
    def _write(self) -> Iterator[Database]:
        """One write transaction, holding the write lock from its start: concurrent writers (other threads
        or other processes) queue for up to BUSY_SECONDS instead of failing with 'database is locked'."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.conn.in_transaction:
                    self.db.execute("ROLLBACK")
                raise

    @contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection of its own, reading one snapshot, for long reads such as the scoreboard: it
        takes no lock, so clicks never wait behind it, and it cannot write."""
        if self.path == ":memory:":  # nothing else can open it: share the connection
            with self._lock:
                yield self.db.conn
            return
        conn = sqlite3.connect(self._read_only, uri=True, timeout=BUSY_SECONDS, isolation_level=None)
        try:
            conn.execute("BEGIN")  # deferred: the snapshot is taken at the first read and held to the end
            yield conn
        finally:
            conn.close()

    def _create_schema(self) -> None:
        with self._write() as db:
            create_schema(db)

    # processes

    def beat(self) -> None:
        """Say this process is alive: its row in `processes`, with the heartbeat now."""
        with self._write() as db:
            db.execute(
                "insert into processes (owner, host, pid, started_at, heartbeat_at) values (?, ?, ?, ?, ?)"
                " on conflict (owner) do update set heartbeat_at = excluded.heartbeat_at",
                [self.owner, self.host, os.getpid(), self.started_at, now()],
            )

    def retire(self) -> None:
        """Say this process has stopped cleanly: its runs are finished, nothing of it is left to recover."""
        with self._write() as db:
            db.execute("delete from processes where owner = ?", [self.owner])

    def check_writable(self) -> None:
        """A real committed write (the heartbeat): raises sqlite3.Error when the disk is full or the file has
        become read-only, which a read would not show."""
        self.beat()

    def orphans(
        self, stale_after: float, live_runs: Collection[int], live_variations: Collection[int]
    ) -> tuple[list[int], list[int]]:
        """The runs (planning, running) and variations (writing) being written by a process that is gone:
        none recorded (made before owners were), one without a row in `processes` (it retired, or never
        beat), one whose heartbeat is older than `stale_after` seconds, or one on this host whose pid is no
        longer running or is ours under another owner (an earlier life of this container). This process's
        own rows are orphans when they are not in `live_runs` / `live_variations` (their thread died)."""
        with self._lock:
            runs = self.db.execute(
                "select r.id, r.owner, p.host, p.pid, p.heartbeat_at from runs r"
                " left join processes p on p.owner = r.owner where r.status in ('planning', 'running')"
            ).fetchall()
            variations = self.db.execute(
                "select v.id, v.owner, p.host, p.pid, p.heartbeat_at from variations v"
                " left join processes p on p.owner = v.owner where v.status = 'writing'"
            ).fetchall()
        cutoff = datetime.now(UTC) - timedelta(seconds=stale_after)

        def orphaned(row: tuple[Any, ...], live: Collection[int]) -> bool:
            row_id, owner, host, pid, heartbeat_at = row
            if owner == self.owner:
                return row_id not in live
            if owner is None or host is None or datetime.fromisoformat(heartbeat_at) < cutoff:
                return True
            return host == self.host and (pid == os.getpid() or not _running(pid))

        return (
            [row[0] for row in runs if orphaned(row, live_runs)],
            [row[0] for row in variations if orphaned(row, live_variations)],
        )

    def mark_interrupted(
        self, run_ids: Collection[int], variation_ids: Collection[int], reason: str
    ) -> tuple[list[int], list[int]]:
        """Mark these runs and variations `interrupted`, those still being written, in one transaction, and
        return the ids changed: of two processes recovering at once, only one reports each row."""
        at = now()
        with self._write() as db:
            runs = [
                run_id
                for run_id in run_ids
                if db.execute(
                    "update runs set status = 'interrupted', error = ?, finished_at = ?"
                    " where id = ? and status in ('planning', 'running')",
                    [reason, at, run_id],
                ).rowcount
            ]
            with keeping_count(db):  # from writing to interrupted a variation still counts the same
                variations = [
                    variation_id
                    for variation_id in variation_ids
                    if db.execute(
                        "update variations set status = 'interrupted', error = ?, finished_at = ?"
                        " where id = ? and status = 'writing'",
                        [reason, at, variation_id],
                    ).rowcount
                ]
        return runs, variations

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
    ) -> int:
        with self._write() as db:
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
                }
            )
            return _new_id(table)

    def update_run(self, run_id: int, **fields: Any) -> None:
        """Set these columns. Setting a working status (planning, running) makes this process the run's
        owner, unless `owner` is given."""
        if fields.get("status") in WORKING_RUN:
            fields.setdefault("owner", self.owner)
        with self._write() as db:
            if {"team_id", "channel_id"} & fields.keys():
                with rescored(db, run_id):
                    db.table("runs").update(run_id, fields)
            else:
                db.table("runs").update(run_id, fields)

    def add_run_tokens(self, run_id: int, input_tokens: int, output_tokens: int) -> None:
        """Count a follow-up call (synthesis, new version) in its run's token cost."""
        with self._write() as db:
            db.execute(
                "update runs set input_tokens = coalesce(input_tokens, 0) + ?,"
                " output_tokens = coalesce(output_tokens, 0) + ? where id = ?",
                [input_tokens, output_tokens, run_id],
            )

    def run(self, run_id: int) -> RunRow:
        """The run; MissingRow when there is none (callers that may meet a deleted one use `find_run`)."""
        found = self.find_run(run_id)
        if found is None:
            raise MissingRow(f"no run {run_id}")
        return found

    def find_run(self, run_id: int) -> RunRow | None:
        row = self._get("runs", run_id)
        return RunRow.of(row) if row is not None else None

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
    ) -> int:
        """A variation being written, by this process. `position=None` appends it after the run's others
        (a synthesis or a regenerated version), atomically, so two added at once never collide."""
        with self._write() as db, rescored(db, run_id):
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
                }
            )
            return _new_id(table)

    def update_variation(self, variation_id: int, **fields: Any) -> None:
        """Set these columns. Setting status `writing` (a retry in place) makes this process the variation's
        owner, unless `owner` is given."""
        if fields.get("status") in WORKING_VARIATION:
            fields.setdefault("owner", self.owner)
        with self._write() as db:
            found = db.execute("select run_id from variations where id = ?", [variation_id]).fetchone()
            if found is not None and {"status", "type"} & fields.keys():  # what the scoreboard counts
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
        row = self._get("variations", variation_id)
        return VariationRow.of(row) if row is not None else None

    def variations(self, run_id: int) -> list[VariationRow]:
        """A run's variations in thread order."""
        with self._lock:
            rows = list(self.db.table("variations").rows_where("run_id = ?", [run_id], order_by="position"))
        return [VariationRow.of(row) for row in rows]

    # votes

    def record_click(self, variation_id: int, *, team_id: str, user_id: str, value: str) -> Vote:
        """Log the click and apply it: a new vote, a switch, or (same button again) a withdrawal.

        Log row, vote change, the scoreboard's totals and the counts read back are one transaction, so
        concurrent clicks can neither lose a row nor see a half-applied vote.
        """
        if value not in VOTE_VALUES:
            raise ValueError(f"unknown vote value {value!r}")
        with self._write() as db:
            found = db.execute("select run_id from variations where id = ?", [variation_id]).fetchone()
            if found is None:
                raise MissingRow(f"no variation {variation_id}")
            (run_id,) = found
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
            return Vote(result, self._tally(variation_id))

    def tallies(self, run_id: int) -> dict[int, Tally]:
        """Current counts of every variation of a run that has votes, by variation id."""
        with self._lock:
            rows = self.db.execute(
                "select variation_id, sum(value = 'up'), sum(value = 'down') from votes where run_id = ?"
                " group by variation_id",
                [run_id],
            ).fetchall()
        return {variation_id: Tally(up, down) for variation_id, up, down in rows}

    def tally(self, variation_id: int) -> Tally:
        with self._lock:
            return self._tally(variation_id)

    def _tally(self, variation_id: int) -> Tally:
        counts = dict(
            self.db.execute(
                "select value, count(*) from votes where variation_id = ? group by value", [variation_id]
            ).fetchall()
        )
        return Tally(up=counts.get("up", 0), down=counts.get("down", 0))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a short read-only query on the shared connection (under the lock, as it is shared). Long
        reads belong in `reader()`."""
        with self._lock:
            return self.db.execute(sql, list(params)).fetchall()

    # the scoreboard's totals

    def rebuild_scoreboard(self) -> None:
        """Recompute the totals from the rows: after rows were written behind the store's back (an import, a
        hand edit). Done by itself when a database first gets those tables."""
        with self._write() as db:
            rebuild(db)

    def refresh_scoreboard(self) -> bool:
        """Recount the totals if rows they depend on were changed other than through a Store (an older
        version of the app still running, a hand edit); returns whether it did. A flag read otherwise."""
        with self.reader() as conn:
            if not is_stale(conn):
                return False
        with self._write() as db:
            if is_stale(db.conn):  # another process may have recounted meanwhile
                rebuild(db)
        return True

    # helpers

    def _get(self, table: str, pk: int) -> dict[str, Any] | None:
        with self._lock:
            row = self.db.execute(f"select * from [{table}] where id = ?", [pk])
            columns = [description[0] for description in row.description]
            found = row.fetchone()
            return dict(zip(columns, found, strict=True)) if found is not None else None


def _new_id(table: Table) -> int:
    """The id SQLite gave the row just inserted."""
    if table.last_pk is None:
        raise sqlite3.DatabaseError(f"no id for the row inserted into {table.name}")
    return int(table.last_pk)


def _running(pid: int) -> bool:
    """Whether a process with this id runs on this host (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    return True


def _explain(path: str, error: OSError | sqlite3.Error) -> str:
    """One line for the operator: which file, what is wrong, what to do."""
    where = os.path.abspath(path) if path != ":memory:" else path
    if isinstance(error, OSError):
        return (
            f"cannot create the database {where}: {error.strerror}; make its directory exist and be writable "
            "by this user, or set VARIATIONS_DB to another path"
        )
    name = getattr(error, "sqlite_errorname", "")
    if name == "SQLITE_NOTADB":
        return f"{where} is not a SQLite database; move it away or set VARIATIONS_DB to another path"
    if name.startswith("SQLITE_READONLY"):
        return (
            f"the database {where} is read-only ({error}); make the file and its directory writable by this "
            "user, or set VARIATIONS_DB to another path"
        )
    if name.startswith("SQLITE_CANTOPEN"):
        return (
            f"cannot open the database {where} ({error}); the file and its directory must be readable and "
            "writable by this user (SQLite keeps -wal and -shm files next to it), or set VARIATIONS_DB"
        )
    if name == "SQLITE_FULL":
        return f"the disk holding the database {where} is full; free some space"
    if name == "SQLITE_BUSY":
        return f"the database {where} stayed locked by another process for {BUSY_SECONDS} s; try again"
    return f"cannot use the database {where}: {error}"
