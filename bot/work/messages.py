"""A message a person wrote to the app (an @mention, a message in its DM or AI pane), taken once: Slack
re-sends an event it thinks was missed, and each event id is taken by whichever process sharing the database
sees it first. In a run's thread it is an instruction for that run (a new version of the variation it refers
to, one more variation, or a question with a button for each variation it could mean); anywhere else, a
request for a run. The listeners (mentions, assistant) parse
the event into a `Said`; nothing here calls Slack: notes go to the caller's `reply`, after the ack."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from bot.parse.command_text import HelpCommand, parse_command
from bot.parse.references import refers_to
from bot.render.kit import Message
from bot.render.names import blind_labels, ranked_variations
from bot.render.picking import USE_LETTERS, which_one_message
from bot.slack.run_thread import Origin
from bot.store.ranking import winner
from bot.store.rows import RunRow
from bot.store.store import Store
from bot.work.asked import Asked
from bot.work.reporter import NOT_RECORDED
from bot.work.runner import VOTING_CLOSED, Runner

log = logging.getLogger(__name__)

STILL_WRITING = "The variations are still being written; ask again once they are all in."
LEADERS_ASKED = 3  # "the leader" while it is too close to call: the question offers this many of the best


def too_long(chars: int, limit: int) -> str:
    return f"Your instruction is {chars:,} characters long; the limit is {limit:,}. Shorten it and try again."


def instruct(
    runner: Runner, store: Store, max_task_chars: int, run: RunRow, instruction: str, team_id: str, user_id: str
) -> str | Message | None:
    """Queue the work an instruction in a run's thread asks for (a new version of the variation it refers
    to, else one more variation); why not, or the question of which one it means, else None. Also what a
    message in an AI pane thread asks for."""
    if run.status.working:
        return STILL_WRITING
    if len(instruction) > max_task_chars:
        return too_long(len(instruction), max_task_chars)
    if run.voting_closed:
        return VOTING_CLOSED
    variations = store.variations(run.id)
    blind = run.blind  # and open: a closed run was refused above
    ranking = ranked_variations(variations, store.tallies(run.id))
    won = winner(ranking)
    leaders = [won[0]] if won else [v for v, ranked in ranking if ranked.up][:LEADERS_ASKED]
    reference = refers_to(instruction, variations, blind=blind, leaders=leaders)
    if reference.by_approach:
        return USE_LETTERS
    if reference.choices:
        labels = blind_labels(variations) if blind else None
        return which_one_message(run.id, instruction, reference.choices, labels)
    if reference.target is not None:
        return runner.regenerate(reference.target.id, instruction, team_id, user_id)
    return runner.follow_up(run.id, instruction, team_id, user_id)


@dataclass(frozen=True)
class Said:
    """A message a person wrote to the app (an @mention, a message in its DM or AI pane)."""

    event_id: str
    team_id: str
    channel: str
    user: str
    thread_ts: str | None
    text: str  # as typed, without the app's own mention


def answer(
    said: Said,
    runner: Runner,
    store: Store,
    max_task_chars: int,
    *,
    reply: Callable[..., None],
    help_message: Callable[..., Message],
    origin: Origin,
) -> str | None:
    """Take a message once (Slack re-sends events): in a run's thread it is an instruction for that run,
    else a request for a run posted where `origin` says. Notes go to `reply`; returns the task of the run
    it started, if it started one."""
    try:
        if not store.first_sighting(said.event_id):
            log.info("step=event_again event=%s", said.event_id)
            return None
        thread = said.thread_ts if said.text else None
        run = store.run_in_thread(said.team_id, said.channel, thread) if thread else None
    except sqlite3.Error as error:
        log.error("step=message_not_recorded user=%s error=%s", said.user, error)
        reply(NOT_RECORDED)
        return None
    if not said.text:
        reply(**help_message())
        return None
    if run is not None:
        answered = instruct(runner, store, max_task_chars, run, said.text, said.team_id, said.user)
        if isinstance(answered, dict):  # which one it means: asked back
            reply(**answered)
            return None
        refused, started = answered, None
    else:
        parsed = parse_command(said.text, max_task_chars)
        if isinstance(parsed, HelpCommand):
            reply(**help_message(parsed.problem))
            return None
        refused = runner.start(Asked(origin, parsed.task, parsed.context, fresh=parsed.fresh, blind=parsed.blind))
        started = None if refused else parsed.task
    if refused:
        reply(refused)
    return started
