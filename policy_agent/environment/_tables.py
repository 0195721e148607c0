"""A pack's initial tables, shared by every episode, and what is computed from them once.

Everything here is derived lazily, on first use, and then kept for the life of the pack: the
sorted ids of a table, an index per field that `find` matches on, the frozen (read-only) form
of each record that is read, the numbered ids `id_prefix` counts from, and the hash sum. The
tables themselves are never written to, so none of it ever goes stale; an episode's own writes
live in its overlay (`Database`), which every query consults besides these.

Two threads filling the same cache at once both compute the same value and one keeps it: each
entry is built whole and then stored, so a reader never sees half an index.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping

from pydantic import JsonValue

from policy_agent.environment._frozen import FrozenRecord
from policy_agent.environment._hash import finish, record_term, table_sum
from policy_agent.environment._records import NEVER_EQUAL, JsonRecord, freeze_record, match_key

Tables = Mapping[str, Mapping[str, JsonRecord]]
"""Table name to record id to record, as a domain pack holds its database."""

Numbered = tuple[int, int, str]
"""An id `prefix` + digits as (number, digits written, id): B0042 is (42, 4, "B0042")."""


class InitialTables:
    """The initial tables of a pack and their caches (see the module's docstring)."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.names = sorted(tables)
        self._sorted_ids: dict[str, list[str]] = {}
        self._frozen: dict[str, dict[str, FrozenRecord]] = {name: {} for name in tables}
        self._indexes: dict[tuple[str, str], dict[Hashable, list[str]]] = {}
        self._numbered: dict[tuple[str, str], list[Numbered]] = {}
        self._terms: dict[tuple[str, str], int] = {}
        self._total: int | None = None
        self._hash: str | None = None

    def record(self, table: str, record_id: str) -> FrozenRecord | None:
        """The record, read-only (frozen the first time it is read), or None."""
        frozen = self._frozen[table].get(record_id)
        if frozen is None:
            record = self.tables[table].get(record_id)
            if record is None:
                return None
            frozen = freeze_record(record, where=f"{table}[{record_id}]")
            self._frozen[table][record_id] = frozen
        return frozen

    def sorted_ids(self, table: str) -> list[str]:
        """The table's ids in order."""
        ids = self._sorted_ids.get(table)
        if ids is None:
            ids = self._sorted_ids[table] = sorted(self.tables[table])
        return ids

    def posting(self, table: str, field: str, key: Hashable) -> list[str]:
        """The ids, in order, of the records whose `field` has this `match_key` (a missing field
        counts as null, as `find` compares it)."""
        index = self._indexes.get((table, field))
        if index is None:
            index = {}
            records = self.tables[table]
            for record_id in self.sorted_ids(table):
                value_key = match_key(records[record_id].get(field))
                if value_key is not NEVER_EQUAL:
                    index.setdefault(value_key, []).append(record_id)
            self._indexes[(table, field)] = index
        return index.get(key, [])

    def numbered(self, table: str, prefix: str) -> list[Numbered]:
        """The ids that are `prefix` plus digits, highest number first (then most digits)."""
        found = self._numbered.get((table, prefix))
        if found is None:
            pattern = numbered_id(prefix)
            found = sorted(
                (
                    number_of(match, record_id)
                    for record_id in self.tables[table]
                    if (match := pattern.fullmatch(record_id))
                ),
                reverse=True,
            )
            self._numbered[(table, prefix)] = found
        return found

    def term(self, table: str, record_id: str) -> int:
        """The hash term of an initial record (see `_hash`)."""
        term = self._terms.get((table, record_id))
        if term is None:
            record: Mapping[str, JsonValue] = self.tables[table][record_id]
            term = self._terms[(table, record_id)] = record_term(table, record_id, record)
        return term

    def total(self) -> int:
        """The hash sum of all the initial records, computed once."""
        if self._total is None:
            self._total = sum(table_sum(t, self.tables[t].items()) for t in self.names)
        return self._total

    def content_hash(self) -> str:
        """The hash of the initial state."""
        if self._hash is None:
            self._hash = finish(self.names, self.total())
        return self._hash


def numbered_id(prefix: str) -> re.Pattern[str]:
    """The pattern of the ids `id_prefix: prefix` counts: the prefix, then digits."""
    return re.compile(re.escape(prefix) + r"(\d+)")


def number_of(match: re.Match[str], record_id: str) -> Numbered:
    """The `Numbered` form of an id that `numbered_id` matched."""
    return int(match[1]), len(match[1]), record_id
