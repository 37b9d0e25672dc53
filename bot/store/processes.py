"""Which process is writing what: each app process sharing the database keeps a row in `processes` with a
heartbeat, and every run and variation records its writer (`owner`), so a process that starts can tell work
left by one that is gone from work another live process is still doing.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.store.connection import Connection, now
from bot.store.scoreboard import keeping_count

PROBE_BYTES = 4096  # hex-encoded, twice a default page: the probe row needs new pages, in the table and its index


class Processes:
    """This process (`owner`, by default a new id for this start: host:pid:random) among the others."""

    def __init__(self, connection: Connection, owner: str | None = None) -> None:
        self._connection = connection
        self.host = socket.gethostname()
        self.owner = owner or f"{self.host}:{os.getpid()}:{secrets.token_hex(4)}"
        self.started_at = now()

    def beat(self) -> None:
        """Say this process is alive: its row in `processes`, with the heartbeat now."""
        with self._connection.write() as db:
            db.execute(
                "insert into processes (owner, host, pid, started_at, heartbeat_at) values (?, ?, ?, ?, ?)"
                " on conflict (owner) do update set heartbeat_at = excluded.heartbeat_at",
                [self.owner, self.host, os.getpid(), self.started_at, now()],
            )

    def retire(self) -> None:
        """Say this process has stopped cleanly: its runs are finished, nothing of it is left to recover."""
        with self._connection.write() as db:
            db.execute("delete from processes where owner = ?", [self.owner])

    def forget_gone(self, stale_after: float) -> int:
        """Delete the rows of processes silent for longer than `stale_after` seconds (killed, or their
        container gone): once their work is marked interrupted nothing needs them, and a deployment that
        restarts often would otherwise keep one row per start for ever. Returns how many."""
        cutoff = (datetime.now(UTC) - timedelta(seconds=stale_after)).isoformat(timespec="milliseconds")
        with self._connection.write() as db:
            return int(db.execute("delete from processes where heartbeat_at < ?", [cutoff]).rowcount)

    def check_writable(self) -> None:
        """A real committed write (the heartbeat) and a new row larger than a page, rolled back: raises
        sqlite3.Error when the disk is full or the file has become read-only, which a read would not show. The
        heartbeat alone is not enough: an update in place still commits when the file cannot grow, while every
        new run, variation or click needs new pages."""
        self.beat()
        self._connection.trial(
            "insert into seen_events (event_id, seen_at) values (? || hex(randomblob(?)), ?)",
            ["healthz:", PROBE_BYTES, now()],
        )

    def orphans(
        self, stale_after: float, live_runs: Collection[int], live_variations: Collection[int]
    ) -> tuple[list[int], list[int]]:
        """The runs (planning, running) and variations (writing) being written by a process that is gone:
        none recorded (made before owners were), one without a row in `processes` (it retired, or never
        beat), one whose heartbeat is older than `stale_after` seconds, or one on this host whose pid is no
        longer running or is ours under another owner (an earlier life of this container). This process's
        own rows are orphans when they are not in `live_runs` / `live_variations` (their thread died)."""
        runs = self._connection.query(
            "select r.id, r.owner, p.host, p.pid, p.heartbeat_at from runs r"
            " left join processes p on p.owner = r.owner where r.status in ('planning', 'running')"
        )
        variations = self._connection.query(
            "select v.id, v.owner, p.host, p.pid, p.heartbeat_at from variations v"
            " left join processes p on p.owner = v.owner where v.status = 'writing'"
        )
        cutoff = datetime.now(UTC) - timedelta(seconds=stale_after)

        def orphaned(row: tuple[Any, ...], live: Collection[int]) -> bool:
            row_id, owner, host, pid, heartbeat_at = row
            if owner == self.owner:
                return row_id not in live
            return self.is_gone(owner, host, pid, heartbeat_at, cutoff)

        return (
            [row[0] for row in runs if orphaned(row, live_runs)],
            [row[0] for row in variations if orphaned(row, live_variations)],
        )

    def is_gone(
        self, owner: str | None, host: str | None, pid: int | None, heartbeat_at: str | None, cutoff: datetime
    ) -> bool:
        """Whether another process `owner` is gone, from its row in `processes` (host, pid and heartbeat_at
        None when it has none): no row (it retired, or never beat), a heartbeat older than `cutoff`, or on this
        host a pid no longer running or ours under another owner (an earlier life of this container)."""
        if owner == self.owner:
            return False
        if owner is None or host is None or heartbeat_at is None or datetime.fromisoformat(heartbeat_at) < cutoff:
            return True
        return host == self.host and (pid == os.getpid() or pid is None or not _running(pid))

    def mark_interrupted(
        self, run_ids: Collection[int], variation_ids: Collection[int], reason: str
    ) -> tuple[list[int], list[int]]:
        """Mark these runs and variations `interrupted`, those still being written, in one transaction, and
        return the ids changed: of two processes recovering at once, only one reports each row."""
        at = now()
        with self._connection.write() as db:
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


def _running(pid: int) -> bool:
    """Whether a process with this id runs on this host (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    return True
