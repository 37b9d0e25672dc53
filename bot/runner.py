"""Runs one `/variations` request end to end: engine events in, Slack messages and database rows out.

A run never runs in a request thread: `Runner.start` hands it to a bounded pool and returns, so the
slash command's ack never waits. Everything the engine produces is written to the database before it
is posted, so a Slack failure loses no text.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.blocks import (
    Message,
    Progress,
    analysis_message,
    failed_variation_message,
    interrupted_message,
    numbered,
    parent_message,
    plan_failed_message,
    stored_variation_messages,
    writing_message,
)
from bot.priority import AckFirst
from bot.render import stored_parent
from bot.store import Store, Tally, now
from bot.throttle import LiveUpdates
from orchestrator.engine import (
    MAX_APPROACHES,
    MIN_APPROACHES,
    SYNTHESIS,
    AnalysisDelta,
    AnalysisReady,
    Engine,
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
from orchestrator.prompts import Candidate, Revision

log = logging.getLogger(__name__)

SYNTHESIS_INPUTS = 3  # the best-voted variations a synthesis combines

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


@dataclass(frozen=True)
class Limits:
    """Runs being written at once, per person and per workspace: one person cannot use up the model quota."""

    per_user: int = 2
    per_workspace: int = 20


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
    plan_tokens: int = 0
    variation_ids: dict[int, int] = field(default_factory=dict)
    variation_ts: dict[int, str | None] = field(default_factory=dict)
    approaches: dict[int, Approach] = field(default_factory=dict)
    results: dict[int, WorkerResult] = field(default_factory=dict)


class Runner:
    """Reports runs into Slack threads; live text is streamed by rewriting messages through `live`."""

    def __init__(
        self,
        engine: Engine,
        store: Store,
        client: WebClient,
        executor: Executor,
        live: LiveUpdates,
        ack_first: AckFirst,
        limits: Limits,
    ) -> None:
        self.engine = engine
        self.store = store
        self.client = client
        self.executor = executor
        self.live = live
        self.ack_first = ack_first
        self.limits = limits
        self._busy_lock = threading.Lock()
        self._in_flight: set[tuple[str, int]] = set()
        self._per_user: Counter[tuple[str, str]] = Counter()
        self._per_team: Counter[str] = Counter()

    def start(self, origin: Origin, task: str, context: Mapping[str, str], approaches: int | None = None) -> str | None:
        """Queue the run and return at once; `approaches` asks for exactly that many, None lets the
        orchestrator choose within 2-5. Returns why the run was refused (over a limit), else None."""
        user, team = (origin.team_id, origin.user_id), origin.team_id
        with self._busy_lock:
            if self._per_user[user] >= self.limits.per_user:
                return (
                    f"You already have {self._per_user[user]} runs being written (the limit is "
                    f"{self.limits.per_user}). Try again when one of them is done."
                )
            if self._per_team[team] >= self.limits.per_workspace:
                return (
                    f"This workspace already has {self._per_team[team]} runs being written (the limit is "
                    f"{self.limits.per_workspace}). Try again in a minute."
                )
            self._per_user[user] += 1
            self._per_team[team] += 1

        def release() -> None:
            with self._busy_lock:
                self._per_user[user] -= 1
                self._per_team[team] -= 1

        self._submit(self.run, origin, task, dict(context), approaches, done=release)
        return None

    def synthesize(self, run_id: int) -> bool:
        """Queue a synthesis of the run's best-voted variations (all of them when nobody voted).
        False when one is already being written for this run (a double click)."""
        return self._once(("synthesis", run_id), self._synthesize, run_id)

    def retry(self, variation_id: int) -> bool:
        """Queue another try of a failed approach, in place. False when one is already under way."""
        return self._once(("retry", variation_id), self._retry, variation_id)

    def _once(self, key: tuple[str, int], job: Callable[[int], None], arg: int) -> bool:
        """Queue `job(arg)` unless the same job is still queued or running (double clicks)."""
        with self._busy_lock:
            if key in self._in_flight:
                return False
            self._in_flight.add(key)

        def release() -> None:
            with self._busy_lock:
                self._in_flight.discard(key)

        self._submit(job, arg, done=release)
        return True

    def regenerate(self, variation_id: int, instruction: str) -> None:
        """Queue a new version of one approach, following `instruction` (may be empty)."""
        self._submit(self._regenerate, variation_id, instruction)

    def _submit(self, job: Callable[..., None], *args: Any, done: Callable[[], None] | None = None) -> None:
        def safely() -> None:
            self.ack_first.wait_quiet()
            try:
                job(*args)
            except Exception:
                log.exception("%s%r crashed", job.__name__, args)
            finally:
                if done is not None:
                    done()

        self.executor.submit(safely)

    def run(self, origin: Origin, task: str, context: Mapping[str, str], approaches: int | None = None) -> None:
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
            explanation = CANNOT_POST.get(reason, f"I couldn't post in this channel ({reason}).")
            self._tell_requester(origin, explanation)
            return
        thread = _Thread(run_id, origin, task, context, str(posted["ts"]), started)
        self.store.update_run(run_id, message_ts=thread.parent_ts, status="running")
        log.info(
            "run=%d step=started team=%s channel=%s user=%s task_chars=%d context_keys=%d",
            run_id,
            origin.team_id,
            origin.channel_id,
            origin.user_id,
            len(task),
            len(context),
        )
        try:
            low, high = (approaches, approaches) if approaches else (MIN_APPROACHES, MAX_APPROACHES)
            request = Request(task=task, context=context, min_approaches=low, max_approaches=high)
            for event in self.engine.run(request):
                self._on_event(thread, event)
        except PlanError as error:
            self._on_plan_failed(thread, error)
        finally:
            for ts in (thread.parent_ts, thread.analysis_ts, *thread.variation_ts.values()):
                if ts is not None:
                    self.live.forget(ts)

    def _on_plan_failed(self, thread: _Thread, error: PlanError) -> None:
        seconds = time.monotonic() - thread.started
        log.warning("run=%d step=plan_failed seconds=%.2f error=%r", thread.run_id, seconds, str(error))
        self.store.update_run(thread.run_id, status="failed", error=str(error), finished_at=now(), seconds=seconds)
        self._drop_analysis(thread)  # a plan that failed leaves no half-written analysis behind
        self._reply(thread, plan_failed_message(str(error)))
        self._update_parent(thread, None)

    # events

    def _on_event(self, thread: _Thread, event: Event) -> None:
        if isinstance(event, AnalysisDelta):
            if thread.analysis_ts is not None or event.text:  # nothing to show before its first words
                self._show_analysis(thread, lambda: analysis_message(event.text, writing=True), final=False)
        elif isinstance(event, PlanRetrying):
            log.info("run=%d step=plan_retry reason=%r", thread.run_id, event.reason)
            self._drop_analysis(thread)
        elif isinstance(event, AnalysisReady):
            self.store.update_run(thread.run_id, analysis=event.analysis)
            self._show_analysis(thread, lambda: analysis_message(event.analysis), final=True)
        elif isinstance(event, WorkerStarted):
            self._on_worker_started(thread, event.index, event.approach)
        elif isinstance(event, WorkerDelta):
            ts = thread.variation_ts.get(event.index)
            if ts is not None:
                approach = thread.approaches[event.index]
                self._update(thread, ts, lambda: writing_message(event.index, approach, event.text), final=False)
        elif isinstance(event, WorkerFinished):
            self._on_worker_finished(thread, event.result)
        elif isinstance(event, Planned):
            self._on_planned(thread, event)
        elif isinstance(event, RunFinished):
            self._on_run_finished(thread, event)

    def _drop_analysis(self, thread: _Thread) -> None:
        """Delete the analysis shown so far (an attempt that is being retried or that failed)."""
        ts, thread.analysis_ts = thread.analysis_ts, None
        if ts is None:
            return
        self.live.forget(ts)
        try:
            self.client.chat_delete(channel=thread.origin.channel_id, ts=ts)
        except SlackApiError as error:
            log.error("run %s: deleting the analysis failed: %s", thread.run_id, error.response.get("error"))

    def _show_analysis(self, thread: _Thread, build: Callable[[], Message], *, final: bool) -> None:
        """Post the analysis reply on its first text (that is the first thing people see), then rewrite
        it within the budget while it streams, and always once it is complete."""
        if thread.analysis_ts is None:
            thread.analysis_ts = self._reply(thread, build())
        else:
            self._update(thread, thread.analysis_ts, build, final=final)

    def _on_planned(self, thread: _Thread, planned: Planned) -> None:
        plan, completion = planned.plan, planned.completion
        log.info(
            "run=%d step=planned approaches=%d seconds=%.2f input_tokens=%d output_tokens=%d",
            thread.run_id,
            len(plan.approaches),
            completion.seconds,
            completion.usage.input_tokens,
            completion.usage.output_tokens,
        )
        thread.total = len(plan.approaches)
        thread.plan_tokens = completion.usage.total
        self.store.update_run(
            thread.run_id,
            analysis=plan.analysis,
            plan_seconds=completion.seconds,
            input_tokens=completion.usage.input_tokens,
            output_tokens=completion.usage.output_tokens,
        )
        self._show_analysis(thread, lambda: analysis_message(plan.analysis, plan.approaches), final=True)
        self._update_parent(thread, self._progress(thread))

    def _on_worker_started(self, thread: _Thread, index: int, approach: Approach) -> None:
        variation_id = self._variation_id(thread, index, approach)
        ts = thread.variation_ts[index] = self._reply(thread, writing_message(index, approach))
        # Known at once, so that after a crash the restart can tell this message it was interrupted.
        self.store.update_variation(variation_id, message_ts=ts)

    def _on_worker_finished(self, thread: _Thread, result: WorkerResult) -> None:
        variation_id = self._variation_id(thread, result.index, result.approach)
        thread.results[result.index] = result
        log.info(
            "run=%d step=variation position=%d type=%s status=%s seconds=%.2f input_tokens=%d output_tokens=%d%s",
            thread.run_id,
            result.index,
            result.approach.type,
            "done" if result.ok else "failed",
            result.seconds,
            result.usage.input_tokens,
            result.usage.output_tokens,
            f" error={result.error!r}" if result.error else "",
        )
        # Stored before it is shown: a Slack failure below loses no text.
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
        row = self.store.variation(variation_id)
        assert row is not None
        if result.ok:
            messages = stored_variation_messages(row)
        else:
            note = row["instruction"]
            messages = [failed_variation_message(numbered(row), result.approach, result.error or "", note, row["id"])]
        placeholder = thread.variation_ts.get(result.index)
        if placeholder is not None:
            self._update(thread, placeholder, lambda: messages[0], final=True)
            last_ts: str | None = placeholder
        else:
            last_ts = self._reply(thread, messages[0])
        for message in messages[1:]:
            last_ts = self._reply(thread, message)
        # The message holding the buttons (the last one): votes rewrite that one.
        self.store.update_variation(variation_id, message_ts=last_ts)
        if thread.total:
            self._update_parent(thread, self._progress(thread), live=True)

    def _on_run_finished(self, thread: _Thread, finished: RunFinished) -> None:
        result = finished.result
        log.info(
            "run=%d step=finished status=%s seconds=%.2f input_tokens=%d output_tokens=%d",
            thread.run_id,
            result.status,
            result.seconds,
            result.usage.input_tokens,
            result.usage.output_tokens,
        )
        self.store.update_run(
            thread.run_id,
            status=result.status,
            finished_at=now(),
            seconds=result.seconds,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
        )
        self._update_parent(thread, None)

    # follow-ups: a synthesis, a new version of one approach

    def _candidates(self, run_id: int) -> list[Candidate]:
        """What a synthesis combines: the best-voted written variations (positive net votes, at most
        SYNTHESIS_INPUTS, best first), or all written ones when none has any."""
        tallies = self.store.tallies(run_id)
        written = [v for v in self.store.variations(run_id) if v["status"] == "done" and v["type"] != SYNTHESIS]

        def net(row: Mapping[str, Any]) -> int:
            return tallies.get(row["id"], Tally()).net

        liked = sorted((v for v in written if net(v) > 0), key=net, reverse=True)[:SYNTHESIS_INPUTS]
        return [Candidate(Approach(v["type"], v["description"] or ""), v["text"], net(v)) for v in liked or written]

    def _writer(
        self, row: Mapping[str, Any], request: Request, candidates: list[Candidate] | None = None
    ) -> Callable[[int, Callable[[str], None]], WorkerResult]:
        """How the variation of `row` is written: a synthesis from `candidates` (recomputed when not
        given), a new version from the text it replaces, or the planned approach itself."""
        if row["type"] == SYNTHESIS:
            inputs = candidates if candidates is not None else self._candidates(row["run_id"])
            return lambda index, on_reply: self.engine.synthesize(request, index, inputs, on_reply)
        approach = Approach(row["type"], row["description"] or "")
        revision = None
        if row["regenerated_from"] is not None:
            old = self.store.variation(row["regenerated_from"])
            revision = Revision((old or {}).get("text") or "", row["instruction"] or "")
        return lambda index, on_reply: self.engine.write(request, index, approach, on_reply, revision)

    def _synthesize(self, run_id: int) -> None:
        candidates = self._candidates(run_id)
        liked = any(c.net_votes > 0 for c in candidates)
        brief = f"Combines {len(candidates)} variations, " + ("best-voted first" if liked else "no votes yet")
        self._follow_up(run_id, Approach(SYNTHESIS, brief), candidates=candidates)

    def _regenerate(self, variation_id: int, instruction: str) -> None:
        old = self.store.variation(variation_id)
        assert old is not None, f"no variation {variation_id}"
        approach = Approach(old["type"], old["description"] or "")
        self._follow_up(old["run_id"], approach, regenerated_from=variation_id, instruction=instruction.strip() or None)

    def _follow_up(
        self,
        run_id: int,
        approach: Approach,
        *,
        regenerated_from: int | None = None,
        instruction: str | None = None,
        candidates: list[Candidate] | None = None,
    ) -> None:
        """Write one more variation into a finished run's thread, streamed like the others."""
        thread, request = self._thread_of(run_id)
        variation_id = self.store.add_variation(
            thread.run_id,
            None,
            approach.type,
            approach.description,
            regenerated_from=regenerated_from,
            instruction=instruction,
        )
        row = self.store.variation(variation_id)
        assert row is not None
        ts = self._reply(thread, writing_message(None, approach, note=instruction))
        self._write_into(thread, row, ts, self._writer(row, request, candidates))

    def _retry(self, variation_id: int) -> None:
        """Write a failed variation again, into its own row and message."""
        row = self.store.variation(variation_id)
        assert row is not None, f"no variation {variation_id}"
        thread, request = self._thread_of(row["run_id"])
        self.store.update_variation(variation_id, status="writing", error=None)
        ts = row["message_ts"]
        if ts is not None:
            approach = Approach(row["type"], row["description"] or "")
            placeholder = writing_message(numbered(row), approach, note=row["instruction"])
            self._update(thread, ts, lambda: placeholder, final=True)
        self._write_into(thread, row, ts, self._writer(row, request))
        self._settle(row["run_id"])
        self._update_parent(thread, None)

    def _write_into(
        self,
        thread: _Thread,
        row: Mapping[str, Any],
        ts: str | None,
        write: Callable[[int, Callable[[str], None]], WorkerResult],
    ) -> None:
        """Write the variation of `row` (streamed into message `ts`) and finish it like any other."""
        index = row["position"]
        approach = Approach(row["type"], row["description"] or "")
        thread.variation_ids[index] = row["id"]
        thread.approaches[index] = approach
        thread.variation_ts[index] = ts
        position, note = numbered(row), row["instruction"]

        def on_reply(raw: str) -> None:
            if ts is not None:
                live = WorkerDelta(index, raw)
                self._update(thread, ts, lambda: writing_message(position, approach, live.text, note), final=False)

        try:
            result = write(index, on_reply)
            self._on_worker_finished(thread, result)
            self.store.add_run_tokens(thread.run_id, result.usage.input_tokens, result.usage.output_tokens)
            self._update_parent(thread, None)
        finally:
            if ts is not None:
                self.live.forget(ts)

    def _settle(self, run_id: int) -> None:
        """After a retry, a run whose planned approaches are now all written is done (else partial)."""
        run = self.store.run(run_id)
        planned = [v for v in self.store.variations(run_id) if numbered(v) is not None]
        if run is None or run["status"] not in ("partial", "interrupted") or not planned:
            return
        written = sum(v["status"] == "done" for v in planned)
        status = "done" if written == len(planned) else "partial" if written else run["status"]
        self.store.update_run(run_id, status=status)

    def recover_interrupted(self) -> int:
        """After a restart: runs and variations the last process left being written are marked
        `interrupted`, and their messages say so (with a Retry button on each unfinished approach).
        Returns how many runs were interrupted."""
        runs = [r for (r,) in self.store.query("select id from runs where status in ('planning', 'running')")]
        writing: dict[int, list[dict[str, Any]]] = {}
        for (variation_id,) in self.store.query("select id from variations where status = 'writing'"):
            row = self.store.variation(variation_id)
            assert row is not None
            writing.setdefault(row["run_id"], []).append(row)
        reason = "Interrupted: the app restarted while this was being written."
        for run_id in runs:
            self.store.update_run(run_id, status="interrupted", error=reason, finished_at=now())
            log.warning("run=%d step=interrupted", run_id)
        for rows in writing.values():
            for row in rows:
                self.store.update_variation(row["id"], status="interrupted", error=reason, finished_at=now())
        for run_id in sorted(set(runs) | set(writing)):
            thread, _ = self._thread_of(run_id)
            if thread.parent_ts is None:
                continue  # its parent message was never posted: nothing to tell
            for row in writing.get(run_id, []):
                if row["message_ts"]:
                    approach = Approach(row["type"], row["description"] or "")
                    message = failed_variation_message(numbered(row), approach, reason, row["instruction"], row["id"])
                    self._update(thread, row["message_ts"], lambda message=message: message, final=True)
            if run_id in runs:
                self._reply(thread, interrupted_message())
            self._update_parent(thread, None)
        return len(runs)

    def _thread_of(self, run_id: int) -> tuple[_Thread, Request]:
        """A finished run's Slack state and request, from the database."""
        run = self.store.run(run_id)
        assert run is not None, f"no run {run_id}"
        origin = Origin(run["team_id"], run["channel_id"], run["user_id"])
        context = json.loads(run["context"] or "{}")
        thread = _Thread(run_id, origin, run["task"], context, run["message_ts"], time.monotonic())
        return thread, Request(task=run["task"], context=context)

    # helpers

    def _variation_id(self, thread: _Thread, index: int, approach: Approach) -> int:
        if index not in thread.variation_ids:
            thread.approaches[index] = approach
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
            tokens=thread.plan_tokens + sum(r.usage.total for r in thread.results.values()),
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
        ts = str(response["ts"])
        self.live.budget.spend(ts)  # its first live update waits a full interval
        return ts

    def _update(self, thread: _Thread, ts: str, build: Callable[[], Message], *, final: bool) -> None:
        """Rewrite a message: a final state at once, a live one coalesced within the update budget.
        `build` runs only when the update is really sent, so skipped live states cost nothing."""

        def send() -> None:
            try:
                self.client.chat_update(channel=thread.origin.channel_id, ts=ts, **build())
            except SlackApiError as error:
                log.error("run %s: updating message %s failed: %s", thread.run_id, ts, error.response.get("error"))

        if final:
            self.live.final(ts, send)
        else:
            self.live.offer(ts, send)

    def _update_parent(self, thread: _Thread, progress: Progress | None, *, live: bool = False) -> None:
        """Rewrite the parent: with `progress` while the run goes on, else its stored outcome (final)."""
        build = functools.partial(stored_parent, self.store, thread.run_id, progress)
        self._update(thread, thread.parent_ts, build, final=not live)

    def _tell_requester(self, origin: Origin, text: str) -> None:
        """An ephemeral note through the command's response_url (works where the bot cannot post)."""
        if origin.response_url is None:
            log.warning("cannot tell %s: %s", origin.user_id, text)
            return
        try:
            WebhookClient(origin.response_url).send(text=text, response_type="ephemeral")
        except Exception:
            log.exception("response_url failed for %s", origin.user_id)
