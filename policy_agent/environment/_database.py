"""A per-episode database: copy-on-write over a domain pack's initial tables.

An episode starts in O(1): it shares the pack's tables and keeps only the records it wrote
(an overlay). Memory per episode is what it changed, whatever the size of the database;
tau2-bench deep-copies its whole database three times per simulation instead.

Invariants that make the sharing safe:
- the initial tables are never written to; every write replaces a record in the overlay;
- a stored record is never mutated in place (a write builds a new one), so records may share
  nested values with the initial ones;
- whatever leaves through the public API (`get`, `records`, `snapshot`, `Change`) is a copy.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterator, Mapping
from datetime import datetime

from pydantic import JsonValue

from policy_agent.environment._errors import ToolError
from policy_agent.environment._records import (
    Change,
    JsonRecord,
    canonical_json,
    copy_json,
    json_equal,
)

Tables = Mapping[str, Mapping[str, JsonRecord]]
"""Table name to record id to record, as a domain pack holds its database."""


class _Initial:
    """The initial tables of a pack, shared by every episode, with caches computed once."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.names = sorted(tables)
        self._sorted_ids: dict[str, list[str]] = {}
        self._table_json: dict[str, bytes] = {}
        self._record_json: dict[str, dict[str, bytes]] = {}
        self.hash: str | None = None

    def sorted_ids(self, table: str) -> list[str]:
        if table not in self._sorted_ids:
            self._sorted_ids[table] = sorted(self.tables[table])
        return self._sorted_ids[table]

    def table_json(self, table: str) -> bytes:
        """The canonical JSON of a whole unchanged table."""
        if table not in self._table_json:
            self._table_json[table] = canonical_json(dict(self.tables[table]))
        return self._table_json[table]

    def record_json(self, table: str, record_id: str) -> bytes:
        """`"id":{record}` in canonical JSON, for hashing a table some of whose records changed."""
        cached = self._record_json.setdefault(table, {})
        if record_id not in cached:
            cached[record_id] = _entry_json(record_id, self.tables[table][record_id])
        return cached[record_id]


class DatabaseReader:
    """A read-only view of a `Database` for expressions (the `TableReader` protocol).

    Unlike `Database.get`, an unknown id gives None (`lookup(...)` is then `null`), and records
    are not copied: expressions only read them.
    """

    def __init__(self, database: Database) -> None:
        self._database = database

    def get(self, table: str, record_id: str) -> Mapping[str, JsonValue] | None:
        """The record (without its id), or None when the table has no such id."""
        self._database._require_table(table)
        return self._database._current(table, record_id)

    def records(self, table: str) -> Iterator[tuple[str, Mapping[str, JsonValue]]]:
        """Every `(id, record)` of the table, in id order."""
        return self._database._items(table)

    def has_table(self, table: str) -> bool:
        """Whether the database has this table."""
        return self._database.has_table(table)


class Database:
    """The tables one episode reads and writes, on top of shared initial tables.

    Unknown tables and ids raise `ToolError` with a message the model can act on, so a Python
    tool may let them propagate. Records are read and written as plain dicts; their id is the
    key they are stored under, not a field.
    """

    def __init__(self, tables: Tables, *, now: datetime | None = None) -> None:
        """Wrap initial tables without copying them; they are treated as read-only from now on."""
        self.now = now
        """The pack's clock (`clock:` in domain.yaml), for Python tools with time rules."""
        self._initial = _Initial(tables)
        self._overlay: dict[str, dict[str, JsonRecord | None]] = {}
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

    # ----------------------------------------------------------------------------- reading

    def tables(self) -> list[str]:
        """The table names, sorted."""
        return list(self._initial.names)

    def has_table(self, table: str) -> bool:
        """Whether the database has this table."""
        return table in self._initial.tables

    def exists(self, table: str, record_id: str) -> bool:
        """Whether the table holds a record with this id."""
        self._require_table(table)
        return self._current(table, record_id) is not None

    def ids(self, table: str) -> list[str]:
        """The ids of the table's records, sorted."""
        self._require_table(table)
        return list(self._ids(table))

    def get(self, table: str, record_id: str) -> JsonRecord:
        """A copy of the record; changing the copy changes nothing (write with `update`)."""
        return _copy_record(self._require(table, record_id), where=f"{table}[{record_id}]")

    def records(self, table: str) -> Iterator[tuple[str, JsonRecord]]:
        """Copies of every `(id, record)` of the table, in id order."""
        for record_id, record in self._items(table):
            yield record_id, _copy_record(record, where=f"{table}[{record_id}]")

    def find(self, table: str, /, **field_equals: JsonValue) -> list[tuple[str, JsonRecord]]:
        """Copies of the `(id, record)`s whose fields equal all the given values, in id order.

        Numbers compare by value (`100` finds `100.0`); `true` never matches `1`.
        """
        wanted = [(name, copy_json(v, where=name)) for name, v in field_equals.items()]
        return [
            (record_id, _copy_record(record, where=f"{table}[{record_id}]"))
            for record_id, record in self._items(table)
            if all(json_equal(record.get(name), value, exact=False) for name, value in wanted)
        ]

    # ----------------------------------------------------------------------------- writing

    def insert(self, table: str, record_id: str, record: Mapping[str, object]) -> JsonRecord:
        """Add a record under a new id and return a copy of it."""
        self._require_table(table)
        if not isinstance(record_id, str):
            raise TypeError(f"record ids are strings; got {record_id!r} for table {table!r}")
        if self._current(table, record_id) is not None:
            raise ToolError(f"{_describe(table, record_id)} already exists")
        stored = _copy_record(record, where=f"{table}[{record_id}]")
        self._write(table, record_id, None, stored)
        return _copy_record(stored, where=f"{table}[{record_id}]")

    def update(self, table: str, record_id: str, /, **fields: object) -> JsonRecord:
        """Set fields of a record (adding those it lacks) and return a copy of the result.

        Writing values equal to the current ones changes nothing and records no `Change`.
        """
        before = self._require(table, record_id)
        after = {**before, **_copy_record(fields, where=f"{table}[{record_id}]")}
        if not json_equal(before, after, exact=True):
            self._write(table, record_id, before, after)
        return _copy_record(after, where=f"{table}[{record_id}]")

    def delete(self, table: str, record_id: str) -> JsonRecord:
        """Remove a record and return it."""
        before = self._require(table, record_id)
        self._write(table, record_id, before, None)
        return _copy_record(before, where=f"{table}[{record_id}]")

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
            self._store(change.table, change.record_id, change.before)
        del self._log[savepoint:]

    # ----------------------------------------------------------------------------- whole state

    def snapshot(self) -> dict[str, dict[str, JsonRecord]]:
        """A deep copy of every table as it is now."""
        return {
            table: {i: _copy_record(r, where=f"{table}[{i}]") for i, r in self._items(table)}
            for table in self._initial.names
        }

    def content_hash(self) -> str:
        """sha256 (hex) of the canonical JSON of `snapshot()` (see `canonical_json`).

        The initial state's hash is computed once per pack and shared by its episodes; a changed
        state re-serialises only the records it changed and reuses the rest.
        """
        if not self._overlay:
            if self._initial.hash is None:
                self._initial.hash = self._compute_hash()
            return self._initial.hash
        if self._hash is None:
            self._hash = self._compute_hash()
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

    def _require(self, table: str, record_id: str) -> JsonRecord:
        self._require_table(table)
        record = self._current(table, record_id)
        if record is None:
            raise ToolError(f"{_describe(table, record_id)} not found")
        return record

    def _current(self, table: str, record_id: str) -> JsonRecord | None:
        written = self._overlay.get(table)
        if written is not None and record_id in written:
            return written[record_id]
        return self._initial.tables[table].get(record_id)

    def _ids(self, table: str) -> list[str]:
        initial_ids = self._initial.sorted_ids(table)
        written = self._overlay.get(table)
        if not written:
            return initial_ids
        initial = self._initial.tables[table]
        added = sorted(i for i, r in written.items() if r is not None and i not in initial)
        removed = {i for i, r in written.items() if r is None}
        return [i for i in heapq.merge(initial_ids, added) if i not in removed]

    def _items(self, table: str) -> Iterator[tuple[str, JsonRecord]]:
        self._require_table(table)
        for record_id in self._ids(table):
            record = self._current(table, record_id)
            assert record is not None  # _ids lists only records that exist
            yield record_id, record

    def _write(
        self, table: str, record_id: str, before: JsonRecord | None, after: JsonRecord | None
    ) -> None:
        self._store(table, record_id, after)
        self._log.append(_change(table, record_id, before, after))

    def _store(self, table: str, record_id: str, record: JsonRecord | None) -> None:
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

    def _compute_hash(self) -> str:
        digest = hashlib.sha256(b"{")
        for position, table in enumerate(self._initial.names):
            digest.update(b"," if position else b"")
            digest.update(canonical_json(table) + b":")
            written = self._overlay.get(table)
            if not written:
                digest.update(self._initial.table_json(table))
                continue
            digest.update(b"{")
            for index, record_id in enumerate(self._ids(table)):
                digest.update(b"," if index else b"")
                if record_id in written:
                    digest.update(_entry_json(record_id, written[record_id]))
                else:
                    digest.update(self._initial.record_json(table, record_id))
            digest.update(b"}")
        digest.update(b"}")
        return digest.hexdigest()


def _entry_json(record_id: str, record: JsonRecord | None) -> bytes:
    return canonical_json(record_id) + b":" + canonical_json(record)


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


def _describe(table: str, record_id: str) -> str:
    """`Booking B999` for table `bookings`: how tau2-bench's tools name a missing record."""
    name = _singular(table).replace("_", " ")
    return f"{name[:1].upper()}{name[1:]} {record_id}"


def _singular(table: str) -> str:
    lowered = table.lower()
    if lowered.endswith("ies"):
        return table[:-3] + "y"
    if lowered.endswith(("sses", "xes", "ches", "shes", "zzes")):
        return table[:-2]
    if lowered.endswith("s") and not lowered.endswith(("ss", "us", "is")):
        return table[:-1]
    return table
