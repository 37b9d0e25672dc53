"""Each workspace's installation (its bot token) and the OAuth states of install links, in slack_sdk's
SQLite stores.

They live in a file of their own next to the app's database (`<VARIATIONS_DB>.installations`), not in it:
that database is the team's data, meant to be read with sqlite-utils or Datasette and exported, and bot
tokens must not travel with it; and slack_sdk's stores open a plain connection per call (deferred
transactions, a 5 s busy timeout), which would otherwise queue behind the app's own writers (BEGIN
IMMEDIATE, a burst of clicks) in the shared WAL file.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from slack_sdk.oauth.installation_store import Bot
from slack_sdk.oauth.installation_store.sqlite3 import SQLite3InstallationStore
from slack_sdk.oauth.state_store.sqlite3 import SQLite3OAuthStateStore

from bot.store.connection import StoreError, explain

log = logging.getLogger(__name__)

SUFFIX = ".installations"
# How long a workspace's token is trusted from memory before the store is read again: another process
# sharing the file may have stored a new one or deleted it (this process forgets at once on its own writes).
TOKEN_SECONDS = 10.0


def installations_path(db_path: str) -> str:
    return db_path + SUFFIX


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


def _private(path: str) -> None:
    """Create the file readable by its owner only before SQLite does (it would follow the umask): it holds
    every workspace's bot token."""
    if not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
