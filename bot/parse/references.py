"""What a person wrote in a Slack message, read for the app: Slack's encoding undone (for a mention's
instruction and a shortcut's prefilled form), the app's own mention taken out, and which variation of a run
an instruction is about.

An instruction in a run's thread is read the way people refer to variations: by type ("the technical one",
or a part of it that fits one type: "the lifestyle one" for lifestyle-emotional), by number ("2", "#2",
"2nd"), by letter ("B", "variation B"), by place ("the second", "the last one"), or as "the winner" / "the
leader". The answer is one of four: one variation (a new version of it), several or none clearly (ask which,
rather than guess), a request for something new (one more variation), or, in a blind run whose voting is
open, a reference by approach (told to use letters). A blind run never compares the words with its hidden
types: a reference by approach is told to use letters whether or not such an approach exists, so the answer
cannot be used to test a guess. Pure functions: no Slack, no database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.store.rows import VariationRow
from orchestrator.parsing import normalize_type

# Slack's message encoding: <@U123>, <@U123|name>, <#C123|general>, <!here>, <!subteam^S1|@team>,
# <https://x|label>, <mailto:a@b|a@b>; &, < and > as entities.
_ANGLED = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


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


# A number the thread shows an approach by: "2", "#2", "2nd", "2." — not part of a larger number, and
# not one that counts something ("3 bullet points", "2 sentences", "in 50 words").
_NUMBER = re.compile(r"(?<![\w.,#])#?(\d{1,2})(?:st|nd|rd|th)?(?![\w%]|[.,]\d)")
_COUNTED = re.compile(
    r"\s*-?\s*(?:bullets?|bullet points?|points?|words?|sentences?|lines?|paragraphs?|items?|characters?|chars?"
    r"|emojis?|hashtags?|examples?|options?|versions?|variations?|tweets?|questions?|tips?|steps?|reasons?"
    r"|minutes?|seconds?|hours?|days?|weeks?|months?|years?|times?|x)\b",
    re.IGNORECASE,
)
_NOUN = r"(?:one|version|variation|take|approach|draft|option)"
# "variation B", "option b", or a capital letter standing alone ("make B shorter"); an "A" or "I" that
# starts a sentence and is followed by a lowercase word is an article or a pronoun.
_NAMED_LETTER = re.compile(r"\b(?:variation|option|letter)\s+([a-z])\b", re.IGNORECASE)
_BARE_LETTER = re.compile(r"(?<![\w'\u2019&-])([A-Z])(?![\w'\u2019&-])")
_SENTENCE_WORD = re.compile(r"(?:^|[.!?]\s+)([AI])\s+[a-z]")
_ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "last": -1}
# "the second", "the last one" — not "the first paragraph", a part of a text.
_ORDINAL = re.compile(
    r"\bthe\s+(first|second|third|fourth|fifth|last)\b(?!\s+(?:paragraph|sentence|line|word|bullet|point|part"
    r"|section|half|time|step|item|letter|page|chapter|heading|title|emoji|place|few|couple)s?\b)",
    re.IGNORECASE,
)
_LEADER = re.compile(rf"\bthe\s+(?:winner|winning\s+{_NOUN}|leader|leading\s+{_NOUN}|best\s+{_NOUN}|top\s+{_NOUN})\b")
# "the lifestyle one", "the emotional version": a variation named by a word for its approach.
_DESCRIBED = re.compile(rf"\bthe\s+((?:[\w-]+\s+){{0,2}}?[\w-]+)\s+{_NOUN}s?\b")
_NOT_DESCRIPTIONS = {
    *_ORDINALS,
    "winning",
    "leading",
    "best",
    "top",
    "new",
    "other",
    "same",
    "next",
    "previous",
    "latest",
    "old",
    "this",
    "that",
}
# "make it shorter", "shorter": about something already written, without saying which.
_UNNAMED = re.compile(
    r"^(?:please\s+)?(?:make|rewrite|redo|shorten|lengthen|improve|fix|change|edit|tweak|revise|polish|expand"
    r"|trim|simplify|translate)\s+(?:it|this|that|this\s+one|that\s+one)\b"
    r"|^(?:shorter|longer|punchier|simpler|funnier|warmer|more\s+\w+|less\s+\w+)[.!]*$",
)
_MIN_PART = 4  # letters a word of a type needs to name it on its own ("deep" yes, "by" no)


@dataclass(frozen=True)
class Reference:
    """What an instruction refers to. `target`: the one variation it names (its latest written version);
    else `choices`: those it may mean, to ask about (every approach when it names none clearly); else
    `by_approach`: it names one by approach in an open blind run; else it asks for something new."""

    target: VariationRow | None = None
    choices: list[VariationRow] = field(default_factory=list)
    by_approach: bool = False

    @property
    def new(self) -> bool:
        return self.target is None and not self.choices and not self.by_approach


def _words(kind: str) -> set[str]:
    return {word for word in re.split(r"[\s\-_/]+", normalize_type(kind)) if len(word) >= _MIN_PART}


def _letters(text: str, count: int) -> set[int]:
    """Places named by a letter (A is the first approach)."""
    found = {ord(m.group(1).upper()) - ord("A") for m in _NAMED_LETTER.finditer(text)}
    articles = {m.start(1) for m in _SENTENCE_WORD.finditer(text)}
    found |= {ord(m.group(1)) - ord("A") for m in _BARE_LETTER.finditer(text) if m.start(1) not in articles}
    return {place for place in found if place < count}


def _numbers(text: str, count: int) -> set[int]:
    places = set()
    for match in _NUMBER.finditer(text):
        if not _COUNTED.match(text, match.end()):
            places.add(int(match.group(1)) - 1)
    return {place for place in places if 0 <= place < count}


def _ordinals(text: str, count: int) -> set[int]:
    places = {_ORDINALS[m.group(1).lower()] for m in _ORDINAL.finditer(text)}
    return {count - 1 if place == -1 else place for place in places if place < count}


def _descriptions(text: str) -> list[str]:
    """The words of each "the … one" in the text that describe an approach (not "the second one")."""
    found = []
    for match in _DESCRIBED.finditer(text):
        words = match.group(1).split()
        if not set(words) & _NOT_DESCRIPTIONS:
            found.append(match.group(1))
    return found


def refers_to(
    instruction: str,
    variations: Sequence[VariationRow],
    *,
    blind: bool = False,
    leaders: Sequence[VariationRow] = (),
) -> Reference:
    """What `instruction` refers to among the run's `variations` (thread order). `blind`: the run is blind
    and its voting open, so approaches are only named by letter, number or place. `leaders`: the run's
    leader by the ranking rule (one), or when it is too close to call those in the running (several)."""
    planned = [v for v in variations if v.planned]
    typed = " ".join(instruction.split())
    text = typed.lower()
    places = _numbers(text, len(planned)) | _letters(typed, len(planned)) | _ordinals(text, len(planned))
    named = {planned[place].id for place in places}
    descriptions = _descriptions(text)
    if not blind:
        for row in planned:
            kind = normalize_type(row.type)
            if re.search(rf"(?<![\w-]){re.escape(kind)}(?![\w-])", text):
                named.add(row.id)
        for described in descriptions:
            words = set(re.split(r"[\s\-_/]+", described))
            named |= {row.id for row in planned if _words(row.type) & words}
    choices = [v for v in planned if v.id in named]
    if _LEADER.search(text):
        if len(leaders) == 1 and not choices:
            return Reference(target=_latest(leaders[0], variations))
        choices += [v for v in leaders if v not in choices] or [v for v in planned if v not in choices]
    if len(choices) == 1:
        return Reference(target=_latest(choices[0], variations))
    if choices:
        return Reference(choices=choices)
    if blind and descriptions:
        return Reference(by_approach=True)
    if descriptions or _UNNAMED.search(text):
        return Reference(choices=planned)
    return Reference()


def _latest(row: VariationRow, variations: Sequence[VariationRow]) -> VariationRow:
    """What a new version of `row`'s approach starts from: its latest written version (a new version
    builds on the one before it), else the row itself."""
    if not row.planned:
        return row
    versions = [v for v in variations if v.type == row.type and v.written]  # thread order
    return versions[-1] if versions else row
