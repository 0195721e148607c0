"""Read-only records: what the database hands out instead of copies.

A `FrozenRecord` is a `dict` and a `FrozenList` a `list`, so everything that reads JSON values
works on them unchanged (indexing, `in`, `**record`, `==`, `json.dumps`, pydantic, the expression
language), but every method that would change one in place raises `TypeError`. Their nested
values are frozen too, so a record can be shared by every episode and handed to any number of
tools without a copy: nothing can write through it into the pack's tables.

What you build from one is an ordinary value: `{**record, "x": 1}`, `record["items"] + [item]`,
`dict(record)`, a slice. `copy.copy` and `copy.deepcopy` give plain (mutable) copies; pickling
keeps a record frozen.
"""

from __future__ import annotations

import copy
from typing import Any, NoReturn

from pydantic import JsonValue

_READ_ONLY = (
    "records read from the database are read-only; build a new value and write it with "
    "db.update(table, record_id, field=value) (copy.deepcopy(record) gives a mutable copy)"
)


def _refuse(*_arguments: object, **_keywords: object) -> NoReturn:
    raise TypeError(_READ_ONLY)


class FrozenRecord(dict[str, JsonValue]):
    """A record (or a nested object) that cannot be changed in place; see the module's docstring."""

    __slots__ = ()

    __setitem__ = _refuse
    __delitem__ = _refuse
    __ior__ = _refuse
    clear = _refuse
    pop = _refuse
    popitem = _refuse
    setdefault = _refuse
    update = _refuse

    def __copy__(self) -> dict[str, JsonValue]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, JsonValue]:
        return {key: copy.deepcopy(value, memo) for key, value in self.items()}

    def __reduce__(self) -> tuple[type[FrozenRecord], tuple[dict[str, JsonValue]]]:
        return FrozenRecord, (dict(self),)


class FrozenList(list[JsonValue]):
    """A list inside a record that cannot be changed in place; see the module's docstring."""

    __slots__ = ()

    __setitem__ = _refuse
    __delitem__ = _refuse
    __iadd__ = _refuse
    __imul__ = _refuse
    append = _refuse
    extend = _refuse
    insert = _refuse
    pop = _refuse
    remove = _refuse
    clear = _refuse
    sort = _refuse
    reverse = _refuse

    def __copy__(self) -> list[JsonValue]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[JsonValue]:
        return [copy.deepcopy(item, memo) for item in self]

    def __reduce__(self) -> tuple[type[FrozenList], tuple[list[JsonValue]]]:
        return FrozenList, (list(self),)
