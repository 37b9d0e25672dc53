"""`variations-bot export` as a user runs it: a real subprocess reading a real database written by Store."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.store.store import Store

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("runs", "variations", "feedback", "votes")
TRICKY = "He said \"hi, there\", then left;\nline two\r\nline three 🚀 — naïve, 日本語, 'quoted', tab\there"


def run_bot(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ANTHROPIC_", "VARIATIONS_", "PYTHON"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**base, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )


def fill(store: Store) -> None:
    """Two runs, tricky text everywhere a user or the model writes, and clicks that vote, switch and withdraw."""
    run_id = store.create_run(
        team_id="T1",
        channel_id="C1",
        user_id="U1",
        task=f"Write a tagline: {TRICKY}",
        context={"audience": 'hikers, "serious" ones 🥾', "notes": "line one\nline two"},
        orchestrator_model="planner",
        worker_model="writer",
    )
    store.update_run(run_id, status="done", analysis=TRICKY, seconds=1.25, input_tokens=10, output_tokens=20)
    first = store.add_variation(run_id, 0, "technical", "Specs, first")
    second = store.add_variation(run_id, 1, "lifestyle", 'The "feel"')
    store.update_variation(first, text=f"**Bold**, {TRICKY}", status="done", seconds=0.5)
    store.update_variation(second, status="failed", error="The model returned an empty response.")
    store.record_click(first, team_id="T1", user_id="A", value="up")
    store.record_click(first, team_id="T1", user_id="B", value="down")
    store.record_click(first, team_id="T1", user_id="B", value="up")  # switches
    store.record_click(second, team_id="T1", user_id="A", value="down")
    store.record_click(second, team_id="T1", user_id="A", value="down")  # withdraws
    store.create_run(
        team_id="T1",
        channel_id="C2",
        user_id="U2",
        task="Another",
        context={},
        orchestrator_model="planner",
        worker_model="writer",
    )


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    """A database the bot is still writing to: the store stays open, its rows still in the WAL."""
    path = tmp_path / "data" / "votes.db"
    path.parent.mkdir()
    store = Store(str(path))
    fill(store)
    yield path
    store.close()


def table_rows(path: Path) -> dict[str, tuple[list[str], list[dict[str, Any]]]]:
    """Each table's columns and rows straight from SQLite, independent of the code under test."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        result = {}
        for name in TABLES:
            columns = [row["name"] for row in conn.execute(f"pragma table_info({name})")]
            rows = [dict(row) for row in conn.execute(f"select * from {name} order by rowid")]
            result[name] = (columns, rows)
        return result
    finally:
        conn.close()


def expected_json(path: Path) -> dict[str, list[dict[str, Any]]]:
    document = {name: rows for name, (_, rows) in table_rows(path).items()}
    for run in document["runs"]:
        run["context"] = json.loads(run["context"])
    return document


def test_json_document_on_stdout_has_every_row_and_column(db: Path, tmp_path: Path) -> None:
    done = run_bot("export", "--format", "json", "--db", str(db), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    document = json.loads(done.stdout)
    assert document == expected_json(db)
    assert list(document) == list(TABLES)
    assert document["runs"][0]["context"] == {"audience": 'hikers, "serious" ones 🥾', "notes": "line one\nline two"}
    assert document["runs"][1]["context"] == {}
    assert document["variations"][0]["text"] == f"**Bold**, {TRICKY}"
    assert [(v["user_id"], v["value"]) for v in document["votes"]] == [("A", "up"), ("B", "up")]
    assert len(document["feedback"]) == 5
    assert sorted(os.listdir(tmp_path)) == ["data"]  # nothing written next to it


def test_json_is_the_default_and_out_writes_one_file(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "exports" / "today"
    done = run_bot("export", "--db", str(db), "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    path = out / "variations-export.json"
    assert done.stdout == ""
    assert done.stderr.splitlines() == [str(path)]
    assert os.listdir(out) == ["variations-export.json"]
    assert json.loads(path.read_text(encoding="utf-8")) == expected_json(db)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # the same team data as the database


def test_csv_files_parse_back_to_the_same_rows(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "csv"
    done = run_bot("export", "--format", "csv", "--db", str(db), "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [str(out / f"{name}.csv") for name in TABLES]
    for name, (columns, rows) in table_rows(db).items():
        with open(out / f"{name}.csv", encoding="utf-8", newline="") as file:
            reader = csv.DictReader(file)
            parsed = list(reader)
        assert reader.fieldnames == columns
        # CSV has only text: numbers come back as their text, NULL as an empty cell.
        assert parsed == [{k: "" if v is None else str(v) for k, v in row.items()} for row in rows]
    with open(out / "variations.csv", encoding="utf-8", newline="") as file:
        assert next(csv.DictReader(file))["text"] == f"**Bold**, {TRICKY}"
    with open(out / "runs.csv", encoding="utf-8", newline="") as file:
        assert json.loads(next(csv.DictReader(file))["context"])["audience"] == 'hikers, "serious" ones 🥾'


def test_csv_goes_to_the_current_directory_from_the_database_in_variations_db(db: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    done = run_bot("export", "--format", "csv", cwd=work, env={"VARIATIONS_DB": str(db)})
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(work)) == sorted(f"{name}.csv" for name in TABLES)
    assert done.stderr.splitlines() == [f"{name}.csv" for name in TABLES]


def test_db_defaults_to_variations_db_and_flag_beats_environment(db: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    Store(str(work / "variations.db")).close()  # the bot's default file, here empty
    done = run_bot("export", cwd=work)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {name: [] for name in TABLES}
    flagged = run_bot("export", "--db", str(db), cwd=work, env={"VARIATIONS_DB": str(work / "variations.db")})
    assert json.loads(flagged.stdout) == expected_json(db)


def test_empty_tables_still_get_a_header(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    Store(str(path)).close()
    done = run_bot("export", "--format", "csv", "--db", str(path), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for name, (columns, _) in table_rows(path).items():
        assert (tmp_path / "out" / f"{name}.csv").read_bytes() == (",".join(columns) + "\r\n").encode()


@pytest.mark.parametrize("how", ["flag", "environment", "default"])
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_missing_database_is_one_line_exit_2_and_creates_nothing(tmp_path: Path, how: str, fmt: str) -> None:
    missing = tmp_path / "nope.db"
    args = ["export", "--format", fmt, "--out", str(tmp_path / "out")]
    if how == "flag":
        args += ["--db", str(missing)]
    env = {"VARIATIONS_DB": str(missing)} if how == "environment" else {}
    done = run_bot(*args, cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("error: no database at ")
    assert os.listdir(tmp_path) == []  # no empty database, no export directory


def test_a_file_that_is_not_a_variations_database_is_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database\n" * 100)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("create table runs (id integer primary key)")
    conn.close()
    for path, message in ((junk, "cannot read"), (other, "is not a Variations database")):
        done = run_bot("export", "--db", str(path), cwd=tmp_path)
        assert done.returncode == 2
        assert done.stdout == ""
        assert len(done.stderr.splitlines()) == 1 and message in done.stderr
    assert junk.read_text() == "not a database\n" * 100


def test_help_lists_export(tmp_path: Path) -> None:
    done = run_bot("--help", cwd=tmp_path)
    assert done.returncode == 0
    assert "export" in done.stdout
    sub = run_bot("export", "--help", cwd=tmp_path)
    assert sub.returncode == 0
    assert all(option in sub.stdout for option in ("--format", "--db", "--out"))
    bad = run_bot("export", "--format", "xml", cwd=tmp_path)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_no_command_still_starts_the_bot_and_reports_config_errors(tmp_path: Path) -> None:
    done = run_bot(cwd=tmp_path)
    assert done.returncode == 2
    assert [line.split(" ", 2)[1] for line in done.stderr.splitlines()] == [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "ANTHROPIC_API_KEY",
    ]
    assert done.stdout == ""
    assert os.listdir(tmp_path) == []
