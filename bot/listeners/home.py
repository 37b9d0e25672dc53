"""The App Home tab: on `app_home_opened` (Home tab only), publish the scoreboard and the user's runs.

Bolt acknowledges the event at once; the work (a few SQLite reads, one `chat.getPermalink` per run and
`views.publish`) runs as a lazy listener on Bolt's listener threads, so the ack never waits on Slack.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.render.home import home_view
from bot.store.stats import RecentRun, recent_runs, stats
from bot.store.store import Store

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


def register(app: App, store: Store) -> None:
    def ack_event(ack: Ack) -> None:
        ack()

    def publish_home(body: dict[str, Any], event: dict[str, Any], client: WebClient) -> None:
        if not is_home_tab(event):
            return  # the Messages tab (turned off in the manifest); acknowledged all the same
        user_id = event["user"]
        team_id = body.get("team_id") or ""
        runs = [(run, permalink(client, run)) for run in recent_runs(store, team_id, user_id)]
        client.views_publish(user_id=user_id, view=home_view(stats(store, team_id), runs))

    # Every app_home_opened is acknowledged (an unmatched event would get a 404 and be retried by Slack).
    app.event("app_home_opened")(ack=ack_event, lazy=[publish_home])
