"""The App Home tab: on `app_home_opened` (Home tab only), publish the scoreboard and the user's runs.

The event is acknowledged at once; the work (a few SQLite reads, one `chat.getPermalink` per run and
`views.publish`) runs after the ack on the app's after-ack pool (bot/work/later.py), as every listener's
Slack calls do, so the ack never waits on Slack.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.render.home_view import home_view
from bot.store.stats import RecentRun, recent_runs, stats
from bot.work.tools import tools

log = logging.getLogger(__name__)


def is_home_tab(event: dict[str, Any]) -> bool:
    return event.get("tab") == "home"


def permalink(client: WebClient, run: RecentRun) -> str | None:
    """The link to a run's thread, or None when it has no message or Slack can't say (the run is listed
    without a link then)."""
    if not run.message_ts:
        return None
    try:
        answer = client.chat_getPermalink(channel=run.channel_id, message_ts=run.message_ts)
    except Exception as error:  # a missing link must not cost the user their Home tab
        log.warning("no permalink for run %s: %s", run.id, error)
        return None
    link = answer.get("permalink")
    return link if isinstance(link, str) else None


def on_home_opened(
    ack: Ack, body: dict[str, Any], event: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Every app_home_opened is acknowledged (an unmatched event would get a 404 and be retried by Slack); the
    Home tab's (not the Messages tab's) is published after the ack."""
    ack()
    if not is_home_tab(event):
        return
    t = tools(context)
    user_id, team_id = event["user"], body.get("team_id") or ""

    def publish() -> None:
        runs = [(run, permalink(client, run)) for run in recent_runs(t.store, team_id, user_id)]
        client.views_publish(user_id=user_id, view=home_view(stats(t.store, team_id), runs))

    t.later.call("views_publish", publish, after_acks=True)  # reads and Slack calls: not while acks are due


def register(app: App) -> None:
    app.event("app_home_opened")(on_home_opened)
