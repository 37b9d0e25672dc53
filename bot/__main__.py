"""`variations-bot` / `python -m bot`: Socket Mode when SLACK_APP_TOKEN is set, else HTTP on $PORT.

`variations-bot export` writes the database out as JSON or CSV instead (see bot/export.py);
`variations-bot purge --team T…` deletes one workspace's data (see bot/purge.py).
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import select
import signal
import sys
import threading
from collections.abc import Callable
from logging.handlers import MemoryHandler
from typing import Any
from urllib.error import URLError

from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError

from bot.app import Services, build
from bot.config import ConfigError, Settings
from bot.export import FORMATS, ExportError, db_path_from, export
from bot.purge import PurgeError, purge
from bot.server import HttpServer
from bot.socket_mode import LinkError, SocketMode
from bot.store import StoreError

log = logging.getLogger("bot")

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="variations-bot",
        usage="%(prog)s [-h] [COMMAND ...]",
        description="With no command, run the Variations Slack app (Socket Mode when SLACK_APP_TOKEN is set, "
        "else HTTP on $PORT).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    exporter = commands.add_parser(
        "export",
        help="write runs, variations, clicks and votes as JSON or CSV",
        description="Write the runs, variations, feedback (clicks) and votes tables, read-only: safe while the "
        "bot runs. JSON is one document on stdout (or DIR/variations-export.json); CSV is one file per table.",
    )
    exporter.add_argument("--format", choices=FORMATS, default="json", help="default: json")
    exporter.add_argument("--db", metavar="PATH", help="SQLite file (default: $VARIATIONS_DB, else variations.db)")
    exporter.add_argument("--out", metavar="DIR", help="directory to write to (default: stdout for json, . for csv)")
    exporter.add_argument("--team", metavar="T…", help="only this workspace's runs, with their clicks and votes")
    purger = commands.add_parser(
        "purge",
        help="delete one workspace's data",
        description="Delete one workspace's runs, variations, clicks and votes, its scoreboard totals and its "
        "installation (its bot token), in one transaction. Other workspaces' data is untouched.",
    )
    purger.add_argument("--team", metavar="T…", help="the workspace id (required)")
    purger.add_argument("--db", metavar="PATH", help="SQLite file (default: $VARIATIONS_DB, else variations.db)")
    purger.add_argument(
        "--force", action="store_true", help="purge even while the workspace's runs are being written (they stop)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "export":
        return run_export(args)
    if args.command == "purge":
        return run_purge(args)
    return run_bot()


def run_export(args: argparse.Namespace) -> int:
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(encoding="utf-8")  # JSON is UTF-8 (RFC 8259), whatever the locale
    try:
        written = export(db_path_from(args.db, os.environ), args.format, args.out, sys.stdout, args.team)
    except ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot write the export: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(path, file=sys.stderr)
    return 0


def run_purge(args: argparse.Namespace) -> int:
    if args.team is None:
        print("error: purge needs --team T… (the workspace whose data to delete)", file=sys.stderr)
        return 2
    try:
        purged = purge(db_path_from(args.db, os.environ), args.team, force=args.force)
    except PurgeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"purged workspace {args.team}: {purged}")
    return 0


def run_bot() -> int:
    """Start, serve until SIGTERM or SIGINT, drain, exit 0. A start-up failure is one line and exit code 2."""
    held = _hold_logs()
    try:
        settings = Settings.from_env(os.environ)
        services = _build(settings)
    except (ConfigError, StartupError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    signals = _StopSignals()
    draining = threading.Event()
    try:
        server = _bind(settings, services, draining)
        interrupted = services.runner.recovery.recover()
        stop = _listen(settings, services, server)
    except StartupError as error:
        services.close()
        print(f"error: {error}", file=sys.stderr)
        return 2
    _show_logs(held)
    if interrupted:
        log.warning("marked %d run(s) left unfinished by the last process as interrupted", interrupted)
    received = signals.wait()
    log.info("%s: taking no new runs; waiting up to %g s for runs in flight", received, settings.drain_seconds)
    draining.set()
    interrupted = services.drain(settings.drain_seconds)
    stop()
    if interrupted:
        log.warning("marked %d run(s) still being written as interrupted; exiting", interrupted)
        # Their threads are still waiting on model calls, which neither close() nor the interpreter's exit
        # (it joins pool threads) would wait out; every write is already committed.
        logging.shutdown()
        os._exit(0)
    services.close()
    log.info("drained; exiting")
    return 0


class StartupError(Exception):
    """Why the bot cannot start, in one line for the operator."""


# Slack's answers (auth.test, apps.connections.open) that mean the token itself is wrong (or of the wrong kind).
_TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "not_allowed_token_type"}
)


def _build(settings: Settings) -> Services:
    """`build`, with its failures in one line: the database, then Bolt's auth.test of the bot token."""
    try:
        return build(settings)
    except StoreError as error:
        raise StartupError(str(error)) from error
    except BoltError as error:
        # Bolt raises BoltError while handling the SlackApiError of its auth.test.
        if isinstance(error.__context__, SlackApiError):
            raise StartupError(_slack_refusal("auth.test", "SLACK_BOT_TOKEN", error.__context__)) from error
        raise StartupError(str(error)) from error
    except (URLError, TimeoutError, ConnectionError) as error:
        raise StartupError(_unreachable(settings, error)) from error


def _bind(settings: Settings, services: Services, draining: threading.Event) -> HttpServer | None:
    """In HTTP mode, the server on its port (bound, not serving yet); None in Socket Mode."""
    if settings.socket_mode:
        return None

    def health() -> dict[str, Any]:
        return {**services.health(), "draining": draining.is_set()}

    try:
        return HttpServer(services.app, services.ack_first, health, port=settings.port, metrics=services.metrics)
    except OSError as error:
        raise StartupError(f"cannot listen on port {settings.port}: {error.strerror or error}") from error


def _listen(settings: Settings, services: Services, server: HttpServer | None) -> Callable[[], None]:
    """Start taking Slack's requests; returns how to stop taking them."""
    if server is not None:
        server.start()
        log.info("listening on http://0.0.0.0:%d/slack/events", settings.port)
        if settings.oauth:
            log.info("installable in any workspace: the install link is /slack/install on this app's public URL")
        return server.stop
    return listen_socket_mode(settings, services)


def listen_socket_mode(settings: Settings, services: Services) -> Callable[[], None]:
    """Connect to Slack in Socket Mode (bot/socket_mode.py: with which client, and why); returns how to
    disconnect. Tests connect this way too."""
    assert settings.slack_app_token is not None
    socket_mode = SocketMode(
        services.app, settings.slack_app_token, settings.slack_api_url, ack_first=services.ack_first
    )
    try:
        socket_mode.connect()
    except SlackApiError as error:
        socket_mode.close()
        raise StartupError(_slack_refusal("apps.connections.open", "SLACK_APP_TOKEN", error)) from error
    except LinkError as error:
        socket_mode.close()
        raise StartupError(str(error)) from error
    log.info("connected in Socket Mode")
    return socket_mode.close


def _slack_refusal(method: str, variable: str, error: SlackApiError) -> str:
    response = error.response
    if response.status_code != 200:
        return f"Slack's {method} failed (HTTP {response.status_code}) at {response.api_url}"
    code = response.get("error") if isinstance(response.data, dict) else None
    if code in _TOKEN_ERRORS:
        return f"Slack rejected {variable} ({method}: {code})"
    return f"Slack's {method} failed: {code}"


def _unreachable(settings: Settings, error: Exception) -> str:
    reason = error.reason if isinstance(error, URLError) else error
    return f"cannot reach Slack at {settings.slack_api_url}: {reason}"


class _StopSignals:
    """SIGTERM and SIGINT, caught from now on and waited for by the main thread.

    The handlers do nothing themselves: Python writes each signal's number to a wake-up pipe, which `wait`
    reads. Nothing is raised into whatever the main thread is doing, a signal that arrives before `wait`
    is not lost, and later signals are ignored, so a second Ctrl-C cannot cut a drain short.
    """

    def __init__(self) -> None:
        self._read, write = os.pipe()
        os.set_blocking(write, False)
        signal.set_wakeup_fd(write)
        for signum in _STOP_SIGNALS:
            signal.signal(signum, lambda signum, frame: None)

    def wait(self) -> str:
        """Block until one arrives; returns its name. (The pipe also hears of any other signal Python handles.)"""
        while True:
            select.select([self._read], [], [])
            signum = os.read(self._read, 1)[0]
            if signum in _STOP_SIGNALS:
                return signal.Signals(signum).name


def _hold_logs() -> MemoryHandler:
    """Keep log records back until start-up succeeds: a failed start is one line on stderr, not the
    libraries' own retries and errors on the way to it."""
    held = MemoryHandler(capacity=10_000, flushLevel=logging.CRITICAL + 1)
    logging.basicConfig(level=logging.INFO, handlers=[held])
    return held


def _show_logs(held: MemoryHandler) -> None:
    """From now on, log to stderr, starting with what start-up logged."""
    stream = logging.StreamHandler()
    stream.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    held.setTarget(stream)
    held.flush()
    root = logging.getLogger()
    root.removeHandler(held)
    root.addHandler(stream)
    held.close()


if __name__ == "__main__":
    sys.exit(main())
