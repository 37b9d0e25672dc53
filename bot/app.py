"""Builds the Bolt app from its parts: a factory with every client handed in, no globals."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import anthropic
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import Settings
from bot.listeners import actions, commands, forms, home
from bot.priority import AckFirst
from bot.runner import Limits, Runner
from bot.store import Store
from bot.throttle import LiveUpdates, UpdateBudget
from bot.votes import VoteRefresher
from orchestrator.engine import Engine
from orchestrator.llm import LLM, make_client

# Bolt's default listener pool has 5 threads; every click and command waits on it for its ack.
LISTENER_THREADS = 32


def make_slack_client(settings: Settings) -> WebClient:
    """A WebClient that rides out Slack's rate limits (429 + Retry-After), 5xx and dropped connections."""
    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=30,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


@dataclass
class Services:
    """Everything a running bot owns, so `__main__` and tests build and close it the same way."""

    app: App
    runner: Runner
    store: Store
    live: LiveUpdates
    ack_first: AckFirst
    runs: ThreadPoolExecutor
    workers: ThreadPoolExecutor

    def health(self) -> dict[str, Any]:
        """What /healthz reports: the database answers, and how busy the pools are."""
        try:
            self.store.query("select count(*) from runs")
            database = "ok"
        except sqlite3.Error as error:
            database = f"error: {error}"
        return {
            "ok": database == "ok",
            "database": database,
            "runs": _pool_state(self.runs),
            "workers": _pool_state(self.workers),
        }

    def close(self) -> None:
        # Runs first (they wait on their workers), then workers.
        self.runs.shutdown(wait=True)
        self.workers.shutdown(wait=True)
        self.live.close()
        self.store.close()


def _pool_state(pool: ThreadPoolExecutor) -> dict[str, int]:
    # ThreadPoolExecutor has no public gauges; these private fields are stable since Python 3.8.
    return {"threads": pool._max_workers, "started": len(pool._threads), "queued": pool._work_queue.qsize()}


def create_app(settings: Settings, *, runner: Runner, store: Store, client: WebClient, live: LiveUpdates) -> App:
    """The Bolt app with its listeners. Request signatures are verified in HTTP mode."""
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret or None,
        request_verification_enabled=not settings.socket_mode,
        # Listeners are quick (parse, a SQLite write, hand-off to a pool), so they run in the request's
        # own thread and answer when done: no executor hop, no polling for the ack, and a click is in
        # the database before Slack hears back.
        process_before_response=True,
    )
    commands.register(app, runner, settings.max_task_chars)
    forms.register(app, runner, settings.max_task_chars)
    actions.register(app, store, runner, VoteRefresher(store, client, live))
    home.register(app, store)
    return app


def build(settings: Settings, anthropic_client: anthropic.Anthropic | None = None) -> Services:
    """Wire the real clients from settings. Without an injected Anthropic client the SDK's own is built,
    which reads ANTHROPIC_BASE_URL itself."""
    store = Store(settings.db_path)
    client = make_slack_client(settings)
    workers = ThreadPoolExecutor(settings.worker_threads, thread_name_prefix="worker")
    runs = ThreadPoolExecutor(settings.run_threads, thread_name_prefix="run")
    live = LiveUpdates(UpdateBudget(interval=settings.update_interval, per_minute=settings.updates_per_minute))
    engine = Engine(
        LLM(anthropic_client or make_client()),
        workers,
        orchestrator_model=settings.orchestrator_model,
        worker_model=settings.worker_model,
    )
    ack_first = AckFirst()
    limits = Limits(per_user=settings.max_runs_per_user, per_workspace=settings.max_runs_per_workspace)
    runner = Runner(engine, store, client, runs, live, ack_first, limits)
    app = create_app(settings, runner=runner, store=store, client=client, live=live)
    return Services(app, runner, store, live, ack_first, runs, workers)
