"""Operating the bot: GET /metrics through the real app, and SIGTERM's drain on the real `python -m bot`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import build
from bot.config import Settings
from bot.metrics import Metrics, request_kind
from bot.server import HttpServer
from bot.store import Store
from tests.conftest import CHANNEL, SIGNING_SECRET, TEAM, Bot, anthropic_client, bot_env
from tests.fakes import free_port, wait_for
from tests.fakes.anthropic_api import FakeAnthropicAPI
from tests.fakes.signing import block_actions_body, signed_headers, slash_command_body
from tests.fakes.slack_api import FakeSlackAPI
from tests.scripted import Script
from tests.test_app import run_thread, texts

ROOT = Path(__file__).resolve().parents[1]
RESTARTING = "Variations is restarting; try again in a minute."

# -- the metrics themselves ---------------------------------------------------------------------------------


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


def test_each_metrics_has_its_own_registry_and_renders_prometheus_text() -> None:
    first, second = Metrics(), Metrics()  # a second one would raise "Duplicated timeseries" on a shared registry
    first.runs_started.inc()
    first.clicks.labels("up").inc(2)
    first.model_calls.labels("worker", "error").inc()
    first.ack_seconds.labels("command").observe(0.004)
    body, content_type = first.render()
    text = body.decode()
    assert content_type.startswith("text/plain")
    assert "# HELP variations_runs_started_total Runs started" in text
    assert value(text, "variations_runs_started_total") == 1
    assert value(text, "variations_clicks_total", value="up") == 2
    assert value(text, "variations_clicks_total", value="down") == 0  # known labels start at 0
    assert value(text, "variations_model_calls_total", role="worker", outcome="error") == 1
    assert value(text, "variations_ack_seconds_bucket", kind="command", le="0.005") == 1
    assert value(text, "variations_ack_seconds_bucket", kind="command", le="0.0025") == 0
    assert value(second.render()[0].decode(), "variations_runs_started_total") == 0


def form(**fields: str) -> str:
    return urlencode(fields)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"command": "/variations", "text": "Write"}, "command"),
        ({"type": "block_actions"}, "action"),
        ({"type": "view_submission"}, "view"),
        ({"type": "event_callback", "event": {}}, "event"),
        ({"type": "shortcut"}, "other"),
        ({}, "other"),
    ],
)
def test_request_kind_from_the_parsed_body(body: dict[str, Any], kind: str) -> None:
    assert request_kind(body) == kind


# -- /metrics through the real app --------------------------------------------------------------------------


@pytest.fixture
def served(slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path) -> Iterator[Bot]:
    """The app in HTTP mode with its metrics served, as `python -m bot` runs it."""
    services = build(
        Settings.from_env(bot_env(slack, claude, tmp_path / "v.db")), anthropic_client=anthropic_client(claude)
    )
    server = HttpServer(
        services.app, services.ack_first, services.health, host="127.0.0.1", port=0, metrics=services.metrics
    )
    server.start()
    try:
        yield Bot(server.url, services.store, slack, claude)
    finally:
        server.stop()
        services.close()


def metrics_text(bot: Bot) -> str:
    with urllib.request.urlopen(bot.url.replace("/slack/events", "/metrics"), timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        return response.read().decode()


def test_acks_are_timed_by_kind(served: Bot) -> None:
    assert served.command("Write a tagline")[0] == 200
    run_thread(served)
    assert served.click(1, "up")[0] == 200
    text = metrics_text(served)
    assert value(text, "variations_ack_seconds_count", kind="command") == 1
    assert value(text, "variations_ack_seconds_count", kind="action") == 1
    assert value(text, "variations_ack_seconds_count", kind="view") == 0
    assert value(text, "variations_ack_seconds_bucket", kind="command", le="3.0") == 1  # within Slack's 3 s
    assert value(text, "variations_ack_seconds_count", kind="other") == 0  # /metrics and /healthz are not acks


def test_runs_and_clicks_are_counted(served: Bot) -> None:
    served.command("Write a tagline")
    run_thread(served)
    served.click(1, "up")
    served.slack.wait_for(lambda: served.store.tally(1).up == 1)
    text = metrics_text(served)
    assert value(text, "variations_runs_started_total") == 1
    assert value(text, "variations_clicks_total", value="up") == 1
    assert value(text, "variations_clicks_total", value="down") == 0


def test_model_retries_are_counted(served: Bot) -> None:
    served.claude.fail_next(529, headers={"retry-after-ms": "1"})  # the plan's first attempt: overloaded
    served.command("Write a tagline")
    parent, _ = run_thread(served)
    assert "✅ Done: 3 variations" in texts(parent)
    assert value(metrics_text(served), "variations_model_retries_total") == 1


# -- SIGTERM on the real process ----------------------------------------------------------------------------


@pytest.fixture
def held(claude: FakeAnthropicAPI) -> Iterator[threading.Event]:
    """The technical approach is written at once; the other two wait until this is set."""
    release = threading.Event()

    def worker(kind: str) -> str:
        if kind != "technical":
            release.wait(timeout=60)
        return f"<response>{kind} text</response>"

    claude.responder = Script(worker=worker)
    yield release
    release.set()


class Process:
    """`python -m bot` in HTTP mode against the fakes, its stderr in a file."""

    def __init__(self, slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path, **env: str) -> None:
        port = free_port()
        self.origin = f"http://127.0.0.1:{port}"
        self.stderr_path = tmp_path / "stderr.log"
        self.slack = slack
        with self.stderr_path.open("wb") as stderr:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "bot"],
                cwd=ROOT,
                env={**os.environ, **bot_env(slack, claude, tmp_path / "v.db"), "PORT": str(port), **env},
                stderr=stderr,
            )
        wait_for(lambda: self.health() is not None, timeout=30, context=self.stderr)

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"{self.origin}/healthz", timeout=2) as response:
                return json.loads(response.read())
        except OSError:
            return None

    def post(self, body: str) -> tuple[int, str]:
        request = urllib.request.Request(
            f"{self.origin}/slack/events", data=body.encode(), headers=signed_headers(body, SIGNING_SECRET)
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()

    def command(self, text: str, user: str) -> tuple[int, str]:
        return self.post(slash_command_body(text=text, user_id=user, response_url=self.slack.response_url(user)))

    def click(self, variation_id: int) -> int:
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM},
            "user": {"id": "U7", "team_id": TEAM},
            "response_url": self.slack.response_url("click"),
            "actions": [{"action_id": "vote_up", "value": str(variation_id)}],
        }
        return self.post(block_actions_body(payload))[0]

    def wait(self) -> int:
        """The exit code, once the process has ended by itself."""
        return self.popen.wait(timeout=60)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)


@pytest.fixture
def process_factory(slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path) -> Iterator[Any]:
    started: list[Process] = []

    def start(**env: str) -> Process:
        started.append(Process(slack, claude, tmp_path, **env))
        return started[-1]

    yield start
    for process in started:
        process.kill()


def running(store: Store) -> dict[str, Any] | None:
    """The first variation written, once run 1 is running with all three replies posted."""
    run = store.run(1)
    if run is None or run["status"] != "running" or len([v for v in store.variations(1) if v["message_ts"]]) < 3:
        return None
    return next((v for v in store.variations(1) if v["status"] == "done"), None)


def test_sigterm_lets_runs_in_flight_finish_and_exits_0(
    process_factory: Any, slack: FakeSlackAPI, tmp_path: Path, held: threading.Event
) -> None:
    process = process_factory()
    store = Store(str(tmp_path / "v.db"))
    assert process.command("Write a tagline", user="U0001") == (200, "")
    done = wait_for(lambda: running(store))
    process.popen.send_signal(signal.SIGTERM)
    wait_for(lambda: (process.health() or {}).get("draining"), context=process.stderr)
    status, body = process.command("Write another", user="U0002")
    assert status == 200
    assert json.loads(body) == {"response_type": "ephemeral", "text": RESTARTING}
    assert process.click(done["id"]) == 200  # votes are still taken while draining
    assert store.tally(done["id"]).up == 1
    held.set()
    assert process.wait() == 0, process.stderr()
    assert store.run(1)["status"] == "done" and store.db["runs"].count == 1
    parent = slack.message(CHANNEL, store.run(1)["message_ts"])
    assert "✅ Done: 3 variations" in texts(parent)
    assert "SIGTERM" in process.stderr() and "Traceback" not in process.stderr()


def test_sigterm_interrupts_runs_that_do_not_finish_in_time(
    process_factory: Any, slack: FakeSlackAPI, tmp_path: Path, held: threading.Event
) -> None:
    process = process_factory(VARIATIONS_DRAIN_SECONDS="1")
    store = Store(str(tmp_path / "v.db"))
    process.command("Write a tagline", user="U0001")
    wait_for(lambda: running(store))
    process.popen.send_signal(signal.SIGTERM)
    assert process.wait() == 0, process.stderr()  # the two held approaches never finish
    assert store.run(1)["status"] == "interrupted"
    assert [v["status"] for v in store.variations(1)].count("interrupted") == 2
    parent = slack.message(CHANNEL, store.run(1)["message_ts"])
    assert "Interrupted" in texts(parent)
    assert "Traceback" not in process.stderr()
