"""The question a follow-up gets when it names several variations or none clearly ("which one do you
mean?"), with a button per variation it could mean and one for something new; and the buttons' values,
which carry the instruction back on a click (Slack keeps nothing for us in between). Pure: no Slack, no
database."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.render.kit import Block, Message, actions, button, context_block, fallback, section
from bot.render.mrkdwn import escape, truncate_plain
from bot.render.names import shown_name
from bot.store.rows import VariationRow

PICK_VARIATION = "pick_variation"
PICK_NEW = "pick_new"
VALUE_LIMIT = 2000  # characters of a button's value (Slack's limit)
LABEL_CHARS = 70  # a button's text is at most 75
USE_LETTERS = (
    "This vote is blind until it closes, so variations go by their letters: say which one by its letter or "
    'number ("make B shorter", "variation B", "the second one").'
)


@dataclass(frozen=True)
class Pick:
    """What a button on the question asks for: a new version of `variation` (0: one more variation of
    `run`) that follows `instruction`."""

    run: int
    variation: int
    instruction: str

    def value(self) -> str:
        return json.dumps({"run": self.run, "variation": self.variation, "instruction": self.instruction})


def read_pick(value: object) -> Pick | None:
    """A button's value read back; None when it is not one of ours (a forged or a mangled click)."""
    try:
        data = json.loads(str(value))
        pick = Pick(int(data["run"]), int(data["variation"]), str(data["instruction"]))
    except (ValueError, TypeError, KeyError):
        return None
    return pick if pick.run > 0 and pick.variation >= 0 else None


def choice_name(row: VariationRow, label: str | None = None) -> str:
    """A variation as a button names it: `2. Lifestyle`, a follow-up or new version by its name, or in an
    open blind run its letter."""
    name = shown_name(row, label)
    return name if label or not row.planned else f"{row.position + 1}. {name}"


def which_one_message(
    run_id: int, instruction: str, choices: Sequence[VariationRow], labels: Mapping[int, str] | None = None
) -> Message:
    """Asked back when an instruction could mean several variations (or any): one button per choice for a
    new version of it, one for something new instead. An instruction too long to ride on a button gets
    the question without buttons."""
    labels = labels or {}
    names = [choice_name(row, labels.get(row.id)) for row in choices]
    listed = ", ".join(f"*{escape(name)}*" for name in names)
    text = f"Which one do you mean? “{escape(truncate_plain(instruction, 200))}” could be about {listed}."
    blocks: list[Block] = [section(text)]
    picks = [(name, Pick(run_id, row.id, instruction)) for name, row in zip(names, choices, strict=True)]
    picks.append(("💬 Something new", Pick(run_id, 0, instruction)))
    if all(len(pick.value()) <= VALUE_LIMIT for _, pick in picks):
        buttons = [
            button(PICK_NEW if pick.variation == 0 else PICK_VARIATION, truncate_plain(name, LABEL_CHARS), pick.value())
            for name, pick in picks
        ]
        blocks.append(actions(f"pick-{run_id}", *buttons[:25]))
        blocks.append(context_block("Pick one for a new version of it, or 💬 for one more variation."))
    else:
        blocks.append(context_block('Say it again with one of them by its number or letter ("make 2 shorter").'))
    return {"text": fallback(f"Which one do you mean? It could be about {', '.join(names)}."), "blocks": blocks}
