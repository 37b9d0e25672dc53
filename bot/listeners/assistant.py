"""The Agents & AI apps pane (Bolt's `Assistant` middleware) and the app's DM.

Opening the pane shows suggested prompts. A message in one of its threads (or in any thread of the app's
DM) starts a run in that thread, titled with the request, or, in a run's thread, is an instruction for the
run, as an @mention is in a channel thread (`bot.work.messages.instruct`). A message at the top of the DM starts a
run in a thread under it. The run's variations stream (`bot.slack.streams`), and the pane shows "is planning
approaches…" while the plan is written (`bot.slack.run_thread.show_status`).

Nothing here calls Slack before the ack: Bolt runs these listeners before answering
(`process_before_response`), the middleware only attaches helpers (`set_title`, `set_suggested_prompts`, …)
that call Slack when used, and they are used through `Later`. The middleware's own listener for
`assistant_thread_context_changed` would read the thread (conversations.replies) and rewrite the app's first
reply (chat.update) before the ack, to remember which channel the person looks at; the app does not use
that, so its listener only acknowledges. Slack re-sends an event it thinks was missed: each is taken once.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from slack_bolt import App, BoltContext
from slack_bolt.middleware.assistant import Assistant
from slack_sdk import WebClient

from bot.parse.references import typed_text, without_mention
from bot.render.help import dm_help_message
from bot.render.mrkdwn import truncate_plain
from bot.slack.run_thread import Origin
from bot.work.messages import Said, answer
from bot.work.tools import Tools, tools

log = logging.getLogger(__name__)

PROMPTS_TITLE = "Ask for anything you'd like several takes on, for example:"
SUGGESTED_PROMPTS = (
    {
        "title": "Describe a product",
        "message": "Write a product description for our new water bottle\naudience: hikers and commuters\n"
        "key features: keeps drinks cold 24h, 750 ml, dishwasher safe",
    },
    {"title": "Announce a change", "message": "Announce to customers that our app now works offline\ntone: upbeat"},
    {
        "title": "Break bad news",
        "message": "Tell a customer their order will arrive two weeks late\ntone: honest, warm",
    },
    {"title": "Name something", "message": "Suggest a name and tagline for our team's internal analytics tool"},
)
"""Slack shows at most four. The manifest's `assistant_view.suggested_prompts` holds the same (a test
keeps them equal)."""
TITLE_CHARS = 80


def first_sighting(t: Tools, body: dict[str, Any]) -> bool:
    if t.store.first_sighting(str(body["event_id"])):
        return True
    log.info("step=event_again event=%s", body["event_id"])
    return False


def on_pane_opened(body: dict[str, Any], set_suggested_prompts: Any, context: BoltContext) -> None:
    t = tools(context)
    try:
        if not first_sighting(t, body):
            return
    except sqlite3.Error as error:  # the prompts are worth showing all the same
        log.error("step=event_not_recorded error=%s", error)
    prompts = list(SUGGESTED_PROMPTS)
    t.later.call("setSuggestedPrompts", lambda: set_suggested_prompts(prompts=prompts, title=PROMPTS_TITLE))


def on_context_changed() -> None:
    """The person looked at another channel with the pane open; the app does not use that."""


def on_pane_message(
    body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient, set_title: Any
) -> None:
    on_message(body, event, context, client, str(event["thread_ts"]), set_title)


def on_dm(body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """A message at the top of the app's DM; any other message event (an edit, a deletion, one in a
    channel) is acknowledged and left alone."""
    if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id") or "thread_ts" in event:
        return
    on_message(body, event, context, client, str(event["ts"]), None)


def on_message(
    body: dict[str, Any],
    event: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    thread_ts: str,
    set_title: Any,
) -> None:
    """A person's message to the app, answered in `thread_ts` (`set_title` names the pane's thread)."""
    if event.get("subtype") or event["user"] == context.bot_user_id:
        return  # a file shared without a request, or the app's own message
    t = tools(context)
    channel, user = str(event["channel"]), str(event["user"])

    def reply(text: str = "", **message: Any) -> None:
        post = client.chat_postMessage
        t.later.call("chat_postMessage", lambda: post(channel=channel, thread_ts=thread_ts, text=text, **message))

    team_id = str(body.get("team_id") or context.team_id or "")
    said = Said(
        event_id=str(body["event_id"]),
        team_id=team_id,
        channel=channel,
        user=user,
        thread_ts=thread_ts,
        text=typed_text(without_mention(str(event.get("text") or ""), context.bot_user_id)),
    )
    pane = set_title is not None
    where = Origin(team_id=team_id, channel_id=channel, user_id=user, thread_ts=thread_ts, assistant=pane)
    task = answer(said, t.runner, t.store, t.max_task_chars, reply=reply, help_message=dm_help_message, origin=where)
    if task is not None and set_title is not None:
        title = truncate_plain(task, TITLE_CHARS)
        t.later.call("setTitle", lambda: set_title(title))


def register(app: App) -> None:
    assistant = Assistant()  # one per app: it keeps the listeners of the app it is added to
    assistant.thread_started(on_pane_opened)
    assistant.thread_context_changed(on_context_changed)
    assistant.user_message(on_pane_message)
    app.assistant(assistant)
    app.event("message")(on_dm)
