"""The outbox against the fake Slack: latest state wins, finals always land, and one message's trouble
(a 429, 5xx, a refusal, a message too long) never holds up another or leaves a message unfinished."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.slack.clients import one_workspace
from bot.slack.outbox import Kind, Outbox, Policy, split_message
from bot.slack.pacing import UpdateBudget
from tests.fakes.slack_api import FakeSlackAPI

CHANNEL = "C0001"


def message(text: str, *, buttons: bool = False) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if buttons:
        blocks.append({"type": "actions", "elements": [{"type": "button", "action_id": "vote_up", "value": "1"}]})
    return {"text": text, "blocks": blocks}


def texts(slack: FakeSlackAPI, ts: str) -> str:
    return " ".join(b["text"]["text"] for b in slack.message(CHANNEL, ts)["blocks"] if b["type"] == "section")


@pytest.fixture
def outbox(slack: FakeSlackAPI) -> Iterator[Outbox]:
    client = WebClient(token="xoxb-test", base_url=slack.url, retry_handlers=[])
    budget = UpdateBudget(interval=0.1, per_minute=6000, burst=100)
    policy = Policy(deadline=1.0, post_deadline=2.0, backoff=0.02, max_backoff=0.1)
    box = Outbox(one_workspace(client), budget, policy=policy)
    yield box
    box.close()


def post(slack: FakeSlackAPI, text: str, thread_ts: str | None = None) -> str:
    client = WebClient(token="xoxb-test", base_url=slack.url)
    return str(client.chat_postMessage(channel=CHANNEL, thread_ts=thread_ts, **message(text))["ts"])


def test_live_states_coalesce_to_the_latest(slack: FakeSlackAPI, outbox: Outbox) -> None:
    ts = post(slack, "start")
    for n in range(50):
        outbox.update(CHANNEL, ts, lambda n=n: [message(f"state {n}")], kind=Kind.LIVE)
    assert outbox.wait([ts], timeout=5)
    assert texts(slack, ts) == "state 49"
    assert len(slack.calls("chat.update")) <= 3  # the first at once, then only the latest


def test_nothing_older_is_sent_after_the_final(slack: FakeSlackAPI, outbox: Outbox) -> None:
    ts = post(slack, "start")
    outbox.update(CHANNEL, ts, lambda: [message("live 1")], kind=Kind.LIVE)
    outbox.update(CHANNEL, ts, lambda: [message("live 2")], kind=Kind.LIVE)
    outbox.update(CHANNEL, ts, lambda: [message("final", buttons=True)], kind=Kind.FINAL)
    assert outbox.wait([ts], timeout=5)
    sent = [c.params["text"] for c in slack.calls("chat.update")]
    assert sent[-1] == "final" and "live 2" not in sent[sent.index("final") :]
    assert texts(slack, ts) == "final"


def test_a_rate_limited_message_waits_alone(slack: FakeSlackAPI, outbox: Outbox) -> None:
    slow, other = post(slack, "slow"), post(slack, "other")
    slack.fail_next("chat.update", status=429, retry_after=20)
    outbox.update(CHANNEL, slow, lambda: [message("slow counts")], kind=Kind.REFRESH)
    slack.wait_for(lambda: slack.calls("chat.update"))  # the 429 is in
    outbox.update(CHANNEL, other, lambda: [message("other counts")], kind=Kind.REFRESH)
    assert outbox.wait([other], timeout=5)  # not held behind the 20 s Retry-After
    assert texts(slack, other) == "other counts"
    assert texts(slack, slow) == "slow" and not outbox.wait([slow], timeout=0.3)  # deferred, not dropped


def test_final_survives_server_errors(slack: FakeSlackAPI, outbox: Outbox) -> None:
    ts = post(slack, "Writing…")
    slack.fail_next("chat.update", status=500, times=3)
    outbox.update(CHANNEL, ts, lambda: [message("done text", buttons=True)], kind=Kind.FINAL)
    assert outbox.wait([ts], timeout=5)
    assert texts(slack, ts) == "done text"
    assert len(slack.calls("chat.update")) == 4


def test_too_long_final_is_continued_in_the_next_message(slack: FakeSlackAPI, outbox: Outbox) -> None:
    parent = post(slack, "parent")
    ts = post(slack, "Writing…", thread_ts=parent)
    moved: list[str] = []
    slack.fail_next("chat.update", error="msg_too_long")
    final = {"text": "t", "blocks": [*message("part one")["blocks"], *message("part two", buttons=True)["blocks"]]}
    outbox.update(CHANNEL, ts, lambda: [final], kind=Kind.FINAL, thread_ts=parent, on_moved=moved.append)
    assert outbox.wait([ts], timeout=5)
    thread = slack.thread(CHANNEL, parent)
    assert [m["ts"] for m in thread] == [ts, moved[0]]
    assert texts(slack, ts) == "part one" and "Writing" not in texts(slack, ts)
    assert texts(slack, moved[0]) == "part two"
    assert slack.message(CHANNEL, moved[0])["blocks"][-1]["type"] == "actions"  # the buttons came along


def test_final_that_cannot_be_written_into_its_message_is_posted_anew(slack: FakeSlackAPI, outbox: Outbox) -> None:
    parent = post(slack, "parent")
    ts = post(slack, "Writing…", thread_ts=parent)
    moved: list[str] = []
    slack.fail_next("chat.update", error="cant_update_message", times=100)
    outbox.update(
        CHANNEL,
        ts,
        lambda: [message("the text", buttons=True)],
        kind=Kind.FINAL,
        thread_ts=parent,
        on_moved=moved.append,
    )
    assert outbox.wait([ts], timeout=5)
    thread = slack.thread(CHANNEL, parent)
    assert [texts(slack, m["ts"]) for m in thread] == ["the text"]  # the placeholder is gone, the text is there
    assert moved == [thread[0]["ts"]]


def test_final_still_failing_at_the_deadline_is_posted_anew(slack: FakeSlackAPI, outbox: Outbox) -> None:
    parent = post(slack, "parent")
    ts = post(slack, "Writing…", thread_ts=parent)
    moved: list[str] = []
    slack.fail_next("chat.update", status=500, times=1000)
    outbox.update(
        CHANNEL,
        ts,
        lambda: [message("the text", buttons=True)],
        kind=Kind.FINAL,
        thread_ts=parent,
        on_moved=moved.append,
    )
    assert outbox.wait([ts], timeout=10)
    assert moved and texts(slack, moved[0]) == "the text"


def test_a_final_that_cannot_be_shown_anywhere_is_reported_lost(slack: FakeSlackAPI, outbox: Outbox) -> None:
    lost: list[bool] = []
    slack.fail_next("chat.postMessage", error="channel_not_found", times=100)
    outbox.post("v1", CHANNEL, "1700000000.000100", lambda: [message("text")], on_lost=lambda: lost.append(True))
    assert outbox.wait(["v1"], timeout=5)
    assert lost == [True]


def test_a_callback_that_fails_does_not_stop_later_messages(slack: FakeSlackAPI, outbox: Outbox) -> None:
    """A full disk makes recording where a message moved fail; the messages after it must still go out."""
    parent = post(slack, "parent")
    ts, other = post(slack, "Writing…", thread_ts=parent), post(slack, "other")

    def disk_full(_ts: str) -> None:
        raise OSError("database or disk is full")

    slack.fail_next("chat.update", error="cant_update_message")
    outbox.update(
        CHANNEL, ts, lambda: [message("the text", buttons=True)], kind=Kind.FINAL, thread_ts=parent, on_moved=disk_full
    )
    assert outbox.wait([ts], timeout=5)
    outbox.update(CHANNEL, other, lambda: [message("later")], kind=Kind.REFRESH)
    assert outbox.wait([other], timeout=5)
    assert texts(slack, other) == "later"


def test_a_build_of_none_sends_nothing(slack: FakeSlackAPI, outbox: Outbox) -> None:
    ts = post(slack, "start")
    outbox.update(CHANNEL, ts, lambda: None, kind=Kind.REFRESH)
    assert outbox.wait([ts], timeout=5)
    assert slack.calls("chat.update") == []


def test_split_message_keeps_every_block_and_the_buttons_last() -> None:
    def section(text: str) -> dict[str, Any]:
        return {"type": "section", "text": {"type": "mrkdwn", "text": text}}

    buttons = {"type": "actions", "elements": []}
    whole = {"text": "t", "blocks": [section("title"), section("a"), section("b"), buttons]}
    first, second = split_message(whole) or []
    assert first["blocks"] == [section("title")]
    assert second["blocks"] == [section("a"), section("b"), buttons]
    first, second = split_message({"text": "t", "blocks": [section("line one\nline two"), buttons]}) or []
    assert first["blocks"] == [section("line one")] and second["blocks"] == [section("line two"), buttons]
    assert split_message({"text": "t", "blocks": [buttons]}) is None


def test_close_sends_waiting_counts_at_once_and_waits_for_nothing_it_cannot_send(slack: FakeSlackAPI) -> None:
    """A stopping process owes Slack every message's last counts, not its pacing: a refresh held back by
    the budget goes out at close, a live state is dropped (its final follows, or recovery marks the run),
    and a message deferred by a long Retry-After is not waited for."""
    client = WebClient(token="xoxb-test", base_url=slack.url, retry_handlers=[])
    budget = UpdateBudget(interval=600, per_minute=1, burst=1)  # one paced update, then none for minutes
    box = Outbox(one_workspace(client), budget, policy=Policy(retry_after_cap=3600))
    counted, live, deferred = post(slack, "👍 0"), post(slack, "Writing…"), post(slack, "👍 0")
    box.update(CHANNEL, counted, lambda: [message("👍 1")], kind=Kind.REFRESH)
    assert box.wait([counted], timeout=5)
    box.update(CHANNEL, counted, lambda: [message("👍 2")], kind=Kind.REFRESH)  # held back by the budget
    box.update(CHANNEL, live, lambda: [message("half a sentence")], kind=Kind.LIVE)
    slack.fail_next("chat.update", status=429, retry_after=3600, when=lambda p: p.get("ts") == deferred)
    box.update(CHANNEL, deferred, lambda: [message("👍 1")], kind=Kind.FINAL)
    slack.wait_for(lambda: any(c.faulted for c in slack.calls("chat.update")))
    assert not box.wait([counted], timeout=0.3)  # still paced while the process runs
    box.close(timeout=30)  # returns as soon as what can be sent is sent: well within the test's time limit
    assert texts(slack, counted) == "👍 2"
    assert texts(slack, live) == "Writing…" and texts(slack, deferred) == "👍 0"
