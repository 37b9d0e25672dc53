"""Installed in any workspace (OAuth v2): two workspaces install the app through /slack/install and Slack's
consent page as a browser does, each is then answered with its own token, neither sees the other's runs,
votes, stats, Home tab or export, and uninstalling or purging one leaves the other as it was.

The existing suite runs the single-token mode; these run the app with SLACK_CLIENT_ID and
SLACK_CLIENT_SECRET instead of SLACK_BOT_TOKEN, against a fake Slack where every token belongs to one
workspace and a call with any other is refused (`invalid_auth`)."""

from __future__ import annotations

import html
import json
import logging
import os
import re
import sqlite3
import stat
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.__main__ import main
from bot.config import ConfigError, Settings
from bot.slack.workspaces import BOT_SCOPES, authorize_page
from bot.store.installations import installations_path
from bot.store.stats import stats
from tests.fakes.anthropic_api import FakeAnthropicAPI, prompt_text
from tests.fakes.signing import block_actions_body, signed_headers
from tests.fakes.slack_api import BOT_USER_ID, FakeSlackAPI
from tests.helpers import ROOT, SIGNING_SECRET, Bot, section_texts, start_bot, texts
from tests.scripted import approach_of, is_plan_prompt, plan_reply

CLIENT_ID, CLIENT_SECRET = "1111.2222", "oauth-client-secret"
OAUTH_ENV = {"SLACK_BOT_TOKEN": "", "SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET}


@dataclass(frozen=True)
class Workspace:
    team: str
    channel: str
    user: str


A = Workspace("TA", "CA", "UA")
B = Workspace("TB", "CB", "UB")


@pytest.fixture
def slack() -> Iterator[FakeSlackAPI]:
    """Slack with several workspaces: a token works only in the one it was issued to."""
    with FakeSlackAPI(per_token=True) as fake:
        fake.oauth_client = (CLIENT_ID, CLIENT_SECRET)
        yield fake


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "variations.db"


@pytest.fixture
def bot(slack: FakeSlackAPI, claude: FakeAnthropicAPI, db: Path) -> Iterator[Bot]:
    with start_bot(slack, claude, db, OAUTH_ENV) as running:
        slack.redirect_url = f"{origin(running)}/slack/oauth_redirect"  # as the manifest's redirect_urls says
        yield running
    assert not slack.errors and not claude.errors, (slack.errors, claude.errors)


def origin(bot: Bot) -> str:
    return bot.url.removesuffix("/slack/events")


# -- a browser -----------------------------------------------------------------------------------------------


class _Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect comes back as it is, for the test to follow


def get(url: str, cookie: str | None = None) -> tuple[int, Message, str]:
    """One GET as a browser sends it: status, headers and page, redirects not followed."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.build_opener(_Stay).open(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def post(url: str) -> tuple[int, Message, str]:
    """A form's POST as a browser sends it (no fields): status, headers and page, redirects not followed."""
    request = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.build_opener(_Stay).open(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def install_link(bot: Bot) -> tuple[str, str]:
    """Open /slack/install and click "Add to Slack" (its form posts back): the link to Slack's consent page
    it redirects to, and the state cookie it set. Only the click sets one."""
    status, headers, page = get(f"{origin(bot)}/slack/install")
    assert status == 200 and "Set-Cookie" not in headers, page
    found = re.search(r'<form method="post" action="([^"]+)"><button type="submit">Add to Slack', page)
    assert found is not None, page
    status, headers, _ = post(f"{origin(bot)}{html.unescape(found.group(1))}")
    assert status == 302
    return headers["Location"], headers["Set-Cookie"].split(";")[0]


def states_stored(db: Path) -> int:
    with closing(sqlite3.connect(installations_path(str(db)))) as conn:
        return int(conn.execute("select count(*) from oauth_states").fetchone()[0])


def install(bot: Bot, workspace: Workspace) -> str:
    """Install the app in `workspace` as a person does in a browser: the install page, Slack's consent page
    (choosing the workspace, then Allow), back to the app with the code and the state cookie."""
    link, cookie = install_link(bot)
    status, headers, _ = get(f"{link}&team={workspace.team}")
    assert status == 302
    status, _, page = get(headers["Location"], cookie)
    assert status == 200, page
    return page


def bots_stored(db: Path) -> dict[str, str]:
    """team → bot token, as the installations file holds them."""
    with closing(sqlite3.connect(installations_path(str(db)))) as conn:
        return dict(conn.execute("select team_id, bot_token from slack_bots"))


# -- requests from a workspace -------------------------------------------------------------------------------


def command(bot: Bot, workspace: Workspace, text: str, key: str = "command") -> tuple[int, str]:
    return bot.command(
        text,
        team_id=workspace.team,
        channel_id=workspace.channel,
        user_id=workspace.user,
        response_url=bot.slack.response_url(f"{key}-{workspace.team}"),
    )


def run_in(bot: Bot, workspace: Workspace, text: str) -> int:
    """Start a run from `workspace` and wait until it has ended and its parent message says so (its last
    Slack call); its id."""
    before = runs_of(bot, workspace)
    status, _ = command(bot, workspace, text)
    assert status == 200
    (run_id,) = bot.slack.wait_for(lambda: [r for r in runs_of(bot, workspace) if r not in before])
    run = bot.wait_run(run_id)
    assert run.message_ts is not None
    bot.slack.wait_for(lambda: "Done" in texts(bot.slack.message(workspace.channel, run.message_ts or "")))
    return run_id


def runs_of(bot: Bot, workspace: Workspace) -> list[int]:
    return [row[0] for row in bot.store.query("select id from runs where team_id = ?", [workspace.team])]


def event(bot: Bot, team: str, payload: dict[str, Any]) -> tuple[int, str]:
    now = time.time()
    body = json.dumps(
        {
            "token": "verification-token",
            "team_id": team,
            "api_app_id": "A0001",
            "event": payload,
            "type": "event_callback",
            "event_id": f"Ev{int(now * 1e6)}",
            "event_time": int(now),
            "authorizations": [{"team_id": team, "user_id": BOT_USER_ID, "is_bot": True}],
        }
    )
    return bot.post(body, signed_headers(body, SIGNING_SECRET, content_type="application/json"))


def home_of(bot: Bot, workspace: Workspace) -> dict[str, Any]:
    """The Home tab `workspace`'s user sees: the view published for them, and the call that published it."""
    assert event(bot, workspace.team, {"type": "app_home_opened", "user": workspace.user, "tab": "home"})[0] == 200
    call = bot.slack.wait_for(
        lambda: [c for c in bot.slack.calls("views.publish") if c.params["user_id"] == workspace.user]
    )[0]
    assert call.team == workspace.team
    view: dict[str, Any] = call.params["view"]
    return view


def stats_seen(bot: Bot, workspace: Workspace) -> str:
    assert command(bot, workspace, "stats", key="stats")[0] == 200
    return texts(bot.slack.wait_for(lambda: bot.slack.responses(f"stats-{workspace.team}"))[0])


# -- installing ----------------------------------------------------------------------------------------------


def test_two_workspaces_install_and_each_is_answered_with_its_own_token(
    bot: Bot, slack: FakeSlackAPI, db: Path
) -> None:
    link, cookie = install_link(bot)
    consent = urlsplit(link)
    query = {key: values[0] for key, values in parse_qs(consent.query).items()}
    assert f"{consent.scheme}://{consent.netloc}{consent.path}" == f"{slack.origin}/oauth/v2/authorize"
    assert query["client_id"] == CLIENT_ID and query["scope"] == ",".join(BOT_SCOPES)
    assert cookie == f"slack-app-oauth-state={query['state']}"

    assert "Thank you!" in install(bot, A)
    assert "Thank you!" in install(bot, B)
    tokens = bots_stored(db)
    assert tokens == {"TA": slack.token_for("TA"), "TB": slack.token_for("TB")}
    assert tokens["TA"] != tokens["TB"]
    assert stat.S_IMODE(os.stat(installations_path(str(db))).st_mode) == 0o600  # every workspace's token
    assert [c.params["client_secret"] for c in slack.calls("oauth.v2.access")] == [CLIENT_SECRET] * 2
    checked = len(slack.calls("auth.test"))  # the flow asks who each new token's bot is

    run_in(bot, A, "Write a tagline for our water bottle")
    run_in(bot, B, "Name our release")
    for workspace in (A, B):
        theirs = [c for c in slack.calls() if c.params.get("channel") == workspace.channel]
        assert {c.method for c in theirs} >= {"chat.postMessage", "chat.update"}
        assert {(c.token, c.team) for c in theirs} == {(tokens[workspace.team], workspace.team)}
    assert len(slack.calls("auth.test")) == checked  # requests are authorized from the store: no Slack call


def test_the_install_page_stores_no_state_until_add_to_slack_is_clicked(bot: Bot, db: Path) -> None:
    """A crawler, or anyone reloading the page, grows nothing; each click issues one state."""
    for _ in range(50):
        status, headers, page = get(f"{origin(bot)}/slack/install")
        assert status == 200 and "Add to Slack" in page and "Set-Cookie" not in headers
    assert states_stored(db) == 0
    install_link(bot)
    install_link(bot)
    assert states_stored(db) == 2


def test_expired_states_are_swept_when_a_new_one_is_issued(bot: Bot, db: Path) -> None:
    install_link(bot)
    with closing(sqlite3.connect(installations_path(str(db)))) as conn, conn:
        conn.execute("update oauth_states set expire_at = ?", [time.time() - 1])  # ten minutes later
    install_link(bot)
    assert states_stored(db) == 1


def test_a_redirect_without_the_browsers_state_cookie_installs_nothing(bot: Bot, slack: FakeSlackAPI, db: Path) -> None:
    link, _ = install_link(bot)
    status, headers, _ = get(f"{link}&team={A.team}")
    status, _, _ = get(headers["Location"])  # another browser, or a forged link: no cookie
    assert status == 400
    assert bots_stored(db) == {} and slack.calls("oauth.v2.access") == []
    link, _ = install_link(bot)  # a cookie of another install attempt does not fit this state either
    status, headers, _ = get(f"{link}&team={A.team}")
    _, stale = install_link(bot)
    assert get(headers["Location"], stale)[0] == 400
    assert bots_stored(db) == {}


def test_the_install_pages_take_get_and_the_buttons_post_only_and_need_no_slack_signature(bot: Bot) -> None:
    for url, method in (("slack/install", "PUT"), ("slack/oauth_redirect", "POST")):
        request = urllib.request.Request(f"{origin(bot)}/{url}", data=b"x", method=method)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 405
    assert get(f"{origin(bot)}/slack/oauth_redirect?error=access_denied")[0] == 200  # the person said no
    assert bot.healthz()[0] == 200


# -- each workspace sees its own -----------------------------------------------------------------------------


def test_each_workspace_sees_only_its_own_runs_votes_stats_home_and_export(
    bot: Bot, slack: FakeSlackAPI, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    install(bot, A)
    install(bot, B)
    first = run_in(bot, A, "Write a tagline for our water bottle")
    run_in(bot, A, "Write a slogan for our tent")
    theirs = run_in(bot, B, "Name our release")
    technical = next(v for v in bot.store.variations(first) if v.type == "technical")
    lifestyle = next(v for v in bot.store.variations(theirs) if v.type == "lifestyle")
    sent = len(slack.calls())
    assert bot.click(technical.id, "up", user=A.user, team=A.team)[0] == 200
    assert bot.click(lifestyle.id, "down", user=B.user, team=B.team)[0] == 200
    for variation, workspace in ((technical, A), (lifestyle, B)):  # the counts on the buttons, rewritten
        refreshed = slack.wait_for(
            lambda v=variation: [c for c in slack.calls()[sent:] if c.params.get("ts") == v.message_ts]
        )
        assert {c.team for c in refreshed} == {workspace.team}

    # A click on a variation of the other workspace's run is refused, and not stored.
    assert bot.click(technical.id, "down", user=B.user, team=B.team)[0] == 200
    note = slack.wait_for(lambda: slack.responses(f"click-{B.user}"))[0]
    assert note["text"] == "Only people in the workspace where this run started can use its buttons."
    assert [(row["user_id"], row["value"]) for row in bot.store.db["feedback"].rows] == [("UA", "up"), ("UB", "down")]

    seen_by_a, seen_by_b = stats_seen(bot, A), stats_seen(bot, B)
    assert "*Technical*: 1 👍 0 👎, 67% likely the best" in seen_by_a and "2 runs this week" in seen_by_a
    assert "Lifestyle" not in seen_by_a
    assert "*Lifestyle*: 0 👍 1 👎" in seen_by_b and "1 run this week" in seen_by_b
    assert "Technical" not in seen_by_b

    home_a, home_b = json.dumps(home_of(bot, A)), json.dumps(home_of(bot, B))
    assert "water bottle" in home_a and "tent" in home_a and "Name our release" not in home_a
    assert "Name our release" in home_b and "water bottle" not in home_b
    assert any(t.startswith("2 runs this week") for t in section_texts(json.loads(home_a)["blocks"]))
    permalinks = slack.calls("chat.getPermalink")
    assert {(c.params["channel"], c.team) for c in permalinks} == {("CA", "TA"), ("CB", "TB")}

    assert main(["export", "--db", str(db), "--team", "TA"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert {run["team_id"] for run in document["runs"]} == {"TA"} and len(document["runs"]) == 2
    assert {v["run_id"] for v in document["variations"]} == set(runs_of(bot, A))
    assert [(c["user_id"], c["value"]) for c in document["feedback"]] == [("UA", "up")]
    assert [(v["user_id"], v["value"]) for v in document["votes"]] == [("UA", "up")]
    assert main(["export", "--db", str(db), "--team", "not-a-team"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: --team takes a workspace id like T0123ABCD, got 'not-a-team'"
    ]


# -- leaving -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "revoked",
    [
        {"type": "app_uninstalled"},
        {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": [BOT_USER_ID]}},
    ],
    ids=["app_uninstalled", "tokens_revoked"],
)
def test_a_workspace_that_leaves_has_its_tokens_deleted_and_gets_no_answer(
    bot: Bot, slack: FakeSlackAPI, db: Path, revoked: dict[str, Any]
) -> None:
    install(bot, A)
    install(bot, B)
    served = run_in(bot, A, "Write a tagline")  # served while installed (its token now known in memory)
    slack.revoke(A.team)  # Slack's side of uninstalling: the token stops working, then the event comes
    assert event(bot, A.team, revoked)[0] == 200
    assert bots_stored(db) == {"TB": slack.token_for("TB")}

    calls = len(slack.calls())
    status, body = command(bot, A, "Write a tagline")
    assert status == 200 and json.loads(body)["response_type"] == "ephemeral"
    assert "isn't installed in this workspace" in json.loads(body)["text"]  # in the ack: no Slack call
    run_in(bot, B, "Name our release")  # the other workspace is served as before
    assert runs_of(bot, A) == [served]
    later = slack.calls()[calls:]
    assert later and all(c.team == B.team and c.params.get("channel") in (None, B.channel) for c in later)


def test_a_workspace_that_never_installed_is_told_so_and_logged_as_a_warning(
    bot: Bot, slack: FakeSlackAPI, caplog: pytest.LogCaptureFixture
) -> None:
    install(bot, A)
    stranger = Workspace("TZ", "CZ", "UZ")
    with caplog.at_level(logging.INFO):
        status, body = command(bot, stranger, "Write a tagline")
        payload = {
            "type": "block_actions",
            "team": {"id": stranger.team},
            "user": {"id": stranger.user, "team_id": stranger.team},
            "channel": {"id": stranger.channel},
            "response_url": slack.response_url("click-TZ"),
            "actions": [{"action_id": "vote_up", "value": "1", "type": "button"}],
        }
        click = block_actions_body(payload)
        assert bot.post(click, signed_headers(click, SIGNING_SECRET)) == (200, "")
        (note,) = slack.wait_for(lambda: slack.responses("click-TZ"))
    assert status == 200 and "isn't installed in this workspace" in json.loads(body)["text"]
    assert note["response_type"] == "ephemeral" and "isn't installed in this workspace" in note["text"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "step=not_installed team=TZ kind=command" in warnings
    assert "step=not_installed team=TZ kind=block_actions" in warnings
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert slack.calls("chat.postMessage") == [] and bot.claude.requests() == []


def test_purge_deletes_one_workspace_and_keeps_the_other_and_its_scoreboard(
    bot: Bot, slack: FakeSlackAPI, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    install(bot, A)
    install(bot, B)
    ours, theirs = run_in(bot, A, "Write a tagline"), run_in(bot, B, "Name our release")
    for run_id, workspace in ((ours, A), (theirs, B)):
        for variation in bot.store.variations(run_id)[:2]:
            assert bot.click(variation.id, "up", user=workspace.user, team=workspace.team)[0] == 200
    slack.wait_for(lambda: bot.store.db["votes"].count == 4)
    for workspace in (A, B):  # who merged which types is the workspace's data too
        bot.store.types.merge(workspace.team, "practical", "technical", workspace.user)
    kept = {
        name: list(bot.store.db[name].rows_where("team_id = 'TB'"))
        for name in ("type_totals", "type_firsts", "type_merges")
    }
    their_stats = stats(bot.store, B.team)
    variations = len(bot.store.variations(ours))

    assert main(["purge", "--team", "TA", "--db", str(db)]) == 0
    said = capsys.readouterr()
    assert said.out == f"purged workspace TA: 1 run, {variations} variations, 2 clicks, 2 votes, 1 installation\n"
    assert said.err == ""
    assert runs_of(bot, A) == [] and bot.store.find_run(ours) is None
    assert {row["run_id"] for row in bot.store.db["variations"].rows} == {theirs}
    assert (
        {row["user_id"] for row in bot.store.db["feedback"].rows}
        == {row["user_id"] for row in bot.store.db["votes"].rows}
        == {"UB"}
    )
    assert bot.store.query("select count(*) from type_totals where team_id = 'TA'") == [(0,)]
    assert bot.store.query("select count(*) from type_merges where team_id = 'TA'") == [(0,)]
    assert {name: list(bot.store.db[name].rows_where("team_id = 'TB'")) for name in kept} == kept
    assert not bot.store.scoreboard.refresh()  # the totals were kept right: nothing to recount
    assert stats(bot.store, B.team) == their_stats
    assert bots_stored(db) == {"TB": slack.token_for("TB")}

    assert main(["purge", "--team", "TA", "--db", str(db)]) == 0  # again: nothing left
    assert capsys.readouterr().out == "purged workspace TA: 0 runs, 0 variations, 0 clicks, 0 votes, 0 installations\n"


def test_purge_mid_run_is_refused_then_forced_and_never_touches_the_other_workspace(
    bot: Bot, slack: FakeSlackAPI, claude: FakeAnthropicAPI, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A's run is being written when A's data is purged: purge refuses, then --force deletes it; B's next
    run gets new ids, and A's late writes reach neither B's rows nor B's threads; A's thread ends saying why."""
    install(bot, A)
    install(bot, B)
    gate = threading.Event()

    def respond(request: dict[str, Any]) -> str:
        if is_plan_prompt(request):
            return plan_reply()
        if "Purge me" in prompt_text(request):
            gate.wait(30)
            return "<response>PURGED-RUN TEXT from TA</response>"
        return f"<response>B's {approach_of(request)} take</response>"

    claude.responder = respond
    earlier = run_in(bot, B, "Name our release")  # B already has a run, with lower ids than A's
    assert command(bot, A, "Purge me")[0] == 200
    (ours,) = slack.wait_for(lambda: runs_of(bot, A))
    slack.wait_for(lambda: len([v for v in bot.store.variations(ours) if v.message_ts]) == 3)
    highest = bot.store.query("select max(id) from variations")[0][0]

    assert main(["purge", "--team", "TA", "--db", str(db)]) == 2
    said = capsys.readouterr().err
    assert "1 run of workspace TA is being written" in said and "--force" in said
    assert bot.store.find_run(ours) is not None  # refused: nothing deleted

    assert main(["purge", "--team", "TA", "--db", str(db), "--force"]) == 0
    assert capsys.readouterr().out.startswith("purged workspace TA: 1 run, 3 variations")
    theirs = run_in(bot, B, "Name our next release")
    assert theirs > ours and min(v.id for v in bot.store.variations(theirs)) > highest  # ids never reused
    before = [bot.store.find_run(theirs), bot.store.variations(theirs), bot.store.variations(earlier)]

    gate.set()  # A's workers answer now, after the purge
    # the parent and its three approaches end, saying why; none is left showing a working state
    slack.wait_for(lambda: sum("data was deleted" in texts(m) for m in slack.messages(A.channel)) == 4)
    assert not any("Writing" in texts(m) for m in slack.messages(A.channel))
    assert [bot.store.find_run(theirs), bot.store.variations(theirs), bot.store.variations(earlier)] == before
    assert bot.store.query("select count(*) from runs where team_id = 'TA'") == [(0,)]
    assert not any("PURGED-RUN" in texts(m) for m in slack.messages(B.channel))
    assert "PURGED-RUN" not in json.dumps(bot.store.query("select * from variations"))


def test_a_synthesis_being_written_when_its_workspace_is_purged_ends_saying_so(
    bot: Bot, slack: FakeSlackAPI, claude: FakeAnthropicAPI, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    install(bot, A)
    run_id = run_in(bot, A, "Write a tagline")
    gate = threading.Event()
    claude.responder = lambda request: (gate.wait(30), "<response>PURGED-RUN synthesis</response>")[1]
    payload = {
        "type": "block_actions",
        "team": {"id": A.team},
        "user": {"id": A.user, "team_id": A.team},
        "channel": {"id": A.channel},
        "response_url": slack.response_url("synthesize-TA"),
        "actions": [{"action_id": "synthesize", "value": str(run_id), "type": "button"}],
    }
    click = block_actions_body(payload)
    assert bot.post(click, signed_headers(click, SIGNING_SECRET)) == (200, "")
    slack.wait_for(lambda: [v for v in bot.store.variations(run_id) if v.type == "synthesis" and v.message_ts])
    assert main(["purge", "--team", "TA", "--db", str(db)]) == 2  # the synthesis is being written
    assert main(["purge", "--team", "TA", "--db", str(db), "--force"]) == 0
    capsys.readouterr()
    gate.set()
    slack.wait_for(lambda: any("data was deleted" in texts(m) for m in slack.messages(A.channel)))
    assert not any("Writing" in texts(m) for m in slack.messages(A.channel))
    assert bot.store.query("select count(*) from variations") == [(0,)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["purge"], "error: purge needs --team T… (the workspace whose data to delete)"),
        (["purge", "--team", "t0001; drop table runs"], "error: --team takes a workspace id like T0123ABCD"),
        (["purge", "--team", "TA", "--db", "{tmp}/nope.db"], "error: no database at {tmp}/nope.db"),
        (["purge", "--team", "TA", "--db", "{tmp}/notes.txt"], "error: cannot purge {tmp}/notes.txt"),
    ],
)
def test_purge_with_a_bad_argument_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (tmp_path / "notes.txt").write_text("not a database\n" * 100)
    assert main([arg.format(tmp=tmp_path) for arg in args]) == 2
    said = capsys.readouterr()
    assert said.out == "" and len(said.err.splitlines()) == 1
    assert said.err.startswith(message.format(tmp=tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]  # nothing created


# -- settings ------------------------------------------------------------------------------------------------

BASE = {"SLACK_SIGNING_SECRET": "s", "ANTHROPIC_API_KEY": "k"}


def test_oauth_needs_no_bot_token_and_the_consent_page_follows_the_api_url() -> None:
    settings = Settings.from_env({**BASE, "SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "x"})
    assert settings.oauth and settings.slack_bot_token is None and settings.slack_redirect_uri is None
    both = Settings.from_env(
        {**BASE, "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "x"}
    )
    assert both.oauth and both.slack_bot_token is None  # each workspace's own token, never the static one
    assert not Settings.from_env({**BASE, "SLACK_BOT_TOKEN": "xoxb-1"}).oauth
    assert authorize_page("https://slack.com/api/") == "https://slack.com/oauth/v2/authorize"
    assert authorize_page("http://127.0.0.1:9/api/") == "http://127.0.0.1:9/oauth/v2/authorize"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SLACK_CLIENT_ID": "1.2"}, "SLACK_CLIENT_SECRET is not set: installing in any workspace"),
        ({"SLACK_CLIENT_SECRET": "x"}, "SLACK_CLIENT_ID is not set: installing in any workspace"),
        (
            {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "x", "SLACK_APP_TOKEN": "xapp-1"},
            "SLACK_CLIENT_ID and SLACK_APP_TOKEN are both set: installing in any workspace needs HTTP mode",
        ),
        (
            {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "x", "SLACK_REDIRECT_URI": "slack.example.com"},
            "SLACK_REDIRECT_URI must be an https:// URL",
        ),
        ({}, "SLACK_BOT_TOKEN is not set"),
    ],
)
def test_oauth_settings_mistakes_are_one_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as raised:
        Settings.from_env({**BASE, **env})
    assert "\n" not in str(raised.value)


def test_the_install_link_asks_for_the_manifests_bot_scopes() -> None:
    lines = (ROOT / "manifest.yml").read_text().splitlines()
    start = lines.index("    bot:") + 1
    scopes = []
    for line in lines[start:]:
        if not line.startswith("      "):
            break
        if line.strip().startswith("- "):
            scopes.append(line.strip().removeprefix("- "))
    assert sorted(scopes) == sorted(BOT_SCOPES)
