"""Value typing, the cases a reader should know by name, per server profile.

Each expectation is what that release's own parser returns (tests/format/vectors/ holds the
full sets: `typing-vllm-<release>.json`, from `vllm/tool_parsers/qwen3coder_tool_parser.py`
up to 0.23 and `vllm/parser/qwen3.py` with `vllm/tool_parsers/utils.py` from 0.24).
"""

from __future__ import annotations

import pytest
from pydantic import JsonValue

from policy_agent.format import (
    CARD_MINIMUM,
    NEWEST,
    PROFILES,
    FunctionSpec,
    ServerProfile,
    ServerTypingError,
    coerce_value,
    cut_value,
    parse_completion,
    profile_named,
)
from policy_agent.records import ToolCall

V17, V18, V22, V24, V33 = CARD_MINIMUM, *(profile_named(f"vllm-0.{n}") for n in (18, 22, 24, 33))


def _coerce(raw: str, schema: JsonValue, profile: ServerProfile) -> JsonValue:
    return coerce_value(raw, "p", {"p": schema}, profile)


def _failure(raw: str, schema: JsonValue, profile: ServerProfile) -> str:
    with pytest.raises(ServerTypingError) as caught:
        _coerce(raw, schema, profile)
    return caught.value.failure


def test_the_default_profile_is_the_card_minimum_0_17() -> None:
    assert CARD_MINIMUM.name == "vllm-0.17" and coerce_value("null", "p", {}) is None


def test_null_is_null_for_every_parameter_until_0_21_then_only_where_allowed() -> None:
    # 0.17.1 `_convert_param_value` tests `null` before it looks at the schema.
    assert _coerce("null", {"type": "string"}, V17) is None
    assert coerce_value("null", "undeclared", {"p": {"type": "integer"}}, V18) is None
    # 0.22+ `coerce_to_schema_type`: null only where the schema allows it.
    assert _coerce("null", {"type": "string"}, V22) == "null"
    assert _coerce("null", {"type": ["string", "null"]}, V22) is None
    assert coerce_value("null", "undeclared", {"p": {"type": "integer"}}, V33) == "null"


@pytest.mark.parametrize("schema", [{"type": "integer"}, {"type": "number"}])
def test_python_none_is_never_null(schema: JsonValue) -> None:
    for profile in (V17, V22, V33):
        assert _coerce("None", schema, profile) == "None"
    assert _coerce("None", {"type": "boolean"}, V17) is False
    assert _coerce("None", {"type": "boolean"}, V22) == "None"


def test_a_boolean_given_1() -> None:
    assert _coerce("1", {"type": "boolean"}, V17) is False
    assert _coerce("1", {"type": "boolean"}, V22) is True
    assert _coerce("0", {"type": "boolean"}, V33) is False
    assert _coerce("yes", {"type": "boolean"}, V33) == "yes"


def test_a_list_valued_type_matches_nothing_until_0_22() -> None:
    # 0.17: `str(["string", "null"]).lower()` is "['string', 'null']": ast.literal_eval decides.
    assert _coerce("123", {"type": ["string", "null"]}, V17) == 123
    assert _coerce("123", {"type": ["string", "null"]}, V22) == "123"
    assert _coerce("7", {"type": ["integer", "null"]}, V33) == 7


def test_any_of_is_a_string_in_0_17_and_an_object_from_0_18() -> None:
    schema: JsonValue = {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert _coerce("5", schema, V17) == "5"
    assert _coerce("5", schema, V18) == 5
    assert _coerce("5", schema, V22) == 5
    assert _coerce("null", schema, V33) is None


def test_a_python_literal_dict() -> None:
    assert _coerce("{'a': None}", {"type": "object"}, V17) == {"a": None}
    assert _coerce("{'a': None}", {"type": "object"}, V22) == "{'a': None}"


def test_a_json_string_is_decoded_once_only() -> None:
    assert _coerce("\"{'a': 1}\"", {"type": "object"}, V17) == "{'a': 1}"


def test_python_literals_json_cannot_hold_make_the_0_17_parser_fail() -> None:
    for raw in ("{1, 2}", "b'x'", "1j", "[1, [2, {'b': b'x'}]]"):
        assert _failure(raw, {"type": "object"}, V17) == "parser_error"
        assert _coerce(raw, {"type": "object"}, V22) == raw


def test_an_infinite_number_fails_the_parser_until_0_24() -> None:
    for raw in ("inf", "1e400", "-1e400"):
        assert _failure(raw, {"type": "number"}, V17) == "parser_error"
        assert _failure(raw, {"type": "number"}, V22) == "parser_error"
        assert _coerce(raw, {"type": "number"}, V24) == raw


def test_nan_stays_text_in_0_17_and_is_not_json_in_0_22() -> None:
    assert _coerce("NaN", {"type": "number"}, V17) == "NaN"
    assert _failure("NaN", {"type": "number"}, V22) == "not_json"
    assert _coerce("NaN", {"type": "number"}, V33) == "NaN"


@pytest.mark.parametrize("raw", ["[1e999]", "[NaN]", '{"a": Infinity}'])
def test_non_finite_numbers_inside_containers_are_never_returned(raw: str) -> None:
    assert _failure(raw, {"type": "array"}, V17) == "not_json"
    assert _failure(raw, {"type": "array"}, V22) == "not_json"
    assert _coerce(raw, {"type": "array"}, V24) == raw


def test_integral_numbers_become_ints() -> None:
    for profile in (V17, V22, V33):
        value = _coerce("1e3", {"type": "number"}, profile)
        assert value == 1000 and type(value) is int


def test_large_integers_stay_exact_from_0_33() -> None:
    assert _coerce("9007199254740993", {"type": "number"}, V22) == 9007199254740992
    assert _coerce("9007199254740993", {"type": "number"}, V33) == 9007199254740993


def test_an_enum_without_type_takes_its_values_kinds_from_0_22() -> None:
    assert _coerce("2", {"enum": [1, 2]}, V17) == "2"  # no `type`: a string
    assert _coerce("2", {"enum": [1, 2]}, V33) == 2
    assert _coerce("2", {"enum": ["1", "2"]}, V33) == "2"


def test_values_lose_one_newline_except_in_0_24_which_strips_whitespace() -> None:
    assert cut_value("\n\n x \n\n", V17) == "\n x \n"
    assert cut_value("\n\n x \n\n", V24) == "x"
    assert cut_value("\n\n x \n\n", NEWEST) == "\n x \n"


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_a_json_integer_past_pythons_digit_limit_stays_text(profile: ServerProfile) -> None:
    # json.loads refuses it with a plain ValueError, which every release catches as it does
    # malformed JSON (vLLM 0.17.1 qwen3coder_tool_parser.py, 0.33.0 tool_parsers/utils.py).
    raw = '{"a": ' + "1" * 5000 + "}"
    properties = {"o": {"type": "object"}}

    assert coerce_value(raw, "o", properties, profile) == raw


def test_a_huge_integer_in_json_does_not_crash_the_parser() -> None:
    spec = FunctionSpec(
        name="f", parameters={"type": "object", "properties": {"o": {"type": "object"}}}
    )
    value = '{"a": ' + "1" * 5000 + "}"
    text = f"<tool_call>\n<function=f>\n<parameter=o>\n{value}\n</parameter>\n</function>\n"
    text += "</tool_call>"

    turn = parse_completion(text, [spec], thinking=False)
    assert turn == ToolCall(name="f", arguments={"o": value})
