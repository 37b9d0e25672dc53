"""SQLite through sqlite-utils: the schema, runs, variations, the click log and current votes.

One connection shared by every thread, guarded by a lock, in WAL mode; each write is one transaction,
so a crash loses nothing already written. `feedback` is append-only: every click is a row, never updated
or deleted. `votes` holds each user's current vote per variation, derived from those clicks.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

VOTE_VALUES = ("up", "down")


def now() -> str:
    """UTC time as ISO 8601, readable in Datasette and sortable as text."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Tally:
    up: int = 0
    down: int = 0

    @property
    def net(self) -> int:
        """What ranks variations: 👍 minus 👎."""
        return self.up - self.down


@dataclass(frozen=True)
class Vote:
    """What one click did: the user's vote after it (None when the click withdrew it), and the counts."""

    value: str | None
    tally: Tally


class Store:
    def __init__(self, path: str) -> None:
        if path != ":memory:" and not os.path.exists(path):
            # Votes and requests are the team's data: readable by the bot's user only.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self.path = path
        self._lock = threading.RLock()
        self.db = Database(sqlite3.connect(path, check_same_thread=False, timeout=30))
        if path != ":memory:":
            self.db.enable_wal()
            # With WAL, NORMAL still survives the process being killed (only a power cut can drop the
            # last commits) and spares every click an fsync while it holds the lock.
            self.db.execute("PRAGMA synchronous=NORMAL")
        self._create_schema()

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def _create_schema(self) -> None:
        with self._lock, self.db.atomic():
            self.db["runs"].create(
                {
                    "id": int,
                    "team_id": str,
                    "channel_id": str,
                    "user_id": str,
                    "task": str,
                    "context": str,
                    "status": str,
                    "analysis": str,
                    "orchestrator_model": str,
                    "worker_model": str,
                    "message_ts": str,
                    "created_at": str,
                    "finished_at": str,
                    "plan_seconds": float,
                    "seconds": float,
                    "input_tokens": int,
                    "output_tokens": int,
                    "error": str,
                },
                pk="id",
                not_null={"team_id", "channel_id", "user_id", "task", "status", "created_at"},
                if_not_exists=True,
            )
            self.db["variations"].create(
                {
                    "id": int,
                    "run_id": int,
                    "position": int,
                    "type": str,
                    "description": str,
                    "text": str,
                    "status": str,
                    "message_ts": str,
                    "model": str,
                    "created_at": str,
                    "finished_at": str,
                    "seconds": float,
                    "input_tokens": int,
                    "output_tokens": int,
                    "stop_reason": str,
                    "error": str,
                    "regenerated_from": int,
                    "instruction": str,
                },
                pk="id",
                foreign_keys=[("run_id", "runs", "id")],
                not_null={"run_id", "position", "type", "status", "created_at"},
                if_not_exists=True,
            )
            for column, kind in (("regenerated_from", int), ("instruction", str)):
                if column not in self.db["variations"].columns_dict:  # databases made before it
                    self.db["variations"].add_column(column, kind)
            self.db["variations"].create_index(["run_id", "position"], unique=True, if_not_exists=True)
            self.db["feedback"].create(
                {
                    "id": int,
                    "variation_id": int,
                    "run_id": int,
                    "team_id": str,
                    "user_id": str,
                    "value": str,
                    "created_at": str,
                },
                pk="id",
                foreign_keys=[("variation_id", "variations", "id"), ("run_id", "runs", "id")],
                not_null={"variation_id", "run_id", "user_id", "value", "created_at"},
                if_not_exists=True,
            )
            self.db["feedback"].create_index(["variation_id"], if_not_exists=True)
            self.db["votes"].create(
                {"variation_id": int, "user_id": str, "run_id": int, "value": str, "updated_at": str},
                pk=("variation_id", "user_id"),
                foreign_keys=[("variation_id", "variations", "id"), ("run_id", "runs", "id")],
                if_not_exists=True,
            )

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
        with self._lock, self.db.atomic():
            table = self.db["runs"].insert(
                {
                    "team_id": team_id,
                    "channel_id": channel_id,
                    "user_id": user_id,
                    "task": task,
                    "context": json.dumps(dict(context), ensure_ascii=False),
                    "status": "planning",
                    "orchestrator_model": orchestrator_model,
                    "worker_model": worker_model,
                    "created_at": now(),
                }
            )
            return int(table.last_pk)

    def update_run(self, run_id: int, **fields: Any) -> None:
        self._update("runs", run_id, fields)

    def add_run_tokens(self, run_id: int, input_tokens: int, output_tokens: int) -> None:
        """Count a follow-up call (synthesis, new version) in its run's token cost."""
        with self._lock, self.db.atomic():
            self.db.execute(
                "update runs set input_tokens = coalesce(input_tokens, 0) + ?,"
                " output_tokens = coalesce(output_tokens, 0) + ? where id = ?",
                [input_tokens, output_tokens, run_id],
            )

    def run(self, run_id: int) -> dict[str, Any] | None:
        return self._get("runs", run_id)

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
        """A variation being written. `position=None` appends it after the run's others (a synthesis or
        a regenerated version), atomically, so two added at once never collide."""
        with self._lock, self.db.atomic():
            if position is None:
                (last,) = self.db.execute("select max(position) from variations where run_id = ?", [run_id]).fetchone()
                position = -1 if last is None else last
                position += 1
            table = self.db["variations"].insert(
                {
                    "run_id": run_id,
                    "position": position,
                    "type": type,
                    "description": description,
                    "status": "writing",
                    "created_at": now(),
                    "regenerated_from": regenerated_from,
                    "instruction": instruction,
                }
            )
            return int(table.last_pk)

    def update_variation(self, variation_id: int, **fields: Any) -> None:
        self._update("variations", variation_id, fields)

    def variation(self, variation_id: int) -> dict[str, Any] | None:
        return self._get("variations", variation_id)

    def variations(self, run_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.db["variations"].rows_where("run_id = ?", [run_id], order_by="position"))

    # votes

    def record_click(self, variation_id: int, *, team_id: str, user_id: str, value: str) -> Vote:
        """Log the click and apply it: a new vote, a switch, or (same button again) a withdrawal.

        Log row, vote change and the counts read back are one transaction, so concurrent clicks
        can neither lose a row nor see a half-applied vote.
        """
        if value not in VOTE_VALUES:
            raise ValueError(f"unknown vote value {value!r}")
        with self._lock, self.db.atomic():
            variation = self._get("variations", variation_id)
            if variation is None:
                raise LookupError(f"no variation {variation_id}")
            run_id = variation["run_id"]
            at = now()
            self.db["feedback"].insert(
                {
                    "variation_id": variation_id,
                    "run_id": run_id,
                    "team_id": team_id,
                    "user_id": user_id,
                    "value": value,
                    "created_at": at,
                }
            )
            current = self.db.execute(
                "select value from votes where variation_id = ? and user_id = ?", [variation_id, user_id]
            ).fetchone()
            if current is not None and current[0] == value:
                self.db["votes"].delete((variation_id, user_id))
                result = None
            else:
                self.db["votes"].upsert(
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
        """Rows of a read-only query. Under the lock: the connection is shared, and a read must not see
        another thread's transaction half-way."""
        with self._lock:
            return self.db.execute(sql, list(params)).fetchall()

    # helpers

    def _update(self, table: str, pk: int, fields: Mapping[str, Any]) -> None:
        with self._lock, self.db.atomic():
            self.db[table].update(pk, dict(fields))

    def _get(self, table: str, pk: int) -> dict[str, Any] | None:
        with self._lock:
            row = self.db.execute(f"select * from [{table}] where id = ?", [pk])
            columns = [description[0] for description in row.description]
            found = row.fetchone()
            return dict(zip(columns, found, strict=True)) if found is not None else None
