"""The database file: one shared connection per process in WAL mode, its write transactions and its
read-only snapshots. The store and the process registry both write through it.

Every write is one transaction begun with BEGIN IMMEDIATE: it takes the database's write lock before its
first read, so when another process holds the lock it waits (up to the busy timeout) instead of failing, as a
deferred transaction upgrading from read to write does under WAL. Long reads use a read-only connection of
their own (`reader()`), so they neither wait for clicks nor hold them up.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sqlite_utils import Database
from sqlite_utils.db import Table

BUSY_SECONDS = 30  # how long a write waits for another process's write lock before giving up


def now() -> str:
    """UTC time as ISO 8601, readable in Datasette and sortable as text."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class StoreError(Exception):
    """The database cannot be opened or written at start; the message is one line that says what to do."""


class Connection:
    """The database at `path`, created readable by its owner only; `setup` runs in the first write
    transaction (the schema). Raises StoreError, in one line, when the file cannot be used."""

    def __init__(self, path: str, setup: Callable[[Database], None]) -> None:
        self.path = path
        # `file:` URI of the same file, read-only; absolute, so a later chdir cannot point it elsewhere.
        self._read_only = f"file:{quote(os.path.abspath(path), safe='/:')}?mode=ro"
        self._lock = threading.RLock()
        try:
            self._open(setup)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(explain(path, error)) from error

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def _open(self, setup: Callable[[Database], None]) -> None:
        if self.path != ":memory:" and not os.path.exists(self.path):
            # Votes and requests are the team's data: readable by the bot's user only.
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        # isolation_level=None: no transaction is ever opened behind our back; `write` opens each one.
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=BUSY_SECONDS, isolation_level=None)
        self.db = Database(conn)
        try:
            if self.path != ":memory:":
                self.db.enable_wal()
                # With WAL, NORMAL still survives the process being killed (only a power cut can drop the
                # last commits) and spares every click an fsync while it holds the lock.
                self.db.execute("PRAGMA synchronous=NORMAL")
            with self.write() as db:
                setup(db)
        except BaseException:
            conn.close()
            raise

    @contextmanager
    def write(self) -> Iterator[Database]:
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

    def trial(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one write and roll it back: raises sqlite3.Error when the database would not take it."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute(sql, list(params))
            finally:
                if self.db.conn.in_transaction:  # SQLite rolls back by itself after some errors (a full disk)
                    self.db.execute("ROLLBACK")

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

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a short read-only query on the shared connection (under the lock, as it is shared). Long
        reads belong in `reader()`."""
        with self._lock:
            return self.db.execute(sql, list(params)).fetchall()

    def get(self, table: str, pk: int) -> dict[str, Any] | None:
        """One row by id, as a dict of its columns."""
        with self._lock:
            row = self.db.execute(f"select * from [{table}] where id = ?", [pk])
            columns = [description[0] for description in row.description]
            found = row.fetchone()
            return dict(zip(columns, found, strict=True)) if found is not None else None

    def rows_where(self, table: str, where: str, params: Sequence[Any], order_by: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.db.table(table).rows_where(where, list(params), order_by=order_by))


def new_id(table: Table) -> int:
    """The id SQLite gave the row just inserted."""
    if table.last_pk is None:
        raise sqlite3.DatabaseError(f"no id for the row inserted into {table.name}")
    return int(table.last_pk)


def explain(path: str, error: OSError | sqlite3.Error) -> str:
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
