"""`python -m orchestrator` as a user runs it: a real subprocess against the fake Anthropic API."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.fakes import free_port
from tests.fakes.anthropic_api import FakeAnthropicAPI
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
