"""Modal submissions: the request form starts a run, the "new version" form regenerates an approach.
Problems (an empty request, a limit reached) are shown inside the modal."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot.render.modals import REGENERATE_FORM, REQUEST_FORM, read_regenerate_form, read_request_form, request_errors
from bot.slack.run_thread import Origin
from bot.work.asked import Asked
from bot.work.tools import tools

FORM_BROKEN = "This form no longer points at a variation. Close it and click ♻️ on the variation again."


def _team(body: dict[str, Any], view: dict[str, Any]) -> str:
    return str((body.get("team") or {}).get("id") or view.get("team_id", ""))


def on_request(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    t = tools(context)
    form = read_request_form(view)
    errors = request_errors(form, t.max_task_chars)
    if errors:
        ack(response_action="errors", errors=errors)
        return
    origin = Origin(
        team_id=_team(body, view),
        channel_id=form.channel_id,
        user_id=str((body.get("user") or {}).get("id") or ""),
        response_url=form.response_url,
    )
    asked = Asked(origin, form.task, form.context, form.approaches, fresh=form.fresh, blind=form.blind)
    refused = t.runner.start(asked)
    if refused:
        ack(response_action="errors", errors={"task": refused})
    else:
        ack()


def on_regenerate(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    t = tools(context)
    variation_id, instruction = read_regenerate_form(view)
    user_id = str((body.get("user") or {}).get("id") or "")
    if variation_id is None:
        refused: str | None = FORM_BROKEN
    else:
        refused = t.runner.regenerate(variation_id, instruction, _team(body, view), user_id)
    if refused:
        ack(response_action="errors", errors={"instruction": refused})
    else:
        ack()


def register(app: App) -> None:
    app.view(REQUEST_FORM)(on_request)
    app.view(REGENERATE_FORM)(on_regenerate)
