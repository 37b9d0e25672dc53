"""The engine against the fake Anthropic API: parallel workers, early start, failures, events."""

from __future__ import annotations

import threading

import pytest

from orchestrator.engine import Engine
from orchestrator.events import (
    AnalysisDelta,
    AnalysisReady,
    PlanError,
    Planned,
    PlanRetrying,
    Request,
    RunFinished,
    WorkerDelta,
    WorkerFinished,
    WorkerStarted,
)
from orchestrator.llm import LLM
from orchestrator.parsing import Approach
from orchestrator.prompts import STRICT_INSTRUCTION
from tests.fakes.anthropic_api import FakeAnthropicAPI, FakeReply
from tests.scripted import DEFAULT_APPROACHES, Script, is_plan_prompt, plan_reply

REJECTED_KEY = "The Anthropic API rejected the API key (401): check ANTHROPIC_API_KEY."


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
            return FakeReply(status=500, headers={"retry-after-ms": "1"})
        return f"<response>{kind}</response>"

    claude.responder = Script(worker=worker)
    *_, finished = engine.run(Request("Write a tagline"))
    results = {r.approach.type: r for r in finished.result.results}
    assert results["technical"].ok and results["practical"].ok
    assert not results["lifestyle"].ok
    attempts = engine.llm.max_attempts
    assert f"internal error (500), still after {attempts} attempts" in (results["lifestyle"].error or "")
    assert finished.result.status == "partial"
    # the 500 was retried before giving up
    lifestyle_calls = [r for r in claude.requests() if "<type>lifestyle</type>" in r["messages"][0]["content"]]
    assert len(lifestyle_calls) == attempts > 1


def test_empty_response_is_a_failed_variation(engine: Engine, claude: FakeAnthropicAPI) -> None:
    claude.responder = Script(worker=lambda kind: "<response>\n</response>")
    *_, finished = engine.run(Request("Write a tagline"))
    assert finished.result.status == "failed"
    assert all(r.error == "The model returned an empty response." for r in finished.result.results)


def test_plan_without_usable_tasks_twice_raises(engine: Engine, claude: FakeAnthropicAPI) -> None:
    replies = ["<analysis>Hmm.</analysis><tasks><task><type>x</type></task></tasks>", "Happy to help with that!"]
    claude.responder = Script(plan=lambda: replies.pop(0))
    events: list[object] = []
    with pytest.raises(PlanError) as error:
        events.extend(engine.run(Request("Write a tagline")))
    assert str(error.value) == (
        "Both attempts at a plan failed: the orchestrator's replies held no usable <task> (with a <description>), "
        "the second even with stricter instructions. "
        "First reply: none of its 1 complete <task> element(s) had a non-empty <description>. "
        "Second reply: it had no <task> tag at all, only 24 characters of other text."
    )
    assert len(claude.requests()) == 2 and not any(e for e in events if isinstance(e, WorkerStarted))


def test_plan_retry_that_fails_says_both_attempts_failed(engine: Engine, claude: FakeAnthropicAPI) -> None:
    replies = [FakeReply("Sure thing!"), FakeReply(status=401)]
    claude.responder = Script(plan=lambda: replies.pop(0))
    with pytest.raises(PlanError) as error:
        list(engine.run(Request("Write a tagline")))
    assert str(error.value).startswith("Both attempts at a plan failed. First reply: it had no <task> tag at all")
    assert str(error.value).endswith("Second: The orchestrator call failed: " + REJECTED_KEY)


def test_prose_plan_is_asked_again_more_strictly(engine: Engine, claude: FakeAnthropicAPI) -> None:
    replies = [
        FakeReply("<analysis>Half a thought. Sure, here are some ideas!", input_tokens=100, output_tokens=10),
        FakeReply(plan_reply(), input_tokens=120, output_tokens=40),
    ]
    claude.responder = Script(plan=lambda: replies.pop(0))
    events = list(engine.run(Request("Write a tagline")))
    kinds = [type(e) for e in events]
    retrying = kinds.index(PlanRetrying)
    # Before it, only the first reply's half-streamed analysis; after it, the second's starts from scratch.
    assert set(kinds[:retrying]) == {AnalysisDelta}
    assert events[retrying - 1].text == "Half a thought. Sure, here are some ideas!"
    assert "no <task> tag at all" in events[retrying].reason
    after = [e for e in events[retrying:] if isinstance(e, AnalysisDelta)]
    assert after and all(not e.raw.startswith("<analysis>Half") for e in after)
    assert after[0].raw == plan_reply()[: len(after[0].raw)]
    assert kinds.count(PlanRetrying) == 1 and kinds.count(WorkerFinished) == 3
    result = events[-1].result
    assert result.status == "done" and result.plan.analysis.startswith("Buyers differ")
    plan_prompts = [r for r in claude.requests() if is_plan_prompt(r)]
    assert len(plan_prompts) == 2
    first, second = (r["messages"][0]["content"] for r in plan_prompts)
    assert "IMPORTANT: your reply must contain exactly two parts" not in first
    assert second == first + STRICT_INSTRUCTION.replace("{count}", "2-5")
    assert result.plan_completion.usage.input_tokens == 220 and result.plan_completion.usage.output_tokens == 50


def test_broken_plan_stream_restarts_while_no_approach_was_launched(engine: Engine, claude: FakeAnthropicAPI) -> None:
    engine.llm = LLM(engine.llm.client, sleep=lambda seconds: None)
    reply = plan_reply()
    cut = reply.index("<task>") + 10
    replies = [FakeReply(reply, break_after_chars=cut, chunk_chars=4), FakeReply(reply, chunk_chars=4)]
    claude.responder = Script(plan=lambda: replies.pop(0))
    events = list(engine.run(Request("Write a tagline")))
    kinds = [type(e) for e in events]
    retrying = kinds.index(PlanRetrying)
    assert AnalysisReady in kinds[:retrying] and WorkerStarted not in kinds[:retrying]
    assert isinstance(events[retrying + 1], AnalysisDelta) and len(events[retrying + 1].raw) <= 4
    assert kinds.count(AnalysisReady) == 2 and kinds.count(WorkerStarted) == 3
    assert events[-1].result.status == "done"
    assert sum(is_plan_prompt(r) for r in claude.requests()) == 2


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
    assert finished.result.plan.cut_short and finished.result.plan.analysis.startswith("Buyers differ")


def test_worker_stream_broken_mid_way_starts_over(engine: Engine, claude: FakeAnthropicAPI) -> None:
    engine.llm = LLM(engine.llm.client, sleep=lambda seconds: None)
    body = "A fairly long answer that breaks off. " * 10
    broken = {"lifestyle"}

    def worker(kind: str) -> FakeReply:
        if kind in broken:
            broken.discard(kind)
            return FakeReply(f"<response>{body}</response>", break_after_chars=100, chunk_chars=10)
        return FakeReply(f"<response>{body}</response>", chunk_chars=10)

    claude.responder = Script(worker=worker)
    events = list(engine.run(Request("Write a tagline")))
    result = events[-1].result
    assert result.status == "done" and all(r.text == body.strip() for r in result.results)
    lifestyle = next(r.index for r in result.results if r.approach.type == "lifestyle")
    raws = [e.raw for e in events if isinstance(e, WorkerDelta) and e.index == lifestyle]
    restart = raws.index("")
    assert raws[restart - 1] == f"<response>{body}"[:100]  # the first attempt's text reached the consumer
    assert raws[-1] == f"<response>{body}</response>" and all(len(raw) <= 100 for raw in raws[:restart])
    assert all(
        "" not in [e.raw for e in events if isinstance(e, WorkerDelta) and e.index == r.index]
        for r in result.results
        if r.index != lifestyle
    )


def test_max_approaches_caps_the_plan(engine: Engine, claude: FakeAnthropicAPI) -> None:
    many = [(f"kind{i}", f"brief {i}") for i in range(8)]
    claude.responder = Script(plan=lambda: plan_reply(many))
    *_, finished = engine.run(Request("Write a tagline", max_approaches=4))
    assert [r.approach.type for r in finished.result.results] == ["kind0", "kind1", "kind2", "kind3"]
    assert sum(not is_plan_prompt(r) for r in claude.requests()) == 4
    assert "2-4 distinct approaches" in claude.prompts()[0]


def test_write_reruns_one_approach(engine: Engine, claude: FakeAnthropicAPI) -> None:
    result = engine.workers.write(Request("Write a tagline", {"tone": "dry"}), 2, Approach("formal", "Be formal"))
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
