"""The install pages a browser visits with OAuth on: `GET /slack/install` and `GET /slack/oauth_redirect`,
served by Bolt's `OAuthFlow` (see bot/slack/workspaces.py) behind the same plain answers as the guard's."""

from __future__ import annotations

import html
import logging
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.types import WSGIApplication

from slack_bolt.oauth import OAuthFlow
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot.entry.guard import answer, plain

log = logging.getLogger(__name__)


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


def oauth_pages(flow: OAuthFlow) -> WSGIApplication:
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
