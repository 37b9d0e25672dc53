"""Approach types: one name per kind of approach. The plan's names are mapped to the workspace's catalogue,
people merge the rest with `/variations types merge OLD into NEW` (and undo it with `split`), names are
cleaned of control and bidi characters, and team memory weighs a type by the people who voted on it."""

from __future__ import annotations

import io
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.parse.command_text import TypesCommand, parse_types
from bot.render.types_blocks import merged_message, refused_message, split_message, types_message
from bot.store.catalogue import Merge, TypeChangeRefused, TypeEntry
from bot.store.export import export
from bot.store.stats import stats
from bot.store.store import Store
from orchestrator.parsing import Approach, PlanStreamParser, parse_plan
from orchestrator.types import Catalogue, clean_type, normalize_type, type_key
from tests.helpers import CHANNEL, TEAM, USER, Bot, make_run, record_clicks, section_texts, texts
from tests.scripted import Script, plan_reply

# -- names: cleaned, compared, resolved ------------------------------------------------------------------------


def test_type_names_lose_control_and_bidi_characters() -> None:
    assert normalize_type("Tech\x00ni\x1b[31mcal\u202e") == "techni[31mcal"
    assert normalize_type("\u202eLifestyle\u200b\u2066 ") == "lifestyle"
    assert normalize_type("life\tstyle\nemotional") == "life style emotional"
    assert normalize_type("\x00\u202e") == "default"  # nothing visible left
    assert clean_type("Ünïcödé 技术") == "Ünïcödé 技术"  # letters in any script stay


def test_spellings_that_differ_in_case_spaces_or_punctuation_are_one_type() -> None:
    assert type_key("Tech specs") == type_key("tech-specs") == type_key(" TECH_SPECS!") == "techspecs"
    assert type_key("技术 规格") == type_key("技术-规格")
    assert type_key("---") == "---"  # all punctuation: only itself


def test_the_catalogue_resolves_aliases_and_spellings_to_the_canonical_type() -> None:
    catalogue = Catalogue.build(
        ["technical", "tech specs", "Tech-Specs", "lifestyle"],
        [("tech specs", "technical"), ("spec-first", "tech specs")],
    )
    assert catalogue.resolve("Technical") == "technical"
    assert catalogue.resolve("TECH SPECS") == "technical"  # merged, whatever the spelling
    assert catalogue.resolve("spec first") == "technical"  # through a merge of a merge
    assert catalogue.resolve("life-style") == "lifestyle"
    assert catalogue.resolve("story") == "story"  # unknown: a new type
    assert catalogue.resolve("synthesis") == "synthesis"
    assert catalogue.groups(["technical", "tech specs", "spec-first", "lifestyle", "follow-up"]) == {
        "technical": ["spec-first", "tech specs"],
        "lifestyle": [],
    }


def test_the_plan_names_approaches_by_the_catalogue_also_while_it_streams() -> None:
    catalogue = Catalogue.build(["technical", "lifestyle"], [("tech specs", "technical")])
    reply = plan_reply([("Tech Specs", "Numbers"), ("Life-Style", "Moments"), ("Story", "A tale"), ("TECHNICAL", "x")])
    expected = (
        Approach("technical", "Numbers", written="tech specs"),
        Approach("lifestyle", "Moments", written="life-style"),
        Approach("story", "A tale"),
        Approach("technical-2", "x"),  # two of one type in a plan stay two approaches
    )
    assert parse_plan(reply, catalogue=catalogue).approaches == expected
    parser = PlanStreamParser(catalogue=catalogue)
    streamed = [
        event.approach for i in range(len(reply)) for event in parser.feed(reply[i]) if hasattr(event, "approach")
    ]
    assert tuple(streamed) == expected == parser.close().approaches


# -- the command's words and its messages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("types", TypesCommand("list")),
        (" Types ", TypesCommand("list")),
        ("types merge tech specs into Technical", TypesCommand("merge", "tech specs", "Technical")),
        ('types merge "deep dive into data" into data', TypesCommand("merge", "deep dive into data", "data")),
        ("types split tech specs", TypesCommand("split", "tech specs")),
        ("types merge tech specs", TypesCommand("usage")),
        ("types of bread for a bakery menu", None),  # a request, not a command
    ],
)
def test_the_types_command_is_read_from_its_words(text: str, parsed: TypesCommand | None) -> None:
    assert parse_types(text) == parsed


def test_the_types_message_lists_votes_aliases_and_how_to_undo_a_merge() -> None:
    entries = [
        TypeEntry("technical", 3, 4, 1, ("spec-first", "tech <specs>")),
        TypeEntry("story", 1, 0, 0, ()),
    ]
    merges = [Merge("tech <specs>", "technical", "U7", "2026-12-05T18:00:00.000+00:00")]
    shown = "\n".join(section_texts(types_message(entries, merges)["blocks"]))
    assert "• *technical*: 4 👍 1 👎 · 3 variations · also spec-first, tech &lt;specs&gt;" in shown
    assert "• *story*: no votes · 1 variation" in shown
    undo = "(undo: `/variations types split tech &lt;specs&gt;`)"
    assert f"*tech &lt;specs&gt;* → *technical*, by <@U7> on 2026-12-05 {undo}" in shown
    many = [TypeEntry(f"type {n}", 1, 1, 0, ()) for n in range(2000)]
    message = types_message(many, [])
    assert len(message["blocks"]) <= 50 and all(len(t) <= 3000 for t in section_texts(message["blocks"]))
    assert any("more, with fewer votes" in t for t in section_texts(message["blocks"]))
    assert "Merged" in texts(merged_message(merges[0])) and "split tech &lt;specs&gt;" in texts(
        merged_message(merges[0])
    )
    assert "its own type again" in texts(split_message(merges[0]))
    assert "⚠️ No &lt;such&gt; type" in texts(refused_message("No <such> type"))


# -- merging and splitting in the store --------------------------------------------------------------------------


def totals(store: Store) -> list[tuple[Any, ...]]:
    return store.query("select * from type_totals where variations or up or down order by 1, 2, 3") + store.query(
        "select * from type_firsts where wins order by 1, 2, 3, 4"
    )


def assert_totals_equal_the_rows(store: Store) -> None:
    assert not store.scoreboard.refresh()  # the store kept them right: not flagged for a recount
    kept = totals(store)
    store.scoreboard.rebuild()
    assert totals(store) == kept


def test_a_merge_counts_old_under_new_and_a_split_undoes_it_with_running_totals_equal_to_the_rows(
    tmp_path: Path,
) -> None:
    store = Store(str(tmp_path / "v.db"))
    tech, specs = make_run(store, [("technical", "done"), ("tech specs", "done")])
    [other] = make_run(store, [("tech specs", "done")], team="T2")
    record_clicks(store, tech, ("V1", "up"))
    record_clicks(store, specs, ("V1", "up"), ("V2", "down"))
    record_clicks(store, other, ("V1", "up"), team="T2")

    done = store.types.merge("T1", "Tech-Specs", "TECHNICAL", "U5")
    document = io.StringIO()
    export(store.path, "json", None, document, team="T1")
    exported = json.loads(document.getvalue())["variations"]
    assert [(v["type"], v["written_type"]) for v in exported] == [("technical", None), ("technical", "tech specs")]
    assert (done.old, done.new, done.merged_by) == ("tech specs", "technical", "U5")
    assert store.variation(specs).type == "technical" and store.variation(specs).written_type == "tech specs"
    assert store.variation(other).type == "tech specs"  # another workspace's types are its own
    entries, merges = store.types.listing("T1")
    assert entries == [TypeEntry("technical", 2, 2, 1, ("tech specs",))]
    assert [(m.old, m.new, m.merged_by) for m in merges] == [("tech specs", "technical", "U5")]
    assert_totals_equal_the_rows(store)

    undone = store.types.split("T1", "tech specs", "U6")
    assert undone.old == "tech specs"
    assert store.variation(specs).type == "tech specs"
    assert store.types.listing("T1") == (
        [TypeEntry("tech specs", 1, 1, 1, ()), TypeEntry("technical", 1, 1, 0, ())],
        [],
    )
    assert store.query("select merged_by, split_by from type_merges") == [("U5", "U6")]  # recorded, who and when
    document = io.StringIO()
    export(store.path, "json", None, document, team="T1")
    exported = json.loads(document.getvalue())["variations"]
    assert [(v["type"], v["written_type"]) for v in exported] == [("technical", None), ("tech specs", None)]
    assert_totals_equal_the_rows(store)
    store.close()


def test_a_merge_into_a_new_name_moves_the_aliases_too_and_refusals_say_why(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "v.db"))
    make_run(store, [("technical", "done"), ("tech specs", "done"), ("story", "done"), ("synthesis", "done")])
    store.types.merge("T1", "tech specs", "technical", "U1")
    store.types.merge("T1", "technical", "Engineering detail", "U1")
    kinds = [kind for (kind,) in store.query("select type from variations order by id")]
    assert kinds == ["engineering detail", "engineering detail", "story", "synthesis"]
    assert store.types.of("T1").resolve("Tech Specs") == "engineering detail"
    refusals = {
        ("tech specs", "story"): "“tech specs” is already merged into “engineering detail”",
        ("nothing", "story"): "no approach type “nothing”",
        ("story", "Story!"): "already one type",
        ("synthesis", "story"): "the app's own type",
        ("\x00", "story"): "Name the types",
    }
    for (old, new), reason in refusals.items():
        with pytest.raises(TypeChangeRefused, match=reason):
            store.types.merge("T1", old, new, "U1")
    with pytest.raises(TypeChangeRefused, match="was not merged"):
        store.types.split("T1", "story", "U1")
    store.types.split("T1", "technical", "U1")  # tech specs stays merged into technical
    kinds = [kind for (kind,) in store.query("select type from variations order by id")]
    assert kinds == ["technical", "technical", "story", "synthesis"]
    store.close()


def test_a_plan_that_streamed_while_its_type_was_merged_or_split_is_stored_under_the_type_now(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "v.db"))
    make_run(store, [("technical", "done"), ("tech specs", "done")])
    store.types.merge("T1", "tech specs", "technical", "U1")
    [late] = make_run(store, [("tech specs", "done")])  # named by the catalogue from before the merge
    assert (store.variation(late).type, store.variation(late).written_type) == ("technical", "tech specs")
    store.types.split("T1", "tech specs", "U1")
    run_id = store.variation(late).run_id
    # named "technical" from "tech specs" by the catalogue from before the split
    later = store.add_variation(run_id, None, "technical", "Numbers", written_type="tech specs")
    assert (store.variation(later).type, store.variation(later).written_type) == ("tech specs", None)
    repeat = store.add_variation(run_id, None, "tech specs-2", "More numbers")  # a plan's second of one type
    assert store.variation(repeat).type == "tech specs-2"
    store.close()


def test_the_types_list_leaves_out_the_votes_of_a_blind_run_until_its_voting_closes(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "v.db"))
    [seen] = make_run(store, [("technical", "done")])
    [hidden] = make_run(store, [("technical", "done")])
    blind_run = store.variation(hidden).run_id
    store.update_run(blind_run, blind=1)
    record_clicks(store, seen, ("V1", "up"))
    record_clicks(store, hidden, ("V2", "up"), ("V3", "down"))
    assert store.types.listing("T1")[0] == [TypeEntry("technical", 2, 1, 0, ())]  # a vote on "A" says nothing here
    store.close_voting(blind_run)
    assert store.types.listing("T1")[0] == [TypeEntry("technical", 2, 2, 1, ())]
    store.close()


def test_an_older_database_gets_one_type_per_spelling_and_clean_names(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store = Store(str(path))
    ids = make_run(store, [("Tech Specs", "done"), ("tech-specs", "done"), ("tech\x1bspecs\u202e", "done")])
    for variation_id in ids:
        record_clicks(store, variation_id, ("V1", "up"))
    store.close()
    with sqlite3.connect(path) as conn:  # as a version before types had a catalogue left it
        conn.execute("alter table variations drop column written_type")
        conn.execute("drop table type_merges")
        conn.execute("drop table _sqlite_migrations")  # releases before the named steps kept no record
    store = Store(str(path))
    assert [store.variation(i).type for i in ids] == ["tech specs"] * 3
    assert store.variation(ids[2]).written_type == "tech\x1bspecs\u202e"  # kept as written, never shown
    assert store.types.listing("T1")[0] == [TypeEntry("tech specs", 3, 3, 0, ("tech-specs", "techspecs"))]
    assert_totals_equal_the_rows(store)
    store.close()


# -- end to end: a team merges two names, sees it everywhere, and undoes it ------------------------------------


def answer(bot: Bot, text: str, key: str, user: str = USER) -> str:
    """`/variations TEXT`'s private answer, as its texts."""
    status, _ = bot.command(text, response_url=bot.slack.response_url(key), user_id=user)
    assert status == 200
    reply = bot.slack.wait_for(lambda: bot.slack.responses(key))[0]
    assert reply["response_type"] == "ephemeral"
    return texts(reply)


def workspace_stats(bot: Bot, key: str) -> dict[str, tuple[int, int]]:
    """The types `/variations stats` names for the workspace, with their 👍 and 👎 (from the same scoreboard)."""
    shown = answer(bot, "stats", key).split("*This workspace*")[1]
    named = {kind.lower() for kind in re.findall(r"\*([^*\n]+)\*", shown)}
    return {t.type: (t.up, t.down) for t in stats(bot.store, TEAM).types if t.type in named}


def plan_prompts(bot: Bot) -> list[str]:
    return [prompt for prompt in bot.claude.prompts() if "<tasks>" in prompt]


def test_a_merge_shows_in_stats_memory_and_later_runs_and_a_split_undoes_it(bot: Bot) -> None:
    assert bot.command("Write a tagline")[0] == 200
    bot.wait_run(1)  # technical (1), lifestyle (2), practical (3)
    bot.click(1, "up", user="U1")
    bot.click(3, "up", user="U2")
    bot.click(3, "up", user="U3")
    bot.slack.wait_for(lambda: bot.store.tally(3).up == 2)

    listed = answer(bot, "types", "list")
    assert "• *practical*: 2 👍 0 👎 · 1 variation" in listed and "• *technical*: 1 👍 0 👎" in listed

    merged = answer(bot, "types merge Practical into technical", "merge")
    assert "Merged *practical* (with its aliases) into *technical*" in merged
    assert workspace_stats(bot, "s1") == {"technical": (3, 0)}  # lifestyle has no votes
    listed = answer(bot, "types", "list2")
    assert "• *technical*: 3 👍 0 👎 · 2 variations · also practical" in listed
    assert f"*practical* → *technical*, by <@{USER}> on " in listed

    # The next plan is shown the merged type once, weighted by its three voters, and names "Practical"
    # (which the catalogue now knows as technical) and a new type.
    bot.claude.responder = Script(plan=lambda: plan_reply([("PRACTICAL", "Plain answers"), ("Story", "A tale")]))
    assert bot.command("Write a slogan")[0] == 200
    run = bot.wait_run(2)
    prompt = plan_prompts(bot)[-1]
    record = prompt.split("<team_record>")[1].split("</team_record>")[0]
    assert '<approach_type up="3" down="0">technical</approach_type>' in record and "practical" not in record
    late = bot.store.variations(run.id)
    assert [(v.type, v.written_type) for v in late] == [("technical", "practical"), ("story", None)]
    thread = bot.slack.wait_for(
        lambda: (
            (replies := bot.slack.thread(CHANNEL, str(run.message_ts))) and "Story" in texts(replies[-1]) and replies
        )
    )
    assert any("Technical" in texts(reply) for reply in thread[1:])

    split = answer(bot, "types split practical", "split")
    assert "*practical* is its own type again" in split
    assert [(v.type, v.written_type) for v in bot.store.variations(run.id)] == [("practical", None), ("story", None)]
    assert bot.store.variation(3).type == "practical"
    assert workspace_stats(bot, "s3") == {"practical": (2, 0), "technical": (1, 0)}
    assert_totals_equal_the_rows(bot.store)
    assert bot.store.query("select old, new, merged_by, split_by from type_merges") == [
        ("practical", "technical", USER, USER)
    ]


def test_a_merge_that_cannot_be_done_is_explained_privately(bot: Bot) -> None:
    shown = answer(bot, "types merge nothing into technical", "nope")
    assert "⚠️ This workspace has no approach type “nothing”" in shown and "/variations types split OLD" in shown
    assert "Say which types" in answer(bot, "types merge technical", "usage")
    assert "No approach types yet" in answer(bot, "types", "empty")
    assert bot.slack.messages() == [] and bot.claude.prompts() == []  # no run started, nothing posted


# -- names the model writes are cleaned before they are stored, shown or prompted -------------------------------


def test_control_and_bidi_characters_never_reach_a_row_a_message_or_a_prompt(bot: Bot) -> None:
    evil = "Tech\u202e\x1b[2Jnical\x00"
    bot.claude.responder = Script(plan=lambda: plan_reply([(evil, "Numbers"), ("story\u2066", "A tale")]))
    assert bot.command("Write a tagline")[0] == 200
    run = bot.wait_run(1)
    assert [v.type for v in bot.store.variations(run.id)] == ["tech[2jnical", "story"]
    bot.click(1, "up", user="U1")
    bot.slack.wait_for(lambda: bot.store.tally(1).up == 1)
    shown = "".join(texts(m) for m in bot.slack.messages()) + answer(bot, "types", "list")
    assert not any(char in shown for char in "\u202e\x1b\x00\u2066")
    assert bot.command("Write a slogan")[0] == 200
    bot.wait_run(2)
    prompt = plan_prompts(bot)[-1]
    assert '<approach_type up="1" down="0">tech[2jnical</approach_type>' in prompt
    assert not any(char in "".join(bot.claude.prompts()) for char in "\u202e\x1b\x00\u2066")


# -- team memory counts people, not one person's clicks on their own runs ---------------------------------------


def test_memory_weighs_a_type_by_distinct_voters_and_not_by_the_requesters_own_votes(bot: Bot) -> None:
    for n in (1, 2):
        assert bot.command(f"Write tagline {n}")[0] == 200
        bot.wait_run(n)  # each: technical, lifestyle, practical
    for variation_id in range(1, 7):  # the requester votes 👍 on every variation of their own runs
        bot.click(variation_id, "up", user=USER)
    bot.click(1, "up", user="U1")
    bot.click(4, "up", user="U1")  # one person, two technical variations: one voice
    bot.click(2, "down", user="U2")
    bot.slack.wait_for(lambda: bot.store.tally(2).down == 1 and bot.store.tally(4).up == 2)

    assert bot.command("Write a slogan")[0] == 200
    bot.wait_run(3)
    record = plan_prompts(bot)[-1].split("<team_record>")[1].split("</team_record>")[0]
    assert [line for line in record.splitlines() if line.startswith("<approach_type")] == [
        '<approach_type up="0" down="1">lifestyle</approach_type>',
        '<approach_type up="1" down="0">technical</approach_type>',
    ]  # practical, voted on only by its requester, is not in anyone's prompt
    # Stats still count every click.
    assert workspace_stats(bot, "s")["practical"] == (2, 0)
