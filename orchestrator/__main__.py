"""Terminal demo: `python -m orchestrator "TASK" --context KEY=VALUE ... [--json] [--db PATH]`.

Human output mirrors the cookbook's (analysis, the approaches, then each variation as it finishes);
`--json` prints one object for scripts. Failures are one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sqlite3
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import TextIO

from orchestrator.engine import Engine
from orchestrator.events import (
    MAX_APPROACHES,
    MIN_APPROACHES,
    AnalysisReady,
    PlanError,
    Planned,
    PlanRetrying,
    Request,
    RunFinished,
    RunResult,
    TeamRecord,
    WorkerFinished,
    WorkerResult,
)
from orchestrator.llm import LLM, make_client
from orchestrator.memory import read_record
from orchestrator.settings import models_from_env


def parse_context(pairs: list[str]) -> dict[str, str]:
    """`KEY=VALUE` strings to a dict; a pair without `=` or with an empty key is a usage error."""
    context: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--context takes KEY=VALUE, got {pair!r}")
        context[key.strip()] = value.strip()
    return context


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m orchestrator",
        description="Plan several approaches to a task with Claude and write each one in parallel.",
    )
    parser.add_argument("task", help="what to write, e.g. 'Write a product description for our water bottle'")
    parser.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="context that reaches the prompts, e.g. target_audience='hikers' (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument(
        "--max-approaches",
        type=int,
        default=MAX_APPROACHES,
        choices=range(MIN_APPROACHES, MAX_APPROACHES + 1),
        metavar=f"{{{MIN_APPROACHES}..{MAX_APPROACHES}}}",
        help=f"the most approaches to write (default {MAX_APPROACHES})",
    )
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="a Variations database (VARIATIONS_DB): the team's votes on earlier approach types reach the plan",
    )
    parser.add_argument("--team", metavar="TEAM_ID", help="with --db: this workspace's record (default: all of them)")
    parser.add_argument("--channel", metavar="CHANNEL_ID", help="with --db and --team: this channel's record too")
    return parser


def load_record(path: str, team_id: str | None, channel_id: str | None) -> TeamRecord:
    """The team's record from a database file, opened read-only; ValueError says why it cannot be read."""
    if not os.path.isfile(path):
        raise ValueError(f"--db: no database at {path}")
    try:
        conn = sqlite3.connect(f"{pathlib.Path(path).resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise ValueError(f"--db: cannot open {path}: {error}") from error
    try:
        return read_record(conn, team_id, channel_id)
    except sqlite3.Error as error:
        raise ValueError(f"--db: {path} holds no Variations votes ({error})") from error
    finally:
        conn.close()


def _print_result(result: WorkerResult, out: TextIO) -> None:
    if result.ok:
        print(f"\n=== WORKER RESULT ({result.approach.type}) ===\n{result.text}", file=out)
    else:
        print(f"\n=== WORKER RESULT ({result.approach.type}): FAILED ===\n{result.error}", file=out)


def run(request: Request, engine: Engine, *, as_json: bool, out: TextIO) -> int:
    """Drive one run and print it; returns the exit code (1 when no variation could be written)."""
    finished: list[WorkerResult] = []
    planned = False
    outcome: RunResult | None = None
    for event in engine.run(request):
        if isinstance(event, PlanRetrying) and not as_json:
            print(f"\n(the orchestrator's reply was not usable, asking again: {event.reason})", file=out, flush=True)
        elif isinstance(event, AnalysisReady) and not as_json:
            print(f"\n=== ORCHESTRATOR OUTPUT ===\n\nANALYSIS:\n{event.analysis}", file=out, flush=True)
        elif isinstance(event, Planned) and not as_json:
            planned = True
            print("\nTASKS:", file=out)
            for number, approach in enumerate(event.plan.approaches, start=1):
                print(f"  {number}. {approach.type}: {approach.description}", file=out)
            for result in finished:
                _print_result(result, out)
            out.flush()
        elif isinstance(event, WorkerFinished) and not as_json:
            # Results that beat the end of the plan wait for it, so the output reads in cookbook order.
            if planned:
                _print_result(event.result, out)
                out.flush()
            else:
                finished.append(event.result)
        elif isinstance(event, RunFinished):
            outcome = event.result
    assert outcome is not None, "Engine.run always ends with RunFinished"
    if as_json:
        document = {
            "analysis": outcome.plan.analysis,
            "worker_results": [
                {
                    "type": r.approach.type,
                    "description": r.approach.description,
                    "result": r.text,
                    "status": "done" if r.ok else "failed",
                    "error": r.error,
                }
                for r in outcome.results
            ],
            "status": outcome.status,
            "usage": {
                "input_tokens": outcome.usage.input_tokens,
                "output_tokens": outcome.usage.output_tokens,
            },
            "seconds": round(outcome.seconds, 3),
        }
        print(json.dumps(document, ensure_ascii=False, indent=2), file=out)
    else:
        print(
            f"\n--- {outcome.status}: {sum(r.ok for r in outcome.results)} of {len(outcome.results)} "
            f"variations in {outcome.seconds:.1f}s, {outcome.usage.total} tokens ---",
            file=out,
        )
    return 0 if outcome.status != "failed" else 1


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        context = parse_context(args.context)
    except ValueError as error:
        parser.error(str(error))
    if not args.task.strip():
        parser.error("the task is empty")
    if (args.team or args.channel) and not args.db:
        parser.error("--team and --channel need --db")
    if args.channel and not args.team:
        parser.error("--channel needs --team")
    try:
        record = load_record(args.db, args.team, args.channel) if args.db else TeamRecord()
    except ValueError as error:
        parser.error(str(error))
    if not os.environ.get("ANTHROPIC_API_KEY"):
        print("error: ANTHROPIC_API_KEY is not set", file=sys.stderr)
        return 2
    orchestrator_model, worker_model = models_from_env(os.environ)
    request = Request(task=args.task, context=context, max_approaches=args.max_approaches, record=record)
    with ThreadPoolExecutor(max_workers=args.max_approaches + 1, thread_name_prefix="worker") as pool:
        engine = Engine(
            LLM(make_client()),
            pool,
            orchestrator_model=orchestrator_model,
            worker_model=worker_model,
        )
        try:
            return run(request, engine, as_json=args.json, out=sys.stdout)
        except PlanError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
