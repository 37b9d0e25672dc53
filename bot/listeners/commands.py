"""The `/variations` slash command: parse, ack at once, hand the run to the runner."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.blocks import help_message
from bot.command import HelpCommand, parse_command
from bot.runner import Origin, Runner

COMMAND = "/variations"


def register(app: App, runner: Runner, max_task_chars: int) -> None:
    @app.command(COMMAND)
    def on_variations(ack: Ack, command: dict[str, Any]) -> None:
        parsed = parse_command(command.get("text", ""), max_task_chars)
        if isinstance(parsed, HelpCommand):
            ack(response_type="ephemeral", **help_message(parsed.problem))
            return
        ack()
        origin = Origin(
            team_id=command.get("team_id", ""),
            channel_id=command["channel_id"],
            user_id=command["user_id"],
            response_url=command.get("response_url"),
        )
        runner.start(origin, parsed.task, parsed.context)
