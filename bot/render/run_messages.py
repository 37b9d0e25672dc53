"""Pure Block Kit builders for a run's own messages: the request (parent) with its status and leader,
the analysis, the verdict, and a plan that failed. A variation's messages are in variation_messages.py,
the names shown for variations in names.py, the usage messages in help.py.

Model text (analysis, variations, syntheses) goes in `markdown` blocks, which Slack renders itself, made
inert first by `bot.render.markdown`; everything else a model or a user wrote is escaped mrkdwn
(`bot.render.mrkdwn`). So no message can ping anyone, and long texts are split over blocks and messages
within Slack's limits instead of being cut.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.render.kit import (
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
from bot.render.names import NO_VOTES, approach_title, blind_labels, ranked_variations, variation_title
from bot.render.variation_messages import preview
from bot.store.pricing import money
from bot.store.ranking import TOO_CLOSE, WINNER_CHANCE, winner
from bot.store.rows import RunRow, RunStatus, Tally, VariationRow, VariationStatus
from orchestrator.parsing import Approach

SYNTHESIZE = "synthesize"


CLOSE_VOTING = "close_voting"


STOP = "stop_run"


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
        blocks += preview(analysis)
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


def plan_failed_message(reason: str) -> Message:
    text = f"⚠️ I couldn't plan any approaches for this request. {reason}"
    return {"text": fallback(text), "blocks": [section(escape(text))]}
