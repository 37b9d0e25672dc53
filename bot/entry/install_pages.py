"""The install pages a browser visits with OAuth on: `GET /slack/install` and `GET /slack/oauth_redirect`,
served by Bolt's `OAuthFlow` (see bot/slack/workspaces.py) behind the same plain answers as the guard's."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.types import WSGIApplication

from slack_bolt.oauth import OAuthFlow
from slack_bolt.request import BoltRequest

from bot.entry.guard import answer, plain

log = logging.getLogger(__name__)


def oauth_pages(flow: OAuthFlow) -> WSGIApplication:
    """`GET /slack/install` and `GET /slack/oauth_redirect`. A browser asks for these, not Slack, so they
    carry no signature: the state (in the link and in the browser's cookie) and the one-time code guard them."""

    def pages(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET":
            return plain(start_response, 405, "Only GET is accepted here.", allow="GET")
        request = BoltRequest(
            body="",
            query=str(environ.get("QUERY_STRING") or ""),
            headers={"cookie": str(environ.get("HTTP_COOKIE") or "")},  # the state cookie; nothing else is read
        )
        try:
            if environ.get("PATH_INFO") == flow.install_path:
                response = flow.handle_installation(request)
            else:
                response = flow.handle_callback(request)
        except (OSError, sqlite3.Error) as error:  # Slack out of reach for oauth.v2.access, a broken disk
            log.error("step=install_failed error=%s", type(error).__name__)
            return plain(start_response, 502, "The installation could not be finished. Please try again.")
        return answer(start_response, response)

    return pages
