"""Vote buttons: ack at once, log the click, refresh the counts on the message."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.blocks import VOTE_DOWN, VOTE_UP
from bot.store import Store
from bot.votes import VoteRefresher

log = logging.getLogger(__name__)

GONE = "That variation no longer exists, so the vote was not counted."
OTHER_WORKSPACE = "Only people in the workspace where this run started can vote on it."


def register(app: App, store: Store, refresher: VoteRefresher) -> None:
    def on_vote(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        value = "up" if action["action_id"] == VOTE_UP else "down"
        user = body.get("user", {})
        team_id = (body.get("team") or {}).get("id") or user.get("team_id", "")
        try:
            variation_id = int(action.get("value", ""))
        except ValueError:
            respond(text=GONE, response_type="ephemeral", replace_original=False)
            return
        variation = store.variation(variation_id)
        run = store.run(variation["run_id"]) if variation else None
        if variation is None or run is None:
            respond(text=GONE, response_type="ephemeral", replace_original=False)
            return
        if run["team_id"] and team_id != run["team_id"]:
            respond(text=OTHER_WORKSPACE, response_type="ephemeral", replace_original=False)
            return
        try:
            store.record_click(variation_id, team_id=team_id, user_id=user["id"], value=value)
        except LookupError:
            respond(text=GONE, response_type="ephemeral", replace_original=False)
            return
        if variation["message_ts"]:
            refresher.refresh(variation_id, run["channel_id"], variation["message_ts"])

    app.action(VOTE_UP)(on_vote)
    app.action(VOTE_DOWN)(on_vote)
