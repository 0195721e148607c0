"""tau2-bench databases as pack tables, and tau2 databases built lazily over an episode's tables.

A tau2 `DB` is a pydantic model whose fields are collections of records. Each field becomes one
table of the pack:

- `Dict[str, Model]` (airline, retail, mock): the table, keyed as in tau2;
- `List[Model]` (telecom): keyed by position, zero-padded (`0000`, `0001`, ...) so that the
  tables' id order is the list's order;
- a single `Model` (telecom's user device): a table with one record, keyed by the field's name.

Records are `model_dump(mode="json")`: what validating them gives back unchanged, so an untouched
record stays byte-equal and tau2's DB hash and ours agree on whether two states are equal.

`Tau2View` is the other direction, per tool call: a tau2 DB (built with `model_construct`, no
validation of the whole) whose dict tables validate a record only when the tool reads it. After
the call `write_back` stores into the episode's `Database` the records that changed, so the
episode's copy-on-write tables stay the only state and a call costs what it touches.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel, JsonValue

from policy_agent.environment import Database
from policy_agent.tau2._errors import UnsupportedTau2Database

JsonRecord = dict[str, JsonValue]
_INDEX_WIDTH = 4
"""Digits of a list table's keys; wider lists are refused (their ids would sort out of order)."""


class TableKind(Enum):
    """How a tau2 DB field maps onto a table."""

    MAPPING = "mapping"
    LIST = "list"
    SINGLE = "single"


@dataclass(frozen=True, kw_only=True)
class TableLayout:
    """One field of a tau2 DB and its table."""

    field: str
    kind: TableKind
    model: type[BaseModel]
    """The record's pydantic model."""


def database_layout(database_class: type[BaseModel]) -> tuple[TableLayout, ...]:
    """The tables of a tau2 DB class, one per field, in the model's field order."""
    layouts = []
    for name, info in database_class.model_fields.items():
        annotation = info.annotation
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is dict and len(args) == 2 and args[0] is str and _is_model(args[1]):
            layouts.append(TableLayout(field=name, kind=TableKind.MAPPING, model=args[1]))
        elif origin is list and len(args) == 1 and _is_model(args[0]):
            layouts.append(TableLayout(field=name, kind=TableKind.LIST, model=args[0]))
        elif _is_model(annotation):
            assert isinstance(annotation, type)  # _is_model checked it
            layouts.append(TableLayout(field=name, kind=TableKind.SINGLE, model=annotation))
        else:
            raise UnsupportedTau2Database(
                f"{database_class.__name__}.{name}: {annotation} is not a dict or list of "
                "records, nor one record; the bridge cannot map it onto a table"
            )
    return tuple(layouts)


def tables_of(database: BaseModel) -> dict[str, dict[str, JsonRecord]]:
    """A tau2 DB's content as pack tables (see the module's docstring)."""
    tables: dict[str, dict[str, JsonRecord]] = {}
    for layout in database_layout(type(database)):
        value = getattr(database, layout.field)
        if layout.kind is TableKind.MAPPING:
            tables[layout.field] = {key: _dump(record) for key, record in value.items()}
        elif layout.kind is TableKind.LIST:
            tables[layout.field] = {_index_key(i): _dump(r) for i, r in enumerate(value)}
        else:
            tables[layout.field] = {layout.field: _dump(value)}
    return tables


class Tau2View:
    """A tau2 DB over one episode's `Database`, for one call; `write_back` stores its changes."""

    def __init__(self, database: Database, database_class: type[BaseModel]) -> None:
        """Build the DB without reading any dict table yet (lists and single records are read)."""
        self._database = database
        self._layouts = database_layout(database_class)
        values: dict[str, Any] = {}
        for layout in self._layouts:
            if layout.kind is TableKind.MAPPING:
                values[layout.field] = _LazyTable(database, layout)
            elif layout.kind is TableKind.LIST:
                values[layout.field] = [
                    layout.model.model_validate(record)
                    for _, record in database.reader.records(layout.field)
                ]
            else:
                record = database.reader.get(layout.field, layout.field)
                values[layout.field] = layout.model.model_validate(record)
        self.model = database_class.model_construct(**values)
        """The tau2 DB to hand to tau2's toolkit."""

    def write_back(self) -> None:
        """Store every record the call added, changed or removed into the episode's tables."""
        for layout in self._layouts:
            value = getattr(self.model, layout.field)
            if layout.kind is TableKind.MAPPING:
                if not isinstance(value, _LazyTable):
                    raise UnsupportedTau2Database(
                        f"a tau2 tool replaced the whole {layout.field!r} table; the bridge "
                        "tracks changes record by record"
                    )
                value.write_back()
            elif layout.kind is TableKind.LIST:
                self._write_list(layout.field, value)
            else:
                self._write(layout.field, layout.field, _dump(value))

    def _write_list(self, table: str, records: list[BaseModel]) -> None:
        if len(records) > 10**_INDEX_WIDTH:
            raise UnsupportedTau2Database(
                f"{table} has {len(records)} records; list tables hold at most {10**_INDEX_WIDTH}"
            )
        old = self._database.ids(table)
        for position, record in enumerate(records):
            self._write(table, _index_key(position), _dump(record))
        for key in old[len(records) :]:
            self._database.delete(table, key)

    def _write(self, table: str, key: str, record: JsonRecord) -> None:
        current = self._database.reader.get(table, key)
        if current is None:
            self._database.insert(table, key, record)
        elif current != record:
            self._database.update(table, key, **record)


class _LazyTable(MutableMapping[str, BaseModel]):
    """A tau2 dict table whose records are validated from the episode's tables when read.

    Iteration follows the tables' id order; the tau2 domains whose tools iterate a dict
    (airline flights, retail products and users, mock users) keep their keys sorted already.
    """

    def __init__(self, database: Database, layout: TableLayout) -> None:
        self._database = database
        self._layout = layout
        self._loaded: dict[str, BaseModel] = {}
        self._removed: set[str] = set()

    def __getitem__(self, key: str) -> BaseModel:
        if key in self._loaded:
            return self._loaded[key]
        if key in self._removed or not isinstance(key, str):
            raise KeyError(key)
        record = self._database.reader.get(self._layout.field, key)
        if record is None:
            raise KeyError(key)
        model = self._layout.model.model_validate(record)
        self._loaded[key] = model
        return model

    def __setitem__(self, key: str, value: BaseModel) -> None:
        self._loaded[key] = value
        self._removed.discard(key)

    def __delitem__(self, key: str) -> None:
        self.__getitem__(key)  # KeyError for a missing record, as a dict would raise
        del self._loaded[key]
        self._removed.add(key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str) or key in self._removed:
            return False
        return key in self._loaded or self._database.exists(self._layout.field, key)

    def __iter__(self) -> Iterator[str]:
        stored = self._database.ids(self._layout.field)
        known = set(stored)
        yield from (key for key in stored if key not in self._removed)
        yield from (key for key in self._loaded if key not in known)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def write_back(self) -> None:
        table = self._layout.field
        for key in self._removed:
            if self._database.exists(table, key):
                self._database.delete(table, key)
        for key, model in self._loaded.items():
            record = _dump(model)
            current = self._database.reader.get(table, key)
            if current is None:
                self._database.insert(table, key, record)
            elif current != record:
                self._database.update(table, key, **record)


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _dump(record: BaseModel) -> JsonRecord:
    dumped = record.model_dump(mode="json")
    assert isinstance(dumped, dict)  # a model dumps to a mapping
    return dumped


def _index_key(position: int) -> str:
    return f"{position:0{_INDEX_WIDTH}d}"
