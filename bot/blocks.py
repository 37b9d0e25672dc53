"""Pure Block Kit builders: each returns the keyword arguments of one Slack message (`text`, `blocks`).

Everything a model or a user wrote goes through `bot.text` here, so no message can ping anyone, and long
texts are split over sections and messages within Slack's limits instead of being cut.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.store import Tally
from bot.text import escape, markdown_to_mrkdwn, split_text, truncate_plain
from orchestrator.engine import SYNTHESIS
from orchestrator.parsing import Approach

Message = dict[str, Any]
Block = dict[str, Any]

SECTION_LIMIT = 3000  # characters of text in one section block
SECTIONS_PER_MESSAGE = 10  # well under the 50-block limit, and ~30k characters of text per message
FALLBACK_LIMIT = 150  # notification text: a summary, the blocks carry the content
VOTE_UP = "vote_up"
VOTE_DOWN = "vote_down"
REGENERATE = "regenerate"
RETRY = "retry"
SYNTHESIZE = "synthesize"


@dataclass(frozen=True)
class Progress:
    """Where a run stands, for the parent message's status line."""

    phase: str  # planning | writing | done | partial | failed
    total: int = 0
    finished: int = 0
    failed: int = 0
    seconds: float | None = None
    tokens: int | None = None
    error: str | None = None
    unshown: int = 0  # written, but Slack took none of their messages (the text is in the database)


def status_line(progress: Progress) -> str:
    """One mrkdwn line: what is happening now, and how long and how many tokens it took once done."""
    cost = ""
    if progress.seconds is not None:
        cost += f" · {progress.seconds:.1f}s"
    if progress.tokens:
        cost += f" · {progress.tokens:,} tokens"
    if progress.phase == "planning":
        return "⏳ Planning approaches…"
    if progress.phase == "writing":
        return f"✍️ Writing {progress.total} approaches: {progress.finished} of {progress.total} done{cost}"
    if progress.phase == "interrupted":
        written = progress.total - progress.failed
        return f"⚠️ Interrupted by a restart: {written} of {progress.total} variations written{cost}"
    if progress.phase == "failed" and progress.total and progress.failed == progress.total:
        return f"⚠️ All {progress.total} approaches failed{cost}"
    if progress.phase == "failed":
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


def _fallback(text: str) -> str:
    """The message's `text`: shown in notifications and parsed for mentions, so escaped and short."""
    return truncate_plain(escape(" ".join(text.split())), FALLBACK_LIMIT)


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


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
) -> Message:
    """The channel message a run hangs its thread on: who asked, the request, its context, the status,
    the leading approach once votes come in, and (with `synthesize_run`) the button to combine them."""
    blocks: list[Block] = [_section(f"<@{user_id}> asked for variations:")]
    blocks += [_section(_quote(chunk)) for chunk in split_text(escape(task.strip()), SECTION_LIMIT - 200)]
    if context:
        pairs = " · ".join(f"*{escape(key)}:* {escape(value)}" for key, value in context.items())
        blocks.append(_context(truncate_plain(pairs, SECTION_LIMIT)))
    blocks.append(_context(status_line(progress)))
    if leader:
        blocks.append(_section(leader))
    if synthesize_run is not None:
        button = _button(SYNTHESIZE, "🧩 Synthesize the best", str(synthesize_run))
        blocks.append({"type": "actions", "block_id": f"run-{synthesize_run}", "elements": [button]})
    return {"text": _fallback(f"Variations: {task.strip()}"), "blocks": blocks}


def leader_line(variations: Sequence[Mapping[str, Any]], tallies: Mapping[int, Tally]) -> str | None:
    """Who leads by net votes (👍 minus 👎) and how many votes there are; None before the first vote."""
    votes = sum(t.up + t.down for t in tallies.values())
    if not votes:
        return None
    voted = [v for v in variations if v["id"] in tallies]
    best = max(tallies[v["id"]].net for v in voted)
    leaders = [v for v in voted if tallies[v["id"]].net == best]
    names = " and ".join(approach_title(numbered(v), Approach(v["type"], "")) for v in leaders)
    total = f"{votes} vote{'s' if votes != 1 else ''} on {len(voted)} variation{'s' if len(voted) != 1 else ''}"
    if len(leaders) > 1:
        return f"🤝 Tied at {best:+d}: {names} · {total}"
    return f"🏆 Leading: {names} ({best:+d}) · {total}"


def approach_title(position: int | None, approach: Approach, note: str | None = None) -> str:
    """`*2. Lifestyle*` for a planned approach; a synthesis or a new version has no number of its own."""
    name = escape(approach.type[:1].upper() + approach.type[1:])
    if approach.type == SYNTHESIS:
        return "🧩 *Synthesis*"
    if position is None:
        return f"♻️ *{name}*, new version" + (f" ({escape(note)})" if note else "")
    return f"*{position + 1}. {name}*"


def _sections(markdown: str, limit: int | None = None) -> list[Block]:
    """Markdown as mrkdwn sections; with `limit`, at most that many, the last saying more is coming."""
    chunks = split_text(markdown_to_mrkdwn(markdown), SECTION_LIMIT - 2)
    if limit is not None and len(chunks) > limit:
        chunks = [*chunks[: limit - 1], chunks[limit - 1] + " …"]
    return [_section(chunk) for chunk in chunks]


def analysis_message(
    analysis: str, approaches: Sequence[Approach] = (), *, writing: bool = False, cut_short: bool = False
) -> Message:
    """The first threaded reply: the orchestrator's reasoning and, once known, the approaches it chose.
    While `writing`, the analysis is partial and says so; `cut_short` says the plan broke off."""
    blocks: list[Block] = [_section("🧭 *How I'll approach this*")]
    blocks += _sections(analysis, limit=SECTIONS_PER_MESSAGE if writing else None)
    if writing:
        blocks.append(_context("✍️ Thinking…"))
    if approaches:
        lines = [f"{approach_title(i, a)}: {escape(a.description)}" for i, a in enumerate(approaches)]
        blocks += [_section(chunk) for chunk in split_text("\n".join(lines), SECTION_LIMIT)]
    if cut_short:
        count = f"{len(approaches)} approach{'es' if len(approaches) != 1 else ''}"
        blocks.append(_context(f"⚠️ The plan broke off after {count}: these are the ones it named."))
    return {
        "text": _fallback(f"Analysis: {analysis}" if analysis else "Approaches"),
        "blocks": blocks,
    }


def writing_message(position: int | None, approach: Approach, text: str = "", note: str | None = None) -> Message:
    """A variation while its worker writes it: the approach and the text so far (at most one message's
    worth; the finished message carries everything), without buttons yet."""
    title = f"{approach_title(position, approach, note)}: _{escape(approach.description)}_"
    blocks = [_section(truncate_plain(title, SECTION_LIMIT)), *_sections(text, limit=SECTIONS_PER_MESSAGE)]
    blocks.append(_context("✍️ Writing…"))
    return {"text": _fallback(f"{approach.type}: writing…"), "blocks": blocks}


def _button(action_id: str, label: str, value: str) -> Block:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "value": value,
    }


def vote_buttons(variation_id: int, up: int, down: int) -> Block:
    """👍/👎 with their current counts, and ♻️ to write this approach again; each button's value carries
    the variation's id back on a click."""
    value = str(variation_id)
    return {
        "type": "actions",
        "block_id": f"votes-{variation_id}",
        "elements": [
            _button(VOTE_UP, f"👍 {up}", value),
            _button(VOTE_DOWN, f"👎 {down}", value),
            _button(REGENERATE, "♻️ New version", value),
        ],
    }


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
) -> list[Message]:
    """One variation as one message or, when long, several; the vote buttons go on the last one.

    Deterministic for the same input, so a vote can rebuild exactly the message that holds its buttons.
    """
    title = f"{approach_title(position, approach, note)}: _{escape(approach.description)}_"
    chunks = split_text(markdown_to_mrkdwn(text), SECTION_LIMIT)
    pages = [chunks[i : i + SECTIONS_PER_MESSAGE] for i in range(0, len(chunks), SECTIONS_PER_MESSAGE)]
    messages: list[Message] = []
    for number, page in enumerate(pages, start=1):
        heading = title if len(pages) == 1 else f"{title} ({number} of {len(pages)})"
        blocks = [_section(truncate_plain(heading, SECTION_LIMIT))] + [_section(chunk) for chunk in page]
        fallback = f"{approach.type}: {text}"
        messages.append({"text": _fallback(fallback), "blocks": blocks})
    last = messages[-1]["blocks"]
    last.append(vote_buttons(variation_id, up, down))
    if footnote:
        last.append(_context(escape(footnote)))
    return messages


def footnote(row: Mapping[str, Any]) -> str | None:
    """The small print under a variation: model, time and tokens, from its stored row."""
    parts = []
    if row.get("model"):
        parts.append(str(row["model"]))
    if row.get("seconds") is not None:
        parts.append(f"{row['seconds']:.1f}s")
    tokens = (row.get("input_tokens") or 0) + (row.get("output_tokens") or 0)
    if tokens:
        parts.append(f"{tokens:,} tokens")
    if row.get("stop_reason") == "max_tokens":
        parts.append("stopped at the length limit")
    return " · ".join(parts) or None


def numbered(row: Mapping[str, Any]) -> int | None:
    """The position a planned approach is shown with; None for a synthesis or a new version."""
    if row.get("regenerated_from") is not None or row["type"] == SYNTHESIS:
        return None
    return int(row["position"])


def stored_variation_messages(row: Mapping[str, Any], up: int = 0, down: int = 0) -> list[Message]:
    """`variation_messages` for a row of the `variations` table (used again on every vote)."""
    return variation_messages(
        row["id"],
        numbered(row),
        Approach(row["type"], row["description"] or ""),
        row["text"] or "",
        up=up,
        down=down,
        footnote=footnote(row),
        note=row.get("instruction"),
    )


def failed_variation_message(
    position: int | None, approach: Approach, reason: str, note: str | None = None, variation_id: int | None = None
) -> Message:
    """A failed approach stays visible in the thread, with the reason in plain words and (given its id) a
    button to try it again."""
    title = f"{approach_title(position, approach, note)}: _{escape(approach.description)}_"
    blocks = [
        _section(truncate_plain(title, SECTION_LIMIT)),
        _section(truncate_plain(f"⚠️ This approach failed: {escape(reason)}", SECTION_LIMIT)),
    ]
    if variation_id is not None:
        retry = _button(RETRY, "🔁 Retry", str(variation_id))
        blocks.append({"type": "actions", "block_id": f"retry-{variation_id}", "elements": [retry]})
    return {"text": _fallback(f"{approach.type} failed: {reason}"), "blocks": blocks}


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
    return {"text": _fallback(text), "blocks": [_section(text)]}


def plan_failed_message(reason: str) -> Message:
    text = f"⚠️ I couldn't plan any approaches for this request. {reason}"
    return {"text": _fallback(text), "blocks": [_section(escape(text))]}


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

*In the thread*
👍 / 👎 vote (the same button again takes the vote back) · ♻️ writes a new version of one approach, \
optionally with an instruction like "shorter" · 🧩 on the request combines the best-voted variations."""


def help_message(problem: str | None = None) -> Message:
    """The ephemeral usage message, optionally led by what was wrong with the input."""
    blocks: list[Block] = []
    if problem:
        blocks.append(_section(f"⚠️ {escape(problem)}"))
    blocks.append(_section(HELP_TEXT))
    return {"text": _fallback(problem or "How to use /variations"), "blocks": blocks}
