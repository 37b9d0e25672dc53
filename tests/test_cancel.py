"""Cancelling work in the engine and the LLM client against the fake Anthropic API: no call starts after a
cancel, streams in flight are closed, and the run or the call ends at once with what was written so far."""

from __future__ import annotations

import threading

import pytest

from orchestrator.cancel import Cancel
from orchestrator.engine import Engine
from orchestrator.events import Event, PlanError, Request, RunFinished, WorkerDelta, WorkerFinished
from orchestrator.llm import LLM, Cancelled
from orchestrator.parsing import Approach
from tests.fakes import wait_for
from tests.fakes.anthropic_api import FakeAnthropicAPI, FakeReply
from tests.helpers import anthropic_client
from tests.scripted import Script, is_plan_prompt

SLOW = "One word after another, slowly. " * 80


def test_a_cancel_is_one_way_and_runs_its_callbacks_once() -> None:
    cancel, called = Cancel(), []
    forget = cancel.on_cancel(lambda: called.append("kept"))
    cancel.on_cancel(lambda: called.append("forgotten"))()  # registered, then unregistered
    assert not cancel.cancelled and not cancel.wait(0)
    assert cancel.cancel() and not cancel.cancel()
    assert called == ["kept"] and cancel.cancelled and cancel.wait(0)
    cancel.on_cancel(lambda: called.append("late"))  # already cancelled: at once
    forget()
    assert called == ["kept", "late"]


def test_a_cancelled_run_closes_its_workers_streams_and_ends_with_their_text(
    engine: Engine, claude: FakeAnthropicAPI
) -> None:
    claude.responder = Script(worker=lambda kind: FakeReply(f"<response>{SLOW}</response>", tokens_per_second=20))
    request = Request("Write a tagline")
    events: list[Event] = []
    writing: set[int] = set()
    for event in engine.run(request):
        events.append(event)
        if isinstance(event, WorkerDelta) and event.text:
            writing.add(event.index)
            if writing == {0, 1, 2} and not request.cancel.cancelled:
                request.cancel.cancel()
    finished = [e.result for e in events if isinstance(e, WorkerFinished)]
    assert len(finished) == 3 and all(r.stopped and r.text and SLOW.startswith(r.text) for r in finished)
    assert all(len(r.text) < len(SLOW.strip()) for r in finished)  # what was written so far, not all of it
    result = events[-1].result if isinstance(events[-1], RunFinished) else None
    assert result is not None and result.stopped
    workers = [r for r in claude.requests() if not is_plan_prompt(r)]
    wait_for(lambda: all(r.get("_aborted") for r in claude.requests() if not is_plan_prompt(r)))
    assert len(workers) == 3 and len(claude.requests()) == 4


def test_a_run_cancelled_before_any_approach_raises_plan_error_and_starts_no_worker(
    engine: Engine, claude: FakeAnthropicAPI
) -> None:
    claude.responder = Script(plan=lambda: FakeReply("<analysis>" + SLOW + "</analysis>", tokens_per_second=20))
    request = Request("Write a tagline")
    with pytest.raises(PlanError, match="Stopped"):
        for event in engine.run(request):
            if event.__class__.__name__ == "AnalysisDelta":
                request.cancel.cancel()
    wait_for(lambda: claude.requests()[0].get("_aborted"))
    assert len(claude.requests()) == 1


def test_a_write_cancelled_while_waiting_for_the_first_byte_returns_at_once(
    engine: Engine, claude: FakeAnthropicAPI
) -> None:
    claude.responder = lambda request: FakeReply("<response>late</response>", ttft=3)
    request = Request("Write a tagline")
    threading.Thread(target=lambda: wait_for(lambda: claude.requests()) and request.cancel.cancel()).start()
    result = engine.workers.write(request, 0, Approach("technical", "Numbers first"), on_reply=lambda _: None)
    assert result.stopped and result.text == "" and not result.ok


def test_no_call_starts_once_cancelled_and_a_wait_between_attempts_ends(claude: FakeAnthropicAPI) -> None:
    llm = LLM(anthropic_client(claude))
    cancel = Cancel()
    cancel.cancel()
    with pytest.raises(Cancelled):
        llm.complete("hi", model="m", max_tokens=10, on_text=lambda _: None, cancel=cancel)
    assert claude.requests() == []
    claude.fail_next(529, headers={"retry-after-ms": "60000"})  # an overloaded API asks for a minute
    waiting = Cancel()
    threading.Thread(target=lambda: wait_for(lambda: claude.requests()) and waiting.cancel()).start()
    with pytest.raises(Cancelled):
        LLM(anthropic_client(claude), deadline=120).complete("hi", model="m", max_tokens=10, cancel=waiting)
    assert len(claude.requests()) == 1
