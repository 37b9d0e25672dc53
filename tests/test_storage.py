"""Storage failures are visible: a request that cannot be recorded is told so, /healthz checks writes,
a run whose database stops taking writes still ends visibly in Slack, and once writes work again no run
is left "running"."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.anthropic_api import FakeAnthropicAPI
from tests.fakes.slack_api import FakeSlackAPI
from tests.helpers import CHANNEL, Bot, buttons, press, start_bot, texts
from tests.scripted import Script


def read_only(bot: Bot, on: bool) -> None:
    """Make the app's database refuse every write, as a full or read-only disk does."""
    bot.store.db.execute(f"PRAGMA query_only = {int(on)}")


@pytest.fixture
def quick_bot(slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path) -> Iterator[Bot]:
    """The bot with recovery looking for orphans five times a second."""
    with start_bot(slack, claude, tmp_path / "variations.db", {"VARIATIONS_HEARTBEAT_SECONDS": "0.2"}) as bot:
        yield bot


def test_a_request_that_cannot_be_recorded_is_told_so(bot: Bot) -> None:
    read_only(bot, True)
    status, body = bot.command("Write a tagline")
    answer = json.loads(body)  # the ack itself: admitting the run is the first write, and it fails
    assert status == 200 and answer["response_type"] == "ephemeral" and "couldn't record this request" in answer["text"]
    assert bot.slack.calls("chat.postMessage") == [] and bot.claude.requests() == []
    status, report = bot.healthz()
    assert status == 503 and report["ok"] is False and "readonly" in str(report["database"])
    read_only(bot, False)
    assert bot.healthz()[0] == 200


def test_healthz_answers_503_when_the_database_file_cannot_grow(bot: Bot) -> None:
    """A full disk: rows updated in place (the heartbeat) still commit, new rows do not."""
    (pages,) = bot.store.db.execute("PRAGMA page_count").fetchone()
    bot.store.db.execute(f"PRAGMA max_page_count = {pages}")
    status, report = bot.healthz()
    assert status == 503 and report["ok"] is False and "full" in str(report["database"])
    bot.store.db.execute("PRAGMA max_page_count = 1073741823")
    assert bot.healthz()[0] == 200
    assert bot.store.query("select count(*) from seen_events") == [(0,)]  # the probe leaves no row


def test_a_click_that_cannot_be_saved_is_told_so(bot: Bot) -> None:
    bot.command("Write a tagline")
    bot.wait_run()
    read_only(bot, True)
    assert bot.click(1, "up")[0] == 200
    note = bot.slack.wait_for(lambda: bot.slack.responses("click-U0001"))[0]
    assert "could not be saved" in note["text"]
    read_only(bot, False)
    assert bot.store.db["feedback"].count == 0


def test_a_run_whose_database_fails_ends_visibly_and_is_recovered(quick_bot: Bot) -> None:
    bot = quick_bot
    release = threading.Event()

    def worker(kind: str) -> str:
        release.wait(timeout=30)
        return f"<response>{kind} text</response>"

    bot.claude.responder = Script(worker=worker)
    bot.command("Write a tagline")
    bot.slack.wait_for(lambda: len([v for v in bot.store.variations(1) if v.message_ts]) == 3)
    read_only(bot, True)
    release.set()
    parent_ts = bot.store.run(1).message_ts
    parent = bot.slack.wait_for(lambda: (m := bot.slack.message(CHANNEL, parent_ts)) and "Failed" in texts(m) and m)
    assert "database could not be written" in texts(parent)
    for message in bot.slack.thread(CHANNEL, parent_ts):
        assert "Writing…" not in texts(message)
    assert bot.store.run(1).status == "running"  # the database could not be told
    read_only(bot, False)
    assert bot.slack.wait_for(lambda: bot.store.run(1).status == "interrupted")
    assert bot.slack.wait_for(lambda: "Interrupted" in texts(bot.slack.message(CHANNEL, parent_ts)))
    for row in bot.store.variations(1):
        assert row.status == "interrupted"
        assert bot.slack.wait_for(
            lambda row=row: buttons(bot.slack.message(CHANNEL, row.message_ts)) == {"retry": "🔁 Retry"}
        )


def test_a_listener_that_cannot_read_the_database_answers_200_and_says_so_privately(bot: Bot) -> None:
    bot.command("Write a tagline")
    bot.wait_run()
    bot.store.db.execute("alter table variations rename to variations_away")  # every read of it fails now
    try:
        assert press(bot, "vote_up", "1") == (200, "")
        assert press(bot, "regenerate", "1") == (200, "")
        for key in ("vote_up-U0001", "regenerate-U0001"):
            (note,) = bot.slack.wait_for(lambda key=key: bot.slack.responses(key))
            assert note["response_type"] == "ephemeral" and "couldn't read its database" in note["text"]
    finally:
        bot.store.db.execute("alter table variations_away rename to variations")
    assert bot.store.db["feedback"].count == 0
    assert bot.click(1, "up")[0] == 200  # and once it reads again, the click counts
    bot.slack.wait_for(lambda: bot.store.db["feedback"].count == 1)
