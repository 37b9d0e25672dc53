"""Approach type names: cleaned, compared, and resolved through a workspace's catalogue.

A type name is model output shaped by the request, and it becomes a label in Slack, a key in the scoreboard
and a line in later prompts. So it is cleaned once, where it enters (`normalize_type`): control characters
(NUL, ESC…) and the invisible bidi and format characters (U+202E, zero-width ones) are removed, whitespace is
collapsed, case is lowered, the length is bounded.

Two spellings are the same type when they differ only in case, spaces or punctuation (`type_key`: "Tech
specs", "tech-specs" and "TECH SPECS" are one). A workspace's `Catalogue` knows its types and the merges
people made (`/variations types merge OLD into NEW`), and `resolve` maps any name it knows to the canonical
one; a name it does not know stays as it is, a new type.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

DEFAULT_TYPE = "default"
MAX_TYPE_LENGTH = 60
RESERVED_TYPES = frozenset({"synthesis", "follow-up"})
"""Types the app gives (a synthesis, a follow-up), never merged nor mapped to another."""


def clean_type(raw: str) -> str:
    """`raw` without control, format (bidi overrides, zero-width) or unassigned characters; whitespace
    characters become spaces."""
    kept = []
    for char in raw:
        if char.isspace():
            kept.append(" ")
        elif unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Co", "Cn"):
            kept.append(char)
    return "".join(kept)


def normalize_type(raw: str | None) -> str:
    """Types become labels and keys: cleaned, one line, lowercase, bounded length, never empty."""
    if raw is None:
        return DEFAULT_TYPE
    normalized = " ".join(clean_type(raw).split()).lower()[:MAX_TYPE_LENGTH].strip()
    return normalized or DEFAULT_TYPE


def type_key(name: str) -> str:
    """What two spellings of one type share: letters and digits only, case folded ("" for a name that is all
    punctuation, which then only matches itself)."""
    key = "".join(char for char in normalize_type(name).casefold() if char.isalnum())
    return key or normalize_type(name)


@dataclass(frozen=True)
class Catalogue:
    """A workspace's approach types: the canonical spelling of each key, and the active merges (the key of a
    merged name -> the name it was merged into). Empty: every name is its own type."""

    spellings: Mapping[str, str] = field(default_factory=dict)
    merges: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, names: Iterable[str], merges: Iterable[tuple[str, str]] = ()) -> Catalogue:
        """From the names used so far (earliest first: the first spelling of a key is its canonical one) and
        the active merges, oldest first (OLD, NEW): NEW's spelling is the one its merger typed."""
        spellings: dict[str, str] = {}
        for name in names:
            if name not in RESERVED_TYPES:
                spellings.setdefault(type_key(name), normalize_type(name))
        merged: dict[str, str] = {}
        for old, new in merges:
            merged[type_key(old)] = normalize_type(new)
            spellings[type_key(new)] = normalize_type(new)
        return cls(spellings, merged)

    def resolve(self, name: str) -> str:
        """The canonical type of `name`: through the merges, then the known spelling of its key; a name the
        catalogue does not know is returned normalized, a new type."""
        name = normalize_type(name)
        if name in RESERVED_TYPES:
            return name
        key, seen = type_key(name), set()
        while key in self.merges and key not in seen:  # a cycle cannot be stored, but never loop on one
            seen.add(key)
            name = self.merges[key]
            key = type_key(name)
        return self.spellings.get(key, name)

    def groups(self, names: Iterable[str]) -> dict[str, list[str]]:
        """`names` by canonical type: each canonical type's other names (its aliases), sorted."""
        found: dict[str, set[str]] = {}
        for name in names:
            if normalize_type(name) not in RESERVED_TYPES:
                found.setdefault(self.resolve(name), set()).add(normalize_type(name))
        return {canonical: sorted(others - {canonical}) for canonical, others in found.items()}

    def __bool__(self) -> bool:
        return bool(self.spellings or self.merges)
