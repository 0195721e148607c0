"""Helpers shared by the expression tests: a dict-backed database and a one-line evaluator."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from pydantic import JsonValue

from policy_agent.expressions import Scope, compile_expression

NOW = datetime(2025, 6, 4, 9, 0)


class DictTables:
    """The TableReader protocol over plain dicts, as the environment's database provides it."""

    def __init__(self, tables: dict[str, dict[str, dict[str, JsonValue]]]) -> None:
        self.tables = tables

    def get(self, table: str, record_id: str) -> Mapping[str, JsonValue] | None:
        return self.tables[table].get(record_id)

    def records(self, table: str) -> Iterable[tuple[str, Mapping[str, JsonValue]]]:
        return sorted(self.tables[table].items())

    def has_table(self, table: str) -> bool:
        return table in self.tables


def hotel() -> DictTables:
    """A small hotel database (fresh each call, so tests can check it is never changed)."""
    return DictTables(
        {
            "bookings": {
                "B11246": {
                    "status": "confirmed",
                    "cribs": 1,
                    "check_in": "2025-06-10",
                    "guest": "G1",
                },
                "B11247": {
                    "status": "cancelled",
                    "cribs": 0,
                    "check_in": "2025-06-01",
                    "guest": "G2",
                },
                "B11248": {
                    "status": "confirmed",
                    "cribs": 2,
                    "check_in": "2025-06-05T14:00:00",
                    "guest": "G1",
                },
            },
            "guests": {"G1": {"name": "Ada", "vip": True}, "G2": {"name": "Bo", "vip": False}},
        }
    )


def evaluate(source: str, tables: DictTables | None = None, /, **variables: JsonValue) -> JsonValue:
    """Compile `source` with the given variables as its names, then evaluate it at NOW."""
    expression = compile_expression(source, names=variables.keys() | {"now"})
    return expression.evaluate(Scope(variables=variables, tables=tables or hotel(), now=NOW))
