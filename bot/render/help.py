"""The usage messages: `/variations help`, a mention with nothing after it, and the DM's first message."""

from __future__ import annotations

from bot.render.kit import (
    Block,
    Message,
    fallback,
    section,
)
from bot.render.mrkdwn import escape

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
