"""`variations-bot` / `python -m bot`: Socket Mode when SLACK_APP_TOKEN is set, else HTTP on $PORT.

`variations-bot export` writes the database out as JSON or CSV instead (see bot/export.py).
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys

from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.app import build
from bot.config import ConfigError, Settings
from bot.export import FORMATS, ExportError, db_path_from, export
from bot.server import HttpServer

log = logging.getLogger("bot")


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "export":
        return run_export(args)
    return run_bot()


def run_export(args: argparse.Namespace) -> int:
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(encoding="utf-8")  # JSON is UTF-8 (RFC 8259), whatever the locale
    try:
        written = export(db_path_from(args.db, os.environ), args.format, args.out, sys.stdout)
    except ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot write the export: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(path, file=sys.stderr)
    return 0


def run_bot() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    services = build(settings)
    try:
        interrupted = services.runner.recover_interrupted()
        if interrupted:
            log.warning("marked %d run(s) left unfinished by the last process as interrupted", interrupted)
        if settings.socket_mode:
            log.info("starting in Socket Mode")
            SocketModeHandler(services.app, settings.slack_app_token).start()
        else:
            server = HttpServer(services.app, services.ack_first, services.health, port=settings.port)
            log.info("listening on http://0.0.0.0:%d/slack/events", settings.port)
            server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
