"""Buttons: 👍/👎 log a click and refresh the counts, ♻️ opens the "new version" form, 🧩 starts a
synthesis. Each is acknowledged at once; a click on something gone, or from another workspace, gets an
ephemeral explanation rather than an error."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.blocks import REGENERATE, RETRY, SYNTHESIZE, VOTE_DOWN, VOTE_UP
from bot.forms import regenerate_form
from bot.render import FINISHED
from bot.runner import Runner
from bot.store import Store
from bot.votes import VoteRefresher

log = logging.getLogger(__name__)

GONE = "That variation no longer exists, so the click did nothing."
RUN_GONE = "That run no longer exists, so there is nothing to combine."
OTHER_WORKSPACE = "Only people in the workspace where this run started can use its buttons."
NOT_FINISHED = "The variations are still being written; synthesize once they are all in."
NOTHING_TO_RETRY = "That approach was written after all: nothing to retry."
ALREADY_RETRYING = "That approach is already being written again."
ALREADY_SYNTHESIZING = "A synthesis of this run is already being written: it will appear in the thread."


def _team(body: dict[str, Any]) -> str:
    return str((body.get("team") or {}).get("id") or body.get("user", {}).get("team_id", ""))


def _id(action: dict[str, Any]) -> int | None:
    try:
        return int(action.get("value", ""))
    except ValueError:
        return None


def _tell(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False)


def register(app: App, store: Store, runner: Runner, refresher: VoteRefresher) -> None:
    def variation_for(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> dict[str, Any] | None:
        """The clicked variation, or None after telling the user why nothing happens."""
        variation_id = _id(action)
        variation = store.variation(variation_id) if variation_id is not None else None
        run = store.run(variation["run_id"]) if variation else None
        if variation is None or run is None:
            _tell(respond, GONE)
            return None
        if run["team_id"] and _team(body) != run["team_id"]:
            _tell(respond, OTHER_WORKSPACE)
            return None
        return {**variation, "channel_id": run["channel_id"]}

    def on_vote(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        variation = variation_for(body, action, respond)
        if variation is None:
            return
        value = "up" if action["action_id"] == VOTE_UP else "down"
        try:
            store.record_click(variation["id"], team_id=_team(body), user_id=body["user"]["id"], value=value)
        except LookupError:
            _tell(respond, GONE)
            return
        refresher.refresh(variation["id"], variation["run_id"], variation["channel_id"], variation["message_ts"])

    def on_regenerate(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        ack()
        variation = variation_for(body, action, respond)
        if variation is not None:
            client.views_open(trigger_id=body["trigger_id"], view=regenerate_form(variation["id"], variation["type"]))

    def on_retry(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        variation = variation_for(body, action, respond)
        if variation is None:
            return
        if variation["status"] not in ("failed", "interrupted"):
            _tell(respond, NOTHING_TO_RETRY)
        elif not runner.retry(variation["id"]):
            _tell(respond, ALREADY_RETRYING)

    def on_synthesize(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        run_id = _id(action)
        run = store.run(run_id) if run_id is not None else None
        if run is None:
            _tell(respond, RUN_GONE)
        elif run["team_id"] and _team(body) != run["team_id"]:
            _tell(respond, OTHER_WORKSPACE)
        elif run["status"] not in FINISHED:
            _tell(respond, NOT_FINISHED)
        elif not runner.synthesize(run["id"]):
            _tell(respond, ALREADY_SYNTHESIZING)

    app.action(VOTE_UP)(on_vote)
    app.action(VOTE_DOWN)(on_vote)
    app.action(REGENERATE)(on_regenerate)
    app.action(SYNTHESIZE)(on_synthesize)
    app.action(RETRY)(on_retry)
