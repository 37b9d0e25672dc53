"""Tests of the plan/response parsers: concrete messy replies, then generated ones checked against a
small reference of the rules, and streaming checked against whole-reply parsing at arbitrary splits."""

from __future__ import annotations

import html
import itertools
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.parsing import (
    AnalysisParsed,
    Approach,
    ApproachParsed,
    Plan,
    PlanEvent,
    PlanParseError,
    PlanStreamParser,
    parse_plan,
    parse_response,
    preview_analysis,
    preview_response,
)

COOKBOOK = """\
<analysis>
This task benefits from multiple approaches because different audiences need different styles.
</analysis>

<tasks>
    <task>
    <type>formal</type>
    <description>Write a precise, technical version that emphasizes specifications</description>
    </task>
    <task>
    <type>conversational</type>
    <description>Write an engaging, friendly version that connects with readers</description>
    </task>
</tasks>
"""

COOKBOOK_APPROACHES = (
    Approach("formal", "Write a precise, technical version that emphasizes specifications"),
    Approach("conversational", "Write an engaging, friendly version that connects with readers"),
)


def task(type_: str | None, description: str | None, *, close: bool = True) -> str:
    parts = ["<task>"]
    if type_ is not None:
        parts.append(f"<type>{type_}</type>")
    if description is not None:
        parts.append(f"<description>{description}</description>")
    if close:
        parts.append("</task>")
    return "\n".join(parts) + "\n"


def types(plan: Plan) -> list[str]:
    return [a.type for a in plan.approaches]


# -- parse_plan: concrete cases -----------------------------------------------------------------------------


def test_cookbook_example() -> None:
    plan = parse_plan(COOKBOOK)
    assert plan.analysis.startswith("This task benefits from multiple approaches")
    assert plan.analysis.endswith("different styles.")
    assert plan.approaches == COOKBOOK_APPROACHES


def test_multiline_indented_description_is_stripped_but_keeps_inner_newlines() -> None:
    reply = """<analysis>

        Line one.
        Line two.

    </analysis>
    <tasks>
        <task>
            <type>
                formal
            </type>
            <description>
                First paragraph.

                Second paragraph.
            </description>
        </task>
    </tasks>"""
    plan = parse_plan(reply)
    assert plan.analysis == "Line one.\n        Line two."
    assert plan.approaches == (Approach("formal", "First paragraph.\n\n                Second paragraph."),)


def test_tag_names_in_any_case() -> None:
    reply = "<ANALYSIS>why</Analysis><TASKS><Task><TYPE>Formal</tYpE><DESCRIPTION>d</description></TASK></tasks>"
    assert parse_plan(reply) == Plan("why", (Approach("formal", "d"),))


def test_attributes_and_whitespace_inside_tags() -> None:
    reply = (
        '<analysis kind="short">why</analysis >\n<tasks count="1">\n'
        '<task id="1"><type lang="en">formal</type ><description\n  format="text">d</description></task >'
        "</tasks\n>"
    )
    assert parse_plan(reply) == Plan("why", (Approach("formal", "d"),))


def test_entities_are_unescaped() -> None:
    reply = (
        "<analysis>A &amp; B &lt;3</analysis>"
        "<task><type>Q&amp;A</type><description>Don&#39;t use &lt;b&gt; or &quot;x&quot; &#x263A;"
        "</description></task>"
    )
    plan = parse_plan(reply)
    assert plan.analysis == "A & B <3"
    assert plan.approaches == (Approach("q&a", 'Don\'t use <b> or "x" \u263a'),)


def test_prose_before_after_and_between_tags() -> None:
    reply = (
        "Sure! Here's my plan.\n\n<analysis>why</analysis>\nNow the tasks:\n<tasks>\n"
        "First one:\n<task>note <type>formal</type> and <description>d1</description> done</task>\n"
        "Second:\n<task><type>casual</type><description>d2</description></task>\n</tasks>\n"
        "Let me know if you need anything else!"
    )
    plan = parse_plan(reply)
    assert plan.analysis == "why"
    assert plan.approaches == (Approach("formal", "d1"), Approach("casual", "d2"))


def test_stray_angle_brackets_in_text() -> None:
    reply = (
        "<analysis>If cost < $20 then a -> b, and x<y>z is fine</analysis>"
        "<task><type>a -> b</type><description>costs < $20 and 3 > 2; use <b>bold</b> and a<=b"
        "</description></task>"
    )
    plan = parse_plan(reply)
    assert plan.analysis == "If cost < $20 then a -> b, and x<y>z is fine"
    assert plan.approaches == (Approach("a -> b", "costs < $20 and 3 > 2; use <b>bold</b> and a<=b"),)


def test_markdown_code_fence_around_the_reply() -> None:
    assert parse_plan(f"```xml\n{COOKBOOK}```\n").approaches == COOKBOOK_APPROACHES
    assert parse_plan(f"```\n{COOKBOOK}\n```").approaches == COOKBOOK_APPROACHES


def test_missing_closing_tasks() -> None:
    reply = COOKBOOK.replace("</tasks>", "")
    assert parse_plan(reply).approaches == COOKBOOK_APPROACHES


def test_tasks_without_tasks_wrapper() -> None:
    reply = "<analysis>why</analysis>\n" + task("formal", "d1") + "text\n" + task("casual", "d2")
    assert parse_plan(reply).approaches == (Approach("formal", "d1"), Approach("casual", "d2"))


def test_cut_off_last_task_is_ignored() -> None:
    reply = "<tasks>" + task("formal", "d1") + "<task><type>casual</type><description>Write a fri"
    assert parse_plan(reply).approaches == (Approach("formal", "d1"),)
    reply = "<tasks>" + task("formal", "d1") + task("casual", "complete description", close=False)
    assert parse_plan(reply).approaches == (Approach("formal", "d1"),)


def test_missing_closing_task_is_ended_by_next_task_or_closing_tasks() -> None:
    reply = "<tasks>" + task("a", "d1", close=False) + task("b", "d2", close=False) + "</tasks>"
    assert parse_plan(reply).approaches == (Approach("a", "d1"), Approach("b", "d2"))


def test_missing_field_closing_tags_end_at_next_field_or_task_end() -> None:
    reply = "<task><type>formal<description>d1</task><task><description>d2<type>casual</task>"
    assert parse_plan(reply).approaches == (Approach("formal", "d1"), Approach("casual", "d2"))


def test_missing_or_empty_type_becomes_default() -> None:
    reply = task(None, "d1") + task("", "d2") + task("  \n ", "d3")
    reply += "<task><type/><description>d4</description></task>"
    assert types(parse_plan(reply)) == ["default", "default-2", "default-3", "default-4"]


def test_task_with_empty_or_missing_description_is_skipped() -> None:
    reply = (
        task("a", None)
        + task("b", "")
        + task("c", "  \n  ")
        + task("d", "&#32;")
        + "<task><type>e</type><description/></task>"
        + task("f", "kept")
    )
    assert parse_plan(reply).approaches == (Approach("f", "kept"),)


def test_more_tasks_than_the_cap_keeps_the_first() -> None:
    reply = "<tasks>" + "".join(task(f"t{i}", f"d{i}") for i in range(8)) + "</tasks>"
    assert types(parse_plan(reply)) == ["t0", "t1", "t2", "t3", "t4"]
    assert types(parse_plan(reply, max_tasks=2)) == ["t0", "t1"]
    assert len(parse_plan(reply, max_tasks=20).approaches) == 8


def test_skipped_and_duplicate_tasks_do_not_count_towards_the_cap() -> None:
    reply = task("a", "d") + task("a", "d") + task("b", "") + task("c", "d") + task("e", "d")
    assert types(parse_plan(reply, max_tasks=3)) == ["a", "c", "e"]


def test_duplicate_types_are_renamed() -> None:
    reply = task("Technical", "d1") + task("technical", "d2") + task(" TECHNICAL ", "d3")
    reply += task("formal", "d4")
    assert parse_plan(reply, max_tasks=10).approaches == (
        Approach("technical", "d1"),
        Approach("technical-2", "d2"),
        Approach("technical-3", "d3"),
        Approach("formal", "d4"),
    )


def test_renaming_skips_names_already_taken() -> None:
    reply = task("technical-2", "d1") + task("technical", "d2") + task("technical", "d3")
    assert types(parse_plan(reply)) == ["technical-2", "technical", "technical-3"]


def test_identical_type_and_description_are_dropped() -> None:
    reply = task("formal", "Write it.") + task("FORMAL", "  Write   it. ") + task("formal", "Write it again.")
    assert parse_plan(reply).approaches == (
        Approach("formal", "Write it."),
        Approach("formal-2", "Write it again."),
    )


def test_type_normalization() -> None:
    long_type = "Very " * 20
    reply = task("  Highly\n\tTechnical   Style ", "d1") + task(long_type, "d2") + task(long_type, "d3")
    got = types(parse_plan(reply))
    assert got[0] == "highly technical style"
    assert got[1] == ("very " * 12).strip()  # 60 characters cut, then the trailing space stripped
    assert got[2] == ("very " * 12)[:58].rstrip() + "-2"
    assert all(len(t) <= 60 for t in got)


def test_missing_closing_analysis_ends_at_the_tasks() -> None:
    plan = parse_plan("<analysis>\nwhy it matters\n<tasks>" + task("a", "d"))
    assert plan.analysis == "why it matters"


def test_no_analysis_gives_empty_string() -> None:
    assert parse_plan(task("a", "d")).analysis == ""
    assert parse_plan("<analysis/>" + task("a", "d")).analysis == ""


def test_analysis_cut_off_after_the_tasks_is_empty() -> None:
    assert parse_plan(task("a", "d") + "<analysis>unfinished").analysis == ""


@pytest.mark.parametrize(
    ("reply", "detail"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("I think we should write it formally, and then casually.", "no <task> tag"),
        ("<analysis>why</analysis> <tasks></tasks>", "no <task> tag"),
        ("```xml\n<type>formal</type><description>d</description>\n```", "no <task> tag"),
        (task("formal", None) + task("casual", "  "), "none of its 2 complete <task>"),
        ("<tasks><task/><task></task></tasks>", "none of its 2 complete <task>"),
        ("<tasks><task><type>formal</type><description>Write a precise", "cut off"),
    ],
)
def test_unusable_replies_raise_plan_parse_error(reply: str, detail: str) -> None:
    with pytest.raises(PlanParseError) as info:
        parse_plan(reply)
    message = str(info.value)
    assert message.startswith("The orchestrator's reply contained no usable <task> (with a <description>)")
    assert detail in message
    assert isinstance(info.value, ValueError)


def test_max_tasks_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_tasks"):
        parse_plan(COOKBOOK, max_tasks=0)
    with pytest.raises(ValueError, match="max_tasks"):
        PlanStreamParser(max_tasks=0)


# -- parse_response -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("<response>\n  Hello\n  world\n</response>", "Hello\n  world"),
        (
            "Sure, here it is:\n<RESPONSE format='md'>Hi &amp; bye &lt;3 &#39;ok&#39;</Response>\nThanks!",
            "Hi & bye <3 'ok'",
        ),
        ("<response>first</response><response>second</response>", "first"),
        ("```xml\n<response>fenced</response>\n```", "fenced"),
        ("<response>costs < $20, a -> b", "costs < $20, a -> b"),  # cut off: keep the rest
        ("  Forgot the tags, AT&amp;T <b>x</b>  \n", "Forgot the tags, AT&amp;T <b>x</b>"),
        ("Forgot the opening &amp; tag</response>", "Forgot the opening & tag"),
        ("<response></response>", ""),
        ("<response>   \n ", ""),
        ("", ""),
        ("   ", ""),
    ],
)
def test_parse_response(reply: str, expected: str) -> None:
    assert parse_response(reply) == expected


# -- PlanStreamParser: concrete cases -----------------------------------------------------------------------


def feed_all(parser: PlanStreamParser, chunks: list[str]) -> list[PlanEvent]:
    return [event for chunk in chunks for event in parser.feed(chunk)]


def test_stream_cookbook_char_by_char() -> None:
    parser = PlanStreamParser()
    events = feed_all(parser, list(COOKBOOK))
    assert events == [
        AnalysisParsed(parse_plan(COOKBOOK).analysis),
        ApproachParsed(0, COOKBOOK_APPROACHES[0]),
        ApproachParsed(1, COOKBOOK_APPROACHES[1]),
    ]
    assert parser.close() == parse_plan(COOKBOOK)


def test_stream_emits_each_item_exactly_when_its_closing_tag_completes() -> None:
    parser = PlanStreamParser()
    first_close = COOKBOOK.index("</task>") + len("</task>")
    analysis_close = COOKBOOK.index("</analysis>") + len("</analysis>")
    assert parser.feed(COOKBOOK[: analysis_close - 1]) == []
    analysis = parse_plan(COOKBOOK).analysis
    assert parser.feed(COOKBOOK[analysis_close - 1 : first_close - 1]) == [AnalysisParsed(analysis)]
    assert parser.feed(COOKBOOK[first_close - 1 : first_close]) == [ApproachParsed(0, COOKBOOK_APPROACHES[0])]
    assert parser.feed(COOKBOOK[first_close:]) == [ApproachParsed(1, COOKBOOK_APPROACHES[1])]


def test_stream_task_without_closing_is_emitted_at_the_next_task() -> None:
    parser = PlanStreamParser()
    assert parser.feed(task("a", "d1", close=False)) == []
    assert parser.feed("<task>") == [ApproachParsed(0, Approach("a", "d1"))]
    assert parser.feed("<type>b</type><description>d2</description>") == []
    assert parser.feed("</tasks>") == [ApproachParsed(1, Approach("b", "d2"))]


def test_stream_whole_reply_in_one_chunk_keeps_text_order() -> None:
    reply = task("a", "d1") + "<analysis>late</analysis>" + task("a", "d2")
    assert PlanStreamParser().feed(reply) == [
        ApproachParsed(0, Approach("a", "d1")),
        AnalysisParsed("late"),
        ApproachParsed(1, Approach("a-2", "d2")),
    ]


def test_stream_applies_cap_and_dedupe() -> None:
    reply = task("a", "d") + task("a", "d") + task("a", "e") + task("b", "f")
    parser = PlanStreamParser(max_tasks=2)
    events = feed_all(parser, [reply[i : i + 7] for i in range(0, len(reply), 7)])
    assert events == [ApproachParsed(0, Approach("a", "d")), ApproachParsed(1, Approach("a-2", "e"))]
    assert parser.close().approaches == (Approach("a", "d"), Approach("a-2", "e"))


def test_stream_close_raises_when_nothing_usable() -> None:
    parser = PlanStreamParser()
    assert parser.feed("<analysis>why</analysis>Sorry, I can't plan this.") == [AnalysisParsed("why")]
    with pytest.raises(PlanParseError, match="no <task> tag"):
        parser.close()


# -- generated plans ----------------------------------------------------------------------------------------

# Arbitrary unicode, plus a denser mix of the characters that trouble tag scanners.
FIELD_TEXT = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.sampled_from(list("ab <>&;#'\"/=\n\t\r\u00a0éΩ😀-")), max_size=30),
    st.sampled_from(["technical", "Technical", " formal ", "x" * 70, "", "d"]),  # collisions, limits
)
# Prose never contains one of our tag names right after "<", but does contain stray "<", ">", "&", fences.
PROSE = st.one_of(
    st.just(""),
    st.sampled_from(
        ["Sure! Here is the plan:\n", "costs < $20", "a -> b", "<b>bold</b>", "x<y", "&amp; &", "\n\n", "```"]
    ),
    st.text(alphabet=st.characters(blacklist_characters="<"), max_size=20),
)
WHITESPACE = st.text(alphabet=" \t\n", max_size=4)
ATTRIBUTES = st.sampled_from(["", ' id="1"', " lang='en'", "  x=y ", '\ndata-a="b c"'])


@st.composite
def open_tag(draw: st.DrawFn, name: str) -> str:
    cased = "".join(c.upper() if draw(st.booleans()) else c for c in name)
    return f"<{cased}{draw(ATTRIBUTES)}>"


@st.composite
def close_tag(draw: st.DrawFn, name: str) -> str:
    cased = "".join(c.upper() if draw(st.booleans()) else c for c in name)
    return f"</{cased}{draw(st.sampled_from(['', ' ', chr(10)]))}>"


@st.composite
def element(draw: st.DrawFn, name: str, content: str) -> str:
    """`content` escaped as a model should, with random whitespace inside the tags."""
    inner = draw(WHITESPACE) + html.escape(content) + draw(WHITESPACE)
    return draw(open_tag(name)) + inner + draw(close_tag(name))


@st.composite
def render_task(draw: st.DrawFn, type_: str | None, description: str | None, *, close: bool) -> str:
    fields = []
    if type_ is not None:
        fields.append(draw(element("type", type_)))
    if description is not None:
        fields.append(draw(element("description", description)))
    if draw(st.booleans()):
        fields.reverse()
    body = "".join(draw(WHITESPACE) + draw(PROSE) + draw(WHITESPACE) + field for field in fields)
    return draw(open_tag("task")) + body + draw(WHITESPACE) + (draw(close_tag("task")) if close else "")


TaskSpec = tuple[str | None, str | None]


@st.composite
def generated_replies(draw: st.DrawFn) -> tuple[str, str | None, list[TaskSpec], int]:
    """A rendered reply, with the analysis and tasks it was rendered from and a cap."""
    analysis = draw(st.none() | FIELD_TEXT)
    tasks: list[TaskSpec] = draw(
        st.lists(st.tuples(st.none() | FIELD_TEXT, st.none() | FIELD_TEXT), min_size=1, max_size=8)
    )
    # Repeat an earlier type and/or description, to exercise dedupe and renaming.
    for i in range(1, len(tasks)):
        earlier = tasks[draw(st.integers(0, i - 1))]
        how = draw(st.sampled_from(["keep", "type", "description", "both"]))
        tasks[i] = (
            earlier[0] if how in ("type", "both") else tasks[i][0],
            earlier[1] if how in ("description", "both") else tasks[i][1],
        )
    max_tasks = draw(st.integers(1, 6))
    wrapped = draw(st.booleans())
    cut_off = draw(st.booleans())
    close_wrapper = wrapped and not cut_off and draw(st.booleans())

    parts = [draw(PROSE)]
    if analysis is not None:
        parts += [draw(element("analysis", analysis)), draw(PROSE)]
    if wrapped:
        parts.append(draw(open_tag("tasks")))
    for i, (type_, description) in enumerate(tasks):
        # A task may lack </task> only where the next <task> or </tasks> will end it.
        followed = i < len(tasks) - 1 or cut_off or close_wrapper
        close = not followed or draw(st.booleans())
        parts += [draw(WHITESPACE), draw(render_task(type_, description, close=close))]
        if close:
            parts.append(draw(PROSE))
    if cut_off:
        full = draw(render_task("cut", "off", close=True))
        start = full.index(">") + 1
        stop = full.lower().rindex("</task")
        parts.append(full[: draw(st.integers(start, stop))])
    if close_wrapper:
        parts += [draw(WHITESPACE), draw(close_tag("tasks")), draw(PROSE)]
    reply = "".join(parts)
    if draw(st.booleans()):
        reply = f"```xml\n{reply}\n```\n"
    return reply, analysis, tasks, max_tasks


def reference_plan(analysis: str | None, tasks: list[TaskSpec], max_tasks: int) -> Plan | None:
    """The documented rules, spelled out independently of the implementation; None if nothing usable."""

    def normalize(type_: str | None) -> str:
        visible = "".join(  # control, format (bidi) and unassigned characters go; whitespace is a space
            " " if c.isspace() else c for c in (type_ or "") if c.isspace() or unicodedata.category(c)[0] != "C"
        )
        collapsed = " ".join(visible.split()).lower()
        return collapsed[:60].strip() or "default"

    kept: list[Approach] = []
    seen: set[tuple[str, str]] = set()
    for type_, description in tasks:
        desc = (description or "").strip()
        base = normalize(type_)
        key = (base, " ".join(desc.split()))
        if not desc or key in seen or len(kept) == max_tasks:
            continue
        seen.add(key)
        taken = {a.type for a in kept}
        name, n = base, 1
        while name in taken:
            n += 1
            name = base[: 60 - len(f"-{n}")].rstrip() + f"-{n}"
        kept.append(Approach(name, desc))
    if not kept:
        return None
    return Plan((analysis or "").strip(), tuple(kept))


FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(generated_replies())
def test_parse_plan_recovers_generated_plans(generated: tuple[str, str | None, list[TaskSpec], int]) -> None:
    reply, analysis, tasks, max_tasks = generated
    expected = reference_plan(analysis, tasks, max_tasks)
    if expected is None:
        with pytest.raises(PlanParseError):
            parse_plan(reply, max_tasks)
    else:
        assert parse_plan(reply, max_tasks) == expected
        assert all(0 < len(a.type) <= 60 for a in expected.approaches)


def split_at(text: str, cuts: list[int]) -> list[str]:
    bounds = [0, *sorted(cuts), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def check_stream_matches_parse_plan(reply: str, cuts: list[int], max_tasks: int) -> None:
    parser = PlanStreamParser(max_tasks)
    events = feed_all(parser, split_at(reply, cuts))
    analyses = [e.text for e in events if isinstance(e, AnalysisParsed)]
    emitted = [e for e in events if isinstance(e, ApproachParsed)]
    assert len(analyses) <= 1
    assert [e.index for e in emitted] == list(range(len(emitted)))
    try:
        plan = parse_plan(reply, max_tasks)
    except PlanParseError:
        assert emitted == []
        with pytest.raises(PlanParseError):
            parser.close()
        return
    assert tuple(e.approach for e in emitted) == plan.approaches
    assert (analyses[0] if analyses else "") == plan.analysis
    assert parser.close() == plan


@FAST
@given(generated_replies(), st.data())
def test_stream_matches_parse_plan_on_generated_plans(
    generated: tuple[str, str | None, list[TaskSpec], int], data: st.DataObject
) -> None:
    reply, _, _, max_tasks = generated
    cuts = data.draw(st.lists(st.integers(0, len(reply)), max_size=30))
    check_stream_matches_parse_plan(reply, cuts, max_tasks)


# Text made of tag fragments, to reach the odd paths (unclosed fields, self-closing tags, stray brackets).
FRAGMENTS = st.lists(
    st.one_of(
        st.sampled_from(
            [
                *("<task>", "</task>", "<tasks>", "</tasks>", "<TASK id='1'>", "<task/>"),
                *("<type>", "</type>", "<type/>", "<description>", "</description>", "<description/>"),
                *("<analysis>", "</analysis>", "<analysis/>"),
                *("<task><type>t</type><description>d", "<description>e</description></task>", "<type>T"),
                *("<", ">", "/>", "</", "&amp;", "&", "&#", "x", "d", "\n", " ", "```"),
            ]
        ),
        st.text(max_size=5),
    ),
    max_size=40,
).map("".join)


@FAST
@given(FRAGMENTS, st.data(), st.integers(1, 4))
def test_stream_matches_parse_plan_on_tag_soup(reply: str, data: st.DataObject, max_tasks: int) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(reply)), max_size=20))
    check_stream_matches_parse_plan(reply, cuts, max_tasks)


def raises_only_plan_parse_error(parse: Callable[[str], Plan], text: str) -> None:
    try:
        plan = parse(text)
    except PlanParseError:
        return
    assert plan.approaches


@FAST
@given(st.one_of(st.text(), FRAGMENTS))
def test_parse_plan_raises_only_plan_parse_error(text: str) -> None:
    raises_only_plan_parse_error(parse_plan, text)


@FAST
@given(FIELD_TEXT, PROSE, PROSE, st.booleans())
def test_parse_response_round_trips_escaped_content(content: str, before: str, after: str, closed: bool) -> None:
    reply = before + "<response>" + html.escape(content) + ("</response>" + after if closed else "")
    assert parse_response(reply) == content.strip()


@FAST
@given(st.text())
def test_parse_response_without_tags_is_the_stripped_reply(text: str) -> None:
    if "<response" in text.lower() or "</response" in text.lower():
        return
    assert parse_response(text) == text.strip()


# -- previews while streaming -------------------------------------------------------------------------------


def test_preview_is_none_until_the_opening_tag() -> None:
    assert preview_analysis("Sure! Here is my plan: <anal") is None
    assert preview_response("thinking...") is None


def test_preview_holds_back_unfinished_tags_and_entities() -> None:
    assert preview_analysis("<analysis>\nFast &amp; light, not &am") == "Fast & light, not"
    assert preview_analysis("<analysis>Readers differ.</anal") == "Readers differ."
    assert preview_response("<response>Cost < $20 and </resp") == "Cost < $20 and"


def test_preview_stops_at_the_closing_tag() -> None:
    assert preview_analysis("<analysis>Done.</analysis>\n<tasks><task>") == "Done."
    assert preview_response("<response>All of it</response> trailing") == "All of it"


@given(st.text(max_size=300), st.integers(min_value=0, max_value=300))
def test_preview_of_a_prefix_never_shows_markup_the_whole_reply_hides(body: str, cut: int) -> None:
    reply = f"<response>{html.escape(body, quote=False)}</response>"
    preview = preview_response(reply[:cut])
    if preview is not None:
        assert body.strip().startswith(preview) or preview == ""
