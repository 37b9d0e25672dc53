"""Operating the bot: GET /metrics through the real app, and SIGTERM's drain on the real `python -m bot`."""

from __future__ import annotations

import json
import signal
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.observe.metrics import Metrics, request_kind
from bot.store.rows import VariationRow
from bot.store.store import Store
from tests.fakes import wait_for
from tests.fakes.anthropic_api import FakeAnthropicAPI
from tests.fakes.slack_api import FakeSlackAPI
from tests.helpers import CHANNEL, Bot, StartProcess, run_thread, texts
from tests.scripted import Script

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


def metrics_text(bot: Bot) -> str:
    with urllib.request.urlopen(bot.url.replace("/slack/events", "/metrics"), timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        return response.read().decode()


def test_acks_are_timed_by_kind(bot: Bot) -> None:
    assert bot.command("Write a tagline")[0] == 200
    run_thread(bot)
    assert bot.click(1, "up")[0] == 200
    text = metrics_text(bot)
    assert value(text, "variations_ack_seconds_count", kind="command") == 1
    assert value(text, "variations_ack_seconds_count", kind="action") == 1
    assert value(text, "variations_ack_seconds_count", kind="view") == 0
    assert value(text, "variations_ack_seconds_bucket", kind="command", le="3.0") == 1  # within Slack's 3 s
    assert value(text, "variations_ack_seconds_count", kind="other") == 0  # /metrics and /healthz are not acks


def test_runs_and_clicks_are_counted(bot: Bot) -> None:
    bot.command("Write a tagline")
    run_thread(bot)
    bot.click(1, "up")
    bot.slack.wait_for(lambda: bot.store.tally(1).up == 1)
    text = metrics_text(bot)
    assert value(text, "variations_runs_started_total") == 1
    assert value(text, "variations_clicks_total", value="up") == 1
    assert value(text, "variations_clicks_total", value="down") == 0


def test_model_retries_are_counted(bot: Bot) -> None:
    bot.claude.fail_next(529, headers={"retry-after-ms": "1"})  # the plan's first attempt: overloaded
    bot.command("Write a tagline")
    parent, _ = run_thread(bot)
    assert "✅ Done: 3 variations" in texts(parent)
    assert value(metrics_text(bot), "variations_model_retries_total") == 1


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


def running(store: Store) -> VariationRow | None:
    """The first variation written, once run 1 is running with all three replies posted."""
    run = store.find_run(1)
    if run is None or run.status != "running" or len([v for v in store.variations(1) if v.message_ts]) < 3:
        return None
    return next((v for v in store.variations(1) if v.status == "done"), None)


def test_sigterm_lets_runs_in_flight_finish_and_exits_0(
    start_process: StartProcess, slack: FakeSlackAPI, held: threading.Event
) -> None:
    process = start_process()
    bot = process.bot
    store = bot.store
    assert bot.command("Write a tagline", user_id="U0001") == (200, "")
    done = wait_for(lambda: running(store))
    process.popen.send_signal(signal.SIGTERM)
    wait_for(lambda: (process.health() or {}).get("draining"), context=process.stderr)
    status, body = bot.command("Write another", user_id="U0002")
    assert status == 200
    assert json.loads(body) == {"response_type": "ephemeral", "text": RESTARTING}
    assert bot.click(done.id, user="U7")[0] == 200  # votes are still taken while draining
    assert store.tally(done.id).up == 1
    held.set()
    assert process.wait() == 0, process.stderr()
    assert store.run(1).status == "done" and store.db["runs"].count == 1
    parent = slack.message(CHANNEL, store.run(1).message_ts)
    assert "✅ Done: 3 variations" in texts(parent)
    assert "SIGTERM" in process.stderr() and "Traceback" not in process.stderr()


def test_sigterm_interrupts_runs_that_do_not_finish_in_time(
    start_process: StartProcess, slack: FakeSlackAPI, held: threading.Event
) -> None:
    process = start_process(VARIATIONS_DRAIN_SECONDS="1")
    store = process.bot.store
    process.bot.command("Write a tagline", user_id="U0001")
    wait_for(lambda: running(store))
    process.popen.send_signal(signal.SIGTERM)
    assert process.wait() == 0, process.stderr()  # the two held approaches never finish
    assert store.run(1).status == "interrupted"
    assert [v.status for v in store.variations(1)].count("interrupted") == 2
    parent = slack.message(CHANNEL, store.run(1).message_ts)
    assert "Interrupted" in texts(parent)
    assert "Traceback" not in process.stderr()


def test_a_runs_log_at_info_is_its_run_steps(start_process: StartProcess) -> None:
    """What an operator reads of one run and a vote: where the app listens, the run's steps, the drain; no
    line of the libraries' routine (a model request, the client taking SLACK_BOT_TOKEN's place)."""
    process = start_process()
    store = process.bot.store
    assert process.bot.command("Write a tagline")[0] == 200
    wait_for(lambda: (run := store.find_run(1)) is not None and run.finished_at)
    assert process.bot.click(1)[0] == 200
    process.popen.send_signal(signal.SIGTERM)
    assert process.wait() == 0
    lines = [line.split(" ", 2)[2] for line in process.stderr().splitlines()]  # without the date and time
    steps = [line.split()[3] for line in lines if line.startswith("INFO bot.work.reporter: run=1 ")]
    # A worker may finish before the plan's last line is parsed, so "planned" can come after a variation.
    assert (steps[0], sorted(steps[1:-1]), steps[-1]) == (
        "step=started",
        ["step=planned", "step=variation", "step=variation", "step=variation"],
        "step=finished",
    )
    others = [line for line in lines if not line.startswith("INFO bot.work.reporter: run=1 ")]
    assert [line.split(":")[0] for line in others] == ["INFO bot", "INFO bot", "INFO bot"], others
