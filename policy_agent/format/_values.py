"""Typing a tool-call parameter value, as vLLM's `qwen3_coder` tool parser does.

The model writes every value as text; the function's JSON schema decides what it becomes.
This mirrors `Qwen3CoderToolParser._convert_param_value` (vLLM >= 0.17) rule for rule, so a
call parsed here has the arguments a client of the server would see.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping

from pydantic import JsonValue

_STRING_TYPES = frozenset({"string", "str", "text", "varchar", "char", "enum"})
_INTEGER_PREFIXES = ("int", "uint", "long", "short", "unsigned")
_NUMBER_PREFIXES = ("num", "float")
_BOOLEAN_TYPES = frozenset({"boolean", "bool", "binary"})
_CONTAINER_TYPES = frozenset({"object", "array", "arr"})
_NULLS = frozenset({"null", "none"})


def coerce_value(raw: str, name: str, properties: Mapping[str, JsonValue]) -> JsonValue:
    """The typed value of parameter `name` written as `raw`, given the function's properties.

    - a parameter the schema does not declare stays a string;
    - the type is `str(schema["type"]).lower()` (so `["integer", "null"]` is the text
      `['integer', 'null']`), or the first non-null type of an `anyOf`, else `string`;
    - a nullable schema (`type: null`, or `null` in `anyOf`) maps `null`/`None` (any case) to
      null, even for strings; other non-string types do too;
    - string types stay text; integer types `int()`; number types `float()`, integral results
      becoming ints; boolean types lowercase `== "true"` (anything else is false);
    - object and array types are JSON, a JSON string holding a Python literal is decoded once
      more; other types, and JSON that fails, go through `ast.literal_eval` (which reads Python
      literals only and never runs code);
    - a conversion that fails leaves the text as it was.

    Results are normalised through JSON (tuples become lists, keys strings), because that is
    what reaches a client; a Python literal JSON cannot hold (a set, bytes, a complex number),
    or a number whose int() overflows (`inf`), stays text. vLLM would instead give up on the
    whole completion in those two corners.
    """
    if name not in properties:
        return raw
    schema = properties[name]
    allows_null = False
    declared = "string"
    if isinstance(schema, dict) and "type" in schema:
        declared = str(schema["type"]).strip().lower()
        allows_null = declared == "null"
    elif isinstance(schema, dict) and isinstance(options := schema.get("anyOf"), list):
        picked = False
        for option in options:
            if isinstance(option, dict) and "type" in option:
                option_type = str(option["type"]).strip().lower()
                if option_type == "null":
                    allows_null = True
                elif not picked:
                    declared, picked = option_type, True
    if allows_null and raw.lower() in _NULLS:
        return None
    if declared in _STRING_TYPES:
        return raw
    if raw.lower() in _NULLS:
        return None
    if declared.startswith(_INTEGER_PREFIXES):
        try:
            return int(raw)
        except ValueError:
            return raw
    if declared.startswith(_NUMBER_PREFIXES):
        try:
            number = float(raw)
            return number if number - int(number) != 0 else int(number)
        except (ValueError, OverflowError):
            return raw
    if declared in _BOOLEAN_TYPES:
        return raw.lower() == "true"
    container = declared in _CONTAINER_TYPES or declared.startswith(("dict", "list"))
    if container:
        try:
            decoded = json.loads(raw)
        except (json.JSONDecodeError, RecursionError):
            pass
        else:
            if isinstance(decoded, str):
                decoded = _literal(decoded, default=decoded)
            return _as_json(decoded, default=raw)
    value = _literal(raw, default=raw)
    if container and isinstance(value, str):
        value = _literal(value, default=value)
    return _as_json(value, default=raw)


def _literal(text: str, *, default: object) -> object:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return default


def _as_json(value: object, *, default: str) -> JsonValue:
    try:
        decoded: JsonValue = json.loads(json.dumps(value, ensure_ascii=False))
    except (TypeError, ValueError, RecursionError):
        return default
    return decoded
