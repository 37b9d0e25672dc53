"""The `/variations` slash command: parse, ack at once, hand the work on. Nothing here calls Slack before
the ack: the form, the stats and any note go out after it."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.parse.command_text import HelpCommand, TypesCommand, parse_command, parse_types
from bot.render.help import help_message
from bot.render.home_view import stats_message
from bot.render.kit import Message
from bot.render.modals import request_form
from bot.render.types_blocks import merged_message, refused_message, split_message, types_message
from bot.slack.run_thread import Origin
from bot.store.catalogue import TypeChangeRefused
from bot.store.stats import stats
from bot.store.store import Store
from bot.work.asked import Asked
from bot.work.tools import tools

COMMAND = "/variations"


def on_variations(ack: Ack, command: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext) -> None:
    t = tools(context)
    text = command.get("text", "").strip()
    if text.lower() == "stats":
        ack()
        team_id, channel_id = command.get("team_id", ""), command.get("channel_id", "")

        def answer() -> None:
            message = stats_message(stats(t.store, team_id, channel_id), stats(t.store, team_id))
            respond(response_type="ephemeral", **message)

        t.later.call("stats", answer, after_acks=True)  # ~20 ms of CPU: not while clicks wait for acks
        return
    types = parse_types(text)
    if types is not None:
        ack()
        team_id, user_id = command.get("team_id", ""), command.get("user_id", "")

        def answer_types_command() -> None:  # a merge writes: after the ack, like every answer here
            respond(response_type="ephemeral", **answer_types(t.store, types, team_id, user_id))

        t.later.call("types", answer_types_command, after_acks=True)
        return
    if not text:
        # Alone, the command opens the request form (its trigger is valid for 3 seconds).
        ack()
        form = request_form(command.get("channel_id", ""), command.get("response_url"), t.max_task_chars)
        t.later.open(client, command.get("trigger_id", ""), form)
        return
    parsed = parse_command(command.get("text", ""), t.max_task_chars)
    if isinstance(parsed, HelpCommand):
        ack(response_type="ephemeral", **help_message(parsed.problem))
        return
    origin = Origin(
        team_id=command.get("team_id", ""),
        channel_id=command.get("channel_id", ""),
        user_id=command.get("user_id", ""),
        response_url=command.get("response_url"),
    )
    refused = t.runner.start(Asked(origin, parsed.task, parsed.context, fresh=parsed.fresh, blind=parsed.blind))
    if refused:
        ack(response_type="ephemeral", text=refused)
    else:
        ack()


def register(app: App) -> None:
    app.command(COMMAND)(on_variations)


def answer_types(store: Store, types: TypesCommand, team_id: str, user_id: str) -> Message:
    """What `/variations types …` answers, only to the person who asked: the list, or what a merge or a
    split did (or why it could not)."""
    try:
        if types.action == "merge":
            return merged_message(store.types.merge(team_id, types.old, types.new, user_id))
        if types.action == "split":
            return split_message(store.types.split(team_id, types.old, user_id))
    except TypeChangeRefused as refused:
        return refused_message(str(refused))
    if types.action == "usage":
        return refused_message("Say which types, e.g. `/variations types merge tech specs into technical`.")
    return types_message(*store.types.listing(team_id))
