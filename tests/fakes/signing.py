"""Slack request signing, written independently of slack_sdk so tests check bolt's verifier against
the published algorithm rather than against itself."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode


def signed_headers(
    body: str,
    secret: str,
    timestamp: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    """Headers Slack sends with a request: v0 HMAC-SHA256 of `v0:{timestamp}:{body}` keyed by the
    signing secret. `timestamp` defaults to now (bolt rejects ones older than five minutes)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    base = f"v0:{timestamp}:{body}".encode()
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": f"v0={digest}",
    }


def slash_command(**fields: Any) -> dict[str, str]:
    """The fields of a `/variations` slash command as Slack sends them; keyword arguments override or add."""
    return {
        "token": "verification-token",
        "team_id": "T0001",
        "team_domain": "test-team",
        "channel_id": "C0001",
        "channel_name": "general",
        "user_id": "U0001",
        "user_name": "tester",
        "command": "/variations",
        "text": "",
        "api_app_id": "A0001",
        "is_enterprise_install": "false",
        "response_url": "https://hooks.slack.com/commands/T0001/1/fake",
        "trigger_id": "1.1.fake-trigger",
        **fields,
    }


def slash_command_body(**fields: Any) -> str:
    """Form body of a `/variations` slash command (HTTP mode)."""
    return urlencode(slash_command(**fields))


def block_actions_body(payload: dict[str, Any]) -> str:
    """Form body of an interactivity request (`payload=<json>`), as Slack posts block_actions."""
    return urlencode({"payload": json.dumps(payload)})


def event_body(event: dict[str, Any], *, team_id: str = "T0001", event_id: str = "Ev0001") -> str:
    """JSON body of an Events API request: `event` in its event_callback envelope, as Slack posts it."""
    return json.dumps(
        {
            "token": "verification-token",
            "team_id": team_id,
            "api_app_id": "A0001",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": team_id, "user_id": "UBOT", "is_bot": True}],
        }
    )
