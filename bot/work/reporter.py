"""Reports one live run into its Slack thread: engine events in, database rows and messages out.

Everything the engine produces is written to the database before it is shown, so a Slack failure loses
no text; every message's last state goes through the outbox, which retries it, continues it when it is
too long and posts it anew when it cannot be written in place. The parent's final status is sent only
once every variation's final state has been delivered, so "Done" means the thread is complete.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import time

from slack_sdk.errors import SlackApiError

from bot.observe.metrics import Metrics
from bot.render.run_messages import Progress, analysis_message, parent_message, plan_failed_message
from bot.render.variation_messages import failed_variation_message, writing_message
from bot.slack.clients import SlackFor
from bot.slack.outbox import Kind, Outbox, fixed
from bot.slack.run_thread import PLANNING, SlackThread, show_status, tell
from bot.slack.sessions import Sessions
from bot.store.pricing import total
from bot.store.rows import MissingRow, RunStatus
from bot.store.store import Store, now
from bot.store.team_record import TeamMemory
from bot.work.admission import InFlight
from bot.work.asked import Asked
from bot.work.delivery import PURGED, Delivery
from bot.work.live import LiveRun, ignore
from bot.work.stopping import Halt, Job, Stops
from orchestrator.engine import Engine
from orchestrator.events import (
    MAX_APPROACHES,
    MIN_APPROACHES,
    AnalysisDelta,
    AnalysisReady,
    Event,
    PlanError,
    Planned,
    PlanRetrying,
    Request,
    RunFinished,
    WorkerDelta,
    WorkerFinished,
    WorkerResult,
    WorkerStarted,
)
from orchestrator.parsing import Approach

log = logging.getLogger(__name__)

CANNOT_POST = {
    "channel_not_found": "I can't see this channel. If it's private, invite me first with `/invite @Variations`.",
    "not_in_channel": "I'm not in this channel. Invite me with `/invite @Variations` and try again.",
    "is_archived": "This channel is archived, so I can't post the variations here.",
}
NOT_RECORDED = (
    "I couldn't record this request (the app's database is not writable), so nothing was started. "
    "Please tell whoever runs Variations."
)
STORAGE_FAILED = "the app's database could not be written; nothing more can be saved for this run"


class Reporter:
    def __init__(
        self,
        engine: Engine,
        store: Store,
        slack_for: SlackFor,
        outbox: Outbox,
        in_flight: InFlight,
        metrics: Metrics,
        delivery: Delivery,
        memory: TeamMemory,
        stops: Stops,
        sessions: Sessions,
    ) -> None:
        self.engine = engine
        self.store = store
        self.slack_for = slack_for
        self.outbox = outbox
        self.in_flight = in_flight
        self.metrics = metrics
        self.delivery = delivery
        self.memory = memory
        self.stops = stops
        self.sessions = sessions

    def run(self, asked: Asked) -> None:
        """The whole run, in the calling thread (a run pool thread, never a request thread)."""
        origin = asked.origin
        try:
            with self.in_flight.creating():
                run_id = self.store.create_run(
                    team_id=origin.team_id,
                    channel_id=origin.channel_id,
                    user_id=origin.user_id,
                    task=asked.task,
                    context=asked.context,
                    orchestrator_model=self.engine.orchestrator_model,
                    worker_model=self.engine.worker_model,
                    thread_ts=origin.thread_ts,
                    blind=asked.blind,
                )
                self.in_flight.hold(run=run_id)
        except sqlite3.Error as error:
            log.error("step=not_recorded user=%s error=%s", origin.user_id, error)
            tell(origin, NOT_RECORDED, self.slack_for(origin.team_id))
            return
        self.metrics.runs_started.inc()
        try:
            with self.stops.job(run_id, origin.user_id, origin.user_id) as job:
                self._run(run_id, asked, job)
        finally:
            self.in_flight.drop(run=run_id)
            self.metrics.runs_finished.labels(self._status(run_id)).inc()

    def _run(self, run_id: int, asked: Asked, job: Job) -> None:
        started = time.monotonic()
        origin, task, context, blind = asked.origin, asked.task, asked.context, asked.blind
        client = self.slack_for(origin.team_id)
        try:
            posted = client.chat_postMessage(
                channel=origin.channel_id,
                thread_ts=origin.thread_ts,
                **parent_message(origin.user_id, task, context, Progress(RunStatus.PLANNING), stop_run=run_id),
            )
        except (SlackApiError, OSError) as error:
            reason = str(error.response.get("error")) if isinstance(error, SlackApiError) else "no_connection"
            self.store.update_run(run_id, status=RunStatus.FAILED, error=f"slack: {reason}", finished_at=now())
            log.warning("run=%d step=not_posted error=%s", run_id, reason)
            tell(origin, CANNOT_POST.get(reason, f"I couldn't post in this channel ({reason})."), client)
            return
        ts = str(posted["ts"])
        show_status(origin, PLANNING, client)  # in the AI pane, until the plan's first words are posted
        live = LiveRun(
            SlackThread(client, self.outbox, origin.channel_id, ts, run_id, origin.thread_ts, origin.team_id),
            origin,
            task,
            context,
            started,
            job,
            blind=blind,
        )
        if blind:  # where its analysis is shown, so that closing its voting can reveal the plan there
            live.remember_analysis = functools.partial(self._remember_analysis, run_id)
        log.info(
            "run=%d step=started team=%s channel=%s user=%s task_chars=%d context_keys=%d",
            run_id,
            origin.team_id,
            origin.channel_id,
            origin.user_id,
            len(task),
            len(context),
        )
        session = self.sessions.begin(origin.team_id, origin.channel_id, live.slack.root, task, origin.user_id)
        try:
            self.store.update_run(run_id, message_ts=live.slack.ts, status=RunStatus.RUNNING)
            low, high = (asked.approaches,) * 2 if asked.approaches else (MIN_APPROACHES, MAX_APPROACHES)
            record = self.memory.record(origin.team_id, origin.channel_id, fresh=asked.fresh)
            live.remembered = len(record.types)
            request = Request(
                task=task,
                context=context,
                min_approaches=low,
                max_approaches=high,
                record=record,
                catalogue=self.memory.catalogue(origin.team_id),
                cancel=job.cancel,
            )
            for event in self.engine.run(request):
                self._on_event(live, event)
        except PlanError as error:
            if job.halt is not None:
                self._on_halted(live, job.halt)
            else:
                self._on_plan_failed(live, error)
        except sqlite3.Error as error:
            log.error("run=%d step=storage_failed error=%s", live.run_id, error)
            self._stop(live, STORAGE_FAILED)
        except MissingRow:  # purged with --force: ids are never reused, so nothing else was touched
            log.warning("run=%d step=purged_while_running", live.run_id)
            self._stop(live, PURGED)
        finally:
            for variation_id in live.variation_ids.values():
                self.in_flight.drop(variation=variation_id)
            self.sessions.end(session)

    # events

    def _on_event(self, live: LiveRun, event: Event) -> None:
        if isinstance(event, AnalysisDelta):
            live.analysis_raw = event.raw
            # nothing to show before its first words, nor ever in a blind run (it names the approaches)
            if not live.blind and (live.analysis_ts is not None or event.text):
                live.show_analysis(lambda: analysis_message(event.text, writing=True), Kind.LIVE)
        elif isinstance(event, PlanRetrying):
            log.info("run=%d step=plan_retry reason=%r", live.run_id, event.reason)
            live.drop_analysis()
        elif isinstance(event, AnalysisReady):
            live.analysis_final = True
            self.store.update_run(live.run_id, analysis=event.analysis)
            final = analysis_message(event.analysis, remembered=live.remembered, blind=live.blind)
            live.show_analysis(lambda: final, Kind.FINAL)
        elif isinstance(event, WorkerStarted):
            self._on_worker_started(live, event.index, event.approach)
        elif isinstance(event, WorkerDelta):
            ts = live.variation_ts.get(event.index)
            if event.index in live.streams:
                live.streams[event.index].write(event.text)
            elif ts is not None:
                approach = live.approaches[event.index]
                label = live.label(event.index)
                live.slack.update(
                    ts, lambda: [writing_message(event.index, approach, event.text, label=label)], Kind.LIVE
                )
        elif isinstance(event, WorkerFinished):
            self._on_worker_finished(live, event.result)
        elif isinstance(event, Planned):
            self._on_planned(live, event)
        elif isinstance(event, RunFinished):
            self._on_run_finished(live, event)

    def _on_plan_failed(self, live: LiveRun, error: PlanError) -> None:
        self.metrics.model_calls.labels("orchestrator", "error").inc()
        seconds = time.monotonic() - live.started
        log.warning("run=%d step=plan_failed seconds=%.2f error=%r", live.run_id, seconds, str(error))
        self.store.update_run(
            live.run_id, status=RunStatus.FAILED, error=str(error), finished_at=now(), seconds=seconds
        )
        if live.variation_ids:  # approaches were already being written: their text stays
            self._finish_unfinished(live, str(error))
        else:
            live.drop_analysis()  # a plan that failed leaves no half-written analysis behind
        live.deliveries.append(
            live.slack.finish(
                ("plan_failed", live.run_id), None, [plan_failed_message(str(error))], on_moved=ignore, on_lost=ignore
            )
        )
        self._end(live)

    def _on_planned(self, live: LiveRun, planned: Planned) -> None:
        plan, completion = planned.plan, planned.completion
        log.info(
            "run=%d step=planned approaches=%d seconds=%.2f input_tokens=%d output_tokens=%d",
            live.run_id,
            len(plan.approaches),
            completion.seconds,
            completion.usage.input_tokens,
            completion.usage.output_tokens,
        )
        live.total = len(plan.approaches)
        live.analysis_final = True
        live.plan_tokens = completion.usage.total
        live.plan_cost = self.delivery.cost(completion.model, completion.usage)
        self.delivery.count_call("orchestrator", True, completion.usage)
        self.store.update_run(
            live.run_id,
            analysis=plan.analysis,
            plan_seconds=completion.seconds,
            input_tokens=completion.usage.input_tokens,
            output_tokens=completion.usage.output_tokens,
            cost_usd=live.plan_cost,
        )
        final = analysis_message(
            plan.analysis, plan.approaches, cut_short=plan.cut_short, remembered=live.remembered, blind=live.blind
        )
        live.show_analysis(lambda: final, Kind.FINAL)
        self.delivery.update_parent(live.slack, self._progress(live), Kind.LIVE)

    def _on_worker_started(self, live: LiveRun, index: int, approach: Approach) -> None:
        variation_id = self._variation_id(live, index, approach)
        label = live.label(index)
        stream = self.delivery.open_stream(live.slack, live.origin.user_id, index, approach, label=label)
        if stream is not None:
            live.streams[index] = stream
        placeholder = writing_message(index, approach, label=label)
        ts = live.variation_ts[index] = stream.ts if stream else live.slack.reply(placeholder)
        # Known at once, so that after a crash the restart can tell this message it was interrupted.
        self.store.update_variation(variation_id, message_ts=ts)

    def _on_worker_finished(self, live: LiveRun, result: WorkerResult) -> None:
        variation_id = self._variation_id(live, result.index, result.approach)
        log.info(
            "run=%d step=variation position=%d type=%s status=%s seconds=%.2f input_tokens=%d output_tokens=%d%s",
            live.run_id,
            result.index,
            result.approach.type,
            "done" if result.ok else "failed",
            result.seconds,
            result.usage.input_tokens,
            result.usage.output_tokens,
            f" error={result.error!r}" if result.error else "",
        )
        placeholder, stream = live.variation_ts.get(result.index), live.streams.get(result.index)
        halt = live.job.halt
        self.delivery.finish_variation(live.slack, variation_id, result, placeholder, live.deliveries, stream, halt)
        live.results[result.index] = result  # only once stored: until then it counts as unfinished
        if live.total:
            self.delivery.update_parent(live.slack, self._progress(live), Kind.LIVE)

    def _remember_analysis(self, run_id: int, ts: str) -> None:
        self.store.update_run(run_id, analysis_ts=ts)

    def _on_run_finished(self, live: LiveRun, finished: RunFinished) -> None:
        result = finished.result
        halt = live.job.halt if result.stopped else None
        status = result.status if halt is None else halt.run_status
        if halt is not None:
            self._halted(live, halt)
        log.info(
            "run=%d step=finished status=%s seconds=%.2f input_tokens=%d output_tokens=%d",
            live.run_id,
            status,
            result.seconds,
            result.usage.input_tokens,
            result.usage.output_tokens,
        )
        self.store.update_run(
            live.run_id,
            status=status,
            finished_at=now(),
            seconds=result.seconds,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            cost_usd=total(
                [self.delivery.cost(result.plan_completion.model, result.plan_completion.usage)]
                + [self.delivery.cost(r.model, r.usage) for r in result.results]
            ),
        )
        self._end(live)

    def _on_halted(self, live: LiveRun, halt: Halt) -> None:
        """Stopped before any approach was planned: the analysis so far stays, the parent says why, and the AI
        pane's "is planning approaches…" goes (no reply came to clear it)."""
        self._halted(live, halt)
        if live.analysis_ts is None:
            show_status(live.origin, "", live.slack.client)
        seconds = time.monotonic() - live.started
        log.info("run=%d step=finished status=%s seconds=%.2f", live.run_id, halt.run_status, seconds)
        self.store.update_run(live.run_id, status=halt.run_status, finished_at=now(), seconds=seconds)
        self._end(live)

    def _halted(self, live: LiveRun, halt: Halt) -> None:
        """A run whose work was cut short (⏹, Slack's stop, a shutdown): logged, who stopped it stored, and
        an analysis still being written shown as far as it got."""
        log.info("run=%d step=%s by=%s", live.run_id, halt.run_status, halt.by or "app")
        if halt.by is not None:
            self.store.update_run(live.run_id, stopped_by=halt.by)
        if live.analysis_ts is not None and not live.analysis_final:
            final = analysis_message(AnalysisDelta(live.analysis_raw).text, blind=live.blind)
            live.show_analysis(lambda: final, Kind.FINAL)

    def _stop(self, live: LiveRun, reason: str) -> None:
        """Nothing more can be stored for this run (the database stopped taking writes, or its rows were
        purged): Slack still shows how the run ended, from what this thread knows, without reading the
        database. Recovery marks the rows, if any, once the database takes writes again."""
        self._finish_unfinished(live, reason)
        progress = Progress(RunStatus.FAILED, error=reason, seconds=time.monotonic() - live.started)
        parent = parent_message(live.origin.user_id, live.task, live.context, progress)
        self.outbox.wait(live.deliveries, timeout=self.outbox.policy.deadline)
        live.slack.update(live.slack.ts, lambda: [parent], Kind.FINAL)

    def _finish_unfinished(self, live: LiveRun, reason: str) -> None:
        """Approaches that were still being written end as failed, in Slack (the text so far is void)."""
        for index, ts in live.variation_ts.items():
            if index in live.results or ts is None:
                continue
            if index in live.streams:
                live.streams[index].finish(None)  # stopped, so that it can be rewritten
            failed = failed_variation_message(index, live.approaches[index], reason, label=live.label(index))
            live.slack.update(ts, fixed(failed), Kind.FINAL)
            live.deliveries.append(ts)

    def _end(self, live: LiveRun) -> None:
        """The parent's final state, once every variation's final state is delivered."""
        self.outbox.wait(live.deliveries, timeout=self.outbox.policy.deadline)
        self.delivery.update_parent(live.slack, None, Kind.FINAL)

    # helpers

    def _status(self, run_id: int) -> str:
        try:
            run = self.store.find_run(run_id)
        except sqlite3.Error:
            return "unknown"
        return run.status if run else "unknown"

    def _variation_id(self, live: LiveRun, index: int, approach: Approach) -> int:
        if index not in live.variation_ids:
            live.approaches[index] = approach
            with self.in_flight.creating():
                variation_id = self.store.add_variation(
                    live.run_id, index, approach.type, approach.description, written_type=approach.written or None
                )
                self.in_flight.hold(variation=variation_id)
            live.variation_ids[index] = variation_id
        return live.variation_ids[index]

    def _progress(self, live: LiveRun) -> Progress:
        return Progress(
            RunStatus.RUNNING,
            total=live.total,
            finished=len(live.results),
            failed=sum(not r.ok for r in live.results.values()),
            seconds=time.monotonic() - live.started,
            tokens=live.plan_tokens + sum(r.usage.total for r in live.results.values()),
            cost=total([live.plan_cost] + [self.delivery.cost(r.model, r.usage) for r in live.results.values()]),
        )
