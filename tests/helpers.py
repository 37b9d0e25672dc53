"""What the test modules share: the app started in-process or as `python -m bot`, requests signed as Slack
signs them, and readers for what a person sees in Slack. Fixtures live in conftest.py and use these."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anthropic

from bot.app import build
from bot.config import Settings
from bot.entry.http import HttpServer
from bot.store.rows import RunRow
from bot.store.store import Store
from tests.fakes import free_port, wait_for
from tests.fakes.anthropic_api import FakeAnthropicAPI
from tests.fakes.signing import block_actions_body, event_body, signed_headers, slash_command_body
from tests.fakes.slack_api import FakeSlackAPI

ROOT = Path(__file__).resolve().parents[1]
SIGNING_SECRET = "test-signing-secret"
CHANNEL = "C0001"
USER = "U0001"
TEAM = "T0001"
NOW = datetime.now(UTC)

# -- the app against the fakes ------------------------------------------------------------------------------


def anthropic_client(fake: FakeAnthropicAPI, max_retries: int = 2) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test-key", base_url=fake.url, max_retries=max_retries, timeout=20)


def bot_env(slack: FakeSlackAPI, claude: FakeAnthropicAPI, db_path: Path) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.url,
        "ANTHROPIC_API_KEY": "test-key",
        "ANTHROPIC_BASE_URL": claude.url,
        "VARIATIONS_DB": str(db_path),
        "ORCHESTRATOR_MODEL": "orch-model",
        "WORKER_MODEL": "work-model",
        # Live updates at most every 0.2 s per message, so streaming shows within short test replies.
        "VARIATIONS_UPDATE_INTERVAL": "0.2",
        # A final state Slack will not take in place is posted anew after 2 s, not a minute.
        "VARIATIONS_SLACK_DEADLINE": "2",
    }


@dataclass
class Bot:
    """The app in HTTP mode on a loopback port, and ways to send it requests signed as Slack does."""

    url: str
    store: Store
    slack: FakeSlackAPI
    claude: FakeAnthropicAPI

    def post(self, body: str, headers: dict[str, str], timeout: float = 10) -> tuple[int, str]:
        request = urllib.request.Request(self.url, data=body.encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def command(self, text: str, **fields: Any) -> tuple[int, str]:
        fields.setdefault("response_url", self.slack.response_url("command"))
        body = slash_command_body(text=text, **fields)
        return self.post(body, signed_headers(body, SIGNING_SECRET))

    def click(
        self, variation_id: int, vote: str = "up", user: str = USER, team: str = TEAM, timeout: float = 10
    ) -> tuple[int, str]:
        """A click on a variation's 👍 (vote="up") or 👎 (vote="down") button, answered within `timeout`."""
        row = self.store.find_variation(variation_id)
        message_ts = row.message_ts if row and row.message_ts else "1700000000.000100"
        payload = {
            "type": "block_actions",
            "team": {"id": team, "domain": "test"},
            "user": {"id": user, "username": user.lower(), "team_id": team},
            "api_app_id": "A0001",
            "token": "verification-token",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": CHANNEL},
            "trigger_id": "1.1.trigger",
            "channel": {"id": CHANNEL, "name": "general"},
            "message": {"ts": message_ts, "text": "", "blocks": []},
            "response_url": self.slack.response_url(f"click-{user}"),
            "actions": [
                {
                    "action_id": f"vote_{vote}",
                    "block_id": f"votes-{variation_id}",
                    "value": str(variation_id),
                    "type": "button",
                    "action_ts": "1700000000.000001",
                }
            ],
        }
        body = block_actions_body(payload)
        return self.post(body, signed_headers(body, SIGNING_SECRET), timeout=timeout)

    def healthz(self) -> tuple[int, dict[str, Any]]:
        """GET /healthz: its status and report, whatever the status."""
        url = self.url.replace("/slack/events", "/healthz")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def wait_run(self, run_id: int = 1) -> RunRow:
        """Wait until a run has ended (done, partial or failed) and return its row."""
        return self.slack.wait_for(lambda: (row := self.store.find_run(run_id)) and row.finished_at and row)


@contextmanager
def start_bot(
    slack: FakeSlackAPI, claude: FakeAnthropicAPI, db: Path, env: Mapping[str, str] | None = None
) -> Iterator[Bot]:
    """The app in-process, served as `python -m bot` serves it (metrics included), with `env` on top of
    bot_env."""
    settings = Settings.from_env({**bot_env(slack, claude, db), **(env or {})})
    services = build(settings, anthropic_client=anthropic_client(claude))
    server = HttpServer(
        services.app, services.ack_first, services.health, host="127.0.0.1", port=0, metrics=services.metrics
    )
    server.start()
    try:
        yield Bot(server.url, services.store, slack, claude)
    finally:
        server.stop()
        services.close()


class BotProcess:
    """`python -m bot` in HTTP mode on a port of its own against the fakes, its stderr in `log`; `bot` sends
    it requests and reads the database through `store`, as a third process would."""

    def __init__(self, slack: FakeSlackAPI, claude: FakeAnthropicAPI, store: Store, log: Path, **env: str) -> None:
        self.log = log
        # free_port() closes the port it found, so with tests running in parallel another process may take it
        # first: that start fails with "cannot listen on port", and the next port is tried.
        for _ in range(5):
            port = free_port()
            with log.open("wb") as stderr:
                self.popen = subprocess.Popen(
                    [sys.executable, "-m", "bot"],
                    cwd=ROOT,
                    # A beat twice a second: a process that died is noticed by the others within a second.
                    env={
                        **os.environ,
                        **bot_env(slack, claude, Path(store.path)),
                        "PORT": str(port),
                        "VARIATIONS_HEARTBEAT_SECONDS": "0.5",
                        **env,
                    },
                    stderr=stderr,
                )
            self.bot = Bot(f"http://127.0.0.1:{port}/slack/events", store, slack, claude)
            wait_for(self._answers_or_ended, timeout=30, context=self.stderr)
            if self.popen.poll() is None or "cannot listen on port" not in self.stderr():
                break
        assert self.popen.poll() is None, self.stderr()

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def _answers_or_ended(self) -> bool:
        return self.health() is not None or self.popen.poll() is not None

    def health(self) -> dict[str, Any] | None:
        """The /healthz report, or None while the process does not answer."""
        try:
            return self.bot.healthz()[1]
        except OSError:
            return None

    def wait(self) -> int:
        """The exit code, once the process has ended by itself."""
        return self.popen.wait(timeout=60)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)


StartProcess = Callable[..., BotProcess]
"""The `start_process` fixture: `start(name="bot", **env)` starts one more BotProcess on the test's database."""


# -- requests a person sends by clicking --------------------------------------------------------------------


def interaction(bot: Bot, payload: dict[str, Any], timeout: float = 10) -> tuple[int, str]:
    """Send an interactivity payload (block_actions, view_submission) signed as Slack does, answered within
    `timeout` seconds."""
    payload = {"team": {"id": TEAM, "domain": "test"}, "user": {"id": USER, "team_id": TEAM}, **payload}
    body = block_actions_body(payload)
    return bot.post(body, signed_headers(body, SIGNING_SECRET), timeout=timeout)


def press(bot: Bot, action_id: str, value: str, user: str = USER, timeout: float = 10) -> tuple[int, str]:
    """A click on a button other than the votes (synthesize, regenerate, retry); the app's answer, if any,
    goes to the response_url named `{action_id}-{user}`."""
    return interaction(
        bot,
        {
            "type": "block_actions",
            "user": {"id": user, "team_id": TEAM},
            "trigger_id": "9.9.9",
            "channel": {"id": CHANNEL},
            "container": {"type": "message", "channel_id": CHANNEL},
            "response_url": bot.slack.response_url(f"{action_id}-{user}"),
            "actions": [{"action_id": action_id, "value": value, "type": "button"}],
        },
        timeout,
    )


def opened_view(bot: Bot, callback_id: str) -> dict[str, Any]:
    """The last modal the app opened with `callback_id`, once there is one."""
    call = bot.slack.wait_for(
        lambda: [c for c in bot.slack.calls("views.open") if c.params["view"]["callback_id"] == callback_id]
    )[-1]
    return call.params["view"]


def submit_view(bot: Bot, view: dict[str, Any], values: dict[str, Any]) -> tuple[int, str]:
    """Submit a modal the app opened, with `values` as Slack's view.state.values."""
    submitted = {**view, "id": "V123", "team_id": TEAM, "state": {"values": values}}
    return interaction(bot, {"type": "view_submission", "trigger_id": "1.2.3", "view": submitted})


def mention(
    bot: Bot,
    text: str,
    *,
    ts: str,
    thread_ts: str | None = None,
    user: str = USER,
    event_id: str | None = None,
    retry: int = 0,
    timeout: float = 10,
    **event: Any,
) -> tuple[int, str]:
    """`@Variations TEXT` posted as message `ts` (in `thread_ts`'s thread when given), as Slack sends the
    app_mention event; `retry` > 0 sends it again as Slack re-sends a missed event (same event_id)."""
    fields = {"type": "app_mention", "user": user, "text": f"<@UBOT> {text}", "ts": ts, "channel": CHANNEL}
    fields.update({"event_ts": ts, "team": TEAM, **({"thread_ts": thread_ts} if thread_ts else {}), **event})
    body = event_body(fields, team_id=TEAM, event_id=event_id or f"Ev{ts.replace('.', '')}")
    headers = signed_headers(body, SIGNING_SECRET, content_type="application/json")
    if retry:
        headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
    return bot.post(body, headers, timeout=timeout)


def session_stopped(
    bot: Bot,
    channel: str,
    thread_ts: str,
    streams: Sequence[str] = (),
    *,
    user: str = USER,
    event_id: str,
    retry: int = 0,
) -> tuple[int, str]:
    """Slack's stop button of the agent session of thread `thread_ts` was clicked (`streams`: the ts of
    the streams Slack stopped), as Slack sends the agent_session_stopped event; `retry` > 0 re-sends it."""
    fields = {
        "type": "agent_session_stopped",
        "channel": channel,
        "thread_ts": thread_ts,
        "user": user,
        "streaming_message_ts": list(streams),
        "event_ts": "1800000000.000900",
    }
    body = event_body(fields, team_id=TEAM, event_id=event_id)
    headers = signed_headers(body, SIGNING_SECRET, content_type="application/json")
    if retry:
        headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
    return bot.post(body, headers)


def text_value(value: str) -> dict[str, Any]:
    """A plain-text input's state, as in view.state.values."""
    return {"value": {"type": "plain_text_input", "value": value}}


# -- what a person sees --------------------------------------------------------------------------------------


def texts(message: dict[str, Any]) -> str:
    """Every text a person sees in a message (its blocks' texts, or the plain text), joined."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("blocks") or [])
    return "\n".join(found) if found else message.get("text") or ""


def buttons(message: dict[str, Any]) -> dict[str, str]:
    """action_id → label of the buttons on a message."""
    return {
        element["action_id"]: element["text"]["text"]
        for block in message.get("blocks") or []
        if block["type"] == "actions"
        for element in block["elements"]
    }


def section_texts(blocks: list[dict[str, Any]]) -> list[str]:
    """The texts of a view's headers and sections, then of its context lines."""
    return [b["text"]["text"] for b in blocks if b["type"] in ("section", "header")] + [
        e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]
    ]


def run_thread(bot: Bot) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's parent message and its replies once the run ended and its status line says so."""
    run = bot.wait_run()
    parent = bot.slack.wait_for(
        lambda: (m := bot.slack.message(CHANNEL, run.message_ts)) and ("Done" in texts(m) or "Failed" in texts(m)) and m
    )
    return parent, bot.slack.thread(CHANNEL, run.message_ts)


# -- rows written straight to the store ----------------------------------------------------------------------


def make_run(
    store: Store,
    variations: Sequence[tuple[str, str]],
    *,
    team: str = "T1",
    channel: str = "CA",
    user: str = "U1",
    task: str = "Write a tagline",
    ago: timedelta = timedelta(hours=1),
    tokens: tuple[int, int] | None = None,
    message_ts: str | None = None,
) -> list[int]:
    """A run created `ago` before now with (type, status) variations; returns the variations' ids."""
    run_id = store.create_run(
        team_id=team,
        channel_id=channel,
        user_id=user,
        task=task,
        context={},
        orchestrator_model="o",
        worker_model="w",
    )
    fields: dict[str, Any] = {"created_at": (NOW - ago).isoformat(timespec="milliseconds"), "status": "done"}
    if tokens is not None:
        fields["input_tokens"], fields["output_tokens"] = tokens
    if message_ts is not None:
        fields["message_ts"] = message_ts
    store.update_run(run_id, **fields)
    ids = []
    for position, (kind, status) in enumerate(variations):
        variation_id = store.add_variation(run_id, position, kind, f"The {kind} take")
        store.update_variation(variation_id, status=status, text=f"{kind} text")
        ids.append(variation_id)
    return ids


def record_clicks(store: Store, variation_id: int, *votes: tuple[str, str], team: str = "T1") -> None:
    """(user, value) clicks, in order, as the buttons record them."""
    for user, value in votes:
        store.record_click(variation_id, team_id=team, user_id=user, value=value)
