"""Stopping a run: its requester's ⏹ on the run's parent, and Slack's own stop button of an agent session
(the `agent_session_stopped` event, for the session's thread). Both go the same way (`Runner.stop`): the
work this process is writing for the run is cancelled and ends itself, visibly. Nothing here calls Slack
before the ack: a note to the person goes out after it; Slack re-sends an event it thinks was missed, and
each is taken once."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.parse.payloads import parse_id
from bot.render.run_messages import STOP
from bot.store.rows import RunRow
from bot.store.store import Store
from bot.work.runner import Runner
from bot.work.stopping import Outcome
from bot.work.tools import tools

log = logging.getLogger(__name__)

NOT_YOURS = "Only the person who asked for these variations (or for the one being written) can stop it."
NOTHING_TO_STOP = "Nothing of this run is being written any more, so there is nothing to stop."
RUN_GONE = "That run no longer exists, so there is nothing to stop."
OTHER_WORKSPACE = "Only people in the workspace where this run started can use its buttons."


def answer(runner: Runner, store: Store, run: RunRow, user_id: str) -> str | None:
    """Stop what `user_id` may stop of the run; what to tell them, if anything (a stop taken says nothing
    here: the thread shows it). A run another process is writing is asked to stop through the database:
    that process stops it on its next heartbeat."""
    outcome = runner.stop(run.id, user_id)
    if outcome == Outcome.NOTHING and run.status.working and run.owner != store.owner and user_id == run.user_id:
        store.update_run(run.id, stopped_by=user_id)
        outcome = Outcome.STOPPED
    log.info("run=%d step=stop_asked by=%s outcome=%s", run.id, user_id, outcome.value)
    if outcome == Outcome.NOT_ALLOWED or (outcome == Outcome.NOTHING and user_id != run.user_id):
        return NOT_YOURS
    return NOTHING_TO_STOP if outcome == Outcome.NOTHING else None


def on_stop(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    t = tools(context)
    ack()
    run_id = parse_id(action.get("value"))
    run = t.store.find_run(run_id) if run_id is not None else None
    team = str((body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id") or "")
    if run is None:
        t.later.say(respond, RUN_GONE)
    elif run.team_id and team != run.team_id:
        t.later.say(respond, OTHER_WORKSPACE)
    elif note := answer(t.runner, t.store, run, str((body.get("user") or {}).get("id") or "")):
        t.later.say(respond, note)


def on_session_stopped(body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    t = tools(context)
    channel, thread_ts, user = str(event["channel"]), str(event["thread_ts"]), str(event["user"])
    team = str(body.get("team_id") or context.team_id or "")
    try:
        if not t.store.first_sighting(str(body["event_id"])):
            log.info("step=event_again event=%s", body["event_id"])
            return
        run = t.store.run_in_thread(team, channel, thread_ts)
    except sqlite3.Error as error:
        log.error("step=stop_not_read error=%s", error)
        run = None
    if run is None:
        log.info("step=stop_no_run channel=%s thread=%s", channel, thread_ts)
        return
    if note := answer(t.runner, t.store, run, user):
        t.later.whisper(client, channel, user, thread_ts, note)


def register(app: App) -> None:
    app.action(STOP)(on_stop)
    app.event("agent_session_stopped")(on_session_stopped)
