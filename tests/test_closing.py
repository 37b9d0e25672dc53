"""Closing a run's voting: the requester's 🔒 button or VARIATIONS_VOTING_HOURS, the verdict in the thread,
the vote buttons gone, and late clicks told so and not counted."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from bot.render.modals import regenerate_form
from bot.render.run_messages import verdict_message
from bot.render.variation_messages import variation_messages
from bot.store.rows import Tally
from bot.store.store import Store
from orchestrator.parsing import Approach
from tests.fakes.anthropic_api import FakeAnthropicAPI
from tests.fakes.slack_api import FakeSlackAPI
from tests.helpers import (
    CHANNEL,
    USER,
    Bot,
    buttons,
    make_run,
    mention,
    press,
    record_clicks,
    run_thread,
    start_bot,
    submit_view,
    text_value,
    texts,
)
from tests.scripted import Script

CLOSED_NOTE = "Voting on this run has closed"
VERDICT = "🔒 *Voting has closed*"


def verdict(bot: Bot) -> dict[str, Any]:
    """The verdict reply in run 1's thread, once it is there."""
    run = bot.store.run(1)
    return bot.slack.wait_for(
        lambda: next((m for m in bot.slack.thread(CHANNEL, run.message_ts) if VERDICT in texts(m)), None)
    )


def shows_closed(bot: Bot) -> bool:
    """Every variation's message has lost its buttons for its final counts, and the parent says so."""
    run = bot.store.run(1)
    messages = [bot.slack.message(CHANNEL, v.message_ts) for v in bot.store.variations(1) if v.message_ts]
    parent = bot.slack.message(CHANNEL, run.message_ts)
    return (
        all(not buttons(m) and "🔒 Voting has closed" in texts(m) for m in messages)
        and "close_voting" not in buttons(parent)
        and "Voting has closed" in texts(parent)
    )


def test_the_requester_closes_voting_and_late_clicks_are_not_counted(bot: Bot) -> None:
    bot.command("Write a tagline")
    parent, _ = run_thread(bot)
    assert buttons(parent)["close_voting"] == "🔒 Close voting"
    for user in ("U1", "U2", "U3", "U4", "U5"):
        bot.click(1, "up", user=user)
    bot.click(2, "down", user="U1")

    assert press(bot, "close_voting", "1", user=USER)[0] == 200
    shown = texts(verdict(bot))
    assert "🏆 Winner: *1. Technical*, 5 👍 0 👎, 83% likely the best" in shown
    # Nobody voted on Practical: it may still be better than Lifestyle, which has a 👎.
    assert "#2 *3. Practical*: no votes yet\n#3 *2. Lifestyle*: 0 👍 1 👎, 3% likely the best" in shown
    assert bot.slack.wait_for(lambda: shows_closed(bot))
    first = bot.slack.message(CHANNEL, bot.store.variation(1).message_ts)
    assert "👍 5 · 👎 0" in texts(first)

    assert bot.click(1, "up", user="U9")[0] == 200
    [note] = bot.slack.wait_for(lambda: bot.slack.responses("click-U9"))
    assert CLOSED_NOTE in note["text"] and note["response_type"] == "ephemeral"
    assert bot.store.tally(1) == Tally(5, 0)
    # The log keeps every click before closing, and none after.
    assert [r["user_id"] for r in bot.store.db["feedback"].rows_where(order_by="id")] == [
        "U1",
        "U2",
        "U3",
        "U4",
        "U5",
        "U1",
    ]
    # A second close is quiet: one verdict.
    press(bot, "close_voting", "1", user=USER)
    run = bot.store.run(1)
    assert sum(VERDICT in texts(m) for m in bot.slack.thread(CHANNEL, run.message_ts)) == 1


def test_only_the_requester_can_close_voting(bot: Bot) -> None:
    bot.command("Write a tagline")
    run_thread(bot)
    assert press(bot, "close_voting", "1", user="U2")[0] == 200
    [note] = bot.slack.wait_for(lambda: bot.slack.responses("close_voting-U2"))
    assert "Only the person who asked" in note["text"]
    assert not bot.store.run(1).voting_closed
    bot.click(1, "up", user="U2")
    assert bot.store.tally(1) == Tally(1, 0)


def test_closing_is_acked_while_slack_is_slow(bot: Bot) -> None:
    bot.command("Write a tagline")
    run_thread(bot)
    bot.slack.latency = 4.0  # longer than Slack waits for an ack
    # Answered within the 3 s Slack waits for an ack, else the post raises.
    assert press(bot, "close_voting", "1", timeout=3)[0] == 200
    assert bot.store.run(1).voting_closed
    bot.slack.latency = 0.0
    verdict(bot)


def test_voting_closes_by_itself_after_the_voting_hours(
    slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path
) -> None:
    # 0.00001 hours is 36 ms: the first heartbeats after the run closes it.
    env = {"VARIATIONS_VOTING_HOURS": "0.00001", "VARIATIONS_HEARTBEAT_SECONDS": "0.05"}
    with start_bot(slack, claude, tmp_path / "v.db", env) as bot:
        bot.command("Write a tagline")
        bot.wait_run()
        assert "No winner: nobody voted" in texts(verdict(bot))
        assert bot.slack.wait_for(lambda: shows_closed(bot))
        bot.click(1, "up", user="U1")
        [note] = bot.slack.wait_for(lambda: bot.slack.responses("click-U1"))
        assert CLOSED_NOTE in note["text"]
        assert bot.store.tally(1) == Tally()
    assert not slack.errors and not claude.errors


def test_of_processes_sharing_the_database_exactly_one_closes_a_run(tmp_path: Path) -> None:
    first, second = Store(str(tmp_path / "v.db")), Store(str(tmp_path / "v.db"))
    try:
        make_run(first, [("technical", "done")])
        first.update_run(1, finished_at="2020-01-01T00:00:00.000+00:00")
        assert second.voting_due("2021-01-01") == [1]
        assert first.voting_due("2019-01-01") == []
        assert [second.close_voting(1), first.close_voting(1)] == [True, False]
        assert second.voting_due("2021-01-01") == []
    finally:
        first.close()
        second.close()


def verdict_of(tmp_path: Path, votes: list[list[str]]) -> str:
    """The verdict of a run of three approaches (the third failed) with these votes on the first two."""
    tmp_path.mkdir()
    store = Store(str(tmp_path / "v.db"))
    try:
        ids = make_run(store, [("technical", "done"), ("lifestyle", "done"), ("practical", "failed")])
        for variation_id, values in zip(ids, votes, strict=False):
            record_clicks(store, variation_id, *[(f"U{n}", value) for n, value in enumerate(values)])
        return texts(verdict_message(store.variations(1), store.tallies(1)))
    finally:
        store.close()


def test_three_voters_name_a_winner_and_a_tie_is_too_close_to_call(tmp_path: Path) -> None:
    shown = verdict_of(tmp_path / "a", [["up", "up", "up"], ["down", "down"]])
    assert "🏆 Winner: *1. Technical*, 3 👍 0 👎, 97% likely the best" in shown
    assert "#2 *2. Lifestyle*: 0 👍 2 👎, 3% likely the best" in shown
    assert "Practical" not in shown  # failed: nothing to rank
    tie = verdict_of(tmp_path / "b", [["up"], ["up"]])
    assert "Winner" not in tie
    assert (
        "🤷 No winner: too close to call. *1. Technical* is 50% likely the best, and a winner takes more than 75%"
        in tie
    )


def test_a_closed_variation_shows_its_counts_without_buttons() -> None:
    [message] = variation_messages(7, 0, Approach("technical", "Specs first"), "Text", up=3, down=1, closed=True)
    assert not [b for b in message["blocks"] if b["type"] == "actions"]
    assert "👍 3 · 👎 1 · 🔒 Voting has closed" in texts(message)


def test_after_closing_nothing_new_arrives_and_the_parent_names_the_winner(bot: Bot) -> None:
    bot.command("Write a tagline")
    parent, _ = run_thread(bot)
    for user in ("U1", "U2", "U3"):
        bot.click(1, "up", user=user)
    bot.click(2, "down", user="U1")
    bot.click(3, "down", user="U2")
    assert press(bot, "close_voting", "1", user=USER)[0] == 200
    assert bot.slack.wait_for(lambda: shows_closed(bot))
    closed = bot.slack.message(CHANNEL, parent["ts"])
    assert buttons(closed) == {}  # neither 🧩 nor 🔒
    assert "🏆 Winner: *1. Technical*, 3 👍 0 👎" in texts(closed) and "Leading" not in texts(closed)

    # A stale 🧩, a ♻️ form still open, a follow-up in the thread: each told voting has closed.
    assert press(bot, "synthesize", "1", user="U2")[0] == 200
    [note] = bot.slack.wait_for(lambda: bot.slack.responses("synthesize-U2"))
    assert "Voting on this run has closed" in note["text"]
    form = regenerate_form(1, "technical")
    status, body = submit_view(bot, form, {"instruction": text_value("shorter")})
    assert status == 200 and "Voting on this run has closed" in json.loads(body)["errors"]["instruction"]
    assert mention(bot, "one for teenagers", ts="1800000000.000100", thread_ts=parent["ts"])[0] == 200
    whisper = bot.slack.wait_for(lambda: bot.slack.ephemerals(CHANNEL))[0]
    assert "Voting on this run has closed" in whisper["text"]
    assert len(bot.store.variations(1)) == 3  # nothing new was written


def test_a_variation_written_while_voting_closes_arrives_without_vote_buttons(
    slack: FakeSlackAPI, tmp_path: Path
) -> None:
    release = threading.Event()

    def worker(kind: str) -> str:
        if kind == "technical" and bot_ready.is_set():
            release.wait(timeout=30)
        return "<response>Cold.</response>"

    bot_ready = threading.Event()
    with FakeAnthropicAPI(Script(worker=worker)) as claude, start_bot(slack, claude, tmp_path / "v.db") as bot:
        try:
            bot.command("Write a tagline")
            run_thread(bot)
            bot_ready.set()
            assert press(bot, "regenerate", "1")[0] == 200
            submit_view(bot, bot.slack.wait_for(lambda: bot.slack.calls("views.open"))[-1].params["view"],
                        {"instruction": text_value("shorter")})  # fmt: skip
            bot.slack.wait_for(lambda: len(bot.store.variations(1)) == 4)
            assert press(bot, "close_voting", "1", user=USER)[0] == 200
            bot.slack.wait_for(lambda: bot.store.run(1).voting_closed)
        finally:
            release.set()
        new = bot.slack.wait_for(lambda: (row := bot.store.variation(4)).written and row.message_ts and row)
        message = bot.slack.wait_for(
            lambda: (m := bot.slack.message(CHANNEL, new.message_ts)) and "Writing" not in texts(m) and m
        )
        assert not buttons(message) and "🔒 Voting has closed" in texts(message)
