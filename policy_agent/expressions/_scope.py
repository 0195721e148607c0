"""What an expression can see while it is evaluated: variables, the database and the clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import JsonValue


class TableReader(Protocol):
    """Read access to a database of tables of records keyed by id (the environment's DB)."""

    def get(self, table: str, record_id: str) -> Mapping[str, JsonValue] | None:
        """The record (without its id), or None when the table has no such id."""
        ...

    def records(self, table: str) -> Iterable[tuple[str, Mapping[str, JsonValue]]]:
        """Every `(id, record)` pair of the table, in id order."""
        ...

    def has_table(self, table: str) -> bool:
        """Whether the database has a table of that name."""
        ...


@dataclass(frozen=True, kw_only=True)
class Scope:
    """The values one evaluation sees."""

    variables: Mapping[str, JsonValue]
    """Values of the names the expression was compiled with (arguments, `args`, `record`, ...).
    A compiled name missing here is an ExpressionEvaluationError, except `now`, which falls back
    on `now`."""
    tables: TableReader | None = None
    """The database for `lookup`, `exists`, `find` and `count`; None makes them errors."""
    now: datetime | None = None
    """The pack's clock for `now`, `hours_until` and `days_until`; None makes them errors."""
