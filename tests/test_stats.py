"""The scoreboard: exact numbers from a real SQLite file, the block builders, and `/variations stats`."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.render.home_view import MAX_BLOCKS, NO_VOTES, RANKING_NOTE, home_view, stats_message
from bot.store.scoreboard import count_scopes, finish_recount, start_recount
from bot.store.stats import RecentRun, Stats, TypeStats, rank_types, recent_runs, stats
from bot.store.store import VOTE_VALUES as VOTES
from bot.store.store import Store
from tests.helpers import CHANNEL, NOW, TEAM, Bot, make_run, record_clicks, section_texts


def seed(store: Store, team: str = "T1", channels: tuple[str, str] = ("CA", "CB")) -> None:
    """Five runs in two channels of `team`, plus one in another team, covering every rule:

    run 1 (CA): technical +1 (2 👍 1 👎) ties lifestyle +1; practical has no votes but appeared
    run 2 (CA): "Technical " +2 wins; the failed humorous one has +3 but does not count; lifestyle -1
    run 3 (CB, 10 days old): lifestyle -1 beats practical -2 (first place even when negative)
    run 4 (CB, 6 days old): technical, practical, no votes
    run 5 (CA): a withdrawn 👍 on technical; lifestyle switched from 👍 to 👎, so it wins at -1 alone
    run 6 (another team, CA): technical +5
    """
    ca, cb = channels
    t1, l1, _p1 = make_run(store, [("technical", "done"), ("lifestyle", "done"), ("practical", "done")],
                           team=team, channel=ca, tokens=(100, 50), ago=timedelta(hours=1))  # fmt: skip
    t2, h2, l2 = make_run(store, [("Technical ", "done"), ("humorous", "failed"), ("lifestyle", "done")],
                          team=team, channel=ca, user="U2", tokens=(200, 20), ago=timedelta(hours=2))  # fmt: skip
    l3, p3 = make_run(store, [("lifestyle", "done"), ("practical", "done")],
                      team=team, channel=cb, tokens=(1000, 1000), ago=timedelta(days=10))  # fmt: skip
    make_run(store, [("technical", "done"), ("practical", "done")],
             team=team, channel=cb, tokens=(10, 0), ago=timedelta(days=6))  # fmt: skip
    t5, l5 = make_run(store, [("technical", "done"), ("lifestyle", "done")], team=team, channel=ca,
                      ago=timedelta(minutes=30))  # fmt: skip
    (t6,) = make_run(store, [("technical", "done")], team="T2", channel=ca, tokens=(7, 7))

    record_clicks(store, t1, ("U1", "up"), ("U2", "up"), ("U3", "down"), team=team)
    record_clicks(store, l1, ("U1", "up"), team=team)
    record_clicks(store, t2, ("U1", "up"), ("U2", "up"), team=team)
    record_clicks(store, h2, ("U1", "up"), ("U2", "up"), ("U3", "up"), team=team)
    record_clicks(store, l2, ("U1", "down"), team=team)
    record_clicks(store, l3, ("U1", "down"), team=team)
    record_clicks(store, p3, ("U2", "down"), ("U3", "down"), team=team)
    record_clicks(store, t5, ("U1", "up"), ("U1", "up"), team=team)
    record_clicks(store, l5, ("U2", "up"), ("U2", "down"), team=team)
    record_clicks(store, t6, *((f"U{i}", "up") for i in range(5)), team="T2")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(str(tmp_path / "stats.db"))
    seed(store)
    return store


def test_channel_scope(store: Store) -> None:
    assert stats(store, "T1", "CA") == Stats(
        scope_label="This channel",
        runs_this_week=3,
        tokens_this_week=370,
        tokens_all_time=370,
        types=[
            TypeStats("technical", variations=3, up=4, down=1, net=3, firsts=1.5, first_share=0.5),
            # untried beats voted down: a type nobody voted on may still be the best
            TypeStats("practical", variations=1, up=0, down=0, net=0, firsts=0.0, first_share=0.0),
            TypeStats("lifestyle", variations=3, up=1, down=2, net=-1, firsts=1.5, first_share=0.5),
        ],
    )


def test_other_channel_counts_old_runs_in_votes_but_not_in_this_week(store: Store) -> None:
    assert stats(store, "T1", "CB") == Stats(
        scope_label="This channel",
        runs_this_week=1,
        tokens_this_week=10,
        tokens_all_time=2010,
        types=[  # only 👎 here: the one nobody voted on is likelier the best, then the one with fewer 👎
            TypeStats("technical", variations=1, up=0, down=0, net=0, firsts=0.0, first_share=0.0),
            TypeStats("lifestyle", variations=1, up=0, down=1, net=-1, firsts=1.0, first_share=1.0),
            TypeStats("practical", variations=2, up=0, down=2, net=-2, firsts=0.0, first_share=0.0),
        ],
    )


def test_workspace_scope_ranks_types_by_their_chance_of_being_the_best(store: Store) -> None:
    assert stats(store, "T1") == Stats(
        scope_label="This workspace",
        runs_this_week=4,
        tokens_this_week=380,
        tokens_all_time=2380,
        types=[
            TypeStats("technical", variations=4, up=4, down=1, net=3, firsts=1.5, first_share=0.5),
            TypeStats("lifestyle", variations=4, up=1, down=3, net=-2, firsts=2.5, first_share=0.625),
            TypeStats("practical", variations=3, up=0, down=2, net=-2, firsts=0.0, first_share=0.0),
        ],
    )


def test_teams_are_kept_apart(store: Store) -> None:
    other = stats(store, "T2")
    assert (other.runs_this_week, other.tokens_all_time) == (1, 14)
    assert other.types == [TypeStats("technical", 1, up=5, down=0, net=5, firsts=1.0, first_share=1.0)]
    assert stats(store, "T2", "CB") == Stats("This channel", 0, 0, 0, [])
    assert stats(store, "T3") == Stats("This workspace", 0, 0, 0, [])


def test_a_three_way_tie_shares_first_place_in_thirds(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "tie.db"))
    a, b, c, d = make_run(store, [("a", "done"), ("b", "done"), ("c", "done"), ("d", "done")])
    for variation_id in (a, b, c):
        record_clicks(store, variation_id, ("U1", "up"))
    record_clicks(store, d, ("U1", "down"))
    firsts = {t.type: (t.firsts, t.first_share) for t in stats(store, "T1").types}
    assert firsts["a"] == firsts["b"] == firsts["c"] == pytest.approx((1 / 3, 1 / 3))
    assert firsts["d"] == (0.0, 0.0)


def test_the_week_is_the_last_seven_days(store: Store) -> None:
    assert stats(store, "T1", now=NOW + timedelta(days=2)).runs_this_week == 3  # the 6-day-old run drops out
    assert stats(store, "T1", now=NOW + timedelta(days=30)).runs_this_week == 0
    assert stats(store, "T1", now=NOW - timedelta(days=5)).runs_this_week == 5  # "now" 5 days ago reaches run 3


def test_recent_runs_are_the_users_own_newest_first(store: Store) -> None:
    runs = recent_runs(store, "T1", "U1", limit=3)
    assert [r.id for r in runs] == [5, 1, 4]
    assert all(isinstance(r, RecentRun) and r.channel_id in ("CA", "CB") for r in runs)
    assert [r.id for r in recent_runs(store, "T1", "U1")] == [5, 1, 4, 3]
    assert [r.id for r in recent_runs(store, "T1", "U2")] == [2]
    assert [r.id for r in recent_runs(store, "T2", "U1")] == [6]
    assert recent_runs(store, "T1", "U9") == []


# -- the running totals behind the scoreboard ------------------------------------------------------------

SCOPES = (("T1", "CA"), ("T1", "CB"), ("T2", "CA"))
KINDS = ("technical", "Technical ", "lifestyle", "synthesis", "Été  chic", "été chic")
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("run"), st.sampled_from(SCOPES)),
        st.tuples(st.just("variation"), st.integers(0, 99), st.sampled_from(KINDS)),
        st.tuples(st.just("status"), st.integers(0, 99), st.sampled_from(("writing", "done", "failed"))),
        st.tuples(st.just("click"), st.integers(0, 99), st.sampled_from(("U1", "U2", "U3")), st.sampled_from(VOTES)),
        st.tuples(st.just("interrupt"), st.integers(0, 99)),
    ),
    max_size=80,
)


def every_scoreboard(store: Store) -> list[Stats]:
    return [stats(store, team, channel) for team, channel in SCOPES] + [stats(store, "T1"), stats(store, "T2")]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPERATIONS)
def test_totals_kept_click_by_click_equal_totals_recounted_from_the_rows(operations: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        store = Store(str(Path(directory) / "v.db"))
        runs: list[int] = []
        variations: list[int] = []
        for name, *args in operations:
            if name == "run":
                team, channel = args[0]
                runs.append(
                    store.create_run(
                        team_id=team,
                        channel_id=channel,
                        user_id="U1",
                        task="t",
                        context={},
                        orchestrator_model="o",
                        worker_model="w",
                    )
                )
            elif name == "variation" and runs:
                variations.append(store.add_variation(runs[args[0] % len(runs)], None, args[1], "d"))
            elif name == "status" and variations:
                store.update_variation(variations[args[0] % len(variations)], status=args[1])
            elif name == "click" and variations:
                record_clicks(store, variations[args[0] % len(variations)], (args[1], args[2]))
            elif name == "interrupt" and variations:
                store.processes.mark_interrupted([], [variations[args[0] % len(variations)]], "gone")
        assert not store.scoreboard.refresh()  # the store's own changes kept the totals: nothing to recount
        kept = every_scoreboard(store)
        store.scoreboard.rebuild()
        assert every_scoreboard(store) == kept
        store.close()


def test_a_database_from_before_the_totals_gets_them_counted_on_opening(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store = Store(str(path))
    seed(store)
    expected = every_scoreboard(store)
    store.close()
    with closing(sqlite3.connect(path)) as old:  # as the previous version left it
        old.executescript(
            "drop table type_totals; drop table type_firsts; drop table processes;"
            " alter table runs drop column owner; alter table variations drop column owner;"
            " drop table _sqlite_migrations;"  # releases before the named steps kept no record
        )
    reopened = Store(str(path))
    assert every_scoreboard(reopened) == expected
    assert stats(reopened, "T1", "CA").types[0] == TypeStats("technical", 3, 4, 1, 3, firsts=1.5, first_share=0.5)
    assert {"owner"} <= set(reopened.db["runs"].columns_dict) & set(reopened.db["variations"].columns_dict)


def test_rows_changed_behind_the_stores_back_are_recounted_in_the_background_not_by_the_scoreboard(
    store: Store,
) -> None:
    """An older version of the app still running during an upgrade, or a hand edit, changes rows without
    keeping the totals: the scoreboard says its totals are being recounted, and the recount (the recovery
    thread's, on each heartbeat) brings them back in line."""
    assert not store.scoreboard.refresh()
    before = stats(store, "T1", "CB")
    with closing(sqlite3.connect(store.path)) as other, other:
        other.execute("delete from votes where run_id = 3")  # CB's old run: lifestyle -1 and practical -2
        other.execute("update variations set status = 'failed' where run_id = 4 and type = 'technical'")
    stale = stats(store, "T1", "CB")
    assert stale.recounting and stale.types == before.types  # answered at once, from the totals as they are
    assert "being recounted" in str(stats_message(stale, stats(store, "T1")))
    assert store.scoreboard.refresh()
    assert stats(store, "T1", "CB").types == [
        TypeStats("lifestyle", variations=1, up=0, down=0, net=0, firsts=0.0, first_share=0.0),
        TypeStats("practical", variations=2, up=0, down=0, net=0, firsts=0.0, first_share=0.0),
    ]
    assert not stats(store, "T1", "CB").recounting
    assert not store.scoreboard.refresh()


def test_clicks_and_new_variations_during_a_recount_are_counted(store: Store) -> None:
    """The recount reads a snapshot without holding the write lock; what the store changes meanwhile is
    added on top when it writes the totals."""
    with closing(sqlite3.connect(store.path)) as other, other:
        other.execute("update variations set status = 'done' where run_id = 4")  # stale: a recount is due
    with store._connection.write() as db:
        assert start_recount(db)
    with store.reader() as snapshot:
        counted = count_scopes(snapshot)
        (first, *_) = [v.id for v in store.variations(1)]
        record_clicks(store, first, ("U7", "up"), ("U8", "down"), ("U9", "up"))  # after the snapshot
        added = store.add_variation(3, None, "fresh", "a new version")
        store.update_variation(added, status="done")
        record_clicks(store, added, ("U7", "up"))
        with store._connection.write() as db:
            assert finish_recount(db, snapshot, counted)
    assert not store.scoreboard.refresh()
    kept = every_scoreboard(store)
    store.scoreboard.rebuild()
    assert every_scoreboard(store) == kept


def test_a_change_behind_the_stores_back_during_a_recount_makes_it_start_again(store: Store) -> None:
    with closing(sqlite3.connect(store.path)) as other, other:
        other.execute("delete from votes where run_id = 3")
    with store._connection.write() as db:
        assert start_recount(db)
    with store.reader() as snapshot:
        counted = count_scopes(snapshot)
        with closing(sqlite3.connect(store.path)) as other, other:
            other.execute("update variations set type = 'other' where run_id = 4")  # not noted by the store
        with store._connection.write() as db:
            assert not finish_recount(db, snapshot, counted)
    assert stats(store, "T1").recounting
    assert store.scoreboard.refresh()
    kept = every_scoreboard(store)
    store.scoreboard.rebuild()
    assert every_scoreboard(store) == kept


# -- blocks ------------------------------------------------------------------------------------------


def test_stats_message_lists_each_scope(store: Store) -> None:
    message = stats_message(stats(store, "T1", "CA"), stats(store, "T1"))
    texts = section_texts(message["blocks"])
    channel, workspace = (t for t in texts if t.startswith("*This "))
    assert channel.splitlines() == [
        "*This channel*",
        "1. *Technical*: 4 👍 1 👎, 65% likely the best · first place 50%",
        "2. *Lifestyle*: 1 👍 2 👎, 8% likely the best · first place 50%",  # practical has no votes: not listed
    ]
    assert workspace.splitlines()[1:] == [
        "1. *Technical*: 4 👍 1 👎, 90% likely the best · first place 50%",
        "2. *Lifestyle*: 1 👍 3 👎, 6% likely the best · first place 62%",
        "3. *Practical*: 0 👍 2 👎, 4% likely the best · first place 0%",
    ]
    assert RANKING_NOTE in texts
    assert "3 runs this week · 370 tokens this week · 370 all time" in texts
    assert "4 runs this week · 380 tokens this week · 2,380 all time" in texts
    assert message["text"] == "Variations stats: technical leads"


def test_no_votes_gives_a_nudge() -> None:
    empty = Stats("This channel", 0, 0, 0, [TypeStats("technical", 1, 0, 0, 0, 0.0, 0.0)])
    texts = section_texts(stats_message(empty, Stats("This workspace", 1, 5, 5, []))["blocks"])
    assert f"*This channel*\n{NO_VOTES}" in texts and f"*This workspace*\n{NO_VOTES}" in texts
    assert "1 run this week · 5 tokens this week · 5 all time" in texts


def test_one_click_on_a_new_type_does_not_lead_over_nine_to_three() -> None:
    old = TypeStats("technical", 4, up=9, down=3, net=6, firsts=2.0, first_share=0.5)
    new = TypeStats("storytelling", 1, up=1, down=0, net=1, firsts=1.0, first_share=1.0)
    message = stats_message(
        Stats("This channel", 0, 0, 0, rank_types([new, old])), Stats("This workspace", 0, 0, 0, rank_types([new]))
    )
    channel, workspace = (t for t in section_texts(message["blocks"]) if t.startswith("*This "))
    assert channel.splitlines()[1:] == [
        "1. *Technical*: 9 👍 3 👎, 52% likely the best · first place 50%",
        "2. *Storytelling*: 1 👍 0 👎, 48% likely the best · first place 100%",
    ]
    # Alone, one 👍 is measured against an untried type: two in three, not a leader.
    assert workspace.splitlines()[1:] == ["1. *Storytelling*: 1 👍 0 👎, 67% likely the best · first place 100%"]
    assert message["text"] == "Variations stats: too close to call"
    leading = TypeStats("technical", 4, up=9, down=0, net=9, firsts=2.0, first_share=0.5)
    message = stats_message(
        Stats("This channel", 0, 0, 0, []), Stats("This workspace", 0, 0, 0, rank_types([new, leading]))
    )
    assert message["text"] == "Variations stats: technical leads"


def test_model_text_is_escaped_and_everything_fits_slack_limits() -> None:
    nasty = "<!channel> & <@U123> " + "x" * 5000
    ups = [100 - i if i < 50 else i % 4 + 1 for i in range(100)]
    types = [TypeStats(f"{nasty}{i}", 1, up, 0, up, 1.0, 1.0) for i, up in enumerate(ups)]
    big = Stats("This workspace", 10**6, 10**12, 10**13, types)
    link = "https://x.slack.com/archives/C1/p12"
    runs = [(RecentRun(i, nasty, NOW.isoformat(), "done", "C1", "1.2"), link) for i in range(80)]
    for blocks in (stats_message(big, big)["blocks"], home_view(big, runs)["blocks"]):
        assert len(blocks) <= MAX_BLOCKS
        dumped = json.dumps(blocks, ensure_ascii=False)
        assert "<!channel>" not in dumped and "<@U123>" not in dumped and "&lt;!channel&gt; &amp;" in dumped
        for block in blocks:
            if block["type"] == "header":
                assert len(block["text"]["text"]) <= 150
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= 3000
    listed = section_texts(stats_message(big, big)["blocks"])[1]
    assert len(listed.splitlines()) == 1 + 5  # the label and the top five


def test_only_https_permalinks_become_links() -> None:
    run = RecentRun(1, "Tagline", "2025-01-02T03:04:05.000+00:00", "partial", "C1", "1.2")
    for bad in ("javascript:alert(1)", "https://x|y", "https://a b", None):
        blocks = home_view(Stats("This workspace", 0, 0, 0, []), [(run, bad)])["blocks"]
        assert "Tagline" in section_texts(blocks) and "<javascript" not in json.dumps(blocks)
    good = home_view(Stats("This workspace", 0, 0, 0, []), [(run, "https://t.slack.com/archives/C1/p12")])
    texts = section_texts(good["blocks"])
    assert "<https://t.slack.com/archives/C1/p12|Tagline>" in texts
    assert any(t.startswith("⚠️ partly done · <#C1> · <!date^1735787045^") for t in texts)


# -- /variations stats through the real app -------------------------------------------------------------


def answer_texts(bot: Bot, text: str, key: str, **fields: Any) -> list[str]:
    """Send `/variations TEXT`; the scoreboard comes after the ack, privately, through the response_url."""
    status, _ = bot.command(text, response_url=bot.slack.response_url(key), **fields)
    assert status == 200
    answer = bot.slack.wait_for(lambda: bot.slack.responses(key))[0]
    assert answer["response_type"] == "ephemeral"
    return section_texts(answer["blocks"])


def test_stats_command_answers_privately_for_the_channel_and_the_workspace(bot: Bot) -> None:
    seed(bot.store, team=TEAM, channels=(CHANNEL, "C0002"))
    texts = answer_texts(bot, "stats", "here")
    channel = next(t for t in texts if t.startswith("*This channel*"))
    workspace = next(t for t in texts if t.startswith("*This workspace*"))
    assert channel.splitlines()[1] == "1. *Technical*: 4 👍 1 👎, 65% likely the best · first place 50%"
    assert workspace.splitlines()[3] == "3. *Practical*: 0 👍 2 👎, 4% likely the best · first place 0%"
    assert "3 runs this week · 370 tokens this week · 370 all time" in texts
    assert "4 runs this week · 380 tokens this week · 2,380 all time" in texts
    # Asked from the other channel, "this channel" changes and the workspace does not.
    texts = answer_texts(bot, " STATS ", "there", channel_id="C0002")
    channel = next(t for t in texts if t.startswith("*This channel*"))
    assert channel.splitlines()[1:] == [
        "1. *Lifestyle*: 0 👍 1 👎, 27% likely the best · first place 100%",
        "2. *Practical*: 0 👍 2 👎, 15% likely the best · first place 0%",
    ]
    assert "4 runs this week · 380 tokens this week · 2,380 all time" in texts
    assert bot.slack.messages() == [] and bot.claude.prompts() == []  # no run started, nothing posted


def test_votes_clicked_in_slack_rank_types_by_their_chance_of_being_the_best(bot: Bot) -> None:
    """Crafted votes, each a click on a button, one type spelled two ways in two runs: the chance of being
    the best weighs the share of 👍 and how sure the votes make it, so a few 👍 and no 👎 rank high but, among
    several, lead nobody (each short of more than 75%)."""
    story, lifestyle = make_run(bot.store, [("Storytelling", "done"), ("lifestyle", "done")], team=TEAM,
                                channel=CHANNEL)  # fmt: skip
    story_again, practical = make_run(bot.store, [("storytelling  ", "done"), ("Practical", "done")], team=TEAM,
                                      channel=CHANNEL)  # fmt: skip
    bold, humorous = make_run(bot.store, [("Bold claim", "done"), ("humorous", "done")], team=TEAM,
                              channel=CHANNEL, ago=timedelta(minutes=5))  # fmt: skip
    crafted = {
        story: (6, 2),
        story_again: (3, 1),
        lifestyle: (14, 7),
        practical: (4, 1),
        bold: (1, 0),
        humorous: (2, 0),
    }
    for variation_id, (up, down) in crafted.items():
        for i in range(up + down):
            assert bot.click(variation_id, "up" if i < up else "down", user=f"U9{i:03d}")[0] == 200
    texts = answer_texts(bot, "stats", "ranked")
    channel = next(t for t in texts if t.startswith("*This channel*"))
    assert channel.splitlines()[1:] == [
        "1. *Humorous*: 2 👍 0 👎, 37% likely the best · first place 100%",
        "2. *Bold claim*: 1 👍 0 👎, 25% likely the best · first place 0%",
        "3. *Practical*: 4 👍 1 👎, 20% likely the best · first place 100%",
        "4. *Storytelling*: 9 👍 3 👎, 13% likely the best · first place 0%",
        "5. *Lifestyle*: 14 👍 7 👎, 4% likely the best · first place 100%",
    ]
    assert RANKING_NOTE in texts


def test_stats_command_without_votes_says_how_to_get_some(bot: Bot) -> None:
    texts = answer_texts(bot, "stats", "empty")
    assert f"*This channel*\n{NO_VOTES}" in texts and f"*This workspace*\n{NO_VOTES}" in texts
    assert "0 runs this week · 0 tokens this week · 0 all time" in texts


def test_a_request_that_merely_starts_with_stats_is_a_run(bot: Bot) -> None:
    status, body = bot.command("stats for our quarterly report, as a haiku")
    assert status == 200 and "This workspace" not in body
    assert bot.wait_run().task == "stats for our quarterly report, as a haiku"


def test_an_open_blind_run_counts_only_once_closed_and_the_totals_stay_equal_to_the_rows(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "blind.db"))
    technical, lifestyle = make_run(store, [("technical", "done"), ("lifestyle", "done")])
    store.update_run(1, blind=1)
    record_clicks(store, technical, ("U1", "up"), ("U2", "up"))
    record_clicks(store, lifestyle, ("U1", "down"))
    assert stats(store, "T1").types == []  # nothing of it shows while its voting is open
    assert not store.scoreboard.refresh()  # kept by the store's own changes, not recounted
    assert store.close_voting(1)
    counted = stats(store, "T1").types
    assert [(t.type, t.up, t.down) for t in counted] == [("technical", 2, 0), ("lifestyle", 0, 1)]
    assert not store.scoreboard.refresh()
    store.scoreboard.rebuild()
    assert stats(store, "T1").types == counted  # the running totals equal a recount
