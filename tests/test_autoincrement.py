"""Row ids are never given out twice, also in a database made before AUTOINCREMENT: it is rebuilt once
when the app opens it, with every row, id, index and trigger kept."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from bot.store.autoincrement import TABLES
from bot.store.stats import stats
from bot.store.store import Store
from tests.helpers import make_run, record_clicks


def _without_autoincrement(path: Path) -> None:
    """Turn a database back into one made before AUTOINCREMENT (as an older version of the app made it)."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("pragma writable_schema = on")
        for table in TABLES:
            conn.execute(
                "update sqlite_master set sql = replace(sql, 'PRIMARY KEY AUTOINCREMENT', 'PRIMARY KEY')"
                " where type = 'table' and name = ?",
                [table],
            )
        conn.execute("delete from sqlite_sequence")
        conn.execute("delete from _sqlite_migrations where name = 'm009_ids_never_reused'")  # not applied yet
        conn.commit()


def _schema(path: Path) -> dict[str, str]:
    with closing(sqlite3.connect(path)) as conn:
        return dict(conn.execute("select name, sql from sqlite_master where name != 'sqlite_sequence'"))


def test_an_older_database_is_upgraded_with_its_rows_and_ids_and_ids_are_not_reused(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    store = Store(str(path))
    kept = make_run(store, [("technical", "done"), ("story", "done")], team="T1")
    gone = make_run(store, [("technical", "done")], team="T2")
    record_clicks(store, kept[0], ("U1", "up"), ("U2", "down"))
    record_clicks(store, gone[0], ("U1", "up"))
    store.close()
    _without_autoincrement(path)
    old_schema = _schema(path)
    assert all("AUTOINCREMENT" not in old_schema[table] for table in TABLES)
    with closing(sqlite3.connect(path)) as conn:
        rows = {table: conn.execute(f"select * from {table} order by id").fetchall() for table in TABLES}

    store = Store(str(path))
    new_schema = _schema(path)
    assert all("AUTOINCREMENT" in new_schema[table] for table in TABLES)
    assert set(new_schema) == set(old_schema)  # every index and trigger is back
    assert {table: store.query(f"select * from {table} order by id") for table in TABLES} == rows
    assert [t.type for t in stats(store, "T1").types] == ["technical", "story"]
    assert not store.scoreboard.refresh()  # the totals were right before, and still are
    store.close()
    with closing(sqlite3.connect(path)) as conn:  # the highest rows deleted (a purge): they are not reused
        conn.execute("delete from feedback where variation_id = ?", [gone[0]])
        conn.execute("delete from votes where variation_id = ?", [gone[0]])
        conn.execute("delete from variations where id = ?", [gone[0]])
        conn.execute("delete from runs where team_id = 'T2'")
        conn.commit()
    store = Store(str(path))
    (variation,) = make_run(store, [("technical", "done")], team="T3")
    record_clicks(store, variation, ("U1", "up"), team="T3")
    assert store.query("select max(id) from runs")[0][0] > max(r[0] for r in rows["runs"])
    assert variation > max(r[0] for r in rows["variations"])
    assert store.query("select max(id) from feedback")[0][0] > max(r[0] for r in rows["feedback"])
    store.close()


def test_ids_of_purged_rows_are_not_given_out_again(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "v.db"))
    first = make_run(store, [("technical", "done")], team="T1")
    store.close()
    with closing(sqlite3.connect(tmp_path / "v.db")) as conn:
        conn.execute("delete from variations")
        conn.execute("delete from runs")
        conn.commit()
    store = Store(str(tmp_path / "v.db"))
    second = make_run(store, [("technical", "done")], team="T2")
    assert second[0] > first[0] and store.query("select id from runs") == [(2,)]
    store.close()
