"""The engine against the fake Anthropic API: parallel workers, early start, failures, events."""

from __future__ import annotations

import threading

import pytest

from orchestrator.engine import (
    AnalysisDelta,
    AnalysisReady,
    Engine,
    PlanError,
    Planned,
    Request,
    RunFinished,
    WorkerDelta,
    WorkerFinished,
    WorkerStarted,
)
from orchestrator.parsing import Approach
from tests.fakes.anthropic_api import FakeAnthropicAPI, FakeReply
from tests.scripted import DEFAULT_APPROACHES, Script, is_plan_prompt, plan_reply


def test_run_reports_every_step_and_the_totals(engine: Engine, claude: FakeAnthropicAPI) -> None:
    events = list(engine.run(Request("Write a tagline", {"audience": "hikers"})))
    kinds = [type(e) for e in events]
    assert kinds.index(AnalysisDelta) < kinds.index(AnalysisReady) < kinds.index(Planned)
    ready = next(e for e in events if isinstance(e, AnalysisReady))
    last_delta = [e for e in events if isinstance(e, AnalysisDelta)][-1]
    assert last_delta.text == ready.analysis
    assert kinds.count(WorkerStarted) == 3 and kinds.count(WorkerFinished) == 3
    assert kinds.count(Planned) == 1 and kinds[-1] is RunFinished
    result = events[-1].result
    assert [r.approach.type for r in result.results] == [kind for kind, _ in DEFAULT_APPROACHES]
    assert all(r.ok and r.text.startswith("## ") for r in result.results)
    assert result.status == "done"
    assert result.plan.analysis.startswith("Buyers differ")
    requests = claude.requests()
    assert [r["model"] for r in requests].count("orch-model") == 1
    assert [r["model"] for r in requests].count("work-model") == 3
    assert result.plan_completion.usage.input_tokens > 0
    assert all(r.usage.input_tokens > 0 and r.usage.output_tokens > 0 for r in result.results)
    assert result.usage.total == result.plan_completion.usage.total + sum(r.usage.total for r in result.results)


def test_workers_start_before_the_orchestrator_reply_ends(engine: Engine, claude: FakeAnthropicAPI) -> None:
    """Each worker starts as soon as its </task> closes, not after the whole plan."""
    plan_done = threading.Event()
    started_while_planning: list[str] = []

    def plan() -> FakeReply:
        # Long trailing prose after </tasks>, streamed slowly: the plan call lasts a while after the tasks.
        return FakeReply(plan_reply() + "\nSome closing remarks. " * 60, tokens_per_second=400, chunk_chars=16)

    def worker(kind: str) -> str:
        if not plan_done.is_set():
            started_while_planning.append(kind)
        return f"<response>{kind}</response>"

    claude.responder = Script(plan=plan, worker=worker)
    for event in engine.run(Request("Write a tagline")):
        if isinstance(event, Planned):
            plan_done.set()
    assert sorted(started_while_planning) == ["lifestyle", "practical", "technical"]


def test_one_failing_worker_does_not_sink_the_run(engine: Engine, claude: FakeAnthropicAPI) -> None:
    def worker(kind: str) -> FakeReply | str:
        if kind == "lifestyle":
            return FakeReply(status=500)
        return f"<response>{kind}</response>"

    claude.responder = Script(worker=worker)
    claude_retries = engine.llm.client.max_retries
    *_, finished = engine.run(Request("Write a tagline"))
    results = {r.approach.type: r for r in finished.result.results}
    assert results["technical"].ok and results["practical"].ok
    assert not results["lifestyle"].ok
    assert "internal error (500)" in (results["lifestyle"].error or "")
    assert finished.result.status == "partial"
    # the SDK retried the 500 before giving up
    lifestyle_calls = [r for r in claude.requests() if "<type>lifestyle</type>" in r["messages"][0]["content"]]
    assert len(lifestyle_calls) == claude_retries + 1


def test_empty_response_is_a_failed_variation(engine: Engine, claude: FakeAnthropicAPI) -> None:
    claude.responder = Script(worker=lambda kind: "<response>\n</response>")
    *_, finished = engine.run(Request("Write a tagline"))
    assert finished.result.status == "failed"
    assert all(r.error == "The model returned an empty response." for r in finished.result.results)


def test_plan_without_usable_tasks_raises(engine: Engine, claude: FakeAnthropicAPI) -> None:
    claude.responder = Script(plan=lambda: "<analysis>Hmm.</analysis><tasks><task><type>x</type></task></tasks>")
    with pytest.raises(PlanError, match="no usable"):
        list(engine.run(Request("Write a tagline")))
    assert len(claude.requests()) == 1


def test_orchestrator_failure_raises_in_plain_words(engine: Engine, claude: FakeAnthropicAPI) -> None:
    claude.fail_next(401)
    with pytest.raises(PlanError, match="rejected the API key"):
        list(engine.run(Request("Write a tagline")))


def test_broken_plan_stream_keeps_the_approaches_already_started(engine: Engine, claude: FakeAnthropicAPI) -> None:
    reply = plan_reply()
    cut = reply.index("</task>", reply.index("lifestyle")) + len("</task>") + 5
    claude.responder = Script(plan=lambda: FakeReply(reply, break_after_chars=cut, chunk_chars=4))
    *_, finished = engine.run(Request("Write a tagline"))
    assert [r.approach.type for r in finished.result.results] == ["technical", "lifestyle"]
    assert finished.result.status == "done"


def test_max_approaches_caps_the_plan(engine: Engine, claude: FakeAnthropicAPI) -> None:
    many = [(f"kind{i}", f"brief {i}") for i in range(8)]
    claude.responder = Script(plan=lambda: plan_reply(many))
    *_, finished = engine.run(Request("Write a tagline", max_approaches=4))
    assert [r.approach.type for r in finished.result.results] == ["kind0", "kind1", "kind2", "kind3"]
    assert sum(not is_plan_prompt(r) for r in claude.requests()) == 4
    assert "2-4 distinct approaches" in claude.prompts()[0]


def test_write_reruns_one_approach(engine: Engine, claude: FakeAnthropicAPI) -> None:
    result = engine.write(Request("Write a tagline", {"tone": "dry"}), 2, Approach("formal", "Be formal"))
    assert (result.index, result.ok) == (2, True)
    assert result.text == "## Formal take\nThe **formal** version."
    assert "dry" in claude.prompts()[-1]


def test_worker_text_streams_as_deltas(engine: Engine, claude: FakeAnthropicAPI) -> None:
    body = "A fairly long answer. " * 40
    claude.responder = Script(worker=lambda kind: FakeReply(f"<response>{body}</response>", chunk_chars=12))
    events = list(engine.run(Request("Write a tagline")))
    for index in range(3):
        texts = [e.text for e in events if isinstance(e, WorkerDelta) and e.index == index]
        assert len(texts) > 10
        assert all(body.startswith(text) for text in texts if text)  # never a half-written tag or entity
        assert texts[-1] == body.strip()
        started = next(i for i, e in enumerate(events) if isinstance(e, WorkerStarted) and e.index == index)
        finished = next(i for i, e in enumerate(events) if isinstance(e, WorkerFinished) and e.result.index == index)
        deltas = [i for i, e in enumerate(events) if isinstance(e, WorkerDelta) and e.index == index]
        assert started < deltas[0] and deltas[-1] < finished
