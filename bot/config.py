"""Settings from the environment, checked once at start so a misconfiguration is one clear line."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from bot.store.pricing import DEFAULT_PRICES, Prices
from orchestrator.settings import models_from_env

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
N = TypeVar("N", int, float)


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str | None  # None when OAuth serves each workspace with its own token
    slack_signing_secret: str
    slack_app_token: str | None
    slack_api_url: str
    orchestrator_model: str
    worker_model: str
    db_path: str
    port: int
    worker_threads: int
    run_threads: int
    max_task_chars: int  # the whole request: the task and its context together
    update_interval: float
    updates_per_minute: float
    max_runs_per_user: int
    max_runs_per_workspace: int
    drain_seconds: float
    slack_deadline: float
    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    slack_redirect_uri: str | None = None
    stream_channels: bool = False  # Slack's native streaming in channels too (it always serves DMs)
    team_memory: bool = True  # the team's votes on earlier approach types reach the orchestrator's prompt
    prices: Prices = DEFAULT_PRICES  # $ per million tokens per model: each run's cost
    voting_hours: float | None = None  # voting closes by itself this long after a run finished
    heartbeat: float = 10.0  # seconds between beats; each beat also finds runs left by a process that died

    @property
    def stale_after(self) -> float:
        """Seconds of silence after which another host's process counts as gone (one on this host is known
        gone at once, by its pid): several missed beats, and never under 45 s."""
        return max(45.0, 4.5 * self.heartbeat)

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def oauth(self) -> bool:
        """Installable in any workspace: each request is answered with its own workspace's token."""
        return self.slack_client_id is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """The settings, or one ConfigError that lists every problem, a line each: a newcomer with nothing
        set learns all that is missing at once, not one variable per attempt."""
        problems: list[str] = []

        def get(name: str) -> str | None:
            value = environ.get(name, "").strip()
            return value or None

        def positive(name: str, default: N, kind: Callable[[str], N]) -> N:
            raw = get(name)
            if raw is None:
                return default
            try:
                value = kind(raw)
            except ValueError:
                what = "a whole number" if kind is int else "a number"
                problems.append(f"{name} must be {what}, got {raw!r}")
                return default
            if not value > 0:
                problems.append(f"{name} must be more than 0, got {raw}")
                return default
            return value

        def switch(name: str, default: str) -> bool:
            value = (get(name) or default).lower()
            if value not in ("on", "off"):
                problems.append(f"{name} must be on or off, got {value!r}")
            return value == "on"

        def token(name: str, prefix: str, what: str) -> str | None:
            value = get(name)
            if value is not None and not value.startswith(prefix):
                problems.append(f"{name} is not {what} (it starts with {prefix}); check you copied the right one")
            return value

        client_id, client_secret = get("SLACK_CLIENT_ID"), get("SLACK_CLIENT_SECRET")
        if (client_id is None) != (client_secret is None):
            missing = "SLACK_CLIENT_SECRET" if client_secret is None else "SLACK_CLIENT_ID"
            problems.append(
                f"{missing} is not set: installing in any workspace (OAuth) needs both SLACK_CLIENT_ID and "
                "SLACK_CLIENT_SECRET (Basic Information → App Credentials)"
            )
        bot_token = token("SLACK_BOT_TOKEN", "xoxb-", "a bot token")
        if bot_token is None and client_id is None and client_secret is None:  # (half of OAuth is said above)
            problems.append("SLACK_BOT_TOKEN is not set (the bot token, xoxb-…)")
        app_token = token("SLACK_APP_TOKEN", "xapp-", "an app-level token")
        if client_id is not None and app_token is not None:
            problems.append(
                "SLACK_CLIENT_ID and SLACK_APP_TOKEN are both set: installing in any workspace needs HTTP mode, "
                "which serves /slack/install and /slack/oauth_redirect; unset SLACK_APP_TOKEN"
            )
        redirect_uri = get("SLACK_REDIRECT_URI")
        if redirect_uri is not None and not redirect_uri.startswith(("https://", "http://")):
            problems.append(f"SLACK_REDIRECT_URI must be an https:// URL, got {redirect_uri!r}")
        signing_secret = get("SLACK_SIGNING_SECRET")
        if app_token is None and signing_secret is None:
            problems.append(
                "SLACK_SIGNING_SECRET is not set: HTTP mode needs it to verify requests "
                "(or set SLACK_APP_TOKEN to use Socket Mode)"
            )
        if get("ANTHROPIC_API_KEY") is None:
            problems.append("ANTHROPIC_API_KEY is not set")
        api_url = get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
        if not api_url.endswith("/"):
            api_url += "/"
        orchestrator_model, worker_model = models_from_env(environ)
        stream_channels = switch("VARIATIONS_STREAM_CHANNELS", "off")
        team_memory = switch("VARIATIONS_TEAM_MEMORY", "on")
        prices = DEFAULT_PRICES
        try:
            prices = DEFAULT_PRICES.overridden(get("VARIATIONS_PRICES") or "")
        except ValueError as error:
            problems.append(
                f"VARIATIONS_PRICES must be model=input/output in $ per million tokens, comma separated "
                f"(e.g. claude-sonnet-4-6=3/15,claude-haiku-4-5=1/5): {error}"
            )
        settings = cls(
            slack_bot_token=bot_token if client_id is None else None,  # OAuth: the installations' tokens
            slack_signing_secret=signing_secret or "",
            slack_app_token=app_token,
            slack_api_url=api_url,
            orchestrator_model=orchestrator_model,
            worker_model=worker_model,
            db_path=get("VARIATIONS_DB") or "variations.db",
            port=positive("PORT", 3000, int),
            worker_threads=positive("VARIATIONS_WORKER_THREADS", 64, int),
            run_threads=positive("VARIATIONS_RUN_THREADS", 64, int),
            max_task_chars=positive("VARIATIONS_MAX_TASK_CHARS", 4000, int),
            update_interval=positive("VARIATIONS_UPDATE_INTERVAL", 1.0, float),
            updates_per_minute=positive("VARIATIONS_UPDATES_PER_MINUTE", 50.0, float),
            max_runs_per_user=positive("VARIATIONS_MAX_RUNS_PER_USER", 2, int),
            max_runs_per_workspace=positive("VARIATIONS_MAX_RUNS_PER_WORKSPACE", 20, int),
            drain_seconds=positive("VARIATIONS_DRAIN_SECONDS", 30.0, float),
            slack_deadline=positive("VARIATIONS_SLACK_DEADLINE", 60.0, float),
            slack_client_id=client_id,
            slack_client_secret=client_secret,
            slack_redirect_uri=redirect_uri,
            stream_channels=stream_channels,
            team_memory=team_memory,
            prices=prices,
            voting_hours=positive("VARIATIONS_VOTING_HOURS", 0.0, float) or None,
            heartbeat=positive("VARIATIONS_HEARTBEAT_SECONDS", 10.0, float),
        )
        if problems:
            raise ConfigError("\n".join(problems))
        return settings
