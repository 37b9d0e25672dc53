"""Settings from the environment: defaults, modes, and one clear line for each mistake."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "ANTHROPIC_API_KEY": "k"}


def test_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert not settings.socket_mode
    assert settings.slack_api_url == "https://slack.com/api/"
    assert (settings.db_path, settings.port, settings.max_task_chars) == ("variations.db", 3000, 4000)
    assert settings.orchestrator_model == settings.worker_model == "claude-sonnet-4-6"


def test_socket_mode_needs_no_signing_secret() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "ANTHROPIC_API_KEY": "k"}
    assert Settings.from_env(env).socket_mode


def test_overrides() -> None:
    env = {
        **BASE,
        "SLACK_API_URL": "http://127.0.0.1:9/api",
        "PORT": "8080",
        "WORKER_MODEL": "claude-haiku-4-5",
    }
    settings = Settings.from_env(env)
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    assert settings.port == 8080 and settings.worker_model == "claude-haiku-4-5"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SLACK_BOT_TOKEN": ""}, "SLACK_BOT_TOKEN is not set"),
        ({"SLACK_SIGNING_SECRET": ""}, "SLACK_SIGNING_SECRET is not set"),
        ({"ANTHROPIC_API_KEY": " "}, "ANTHROPIC_API_KEY is not set"),
        ({"PORT": "http"}, "PORT must be a whole number"),
        ({"VARIATIONS_WORKER_THREADS": "0"}, "VARIATIONS_WORKER_THREADS must be more than 0"),
        ({"VARIATIONS_UPDATE_INTERVAL": "soon"}, "VARIATIONS_UPDATE_INTERVAL must be a number"),
        ({"SLACK_BOT_TOKEN": "abc"}, r"SLACK_BOT_TOKEN is not a bot token \(it starts with xoxb-\)"),
        ({"SLACK_APP_TOKEN": "xoxb-2"}, r"SLACK_APP_TOKEN is not an app-level token"),
    ],
)
def test_mistakes_name_the_variable(change: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({**BASE, **change})


def test_every_problem_is_listed_at_once_a_line_each() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"PORT": "http", "VARIATIONS_TEAM_MEMORY": "maybe"})
    assert [line.split(" ", 1)[0] for line in str(raised.value).splitlines()] == [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "ANTHROPIC_API_KEY",
        "VARIATIONS_TEAM_MEMORY",
        "PORT",
    ]
