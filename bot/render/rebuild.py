"""Messages rebuilt from the database: the store's rows read here, handed to the pure builders of
`bot.render.run_messages` and `variation_messages`, so whoever rewrites a message (the run itself, a vote,
a synthesis) shows the same, current state. This is the one floor where reading and rendering meet."""

from __future__ import annotations

from bot.render.names import blind_labels
from bot.render.run_messages import Message, Progress, run_parent_message
from bot.render.variation_messages import stored_variation_messages
from bot.store.rows import VariationRow, VariationStatus
from bot.store.store import Store


def blind_label(store: Store, row: VariationRow) -> str | None:
    """The letter a variation of a blind run is shown by while its voting is open; None: shown by name."""
    run = store.find_run(row.run_id)
    if run is None or not run.blind or run.voting_closed:
        return None
    return blind_labels(store.variations(row.run_id)).get(row.id)


def stored_parent(store: Store, run_id: int, progress: Progress | None = None) -> Message:
    """A run's parent message: live `progress` while it runs, else its stored outcome."""
    return run_parent_message(store.run(run_id), store.variations(run_id), store.tallies(run_id), progress)


def stored_counts(store: Store, variation_id: int) -> list[Message] | None:
    """The message holding a written variation's buttons, with its current counts; None while it is being
    written (again), when its own final state brings the buttons. Once its run's voting has closed, the
    final counts without buttons."""
    row = store.find_variation(variation_id)
    if row is None or row.status != VariationStatus.DONE:
        return None
    run = store.find_run(row.run_id)
    closed = run is not None and run.voting_closed
    label = blind_label(store, row)
    return [stored_variation_messages(row, store.tally(variation_id), closed=closed, label=label)[-1]]
