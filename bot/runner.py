"""Runs one `/variations` request end to end: engine events in, Slack messages and database rows out.

A run never runs in a request thread: `Runner.start` hands it to a bounded pool and returns, so the
slash command's ack never waits. Everything the engine produces is written to the database before it
is posted, so a Slack failure loses no text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.blocks import (
    Message,
    Progress,
    analysis_message,
    failed_variation_message,
    parent_message,
    plan_failed_message,
    stored_variation_messages,
)
from bot.store import Store, now
from orchestrator.engine import (
    AnalysisReady,
    Engine,
    PlanError,
    Planned,
    Request,
    RunFinished,
    WorkerFinished,
    WorkerResult,
    WorkerStarted,
)
from orchestrator.parsing import Approach

log = logging.getLogger(__name__)

CANNOT_POST = {
    "channel_not_found": ("I can't see this channel. If it's private, invite me first with `/invite @Variations`."),
    "not_in_channel": "I'm not in this channel. Invite me with `/invite @Variations` and try again.",
    "is_archived": "This channel is archived, so I can't post the variations here.",
}


@dataclass(frozen=True)
class Origin:
    """Where a request came from and where its answer goes."""

    team_id: str
    channel_id: str
    user_id: str
    response_url: str | None = None


@dataclass
class _Thread:
    """A run's Slack state while it lasts."""

    run_id: int
    origin: Origin
    task: str
    context: Mapping[str, str]
    parent_ts: str
    started: float
    analysis_ts: str | None = None
    total: int = 0
    variation_ids: dict[int, int] = field(default_factory=dict)
    results: dict[int, WorkerResult] = field(default_factory=dict)


class Runner:
    def __init__(self, engine: Engine, store: Store, client: WebClient, executor: Executor) -> None:
        self.engine = engine
        self.store = store
        self.client = client
        self.executor = executor

    def start(self, origin: Origin, task: str, context: Mapping[str, str]) -> None:
        """Queue the run and return at once."""
        self.executor.submit(self._run_safely, origin, task, dict(context))

    def _run_safely(self, origin: Origin, task: str, context: dict[str, str]) -> None:
        try:
            self.run(origin, task, context)
        except Exception:
            log.exception("run crashed for %s in %s", origin.user_id, origin.channel_id)

    def run(self, origin: Origin, task: str, context: Mapping[str, str]) -> None:
        """The whole run, in the calling thread."""
        run_id = self.store.create_run(
            team_id=origin.team_id,
            channel_id=origin.channel_id,
            user_id=origin.user_id,
            task=task,
            context=context,
            orchestrator_model=self.engine.orchestrator_model,
            worker_model=self.engine.worker_model,
        )
        started = time.monotonic()
        try:
            posted = self.client.chat_postMessage(
                channel=origin.channel_id,
                **parent_message(origin.user_id, task, context, Progress("planning")),
            )
        except SlackApiError as error:
            reason = str(error.response.get("error", "unknown_error"))
            self.store.update_run(run_id, status="failed", error=f"slack: {reason}", finished_at=now())
            self._tell_requester(origin, CANNOT_POST.get(reason, f"I couldn't post in this channel ({reason})."))
            return
        thread = _Thread(run_id, origin, task, context, str(posted["ts"]), started)
        self.store.update_run(run_id, message_ts=thread.parent_ts, status="running")
        try:
            for event in self.engine.run(Request(task=task, context=context)):
                if isinstance(event, AnalysisReady):
                    self._on_analysis(thread, event.analysis)
                elif isinstance(event, WorkerStarted):
                    self._variation_id(thread, event.index, event.approach)
                elif isinstance(event, WorkerFinished):
                    self._on_worker_finished(thread, event.result)
                elif isinstance(event, Planned):
                    self._on_planned(thread, event)
                elif isinstance(event, RunFinished):
                    self._on_run_finished(thread, event)
        except PlanError as error:
            self.store.update_run(
                run_id,
                status="failed",
                error=str(error),
                finished_at=now(),
                seconds=time.monotonic() - started,
            )
            self._reply(thread, plan_failed_message(str(error)))
            self._update_parent(thread, Progress("failed", error="no approaches could be planned"))

    # events

    def _on_analysis(self, thread: _Thread, analysis: str) -> None:
        self.store.update_run(thread.run_id, analysis=analysis)
        thread.analysis_ts = self._reply(thread, analysis_message(analysis))

    def _on_planned(self, thread: _Thread, planned: Planned) -> None:
        plan, completion = planned.plan, planned.completion
        thread.total = len(plan.approaches)
        self.store.update_run(
            thread.run_id,
            analysis=plan.analysis,
            plan_seconds=completion.seconds,
            input_tokens=completion.usage.input_tokens,
            output_tokens=completion.usage.output_tokens,
        )
        message = analysis_message(plan.analysis, plan.approaches)
        if thread.analysis_ts is None:
            thread.analysis_ts = self._reply(thread, message)
        else:
            self._update(thread.origin.channel_id, thread.analysis_ts, message)
        self._update_parent(thread, self._progress(thread))

    def _on_worker_finished(self, thread: _Thread, result: WorkerResult) -> None:
        variation_id = self._variation_id(thread, result.index, result.approach)
        thread.results[result.index] = result
        self.store.update_variation(
            variation_id,
            text=result.text,
            status="done" if result.ok else "failed",
            error=result.error,
            model=result.model,
            seconds=result.seconds,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            stop_reason=result.stop_reason,
            finished_at=now(),
        )
        if result.ok:
            row = self.store.variation(variation_id)
            assert row is not None
            last_ts = None
            for message in stored_variation_messages(row):
                last_ts = self._reply(thread, message)
            # The ts of the message holding the buttons: votes update that one.
            self.store.update_variation(variation_id, message_ts=last_ts)
        else:
            ts = self._reply(thread, failed_variation_message(result.index, result.approach, result.error or ""))
            self.store.update_variation(variation_id, message_ts=ts)
        if thread.total:
            self._update_parent(thread, self._progress(thread))

    def _on_run_finished(self, thread: _Thread, finished: RunFinished) -> None:
        result = finished.result
        self.store.update_run(
            thread.run_id,
            status=result.status,
            finished_at=now(),
            seconds=result.seconds,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
        )
        failed = sum(not r.ok for r in result.results)
        self._update_parent(
            thread,
            Progress(
                result.status,
                total=len(result.results),
                finished=len(result.results),
                failed=failed,
                seconds=result.seconds,
                tokens=result.usage.total,
            ),
        )

    # helpers

    def _variation_id(self, thread: _Thread, index: int, approach: Approach) -> int:
        if index not in thread.variation_ids:
            thread.variation_ids[index] = self.store.add_variation(
                thread.run_id, index, approach.type, approach.description
            )
        return thread.variation_ids[index]

    def _progress(self, thread: _Thread) -> Progress:
        return Progress(
            "writing",
            total=thread.total,
            finished=len(thread.results),
            failed=sum(not r.ok for r in thread.results.values()),
            seconds=time.monotonic() - thread.started,
        )

    def _reply(self, thread: _Thread, message: Message) -> str | None:
        """Post in the run's thread; a Slack failure is logged, the run goes on (the text is stored)."""
        try:
            response = self.client.chat_postMessage(
                channel=thread.origin.channel_id, thread_ts=thread.parent_ts, **message
            )
        except SlackApiError as error:
            log.error("run %s: posting a reply failed: %s", thread.run_id, error.response.get("error"))
            return None
        return str(response["ts"])

    def _update(self, channel_id: str, ts: str, message: Message) -> None:
        try:
            self.client.chat_update(channel=channel_id, ts=ts, **message)
        except SlackApiError as error:
            log.error("updating message %s failed: %s", ts, error.response.get("error"))

    def _update_parent(self, thread: _Thread, progress: Progress) -> None:
        message = parent_message(thread.origin.user_id, thread.task, thread.context, progress)
        self._update(thread.origin.channel_id, thread.parent_ts, message)

    def _tell_requester(self, origin: Origin, text: str) -> None:
        """An ephemeral note through the command's response_url (works where the bot cannot post)."""
        if origin.response_url is None:
            log.warning("cannot tell %s: %s", origin.user_id, text)
            return
        try:
            WebhookClient(origin.response_url).send(text=text, response_type="ephemeral")
        except Exception:
            log.exception("response_url failed for %s", origin.user_id)
