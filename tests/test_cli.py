"""`python -m orchestrator` and `python -m bot` as a user runs them: real subprocesses against the fakes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes import free_port
from tests.fakes.anthropic_api import FakeAnthropicAPI
from tests.fakes.slack_api import FakeSlackAPI
from tests.helpers import bot_env
from tests.scripted import Script


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "ORCHESTRATOR_", "WORKER_"))}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def fake_env(claude: FakeAnthropicAPI) -> dict[str, str]:
    return {"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": claude.url}


def test_json_output(claude: FakeAnthropicAPI) -> None:
    done = run_cli("Write a tagline", "--context", "target_audience=hikers", "--json", env=fake_env(claude))
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["analysis"].startswith("Buyers differ")
    assert [r["type"] for r in document["worker_results"]] == ["technical", "lifestyle", "practical"]
    first = document["worker_results"][0]
    assert first["description"] == "Lead with specifications and measurable performance"
    assert first["result"] == "## Technical take\nThe **technical** version."
    assert all("hikers" in prompt for prompt in claude.prompts())


def test_human_output_reads_like_the_cookbook(claude: FakeAnthropicAPI) -> None:
    done = run_cli("Write a tagline", env=fake_env(claude))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.index("ANALYSIS:") < out.index("TASKS:") < out.index("=== WORKER RESULT (")
    assert "  1. technical: Lead with specifications" in out
    for kind in ("technical", "lifestyle", "practical"):
        assert f"=== WORKER RESULT ({kind}) ===\n## {kind.title()} take" in out
    assert "done: 3 of 3 variations" in out


def test_models_come_from_the_environment(claude: FakeAnthropicAPI) -> None:
    env = {**fake_env(claude), "ORCHESTRATOR_MODEL": "planner-x", "WORKER_MODEL": "writer-y"}
    assert run_cli("Write a tagline", "--json", env=env).returncode == 0
    models = [r["model"] for r in claude.requests()]
    assert models[0] == "planner-x" and models[1:] == ["writer-y"] * 3


def test_failed_variation_is_shown(claude: FakeAnthropicAPI) -> None:
    claude.responder = Script(worker=lambda kind: "<response></response>" if kind == "lifestyle" else "fine")
    done = run_cli("Write a tagline", "--json", env=fake_env(claude))
    document = json.loads(done.stdout)
    failed = [r for r in document["worker_results"] if r["status"] == "failed"]
    assert [(r["type"], r["error"]) for r in failed] == [("lifestyle", "The model returned an empty response.")]
    assert document["status"] == "partial" and done.returncode == 0


def test_missing_api_key_is_one_line() -> None:
    done = run_cli("Write a tagline", env={})
    assert done.returncode == 2
    assert done.stderr.strip() == "error: ANTHROPIC_API_KEY is not set"
    assert done.stdout == ""


def test_unreachable_api_is_one_line_not_a_traceback() -> None:
    env = {"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{free_port()}"}
    done = run_cli("Write a tagline", env=env)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: The orchestrator call failed: Could not reach the Anthropic API (connection failed)."
    ]


def test_bad_context_is_a_usage_error(claude: FakeAnthropicAPI) -> None:
    done = run_cli("Write a tagline", "--context", "no-equals-sign", env=fake_env(claude))
    assert done.returncode == 2
    assert "--context takes KEY=VALUE" in done.stderr
    assert claude.requests() == []


# -- `python -m bot`: every start-up failure is one line and exit code 2 --------------------------------------


def start_bot(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ANTHROPIC_", "VARIATIONS_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot"], env={**base, **env}, capture_output=True, text=True, timeout=60
    )


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed start, checked for what every failed start shares."""
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert all(secret not in done.stderr for secret in ("xoxb-test-token", "xapp-test-token", "test-key"))
    return lines[0]


def test_a_rejected_bot_token_is_one_line(slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path) -> None:
    slack.fail_next("auth.test", error="invalid_auth")
    line = one_line_error(start_bot(bot_env(slack, claude, tmp_path / "v.db")))
    assert line == "error: Slack rejected SLACK_BOT_TOKEN (auth.test: invalid_auth)"


def test_a_rejected_app_token_is_one_line(slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path) -> None:
    slack.fail_next("apps.connections.open", error="invalid_auth")
    env = {**bot_env(slack, claude, tmp_path / "v.db"), "SLACK_APP_TOKEN": "xapp-test-token"}
    line = one_line_error(start_bot(env))
    assert line == "error: Slack rejected SLACK_APP_TOKEN (apps.connections.open: invalid_auth)"


def test_unreachable_slack_is_one_line(slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}/api/"
    line = one_line_error(start_bot({**bot_env(slack, claude, tmp_path / "v.db"), "SLACK_API_URL": closed}))
    assert line.startswith(f"error: cannot reach Slack at {closed}: ")
    assert "refused" in line


def test_a_database_that_cannot_be_opened_is_one_line(
    slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path
) -> None:
    db = tmp_path / "no-such-directory" / "v.db"
    line = one_line_error(start_bot(bot_env(slack, claude, db)))
    assert str(db) in line
    assert slack.calls("auth.test") == []  # the database is checked first


def test_a_port_in_use_is_one_line(slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line_error(start_bot({**bot_env(slack, claude, tmp_path / "v.db"), "PORT": str(port)}))
    assert line == f"error: cannot listen on port {port}: Address already in use"


def test_a_newcomer_sees_every_missing_setting_at_once(tmp_path: Path) -> None:
    done = start_bot({"VARIATIONS_DB": str(tmp_path / "v.db")})
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: SLACK_BOT_TOKEN is not set (the bot token, xoxb-…)",
        "error: SLACK_SIGNING_SECRET is not set: HTTP mode needs it to verify requests (or set SLACK_APP_TOKEN to "
        "use Socket Mode)",
        "error: ANTHROPIC_API_KEY is not set",
    ]


@pytest.mark.parametrize(
    ("name", "value", "what"),
    [
        ("SLACK_BOT_TOKEN", "abc", "a bot token (it starts with xoxb-)"),
        ("SLACK_APP_TOKEN", "xoxb-1", "an app-level token (it starts with xapp-)"),
    ],
)
def test_a_value_that_cannot_be_a_slack_token_is_refused_at_start(
    slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path, name: str, value: str, what: str
) -> None:
    line = one_line_error(start_bot({**bot_env(slack, claude, tmp_path / "v.db"), name: value}))
    assert line == f"error: {name} is not {what}; check you copied the right one"
    assert slack.calls("auth.test") == []  # refused before Slack is asked
