"""Row ids that are never given out twice: `runs`, `variations` and `feedback` number their rows with
AUTOINCREMENT, so once `purge` deletes a workspace's rows (the highest ids, say) the next run elsewhere
gets a new id, and a run still being written for the purged workspace updates no one else's rows.

Databases made before are rebuilt once, in the schema's transaction: each table is copied into one
declared with AUTOINCREMENT, ids and data kept, and its indexes and triggers made again (SQLite cannot add
AUTOINCREMENT to a table in place, nor can sqlite-utils' `transform`). Copying the rows sets
`sqlite_sequence` to the highest id, so numbering goes on from there.
"""

from __future__ import annotations

import re

from sqlite_utils import Database

TABLES = ("runs", "variations", "feedback")
_PRIMARY_KEY = re.compile(r'(["\[]?id["\]]?\s+INTEGER\s+PRIMARY\s+KEY)(?!\s+AUTOINCREMENT)', re.IGNORECASE)


def use_autoincrement(db: Database) -> list[str]:
    """Rebuild every table of TABLES still numbered without AUTOINCREMENT; returns those rebuilt. Runs
    inside the caller's write transaction, so a crash leaves the database as it was."""
    rebuilt = []
    for table in TABLES:
        found = db.execute("select sql from sqlite_master where type = 'table' and name = ?", [table]).fetchone()
        if found is None or not _PRIMARY_KEY.search(found[0]):
            continue  # not made yet, or already numbered with AUTOINCREMENT
        _rebuild(db, table, _PRIMARY_KEY.sub(r"\1 AUTOINCREMENT", found[0], count=1))
        rebuilt.append(table)
    return rebuilt


def _rebuild(db: Database, table: str, create_sql: str) -> None:
    """SQLite's way to change a table's definition: a new table, the rows copied, the old one dropped and the
    new one renamed, then its indexes and triggers (dropped with the old table) made again."""
    attached = db.execute(
        "select sql from sqlite_master where tbl_name = ? and type in ('index', 'trigger') and sql is not null",
        [table],
    ).fetchall()
    stale = db.execute("select stale from scoreboard_state").fetchone() if _has(db, "scoreboard_state") else None
    new = f"{table}_autoincrement"
    db.execute(f"drop table if exists [{new}]")
    db.execute(_renamed(create_sql, table, new))
    columns = ", ".join(f"[{column}]" for column in db.table(table).columns_dict)
    db.execute(f"insert into [{new}] ({columns}) select {columns} from [{table}] order by id")
    db.execute(f"drop table [{table}]")
    db.execute(f"alter table [{new}] rename to [{table}]")
    for (sql,) in attached:
        db.execute(sql)
    if stale is not None:  # the copy changed no totals: the scoreboard stays as right as it was
        db.execute("update scoreboard_state set stale = ?", [stale[0]])


def _renamed(create_sql: str, table: str, new: str) -> str:
    """The CREATE TABLE statement for `table` under the name `new`."""
    head, _, rest = create_sql.partition("(")
    return f"CREATE TABLE [{new}] ({rest}" if table in head else create_sql


def _has(db: Database, table: str) -> bool:
    return db.execute("select 1 from sqlite_master where type = 'table' and name = ?", [table]).fetchone() is not None
