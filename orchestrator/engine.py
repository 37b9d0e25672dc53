"""Plan a task, run one worker per approach in a thread pool, and report progress as events.

The orchestrator's reply is streamed and parsed as it arrives, so each worker starts as soon as its
`</task>` closes instead of after the whole plan. All progress flows through one queue and comes out of
`Engine.run` as an iterator of events, in the caller's thread: a Slack layer or a terminal can show each
variation the moment it is ready, without needing to be thread-safe itself.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass

from orchestrator.events import (
    AnalysisDelta,
    AnalysisReady,
    Completion,
    Event,
    PlanError,
    Planned,
    PlanRetrying,
    Request,
    RunFinished,
    RunResult,
    Usage,
    WorkerDelta,
    WorkerFinished,
    WorkerResult,
    WorkerStarted,
)
from orchestrator.llm import LLM, Cancelled, LLMError
from orchestrator.parsing import (
    AnalysisParsed,
    Approach,
    ApproachParsed,
    Plan,
    PlanParseError,
    PlanStreamParser,
    preview_analysis,
    preview_response,
)
from orchestrator.prompts import (
    orchestrator_prompt,
    worker_prompt,
)
from orchestrator.workers import STOPPED, Accumulator, Workers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _PlanFailed:
    error: PlanError


@dataclass(frozen=True)
class _Stop:
    """The request was cancelled: `Engine.run` ends now, whatever its threads still report."""


_Events = queue.Queue[Event | _PlanFailed | _Stop]


class Engine:
    """The orchestrator-workers pattern over an injected LLM and a shared, bounded executor."""

    def __init__(
        self,
        llm: LLM,
        executor: Executor,
        *,
        orchestrator_model: str,
        worker_model: str,
        plan_max_tokens: int = 2048,
        worker_max_tokens: int = 4096,
    ) -> None:
        self.llm = llm
        self.executor = executor
        self.orchestrator_model = orchestrator_model
        self.worker_model = worker_model
        self.plan_max_tokens = plan_max_tokens
        self.worker_max_tokens = worker_max_tokens
        # one variation at a time (a new version, a synthesis, a follow-up): `engine.workers.write(...)`
        self.workers = Workers(llm, executor, worker_model=worker_model, max_tokens=worker_max_tokens)

    def run(self, request: Request) -> Iterator[Event]:
        """Yield AnalysisDelta…AnalysisReady, WorkerStarted/WorkerDelta…/WorkerFinished per approach,
        Planned, then RunFinished. Deltas carry the whole text so far, so a consumer may skip any of them.
        PlanRetrying may come before a second orchestrator attempt (see there); a worker's WorkerDelta
        with empty `raw` means its reply broke off and starts over.

        Once `request.cancel` is set no model call starts and those under way are closed; the run ends at
        once: a stopped WorkerFinished (with its text so far) for each approach not finished, then
        RunFinished with `stopped`. Late reports of the closed calls are dropped.

        Raises PlanError (from the iterator) when the orchestrator call fails before any approach arrived
        or, asked twice, its reply holds no usable task, or it was cancelled before any approach arrived.
        """
        started = time.monotonic()
        events: _Events = queue.Queue()
        launched: list[Approach] = []
        forget = request.cancel.on_cancel(lambda: events.put(_Stop()))
        try:
            self.executor.submit(self._plan, request, events, launched)
            results: dict[int, WorkerResult] = {}
            written: dict[int, str] = {}  # each worker's reply so far
            planned: Planned | None = None
            analysis = ""
            while planned is None or len(results) < len(planned.plan.approaches):
                event = events.get()
                if isinstance(event, _Stop):
                    yield from _finished_meanwhile(events, results, written)
                    yield from self._stopped(request, started, launched, results, written, planned, analysis)
                    return
                if isinstance(event, _PlanFailed):
                    raise event.error
                if isinstance(event, WorkerFinished):
                    results[event.result.index] = event.result
                elif isinstance(event, WorkerDelta):
                    written[event.index] = event.raw
                elif isinstance(event, AnalysisDelta):
                    analysis = event.raw
                elif isinstance(event, Planned):
                    planned = event
                yield event
        finally:
            forget()
        ordered = tuple(results[index] for index in sorted(results))
        yield RunFinished(
            RunResult(
                request=request,
                plan=planned.plan,
                plan_completion=planned.completion,
                results=ordered,
                seconds=time.monotonic() - started,
                stopped=any(result.stopped for result in ordered),
            )
        )

    def _stopped(
        self,
        request: Request,
        started: float,
        launched: list[Approach],
        results: dict[int, WorkerResult],
        written: dict[int, str],
        planned: Planned | None,
        analysis: str,
    ) -> Iterator[Event]:
        """The end of a cancelled run: every approach not finished is stopped with what it had written."""
        approaches = planned.plan.approaches if planned else tuple(launched)
        if not approaches:
            raise PlanError("Stopped before any approach was planned.")
        for index, approach in enumerate(approaches):
            if index not in results:
                text = preview_response(written.get(index, "")) or ""
                results[index] = WorkerResult(index, approach, text, STOPPED, self.worker_model, stopped=True)
                yield WorkerFinished(results[index])
        if planned is None:
            plan = Plan(analysis=preview_analysis(analysis) or "", approaches=approaches, cut_short=True)
            planned = Planned(plan, Completion("", self.orchestrator_model, Usage(), None, 0.0))
        ordered = tuple(results[index] for index in sorted(results))
        yield RunFinished(
            RunResult(request, planned.plan, planned.completion, ordered, time.monotonic() - started, stopped=True)
        )

    def _plan(self, request: Request, events: _Events, launched: list[Approach]) -> None:
        """Stream the orchestrator's reply, starting a worker for each task as soon as it closes; when the
        reply holds no usable task, ask once more with a stricter prompt."""
        try:
            plan, completion = self._plan_attempt(request, events, launched, strict=False)
            if isinstance(plan, PlanParseError):  # returned only while no worker was launched
                first_error, first = plan, completion
                events.put(PlanRetrying(str(first_error)))
                try:
                    plan, completion = self._plan_attempt(request, events, launched, strict=True)
                except PlanError as error:
                    raise PlanError(
                        f"Both attempts at a plan failed. First reply: {_why(first_error)} Second: {error}"
                    ) from error
                if isinstance(plan, PlanParseError):
                    raise PlanError(
                        "Both attempts at a plan failed: the orchestrator's replies held no usable <task> (with a "
                        "<description>), the second even with stricter instructions. "
                        f"First reply: {_why(first_error)} Second reply: {_why(plan)}"
                    ) from plan
                completion = Completion(
                    text=completion.text,
                    model=completion.model,
                    usage=first.usage + completion.usage,
                    stop_reason=completion.stop_reason,
                    seconds=first.seconds + completion.seconds,
                )
        except PlanError as error:
            events.put(_PlanFailed(error))
            return
        except Exception as error:  # a bug must still end the run, not hang the consumer
            log.exception("planning failed unexpectedly")
            events.put(_PlanFailed(PlanError(f"Planning failed unexpectedly: {error}")))
            return
        events.put(Planned(plan, completion))

    def _plan_attempt(
        self,
        request: Request,
        events: _Events,
        launched: list[Approach],
        *,
        strict: bool,
    ) -> tuple[Plan | PlanParseError, Completion]:
        """One orchestrator call, streamed: the plan, or why its reply held no usable task (returned, not
        raised, so the caller can ask again; only ever while no worker was launched). Raises PlanError when
        the call itself fails before any worker was launched."""
        parser = PlanStreamParser(max_tasks=request.max_approaches, catalogue=request.catalogue)
        analysis_done = False
        received = ""

        def on_text(delta: str) -> None:
            nonlocal analysis_done, received
            received += delta
            if not analysis_done:
                events.put(AnalysisDelta(received))
            for parsed in parser.feed(delta):
                if isinstance(parsed, AnalysisParsed):
                    analysis_done = True
                    events.put(AnalysisReady(parsed.text))
                elif isinstance(parsed, ApproachParsed):
                    launched.append(parsed.approach)
                    self._launch(request, parsed.index, parsed.approach, events)

        def on_restart() -> bool:
            """The stream broke: start over only while no worker depends on what was parsed so far."""
            nonlocal parser, analysis_done, received
            if launched:
                return False
            parser = PlanStreamParser(max_tasks=request.max_approaches, catalogue=request.catalogue)
            analysis_done = False
            received = ""
            events.put(PlanRetrying("The orchestrator's reply broke off mid-way; asking for it again."))
            return True

        prompt = orchestrator_prompt(
            request.task,
            request.context,
            min_tasks=request.min_approaches,
            max_tasks=request.max_approaches,
            strict=strict,
            record=request.record,
        )
        try:
            completion = self.llm.complete(
                prompt,
                model=self.orchestrator_model,
                max_tokens=self.plan_max_tokens,
                on_text=on_text,
                on_restart=on_restart,
                cancel=request.cancel,
            )
        except Cancelled as error:
            raise PlanError(STOPPED) from error  # `run` has ended already: nobody reads this
        except LLMError as error:
            if not launched:
                raise PlanError(f"The orchestrator call failed: {error}") from error
            # The reply broke off after some approaches were already being written: keep those, and the
            # analysis as far as it got.
            log.warning("orchestrator reply broke off after %d approaches: %s", len(launched), error)
            analysis = preview_analysis(received) or ""
            return Plan(analysis=analysis, approaches=tuple(launched), cut_short=True), Completion(
                "", self.orchestrator_model, Usage(), None, 0.0
            )
        try:
            return parser.close(), completion
        except PlanParseError as error:
            # close() agrees with what feed() reported, so no worker was launched for this reply.
            return error, completion

    def _launch(self, request: Request, index: int, approach: Approach, events: _Events) -> None:
        if not request.cancel.cancelled:  # no model call starts once the run is stopped
            self.executor.submit(self._work, request, index, approach, events)

    def _work(self, request: Request, index: int, approach: Approach, events: _Events) -> None:
        if request.cancel.cancelled:
            return  # stopped while it queued: `run` reports it
        events.put(WorkerStarted(index, approach))
        try:
            prompt = worker_prompt(request.task, approach, request.context)
            stream = Accumulator(lambda raw: events.put(WorkerDelta(index, raw)))
            result = self.workers.respond(prompt, index, approach, stream, request.cancel)
        except Exception as error:  # always report, so the run can finish
            log.exception("worker %d failed unexpectedly", index)
            result = WorkerResult(index, approach, "", f"Unexpected error: {error}", self.worker_model)
        events.put(WorkerFinished(result))


def _finished_meanwhile(events: _Events, results: dict[int, WorkerResult], written: dict[int, str]) -> Iterator[Event]:
    """The workers that finished before the stop was taken, though reported after it: they count as written."""
    while True:
        try:
            event = events.get_nowait()
        except queue.Empty:
            return
        if isinstance(event, WorkerFinished):
            results[event.result.index] = event.result
            yield event
        elif isinstance(event, WorkerDelta):
            written[event.index] = event.raw


def _why(error: PlanParseError) -> str:
    """Why a reply held no usable task, without the "contained no usable <task>" lead-in."""
    lead, sep, why = str(error).partition(": ")
    return why if sep and "no usable" in lead else str(error)
