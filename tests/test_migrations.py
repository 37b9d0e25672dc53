"""The schema's named steps: a database from the first release opens, keeps every row and gains what came
since; each step is recorded once; a new database gets the same tables as an upgraded one."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from bot.store.migrations import migrations
from bot.store.stats import stats
from bot.store.store import Store

# The schema the first release (46c2853) created, as sqlite-utils wrote it.
FIRST_RELEASE = """
CREATE TABLE "runs" ("id" INTEGER PRIMARY KEY, "team_id" TEXT NOT NULL, "channel_id" TEXT NOT NULL,
  "user_id" TEXT NOT NULL, "task" TEXT NOT NULL, "context" TEXT, "status" TEXT NOT NULL, "analysis" TEXT,
  "orchestrator_model" TEXT, "worker_model" TEXT, "message_ts" TEXT, "created_at" TEXT NOT NULL,
  "finished_at" TEXT, "plan_seconds" REAL, "seconds" REAL, "input_tokens" INTEGER, "output_tokens" INTEGER,
  "error" TEXT);
CREATE TABLE "variations" ("id" INTEGER PRIMARY KEY, "run_id" INTEGER NOT NULL REFERENCES "runs"("id"),
  "position" INTEGER NOT NULL, "type" TEXT NOT NULL, "description" TEXT, "text" TEXT, "status" TEXT NOT NULL,
  "message_ts" TEXT, "model" TEXT, "created_at" TEXT NOT NULL, "finished_at" TEXT, "seconds" REAL,
  "input_tokens" INTEGER, "output_tokens" INTEGER, "stop_reason" TEXT, "error" TEXT);
CREATE UNIQUE INDEX "idx_variations_run_id_position" ON "variations" ("run_id", "position");
CREATE TABLE "feedback" ("id" INTEGER PRIMARY KEY, "variation_id" INTEGER NOT NULL REFERENCES "variations"("id"),
  "run_id" INTEGER NOT NULL REFERENCES "runs"("id"), "team_id" TEXT, "user_id" TEXT NOT NULL,
  "value" TEXT NOT NULL, "created_at" TEXT NOT NULL);
CREATE INDEX "idx_feedback_variation_id" ON "feedback" ("variation_id");
CREATE TABLE "votes" ("variation_id" INTEGER REFERENCES "variations"("id"), "user_id" TEXT,
  "run_id" INTEGER REFERENCES "runs"("id"), "value" TEXT, "updated_at" TEXT, PRIMARY KEY ("variation_id", "user_id"));
INSERT INTO runs (id, team_id, channel_id, user_id, task, context, status, created_at, finished_at)
  VALUES (1, 'T1', 'C1', 'U1', 'Write a tagline', '{}', 'done', '2026-01-01T10:00:00.000+00:00',
          '2026-01-01T10:00:05.000+00:00');
INSERT INTO variations (id, run_id, position, type, description, text, status, created_at) VALUES
  (1, 1, 0, 'Tech Specs', 'Numbers first', 'Keeps cold 24h.', 'done', '2026-01-01T10:00:01.000+00:00'),
  (2, 1, 1, 'tech-specs', 'Specs again', 'Steel, 750 ml.', 'done', '2026-01-01T10:00:01.000+00:00'),
  (3, 1, 2, 'lifestyle', 'A day out', 'Your hike, cold.', 'done', '2026-01-01T10:00:01.000+00:00');
INSERT INTO feedback (variation_id, run_id, team_id, user_id, value, created_at) VALUES
  (1, 1, 'T1', 'UA', 'up', '2026-01-01T10:01:00.000+00:00'),
  (3, 1, 'T1', 'UB', 'down', '2026-01-01T10:01:00.000+00:00');
INSERT INTO votes VALUES (1, 'UA', 1, 'up', '2026-01-01T10:01:00.000+00:00'),
  (3, 'UB', 1, 'down', '2026-01-01T10:01:00.000+00:00');
"""


def tables(path: Path) -> dict[str, set[str]]:
    with closing(sqlite3.connect(path)) as conn:
        names = [name for (name,) in conn.execute("select name from sqlite_master where type = 'table'")]
        return {name: {row[1] for row in conn.execute(f'pragma table_info("{name}")')} for name in names}


def test_a_database_from_the_first_release_opens_keeps_its_rows_and_gains_the_rest(tmp_path: Path) -> None:
    old = tmp_path / "first.db"
    with closing(sqlite3.connect(old)) as conn:
        conn.executescript(FIRST_RELEASE)
    store = Store(str(old))
    assert store.run(1).task == "Write a tagline"
    assert [(v.type, v.text) for v in store.variations(1)] == [
        ("tech specs", "Keeps cold 24h."),  # the two spellings are one type now (the catalogue's step)
        ("tech specs", "Steel, 750 ml."),
        ("lifestyle", "Your hike, cold."),
    ]
    assert store.db["feedback"].count == 2 and store.tally(1).up == 1 and store.tally(3).down == 1
    assert [(t.type, t.up, t.down) for t in stats(store, "T1").types] == [("tech specs", 1, 0), ("lifestyle", 0, 1)]
    store.close()
    fresh = tmp_path / "fresh.db"
    Store(str(fresh)).close()
    assert tables(old) == tables(fresh)  # upgraded step by step, it is what a new database is


def test_each_step_is_recorded_once_and_runs_once(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    Store(str(path)).close()
    Store(str(path)).close()  # opened again: nothing left to apply
    with closing(sqlite3.connect(path)) as conn:
        recorded = [name for (name,) in conn.execute("select name from _sqlite_migrations order by id")]
    assert recorded == [migration.name for migration in migrations._migrations]
    assert recorded[0] == "m001_runs_variations_and_votes" and len(recorded) == len(set(recorded))
