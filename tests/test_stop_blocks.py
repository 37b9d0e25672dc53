"""The builders and the bookkeeping of stopping, without Slack: ⏹ on a parent, a stopped status line, a
variation cut short, who may stop what, and Slack's warnings on agent sessions."""

from __future__ import annotations

from slack_sdk.web import SlackResponse

from bot.render.run_messages import STOP, Progress, run_parent_message, status_line
from bot.render.variation_messages import stored_halted_message
from bot.slack.sessions import warnings_of
from bot.store.rows import RunRow, RunStatus, VariationRow, VariationStatus
from bot.work.stopping import DRAINED, Outcome, Stops
from tests.helpers import buttons, texts


def run_row(status: RunStatus, stopped_by: str | None = None) -> RunRow:
    return RunRow(7, "T1", "C1", "U1", "Write a tagline", status, "2026-01-01T00:00:00", stopped_by=stopped_by)


def variation(status: VariationStatus, text: str = "") -> VariationRow:
    return VariationRow(3, 7, 0, "formal", status, "2026-01-01T00:00:00", "Be precise", text=text)


def test_the_parent_shows_stop_while_anything_of_its_run_is_written() -> None:
    writing = run_parent_message(run_row(RunStatus.RUNNING), [], {}, Progress(RunStatus.RUNNING, total=3))
    assert buttons(writing)[STOP] == "⏹ Stop"
    assert next(b for b in writing["blocks"] if b["type"] == "actions")["elements"][-1]["value"] == "7"
    done = run_parent_message(run_row(RunStatus.DONE), [variation(VariationStatus.DONE, "Hi")], {})
    assert STOP not in buttons(done)
    follow_up = run_parent_message(run_row(RunStatus.DONE), [variation(VariationStatus.WRITING)], {})
    assert STOP in buttons(follow_up)  # one more variation being written in a finished run


def test_a_stopped_status_line_says_who_and_what_it_cost() -> None:
    progress = Progress(RunStatus.STOPPED, total=3, failed=2, seconds=4.0, tokens=1234, cost=0.01, stopped_by="U9")
    assert status_line(progress) == "⏹ Stopped by <@U9>: 1 of 3 variations written · 4.0s · 1,234 tokens · $0.010"
    assert status_line(Progress(RunStatus.STOPPED, stopped_by="U9")) == "⏹ Stopped by <@U9> while planning"
    stored = run_parent_message(run_row(RunStatus.STOPPED, "U9"), [variation(VariationStatus.STOPPED, "So far")], {})
    assert "⏹ Stopped by <@U9>: 0 of 1 variations written" in texts(stored)


def test_a_variation_cut_short_keeps_its_text_says_why_and_can_be_retried() -> None:
    message = stored_halted_message(variation(VariationStatus.STOPPED, "The first **words**"), "⏹ Stopped by <@U9>")
    shown = texts(message)
    assert "The first **words**" in shown and "⏹ Stopped by <@U9>" in shown and "Writing" not in shown
    assert buttons(message) == {"retry": "🔁 Retry"}


def test_only_the_asker_or_the_requester_may_stop_and_a_stop_is_taken_once() -> None:
    stops = Stops()
    with stops.job(7, "U2", "U1") as follow_up, stops.job(7, "U1", "U1") as run:
        assert stops.stop(7, "U3") == Outcome.NOT_ALLOWED
        assert not follow_up.cancel.cancelled and not run.cancel.cancelled
        assert stops.stop(8, "U1") == Outcome.NOTHING
        assert stops.stop(7, "U2") == Outcome.STOPPED  # the follow-up's asker: only the follow-up
        assert follow_up.cancel.cancelled and not run.cancel.cancelled
        assert stops.stop(7, "U1") == Outcome.STOPPED and run.cancel.cancelled
        assert follow_up.halt is not None and follow_up.halt.by == "U2"  # the first stop's reason stays
        assert stops.stop_all(DRAINED) == 2 and run.halt is not None and run.halt.by == "U1"
    assert stops.stop(7, "U1") == Outcome.NOTHING


def test_slacks_session_warnings_are_read_from_either_place() -> None:
    def answer(data: dict) -> SlackResponse:
        return SlackResponse(
            client=None, http_verb="POST", api_url="", req_args={}, data=data, headers={}, status_code=200
        )

    assert warnings_of(answer({"ok": True})) == []
    warned = {"ok": True, "response_metadata": {"warnings": ["missing_agent_session_stopped_event_subscription"]}}
    assert warnings_of(answer(warned)) == ["missing_agent_session_stopped_event_subscription"]
    assert warnings_of(answer({"ok": True, "warning": "a,b"})) == ["a", "b"]
