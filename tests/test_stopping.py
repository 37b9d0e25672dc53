"""Stopping a run (⏹ on its parent, Slack's `agent_session_stopped`) and the run's thread as a Slack agent
session, end to end against the fakes: what the thread shows, the rows, the model calls that were closed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.listeners.stops import NOT_YOURS, NOTHING_TO_STOP
from bot.render.run_messages import CLOSE_VOTING, STOP
from bot.slack.run_thread import PLANNING
from tests.fakes.anthropic_api import FakeAnthropicAPI, FakeReply
from tests.fakes.signing import event_body, signed_headers
from tests.fakes.slack_api import FakeSlackAPI
from tests.helpers import (
    CHANNEL,
    ROOT,
    SIGNING_SECRET,
    TEAM,
    USER,
    Bot,
    StartProcess,
    buttons,
    mention,
    press,
    run_thread,
    session_stopped,
    start_bot,
    texts,
)
from tests.scripted import Script, is_plan_prompt, plan_reply
from tests.test_assistant import THREAD, pane_opened, typed
from tests.test_operating import metrics_text, value

DM = "D0001"
LONG = "A sentence the worker writes slowly, one word after another. " * 40  # ~2,400 chars: a minute at 10 tok/s


@pytest.fixture
def slow_workers(claude: FakeAnthropicAPI) -> None:
    """The plan comes at once; every worker writes for about a minute."""
    claude.responder = Script(
        worker=lambda kind: FakeReply(f"<response>\n{kind}: {LONG}</response>", tokens_per_second=10, chunk_chars=8)
    )


def writing(bot: Bot, channel: str = CHANNEL) -> list[Any]:
    """Run 1's three variations, once each has its message and the model has written some of each."""
    variations = bot.store.variations(1)
    if len(variations) < 3 or not all(v.message_ts for v in variations):
        return []
    shown = [bot.slack.message(channel, str(v.message_ts)) for v in variations]
    return variations if all("slowly" in (texts(m) + m.get("text", "")) for m in shown) else []


def worker_requests(claude: FakeAnthropicAPI) -> list[dict[str, Any]]:
    return [r for r in claude.requests() if not is_plan_prompt(r)]


def test_the_requester_stops_a_run_while_it_is_written(bot: Bot, slow_workers: None) -> None:
    assert bot.command("Write a tagline")[0] == 200
    bot.slack.wait_for(lambda: writing(bot))
    run = bot.store.run(1)
    parent = bot.slack.message(CHANNEL, str(run.message_ts))
    assert buttons(parent)[STOP] == "⏹ Stop"  # the requester's button while it is written
    clicked = time.monotonic()
    assert press(bot, STOP, str(run.id)) == (200, "")
    stopped = bot.wait_run()
    assert stopped.status == "stopped" and stopped.stopped_by == USER
    # Every stream the workers had open was closed by the app, and no model call started after the click.
    bot.slack.wait_for(lambda: all(r.get("_aborted") for r in worker_requests(bot.claude)))
    assert len(bot.claude.requests()) == 4
    assert all(r["_time"] < clicked for r in bot.claude.requests())
    parent, replies = run_thread_stopped(bot)
    status = texts(parent)
    assert f"⏹ Stopped by <@{USER}>: 0 of 3 variations written" in status and "tokens" in status
    assert STOP not in buttons(parent)
    for row in bot.store.variations(1):
        assert row.status == "stopped" and row.text and "slowly" in row.text and len(row.text) < len(LONG)
        message = bot.slack.message(CHANNEL, str(row.message_ts))
        assert f"Stopped by <@{USER}>" in texts(message) and "slowly" in texts(message)
        assert "Writing" not in texts(message) and "retry" in buttons(message)
    assert all("Thinking" not in texts(m) and "Writing" not in texts(m) for m in replies)
    assert value(metrics_text(bot), "variations_runs_finished_total", status="stopped") == 1


def run_thread_stopped(bot: Bot) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run 1's parent once it says it was stopped, and its replies."""
    ts = str(bot.store.run(1).message_ts)
    parent = bot.slack.wait_for(lambda: (m := bot.slack.message(CHANNEL, ts)) and "Stopped" in texts(m) and m)
    bot.slack.wait_for(lambda: all(v.status != "writing" for v in bot.store.variations(1)))
    return parent, bot.slack.thread(CHANNEL, ts)


def test_a_stop_clicked_through_another_process_stops_the_run(
    start_process: StartProcess, slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path, slow_workers: None
) -> None:
    """Two processes share the database: the one the click reaches asks, the one writing the run stops it
    on its next heartbeat (every 10 s)."""
    writer = start_process().bot
    writer.command("Write a tagline")
    slack.wait_for(lambda: writing(writer), timeout=30)
    with start_bot(slack, claude, tmp_path / "v.db") as other:
        assert press(other, STOP, "1") == (200, "")
        stopped = slack.wait_for(lambda: (r := writer.store.run(1)).status != "running" and r, timeout=30)
        assert stopped.status == "stopped" and stopped.stopped_by == USER
        slack.wait_for(lambda: all(v.status == "stopped" for v in writer.store.variations(1)))
        assert slack.responses(f"{STOP}-{USER}") == []  # nothing to say: the thread shows it


def test_a_stop_while_the_plan_is_written_starts_no_worker(bot: Bot, claude: FakeAnthropicAPI) -> None:
    analysis = "Buyers differ in what they want to read first. " * 60
    claude.responder = Script(plan=lambda: FakeReply(plan_reply(analysis=analysis), tokens_per_second=20))
    bot.command("Write a tagline")
    first = bot.slack.wait_for(lambda: [m for m in bot.slack.messages(CHANNEL) if "Buyers differ" in texts(m)])[0]
    press(bot, STOP, "1")
    assert bot.wait_run().status == "stopped"
    bot.slack.wait_for(lambda: claude.requests()[0].get("_aborted"))
    assert len(claude.requests()) == 1 and bot.store.variations(1) == []
    parent, _ = run_thread_stopped(bot)
    assert f"⏹ Stopped by <@{USER}> while planning" in texts(parent)
    ts = first["ts"]
    shown = bot.slack.wait_for(lambda: (m := bot.slack.message(CHANNEL, ts)) and "Thinking" not in texts(m) and m)
    assert "Buyers differ" in texts(shown)  # the analysis keeps what was written


@pytest.fixture
def held(claude: FakeAnthropicAPI) -> Iterator[threading.Event]:
    """Workers answer once this is set."""
    release = threading.Event()

    def worker(kind: str) -> str:
        release.wait(timeout=30)
        return f"<response>{kind} text</response>"

    claude.responder = Script(worker=worker)
    yield release
    release.set()


def test_someone_else_s_stop_stops_nothing(bot: Bot, held: threading.Event) -> None:
    bot.command("Write a tagline")
    bot.slack.wait_for(lambda: len([v for v in bot.store.variations(1) if v.message_ts]) == 3)
    assert press(bot, STOP, "1", user="U0002") == (200, "")
    note = bot.slack.wait_for(lambda: bot.slack.responses(f"{STOP}-U0002"))
    assert note[0]["text"] == NOT_YOURS and note[0]["response_type"] == "ephemeral"
    assert bot.store.run(1).status == "running"
    held.set()
    parent, _ = run_thread(bot)
    assert bot.store.run(1).status == "done" and "✅ Done: 3 variations" in texts(parent)
    assert not any(r.get("_aborted") for r in bot.claude.requests())


def test_a_stop_and_slacks_stop_event_are_acked_while_slack_is_slow(bot: Bot, held: threading.Event) -> None:
    bot.command("Write a tagline")
    bot.slack.wait_for(lambda: len([v for v in bot.store.variations(1) if v.message_ts]) == 3)
    root = str(bot.store.run(1).message_ts)
    bot.slack.latency = 4.0  # longer than Slack waits for an ack
    # Answered within the 3 s Slack waits for an ack, else the post raises.
    assert press(bot, STOP, "1", timeout=3)[0] == 200
    event = event_body(
        {"type": "agent_session_stopped", "channel": CHANNEL, "thread_ts": root, "user": USER, "event_ts": "1.2"},
        team_id=TEAM,
        event_id="EvSlowStop",
    )
    headers = signed_headers(event, SIGNING_SECRET, content_type="application/json")
    assert bot.post(event, headers, timeout=3)[0] == 200
    bot.slack.latency = 0.0
    assert bot.wait_run().status == "stopped"
    run_thread_stopped(bot)


def test_stopping_twice_and_stopping_a_finished_run_end_cleanly(bot: Bot, held: threading.Event) -> None:
    bot.command("Write a tagline")
    bot.slack.wait_for(lambda: len([v for v in bot.store.variations(1) if v.message_ts]) == 3)
    press(bot, STOP, "1")
    press(bot, STOP, "1")  # a double click: taken once
    assert bot.wait_run().status == "stopped"
    run_thread_stopped(bot)
    assert press(bot, STOP, "1") == (200, "")  # a stale ⏹, after the end
    notes = bot.slack.wait_for(lambda: bot.slack.responses(f"{STOP}-{USER}"))
    assert notes[-1]["text"] == NOTHING_TO_STOP and all(n["text"] == NOTHING_TO_STOP for n in notes)
    assert [v.status for v in bot.store.variations(1)] == ["stopped"] * 3
    held.set()  # the model answers late: nothing changes
    assert bot.store.run(1).status == "stopped"


def test_a_stop_racing_the_last_variation_ends_cleanly(bot: Bot) -> None:
    bot.command("Write a tagline")
    parent, _ = run_thread(bot)
    press(bot, STOP, "1")  # the run has just ended
    note = bot.slack.wait_for(lambda: bot.slack.responses(f"{STOP}-{USER}"))
    assert note[0]["text"] == NOTHING_TO_STOP
    assert bot.store.run(1).status == "done" and "✅ Done: 3 variations" in texts(parent)
    assert [v.status for v in bot.store.variations(1)] == ["done"] * 3


def test_a_follow_up_being_written_can_be_stopped(bot: Bot, claude: FakeAnthropicAPI) -> None:
    bot.command("Write a tagline")
    run_thread(bot)
    claude.responder = Script(worker=lambda kind: FakeReply(f"<response>{LONG}</response>", tokens_per_second=10))
    mention(bot, "one for teenagers", ts="1800000000.000300", thread_ts=bot.store.run(1).message_ts)
    follow_up = bot.slack.wait_for(lambda: next((v for v in bot.store.variations(1) if v.type == "follow-up"), None))
    parent_ts = str(bot.store.run(1).message_ts)
    bot.slack.wait_for(lambda: STOP in buttons(bot.slack.message(CHANNEL, parent_ts)))
    press(bot, STOP, "1")
    row = bot.slack.wait_for(lambda: (v := bot.store.variation(follow_up.id)).status == "stopped" and v)
    assert bot.store.run(1).status == "done"  # the run itself was written: it stays done
    message = bot.slack.wait_for(
        lambda: (m := bot.slack.message(CHANNEL, str(row.message_ts))) and "Stopped by" in texts(m) and m
    )
    assert "retry" in buttons(message)
    bot.slack.wait_for(lambda: STOP not in buttons(bot.slack.message(CHANNEL, parent_ts)))


# -- agent sessions -----------------------------------------------------------------------------------------


def test_the_manifest_subscribes_to_slacks_stop_button() -> None:
    lines = [line.strip() for line in (ROOT / "manifest.yml").read_text().splitlines()]
    assert "- agent_session_stopped" in lines
    assert {"- chat:write", "- assistant:write", "assistant_view:"} <= set(lines)  # declared as an agent


def test_the_thread_is_an_agent_session_that_follows_the_run(bot: Bot) -> None:
    bot.command("Write a tagline for our bottle")
    run_thread(bot)
    root = str(bot.store.run(1).message_ts)
    # the session's statuses go out from a thread of their own, in order, after the run's messages
    session = bot.slack.wait_for(lambda: (s := bot.slack.session(CHANNEL, root)) and len(s["statuses"]) > 1 and s)
    assert session["statuses"] == ["processing", "active"]
    assert (session["title"], session["initiator"]) == ("Write a tagline for our bottle", USER)
    press(bot, CLOSE_VOTING, "1")
    assert bot.slack.wait_for(lambda: bot.slack.session(CHANNEL, root)["statuses"][-1] == "closed")
    assert bot.slack.session(CHANNEL, root)["statuses"] == ["processing", "active", "closed"]


def test_slacks_stop_button_stops_the_run_once(bot: Bot, slow_workers: None) -> None:
    bot.command("Write a tagline", channel_id=DM)
    bot.slack.wait_for(lambda: writing(bot, DM))
    root = str(bot.store.run(1).message_ts)
    assert bot.slack.wait_for(lambda: (bot.slack.session(DM, root) or {}).get("status") == "processing")
    streams = bot.slack.press_session_stop(DM, root)
    assert len(streams) == 3  # Slack stopped the three variations' streams itself
    assert session_stopped(bot, DM, root, streams, event_id="EvStop1")[0] == 200
    assert bot.wait_run().status == "stopped"
    bot.slack.wait_for(lambda: all(r.get("_aborted") for r in worker_requests(bot.claude)))
    bot.slack.wait_for(lambda: all(v.status == "stopped" for v in bot.store.variations(1)))
    for row in bot.store.variations(1):
        message = bot.slack.wait_for(
            lambda row=row: (m := bot.slack.message(DM, str(row.message_ts))) and "Stopped by" in texts(m) and m
        )
        assert not message["streaming"] and "retry" in buttons(message) and "slowly" in texts(message)
    assert bot.slack.wait_for(lambda: bot.slack.session(DM, root)["statuses"] == ["processing", "active"])
    # Slack re-sends the event: it is taken once (a second stop of a finished run would say so privately).
    assert session_stopped(bot, DM, root, streams, event_id="EvStop1", retry=1)[0] == 200
    bot.slack.wait_for(lambda: bot.slack.session(DM, root)["statuses"] == ["processing", "active"])
    assert bot.slack.ephemerals() == []
    assert len(bot.claude.requests()) == 4


def test_someone_else_pressing_slacks_stop_is_told_and_nothing_stops(bot: Bot, held: threading.Event) -> None:
    bot.command("Write a tagline")
    bot.slack.wait_for(lambda: len([v for v in bot.store.variations(1) if v.message_ts]) == 3)
    root = str(bot.store.run(1).message_ts)
    session_stopped(bot, CHANNEL, root, user="U0002", event_id="EvStop2")
    note = bot.slack.wait_for(lambda: bot.slack.ephemerals(CHANNEL))
    assert (note[0]["user"], note[0]["text"]) == ("U0002", NOT_YOURS)
    held.set()
    run_thread(bot)
    assert bot.store.run(1).status == "done"


@pytest.mark.parametrize("refusal", ["missing_scope", "unsubscribed"])
def test_a_workspace_whose_slack_refuses_sessions_runs_normally(bot: Bot, refusal: str) -> None:
    bot.slack.agent_sessions = refusal
    for n in (1, 2):
        bot.command(f"Write tagline {n}")
        bot.slack.wait_for(lambda n=n: (r := bot.store.find_run(n)) and r.finished_at)
    for n in (1, 2):
        run = bot.store.run(n)
        parent = bot.slack.wait_for(
            lambda run=run: (m := bot.slack.message(CHANNEL, str(run.message_ts))) and "Done" in texts(m) and m
        )
        assert run.status == "done" and "✅ Done: 3 variations" in texts(parent)
    first = str(bot.store.run(1).message_ts)
    expected = 2 if refusal == "unsubscribed" else 1  # the statuses go out from a thread of their own
    calls = bot.slack.wait_for(lambda: len(c := bot.slack.calls("agents.sessions.setStatus")) >= expected and c)
    if refusal == "unsubscribed":  # Slack warned on the first call: that session still ends, no other starts
        assert [(c.params["thread_ts"], c.params["status"]) for c in calls] == [
            (first, "processing"),
            (first, "active"),
        ]
    else:  # Slack refused the first call: none after it
        assert [(c.params["thread_ts"], c.params["status"]) for c in calls] == [(first, "processing")]


def test_a_run_stopped_in_the_ai_pane_before_its_plan_clears_the_panes_status(
    bot: Bot, claude: FakeAnthropicAPI
) -> None:
    claude.responder = Script(plan=lambda: FakeReply(plan_reply(), ttft=3))
    pane_opened(bot)
    typed(bot, "Write a tagline for our bottle", ts="1800000000.000200")
    assert bot.slack.wait_for(lambda: bot.slack.status(DM, THREAD)) == PLANNING
    press(bot, STOP, "1")
    assert bot.wait_run().status == "stopped"
    assert bot.slack.wait_for(lambda: bot.slack.status(DM, THREAD) == "")  # nothing left saying it works
    assert bot.slack.wait_for(lambda: "Stopped" in texts(bot.slack.message(DM, str(bot.store.run(1).message_ts))))
