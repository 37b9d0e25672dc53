"""`variations-bot export`: the runs, variations, clicks and votes as one JSON document or four CSV files.

For people who want the votes in a spreadsheet or a notebook without learning the schema or SQL. The
database is opened read-only, so exporting while the bot is running is safe, and all four tables are read
in one transaction, so the export is one consistent snapshot even while votes keep arriving. With
`--team T…` it holds one workspace's data only: the runs started there and their variations, clicks and votes.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Literal, TextIO
from urllib.parse import quote

from sqlite_utils import Database
from sqlite_utils.db import Table, quote_identifier

Format = Literal["json", "csv"]
FORMATS: tuple[Format, ...] = ("json", "csv")
TABLES = ("runs", "variations", "feedback", "votes")
JSON_NAME = "variations-export.json"
DEFAULT_DB = "variations.db"  # the bot's default too (bot.config), so both find the same file
TEAM_ID = re.compile(r"T[A-Z0-9]+")  # a Slack workspace id
_TEAM_RUNS = "run_id in (select id from runs where team_id = ?)"
# Each table's rows of one workspace: the runs started there, and everything under them.
_OF_TEAM = {"runs": "team_id = ?", "variations": _TEAM_RUNS, "feedback": _TEAM_RUNS, "votes": _TEAM_RUNS}


class ExportError(Exception):
    """The export cannot run (no such database, not a Variations database); the message is one line."""


def db_path_from(cli_value: str | None, environ: Mapping[str, str]) -> str:
    """`--db`, else VARIATIONS_DB, else the bot's default: the file the bot itself writes."""
    return cli_value or environ.get("VARIATIONS_DB", "").strip() or DEFAULT_DB


def check_team(value: str) -> str:
    """A workspace id from the command line, or ExportError saying what one looks like."""
    if not TEAM_ID.fullmatch(value):
        raise ExportError(f"--team takes a workspace id like T0123ABCD, got {value!r}")
    return value


def export(
    db_path: str | Path, fmt: Format, out_dir: str | Path | None, stdout: TextIO, team: str | None = None
) -> list[Path]:
    """Export every table, or (with `team`) one workspace's rows of each; returns the files written (none
    when the JSON document went to `stdout`).

    JSON goes to `stdout` unless `out_dir` is given; CSV always goes to files, in `out_dir` or the
    current directory. Raises ExportError before writing anything when the database cannot be read.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    if team is not None:
        check_team(team)
    with _snapshot(Path(db_path)) as db:
        if fmt == "json":
            document = {name: _json_rows(db.table(name), team) for name in TABLES}
            if out_dir is None:
                _write_json(document, stdout)
                return []
            path = _out(out_dir) / JSON_NAME
            with _private(path) as file:
                _write_json(document, file)
            return [path]
        directory = _out(out_dir if out_dir is not None else ".")
        written = []
        for name in TABLES:
            path = directory / f"{name}.csv"
            with _private(path) as file:
                _write_csv(db.table(name), file, team)
            written.append(path)
        return written


@contextmanager
def _snapshot(path: Path) -> Iterator[Database]:
    """The database read-only, in one read transaction: never created, never written, never torn."""
    if not path.is_file():
        # Checked first because even a read-only open must not leave an empty database behind.
        raise ExportError(f"no database at {path} (set --db or VARIATIONS_DB)")
    uri = f"file:{_uri_path(path)}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=30)) as conn:
            db = Database(conn)
            conn.execute("begin")  # deferred: the WAL snapshot is taken at the first read and held to the end
            missing = [name for name in TABLES if not db.table(name).exists()]
            if missing:
                raise ExportError(f"{path} is not a Variations database (no table {', '.join(missing)})")
            yield db
            conn.rollback()
    except sqlite3.Error as error:
        raise ExportError(f"cannot read {path}: {error}") from None


def _uri_path(path: Path) -> str:
    """The path made safe inside a `file:` URI, where `?`, `#` or `%` in a file name would be misread."""
    return quote(str(path.resolve()), safe="/:")


def _rows(table: Table, team: str | None) -> Iterator[dict[str, Any]]:
    """Rows (of `team` only, when given) in primary key order, so two exports of the same data are identical."""
    order = ", ".join(quote_identifier(column) for column in table.pks)
    if team is None:
        return table.rows_where(order_by=order)
    return table.rows_where(_OF_TEAM[table.name], [team], order_by=order)


def _json_rows(table: Table, team: str | None) -> list[dict[str, Any]]:
    rows = list(_rows(table, team))
    if table.name == "runs":
        for row in rows:
            row["context"] = _decoded(row["context"])
    return rows


def _decoded(context: str | None) -> Any:
    """A run's context as the object it was stored from; text that is not JSON is kept, not lost."""
    if context is None:
        return None
    try:
        return json.loads(context)
    except ValueError:
        return context


def _write_json(document: Mapping[str, Any], file: TextIO) -> None:
    json.dump(document, file, ensure_ascii=False, indent=2)
    file.write("\n")


def _write_csv(table: Table, file: TextIO, team: str | None) -> None:
    """A header row even for an empty table, so every file says what it holds; NULL is an empty cell."""
    writer = csv.DictWriter(file, fieldnames=[column.name for column in table.columns])
    writer.writeheader()
    writer.writerows(_rows(table, team))


def _out(directory: str | Path) -> Path:
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _private(path: Path) -> TextIO:
    """A new file readable by its owner only, like the database: an export holds the same team data."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return open(fd, "w", encoding="utf-8", newline="")
