"""FORMAT.md §1: each rule of the `<function>` rendering, and reading OpenAI-format tools."""

from __future__ import annotations

import pytest

from policy_agent.format import (
    FunctionSpec,
    FunctionSpecError,
    functions_from_openai,
    render_function,
    render_functions,
)


def _one_parameter(schema: dict[str, object]) -> str:
    """The `<parameter>` lines of a function with one parameter `p`."""
    block = render_function(FunctionSpec(name="f", parameters={"properties": {"p": schema}}))
    start = block.index("<parameter>\n")
    return block[start : block.index("</parameter>\n") + len("</parameter>\n")]


def test_function_layout() -> None:
    spec = FunctionSpec(
        name="find_booking",
        description="Find a booking.",
        parameters={
            "type": "object",
            "properties": {"booking_id": {"type": "string", "description": "The booking."}},
            "required": ["booking_id"],
        },
    )
    assert render_function(spec) == (
        "<function>\n<name>find_booking</name>\n<description>Find a booking.</description>\n"
        "<parameters>\n<parameter>\n<name>booking_id</name>\n<type>string</type>\n"
        "<description>The booking.</description>\n</parameter>\n"
        '<required>["booking_id"]</required>\n</parameters>\n</function>\n'
    )


def test_description_line_only_if_there_is_one() -> None:
    assert "<description>" not in render_function(FunctionSpec(name="f"))


def test_descriptions_are_trimmed() -> None:
    spec = FunctionSpec(
        name="f",
        description="\n  Does f.\n\n",
        parameters={"properties": {"p": {"description": " \tthe p\n"}}},
    )
    rendered = render_function(spec)
    assert "<description>Does f.</description>\n" in rendered
    assert "<description>the p</description>\n" in rendered


def test_parameter_keys_in_order_name_type_description_enum_then_the_rest_as_written() -> None:
    schema = {
        "title": "P",
        "enum": ["a", "b"],
        "description": "d",
        "default": "a",
        "type": "string",
    }
    assert _one_parameter(schema) == (
        "<parameter>\n<name>p</name>\n<type>string</type>\n<description>d</description>\n"
        '<enum>["a", "b"]</enum>\n<title>P</title>\n<default>a</default>\n</parameter>\n'
    )


def test_type_and_description_and_enum_only_if_present() -> None:
    assert _one_parameter({}) == "<parameter>\n<name>p</name>\n</parameter>\n"


def test_list_valued_type_renders_as_python_list_repr() -> None:
    assert "<type>['string', 'null']</type>" in _one_parameter({"type": ["string", "null"]})


def test_mappings_and_lists_are_json_with_comma_space_and_colon_space() -> None:
    rendered = _one_parameter(
        {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "integer"}}}}
    )
    assert '<items>{"type": "object", "properties": {"a": {"type": "integer"}}}</items>' in rendered
    assert "<enum>[1, 2.5, null, true]</enum>" in _one_parameter({"enum": [1, 2.5, None, True]})


def test_other_scalars_render_as_python_str() -> None:
    rendered = _one_parameter({"default": True, "nullable": None, "minimum": 2.5, "maxLength": 3})
    assert "<default>True</default>\n<nullable>None</nullable>\n" in rendered
    assert "<minimum>2.5</minimum>\n<maxLength>3</maxLength>\n" in rendered


def test_non_ascii_is_kept_not_escaped() -> None:
    """transformers' `tojson` is `json.dumps(..., ensure_ascii=False)`: no `\\u00e9` escapes."""
    rendered = _one_parameter({"enum": ["café", "東京"], "description": "naïve"})
    assert '<enum>["café", "東京"]</enum>' in rendered
    assert "<description>naïve</description>" in rendered


def test_a_parameter_key_called_name_is_not_rendered() -> None:
    assert "<name>shadow</name>" not in _one_parameter({"name": "shadow", "type": "string"})


def test_required_renders_whenever_the_schema_has_it() -> None:
    assert "<required>[]</required>" in render_function(
        FunctionSpec(name="f", parameters={"type": "object", "properties": {}, "required": []})
    )
    assert "<required>" not in render_function(FunctionSpec(name="f", parameters={}))


def test_a_tool_without_properties_gives_empty_parameters() -> None:
    for parameters in ({}, {"type": "object", "properties": {}}):
        assert render_function(FunctionSpec(name="f", parameters=parameters)) == (
            "<function>\n<name>f</name>\n<parameters>\n</parameters>\n</function>\n"
        )


def test_other_keys_of_the_parameters_object_follow_the_parameter_list() -> None:
    spec = FunctionSpec(
        name="f",
        parameters={
            "type": "object",
            "additionalProperties": False,
            "properties": {"p": {"type": "integer"}},
            "required": ["p"],
        },
    )
    assert render_function(spec).endswith(
        "</parameter>\n<additionalProperties>False</additionalProperties>\n"
        '<required>["p"]</required>\n</parameters>\n</function>\n'
    )


def test_other_keys_of_the_function_object_follow_parameters() -> None:
    spec = FunctionSpec.from_openai(
        {"type": "function", "function": {"name": "f", "strict": True, "parameters": {}}}
    )
    assert render_function(spec).endswith("</parameters>\n<strict>True</strict>\n</function>\n")


def test_functions_render_in_order() -> None:
    a, b = FunctionSpec(name="a"), FunctionSpec(name="b")
    assert render_functions([a, b]) == render_function(a) + render_function(b)
    assert render_functions([]) == ""


def test_from_openai_keeps_the_schema_as_authored() -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "f",
            "description": "d",
            "parameters": {"type": "object", "properties": {"b": {}, "a": {}}},
        },
    }
    spec = FunctionSpec.from_openai(tool)
    assert spec == FunctionSpec(
        name="f", description="d", parameters={"type": "object", "properties": {"b": {}, "a": {}}}
    )
    assert list(spec.properties) == ["b", "a"]


def test_from_openai_reads_a_null_description_or_parameters_as_absent() -> None:
    spec = FunctionSpec.from_openai(
        {"type": "function", "function": {"name": "f", "description": None, "parameters": None}}
    )
    assert spec == FunctionSpec(name="f")


@pytest.mark.parametrize(
    ("tool", "message"),
    [
        ("f", "tools[0]: expected an object"),
        ({"name": "f"}, 'tools[0].type: expected "function", got null'),
        ({"type": "function"}, "tools[0].function: expected an object, got nothing"),
        (
            {"type": "function", "function": {"name": ""}},
            "tools[0].function.name: expected a non-empty",
        ),
        (
            {"type": "function", "function": {"name": "f", "description": 3}},
            "tools[0].function.description: expected a string, got int 3",
        ),
        (
            {"type": "function", "function": {"name": "f", "parameters": []}},
            "tools[0].function.parameters: expected a JSON Schema object",
        ),
        (
            {"type": "function", "function": {"name": "f", "parameters": {"properties": [1]}}},
            "tools[0].function.parameters.properties: expected an object",
        ),
    ],
)
def test_from_openai_names_the_bad_field(tool: object, message: str) -> None:
    with pytest.raises(FunctionSpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        functions_from_openai([tool])


def test_functions_from_openai_wants_a_list() -> None:
    with pytest.raises(FunctionSpecError, match=r"tools\.json: expected a list of tools, got dict"):
        functions_from_openai({"type": "function"}, where="tools.json")
