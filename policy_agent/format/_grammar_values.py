"""What the grammar lets a parameter value be, by the parameter's JSON schema.

The kind of a value follows `coerce_value` (vLLM's `qwen3_coder` typing) rule for rule, and
each typed kind allows only text that `coerce_value` turns into that type:

- string types, and types vLLM reads as Python literals (`['integer', 'null']`): free text
  (no markup, as everywhere);
- integer types: `-?(0|[1-9][0-9]{0,17})` (at most 18 digits: int64, and far below the 4300
  digits past which `int()` refuses);
- number types: that integer, an optional fraction and an exponent of at most two digits (so
  `float()` never overflows to `inf`, which would leave the text a string);
- boolean types: `true`, `false`, `True` or `False` (history renders Python's spelling);
- object and array types: JSON of that kind (Lark: llguidance's `%json` with the schema);
- nullable (`anyOf` with `null`) adds `null` and `None`;
- `enum` (or `const`): exactly the listed values, each written so that `coerce_value` gives
  back that very value; a member it cannot give back is left out.

Each value may have one newline on either side (the template writes both, the parser removes
one of each).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import Enum
from typing import assert_never

from pydantic import JsonValue

from policy_agent.format._grammar_syntax import (
    Definition,
    Expr,
    GrammarError,
    GrammarSyntax,
    JsonSchema,
    Lit,
    Ref,
    Repeat,
    alt,
    chars,
    opt,
    plus,
    regex,
    seq,
    star,
)
from policy_agent.format._grammar_text import PARAMETER_CLOSE, markup_free_definitions
from policy_agent.format._parse import _MARKUP
from policy_agent.format._values import coerce_value

# The same type names as `_values.py`, which mirrors vLLM's qwen3_coder parser.
_STRING_TYPES = frozenset({"string", "str", "text", "varchar", "char", "enum"})
_INTEGER_PREFIXES = ("int", "uint", "long", "short", "unsigned")
_NUMBER_PREFIXES = ("num", "float")
_BOOLEAN_TYPES = frozenset({"boolean", "bool", "binary"})
_JSON_TYPES = frozenset({"object", "array"})
_ANY_JSON = "policy_agent_markup_free_json"


class ValueKind(Enum):
    """How `coerce_value` types a parameter."""

    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    OBJECT = "object"
    ARRAY = "array"


def value_kind(schema: JsonValue) -> tuple[ValueKind, bool]:
    """The kind of a parameter with this schema, and whether `null` is one of its values."""
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
    if declared in _STRING_TYPES:
        return ValueKind.TEXT, allows_null
    if declared.startswith(_INTEGER_PREFIXES):
        return ValueKind.INTEGER, allows_null
    if declared.startswith(_NUMBER_PREFIXES):
        return ValueKind.NUMBER, allows_null
    if declared in _BOOLEAN_TYPES:
        return ValueKind.BOOLEAN, allows_null
    if declared == "object" or declared.startswith("dict"):
        return ValueKind.OBJECT, allows_null
    if declared in ("array", "arr") or declared.startswith("list"):
        return ValueKind.ARRAY, allows_null
    return ValueKind.TEXT, allows_null


_DIGIT = chars("0123456789")
INTEGER = seq(opt(Lit("-")), alt(Lit("0"), seq(chars("123456789"), Repeat(_DIGIT, 0, 17))))
NUMBER = seq(
    INTEGER,
    opt(seq(Lit("."), plus(_DIGIT))),
    opt(seq(chars("eE"), opt(chars("+-")), Repeat(_DIGIT, 1, 2))),
)
BOOLEAN = alt(Lit("true"), Lit("false"), Lit("True"), Lit("False"))
NULL = alt(Lit("null"), Lit("None"))


def value_expr(
    tool: str,
    name: str,
    parameters: Mapping[str, JsonValue],
    syntax: GrammarSyntax,
    markup_free: Mapping[str, Expr],
) -> tuple[Expr, bool]:
    """The text from after `<parameter=NAME>` to `</parameter>` included, and whether it is
    regular (a Lark terminal). `markup_free` holds the `text` definitions, for patterns."""
    properties = parameters.get("properties")
    assert isinstance(properties, dict)
    schema = properties[name]
    if isinstance(schema, dict) and ("enum" in schema or "const" in schema):
        return _enum_expr(tool, name, properties, schema), True
    kind, nullable = value_kind(schema)
    core: Expr
    match kind:
        case ValueKind.TEXT:
            return seq(Ref("text"), Lit(PARAMETER_CLOSE)), True
        case ValueKind.INTEGER:
            core = INTEGER
        case ValueKind.NUMBER:
            core = NUMBER
        case ValueKind.BOOLEAN:
            core = BOOLEAN
        case ValueKind.OBJECT | ValueKind.ARRAY:
            core = _json_expr(kind, schema, parameters, syntax, markup_free)
        case _:
            assert_never(kind)
    if nullable:
        core = alt(core, NULL)
    regular = kind not in (ValueKind.OBJECT, ValueKind.ARRAY)
    return seq(opt(Lit("\n")), core, opt(Lit("\n")), Lit(PARAMETER_CLOSE)), regular


def _enum_expr(
    tool: str, name: str, properties: Mapping[str, JsonValue], schema: Mapping[str, JsonValue]
) -> Expr:
    members = schema["enum"] if "enum" in schema else [schema["const"]]
    texts: list[str] = []
    for member in members if isinstance(members, list) else []:
        text = member if isinstance(member, str) else json.dumps(member, ensure_ascii=False)
        if _equal(coerce_value(text, name, properties), member) and not _has_markup(text):
            texts.append(text)
    if texts and not any(t.startswith("\n") or t.endswith("\n") for t in texts):
        listed = alt(*(Lit(t) for t in dict.fromkeys(texts)))
        return seq(opt(Lit("\n")), listed, opt(Lit("\n")), Lit(PARAMETER_CLOSE))
    # A member with a newline at an end: write out each region the parser reads back as it.
    regions: list[str] = []
    for text in texts:
        for region in (text, "\n" + text, text + "\n", "\n" + text + "\n"):
            if region.removeprefix("\n").removesuffix("\n") == text and region not in regions:
                regions.append(region)
    if not regions:
        raise GrammarError(
            f"tool {tool}, parameter {name}: no value of its enum {json.dumps(members)} can be "
            "written so that vLLM's qwen3_coder parser types it as listed; give the parameter "
            "the type of its values"
        )
    return seq(alt(*(Lit(region) for region in regions)), Lit(PARAMETER_CLOSE))


def _equal(got: JsonValue, want: JsonValue) -> bool:
    """JSON equality that tells `true` from `1` (as JSON Schema's `enum` does)."""
    if isinstance(got, bool) or isinstance(want, bool):
        return type(got) is type(want) and got == want
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(map(_equal, got, want))
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(_equal(got[k], want[k]) for k in got)
    return got == want


def _has_markup(text: str) -> bool:
    return any(tag in text for tag in _MARKUP)


def _json_expr(
    kind: ValueKind,
    schema: JsonValue,
    parameters: Mapping[str, JsonValue],
    syntax: GrammarSyntax,
    markup_free: Mapping[str, Expr],
) -> Expr:
    match syntax:
        case GrammarSyntax.EBNF:
            return Ref("json_object" if kind is ValueKind.OBJECT else "json_array")
        case GrammarSyntax.LARK:
            declared = schema.get("type") if isinstance(schema, dict) else None
            if not (isinstance(declared, str) and declared in _JSON_TYPES):
                # A type only vLLM knows (`dict`, `list[int]`): JSON of that kind.
                schema = {"type": kind.value}
            pattern = "^" + regex(Ref("text"), markup_free) + "$"
            return JsonSchema(markup_free_schema(schema, parameters, pattern))
        case _:
            assert_never(syntax)


def markup_free_schema(
    schema: JsonValue, parameters: Mapping[str, JsonValue], pattern: str
) -> dict[str, JsonValue]:
    """`schema` for llguidance's `%json`, so that no JSON it allows holds tool-call markup.

    Strings without `enum`, `const` or `format` get `pattern`; objects that list properties
    allow no others, objects that list none take keys matching `pattern`; a schema that allows
    anything allows any markup-free JSON. The function's `$defs` come along for `$ref`s.
    """
    any_ref: JsonValue = {"$ref": f"#/$defs/{_ANY_JSON}"}

    def rewrite(node: JsonValue) -> JsonValue:
        if node is True:
            return any_ref
        if not isinstance(node, dict):
            return node
        out: dict[str, JsonValue] = {}
        for key, value in node.items():
            if key in ("properties", "patternProperties", "$defs", "definitions"):
                out[key] = (
                    {k: rewrite(v) for k, v in value.items()} if isinstance(value, dict) else value
                )
            elif key in ("items", "additionalProperties", "not", "contains"):
                out[key] = rewrite(value)
            elif key in ("anyOf", "oneOf", "allOf", "prefixItems"):
                out[key] = [rewrite(v) for v in value] if isinstance(value, list) else value
            else:
                out[key] = value
        if not node.keys() & _CONSTRAINING:
            return {**out, **any_ref}  # type: ignore[dict-item]
        declared = node.get("type")
        listed = declared if isinstance(declared, list) else []
        types = {declared} if isinstance(declared, str) else {str(t) for t in listed}
        if "string" in types and not node.keys() & {"enum", "const", "format"}:
            if "pattern" in node:
                out["allOf"] = [*_as_list(out.get("allOf")), {"pattern": pattern}]
            else:
                out["pattern"] = pattern
        if ("object" in types or "properties" in node) and node.get(
            "additionalProperties"
        ) is not False:
            if "properties" in node or "patternProperties" in node:
                out["additionalProperties"] = False
            else:
                out["patternProperties"] = {
                    pattern: rewrite(node.get("additionalProperties", True))
                }
                out["additionalProperties"] = False
        return out

    rewritten = rewrite(schema)
    assert isinstance(rewritten, dict)
    defs: dict[str, JsonValue] = {}
    for key in ("$defs", "definitions"):
        shared = parameters.get(key)
        if isinstance(shared, dict) and key not in rewritten:
            rewritten[key] = {k: rewrite(v) for k, v in shared.items()}
    existing = rewritten.get("$defs")
    defs = dict(existing) if isinstance(existing, dict) else {}
    defs[_ANY_JSON] = {
        "anyOf": [
            {"type": "string", "pattern": pattern},
            {"type": ["number", "boolean", "null"]},
            {"type": "array", "items": any_ref},
            {
                "type": "object",
                "patternProperties": {pattern: any_ref},
                "additionalProperties": False,
            },
        ]
    }
    rewritten["$defs"] = defs
    return rewritten


_CONSTRAINING = frozenset(
    {"type", "enum", "const", "$ref", "anyOf", "oneOf", "allOf", "not", "properties", "items"}
)


def _as_list(value: JsonValue) -> list[JsonValue]:
    return list(value) if isinstance(value, list) else []


def json_definitions() -> list[Definition]:
    """JSON (RFC 8259) for the EBNF grammar: strings free of markup, numbers as above."""
    jws = star(chars(" \t\n\r"))
    member = seq(Ref("json_string"), jws, Lit(":"), jws, Ref("json_value"))
    members = seq(member, star(seq(jws, Lit(","), jws, member)), jws)
    items = seq(Ref("json_value"), star(seq(jws, Lit(","), jws, Ref("json_value"))), jws)
    value = alt(
        Ref("json_object"),
        Ref("json_array"),
        Ref("json_string"),
        NUMBER,
        Lit("true"),
        Lit("false"),
        Lit("null"),
    )
    return [
        Definition("json_value", value, terminal=False),
        Definition("json_object", seq(Lit("{"), jws, opt(members), Lit("}")), terminal=False),
        Definition("json_array", seq(Lit("["), jws, opt(items), Lit("]")), terminal=False),
        Definition("json_string", seq(Lit('"'), Ref("json_text"), Lit('"')), terminal=True),
        *markup_free_definitions("json_text", json_string=True),
    ]
