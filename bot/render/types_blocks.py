"""Pure Block Kit builders for `/variations types`: the workspace's approach types with their votes and
aliases, the active merges (who, when, how to undo), and the answers to a merge or a split.

Type names are model output or typed by people: they are escaped (`bot.render.mrkdwn.escape`) and kept short, and
the only `<…>` in the output are user mentions of the people who merged, which Slack renders as names.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.render.kit import MAX_BLOCKS, Block, Message, context_block, fallback, header, section
from bot.render.mrkdwn import escape, truncate_plain
from bot.store.catalogue import Merge, TypeEntry

TYPE_CHARS = 60
ALIASES_SHOWN = 8  # aliases listed per type; more say "and N more"
TYPES_PER_SECTION = 15  # lines per section block, well within its 3,000 characters
USAGE = (
    "`/variations types` lists this workspace's approach types.\n"
    "`/variations types merge OLD into NEW` counts OLD (with its aliases) as NEW, an existing type or a new "
    'name (quote a name that holds "into").\n'
    "`/variations types split OLD` undoes that merge."
)
NO_TYPES = "No approach types yet: run `/variations` and the types of its approaches are listed here."


def _name(kind: str) -> str:
    return truncate_plain(escape(kind), TYPE_CHARS)


def _line(entry: TypeEntry) -> str:
    votes = f"{entry.up} 👍 {entry.down} 👎" if entry.up + entry.down else "no votes"
    count = f"{entry.variations} variation{'s' if entry.variations != 1 else ''}"
    line = f"• *{_name(entry.type)}*: {votes} · {count}"
    if entry.aliases:
        shown = ", ".join(_name(alias) for alias in entry.aliases[:ALIASES_SHOWN])
        more = len(entry.aliases) - ALIASES_SHOWN
        line += f" · also {shown}" + (f" and {more} more" if more > 0 else "")
    return line


def _merge_line(merge: Merge) -> str:
    return (
        f"• *{_name(merge.old)}* → *{_name(merge.new)}*, by <@{escape(merge.merged_by)}> on {merge.merged_at[:10]}"
        f" (undo: `/variations types split {_name(merge.old)}`)"
    )


def types_message(entries: Sequence[TypeEntry], merges: Sequence[Merge]) -> Message:
    """The workspace's types, the most voted first, then its merges; within Slack's block limit."""
    blocks: list[Block] = [header(f"Approach types in this workspace ({len(entries)})")]
    if not entries:
        blocks.append(section(NO_TYPES))
    room = MAX_BLOCKS - 4  # header, merges' header and lines, the usage note
    lines = [_line(entry) for entry in entries]
    chunks = [lines[i : i + TYPES_PER_SECTION] for i in range(0, len(lines), TYPES_PER_SECTION)]
    for chunk in chunks[: room // 2]:
        blocks.append(section("\n".join(chunk)))
    shown = sum(len(chunk) for chunk in chunks[: room // 2])
    if shown < len(lines):
        blocks.append(context_block(f"and {len(lines) - shown:,} more, with fewer votes"))
    if merges:
        merge_lines = [_merge_line(merge) for merge in merges]
        blocks.append(section("*Merges*\n" + "\n".join(merge_lines[:TYPES_PER_SECTION])))
    blocks.append(context_block(USAGE))
    return {"text": fallback(f"Approach types in this workspace: {len(entries)}"), "blocks": blocks}


def merged_message(merge: Merge) -> Message:
    text = (
        f"✅ Merged *{_name(merge.old)}* (with its aliases) into *{_name(merge.new)}*: its variations now count as "
        f"{_name(merge.new)} in stats, the Home tab and team memory, and plans that name it are stored as "
        f"{_name(merge.new)}. Undo with `/variations types split {_name(merge.old)}`."
    )
    return {"text": fallback(f"Merged {merge.old} into {merge.new}"), "blocks": [section(text)]}


def split_message(merge: Merge) -> Message:
    text = f"↩️ *{_name(merge.old)}* is its own type again (it was merged into *{_name(merge.new)}*)."
    return {"text": fallback(f"Split {merge.old} from {merge.new}"), "blocks": [section(text)]}


def refused_message(reason: str) -> Message:
    return {"text": fallback(reason), "blocks": [section(f"⚠️ {escape(reason)}"), context_block(USAGE)]}
