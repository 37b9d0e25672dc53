"""Shared fixtures: the loopback fakes, and the bot running in HTTP mode against them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import pytest

from bot.app import build
from bot.config import Settings
from bot.server import HttpServer
from bot.store import Store
from orchestrator.engine import Engine
from orchestrator.llm import LLM
from tests.fakes.anthropic_api import FakeAnthropicAPI
from tests.fakes.signing import block_actions_body, signed_headers, slash_command_body
from tests.fakes.slack_api import FakeSlackAPI
from tests.scripted import Script

SIGNING_SECRET = "test-signing-secret"
CHANNEL = "C0001"
USER = "U0001"
TEAM = "T0001"


@pytest.fixture
def claude() -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI(Script()) as fake:
        yield fake


@pytest.fixture
def slack() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as fake:
        yield fake


def anthropic_client(fake: FakeAnthropicAPI, max_retries: int = 2) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test-key", base_url=fake.url, max_retries=max_retries, timeout=20)


@pytest.fixture
def engine(claude: FakeAnthropicAPI) -> Iterator[Engine]:
    with ThreadPoolExecutor(8) as pool:
        yield Engine(LLM(anthropic_client(claude)), pool, orchestrator_model="orch-model", worker_model="work-model")


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

    def post(self, body: str, headers: dict[str, str]) -> tuple[int, str]:
        request = urllib.request.Request(self.url, data=body.encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def command(self, text: str, **fields: Any) -> tuple[int, str]:
        fields.setdefault("response_url", self.slack.response_url("command"))
        body = slash_command_body(text=text, **fields)
        return self.post(body, signed_headers(body, SIGNING_SECRET))

    def click(self, variation_id: int, vote: str = "up", user: str = USER, team: str = TEAM) -> tuple[int, str]:
        """A click on a variation's 👍 (vote="up") or 👎 (vote="down") button."""
        row = self.store.variation(variation_id)
        message_ts = row["message_ts"] if row else "1700000000.000100"
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
        return self.post(body, signed_headers(body, SIGNING_SECRET))

    def wait_run(self, run_id: int = 1) -> dict[str, Any]:
        """Wait until a run has ended (done, partial or failed) and return its row."""
        return self.slack.wait_for(
            lambda: (row := self.store.run(run_id)) and row["finished_at"] and row,
        )


@pytest.fixture
def bot(slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path) -> Iterator[Bot]:
    settings = Settings.from_env(bot_env(slack, claude, tmp_path / "variations.db"))
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
        assert not slack.errors and not claude.errors, (slack.errors, claude.errors)


def blocks_text(message: dict[str, Any]) -> str:
    """All the text a person sees in a message's blocks, for assertions."""
    return json.dumps(message.get("blocks") or [], ensure_ascii=False) + (message.get("text") or "")


def interaction(bot: Bot, payload: dict[str, Any]) -> tuple[int, str]:
    """Send an interactivity payload (block_actions, view_submission) signed as Slack does."""
    payload = {"team": {"id": TEAM, "domain": "test"}, "user": {"id": USER, "team_id": TEAM}, **payload}
    body = block_actions_body(payload)
    return bot.post(body, signed_headers(body, SIGNING_SECRET))
