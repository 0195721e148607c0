"""The rules for JSON values that every operator and function shares."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TypeGuard

from pydantic import JsonValue

LIMIT = 10**300
"""Numbers stay smaller than this, so every integer converts to a float (and to text)."""


class Failure(Exception):
    """A value that an operator or function cannot take; the interpreter adds where it happened.

    `argument` is the index of the function argument to blame, or None for the whole call.
    """

    def __init__(self, message: str, argument: int | None = None) -> None:
        super().__init__(message, argument)
        self.message = message
        self.argument = argument


def is_number(value: object) -> TypeGuard[int | float]:
    """Whether `value` is an int or float; booleans are not numbers in this language."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def bounded(value: int | float) -> int | float:
    """`value`, unless it is too large (or infinite: JSON has no infinities)."""
    if not math.isfinite(value) or abs(value) >= LIMIT:
        raise Failure("the result is too large")
    return value


def kind(value: object) -> str:
    """The language's name for a value's kind, as used in error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "mapping" if isinstance(value, Mapping) else "list"


def describe(value: object) -> str:
    """The value's kind and, if short, the value itself: `integer 4`, `string 'three'`."""
    if value is None:
        return "null"
    text = repr(value) if isinstance(value, str) else to_text(value)  # type: ignore[arg-type]
    return f"{kind(value)} {text if len(text) <= 40 else text[:36] + ' ...'}"


def equal(left: object, right: object) -> bool:
    """`==`: values of different kinds are unequal; 1 == 1.0, but true != 1."""
    if is_number(left) and is_number(right):
        return left == right
    if kind(left) != kind(right):
        return False
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(equal(v, right[k]) for k, v in left.items())
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(map(equal, left, right))
    return left == right


def order(left: object, right: object) -> int:
    """-1, 0 or 1: numbers with numbers, strings with strings; anything else is an error."""
    if is_number(left) and is_number(right):
        return (left > right) - (left < right)
    if isinstance(left, str) and isinstance(right, str):
        return (left > right) - (left < right)
    raise Failure(f"cannot compare {describe(left)} with {describe(right)}")


def truthy(value: object) -> bool:
    """The truth rule of `and`, `or`, `not` and `if`: null, false, 0, '', [] and {} are false."""
    if isinstance(value, Mapping | list | tuple | str):
        return len(value) > 0
    return value is not None and value is not False and value != 0


def thaw(value: object) -> JsonValue:
    """A copy made of fresh lists and dicts, so that no caller's mutable object is handed out."""
    if isinstance(value, Mapping):
        return {str(k): thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(item) for item in value]
    return value  # type: ignore[return-value]


def to_text(value: JsonValue) -> str:
    """Strings as they are, anything else as JSON (how templates and `str()` show values)."""
    return value if isinstance(value, str) else json.dumps(thaw(value), ensure_ascii=False)
