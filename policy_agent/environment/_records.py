"""JSON records: copying, comparing, canonical bytes and per-field differences."""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from pydantic import JsonValue

from policy_agent.environment._frozen import FrozenList, FrozenRecord
from policy_agent.records import RecordedChange

JsonRecord = dict[str, JsonValue]
"""One record of a table: field name to JSON value (its id is the key it is stored under)."""


class Absent(Enum):
    """The type of `ABSENT`."""

    ABSENT = "absent"

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = Absent.ABSENT
"""Stands for a field (or record) that does not exist, as opposed to one that holds `null`."""


def copy_json(value: object, *, where: str, frozen: bool = False) -> JsonValue:
    """A deep copy of a JSON value; tuples become lists and str/int/float subclasses plain values.

    With `frozen`, its lists and objects are `FrozenList`s and `FrozenRecord`s (frozen values
    are copied too: anyone may build a `FrozenRecord` around a list they keep).
    Raises TypeError, naming `where`, for anything JSON cannot hold (a datetime, a set, a model):
    it is caught when a tool writes it, not later when the database is hashed.
    """
    if value is None or type(value) in (str, int, float, bool):
        return value  # type: ignore[return-value]  # narrowed by the type() test above
    if isinstance(value, dict):
        copied: dict[str, JsonValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"{where}: key {key!r} is not a string; JSON objects have string keys"
                )
            copied[str.__str__(key)] = copy_json(item, where=f"{where}.{key}", frozen=frozen)
        return FrozenRecord(copied) if frozen else copied
    if isinstance(value, list | tuple):
        items = [copy_json(x, where=f"{where}[{i}]", frozen=frozen) for i, x in enumerate(value)]
        return FrozenList(items) if frozen else items
    # Enum members mixed with str/int/float (StrEnum, IntEnum) store their plain value.
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    raise TypeError(
        f"{where}: a {type(value).__name__} is not a JSON value; "
        "store strings, numbers, booleans, None, lists and dicts"
    )


def freeze_record(record: Mapping[str, object], *, where: str) -> FrozenRecord:
    """A frozen deep copy of a record (any mapping of field names), checked as `copy_json` does."""
    frozen = copy_json(dict(record), where=where, frozen=True)
    assert isinstance(frozen, FrozenRecord)  # a dict copies to a FrozenRecord
    return frozen


def json_equal(a: JsonValue, b: JsonValue, *, exact: bool) -> bool:
    """Whether two JSON values are equal; `true` never equals `1`.

    With `exact`, `1` and `1.0` differ too, as they do in canonical JSON (and so in the hash);
    without it numbers compare by value, as a model's `100` should find a stored `100.0`.
    """
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k], exact=exact) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(
            json_equal(x, y, exact=exact) for x, y in zip(a, b, strict=True)
        )
    if exact or isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


NEVER_EQUAL: Hashable = object()
"""The `match_key` of a value that equals nothing, itself included (one holding a NaN)."""


def match_key(value: JsonValue) -> Hashable:
    """A hashable stand-in for a JSON value: two values have equal keys exactly when
    `json_equal(a, b, exact=False)`, so equal keys find equal values in a dict (an index).

    Numbers are their own keys (Python already has `1 == 1.0` with equal hashes); booleans,
    which Python makes equal to 1 and 0, are tagged apart; objects compare whatever the order of
    their keys. A value holding a NaN gets `NEVER_EQUAL`, as `json_equal` finds it equal to
    nothing.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return NEVER_EQUAL if isinstance(value, float) and math.isnan(value) else value
    if isinstance(value, list):
        items = tuple(match_key(item) for item in value)
        return NEVER_EQUAL if NEVER_EQUAL in items else ("list", items)
    fields = frozenset((name, match_key(item)) for name, item in value.items())
    return NEVER_EQUAL if any(key is NEVER_EQUAL for _, key in fields) else ("object", fields)


@dataclass(frozen=True, kw_only=True)
class FieldDiff:
    """One field that differs between two versions of a record."""

    path: str
    """Where the field is: `status`, `payment.amount`, `flights[0].date`."""
    before: JsonValue | Absent
    """The old value, or `ABSENT` when the field did not exist."""
    after: JsonValue | Absent
    """The new value, or `ABSENT` when the field was removed."""

    def __str__(self) -> str:
        return f"{self.path}: {_show(self.before)} -> {_show(self.after)}"


def field_diff(before: JsonValue | Absent, after: JsonValue | Absent) -> list[FieldDiff]:
    """The leaf fields that differ between two values, in the order the fields are written.

    Objects are compared key by key and lists of equal length item by item; anything else that
    differs (a list that grew, a number that became a string) is one difference at its path.
    """
    found: list[FieldDiff] = []
    _collect("", before, after, found)
    return found


def _collect(
    path: str, before: JsonValue | Absent, after: JsonValue | Absent, found: list[FieldDiff]
) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in [*before, *(k for k in after if k not in before)]:
            _collect(
                f"{path}.{key}" if path else key,
                before.get(key, ABSENT),
                after.get(key, ABSENT),
                found,
            )
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            _collect(f"{path}[{index}]", old, new, found)
    elif before is ABSENT or after is ABSENT or not json_equal(before, after, exact=True):
        found.append(FieldDiff(path=path, before=before, after=after))


def _show(value: JsonValue | Absent) -> str:
    return "(absent)" if value is ABSENT else json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True, kw_only=True)
class Change:
    """One record that differs between two states of a database (or one write to it)."""

    table: str
    record_id: str
    before: JsonRecord | None
    """The record before, or None when it did not exist (an insert)."""
    after: JsonRecord | None
    """The record after, or None when it was removed (a delete)."""

    @property
    def kind(self) -> Literal["insert", "update", "delete"]:
        """What happened to the record."""
        if self.before is None:
            return "insert"
        return "delete" if self.after is None else "update"

    def field_diff(self) -> list[FieldDiff]:
        """The fields that differ; for an insert or delete, every field of the record."""
        return field_diff(self.before or {}, self.after or {})

    def recorded(self) -> RecordedChange:
        """The change as an episode records it."""
        return RecordedChange(
            table=self.table, record_id=self.record_id, before=self.before, after=self.after
        )

    @classmethod
    def of_record(cls, recorded: RecordedChange) -> Change:
        """The change an episode recorded (for its `field_diff`)."""
        return cls(
            table=recorded.table,
            record_id=recorded.record_id,
            before=recorded.before,
            after=recorded.after,
        )

    def __str__(self) -> str:
        fields = "; ".join(str(d) for d in self.field_diff())
        return f"{self.kind} {self.table}[{self.record_id}]: {fields}"
