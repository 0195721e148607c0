"""The built-in functions: each takes the scope and its evaluated arguments."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import partial

from pydantic import JsonValue

from policy_agent.expressions._regex import TEXT_MOST, RegexError, full_match
from policy_agent.expressions._scope import Scope, TableReader
from policy_agent.expressions._values import (
    Failure,
    bounded,
    describe,
    equal,
    is_number,
    order,
    to_text,
)

Apply = Callable[[Scope, list[JsonValue]], JsonValue]


@dataclass(frozen=True, kw_only=True, slots=True)
class Function:
    """A built-in: how many arguments it takes, and what it does with them."""

    least: int
    most: int
    apply: Apply | None
    """None for `if`, which the interpreter evaluates itself so that only one branch runs."""


def _text(name: str, args: list[JsonValue], index: int) -> str:
    value = args[index]
    if not isinstance(value, str):
        raise Failure(f"{name}() needs a string, got {describe(value)}", index)
    return value


def _number(name: str, args: list[JsonValue], index: int) -> int | float:
    value = args[index]
    if not is_number(value):
        raise Failure(f"{name}() needs a number, got {describe(value)}", index)
    return value


def _items(name: str, args: list[JsonValue], index: int) -> list[JsonValue]:
    value = args[index]
    if not isinstance(value, list | tuple):
        raise Failure(f"{name}() needs a list, got {describe(value)}", index)
    return list(value)


# --------------------------------------------------------------------------- the database


def _table(name: str, scope: Scope, args: list[JsonValue]) -> tuple[TableReader, str]:
    table = _text(name, args, 0)
    if scope.tables is None:
        raise Failure(f"{name}() has no database to read here")
    if not scope.tables.has_table(table):
        raise Failure(f"there is no table {table!r}", 0)
    return scope.tables, table


def _with_id(record_id: str, record: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    return {"id": record_id, **{k: v for k, v in record.items() if k != "id"}}


def _lookup(scope: Scope, args: list[JsonValue]) -> JsonValue:
    tables, table = _table("lookup", scope, args)
    record_id = _text("lookup", args, 1)
    record = tables.get(table, record_id)
    return None if record is None else _with_id(record_id, record)


def _exists(scope: Scope, args: list[JsonValue]) -> JsonValue:
    tables, table = _table("exists", scope, args)
    return tables.get(table, _text("exists", args, 1)) is not None


def _matches(name: str, scope: Scope, args: list[JsonValue]) -> Iterator[dict[str, JsonValue]]:
    tables, table = _table(name, scope, args)
    field = _text(name, args, 1)
    for record_id, record in tables.records(table):
        value = record_id if field == "id" else record.get(field)
        if equal(value, args[2]):
            yield _with_id(record_id, record)


# --------------------------------------------------------------------------- numbers

# Enough digits for any float written out in full (up to 309 + 15), so rounding is exact.
_DECIMAL = Context(prec=400, rounding=ROUND_HALF_UP)


def _round(scope: Scope, args: list[JsonValue]) -> JsonValue:
    # Halves round away from zero (2.5 -> 3, 2.675 -> 2.68), as on a receipt; Python's round
    # would give 2 and 2.67 (banker's rounding on the binary value).
    value = _number("round", args, 0)
    digits = _number("round", args, 1) if len(args) == 2 else 0
    if not isinstance(digits, int) or not -15 <= digits <= 15:
        raise Failure(f"round() needs digits from -15 to 15, got {describe(digits)}", 1)
    if isinstance(value, int):
        unit: int = 10 ** max(0, -digits)
        magnitude = (abs(value) * 2 + unit) // (2 * unit) * unit
        return bounded(magnitude if value >= 0 else -magnitude)
    rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits), context=_DECIMAL)
    return int(rounded) if len(args) == 1 else float(rounded)


def _extreme(name: str, pick: int, scope: Scope, args: list[JsonValue]) -> JsonValue:
    items = _items(name, args, 0)
    if not items:
        raise Failure(f"{name}() of an empty list", 0)
    best = items[0]
    for item in items[1:]:
        if order(item, best) == pick:
            best = item
    return best


def _sum(scope: Scope, args: list[JsonValue]) -> JsonValue:
    total: int | float = 0
    for item in _items("sum", args, 0):
        if not is_number(item):
            raise Failure(f"sum() needs a list of numbers, found {describe(item)}", 0)
        total += item
    return bounded(total)


_INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*")
_DECIMAL_TEXT = re.compile(r"\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\s*")


def _int(scope: Scope, args: list[JsonValue]) -> JsonValue:
    value = args[0]
    if is_number(value):
        return int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value) and len(value) < 400:
        return bounded(int(value))
    raise Failure(f"int() cannot convert {describe(value)}", 0)


def _float(scope: Scope, args: list[JsonValue]) -> JsonValue:
    value = args[0]
    if is_number(value) or (isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value)):
        try:
            return bounded(float(value))
        except OverflowError:
            raise Failure("the number is too large for float()", 0) from None
    raise Failure(f"float() cannot convert {describe(value)}", 0)


def _len(scope: Scope, args: list[JsonValue]) -> JsonValue:
    value = args[0]
    if not isinstance(value, str | list | tuple | Mapping):
        raise Failure(f"len() needs a string, list or mapping, got {describe(value)}", 0)
    return len(value)


def _pluck(scope: Scope, args: list[JsonValue]) -> JsonValue:
    field = _text("pluck", args, 1)
    found: list[JsonValue] = []
    for item in _items("pluck", args, 0):
        if not isinstance(item, Mapping):
            raise Failure(f"pluck() needs a list of mappings, found {describe(item)}", 0)
        found.append(item.get(field))
    return found


def _regex_matches(scope: Scope, args: list[JsonValue]) -> JsonValue:
    text, pattern = _text("matches", args, 0), _text("matches", args, 1)
    if len(text) > TEXT_MOST:
        raise Failure(f"the text has {len(text):,} characters; matches() takes {TEXT_MOST:,}", 0)
    try:
        return full_match(pattern, text)
    except RegexError as error:
        raise Failure(str(error), 1) from None


# --------------------------------------------------------------------------- time


def _time(name: str, args: list[JsonValue], index: int) -> datetime:
    text = _text(name, args, index)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        message = (
            f"{name}() needs an ISO-8601 date or time such as '2025-06-04T09:00:00', got {text!r}"
        )
        raise Failure(message, index) from None


def clock(scope: Scope) -> datetime:
    """The scope's `now`, or an error saying how to give the pack a clock."""
    if scope.now is None:
        raise Failure("there is no clock; give the pack one with `clock:` in domain.yaml")
    return scope.now


def _span(name: str, unit: float, scope: Scope, args: list[JsonValue]) -> JsonValue:
    """From `now` (one argument) or the first argument to the last, in `unit` seconds."""
    start = clock(scope) if len(args) == 1 else _time(name, args, 0)
    end = _time(name, args, len(args) - 1)
    if (start.tzinfo is None) != (end.tzinfo is None):
        raise Failure(
            f"{name}() mixes a time with a UTC offset and one without; give both or neither"
        )
    return (end - start).total_seconds() / unit


FUNCTIONS: Mapping[str, Function] = {
    "len": Function(least=1, most=1, apply=_len),
    "lookup": Function(least=2, most=2, apply=_lookup),
    "exists": Function(least=2, most=2, apply=_exists),
    "find": Function(
        least=3, most=3, apply=lambda scope, args: list(_matches("find", scope, args))
    ),
    "count": Function(
        least=3, most=3, apply=lambda scope, args: sum(1 for _ in _matches("count", scope, args))
    ),
    "sum": Function(least=1, most=1, apply=_sum),
    "min": Function(least=1, most=1, apply=partial(_extreme, "min", -1)),
    "max": Function(least=1, most=1, apply=partial(_extreme, "max", 1)),
    "round": Function(least=1, most=2, apply=_round),
    "abs": Function(least=1, most=1, apply=lambda scope, args: abs(_number("abs", args, 0))),
    "lower": Function(least=1, most=1, apply=lambda scope, args: _text("lower", args, 0).lower()),
    "upper": Function(least=1, most=1, apply=lambda scope, args: _text("upper", args, 0).upper()),
    "str": Function(least=1, most=1, apply=lambda scope, args: to_text(args[0])),
    "int": Function(least=1, most=1, apply=_int),
    "float": Function(least=1, most=1, apply=_float),
    "if": Function(least=3, most=3, apply=None),
    "hours_until": Function(least=1, most=1, apply=partial(_span, "hours_until", 3600)),
    "days_until": Function(least=1, most=1, apply=partial(_span, "days_until", 86400)),
    "hours_between": Function(least=2, most=2, apply=partial(_span, "hours_between", 3600)),
    "days_between": Function(least=2, most=2, apply=partial(_span, "days_between", 86400)),
    "pluck": Function(least=2, most=2, apply=_pluck),
    "matches": Function(least=2, most=2, apply=_regex_matches),
}
"""Every function an expression may call, by name."""
