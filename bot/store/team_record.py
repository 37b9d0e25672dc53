"""Team memory on the bot's side: the record of a run's workspace and channel for the orchestrator's prompt
(see orchestrator/memory.py for what it holds and its budget), and the workspace's catalogue of approach
types, which the plan's names are mapped to (bot/store/catalogue.py).

It is read in the run's own thread, on a read-only snapshot (`Store.reader`), so clicks never wait behind
it; `VARIATIONS_TEAM_MEMORY=off` or a request for fresh ideas leaves it out.
"""

from __future__ import annotations

import logging
import sqlite3

from bot.store.store import Store
from orchestrator.events import TeamRecord
from orchestrator.memory import read_record
from orchestrator.types import Catalogue

log = logging.getLogger(__name__)


class TeamMemory:
    def __init__(self, store: Store, enabled: bool = True) -> None:
        self.store = store
        self.enabled = enabled

    def record(self, team_id: str, channel_id: str, *, fresh: bool = False) -> TeamRecord:
        """The team's record for a run here; empty when memory is off, `fresh` asks for none, or the
        database cannot be read (a run without memory beats no run)."""
        if not self.enabled or fresh:
            return TeamRecord()
        try:
            with self.store.reader() as conn:
                return read_record(conn, team_id, channel_id)
        except sqlite3.Error as error:
            log.warning("step=memory_unread team=%s error=%s", team_id, error)
            return TeamRecord()

    def catalogue(self, team_id: str) -> Catalogue:
        """The workspace's approach types for the plan's names, whatever the memory switches say (merges are
        the team's decisions, not the model's); empty when the database cannot be read."""
        try:
            return self.store.types.of(team_id)
        except sqlite3.Error as error:
            log.warning("step=catalogue_unread team=%s error=%s", team_id, error)
            return Catalogue()
