"""Pure Block Kit builders for one variation's messages: being written, written (with its vote
buttons, or its final counts once voting closed), failed, stopped or interrupted. Model text goes in
`markdown` blocks made inert by `bot.render.markdown`."""

from __future__ import annotations

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
from bot.render.mrkdwn import escape, plain_words, truncate_plain
from bot.render.names import NO_VOTES, shown_type, variation_title
from bot.store.rows import Tally, VariationRow
from orchestrator.parsing import Approach

MORE = "\n\n…"  # ends a live preview that shows only the first message's worth of a longer text


VOTE_UP = "vote_up"


VOTE_DOWN = "vote_down"


REGENERATE = "regenerate"


RETRY = "retry"


CLOSED_COUNTS = "👍 {up} · 👎 {down} · 🔒 Voting has closed"


def preview(text: str) -> list[Block]:
    """Model Markdown still being written, as one markdown block of at most one message's worth (the
    final message carries everything): a live state must never need a second message. Emphasis not yet
    closed (`**b`) is held back, as the DM stream holds it back (`bot.render.growing`)."""
    chunks = split_markdown(render(without_open_emphasis(text)), MARKDOWN_LIMIT - len(MORE))
    return [markdown(chunks[0] + (MORE if len(chunks) > 1 else ""))] if chunks else []


def writing_message(
    position: int | None, approach: Approach, text: str = "", note: str | None = None, label: str | None = None
) -> Message:
    """A variation while its worker writes it: the approach (`label`: a blind run's) and the text so far
    (at most one message's worth; the finished message carries everything), without buttons yet."""
    title = variation_title(position, approach, note, label)
    blocks = [section(truncate_plain(title, SECTION_LIMIT)), *preview(text)]
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
    blocks = [section(truncate_plain(title, SECTION_LIMIT)), *preview(row.text or ""), context_block(note)]
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
