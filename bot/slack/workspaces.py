"""Installable in any workspace (OAuth v2), switched on by SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, and the
client of each workspace.

`GET /slack/install` is a page with an "Add to Slack" button (storing nothing); the button POSTs back, and
Bolt's `OAuthFlow` then issues the state (a row, and the browser's cookie) and redirects to Slack. The flow
also serves `GET /slack/oauth_redirect` (checks the state, exchanges the code with `oauth.v2.access` at
SLACK_API_URL, stores the installation: bot/store/installations.py); bot/entry/install_pages.py serves
them. Every request is then answered with its own workspace's bot token (`StoredAuthorize`), and the app's
own threads (runs, the outbox, recovery), which no request hands a client, get theirs from `TeamClients`.
Bolt's built-in `app_uninstalled` and `tokens_revoked` listeners delete a workspace's tokens from the store.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext, Respond
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize
from slack_bolt.middleware import Middleware
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient

from bot.config import Settings
from bot.slack.clients import SlackFor, one_workspace
from bot.store.installations import Installations, States

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# The bot scopes an installation asks for: the manifest's `oauth_config.scopes.bot` (a test keeps them equal).
BOT_SCOPES = ("commands", "app_mentions:read", "chat:write", "chat:write.public", "assistant:write", "im:history")
STATE_SECONDS = 600  # an install link's life, as Bolt's default


def authorize_page(api_url: str) -> str:
    """Slack's consent page, on the same host as its Web API (`https://slack.com/api/` →
    `https://slack.com/oauth/v2/authorize`), so an API URL pointed elsewhere points the browser there too."""
    base = api_url.removesuffix("api/") if api_url.endswith("/api/") else "https://slack.com/"
    return f"{base}oauth/v2/authorize"


class StoredAuthorize(Authorize):
    """Who a request's workspace is, from its stored installation. Bolt's own (`InstallationStoreAuthorize`)
    also calls `auth.test` for every request, a Slack call before the ack; the installation already holds
    what auth.test would say (bot id, bot user, scopes). Token rotation is off in the manifest."""

    def __init__(self, installations: Installations) -> None:
        self.installations = installations

    def __call__(
        self,
        *,
        context: BoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        found = self.installations.bot_for(team_id) if team_id else None
        if found is None:
            log.warning("step=not_installed team=%s", team_id)
            return None  # Bolt tells the person to reinstall the app (or answers an event with nothing)
        return AuthorizeResult(
            enterprise_id=found.enterprise_id,
            team_id=found.team_id,
            team=found.team_name,
            bot_user_id=found.bot_user_id,
            bot_id=found.bot_id,
            bot_token=found.token,
            bot_scopes=found.scopes,
            user_id=user_id,
        )


NOT_INSTALLED = (
    "Variations isn't installed in this workspace (or was uninstalled), so it can't answer here. "
    "Ask a workspace admin to install it again."
)
# Requests Bolt answers without an installation: Slack's URL check, and the app being uninstalled.
_NO_INSTALLATION_NEEDED = ("app_uninstalled", "tokens_revoked")


class NotInstalled(Middleware):
    """Before Bolt's authorization: a request from a workspace with no installation gets a clear answer where
    Slack shows one (a command's ack; a click's response_url, after the ack) and a WARNING naming the team.
    Bolt's own answer is an empty 200, an ERROR line, and a Slack call before the ack."""

    def __init__(self, installations: Installations, say: Callable[[Respond, str], None]) -> None:
        self.installations = installations
        self.say = say

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse | None:
        body = req.body
        found = body.get("event")
        event: dict[str, Any] = found if isinstance(found, dict) else {}
        team_id = req.context.team_id
        if (
            not team_id
            or body.get("type") in ("url_verification", "ssl_check")
            or event.get("type") in _NO_INSTALLATION_NEEDED
            or self.installations.bot_for(team_id) is not None
        ):
            return next()
        kind = "command" if "command" in body else str(event.get("type") or body.get("type") or "unknown")
        log.warning("step=not_installed team=%s kind=%s", team_id, kind)
        if "command" in body:
            answer = json.dumps({"response_type": "ephemeral", "text": NOT_INSTALLED})
            return BoltResponse(status=200, body=answer, headers={"content-type": "application/json"})
        respond = req.context.respond
        if respond is not None and respond.response_url:
            self.say(respond, NOT_INSTALLED)  # after the ack: a Slack call never holds one up
        return BoltResponse(status=200, body="")


class TeamClients:
    """`slack_for(team_id)` with OAuth: a client like `template` (its base URL, timeout and retry handlers)
    holding that workspace's token. A workspace with no installation gets a client with no token, whose
    calls Slack refuses (`not_authed`) the way every caller already handles a refusal."""

    def __init__(self, installations: Installations, template: WebClient) -> None:
        self.installations = installations
        self.template = template
        self._lock = threading.Lock()
        self._clients: dict[str, WebClient] = {}

    def __call__(self, team_id: str) -> WebClient:
        found = self.installations.bot_for(team_id)
        token = found.token if found is not None else None
        with self._lock:
            client = self._clients.get(team_id)
            if client is None or client.token != token:
                client = WebClient(
                    token=token,
                    base_url=self.template.base_url,
                    timeout=self.template.timeout,
                    retry_handlers=list(self.template.retry_handlers),
                )
                self._clients[team_id] = client
        return client


def clients_for(installations: Installations | None, client: WebClient) -> SlackFor:
    """The client of each workspace, like `client`: `client` itself in single-token mode."""
    return one_workspace(client) if installations is None else TeamClients(installations, client)


def bolt_options(settings: Settings, installations: Installations | None) -> dict[str, Any]:
    """What `App(...)` needs for OAuth; nothing in single-token mode."""
    if installations is None or settings.slack_client_id is None or settings.slack_client_secret is None:
        return {}
    states = States(database=installations.database, expiration_seconds=STATE_SECONDS)
    states.init()
    oauth = OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=list(BOT_SCOPES),
        user_scopes=[],
        redirect_uri=settings.slack_redirect_uri,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        authorization_url=authorize_page(settings.slack_api_url),
        installation_store=installations,
        state_store=states,
        state_expiration_seconds=STATE_SECONDS,
        install_page_rendering_enabled=False,  # our page (bot/entry/install_pages.py) issues no state; the click does
    )
    return {"oauth_settings": oauth, "installation_store": installations, "authorize": StoredAuthorize(installations)}
