"""Buttons: 👍/👎 log a click and queue a refresh of the counts, ♻️ opens the "new version" form, 🧩 starts
a synthesis, 🔁 retries a failed approach, 🔒 closes a run's voting (its requester only), and a pick on
"which one do you mean?" writes what was asked. Each is acknowledged without any Slack call: what must be
said back (an ephemeral note, the form) is sent after the ack. A click on something gone, or from another
workspace, or a vote once voting closed, gets an ephemeral explanation rather than an error."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.parse.payloads import parse_id
from bot.render.modals import regenerate_form
from bot.render.picking import PICK_NEW, PICK_VARIATION, choice_name, read_pick
from bot.render.rebuild import blind_label
from bot.render.run_messages import CLOSE_VOTING, SYNTHESIZE
from bot.render.variation_messages import REGENERATE, RETRY, VOTE_DOWN, VOTE_UP
from bot.store.rows import MissingRow, RunRow, VariationRow, VotingClosed
from bot.work.tools import Tools, tools

log = logging.getLogger(__name__)

GONE = "That variation no longer exists, so the click did nothing."
NOT_SAVED = "Your vote could not be saved (the app's database is not writable). Please try again later."
RUN_GONE = "That run no longer exists, so there is nothing to combine."
OTHER_WORKSPACE = "Only people in the workspace where this run started can use its buttons."
NOT_FINISHED = "The variations are still being written; synthesize once they are all in."
NOTHING_TO_RETRY = "That approach was written after all: nothing to retry."
VOTING_CLOSED = "Voting on this run has closed, so your click was not counted."
NOT_REQUESTER = "Only the person who asked for these variations can close the voting."
NOTHING_TO_CLOSE = "The variations are still being written; close the voting once they are in."


def team_of(body: dict[str, Any]) -> str:
    return str((body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id") or "")


def user_of(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


def clicked(
    t: Tools, body: dict[str, Any], action: dict[str, Any], respond: Respond
) -> tuple[VariationRow, RunRow] | None:
    """The clicked variation and its run, or None after telling the user why nothing happens."""
    variation_id = parse_id(action.get("value"))
    variation = t.store.find_variation(variation_id) if variation_id is not None else None
    run = t.store.find_run(variation.run_id) if variation else None
    if variation is None or run is None:
        t.later.say(respond, GONE)
        return None
    if run.team_id and team_of(body) != run.team_id:
        t.later.say(respond, OTHER_WORKSPACE)
        return None
    return variation, run


def clicked_run(t: Tools, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> RunRow | None:
    """The run a button on its parent names, or None after telling the user why nothing happens."""
    run_id = parse_id(action.get("value"))
    run = t.store.find_run(run_id) if run_id is not None else None
    if run is None:
        t.later.say(respond, RUN_GONE)
        return None
    if run.team_id and team_of(body) != run.team_id:
        t.later.say(respond, OTHER_WORKSPACE)
        return None
    return run


def on_vote(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    t = tools(context)
    ack()
    found = clicked(t, body, action, respond)
    if found is None:
        return
    variation, run = found
    value = "up" if action["action_id"] == VOTE_UP else "down"
    try:
        t.store.record_click(variation.id, team_id=team_of(body), user_id=user_of(body), value=value)
    except MissingRow:
        t.later.say(respond, GONE)
        return
    except VotingClosed:
        t.later.say(respond, VOTING_CLOSED)
        return
    except sqlite3.Error as error:
        log.error("step=click_not_saved variation=%d error=%s", variation.id, error)
        t.later.say(respond, NOT_SAVED)
        return
    t.metrics.clicks.labels(value).inc()
    t.refresher.refresh(variation, run)


def on_regenerate(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    t = tools(context)
    ack()
    found = clicked(t, body, action, respond)
    if found is not None:
        variation, _ = found
        label = blind_label(t.store, variation)  # a blind run's form names the letter, not the approach
        name = f"Variation {label}" if label else variation.type
        t.later.open(client, body.get("trigger_id", ""), regenerate_form(variation.id, name))


def on_retry(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    t = tools(context)
    ack()
    found = clicked(t, body, action, respond)
    if found is None:
        return
    variation, _ = found
    if not variation.status.retryable:
        t.later.say(respond, NOTHING_TO_RETRY)
    elif refused := t.runner.retry(variation.id, team_of(body), user_of(body)):
        t.later.say(respond, refused)


def on_synthesize(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, context: BoltContext
) -> None:
    t = tools(context)
    ack()
    run = clicked_run(t, body, action, respond)
    if run is None:
        return
    if not run.status.finished:
        t.later.say(respond, NOT_FINISHED)
    elif refused := t.runner.synthesize(run.id, team_of(body), user_of(body)):
        t.later.say(respond, refused)


def on_close(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    t = tools(context)
    ack()
    run = clicked_run(t, body, action, respond)
    if run is None:
        return
    if user_of(body) != run.user_id:
        t.later.say(respond, NOT_REQUESTER)
    elif not run.status.finished:
        t.later.say(respond, NOTHING_TO_CLOSE)
    else:
        t.closer.close(run.id)  # the t.store and the outbox only: a second click finds it closed, and is quiet


def on_pick(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """A button on "which one do you mean?": a new version of the variation picked, or one more."""
    t = tools(context)
    ack()
    pick = read_pick(action.get("value"))
    run = t.store.find_run(pick.run) if pick is not None else None
    variation = t.store.find_variation(pick.variation) if pick is not None and pick.variation else None
    if pick is None or run is None or (pick.variation and (variation is None or variation.run_id != run.id)):
        t.later.say(respond, GONE)
        return
    if run.team_id and team_of(body) != run.team_id:
        t.later.say(respond, OTHER_WORKSPACE)
        return
    team, user = team_of(body), user_of(body)
    if variation is not None:
        refused = t.runner.regenerate(variation.id, pick.instruction, team, user)
        label = blind_label(t.store, variation)
        done = f"✍️ Writing a new version of {choice_name(variation, label)}."
    else:
        refused = t.runner.follow_up(run.id, pick.instruction, team, user)
        done = "✍️ Writing one more variation."
    if refused:
        t.later.say(respond, refused)
    else:  # the question is answered: it gives way to what happens now
        t.later.call("respond", lambda: respond(text=done, replace_original=True))


def register(app: App) -> None:
    app.action(VOTE_UP)(on_vote)
    app.action(VOTE_DOWN)(on_vote)
    app.action(REGENERATE)(on_regenerate)
    app.action(SYNTHESIZE)(on_synthesize)
    app.action(RETRY)(on_retry)
    app.action(CLOSE_VOTING)(on_close)
    app.action(PICK_VARIATION)(on_pick)
    app.action(PICK_NEW)(on_pick)
