"""Pure Block Kit builders: each returns the keyword arguments of one Slack message (`text`, `blocks`).

Model text (analysis, variations, syntheses) goes in `markdown` blocks, which Slack renders itself, made
inert first by `bot.render.markdown`; everything else a model or a user wrote is escaped mrkdwn
(`bot.render.mrkdwn`). So
no message can ping anyone, and long texts are split over blocks and messages within Slack's limits
instead of being cut.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.render.growing import without_open_emphasis
from bot.render.kit import (
    MARKDOWN_LIMIT,
    SECTION_LIMIT,
    Block,
    Message,
    actions,
    button,
    context_block,
    fallback,
    markdown,
    section,
)
from bot.render.markdown import render, split_markdown
from bot.render.mrkdwn import escape, plain_words, split_text, truncate_plain
from bot.store.pricing import money
from bot.store.ranking import TOO_CLOSE, WINNER_CHANCE, Ranked, rank, winner
from bot.store.rows import RunRow, RunStatus, Tally, VariationRow, VariationStatus
from orchestrator.events import FOLLOW_UP, SYNTHESIS
from orchestrator.parsing import Approach

NO_VOTES = Tally()
MORE = "\n\n…"  # ends a live preview that shows only the first message's worth of a longer text
VOTE_UP = "vote_up"
VOTE_DOWN = "vote_down"
REGENERATE = "regenerate"
RETRY = "retry"
SYNTHESIZE = "synthesize"
CLOSE_VOTING = "close_voting"
STOP = "stop_run"
CLOSED_COUNTS = "👍 {up} · 👎 {down} · 🔒 Voting has closed"
BLIND_PLAN = "🙈 The plan is revealed when voting closes"
BLIND_NOTE = "🙈 Blind vote: the approaches are labelled A, B, C… and revealed when voting closes"


@dataclass(frozen=True)
class Progress:
    """Where a run stands, for the parent message's status line."""

    phase: RunStatus
    total: int = 0
    finished: int = 0
    failed: int = 0
    seconds: float | None = None
    tokens: int | None = None
    cost: float | None = None  # in dollars, of the calls `tokens` counts; None: unknown (a model without a price)
    error: str | None = None
    unshown: int = 0  # written, but Slack took none of their messages (the text is in the database)
    stopped_by: str | None = None  # who stopped it (a user id), for a stopped run


def status_line(progress: Progress) -> str:
    """One mrkdwn line: what is happening now, and how long, how many tokens and how many dollars it took
    once done."""
    cost = ""
    if progress.seconds is not None:
        cost += f" · {progress.seconds:.1f}s"
    if progress.tokens:
        cost += f" · {progress.tokens:,} tokens"
        if progress.cost is not None:
            cost += f" · {money(progress.cost)}"
    if progress.phase == RunStatus.PLANNING:
        return "⏳ Planning approaches…"
    if progress.phase == RunStatus.RUNNING:
        return f"✍️ Writing {progress.total} approaches: {progress.finished} of {progress.total} done{cost}"
    if progress.phase == RunStatus.STOPPED:
        by = f" by <@{progress.stopped_by}>" if progress.stopped_by else ""
        if not progress.total:
            return f"⏹ Stopped{by} while planning{cost}"
        return f"⏹ Stopped{by}: {progress.total - progress.failed} of {progress.total} variations written{cost}"
    if progress.phase == RunStatus.INTERRUPTED:
        written = progress.total - progress.failed
        return f"⚠️ Interrupted by a restart: {written} of {progress.total} variations written{cost}"
    if progress.phase == RunStatus.FAILED and progress.total and progress.failed == progress.total:
        return f"⚠️ All {progress.total} approaches failed{cost}"
    if progress.phase == RunStatus.FAILED:
        reason = f": {escape(progress.error)}" if progress.error else ""
        return f"⚠️ Failed{reason}{cost}"
    written = progress.total - progress.failed
    if progress.unshown:
        shown = written - progress.unshown
        return (
            f"⚠️ Done: {written} of {progress.total} variations written, but only {shown} could be shown here: "
            f"Slack refused the others (their text is saved){cost}"
        )
    if progress.failed:
        return f"⚠️ Done: {written} of {progress.total} variations written, {progress.failed} failed{cost}"
    return f"✅ Done: {progress.total} variations{cost}"


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.splitlines())


def parent_message(
    user_id: str,
    task: str,
    context: Mapping[str, str],
    progress: Progress,
    *,
    leader: str | None = None,
    synthesize_run: int | None = None,
    close_run: int | None = None,
    closed: bool = False,
    blind: bool = False,
    stop_run: int | None = None,
) -> Message:
    """The channel message a run hangs its thread on: who asked, the request, its context, the status,
    the leading approach once votes come in, and (with `synthesize_run`) the button to combine them, (with
    `close_run`) the requester's button to close the voting; `closed` says the voting has closed, `blind`
    that the approaches are hidden until it does; `stop_run`: ⏹, while something of it is being written."""
    blocks: list[Block] = [section(f"<@{user_id}> asked for variations:")]
    blocks += [section(_quote(chunk)) for chunk in split_text(escape(task.strip()), SECTION_LIMIT - 200)]
    if context:
        pairs = " · ".join(f"*{escape(key)}:* {escape(value)}" for key, value in context.items())
        blocks.append(context_block(truncate_plain(pairs, SECTION_LIMIT)))
    blocks.append(context_block(status_line(progress)))
    if leader:
        blocks.append(section(leader))
    if blind:
        blocks.append(context_block(BLIND_NOTE))
    if closed:
        blocks.append(context_block("🔒 Voting has closed: the verdict is in the thread"))
    run_buttons = []
    if synthesize_run is not None:
        run_buttons.append(button(SYNTHESIZE, "🧩 Synthesize the best", str(synthesize_run)))
    if close_run is not None:
        run_buttons.append(button(CLOSE_VOTING, "🔒 Close voting", str(close_run)))
    if stop_run is not None:
        run_buttons.append(button(STOP, "⏹ Stop", str(stop_run)))
    if run_buttons:
        blocks.append(actions(f"run-{synthesize_run or close_run or stop_run}", *run_buttons))
    return {"text": fallback(f"Variations: {task.strip()}"), "blocks": blocks}


def letter(position: int) -> str:
    """A blind run's label for its planned approach at `position` in the thread: A, B, C…"""
    return chr(ord("A") + position) if position < 26 else str(position + 1)


def blind_labels(variations: Sequence[VariationRow]) -> dict[int, str]:
    """A blind run's labels by variation id: a planned approach's letter, and a new version the letter of
    what it revises; a synthesis or a follow-up has none (it has no approach to hide)."""
    by_id = {v.id: v for v in variations}
    labels = {}
    for v in variations:
        if v.type in (SYNTHESIS, FOLLOW_UP):
            continue
        root = v
        while root.regenerated_from is not None and root.regenerated_from in by_id:
            root = by_id[root.regenerated_from]
        labels[v.id] = letter(root.position)
    return labels


def ranked_variations(
    variations: Sequence[VariationRow], tallies: Mapping[int, Tally]
) -> list[tuple[VariationRow, Ranked]]:
    """The written variations, best first by the one ranking rule (`bot.store.ranking`: each one's chance of
    being the best, from its votes): what the leader, the verdict and a synthesis go by."""
    written = [v for v in variations if v.written]
    return rank(written, lambda v: (tallies.get(v.id, NO_VOTES).up, tallies.get(v.id, NO_VOTES).down))


def leader_line(
    variations: Sequence[VariationRow],
    tallies: Mapping[int, Tally],
    labels: Mapping[int, str] | None = None,
    *,
    closed: bool = False,
) -> str | None:
    """Who leads by the ranking rule (`bot.store.ranking`), and how many votes there are; None before the first.
    Once voting has `closed`, the winner, or that it was too close to call. `labels`: a blind run's, named
    by them instead."""
    votes = sum(t.votes for t in tallies.values())
    if not votes:
        return "🔒 No winner: nobody voted" if closed else None
    voted = [v for v in variations if tallies.get(v.id, NO_VOTES).votes]
    total = f"{votes} vote{'s' if votes != 1 else ''} on {len(voted)} variation{'s' if len(voted) != 1 else ''}"
    ranking = ranked_variations(variations, tallies)
    if not ranking:
        return None
    first, ranked = ranking[0]
    name = approach_title(first.shown_position, Approach(first.type, ""), label=(labels or {}).get(first.id))
    if winner(ranking) is not None:
        return f"🏆 {'Winner' if closed else 'Leading'}: {name}, {ranked.describe()} · {total}"
    if closed:
        return f"🔒 No winner: {TOO_CLOSE} (best: {name}, {ranked.chance:.0%} likely the best) · {total}"
    return f"🗳️ {total} · {TOO_CLOSE}: best so far {name}, {ranked.chance:.0%} likely the best"


def stored_progress(run: RunRow, variations: Sequence[VariationRow]) -> Progress:
    """The status line of a run that is no longer being written, from its rows."""
    planned = [v for v in variations if v.planned]
    return Progress(
        run.status,
        total=len(planned),
        finished=len(planned),
        failed=sum(not v.written for v in planned),
        seconds=run.seconds,
        tokens=run.tokens,
        cost=run.cost_usd,
        error="no approaches could be planned" if run.status == RunStatus.FAILED and not planned else None,
        unshown=sum(v.written and not v.message_ts for v in planned),
        stopped_by=run.stopped_by,
    )


def run_parent_message(
    run: RunRow, variations: Sequence[VariationRow], tallies: Mapping[int, Tally], progress: Progress | None = None
) -> Message:
    """`parent_message` for a stored run: live `progress` while it runs, else its stored outcome; the
    leader (once closed, the winner), while voting is open the synthesize button once at least two
    variations were written, and ⏹ while something of it is being written (the run, or one more variation
    in its thread)."""
    open_ = run.status.finished and not run.voting_closed
    can_synthesize = open_ and sum(v.written for v in variations) >= 2
    can_close = open_ and any(v.written for v in variations)
    blind = run.blind and not run.voting_closed
    labels = blind_labels(variations) if blind else None
    return parent_message(
        run.user_id,
        run.task,
        run.context,
        progress or stored_progress(run, variations),
        leader=leader_line(variations, tallies, labels, closed=run.voting_closed),
        synthesize_run=run.id if can_synthesize else None,
        close_run=run.id if can_close else None,
        closed=run.voting_closed,
        blind=blind,
        stop_run=run.id if run.status.working or any(v.status == VariationStatus.WRITING for v in variations) else None,
    )


def approach_title(position: int | None, approach: Approach, note: str | None = None, label: str | None = None) -> str:
    """`*2. Lifestyle*` for a planned approach; a synthesis, a new version or a follow-up has no number of
    its own (a follow-up's instruction is its description, shown after the title). In a blind run, `label`
    (`*Variation B*`) stands for the number and the name."""
    name = f"Variation {label}" if label else escape(approach.type[:1].upper() + approach.type[1:])
    if approach.type == SYNTHESIS:
        return "🧩 *Synthesis*"
    if approach.type == FOLLOW_UP:
        return "💬 *Follow-up*"
    if position is None:
        return f"♻️ *{name}*, new version" + (f" ({escape(note)})" if note else "")
    return f"*{name}*" if label else f"*{position + 1}. {name}*"


def variation_title(position: int | None, approach: Approach, note: str | None = None, label: str | None = None) -> str:
    """A variation message's first line: its title and its brief, which a blind run (`label`) leaves out."""
    title = approach_title(position, approach, note, label)
    return title if label else f"{title}: _{escape(approach.description)}_"


def shown_name(row: VariationRow, label: str | None = None) -> str:
    """A variation's name in plain words (a synthesis's header, its prompt): `Technical`, `Technical (new
    version)`, `Follow-up`, `Synthesis`; in an open blind run its `label`, `Variation B`."""
    if label:
        return f"Variation {label}"
    name = row.type[:1].upper() + row.type[1:]
    return (
        f"{name} (new version)" if row.regenerated_from is not None and row.type not in (SYNTHESIS, FOLLOW_UP) else name
    )


def shown_type(approach: Approach, label: str | None = None) -> str:
    """A variation's name in a notification's plain text: its type, or in a blind run its label."""
    return f"Variation {label}" if label else approach.type


def _preview(text: str) -> list[Block]:
    """Model Markdown still being written, as one markdown block of at most one message's worth (the
    final message carries everything): a live state must never need a second message. Emphasis not yet
    closed (`**b`) is held back, as the DM stream holds it back (`bot.render.growing`)."""
    chunks = split_markdown(render(without_open_emphasis(text)), MARKDOWN_LIMIT - len(MORE))
    return [markdown(chunks[0] + (MORE if len(chunks) > 1 else ""))] if chunks else []


def analysis_message(
    analysis: str,
    approaches: Sequence[Approach] = (),
    *,
    writing: bool = False,
    cut_short: bool = False,
    remembered: int = 0,
    blind: bool = False,
) -> Message:
    """The first threaded reply: the orchestrator's reasoning and, once known, the approaches it chose.
    While `writing`, the analysis is partial and says so; `cut_short` says the plan broke off;
    `remembered` approach types of the team's record were in the plan's prompt (team memory). A `blind`
    run's analysis names its approaches, so it is left out: the verdict reveals them."""
    blocks: list[Block] = [section("🧭 *How I'll approach this*")]
    if blind:
        blocks.append(context_block(BLIND_PLAN))
    elif writing:
        blocks += _preview(analysis)
    else:  # more than one message's worth is continued in the next by the outbox (`split_message`)
        blocks += [markdown(chunk) for chunk in split_markdown(render(analysis))]
    if writing:
        blocks.append(context_block("✍️ Thinking…"))
    if approaches and not blind:
        lines = [f"{approach_title(i, a)}: {escape(a.description)}" for i, a in enumerate(approaches)]
        blocks += [section(chunk) for chunk in split_text("\n".join(lines), SECTION_LIMIT)]
    if cut_short:
        count = f"{len(approaches)} approach{'es' if len(approaches) != 1 else ''}"
        blocks.append(context_block(f"⚠️ The plan broke off after {count}: these are the ones it named."))
    if remembered and not writing:
        types = f"{remembered} approach type{'s' if remembered != 1 else ''}"
        note = f"🧠 Shaped by your team's votes on {types} · `/variations --fresh` leaves them out"
        blocks.append(context_block(note))
    return {
        "text": fallback(BLIND_PLAN if blind else f"Analysis: {plain_words(analysis)}" if analysis else "Approaches"),
        "blocks": blocks,
    }


def writing_message(
    position: int | None, approach: Approach, text: str = "", note: str | None = None, label: str | None = None
) -> Message:
    """A variation while its worker writes it: the approach (`label`: a blind run's) and the text so far
    (at most one message's worth; the finished message carries everything), without buttons yet."""
    title = variation_title(position, approach, note, label)
    blocks = [section(truncate_plain(title, SECTION_LIMIT)), *_preview(text)]
    blocks.append(context_block("✍️ Writing…"))
    return {"text": fallback(f"{shown_type(approach, label)}: writing…"), "blocks": blocks}


def vote_buttons(variation_id: int, up: int, down: int) -> Block:
    """👍/👎 with their current counts, and ♻️ to write this approach again; each button's value carries
    the variation's id back on a click."""
    value = str(variation_id)
    return actions(
        f"votes-{variation_id}",
        button(VOTE_UP, f"👍 {up}", value),
        button(VOTE_DOWN, f"👎 {down}", value),
        button(REGENERATE, "♻️ New version", value),
    )


def variation_messages(
    variation_id: int,
    position: int | None,
    approach: Approach,
    text: str,
    *,
    up: int = 0,
    down: int = 0,
    footnote: str | None = None,
    note: str | None = None,
    closed: bool = False,
    label: str | None = None,
) -> list[Message]:
    """One variation as one message or, when long, several (one markdown block of at most Slack's 12,000
    characters each); the vote buttons go on the last one, or (`closed`) the final counts without buttons.
    `label`: a blind run's, shown instead of the approach.

    Deterministic for the same input, so a vote can rebuild exactly the message that holds its buttons.
    """
    title = variation_title(position, approach, note, label)
    pages = split_markdown(render(text)) or [""]
    messages: list[Message] = []
    for number, page in enumerate(pages, start=1):
        heading = title if len(pages) == 1 else f"{title} ({number} of {len(pages)})"
        blocks = [section(truncate_plain(heading, SECTION_LIMIT))] + ([markdown(page)] if page else [])
        messages.append({"text": fallback(f"{shown_type(approach, label)}: {plain_words(text)}"), "blocks": blocks})
    last = messages[-1]["blocks"]
    if closed:
        last.append(context_block(CLOSED_COUNTS.format(up=up, down=down)))
    else:
        last.append(vote_buttons(variation_id, up, down))
    if footnote:
        last.append(context_block(escape(footnote)))
    return messages


def footnote(row: VariationRow) -> str | None:
    """The small print under a variation: model, time and tokens, from its stored row."""
    parts = []
    if row.model:
        parts.append(row.model)
    if row.seconds is not None:
        parts.append(f"{row.seconds:.1f}s")
    if row.tokens:
        parts.append(f"{row.tokens:,} tokens")
    if row.stop_reason == "max_tokens":
        parts.append("stopped at the length limit")
    return " · ".join(parts) or None


def stored_variation_messages(
    row: VariationRow, tally: Tally = NO_VOTES, *, closed: bool = False, label: str | None = None
) -> list[Message]:
    """`variation_messages` for a stored variation (built again on every vote); `closed`: its run's voting,
    `label`: its blind run's while voting is open."""
    return variation_messages(
        row.id,
        row.shown_position,
        row.approach,
        row.text or "",
        up=tally.up,
        down=tally.down,
        footnote=footnote(row),
        note=row.instruction,
        closed=closed,
        label=label,
    )


def verdict_message(
    variations: Sequence[VariationRow], tallies: Mapping[int, Tally], *, blind: bool = False
) -> Message:
    """Said in the thread when a run's voting closes: the winner by `bot.store.ranking`'s rule (none when it is
    too close to call) and every written variation ranked by the same rule, best first; a `blind` run's
    reveal: each letter's approach and brief."""

    def title(v: VariationRow) -> str:
        return approach_title(v.shown_position, v.approach, v.instruction)

    ranking = ranked_variations(variations, tallies)
    won = winner(ranking)
    if won is not None:
        headline = f"🏆 Winner: {title(won[0])}, {won[1].describe()}"
    elif ranking and ranking[0][1].votes:
        best, ranked = ranking[0]
        headline = (
            f"🤷 No winner: {TOO_CLOSE}. {title(best)} is {ranked.chance:.0%} likely the best, and a winner "
            f"takes more than {WINNER_CHANCE:.0%}"
        )
    else:
        headline = "🤷 No winner: nobody voted"
    lines = [f"#{number} {title(v)}: {ranked.describe()}" for number, (v, ranked) in enumerate(ranking, start=1)]
    blocks: list[Block] = [section("🔒 *Voting has closed*"), section(truncate_plain(headline, SECTION_LIMIT))]
    blocks += [section(chunk) for chunk in split_text("\n".join(lines), SECTION_LIMIT)]
    if blind:
        labels = blind_labels(variations)
        reveal = ["🙈 *The reveal*"] + [
            f"*Variation {labels[v.id]}* was {variation_title(v.position, v.approach)}" for v in variations if v.planned
        ]
        blocks += [section(chunk) for chunk in split_text("\n".join(reveal), SECTION_LIMIT)]
    return {"text": fallback("Voting has closed"), "blocks": blocks}


def stored_failed_message(row: VariationRow, reason: str, label: str | None = None) -> Message:
    """`failed_variation_message` for a stored variation, with its Retry button."""
    return failed_variation_message(row.shown_position, row.approach, reason, row.instruction, row.id, label)


def failed_variation_message(
    position: int | None,
    approach: Approach,
    reason: str,
    note: str | None = None,
    variation_id: int | None = None,
    label: str | None = None,
) -> Message:
    """A failed approach stays visible in the thread, with the reason in plain words and (given its id) a
    button to try it again; `label`: a blind run's, shown instead of the approach."""
    title = variation_title(position, approach, note, label)
    blocks = [
        section(truncate_plain(title, SECTION_LIMIT)),
        section(truncate_plain(f"⚠️ This approach failed: {escape(reason)}", SECTION_LIMIT)),
    ]
    if variation_id is not None:
        blocks.append(actions(f"retry-{variation_id}", button(RETRY, "🔁 Retry", str(variation_id))))
    return {"text": fallback(f"{shown_type(approach, label)} failed: {reason}"), "blocks": blocks}


def stored_halted_message(row: VariationRow, note: str, label: str | None = None) -> Message:
    """A variation cut short (stopped by a person, or interrupted by a shutdown): what was written so far
    (at most one message's worth; the database keeps all of it), `note` (mrkdwn, says why), and 🔁 Retry;
    `label`: a blind run's."""
    title = variation_title(row.shown_position, row.approach, row.instruction, label)
    blocks = [section(truncate_plain(title, SECTION_LIMIT)), *_preview(row.text or ""), context_block(note)]
    blocks.append(actions(f"retry-{row.id}", button(RETRY, "🔁 Retry", str(row.id))))
    return {"text": fallback(f"{shown_type(row.approach, label)}: cut short"), "blocks": blocks}


def interrupted_message(retryable: bool) -> Message:
    """Said in a run's thread after a restart cut it short; `retryable` when it has approaches to retry
    (a run stopped while planning has none)."""
    if retryable:
        text = (
            "⚠️ The app restarted while this run was being written. Everything already written is kept; "
            "approaches that were not finished can be written again with their 🔁 Retry button."
        )
    else:
        text = "⚠️ The app restarted while this run was being planned. Run `/variations` again to start over."
    return {"text": fallback(text), "blocks": [section(text)]}


def plan_failed_message(reason: str) -> Message:
    text = f"⚠️ I couldn't plan any approaches for this request. {reason}"
    return {"text": fallback(text), "blocks": [section(escape(text))]}


HELP_TEXT = """\
*/variations* asks Claude for several distinct takes on one request, written in parallel and posted \
in a thread, so your team can vote on the best one.

*Usage*
`/variations` opens a form: the request, audience, key points, tone and how many approaches.
`/variations Write a product description for our new water bottle` starts right away; context goes on \
the lines after the request, one `name: value` per line:
```/variations Write a product description for our new water bottle
audience: hikers and commuters
key features: keeps drinks cold 24h, 750 ml, dishwasher safe```
`/variations stats` shows which approaches win in this channel and workspace.
`/variations types` lists this workspace's approach types; `/variations types merge OLD into NEW` counts \
one as another (`/variations types split OLD` undoes it).
The plan learns from your team's votes on earlier approaches; `/variations --fresh TASK` asks for fresh \
ideas only, without them. `/variations --blind TASK` labels the approaches A, B, C… until voting closes, \
so names don't sway the vote (the two combine: `--blind --fresh TASK`).

*In the thread*
👍 / 👎 vote (the same button again takes the vote back) · ♻️ writes a new version of one approach, \
optionally with an instruction like "shorter" · 🧩 on the request combines the best-voted variations · \
🔒 on the request (yours) closes the voting and posts the verdict · \
⏹ on the request (yours) stops what is being written · \
`@Variations make the technical one shorter` writes a new version of the approach it names (by type, \
number, letter or place: `make B shorter`, `the second one`), or one more variation that follows what you say.

*Elsewhere*
`@Variations TASK` in any channel I'm in starts a run in a thread under your message · a message's \
*Get variations* shortcut (its ⋮ menu) opens the form with that message's text."""


MENTION_HELP_TEXT = """\
Mention me with what you'd like written, e.g. `@Variations Write a tagline for our water bottle`, and I'll \
write several takes in a thread under your message. In a run's thread, mention me with an instruction: \
name an approach (`@Variations make the technical one shorter`, or its number, letter or place: `make 2 \
shorter`, `make B shorter`, `the last one`) for a new version of it, or just say what you'd like \
(`@Variations one for teenagers`) for one more variation."""


def mention_help_message(problem: str | None = None) -> Message:
    """What a mention without a request gets (only its author sees it), led by what was wrong, if anything."""
    blocks: list[Block] = [section(f"⚠️ {escape(problem)}")] if problem else []
    blocks.append(section(MENTION_HELP_TEXT))
    return {"text": fallback(problem or "How to use @Variations"), "blocks": blocks}


DM_HELP_TEXT = """\
Tell me what you'd like written, e.g. `Write a tagline for our water bottle`, with any context on the lines \
after it (`audience: hikers`), and I'll write several takes right here for you to vote on. Then, in the same \
thread, name an approach (`make the technical one shorter`, or its number, letter or place: `make 2 \
shorter`, `make B shorter`, `the last one`) for a new version of it, or just say what you'd like (`one for \
teenagers`) for one more variation."""


def dm_help_message(problem: str | None = None) -> Message:
    """What a message to the app (its DM, the AI pane) without a request gets, led by what was wrong."""
    blocks: list[Block] = [section(f"⚠️ {escape(problem)}")] if problem else []
    blocks.append(section(DM_HELP_TEXT))
    return {"text": fallback(problem or "How to use Variations"), "blocks": blocks}


def help_message(problem: str | None = None) -> Message:
    """The ephemeral usage message, optionally led by what was wrong with the input."""
    blocks: list[Block] = []
    if problem:
        blocks.append(section(f"⚠️ {escape(problem)}"))
    blocks.append(section(HELP_TEXT))
    return {"text": fallback(problem or "How to use /variations"), "blocks": blocks}
