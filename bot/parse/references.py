"""What a person wrote in a Slack message, read for the app: Slack's encoding undone (for a mention's
instruction and a shortcut's prefilled form), the app's own mention taken out, and which approach of a
run an instruction names. Pure functions: no Slack, no database."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.store.rows import VariationRow
from orchestrator.parsing import normalize_type

# Slack's message encoding: <@U123>, <@U123|name>, <#C123|general>, <!here>, <!subteam^S1|@team>,
# <https://x|label>, <mailto:a@b|a@b>; &, < and > as entities.
_ANGLED = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))

# A number the thread shows an approach by: "2", "#2", "2nd", "2." — not part of a larger number, and
# not one that counts something ("3 bullet points", "2 sentences", "in 50 words").
_NUMBER = re.compile(r"(?<![\w.,#])#?(\d{1,2})(?:st|nd|rd|th)?(?![\w%]|[.,]\d)")
_COUNTED = re.compile(
    r"\s*-?\s*(?:bullets?|bullet points?|points?|words?|sentences?|lines?|paragraphs?|items?|characters?|chars?"
    r"|emojis?|hashtags?|examples?|options?|versions?|variations?|tweets?|questions?|tips?|steps?|reasons?"
    r"|minutes?|seconds?|hours?|days?|weeks?|months?|years?|times?|x)\b",
    re.IGNORECASE,
)


def typed_text(text: str) -> str:
    """A message's text as its author sees it: `<@U1>` → `@U1`, `<#C1|general>` → `#general`,
    `<https://x|label>` → `label (https://x)`, entities decoded. What the app shows later is escaped
    again, so nothing read here can ping anyone."""

    def readable(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("@"):
            return "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return label or "@" + target[1:].split("^")[0]
        if label and label != target.removeprefix("mailto:"):
            return f"{label} ({target})"
        return target.removeprefix("mailto:")

    readable_text = _ANGLED.sub(readable, text)
    for entity, char in _ENTITIES:
        readable_text = readable_text.replace(entity, char)
    return readable_text.strip()


def without_mention(text: str, bot_user_id: str | None) -> str:
    """A mention's text without the app's own `<@U…>` (every one of them); with the app's id unknown, the
    mention it starts with."""
    if bot_user_id:
        return re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^<>]*)?>", " ", text).strip()
    return re.sub(r"^\s*<@[^<>]*>", " ", text).strip()


def named_approach(instruction: str, variations: Sequence[VariationRow]) -> VariationRow | None:
    """The variation a new version should start from when the instruction names exactly one of the run's
    planned approaches, by its type or its number in the thread; None when it names none or several.

    That is the approach's latest written version (a new version builds on the one before it), else its
    planned row."""
    planned = [v for v in variations if v.planned]
    text = " ".join(instruction.split()).lower()
    named: set[int] = set()
    for row in planned:
        kind = normalize_type(row.type)
        if re.search(rf"(?<![\w-]){re.escape(kind)}(?![\w-])", text):
            named.add(row.id)
    for match in _NUMBER.finditer(text):
        if _COUNTED.match(text, match.end()):
            continue
        number = int(match.group(1))
        named |= {v.id for v in planned if v.shown_position is not None and v.shown_position + 1 == number}
    if len(named) != 1:
        return None
    (row,) = [v for v in planned if v.id in named]
    versions = [v for v in variations if v.type == row.type and v.written]  # thread order
    return versions[-1] if versions else row
