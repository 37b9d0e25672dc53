"""Socket Mode end to end: the real app, connected as `python -m bot` connects it (`listen_socket_mode`), takes
envelopes from a loopback Socket Mode server and acknowledges them, and keeps doing so when Slack asks it to
reconnect, closes the link or the link drops."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.app import Services, build
from bot.config import Settings
from bot.entry.serve import StartupError, listen_socket_mode
from bot.store.rows import RunRow
from bot.store.store import Store
from tests.fakes.anthropic_api import FakeAnthropicAPI
from tests.fakes.socket_mode import APP_ID, FakeSocketModeSlack
from tests.helpers import CHANNEL, ROOT, TEAM, USER, anthropic_client, bot_env, buttons, texts

APP_TOKEN = "xapp-1-A0001-test"
VOTE_BUTTONS = {"vote_up": "👍 0", "vote_down": "👎 0", "regenerate": "♻️ New version"}


@dataclass
class SocketBot:
    """The app in Socket Mode against the fakes; envelopes go in through `slack`, rows are read in `store`."""

    slack: FakeSocketModeSlack
    store: Store

    def wait_run(self, run_id: int) -> RunRow:
        """The run once it has ended (done, partial or failed)."""
        return self.slack.wait_for(lambda: (run := self.store.find_run(run_id)) and run.finished_at and run)

    def run_thread(self, run_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The run's parent message once it says Done, and its replies."""
        run = self.wait_run(run_id)
        assert run.message_ts is not None
        parent = self.slack.wait_for(
            lambda: (m := self.slack.message(CHANNEL, run.message_ts)) and "Done" in texts(m) and m
        )
        return parent, self.slack.thread(CHANNEL, run.message_ts)


@pytest.fixture
def slack() -> Iterator[FakeSocketModeSlack]:
    with FakeSocketModeSlack() as fake:
        yield fake


@pytest.fixture
def settings(slack: FakeSocketModeSlack, claude: FakeAnthropicAPI, tmp_path: Path) -> Settings:
    return Settings.from_env({**bot_env(slack, claude, tmp_path / "v.db"), "SLACK_APP_TOKEN": APP_TOKEN})


@pytest.fixture
def services(settings: Settings, slack: FakeSocketModeSlack, claude: FakeAnthropicAPI) -> Iterator[Services]:
    built = build(settings, anthropic_client=anthropic_client(claude))
    yield built
    built.close()
    assert not slack.errors and not claude.errors, (slack.errors, claude.errors)


@pytest.fixture
def bot(settings: Settings, slack: FakeSocketModeSlack, services: Services) -> Iterator[SocketBot]:
    stop = listen_socket_mode(settings, services)
    try:
        slack.wait_connected()
        yield SocketBot(slack, services.store)
    finally:
        stop()


def vote(slack: FakeSocketModeSlack, variation_id: int, message_ts: str, user: str) -> dict[str, Any]:
    """The block_actions payload of a 👍 click, as Slack delivers it in an `interactive` envelope."""
    return {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM},
        "api_app_id": APP_ID,
        "container": {"type": "message", "message_ts": message_ts, "channel_id": CHANNEL},
        "trigger_id": "1.1.trigger",
        "channel": {"id": CHANNEL, "name": "general"},
        "message": {"ts": message_ts, "text": "", "blocks": []},
        "response_url": slack.response_url(f"click-{user}"),
        "actions": [
            {
                "action_id": "vote_up",
                "block_id": f"votes-{variation_id}",
                "value": str(variation_id),
                "type": "button",
                "action_ts": "1700000000.000001",
            }
        ],
    }


def test_command_is_acked_and_its_run_posted_with_buttons(bot: SocketBot) -> None:
    ack = bot.slack.ack(bot.slack.command("Write a product description for our new water bottle"))
    assert ack.payload is None  # a plain ack: nothing shown to the person but the run

    parent, (analysis, *variations) = bot.run_thread(1)
    assert f"<@{USER}>" in texts(parent) and "water bottle" in texts(parent)
    assert "How I'll approach this" in texts(analysis)
    assert [buttons(v) for v in variations] == [VOTE_BUTTONS] * 3
    assert bot.store.run(1).status == "done"
    assert [call.token for call in bot.slack.calls("apps.connections.open")] == [APP_TOKEN]


def test_help_is_the_ack_itself(bot: SocketBot) -> None:
    ack = bot.slack.ack(bot.slack.command("help"))
    assert ack.payload is not None and ack.payload["response_type"] == "ephemeral"
    assert "/variations" in texts(ack.payload)


def test_an_envelope_the_guard_refuses_is_acked_all_the_same_and_the_refusal_logged(
    bot: SocketBot, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack re-sends an envelope it never saw acked: a malformed one (a click naming no user) must be acked."""
    payload = {"type": "block_actions", "team": {"id": "T0001"}, "actions": [{"action_id": "vote_up", "value": "1"}]}
    with caplog.at_level(logging.WARNING, logger="bot.entry.socket_mode"):
        ack = bot.slack.ack(bot.slack.interactive(payload))
    assert ack.payload is None
    assert "refused an envelope: type=interactive status=400 reason=The payload names no user." in caplog.text
    assert bot.store.db["feedback"].count == 0


def test_vote_click_is_acked_and_stored(bot: SocketBot) -> None:
    bot.slack.ack(bot.slack.command("Write a tagline"))
    bot.wait_run(1)
    message_ts = bot.store.variation(1).message_ts
    assert message_ts is not None

    bot.slack.ack(bot.slack.interactive(vote(bot.slack, 1, message_ts, "U0002")))

    clicks = [(r["user_id"], r["value"], r["variation_id"]) for r in bot.store.db["feedback"].rows]
    assert clicks == [("U0002", "up", 1)]  # in the database before the ack went out
    bot.slack.wait_for(lambda: buttons(bot.slack.message(CHANNEL, message_ts))["vote_up"] == "👍 1")


def test_runs_wait_for_envelopes_being_answered(bot: SocketBot, services: Services, settings: Settings) -> None:
    """Acks first in Socket Mode too: work after the ack waits while an envelope is being answered."""
    bot.slack.ack(bot.slack.command("Write a tagline"))
    bot.wait_run(1)
    message_ts = bot.store.variation(1).message_ts
    assert message_ts is not None
    services.ack_first.max_wait = 30  # so only the envelope's answer can end the wait
    locker = sqlite3.connect(settings.db_path, isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN IMMEDIATE")  # the click waits for the write lock: its envelope is being answered
    try:
        click = bot.slack.interactive(vote(bot.slack, 1, message_ts, "U0002"))
        time.sleep(1.0)  # setup, not a measure: the click reaches its listener, which waits for the lock
        acks_when_quiet: list[int] = []
        waiter = threading.Thread(
            target=lambda: (services.ack_first.wait_quiet(), acks_when_quiet.append(len(bot.slack.acks())))
        )
        waiter.start()
        threading.Timer(0.3, lambda: locker.execute("ROLLBACK")).start()
        waiter.join(timeout=20)
    finally:
        if locker.in_transaction:
            locker.execute("ROLLBACK")
        locker.close()
    bot.slack.ack(click)
    assert acks_when_quiet == [2]  # the command's and the click's: the wait ended only once it was acked


def test_app_home_opened_is_acked_and_the_home_tab_published(bot: SocketBot) -> None:
    event = {"type": "app_home_opened", "user": USER, "channel": "D0001", "tab": "home", "event_ts": "1700000000.1"}
    bot.slack.ack(bot.slack.event(event))
    home = bot.slack.wait_for(lambda: [v for v in bot.slack.views() if v.get("user_id") == USER])
    assert home[0]["type"] == "home"


@pytest.mark.parametrize(
    "link_change",
    [
        pytest.param(lambda slack: slack.disconnect("refresh_requested"), id="disconnect-refresh_requested"),
        pytest.param(lambda slack: slack.disconnect("warning"), id="disconnect-warning"),
        pytest.param(lambda slack: slack.close(), id="close-frame"),
        pytest.param(lambda slack: slack.drop(), id="tcp-drop"),
    ],
)
def test_a_command_right_after_the_link_changes_is_acked_and_run(
    bot: SocketBot, link_change: Callable[[FakeSocketModeSlack], None]
) -> None:
    bot.slack.ack(bot.slack.command("Before"))
    link_change(bot.slack)
    bot.slack.ack(bot.slack.command("After", user_id="U0002"))  # waits for a new connection, then delivered

    assert bot.slack.connections() == 2
    assert [call.token for call in bot.slack.calls("apps.connections.open")] == [APP_TOKEN] * 2
    # Both runs wait for the acks to be over before they start, so either may be run 1.
    runs = bot.slack.wait_for(
        lambda: (
            len(rows := bot.store.query("select task, status from runs where finished_at is not null")) == 2 and rows
        )
    )
    assert sorted(runs) == [("After", "done"), ("Before", "done")]


def test_twenty_commands_at_once_are_all_acked_and_run(bot: SocketBot) -> None:
    sent = [bot.slack.command(f"Task {n}", user_id=f"U{n:04d}") for n in range(20)]

    acks = [bot.slack.ack(envelope_id) for envelope_id in sent]
    assert [ack.payload for ack in acks] == [None] * 20  # none refused
    bot.slack.wait_for(lambda: sum(1 for r in bot.store.db["runs"].rows if r["status"] == "done") == 20)
    assert sorted(r["task"] for r in bot.store.db["runs"].rows) == sorted(f"Task {n}" for n in range(20))


# -- start-up failures are one line each (`python -m bot` prints it and exits 2) ---------------------------


@pytest.mark.parametrize("error", ["invalid_auth", "not_allowed_token_type"])  # the latter: a bot token in its place
def test_a_rejected_app_token_is_one_line(
    settings: Settings, slack: FakeSocketModeSlack, services: Services, error: str
) -> None:
    slack.fail_next("apps.connections.open", error=error)
    with pytest.raises(StartupError) as raised:
        listen_socket_mode(settings, services)
    assert str(raised.value) == f"Slack rejected SLACK_APP_TOKEN (apps.connections.open: {error})"
    assert slack.connections() == 0


def test_a_websocket_that_cannot_be_opened_is_one_line(
    settings: Settings, slack: FakeSocketModeSlack, services: Services
) -> None:
    slack.unreachable = True
    with pytest.raises(StartupError) as raised:
        listen_socket_mode(settings, services)
    assert str(raised.value).startswith("cannot open the Socket Mode connection to 127.0.0.1: ")
    assert "\n" not in str(raised.value) and "ticket" not in str(raised.value)


def test_the_bot_process_answers_in_socket_mode_and_stops_cleanly_on_sigterm(
    slack: FakeSocketModeSlack, claude: FakeAnthropicAPI, tmp_path: Path
) -> None:
    env = {**os.environ, **bot_env(slack, claude, tmp_path / "v.db"), "SLACK_APP_TOKEN": APP_TOKEN}
    log = tmp_path / "bot.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "bot"], cwd=ROOT, env=env, stderr=stderr)
    try:
        slack.wait_connected(timeout=30)
        assert slack.ack(slack.command("Write a tagline")).payload is None
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    with sqlite3.connect(tmp_path / "v.db") as db:
        assert db.execute("select task, status from runs").fetchall() == [("Write a tagline", "done")]
    lines = log.read_text().splitlines()
    assert any("connected in Socket Mode" in line for line in lines)
    assert any("drained; exiting" in line for line in lines)
    assert not [line for line in lines if " ERROR " in line or "Traceback" in line]
