"""Builds the Bolt app from its parts: a factory with every client handed in, no globals."""

from __future__ import annotations

import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import anthropic
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, ServerErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler

from bot.config import Settings
from bot.listeners import failures, register_all
from bot.observe import logs
from bot.observe.metrics import Metrics
from bot.parse.payloads import WellFormed
from bot.slack.clients import CappedRateLimitRetryHandler, CountedRetryHandler
from bot.slack.outbox import Outbox, Policy
from bot.slack.pacing import UpdateBudget
from bot.slack.sessions import Sessions
from bot.slack.streams import Streams
from bot.slack.workspaces import NotInstalled, bolt_options, clients_for
from bot.store.installations import Installations, installations_path
from bot.store.store import Store
from bot.store.team_record import TeamMemory
from bot.work.ack_first import AckFirst
from bot.work.admission import Admission, InFlight, Limits
from bot.work.closing import Closer
from bot.work.delivery import Delivery
from bot.work.followups import FollowUps
from bot.work.later import Later
from bot.work.recovery import Recovery
from bot.work.reporter import Reporter
from bot.work.runner import Runner
from bot.work.stopping import Stops
from bot.work.tools import Tools, handing
from bot.work.vote_counts import VoteRefresher
from orchestrator.engine import Engine
from orchestrator.llm import LLM, make_client

log = logging.getLogger(__name__)

# Slack calls made after the ack by listeners (ephemeral notes, opening a form, stats answers).
AFTER_ACK_THREADS = 8
# The longest Retry-After a posting thread sleeps through; longer ones fail that call at once.
RETRY_AFTER_CAP = 10.0
# chat.appendStream is Tier 4 (100+ a minute per workspace): streams share that, less a margin.
APPENDS_PER_MINUTE = 90.0


def make_slack_client(settings: Settings, metrics: Metrics) -> WebClient:
    """The client for posts from run threads and for listeners' calls after the ack: it rides out 5xx
    and dropped connections, and a 429 whose Retry-After is short; a long one fails the call at once
    instead of pinning a thread (rewrites go through the outbox, which defers per message)."""

    def count(method: str, reason: str) -> None:
        metrics.slack_retries.labels(method, reason).inc()

    handlers: list[tuple[RetryHandler, str]] = [
        (ConnectionErrorRetryHandler(max_retry_count=2), "connection"),
        (CappedRateLimitRetryHandler(max_retry_count=2, cap=RETRY_AFTER_CAP), "ratelimited"),
        (ServerErrorRetryHandler(max_retry_count=2), "server_error"),
    ]
    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=30,
        retry_handlers=[CountedRetryHandler(handler, reason, count) for handler, reason in handlers],
    )


@dataclass
class Services:
    """Everything a running bot owns, so `__main__` and tests build and close it the same way."""

    app: App
    runner: Runner
    store: Store
    outbox: Outbox
    ack_first: AckFirst
    runs: ThreadPoolExecutor
    workers: ThreadPoolExecutor
    after_ack: ThreadPoolExecutor
    metrics: Metrics
    streams: Streams | None = None
    sessions: Sessions | None = None

    def health(self) -> dict[str, Any]:
        """What /healthz reports: the database takes writes (not only reads), and how busy the pools are."""
        try:
            self.store.processes.check_writable()
            database = "ok"
        except sqlite3.Error as error:
            database = f"error: {error}"
        return {
            "ok": database == "ok",
            "database": database,
            "runs": _pool_state(self.runs),
            "workers": _pool_state(self.workers),
        }

    def drain(self, seconds: float) -> int:
        """Stop taking work, let runs in flight finish for up to `seconds`, mark the rest interrupted and
        deliver what Slack still has to show. Returns how many runs were interrupted."""
        interrupted = self.runner.drain(seconds)
        self.outbox.wait(timeout=self.outbox.policy.deadline)
        return interrupted

    def close(self) -> None:
        self.runner.recovery.stop()
        # Runs first (they wait on their workers), then workers.
        self.runs.shutdown(wait=True)
        self.workers.shutdown(wait=True)
        self.after_ack.shutdown(wait=True)
        if self.streams is not None:
            self.streams.close()
        if self.sessions is not None:
            self.sessions.shutdown()
        self.outbox.close()
        try:
            self.store.processes.retire()
        except sqlite3.Error as error:  # a broken disk: the next start finds this process gone all the same
            log.error("step=retire_failed error=%s", error)
        self.store.close()


def _pool_state(pool: ThreadPoolExecutor) -> dict[str, int]:
    # ThreadPoolExecutor has no public gauges; these private fields are stable since Python 3.8.
    return {"threads": pool._max_workers, "started": len(pool._threads), "queued": pool._work_queue.qsize()}


def create_app(
    settings: Settings,
    *,
    runner: Runner,
    store: Store,
    client: WebClient,
    refresher: VoteRefresher,
    after_ack: ThreadPoolExecutor,
    metrics: Metrics,
    closer: Closer,
    installations: Installations | None = None,
) -> App:
    """The Bolt app with its listeners. Request signatures are verified in HTTP mode. With `installations`
    (OAuth) each request is answered with its own workspace's token."""
    logs.install()  # before Bolt makes its loggers: no request body or response_url is ever logged
    later = Later(after_ack, quiet=runner.ack_first.wait_quiet)
    not_installed = NotInstalled(installations, later.say) if installations is not None else None
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret or None,
        request_verification_enabled=not settings.socket_mode,
        # Right after signature verification: a payload the listeners cannot read gets a 400, not a 500;
        # with OAuth, a workspace without an installation gets told so.
        before_authorize=WellFormed(then=not_installed),
        # Listeners are quick (parse, a SQLite write, hand-off to a pool) and make no Slack call (those go
        # to `after_ack`), so they run in the request's own thread and answer when done: no executor hop,
        # no polling for the ack, and a click is in the database before Slack hears back.
        process_before_response=True,
        **bolt_options(settings, installations),
    )
    if installations is not None:
        app.enable_token_revocation_listeners()  # app_uninstalled, tokens_revoked: delete the workspace's tokens
    failures.register(app, later)
    app.use(handing(Tools(runner, store, later, refresher, metrics, closer, settings.max_task_chars)))
    register_all(app)
    return app


def build(
    settings: Settings,
    anthropic_client: anthropic.Anthropic | None = None,
) -> Services:
    """Wire the real clients from settings. Without an injected Anthropic client the SDK's own is built,
    which reads ANTHROPIC_BASE_URL itself."""
    metrics = Metrics()
    store = Store(settings.db_path)
    client_id = settings.slack_client_id
    installations = Installations(installations_path(settings.db_path), client_id) if client_id else None
    client = make_slack_client(settings, metrics)  # with OAuth it holds no token: each workspace's copies it
    # The outbox does its own retrying, per message, so its client does none.
    outbox_client = WebClient(
        token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=30, retry_handlers=[]
    )
    budget = UpdateBudget(interval=settings.update_interval, per_minute=settings.updates_per_minute)
    outbox = Outbox(
        clients_for(installations, outbox_client),
        budget,
        policy=Policy(deadline=settings.slack_deadline),
        metrics=metrics,
    )
    workers = ThreadPoolExecutor(settings.worker_threads, thread_name_prefix="worker")
    runs = ThreadPoolExecutor(settings.run_threads, thread_name_prefix="run")
    after_ack = ThreadPoolExecutor(AFTER_ACK_THREADS, thread_name_prefix="after-ack")
    engine = Engine(
        LLM(anthropic_client or make_client(), on_retry=lambda model: metrics.model_retries.inc()),
        workers,
        orchestrator_model=settings.orchestrator_model,
        worker_model=settings.worker_model,
    )
    in_flight = InFlight()
    slack_for = clients_for(installations, client)
    streams = Streams(
        outbox.slack_for,  # no retries: a 429 defers that one stream, no thread sleeps
        UpdateBudget(interval=settings.update_interval, per_minute=APPENDS_PER_MINUTE),
        channels=settings.stream_channels,
        retry_after_cap=outbox.policy.retry_after_cap,
        metrics=metrics,
    )
    delivery = Delivery(store, metrics, streams, settings.prices)
    memory = TeamMemory(store, enabled=settings.team_memory)
    stopping = Stops()
    sessions = Sessions(slack_for, metrics)
    reporter = Reporter(engine, store, slack_for, outbox, in_flight, metrics, delivery, memory, stopping, sessions)
    followups = FollowUps(engine, store, slack_for, outbox, delivery, in_flight, stopping, sessions)
    closer = Closer(store, outbox, settings.voting_hours, sessions)
    recovery = Recovery(
        store,
        slack_for,
        outbox,
        delivery,
        in_flight,
        beat=settings.heartbeat,
        stale_after=settings.stale_after,
        closer=closer,
        stops=stopping,
    )
    store.tickets.stale_after = settings.stale_after  # a process silent this long is gone, its tickets with it
    limits = Limits(per_user=settings.max_runs_per_user, per_workspace=settings.max_runs_per_workspace)
    admission = Admission(limits, store.tickets)
    ack_first = AckFirst()
    runner = Runner(reporter, followups, recovery, admission, runs, ack_first, stopping)
    refresher = VoteRefresher(store, outbox)
    app = create_app(
        settings,
        runner=runner,
        store=store,
        client=client,
        refresher=refresher,
        after_ack=after_ack,
        metrics=metrics,
        installations=installations,
        closer=closer,
    )
    recovery.start()  # once the app could be built (Bolt checks the bot token): nothing to recover otherwise
    return Services(app, runner, store, outbox, ack_first, runs, workers, after_ack, metrics, streams, sessions)
