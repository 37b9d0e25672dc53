"""The database's schema as named steps, in the order the app grew them (simonw/llm's way, with sqlite-utils'
`Migrations`): each step runs once, in the store's first write transaction, and is recorded in
`_sqlite_migrations`, so a database from any earlier release opens and is brought up to date.

A database made before the steps were recorded has none of them listed: every step then runs again, so each
is written to leave alone what is already there (tables and indexes if missing, columns if missing).
A new table, column or index is a new step at the end; a step that has shipped is never edited.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from bot.store.autoincrement import use_autoincrement
from bot.store.catalogue import reconcile
from bot.store.scoreboard import create_scoreboard, rebuild
from bot.store.tickets import create_tickets

migrations = Migrations("variations")


def _add_columns(db: Database, table: str, columns: dict[str, type]) -> None:
    have = db.table(table).columns_dict
    for column, kind in columns.items():
        if column not in have:
            db.table(table).add_column(column, kind)


@migrations()
def m001_runs_variations_and_votes(db: Database) -> None:
    """The first release: a run per request, a variation per approach, every click and each current vote."""
    db.table("runs").create(
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
    db.table("variations").create(
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
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
        not_null={"run_id", "position", "type", "status", "created_at"},
        if_not_exists=True,
    )
    db.table("variations").create_index(["run_id", "position"], unique=True, if_not_exists=True)
    db.table("feedback").create(
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
    db.table("feedback").create_index(["variation_id"], if_not_exists=True)
    db.table("votes").create(
        {"variation_id": int, "user_id": str, "run_id": int, "value": str, "updated_at": str},
        pk=("variation_id", "user_id"),
        foreign_keys=[("variation_id", "variations", "id"), ("run_id", "runs", "id")],
        if_not_exists=True,
    )


@migrations()
def m002_new_versions(db: Database) -> None:
    """♻️ New version: which variation a new one rewrites, and the instruction it followed."""
    _add_columns(db, "variations", {"regenerated_from": int, "instruction": str})


@migrations()
def m003_several_processes(db: Database) -> None:
    """Several processes on one file: who writes each run, their heartbeats, events already taken, and a
    run's parent that is a reply in another thread (a mention)."""
    _add_columns(db, "runs", {"owner": str, "thread_ts": str})
    _add_columns(db, "variations", {"owner": str})
    db.table("processes").create(
        {"owner": str, "host": str, "pid": int, "started_at": str, "heartbeat_at": str},
        pk="owner",
        if_not_exists=True,
    )
    # Events already taken (by any process sharing the file): Slack re-sends one it thinks was missed.
    db.table("seen_events").create(
        {"event_id": str, "seen_at": str}, pk="event_id", not_null={"seen_at"}, if_not_exists=True
    )


@migrations()
def m004_cost_closing_and_blind_votes(db: Database) -> None:
    """What runs cost in dollars, when a run's voting closed, and blind runs."""
    _add_columns(db, "runs", {"cost_usd": float, "voting_closed_at": str, "blind": int})
    _add_columns(db, "variations", {"cost_usd": float})


@migrations()
def m005_scoreboard(db: Database) -> None:
    """The scoreboard's running totals and the triggers that flag them stale, counted from the rows."""
    if create_scoreboard(db):
        rebuild(db)


@migrations()
def m006_type_catalogue(db: Database) -> None:
    """Approach types per workspace: the name the model wrote beside the canonical type, and the merges
    people made. Older rows are cleaned and their spellings unified ("Tech Specs" and "tech-specs")."""
    types_are_new = "written_type" not in db.table("variations").columns_dict
    _add_columns(db, "variations", {"written_type": str})
    # Merges of approach types (`/variations types merge OLD into NEW`), kept once undone (split_at set).
    db.table("type_merges").create(
        {
            "id": int,
            "team_id": str,
            "old": str,
            "new": str,
            "merged_by": str,
            "merged_at": str,
            "split_by": str,
            "split_at": str,
        },
        pk="id",
        not_null={"team_id", "old", "new", "merged_by", "merged_at"},
        if_not_exists=True,
    )
    db.execute("create index if not exists type_merges_team on type_merges (team_id) where split_at is null")
    if types_are_new:
        for (team_id,) in db.execute("select distinct team_id from runs").fetchall():
            reconcile(db, team_id, recount=False)
        rebuild(db)


@migrations()
def m007_indexes_for_reads(db: Database) -> None:
    """The indexes of the app's reads: stats (covering), a user's runs, a run's tallies, the run of a thread,
    pruning, recovery and closing. runs_usage replaces the indexes made before runs had a cost."""
    for sql in (
        "drop index if exists runs_team_time",
        "drop index if exists runs_channel_time",
        "create index if not exists runs_team_usage"
        " on runs (team_id, created_at, input_tokens, output_tokens, cost_usd)",
        "create index if not exists runs_channel_usage"
        " on runs (team_id, channel_id, created_at, input_tokens, output_tokens, cost_usd)",
        "create index if not exists runs_team_user on runs (team_id, user_id)",
        "create index if not exists votes_run on votes (run_id)",
        # the run a mention in a thread is about: its parent is the thread's root, or a reply in it
        "create index if not exists runs_message on runs (channel_id, message_ts)",
        "create index if not exists runs_thread on runs (channel_id, thread_ts) where thread_ts is not null",
        "create index if not exists seen_events_time on seen_events (seen_at)",
        # what is being written, for recovery: small, as almost every row is finished
        "create index if not exists runs_working on runs (status) where status in ('planning', 'running')",
        "create index if not exists variations_writing on variations (status) where status = 'writing'",
        # finished runs whose voting is still open, for closing them after VARIATIONS_VOTING_HOURS
        "create index if not exists runs_voting on runs (finished_at) where voting_closed_at is null",
    ):
        db.execute(sql)


@migrations()
def m008_stopped_by(db: Database) -> None:
    """Stopping a run: who last stopped work in it (⏹ or Slack's stop button of its agent session)."""
    _add_columns(db, "runs", {"stopped_by": str})


@migrations()
def m009_ids_never_reused(db: Database) -> None:
    """AUTOINCREMENT on runs, variations and feedback: a purged workspace's ids are never given to another's
    rows (a run still being written would otherwise write into them). Older tables are rebuilt, keeping every
    row, id, index and trigger."""
    use_autoincrement(db)


@migrations()
def m010_tickets(db: Database) -> None:
    """The jobs admitted (runs, retries, new versions, follow-ups, syntheses), so the limits per person and
    per workspace hold across every process sharing the file."""
    create_tickets(db)


@migrations()
def m011_blind_runs_hidden_until_closed(db: Database) -> None:
    """A blind run's analysis message (its plan is revealed there when voting closes), and the scoreboard
    leaving an open blind run out: its trigger on runs watches blind and voting_closed_at too, and the
    totals are counted again without open blind runs."""
    _add_columns(db, "runs", {"analysis_ts": str})
    db.execute("drop trigger if exists runs_update_marks_scoreboard")
    create_scoreboard(db)
    rebuild(db)


def migrate(db: Database) -> None:
    """Apply the steps this database has not had yet (all of them to a new one)."""
    migrations.apply(db)
