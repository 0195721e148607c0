"""Checks for the JSON Schema a pack author writes for each tool parameter.

A parameter's schema is shown to the model key by key, so a typo (`descripton`, `type: str`)
would reach the model instead of failing. JSON Schema itself ignores unknown keywords; packs do
not: a key that is not a JSON Schema keyword is an error unless it starts with `x-`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from policy_agent.yamlsource import closest as closest
from policy_agent.yamlsource import describe as describe

JSON_SCHEMA_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")
"""The type names JSON Schema knows."""

_PYTHON_TYPE_NAMES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "list": "array",
    "dict": "object",
    "None": "null",
    "none": "null",
}

_TEXT = frozenset({"$schema", "$id", "$ref", "$comment", "$anchor", "$dynamicRef"})
_TEXT |= {"$dynamicAnchor", "title", "description", "pattern", "format"}
_TEXT |= {"contentEncoding", "contentMediaType"}
_NUMBER = frozenset({"multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum"})
_NUMBER |= {"maxLength", "minLength", "maxItems", "minItems", "maxContains", "minContains"}
_NUMBER |= {"maxProperties", "minProperties"}
_SCHEMA = frozenset({"items", "additionalProperties", "not", "if", "then", "else", "contains"})
_SCHEMA |= {"propertyNames", "unevaluatedItems", "unevaluatedProperties", "additionalItems"}
_SCHEMA |= {"contentSchema"}
_SCHEMA_LIST = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SCHEMA_MAP = frozenset({"properties", "patternProperties", "$defs", "definitions"})
_SCHEMA_MAP |= {"dependentSchemas"}
_OTHER = frozenset({"type", "enum", "const", "default", "examples", "required", "uniqueItems"})
_OTHER |= {"deprecated", "readOnly", "writeOnly", "dependentRequired", "dependencies"}
_OTHER |= {"$vocabulary"}
KEYWORDS = _TEXT | _NUMBER | _SCHEMA | _SCHEMA_LIST | _SCHEMA_MAP | _OTHER
"""Every keyword of JSON Schema 2020-12 (and draft-07's few older ones)."""

SchemaPath = tuple[str | int, ...]
Issue = tuple[SchemaPath, str]


def schema_issue(schema: object, path: SchemaPath = ()) -> Issue | None:
    """The first thing wrong with a JSON Schema, as (path to the keyword, message), or None."""
    if isinstance(schema, bool) and path:
        return None  # `true` and `false` are schemas too, inside another schema
    if not isinstance(schema, Mapping):
        return path, f"expected a JSON Schema (a mapping of keywords), found {describe(schema)}"
    for key, value in schema.items():
        issue = _keyword_issue(str(key), value, (*path, key))
        if issue is not None:
            return issue
    enum, default = schema.get("enum"), schema.get("default")
    if isinstance(enum, list) and "default" in schema and default not in enum:
        # The model is told the value is one of `enum`; a default outside it can never be sent.
        listed = ", ".join(_show(value) for value in enum)
        return (*path, "default"), f"the default {_show(default)} is not one of its enum: {listed}"
    return None


def _keyword_issue(key: str, value: object, path: SchemaPath) -> Issue | None:
    if key.startswith("x-"):
        return None
    if key not in KEYWORDS:
        close = closest(key, KEYWORDS)
        did_you_mean = f" (did you mean '{close}'?)" if close else ""
        return path, f"'{key}' is not a JSON Schema keyword{did_you_mean}; name your own keys x-..."
    if key == "type":
        names = value if isinstance(value, list) else [value]
        for name in names:
            if name not in JSON_SCHEMA_TYPES:
                hint = _PYTHON_TYPE_NAMES.get(str(name))
                suggestion = f" (did you mean '{hint}'?)" if hint else ""
                return path, (
                    f"{_show(name)} is not a JSON Schema type{suggestion}; "
                    f"expected one of {', '.join(JSON_SCHEMA_TYPES)}"
                )
        return None
    if key in _TEXT and not isinstance(value, str):
        return path, f"expected text, found {describe(value)}"
    if key in _NUMBER and (isinstance(value, bool) or not isinstance(value, int | float)):
        return path, f"expected a number, found {describe(value)}"
    if key in ("enum", "examples", "required"):
        if not isinstance(value, list):
            return path, f"expected a list, found {describe(value)}"
        if key == "required" and not all(isinstance(name, str) for name in value):
            return path, "expected a list of property names"
    if key in _SCHEMA:
        return schema_issue(value, path)
    if key in _SCHEMA_LIST:
        if not isinstance(value, list):
            return path, f"expected a list of schemas, found {describe(value)}"
        return _first((schema_issue(item, (*path, i)) for i, item in enumerate(value)))
    if key in _SCHEMA_MAP:
        if not isinstance(value, Mapping):
            return path, f"expected a mapping of names to schemas, found {describe(value)}"
        return _first(schema_issue(sub, (*path, name)) for name, sub in value.items())
    return None


def value_issue(schema: Mapping[str, object], value: object) -> str | None:
    """Why `value` does not fit `schema` (its type, enum, items and properties), or None."""
    declared = schema.get("type")
    types = declared if isinstance(declared, list) else [declared] if declared else []
    if types and not any(_is_type(value, str(name)) for name in types):
        return f"expected {' or '.join(str(t) for t in types)}, found {describe(value)}"
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        return f"{_show(value)} is not one of {', '.join(_show(v) for v in enum)}"
    items = schema.get("items")
    if isinstance(value, list) and isinstance(items, Mapping):
        for index, item in enumerate(value):
            issue = value_issue(items, item)
            if issue:
                return f"item {index}: {issue}"
    properties = schema.get("properties")
    if isinstance(value, Mapping) and isinstance(properties, Mapping):
        for name, sub in properties.items():
            if name in value and isinstance(sub, Mapping):
                issue = value_issue(sub, value[name])
                if issue:
                    return f"{name}: {issue}"
    return None


def _is_type(value: object, name: str) -> bool:
    if isinstance(value, bool):
        return name == "boolean"
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, int | float)
    kinds: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "boolean": bool,
        "array": list,
        "object": dict,
        "null": type(None),
    }
    return isinstance(value, kinds.get(name, ()))


def _show(value: object) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


def _first(issues: Iterable[Issue | None]) -> Issue | None:
    return next((issue for issue in issues if issue is not None), None)


PARAMETER_JSON_SCHEMA: dict[str, object] = {
    "type": "object",
    "title": "Parameter",
    "description": (
        "The parameter's JSON Schema, shown to the model key by key in the order written. "
        "Keys must be JSON Schema keywords (or start with x-)."
    ),
    "properties": {
        "type": {
            "description": "The JSON type of the value.",
            "anyOf": [
                {"enum": list(JSON_SCHEMA_TYPES)},
                {"type": "array", "items": {"enum": list(JSON_SCHEMA_TYPES)}},
            ],
        },
        "description": {"type": "string", "description": "What the value means, for the model."},
        "enum": {"type": "array", "description": "The only values allowed."},
        "items": {"type": "object", "description": "The schema of each item of an array."},
        "properties": {"type": "object", "description": "The schemas of an object's fields."},
        "default": {"description": "The value used when the argument is left out."},
    },
    "propertyNames": {"anyOf": [{"enum": sorted(KEYWORDS)}, {"pattern": "^x-"}]},
}
"""How the pack schemas describe one parameter, for editors (the loader checks more)."""
