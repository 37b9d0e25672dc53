"""`@Variations …` (the `app_mention` event). In a run's thread it is an instruction for that run: a new
version of the approach it names, else one more variation that follows it. Anywhere else it is a request,
run as `/variations TEXT` would be, in a thread under the message.

Slack re-sends an event it thinks was missed (`X-Slack-Retry-Num`): each event id is taken once, by
whichever process sharing the database sees it first. Bolt acknowledges an event when its listener
returns, and nothing here calls Slack: notes to the person go out after the ack.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.parse.references import typed_text, without_mention
from bot.render.help import mention_help_message
from bot.slack.run_thread import Origin
from bot.work.messages import Said, answer
from bot.work.tools import tools

log = logging.getLogger(__name__)


def on_mention(body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    t = tools(context)
    if event.get("subtype") or event["user"] == context.bot_user_id:
        return  # an edited message, or one the app itself posted
    channel, user, thread_ts = str(event["channel"]), str(event["user"]), event.get("thread_ts")

    def note(text: str = "", **message: Any) -> None:
        t.later.whisper(client, channel, user, thread_ts, text, **message)

    said = Said(
        event_id=str(body["event_id"]),
        team_id=str(body.get("team_id") or event.get("team") or ""),
        channel=channel,
        user=user,
        thread_ts=thread_ts,
        text=typed_text(without_mention(str(event["text"]), context.bot_user_id)),
    )
    where = Origin(team_id=said.team_id, channel_id=channel, user_id=user, thread_ts=thread_ts or event["ts"])
    answer(said, t.runner, t.store, t.max_task_chars, reply=note, help_message=mention_help_message, origin=where)


def register(app: App) -> None:
    app.event("app_mention")(on_mention)
