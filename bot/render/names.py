"""How a variation is called where people see it: its number, its title, its letter in a blind run,
and the order the ranking rule puts a run's variations in. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.render.mrkdwn import escape
from bot.store.ranking import Ranked, rank
from bot.store.rows import Tally, VariationRow
from orchestrator.events import FOLLOW_UP, SYNTHESIS
from orchestrator.parsing import Approach

NO_VOTES = Tally()


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
