"""Value typing rule by rule, as vLLM's `qwen3_coder` parser types parameter text (§3)."""

from __future__ import annotations

import math

import pytest
from pydantic import JsonValue

from policy_agent.format import coerce_value


def _coerce(raw: str, schema: JsonValue) -> JsonValue:
    return coerce_value(raw, "p", {"p": schema})


def test_a_parameter_the_schema_does_not_declare_stays_a_string() -> None:
    assert coerce_value("5", "other", {"p": {"type": "integer"}}) == "5"
    assert coerce_value("null", "p", {}) == "null"


def test_a_schema_without_type_is_a_string() -> None:
    assert _coerce("5", {"description": "d"}) == "5"


@pytest.mark.parametrize(
    "declared", ["string", "str", "text", "varchar", "char", "enum", " String "]
)
def test_string_types_keep_the_text_even_null(declared: str) -> None:
    assert _coerce("null", {"type": declared}) == "null"
    assert _coerce(" 42 ", {"type": declared}) == " 42 "


@pytest.mark.parametrize("declared", ["integer", "int", "uint64", "long", "short", "unsigned"])
def test_integer_types_use_int(declared: str) -> None:
    assert _coerce("42", {"type": declared}) == 42
    assert _coerce(" -7 ", {"type": declared}) == -7


def test_an_integer_that_int_rejects_stays_a_string() -> None:
    assert _coerce("4.0", {"type": "integer"}) == "4.0"
    assert _coerce("four", {"type": "integer"}) == "four"


def test_number_types_use_float() -> None:
    value = _coerce("2.5", {"type": "number"})
    assert value == 2.5 and isinstance(value, float)
    assert _coerce("1e-3", {"type": "float"}) == 0.001


def test_integral_numbers_become_ints() -> None:
    for raw, expected in (("3.0", 3), ("1e3", 1000), ("-0.0", 0), ("7", 7)):
        value = _coerce(raw, {"type": "number"})
        assert value == expected and type(value) is int


def test_numbers_that_fail_stay_strings() -> None:
    assert _coerce("about 3", {"type": "number"}) == "about 3"
    assert _coerce("nan", {"type": "number"}) == "nan"
    assert _coerce("inf", {"type": "number"}) == "inf"


@pytest.mark.parametrize("declared", ["boolean", "bool", "binary"])
def test_boolean_types_are_lowercase_equal_true(declared: str) -> None:
    assert _coerce("True", {"type": declared}) is True
    assert _coerce("TRUE", {"type": declared}) is True
    assert _coerce("false", {"type": declared}) is False
    assert _coerce("yes", {"type": declared}) is False


def test_objects_and_arrays_are_json() -> None:
    assert _coerce('{"a": [1, 2.5, null]}', {"type": "object"}) == {"a": [1, 2.5, None]}
    assert _coerce("[true]", {"type": "array"}) == [True]


def test_objects_and_arrays_fall_back_to_python_literals() -> None:
    assert _coerce("{'a': True, 'b': None}", {"type": "object"}) == {"a": True, "b": None}
    assert _coerce("(1, 2)", {"type": "array"}) == [1, 2]


def test_a_json_string_holding_a_python_literal_is_decoded_once_more() -> None:
    assert _coerce("\"{'a': 1}\"", {"type": "object"}) == {"a": 1}


def test_python_literal_parsing_never_runs_code() -> None:
    assert _coerce("__import__('os').getcwd()", {"type": "object"}) == "__import__('os').getcwd()"


def test_a_literal_json_cannot_hold_stays_a_string() -> None:
    assert _coerce("{1, 2}", {"type": "array"}) == "{1, 2}"
    assert _coerce("1j", {"type": "object"}) == "1j"


def test_literal_keys_become_json_strings() -> None:
    assert _coerce("{1: 'a'}", {"type": "object"}) == {"1": "a"}


def test_other_types_try_a_python_literal_then_keep_the_text() -> None:
    assert _coerce("[1, 2]", {"type": "tuple"}) == [1, 2]
    assert _coerce("hello", {"type": "tuple"}) == "hello"


def test_a_list_valued_type_is_read_as_its_text() -> None:
    """`str(["integer", "null"]).lower()` is no known type: Python-literal parsing applies."""
    assert _coerce("5", {"type": ["integer", "null"]}) == 5
    assert _coerce("hello", {"type": ["string", "null"]}) == "hello"
    assert _coerce("123", {"type": ["string", "null"]}) == 123


@pytest.mark.parametrize("raw", ["null", "None", "NULL", "none"])
def test_null_and_none_are_null_for_non_string_types(raw: str) -> None:
    assert _coerce(raw, {"type": "integer"}) is None
    assert _coerce(raw, {"type": ["string", "null"]}) is None


@pytest.mark.parametrize("raw", ["null", "None"])
def test_nullable_strings_map_null_and_none_to_null(raw: str) -> None:
    nullable = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert _coerce(raw, nullable) is None
    assert _coerce(raw, {"type": "null"}) is None
    assert _coerce("text", nullable) == "text"


def test_any_of_uses_its_first_non_null_type() -> None:
    assert _coerce("5", {"anyOf": [{"type": "null"}, {"type": "integer"}, {"type": "string"}]}) == 5


def test_json_specials_stay_as_json_reads_them() -> None:
    value = _coerce("[NaN]", {"type": "array"})
    assert isinstance(value, list) and math.isnan(value[0])  # type: ignore[arg-type]
