"""Typing a tool-call parameter value as a given vLLM release's `qwen3_coder` parser does.

The model writes every value as text; the function's JSON schema decides what it becomes. vLLM
has typed that text in two ways (`ServerProfile.typing`); the profile's flags carry the smaller
changes between releases. tests/format/vectors/ pins every profile to what its release's own
code returns.

Two outcomes are not values, and raise `ServerTypingError`: text the release's parser raises
on (then the server returns the whole completion as message text, with no call), and a value
the release writes into the arguments as `Infinity` or `NaN` (not JSON; a strict client rejects
it). Callers report either as a malformed tool call.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Mapping
from typing import Literal, assert_never

from pydantic import JsonValue

from policy_agent.errors import PolicyAgentError
from policy_agent.format._profiles import CARD_MINIMUM, ServerProfile, TypingRules

_STRING_TYPES = frozenset({"string", "str", "text", "varchar", "char", "enum"})
_INTEGER_PREFIXES = ("int", "uint", "long", "short", "unsigned")
_NUMBER_PREFIXES = ("num", "float")
_BOOLEAN_TYPES = frozenset({"boolean", "bool", "binary"})
_CONTAINER_TYPES = frozenset({"object", "array", "arr"})

# `coerce_to_schema_type`'s aliases and the order it tries the types in.
_ALIASES = {
    **dict.fromkeys(("str", "text", "varchar", "char", "enum"), "string"),
    **dict.fromkeys(
        ("int", "int32", "int64", "uint", "uint32", "uint64", "long", "short", "unsigned"),
        "integer",
    ),
    **dict.fromkeys(("float", "float32", "float64", "double"), "number"),
    "bool": "boolean",
    "dict": "object",
    **dict.fromkeys(("arr", "list", "sequence"), "array"),
}
_Kind = Literal["null", "integer", "number", "boolean", "object", "array", "string"]
_PRIORITY: tuple[_Kind, ...] = ("null", "integer", "number", "boolean", "object", "array", "string")

Failure = Literal["parser_error", "not_json"]


class ServerTypingError(PolicyAgentError, ValueError):
    """The release cannot give this parameter text a JSON value; `failure` says how."""

    def __init__(self, failure: Failure, message: str) -> None:
        super().__init__(message)
        self.failure: Failure = failure
        """`parser_error`: the parser raises and the server returns the completion as text;
        `not_json`: the server writes `Infinity`/`NaN` into the arguments."""


def cut_value(text: str, profile: ServerProfile = CARD_MINIMUM) -> str:
    """A parameter's value from the text between `<parameter=NAME>` and `</parameter>`."""
    match profile.value_trim:
        case "one_newline":
            return text.removeprefix("\n").removesuffix("\n")
        case "whitespace":
            return text.strip()
        case _:
            assert_never(profile.value_trim)


def coerce_value(
    raw: str,
    name: str,
    properties: Mapping[str, JsonValue],
    profile: ServerProfile = CARD_MINIMUM,
) -> JsonValue:
    """The typed value of parameter `name` written as `raw`, as `profile`'s release types it.

    `properties` are the function's parameter schemas. Raises `ServerTypingError` where the
    release gives no JSON value (see the module docstring).
    """
    match profile.typing:
        case TypingRules.CONVERT_PARAM_VALUE:
            return _convert_param_value(raw, name, properties, profile)
        case TypingRules.COERCE_TO_SCHEMA_TYPE:
            return _coerce_to_schema_type(raw, name, properties, profile)
        case _:
            assert_never(profile.typing)


def _convert_param_value(
    raw: str, name: str, properties: Mapping[str, JsonValue], profile: ServerProfile
) -> JsonValue:
    """0.17-0.21: the schema's `type` as text decides; `null` is null whatever the schema."""
    if raw.lower() == "null":
        return None
    if name not in properties:
        return raw
    schema = properties[name]
    declared = "string"
    if isinstance(schema, dict) and "type" in schema:
        # A list-valued type becomes its repr (`['integer', 'null']`) and so matches nothing.
        declared = str(schema["type"]).strip().lower()
    elif isinstance(schema, dict) and "anyOf" in schema and profile.any_of_as_object:
        declared = "object"
    if declared in _STRING_TYPES:
        return raw
    if declared.startswith(_INTEGER_PREFIXES):
        try:
            return int(raw)
        except ValueError:
            return raw
    if declared.startswith(_NUMBER_PREFIXES):
        try:
            number = float(raw)
        except ValueError:
            return raw
        typed = _integral_or_float(raw, number)
        return raw if typed is None else typed
    if declared in _BOOLEAN_TYPES:
        return raw.lower() == "true"
    if declared in _CONTAINER_TYPES or declared.startswith(("dict", "list")):
        try:
            return _served(_json(raw), raw)
        except json.JSONDecodeError:
            pass
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError, TypeError):
        return raw
    except (MemoryError, RecursionError):
        raise ServerTypingError(
            "parser_error", f"ast.literal_eval of {raw[:40]!r} exhausts the parser"
        ) from None
    return _served(value, raw)


def _coerce_to_schema_type(
    raw: str, name: str, properties: Mapping[str, JsonValue], profile: ServerProfile
) -> JsonValue:
    """0.22+: every type the schema allows, tried in a fixed order; the first that fits wins."""
    schema = properties.get(name)
    if not isinstance(schema, dict):
        return raw
    allowed = {_ALIASES.get(t.strip().lower(), t.strip().lower()) for t in _schema_types(schema)}
    for candidate in _PRIORITY:
        if candidate not in allowed:
            continue
        match candidate:
            case "null":
                if raw.lower() == "null":
                    return None
            case "string":
                return raw
            case "integer":
                try:
                    return int(raw)
                except ValueError:
                    pass
            case "number":
                number = _number(raw, profile)
                if number is not None:
                    return number
            case "boolean":
                word = raw.lower().strip()
                if word in ("true", "1"):
                    return True
                if word in ("false", "0"):
                    return False
            case "object" | "array":
                try:
                    parsed = _json(raw)
                except json.JSONDecodeError:
                    continue
                if not profile.finite_numbers_only or _finite(parsed):
                    return _served(parsed, raw)
            case _:
                assert_never(candidate)
    try:
        parsed = _json(raw)
    except json.JSONDecodeError:
        return raw
    if profile.finite_numbers_only and not _finite(parsed):
        return raw
    return _served(parsed, raw)


def _number(raw: str, profile: ServerProfile) -> int | float | None:
    """The number `raw` is as a `number` parameter, or None to try the next type."""
    if profile.number_tries_int_first:
        try:
            return int(raw)
        except ValueError:
            pass
    try:
        number = float(raw)
    except ValueError:
        return None
    if profile.finite_numbers_only and not math.isfinite(number):
        return None
    return _integral_or_float(raw, number)


def _integral_or_float(raw: str, number: float) -> int | float | None:
    """`int(number)` when integral, else `number`, as both typing functions write it.

    `int()` of nan raises ValueError, which both catch (None here: the text is not a number);
    of inf it raises OverflowError, which neither does, so the release's parser fails.
    """
    try:
        integral = number == int(number)
    except ValueError:
        return None
    except OverflowError:
        raise ServerTypingError(
            "parser_error", f"{raw!r} is infinite and int() overflows in the parser"
        ) from None
    return int(number) if integral else number


def _schema_types(schema: Mapping[str, JsonValue]) -> set[str]:
    """Every type a schema allows: `type`, the kinds of its `enum` values, any/one/allOf."""
    types: set[str] = set()
    declared = schema.get("type")
    if isinstance(declared, str):
        types.add(declared)
    elif isinstance(declared, list):
        types.update(t for t in declared if isinstance(t, str))
    enum = schema.get("enum")
    if isinstance(enum, list):
        types.update(_json_kind(value) for value in enum)
    for keyword in ("anyOf", "oneOf", "allOf"):
        options = schema.get(keyword)
        if isinstance(options, list):
            for option in options:
                types.update(_schema_types(option) if isinstance(option, dict) else {"string"})
    return types or {"string"}


def _json_kind(value: JsonValue) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "boolean"
        case int():
            return "integer"
        case float():
            return "number"
        case str():
            return "string"
        case list():
            return "array"
        case dict():
            return "object"
        case _:
            assert_never(value)


def _json(raw: str) -> object:
    """`json.loads`, with nesting too deep for the parser reported as the parser's failure.

    Python refuses integers of more than 4300 digits with a plain `ValueError`; every release
    catches it as it catches malformed JSON, so it is raised as a `JSONDecodeError` here.
    """
    try:
        return json.loads(raw)
    except RecursionError:
        raise ServerTypingError(
            "parser_error", f"{raw[:40]!r} nests too deeply for the parser"
        ) from None
    except json.JSONDecodeError:
        raise
    except ValueError as error:
        raise json.JSONDecodeError(str(error), raw, 0) from None


def _finite(value: object) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _served(value: object, raw: str) -> JsonValue:
    """`value` as the client receives it: through the server's `json.dumps` of the arguments."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        raise ServerTypingError(
            "parser_error",
            f"{raw[:40]!r} is a Python {type(value).__name__} (or holds one) that "
            "json.dumps cannot write, so the parser fails",
        ) from None
    if not _finite(value):
        raise ServerTypingError(
            "not_json", f"{raw[:40]!r} holds inf or nan, which the server writes as non-JSON"
        )
    decoded: JsonValue = json.loads(text)
    return decoded
