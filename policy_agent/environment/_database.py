"""A per-episode database: copy-on-write over a domain pack's initial tables.

An episode starts in O(1): it shares the pack's tables and keeps only the records it wrote
(an overlay). Memory per episode is what it changed, whatever the size of the database;
tau2-bench deep-copies its whole database three times per simulation instead.

Invariants that make the sharing safe:
- the initial tables are never written to; every write replaces a record in the overlay;
- a stored record is never changed in place: it is frozen (`FrozenRecord`, read-only down to
  its nested values) and a write stores a new one, so records are shared, not copied, between
  the pack's caches, every episode's overlay and every caller;
- whatever leaves through the public API is frozen (`get`, `find`, `page`, `records`, what a
  write returns) or a plain copy (`snapshot`, `Change`).

A query costs what it returns, not what the tables hold (`_tables` keeps what is computed once
per pack): `get` and `exists` are a dict lookup; `find` reads the initial records whose most
selective field matches (one index per field, built on first use) plus the episode's own writes
to the table; `page` finds `after` by bisection and reads `limit` records; `content_hash` takes
the pack's hash sum and adjusts it for each record the episode wrote. `ids`, `records`,
`snapshot` and a `find` with no field read the whole table, as they must.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator, Mapping
from datetime import datetime
from operator import itemgetter

from pydantic import JsonValue

from policy_agent.environment._errors import ToolError, describe_record
from policy_agent.environment._frozen import FrozenRecord
from policy_agent.environment._hash import finish, record_term
from policy_agent.environment._records import (
    NEVER_EQUAL,
    Change,
    JsonRecord,
    copy_json,
    freeze_record,
    json_equal,
    match_key,
)
from policy_agent.environment._tables import InitialTables, Tables, number_of, numbered_id

Row = tuple[str, FrozenRecord]
"""A record with its id, as queries return them."""


class DatabaseReader:
    """A `Database` as the expression language reads it (the `TableReader` protocol).

    Unlike `Database.get`, an unknown id gives None (`lookup(...)` is then `null`).
    """

    def __init__(self, database: Database) -> None:
        self._database = database

    def get(self, table: str, record_id: str) -> Mapping[str, JsonValue] | None:
        """The record (without its id), or None when the table has no such id."""
        return self._database.lookup(table, record_id)

    def records(self, table: str) -> Iterator[tuple[str, Mapping[str, JsonValue]]]:
        """Every `(id, record)` of the table, in id order."""
        return self._database.records(table)

    def has_table(self, table: str) -> bool:
        """Whether the database has this table."""
        return self._database.has_table(table)


class Database:
    """The tables one episode reads and writes, on top of shared initial tables.

    Unknown tables and ids raise `ToolError` with a message the model can act on, so a Python
    tool may let them propagate. Records are read as read-only dicts (`FrozenRecord`) and
    written as plain ones; their id is the key they are stored under, not a field.
    """

    def __init__(self, tables: Tables, *, now: datetime | None = None) -> None:
        """Wrap initial tables without copying them; they are treated as read-only from now on."""
        self.now = now
        """The pack's clock (`clock:` in domain.yaml), for Python tools with time rules."""
        self._initial = InitialTables(tables)
        self._overlay: dict[str, dict[str, FrozenRecord | None]] = {}
        """Records written by this episode, by table and id; None marks a removed record."""
        self._log: list[Change] = []
        self._hash: str | None = None
        self.reader = DatabaseReader(self)
        """This database as the expression language reads it."""

    def fresh(self) -> Database:
        """A database at the initial state, sharing the initial tables and their caches: O(1)."""
        database = Database.__new__(Database)
        database.now = self.now
        database._initial = self._initial
        database._overlay = {}
        database._log = []
        database._hash = None
        database.reader = DatabaseReader(database)
        return database

    def copy(self) -> Database:
        """This state as a new database over the same initial tables: O(records written).

        Writes to either leave the other alone. The copy's change log starts empty (its
        `savepoint()` is 0, so a rollback never undoes what it was copied with); `diff()` still
        compares with the pack's initial tables.
        """
        database = self.fresh()
        database._overlay = {table: dict(rows) for table, rows in self._overlay.items()}
        database._hash = self._hash
        return database

    def absorb(self, copy: Database) -> None:
        """Take the state of `copy`, a `copy()` of this database, and the writes it logged.

        For work done on a copy, out of this database's reach (a Python tool in a worker
        thread, which may overrun and be abandoned): this database must not have been written
        to since the copy was made.
        """
        self._overlay = copy._overlay
        self._log.extend(copy._log)
        self._hash = copy._hash

    # ----------------------------------------------------------------------------- reading

    def tables(self) -> list[str]:
        """The table names, sorted."""
        return list(self._initial.names)

    def has_table(self, table: str) -> bool:
        """Whether the database has this table."""
        return table in self._initial.tables

    def exists(self, table: str, record_id: str) -> bool:
        """Whether the table holds a record with this id."""
        return self.lookup(table, record_id) is not None

    def lookup(self, table: str, record_id: str) -> FrozenRecord | None:
        """The record, or None when the table has no such id (an unknown table is a ToolError)."""
        self._require_table(table)
        return self._current(table, record_id)

    def get(self, table: str, record_id: str) -> FrozenRecord:
        """The record, read-only: write with `update` (`copy.deepcopy` gives a mutable copy)."""
        record = self.lookup(table, record_id)
        if record is None:
            raise ToolError(f"{describe_record(table, record_id)} not found")
        return record

    def ids(self, table: str) -> list[str]:
        """The ids of the table's records, sorted."""
        self._require_table(table)
        return list(self._ids(table))

    def records(self, table: str) -> Iterator[Row]:
        """Every `(id, record)` of the table, in id order."""
        self._require_table(table)
        for record_id in self._ids(table):
            record = self._current(table, record_id)
            assert record is not None  # _ids lists only records that exist
            yield record_id, record

    def find(self, table: str, /, **field_equals: JsonValue) -> list[Row]:
        """The `(id, record)`s whose fields equal all the given values, in id order.

        Numbers compare by value (`100` finds `100.0`); `true` never matches `1`; a missing
        field matches None. Reads only the initial records whose value of the most selective
        of the fields matches, and this episode's writes to the table.
        """
        self._require_table(table)
        if not field_equals:
            return list(self.records(table))
        wanted = {name: copy_json(value, where=name) for name, value in field_equals.items()}
        keys = {name: match_key(value) for name, value in wanted.items()}
        if any(key is NEVER_EQUAL for key in keys.values()):
            return []

        def matches(record: Mapping[str, JsonValue]) -> bool:
            return all(json_equal(record.get(n), v, exact=False) for n, v in wanted.items())

        initial = self._initial.tables[table]
        written = self._overlay.get(table, {})
        postings = (self._initial.posting(table, name, key) for name, key in keys.items())
        candidates = min(postings, key=len)
        unchanged = [
            record_id
            for record_id in candidates
            if record_id not in written and matches(initial[record_id])
        ]
        found = [(record_id, self._initial_record(table, record_id)) for record_id in unchanged]
        mine = sorted(
            (
                (record_id, record)
                for record_id, record in written.items()
                if record is not None and matches(record)
            ),
            key=itemgetter(0),
        )
        return list(heapq.merge(found, mine, key=itemgetter(0)))

    def page(self, table: str, *, after: str | None = None, limit: int) -> list[Row]:
        """Up to `limit` `(id, record)`s in id order, starting after the id `after` (which need
        not exist) or at the first record: pass the last id of one page to get the next."""
        self._require_table(table)
        if limit < 1:
            raise ValueError(f"a page holds at least one record, not {limit}")
        initial_ids = self._initial.sorted_ids(table)
        start = 0 if after is None else bisect.bisect_right(initial_ids, after)
        initial = self._initial.tables[table]
        written = self._overlay.get(table, {})
        added = sorted(
            record_id
            for record_id, record in written.items()
            if record is not None
            and record_id not in initial
            and (after is None or record_id > after)
        )
        rows: list[Row] = []
        following = (initial_ids[position] for position in range(start, len(initial_ids)))
        for record_id in heapq.merge(following, added):
            record = self._current(table, record_id)
            if record is not None:
                rows.append((record_id, record))
                if len(rows) == limit:
                    break
        return rows

    def highest_number(self, table: str, prefix: str) -> tuple[int, int] | None:
        """The highest number among the ids that are `prefix` plus digits, with how many digits
        it was written with (the most, for equal numbers); None when there is none."""
        self._require_table(table)
        written = self._overlay.get(table, {})
        initial = self._initial.tables[table]
        pattern = numbered_id(prefix)
        candidates = [
            number_of(match, record_id)
            for record_id, record in written.items()
            if record is not None
            and record_id not in initial
            and (match := pattern.fullmatch(record_id))
        ]
        # The initial ones come highest first: the first one this episode did not remove.
        removed = {record_id for record_id, record in written.items() if record is None}
        kept = (n for n in self._initial.numbered(table, prefix) if n[2] not in removed)
        highest_kept = next(kept, None)
        if highest_kept is not None:
            candidates.append(highest_kept)
        best = max(candidates, default=None)
        return None if best is None else (best[0], best[1])

    # ----------------------------------------------------------------------------- writing

    def insert(self, table: str, record_id: str, record: Mapping[str, object]) -> FrozenRecord:
        """Add a record under a new id and return it."""
        self._require_table(table)
        if not isinstance(record_id, str):
            raise TypeError(f"record ids are strings; got {record_id!r} for table {table!r}")
        if self._current(table, record_id) is not None:
            raise ToolError(f"{describe_record(table, record_id)} already exists")
        stored = freeze_record(record, where=f"{table}[{record_id}]")
        self._write(table, record_id, None, stored)
        return stored

    def update(self, table: str, record_id: str, /, **fields: object) -> FrozenRecord:
        """Set fields of a record (adding those it lacks) and return the result.

        Writing values equal to the current ones changes nothing and records no `Change`.
        """
        before = self.get(table, record_id)
        after = FrozenRecord({**before, **freeze_record(fields, where=f"{table}[{record_id}]")})
        if json_equal(before, after, exact=True):
            return before
        self._write(table, record_id, before, after)
        return after

    def delete(self, table: str, record_id: str) -> FrozenRecord:
        """Remove a record and return it."""
        before = self.get(table, record_id)
        self._write(table, record_id, before, None)
        return before

    @property
    def changes(self) -> tuple[Change, ...]:
        """Every write of this episode, in order."""
        return tuple(self._log)

    def savepoint(self) -> int:
        """A mark to `rollback` to: how many writes there have been."""
        return len(self._log)

    def rollback(self, savepoint: int) -> None:
        """Undo every write made since `savepoint`, newest first, and forget them."""
        for change in reversed(self._log[savepoint:]):
            before = change.before
            where = f"{change.table}[{change.record_id}]"
            self._store(
                change.table,
                change.record_id,
                None if before is None else freeze_record(before, where=where),
            )
        del self._log[savepoint:]

    # ----------------------------------------------------------------------------- whole state

    def snapshot(self) -> dict[str, dict[str, JsonRecord]]:
        """A deep (plain, mutable) copy of every table as it is now."""
        return {
            table: {i: _copy_record(r, where=f"{table}[{i}]") for i, r in self.records(table)}
            for table in self._initial.names
        }

    def content_hash(self) -> str:
        """The canonical hash of this state (its definition is in `_hash`): O(records written).

        The initial state's hash is computed once per pack and shared by its episodes.
        """
        if not self._overlay:
            return self._initial.content_hash()
        if self._hash is None:
            total = self._initial.total()
            for table, rows in self._overlay.items():
                initial = self._initial.tables[table]
                for record_id, record in rows.items():
                    if record is not None:
                        total += record_term(table, record_id, record)
                    if record_id in initial:
                        total -= self._initial.term(table, record_id)
            self._hash = finish(self._initial.names, total)
        return self._hash

    def diff(self, other: Database | None = None) -> list[Change]:
        """The records that differ from `other` (default: the initial state) to this state.

        Sorted by table and id; `before` is the record in `other`, `after` the one here. Two
        databases over the same initial tables compare only what either of them wrote.
        """
        base = other if other is not None else self.fresh()
        if base._initial is self._initial:
            keys = {(t, i) for db in (self, base) for t, rows in db._overlay.items() for i in rows}
        else:
            keys = {(t, i) for db in (self, base) for t in db._initial.names for i in db._ids(t)}
        changes = []
        for table, record_id in sorted(keys):
            before = base._current(table, record_id) if base.has_table(table) else None
            after = self._current(table, record_id) if self.has_table(table) else None
            if before is None and after is None:
                continue
            if before is None or after is None or not json_equal(before, after, exact=True):
                changes.append(_change(table, record_id, before, after))
        return changes

    # ----------------------------------------------------------------------------- internals

    def _require_table(self, table: str) -> None:
        if table not in self._initial.tables:
            names = ", ".join(self._initial.names) or "(none)"
            raise ToolError(f"there is no table {table!r}; the tables are: {names}")

    def _current(self, table: str, record_id: str) -> FrozenRecord | None:
        written = self._overlay.get(table)
        if written is not None and record_id in written:
            return written[record_id]
        return self._initial.record(table, record_id)

    def _initial_record(self, table: str, record_id: str) -> FrozenRecord:
        record = self._initial.record(table, record_id)
        assert record is not None  # only called with ids of the initial table
        return record

    def _ids(self, table: str) -> list[str]:
        initial_ids = self._initial.sorted_ids(table)
        written = self._overlay.get(table)
        if not written:
            return initial_ids
        initial = self._initial.tables[table]
        added = sorted(i for i, r in written.items() if r is not None and i not in initial)
        removed = {i for i, r in written.items() if r is None}
        return [i for i in heapq.merge(initial_ids, added) if i not in removed]

    def _write(
        self, table: str, record_id: str, before: FrozenRecord | None, after: FrozenRecord | None
    ) -> None:
        self._store(table, record_id, after)
        self._log.append(_change(table, record_id, before, after))

    def _store(self, table: str, record_id: str, record: FrozenRecord | None) -> None:
        """Put a record in the overlay, or drop it from there when it is the initial one again.

        Dropping keeps a state that wrote and then reverted cheap: its hash is the cached one.
        """
        initial = self._initial.tables[table].get(record_id)
        written = self._overlay.setdefault(table, {})
        if (record is None and initial is None) or (
            record is not None and initial is not None and json_equal(record, initial, exact=True)
        ):
            written.pop(record_id, None)
            if not written:
                del self._overlay[table]
        else:
            written[record_id] = record
        self._hash = None


def _copy_record(record: Mapping[str, object], *, where: str) -> JsonRecord:
    copied = copy_json(dict(record), where=where)
    assert isinstance(copied, dict)  # a dict copies to a dict
    return copied


def _change(
    table: str, record_id: str, before: JsonRecord | None, after: JsonRecord | None
) -> Change:
    where = f"{table}[{record_id}]"
    return Change(
        table=table,
        record_id=record_id,
        before=None if before is None else _copy_record(before, where=where),
        after=None if after is None else _copy_record(after, where=where),
    )
