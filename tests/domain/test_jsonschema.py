"""Checking parameter schemas, and task arguments against them."""

from __future__ import annotations

import pytest

from policy_agent.domain._jsonschema import schema_issue, value_issue


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "description": "An id.", "enum": ["a", "b"], "default": "a"},
        {"type": ["string", "null"]},
        {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "integer"}}}},
        {"anyOf": [{"type": "string"}, True], "x-note": "kept"},
        {"type": "object", "additionalProperties": False, "required": ["x"]},
        {"type": "number", "minimum": 0, "maximum": 2.5},
    ],
)
def test_good_schemas(schema: dict[str, object]) -> None:
    assert schema_issue(schema) is None


@pytest.mark.parametrize(
    ("schema", "path", "message"),
    [
        ({"type": "int"}, ("type",), "'int' is not a JSON Schema type (did you mean 'integer'?)"),
        ({"type": ["string", "date"]}, ("type",), "'date' is not a JSON Schema type; expected"),
        (
            {"desc": "x"},
            ("desc",),
            "'desc' is not a JSON Schema keyword (did you mean 'description'?)",
        ),
        ({"description": 3}, ("description",), "expected text, found a number (3)"),
        ({"minimum": "0"}, ("minimum",), "expected a number, found text '0'"),
        ({"enum": "a"}, ("enum",), "expected a list, found text 'a'"),
        ({"required": [1]}, ("required",), "expected a list of property names"),
        ({"items": "string"}, ("items",), "expected a JSON Schema (a mapping of keywords)"),
        ({"anyOf": [{"type": "string"}, {"type": "txt"}]}, ("anyOf", 1, "type"), "'txt' is not"),
        ({"properties": {"a": {"tpye": "string"}}}, ("properties", "a", "tpye"), "'tpye' is not a"),
        ({"properties": []}, ("properties",), "expected a mapping of names to schemas"),
        (
            {"type": "integer", "enum": [1, 2], "default": 3},
            ("default",),
            "the default 3 is not one of its enum: 1, 2",
        ),
        (
            {"type": "array", "items": {"enum": ["a"], "default": None}},
            ("items", "default"),
            "the default null is not one of its enum: 'a'",
        ),
    ],
)
def test_bad_schemas(schema: dict[str, object], path: tuple[object, ...], message: str) -> None:
    issue = schema_issue(schema)
    assert issue is not None
    assert issue[0] == path
    assert issue[1].startswith(message)


@pytest.mark.parametrize(
    ("schema", "value", "issue"),
    [
        ({"type": "integer"}, 3, None),
        ({"type": "integer"}, 3.0, None),
        ({"type": "integer"}, 3.5, "expected integer, found a number (3.5)"),
        ({"type": "integer"}, True, "expected integer, found a boolean (true)"),
        ({"type": "number"}, 2, None),
        ({"type": "boolean"}, 0, "expected boolean, found a number (0)"),
        ({"type": ["string", "null"]}, None, None),
        ({"type": "string", "enum": ["a", "b"]}, "c", "'c' is not one of 'a', 'b'"),
        (
            {"type": "array", "items": {"type": "string"}},
            ["a", 1],
            "item 1: expected string, found a number (1)",
        ),
        (
            {"type": "object", "properties": {"n": {"type": "integer"}}},
            {"n": "1"},
            "n: expected integer, found text '1'",
        ),
        ({"description": "no type"}, {"anything": [1]}, None),
    ],
)
def test_values_against_schemas(
    schema: dict[str, object], value: object, issue: str | None
) -> None:
    assert value_issue(schema, value) == issue
