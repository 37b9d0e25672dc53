"""The `/variations` slash command: parse, ack at once, hand the run to the runner."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.blocks import help_message
from bot.command import HelpCommand, parse_command
from bot.forms import request_form
from bot.home import stats_message
from bot.runner import Origin, Runner
from bot.stats import stats

COMMAND = "/variations"


def register(app: App, runner: Runner, max_task_chars: int) -> None:
    @app.command(COMMAND)
    def on_variations(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        if command.get("text", "").strip().lower() == "stats":
            team_id = command.get("team_id", "")
            channel, workspace = stats(runner.store, team_id, command["channel_id"]), stats(runner.store, team_id)
            ack(response_type="ephemeral", **stats_message(channel, workspace))
            return
        if not command.get("text", "").strip():
            # Alone, the command opens the request form (its trigger is valid for 3 seconds).
            ack()
            form = request_form(command["channel_id"], command.get("response_url"), max_task_chars)
            client.views_open(trigger_id=command["trigger_id"], view=form)
            return
        parsed = parse_command(command.get("text", ""), max_task_chars)
        if isinstance(parsed, HelpCommand):
            ack(response_type="ephemeral", **help_message(parsed.problem))
            return
        origin = Origin(
            team_id=command.get("team_id", ""),
            channel_id=command["channel_id"],
            user_id=command["user_id"],
            response_url=command.get("response_url"),
        )
        refused = runner.start(origin, parsed.task, parsed.context)
        if refused:
            ack(response_type="ephemeral", text=refused)
        else:
            ack()
