"""The database's tables and indexes, created when missing and brought up to date on older databases
(columns added since). Runs inside the store's first write transaction."""

from __future__ import annotations

from sqlite_utils import Database

from bot.autoincrement import use_autoincrement
from bot.scoreboard import create_scoreboard, rebuild
from bot.tickets import create_tickets


def create_schema(db: Database) -> None:
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
            "cost_usd": float,
            "error": str,
            "owner": str,
            "thread_ts": str,
            "voting_closed_at": str,
            "blind": int,
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
            "cost_usd": float,
            "stop_reason": str,
            "error": str,
            "regenerated_from": int,
            "instruction": str,
            "owner": str,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
        not_null={"run_id", "position", "type", "status", "created_at"},
        if_not_exists=True,
    )
    for table, column, kind in (
        ("variations", "regenerated_from", int),
        ("variations", "instruction", str),
        ("variations", "owner", str),
        ("runs", "owner", str),
        ("runs", "thread_ts", str),
        ("runs", "cost_usd", float),
        ("variations", "cost_usd", float),
        ("runs", "voting_closed_at", str),
        ("runs", "blind", int),
    ):
        if column not in db.table(table).columns_dict:  # databases made before it
            db.table(table).add_column(column, kind)
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
    db.table("processes").create(
        {"owner": str, "host": str, "pid": int, "started_at": str, "heartbeat_at": str},
        pk="owner",
        if_not_exists=True,
    )
    # Events already taken (by any process sharing the file): Slack re-sends one it thinks was missed.
    db.table("seen_events").create(
        {"event_id": str, "seen_at": str}, pk="event_id", not_null={"seen_at"}, if_not_exists=True
    )
    create_tickets(db)  # jobs admitted, for the limits across processes
    scoreboard_is_new = create_scoreboard(db)
    for sql in (
        # the scoreboard's runs this week, tokens and cost, for a workspace and for a channel (covering);
        # these replace runs_team_time and runs_channel_time, made before runs had a cost
        "drop index if exists runs_team_time",
        "drop index if exists runs_channel_time",
        "create index if not exists runs_team_usage"
        " on runs (team_id, created_at, input_tokens, output_tokens, cost_usd)",
        "create index if not exists runs_channel_usage"
        " on runs (team_id, channel_id, created_at, input_tokens, output_tokens, cost_usd)",
        "create index if not exists runs_team_user on runs (team_id, user_id)",  # a user's recent runs
        "create index if not exists votes_run on votes (run_id)",  # a run's tallies
        # the run a mention in a thread is about: its parent is the thread's root, or a reply in it
        "create index if not exists runs_message on runs (channel_id, message_ts)",
        "create index if not exists runs_thread on runs (channel_id, thread_ts) where thread_ts is not null",
        "create index if not exists seen_events_time on seen_events (seen_at)",  # pruning
        # what is being written, for recovery: small, as almost every row is finished
        "create index if not exists runs_working on runs (status) where status in ('planning', 'running')",
        "create index if not exists variations_writing on variations (status) where status = 'writing'",
        # finished runs whose voting is still open, for closing them after VARIATIONS_VOTING_HOURS
        "create index if not exists runs_voting on runs (finished_at) where voting_closed_at is null",
    ):
        db.execute(sql)
    use_autoincrement(db)  # ids never reused (databases made before are rebuilt once)
    if scoreboard_is_new:
        rebuild(db)
