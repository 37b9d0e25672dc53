"""`variations-bot` / `python -m bot`: a thin command line over the functions that do the work, which tests
call in-process. With no command it runs the Slack app (bot/entry/serve.py: Socket Mode when SLACK_APP_TOKEN is
set, else HTTP on $PORT); `export` writes the database out as JSON or CSV (bot/store/export.py); `purge --team T…`
deletes one workspace's data (bot/store/purge.py). Only the command that runs is imported: `export` and `purge`
start in a fraction of a second, without the Slack and Anthropic SDKs.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Mapping

from bot.store.export import FORMATS, ExportError, db_path_from, export
from bot.store.purge import PurgeError, purge


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


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    environ = os.environ if environ is None else environ
    if args.command == "export":
        return run_export(args, environ)
    if args.command == "purge":
        return run_purge(args, environ)
    from bot.entry.serve import run_bot  # the SDKs load only for the command that needs them

    return run_bot(environ)


def run_export(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(encoding="utf-8")  # JSON is UTF-8 (RFC 8259), whatever the locale
    try:
        written = export(db_path_from(args.db, environ), args.format, args.out, sys.stdout, args.team)
    except ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot write the export: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(path, file=sys.stderr)
    return 0


def run_purge(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    if args.team is None:
        print("error: purge needs --team T… (the workspace whose data to delete)", file=sys.stderr)
        return 2
    try:
        purged = purge(db_path_from(args.db, environ), args.team, force=args.force)
    except PurgeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"purged workspace {args.team}: {purged}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
