"""A workspace's approach types in the database: its catalogue, and the merges people make and undo.

Each variation keeps the name the model wrote (`written_type`, NULL when it is its `type`) and its canonical
`type`, which every reader counts by (stats, the Home tab, team memory, verdicts, export). The canonical
type of a written name is the catalogue's (`orchestrator.types.Catalogue`): the earliest spelling of its
key, followed through the active merges in `type_merges`. A merge or a split records itself, then
`reconcile` sets every variation of the workspace to the canonical type of its written name and counts the
workspace's scoreboard again, in the same transaction: so a merge is undone by a split, the variations
written since under the merged name included, and the running totals stay equal to the rows.

The functions taking a `Database` run inside one of the store's write transactions.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from sqlite_utils import Database

from bot.store.connection import Connection, now
from bot.store.scoreboard import keeping_count, rebuild
from orchestrator.types import DEFAULT_TYPE, RESERVED_TYPES, Catalogue, normalize_type, type_key

_TEAM_RUNS = "run_id in (select id from runs where team_id = ?)"
_NAMES = (  # the names a workspace's variations were written with, earliest first
    f"select coalesce(written_type, type) as name from variations where {_TEAM_RUNS} group by name order by min(id)"
)
_TOTALS = """
    select v.type, count(distinct v.id),
        coalesce(sum(o.value = 'up' and not (r.blind = 1 and r.voting_closed_at is null)), 0),
        coalesce(sum(o.value = 'down' and not (r.blind = 1 and r.voting_closed_at is null)), 0)
    from variations v join runs r on r.id = v.run_id left join votes o on o.variation_id = v.id
    where r.team_id = ? and v.status != 'failed'
    group by v.type
"""
_QUOTES = "\"'`\u201c\u201d\u2018\u2019"  # straight and curly quotes around a typed name
_ACTIVE = "select old, new, merged_by, merged_at from type_merges where team_id = ? and split_at is null order by id"


class TypeChangeRefused(ValueError):
    """A merge or split that cannot be done; the message says why, for the person who asked."""


@dataclass(frozen=True)
class Merge:
    """An active merge: `old` (with its aliases) counts as `new`, since `merged_by` made it `merged_at`."""

    old: str
    new: str
    merged_by: str
    merged_at: str


@dataclass(frozen=True)
class TypeEntry:
    """One canonical type of a workspace, as `/variations types` lists it."""

    type: str
    variations: int
    up: int
    down: int
    aliases: tuple[str, ...]


def read_catalogue(conn: sqlite3.Connection, team_id: str) -> Catalogue:
    """The workspace's catalogue: the names its variations were written with, and its active merges."""
    names = [name for (name,) in conn.execute(_NAMES, [team_id])]
    merges = [(old, new) for old, new, _, _ in conn.execute(_ACTIVE, [team_id])]
    return Catalogue.build(names, merges)


def active_merges(conn: sqlite3.Connection, team_id: str) -> list[Merge]:
    return [Merge(*row) for row in conn.execute(_ACTIVE, [team_id])]


def listing(conn: sqlite3.Connection, team_id: str) -> list[TypeEntry]:
    """Every canonical type of the workspace with its variations (those that did not fail), its votes and its
    aliases, the most voted first. The votes of a blind run whose voting is open are left out: they would
    tell which approach a letter is."""
    catalogue = read_catalogue(conn, team_id)
    names = [name for (name,) in conn.execute(_NAMES, [team_id])]
    names += [name for old, new, _, _ in conn.execute(_ACTIVE, [team_id]) for name in (old, new)]
    totals = {kind: (count, up, down) for kind, count, up, down in conn.execute(_TOTALS, [team_id])}
    entries = [
        TypeEntry(kind, *totals.get(kind, (0, 0, 0)), aliases=tuple(aliases))
        for kind, aliases in catalogue.groups(names).items()
    ]
    return sorted(entries, key=lambda e: (-(e.up + e.down), -e.variations, e.type))


def merge(db: Database, team_id: str, old: str, new: str, user_id: str) -> Merge:
    """Merge the type `old` (with its aliases) into `new`, a known type or a new name."""
    old_name, new_name = _name(old), _name(new)
    catalogue = read_catalogue(db.conn, team_id)
    if type_key(old_name) in catalogue.merges:
        into = catalogue.resolve(old_name)
        raise TypeChangeRefused(
            f"“{old_name}” is already merged into “{into}”. To move it, first undo that: "
            f"`/variations types split {old_name}`."
        )
    if type_key(old_name) not in catalogue.spellings:
        raise TypeChangeRefused(f"This workspace has no approach type “{old_name}”; `/variations types` lists them.")
    source, target = catalogue.resolve(old_name), catalogue.resolve(new_name)
    if source == target:
        raise TypeChangeRefused(f"“{old_name}” and “{new_name}” are already one type, “{target}”.")
    done = Merge(source, target, user_id, now())
    db.table("type_merges").insert({"team_id": team_id, **done.__dict__})
    reconcile(db, team_id)
    return done


def split(db: Database, team_id: str, old: str, user_id: str) -> Merge:
    """Undo the merge of `old`: it and its aliases are their own type again. Returns the merge undone."""
    old_name = _name(old)
    for merge_id, merged_old, new, merged_by, merged_at in db.execute(
        "select id, old, new, merged_by, merged_at from type_merges where team_id = ? and split_at is null",
        [team_id],
    ).fetchall():
        if type_key(merged_old) == type_key(old_name):
            db.execute("update type_merges set split_by = ?, split_at = ? where id = ?", [user_id, now(), merge_id])
            reconcile(db, team_id)
            return Merge(merged_old, new, merged_by, merged_at)
    raise TypeChangeRefused(f"“{old_name}” was not merged into another type, so there is nothing to split.")


def canonical_at_insert(db: Database, run_id: int, kind: str, written: str) -> str:
    """The type a new variation is stored under: its plan named it `kind` by the catalogue it was planned
    with, from the name the model `written`; a merge or a split made since (while the plan streamed) is
    applied here, in the insert's transaction. Reads the workspace's active merges only (a few rows, usually
    none), not its names."""
    if kind in RESERVED_TYPES:
        return kind
    merges = [(old, new) for old, new, _, _ in db.execute(_ACTIVE, [_team_of(db, run_id)]).fetchall()]
    if not merges and written == kind:
        return kind
    canonical = Catalogue.build([kind], merges).resolve(written)
    return kind if _repeat_of(kind, canonical) else canonical


def _team_of(db: Database, run_id: int) -> str:
    found = db.execute("select team_id from runs where id = ?", [run_id]).fetchone()
    return str(found[0]) if found else ""


def reconcile(db: Database, team_id: str, *, recount: bool = True) -> int:
    """Set each variation of the workspace to the canonical type of the name it was written with; with
    `recount`, count the workspace's scoreboard again. Returns the variations changed."""
    catalogue = read_catalogue(db.conn, team_id)
    changed = 0
    pairs = db.execute(
        f"select distinct type, coalesce(written_type, type) from variations where {_TEAM_RUNS}", [team_id]
    ).fetchall()
    with keeping_count(db):
        for kind, written in pairs:
            canonical = catalogue.resolve(written)
            if canonical != kind and kind not in RESERVED_TYPES and not _repeat_of(kind, canonical):
                changed += db.execute(
                    "update variations set type = ?, written_type = ?"
                    f" where type = ? and coalesce(written_type, type) = ? and {_TEAM_RUNS}",
                    [canonical, None if canonical == written else written, kind, written, team_id],
                ).rowcount
    if recount and changed:
        rebuild(db, team_id)
    return changed


def _repeat_of(kind: str, canonical: str) -> bool:
    """Whether `kind` is the name a plan gave a second approach of type `canonical` ("technical-2")."""
    base, _, n = kind.rpartition("-")
    return base == canonical and n.isdigit()


def _name(typed: str) -> str:
    """A type name as a person typed it (quotes allowed), cleaned like the model's; never a reserved one."""
    name = normalize_type(typed.strip().strip(_QUOTES))
    if name == DEFAULT_TYPE and typed.strip().lower() != DEFAULT_TYPE:
        raise TypeChangeRefused("Name the types, e.g. `/variations types merge tech specs into technical`.")
    if name in RESERVED_TYPES:
        raise TypeChangeRefused(f"“{name}” is the app's own type; it cannot be merged or split.")
    return name


class Types:
    """The store's part that reads and changes a workspace's approach types (`store.types`)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def of(self, team_id: str) -> Catalogue:
        """The workspace's approach types, which a plan's names are mapped to."""
        with self._connection.reader() as conn:
            return read_catalogue(conn, team_id)

    def listing(self, team_id: str) -> tuple[list[TypeEntry], list[Merge]]:
        """The workspace's types with their votes and aliases, and its active merges (one snapshot)."""
        with self._connection.reader() as conn:
            return listing(conn, team_id), active_merges(conn, team_id)

    def merge(self, team_id: str, old: str, new: str, user_id: str) -> Merge:
        """Merge `old` into `new` for the workspace; TypeChangeRefused says why not."""
        with self._connection.write() as db:
            return merge(db, team_id, old, new, user_id)

    def split(self, team_id: str, old: str, user_id: str) -> Merge:
        """Undo the merge of `old`; TypeChangeRefused says why not."""
        with self._connection.write() as db:
            return split(db, team_id, old, user_id)
