"""Installable in any workspace (OAuth v2), switched on by SLACK_CLIENT_ID and SLACK_CLIENT_SECRET.

`GET /slack/install` is a page with an "Add to Slack" button (storing nothing); the button POSTs back, and
Bolt's `OAuthFlow` then issues the state (a row, and the browser's cookie) and redirects to Slack. The flow
also serves `GET /slack/oauth_redirect` (checks the state, exchanges the code with `oauth.v2.access` at
SLACK_API_URL, stores the installation). Every request is then answered with its own workspace's bot
token (`StoredAuthorize`), and the app's own threads (runs, the outbox, recovery), which no request hands
a client, get theirs from `TeamClients`. Bolt's built-in `app_uninstalled` and `tokens_revoked`
listeners delete a workspace's tokens from the same store.

Installations and OAuth states are kept in slack_sdk's SQLite stores, in a file of their own next to the
app's database (`<VARIATIONS_DB>.installations`), not in it: that database is the team's data, meant to be
read with sqlite-utils or Datasette and exported, and bot tokens must not travel with it; and slack_sdk's
stores open a plain connection per call (deferred transactions, a 5 s busy timeout), which would otherwise
queue behind the app's own writers (BEGIN IMMEDIATE, a burst of clicks) in the shared WAL file.
"""

from __future__ import annotations

import html
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from slack_bolt import BoltContext, Respond
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize
from slack_bolt.middleware import Middleware
from slack_bolt.oauth import OAuthFlow
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store import Bot
from slack_sdk.oauth.installation_store.sqlite3 import SQLite3InstallationStore
from slack_sdk.oauth.state_store.sqlite3 import SQLite3OAuthStateStore

from bot.config import Settings
from bot.connection import StoreError, explain
from bot.guard import answer, plain
from bot.slack_client import SlackFor, one_workspace

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
SUFFIX = ".installations"
# The bot scopes an installation asks for: the manifest's `oauth_config.scopes.bot` (a test keeps them equal).
BOT_SCOPES = ("commands", "app_mentions:read", "chat:write", "chat:write.public", "assistant:write", "im:history")
# How long a workspace's token is trusted from memory before the store is read again: another process
# sharing the file may have stored a new one or deleted it (this process forgets at once on its own writes).
TOKEN_SECONDS = 10.0
STATE_SECONDS = 600  # an install link's life, as Bolt's default

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def installations_path(db_path: str) -> str:
    return db_path + SUFFIX


def authorize_page(api_url: str) -> str:
    """Slack's consent page, on the same host as its Web API (`https://slack.com/api/` →
    `https://slack.com/oauth/v2/authorize`), so an API URL pointed elsewhere points the browser there too."""
    base = api_url.removesuffix("api/") if api_url.endswith("/api/") else "https://slack.com/"
    return f"{base}oauth/v2/authorize"


@dataclass(frozen=True)
class Installed:
    """What the app needs of a workspace's installation to speak for it."""

    team_id: str
    enterprise_id: str | None
    team_name: str | None
    token: str
    bot_id: str
    bot_user_id: str
    scopes: str | None


class Installations(SQLite3InstallationStore):
    """slack_sdk's SQLite installation store, plus a lookup by workspace alone (runs know their team, not
    their Enterprise Grid org) with a short memory, forgotten whenever a token is stored or deleted here."""

    def __init__(self, path: str, client_id: str, *, remember: float = TOKEN_SECONDS) -> None:
        super().__init__(database=path, client_id=client_id)
        self.remember = remember
        self._lock = threading.Lock()
        self._known: dict[str, tuple[Installed, float]] = {}
        self._generation = 0  # bumped by every write, so a read that raced one is not remembered
        try:
            _private(path)
            self.init()  # the tables now, not on a first request that several processes might race
        except (OSError, sqlite3.Error) as error:
            raise StoreError(explain(path, error)) from error

    def bot_for(self, team_id: str) -> Installed | None:
        """The workspace's latest bot installation, None when it has none (never installed, uninstalled)."""
        now = time.monotonic()
        with self._lock:
            known = self._known.get(team_id)
            generation = self._generation
        if known is not None and now - known[1] < self.remember:
            return known[0]
        try:
            found = self._read(team_id)
        except sqlite3.Error as error:  # a broken disk: the last token known beats none
            log.error("step=installation_unreadable team=%s error=%s", team_id, error)
            return known[0] if known is not None else None
        with self._lock:
            if found is None:
                self._known.pop(team_id, None)
            elif generation == self._generation:
                self._known[team_id] = (found, now)
        return found

    def _read(self, team_id: str) -> Installed | None:
        with closing(self.connect()) as conn:
            row = conn.execute(
                "select team_id, enterprise_id, team_name, bot_token, bot_id, bot_user_id, bot_scopes from slack_bots"
                " where client_id = ? and team_id = ? order by installed_at desc, id desc limit 1",
                [self.client_id, team_id],
            ).fetchone()
        if row is None:
            return None
        team, enterprise, name, token, bot_id, bot_user_id, scopes = row
        return Installed(team, enterprise or None, name, token, bot_id, bot_user_id, scopes)

    def save_bot(self, bot: Bot) -> None:  # `save` stores its bot through here too
        super().save_bot(bot)
        self._forget(bot.team_id)

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        super().delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        self._forget(team_id)

    def _forget(self, team_id: str | None) -> None:
        with self._lock:
            self._generation += 1
            self._known.pop(team_id or "", None)


class States(SQLite3OAuthStateStore):
    """slack_sdk's SQLite state store, which keeps every state it issues until it is used: here expired
    ones are deleted as new ones are issued, so a crawler following the install link cannot grow the file."""

    def issue(self, *args: Any, **kwargs: Any) -> str:
        with closing(self.connect()) as conn, conn:
            conn.execute("delete from oauth_states where expire_at <= ?", [time.time()])
        state: str = super().issue(*args, **kwargs)
        return state


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
        install_page_rendering_enabled=False,  # our page (`oauth_pages`) issues no state; the click does
    )
    return {"oauth_settings": oauth, "installation_store": installations, "authorize": StoredAuthorize(installations)}


def install_page(install_path: str, query: str) -> str:
    """The install page: an "Add to Slack" button that POSTs back to it. Showing it stores nothing; the
    click issues the state (a row in the state store, and the browser's cookie) and goes on to Slack, so a
    crawler, which follows links but submits no forms, creates no state however often it comes."""
    action = html.escape(f"{install_path}?{query}" if query else install_path, quote=True)
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Install Variations</title></head><body>'
        "<h2>Variations</h2><p>Several takes on a writing task, posted in a thread for your team to vote on.</p>"
        f'<form method="post" action="{action}"><button type="submit">Add to Slack</button></form>'
        "</body></html>"
    )


def oauth_pages(flow: OAuthFlow) -> WSGIApp:
    """`GET /slack/install` (the page), `POST /slack/install` (its button: a new state, then Slack's consent
    page) and `GET /slack/oauth_redirect`. A browser asks for these, not Slack, so they carry no signature:
    the state (in the link and in the browser's cookie) and the one-time code guard them."""

    def pages(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
        query = str(environ.get("QUERY_STRING") or "")
        if path == flow.install_path and method == "GET":
            page = install_page(flow.install_path, query)
            shown = BoltResponse(status=200, body=page, headers={"content-type": "text/html; charset=utf-8"})
            return answer(start_response, shown)
        allowed = "GET, POST" if path == flow.install_path else "GET"
        if method not in allowed.split(", "):
            said = allowed.replace(", ", " and ")
            return plain(start_response, 405, f"Only {said} are accepted here.", allow=allowed)
        request = BoltRequest(
            body="",
            query=query,
            headers={"cookie": str(environ.get("HTTP_COOKIE") or "")},  # the state cookie; nothing else is read
        )
        try:
            # the button: a new state, and a redirect to Slack; or Slack's redirect back
            install = path == flow.install_path
            response = flow.handle_installation(request) if install else flow.handle_callback(request)
        except (OSError, sqlite3.Error) as error:  # Slack out of reach for oauth.v2.access, a broken disk
            log.error("step=install_failed error=%s", type(error).__name__)
            return plain(start_response, 502, "The installation could not be finished. Please try again.")
        return answer(start_response, response)

    return pages


def _private(path: str) -> None:
    """Create the file readable by its owner only before SQLite does (it would follow the umask): it holds
    every workspace's bot token."""
    if not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
