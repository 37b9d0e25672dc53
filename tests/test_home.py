"""The App Home tab through the real app: a signed `app_home_opened` event in, `views.publish` out."""

from __future__ import annotations

import json
import time
from typing import Any

from bot.render.home_view import RANKING_NOTE
from tests.fakes.signing import signed_headers
from tests.helpers import CHANNEL, SIGNING_SECRET, TEAM, USER, Bot, make_run, record_clicks, section_texts


def open_home(bot: Bot, user: str = USER, tab: str = "home", team: str = TEAM) -> None:
    """Slack's event when `user` opens the app's Home (or Messages) tab."""
    now = time.time()
    body = json.dumps(
        {
            "token": "verification-token",
            "team_id": team,
            "api_app_id": "A0001",
            "event": {
                "type": "app_home_opened",
                "user": user,
                "channel": "D0001",
                "tab": tab,
                "event_ts": f"{now:.6f}",
            },
            "type": "event_callback",
            "event_id": f"Ev{int(now * 1e6)}",
            "event_time": int(now),
            "authorizations": [{"team_id": team, "user_id": "UBOT", "is_bot": True}],
        }
    )
    status, answer = bot.post(body, signed_headers(body, SIGNING_SECRET, content_type="application/json"))
    assert status == 200, answer


def in_order(blocks: list[dict[str, Any]]) -> list[str]:
    """Each block's text, top to bottom."""
    return [
        block["text"]["text"] if "text" in block else " ".join(e["text"] for e in block["elements"])
        for block in blocks
        if block["type"] in ("header", "section", "context")
    ]


def published(bot: Bot, user: str = USER) -> dict[str, Any]:
    """The Home view published for `user`, once there is one."""
    call = bot.slack.wait_for(
        lambda: next((c for c in bot.slack.calls("views.publish") if c.params["user_id"] == user), None)
    )
    return call.params["view"]


def test_home_tab_shows_the_scoreboard_and_my_runs_linked_to_their_threads(bot: Bot) -> None:
    status, _ = bot.command("Write a tagline for our <water bottle>")
    assert status == 200
    run = bot.wait_run()
    technical = next(v for v in bot.store.variations(run.id) if v.type == "technical")
    for user in (USER, "U0002", "U0003", "U0004", "U0005"):  # five 👍: it leads
        assert bot.click(technical.id, "up", user=user)[0] == 200
    # A run whose thread is gone (chat.getPermalink fails), one still planning with no message yet,
    # someone else's run and a run in another workspace.
    (gone,) = make_run(bot.store, [("formal", "done")], team=TEAM, channel=CHANNEL, user=USER,
                       task="Old request", message_ts="1600000000.000100")  # fmt: skip
    record_clicks(bot.store, gone, ("U0002", "down"), team=TEAM)
    planning = bot.store.create_run(team_id=TEAM, channel_id=CHANNEL, user_id=USER, task="Brand new request",
                                    context={}, orchestrator_model="o", worker_model="w")  # fmt: skip
    make_run(bot.store, [("formal", "done")], team=TEAM, user="U0002", task="Not mine")
    make_run(bot.store, [("formal", "done")], team="T0002", user=USER, task="Other workspace")

    open_home(bot)
    view = published(bot)
    assert view["type"] == "home"
    texts = section_texts(view["blocks"])
    workspace = next(t for t in texts if t.startswith("*This workspace*"))
    assert workspace.splitlines()[1:] == [
        "1. *Technical*: 5 👍 0 👎, 83% likely the best · first place 100%",
        "2. *Formal*: 0 👍 1 👎, 3% likely the best · first place 100%",  # alone in its run
    ]
    assert any(t.startswith(RANKING_NOTE) for t in texts)  # what the numbers mean
    assert any(t.startswith("4 runs this week · ") for t in texts)  # the workspace's, not only mine

    thread = "https://test.slack.com/archives/{}/p{}".format(CHANNEL, run.message_ts.replace(".", ""))
    shown = in_order(view["blocks"])
    runs = shown[shown.index("🕘 Your recent runs") + 1 :]
    assert runs[0::2] == [  # newest first; each with its status, channel and time underneath
        "Brand new request",
        f"<{thread}|Write a tagline for our &lt;water bottle&gt;>",
        "Old request",
    ]
    assert runs[1].startswith(f"⏳ planning · <#{CHANNEL}> · <!date^")
    assert runs[3].startswith(f"✅ done · <#{CHANNEL}> · <!date^")
    assert "Not mine" not in json.dumps(view) and "Other workspace" not in json.dumps(view)
    asked = [c.params["message_ts"] for c in bot.slack.calls("chat.getPermalink")]
    assert sorted(asked) == sorted(["1600000000.000100", run.message_ts])  # none for the unposted run
    assert bot.store.run(planning).status == "planning"


def test_a_new_user_sees_a_friendly_empty_home(bot: Bot) -> None:
    open_home(bot, user="U0042")
    texts = section_texts(published(bot, "U0042")["blocks"])
    assert any("No votes yet: run `/variations` and vote with 👍/👎" in t for t in texts)
    assert any(t.startswith("You haven't started any runs yet.") for t in texts)


def test_the_messages_tab_publishes_nothing(bot: Bot) -> None:
    open_home(bot, user="U0009", tab="messages")
    open_home(bot, user=USER)
    published(bot)
    time.sleep(0.3)  # time for a (wrong) publish for the messages tab to land too
    assert [c.params["user_id"] for c in bot.slack.calls("views.publish")] == [USER]
    assert bot.slack.calls("chat.getPermalink") == []
