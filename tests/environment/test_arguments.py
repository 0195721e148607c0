"""Argument checking: one short message per problem, naming the argument and the tool."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import JsonValue

from policy_agent.domain import ToolSpec
from policy_agent.environment import (
    ArgumentChecker,
    EpisodeEnvironment,
    ToolDefinitionError,
    ToolError,
)

BOOK = ToolSpec.model_validate(
    {
        "name": "book_flight",
        "parameters": {
            "user_id": {"type": "string"},
            "cabin": {"type": "string", "enum": ["economy", "business"]},
            "bags": {"type": "integer", "minimum": 0},
            "price": {"type": "number"},
            "insurance": {"type": "boolean", "default": False},
            "note": {"type": ["string", "null"], "default": None},
            "passengers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                    "required": ["name"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["user_id", "cabin", "bags", "price", "passengers"],
        "implementation": {"op": "respond"},
    }
)
VALID: dict[str, JsonValue] = {
    "user_id": "u1",
    "cabin": "economy",
    "bags": 1,
    "price": 120,  # an int is a number
    "passengers": [{"name": "Ana", "age": 30}],
}


def _message(arguments: dict[str, Any]) -> str:
    with pytest.raises(ToolError) as error:
        ArgumentChecker(BOOK).check(arguments)
    return error.value.message


def test_valid_arguments_pass() -> None:
    ArgumentChecker(BOOK).check(VALID)
    ArgumentChecker(BOOK).check({**VALID, "price": 99.5, "note": None, "insurance": True})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"user_id": None},
            "argument 'user_id' of book_flight must be a string, not null (null)",
        ),
        (
            {"bags": True},
            "argument 'bags' of book_flight must be an integer, not a boolean (true)",
        ),
        (
            {"bags": 2.0},
            "argument 'bags' of book_flight must be an integer, not a number (2.0)",
        ),
        (
            {"bags": "two"},
            "argument 'bags' of book_flight must be an integer, not a string (\"two\")",
        ),
        (
            {"price": False},
            "argument 'price' of book_flight must be a number, not a boolean (false)",
        ),
        (
            {"note": 3},
            "argument 'note' of book_flight must be a string or null, not an integer (3)",
        ),
        (
            {"cabin": "first"},
            'argument \'cabin\' of book_flight must be one of "economy", "business"; got "first"',
        ),
        (
            {"bags": -1},
            "argument 'bags' of book_flight is invalid: -1 is less than the minimum of 0",
        ),
        (
            {"passengers": {"name": "Ana"}},
            "argument 'passengers' of book_flight must be an array, not an object "
            '({"name": "Ana"})',
        ),
        (
            {"passengers": [{"name": "Ana"}, {"name": 7}]},
            "argument 'passengers[1].name' of book_flight must be a string, not an integer (7)",
        ),
        (
            {"passengers": [{"age": 3}]},
            "missing required argument 'passengers[0].name' for book_flight",
        ),
        (
            {"passengers": [{"name": "Ana", "seat": "1A"}]},
            "unknown argument 'passengers[0].seat' for book_flight; "
            "its fields of 'passengers[0]' are: name, age",
        ),
    ],
)
def test_each_problem_gets_one_message(change: dict[str, Any], message: str) -> None:
    assert _message({**VALID, **change}) == message


def test_missing_required_argument() -> None:
    arguments = {k: v for k, v in VALID.items() if k != "user_id"}
    assert _message(arguments) == "missing required argument 'user_id' for book_flight"


def test_an_unknown_argument_comes_first_and_lists_the_real_ones() -> None:
    arguments = {k: v for k, v in VALID.items() if k != "user_id"} | {"userid": "u1", "bags": "x"}
    assert _message(arguments) == (
        "unknown argument 'userid' for book_flight; its arguments are: "
        "user_id, cabin, bags, price, insurance, note, passengers"
    )


def test_long_values_are_shortened_in_messages() -> None:
    message = _message({**VALID, "bags": "y" * 100})
    assert message.endswith('not a string ("' + "y" * 36 + "...)")


def test_defaults_fill_what_was_not_passed_and_are_fresh_copies() -> None:
    tool = ToolSpec.model_validate(
        {
            "name": "t",
            "parameters": {"tags": {"type": "array", "default": []}, "x": {"type": "string"}},
            "implementation": {"op": "respond"},
        }
    )
    checker = ArgumentChecker(tool)
    filled = checker.with_defaults({"x": "a"})
    assert filled == {"tags": [], "x": "a"}
    filled["tags"].append(1)  # type: ignore[union-attr]
    assert checker.with_defaults({})["tags"] == []
    assert checker.with_defaults({"tags": [2]}) == {"tags": [2]}


def test_a_tool_without_parameters_rejects_any_argument() -> None:
    tool = ToolSpec.model_validate({"name": "ping", "implementation": {"op": "respond"}})
    with pytest.raises(
        ToolError, match=r"^unknown argument 'x' for ping; its arguments are: none$"
    ):
        ArgumentChecker(tool).check({"x": 1})


def test_an_invalid_parameter_schema_is_a_definition_error() -> None:
    tool = ToolSpec.model_construct(
        name="t",
        description="",
        parameters={"x": {"type": "string", "minLength": "three"}},
        required=None,
        implementation=BOOK.implementation,
    )
    with pytest.raises(ToolDefinitionError, match=r"^tool t: parameters\.properties\.x\.minLength"):
        ArgumentChecker(tool)


def test_the_model_reads_an_error_result(episode: EpisodeEnvironment) -> None:
    result = episode.call("get_booking_details", {})
    assert result.content == "Error: missing required argument 'booking_id' for get_booking_details"
    assert result.error and not result.crashed


def test_an_unknown_tool_lists_the_tools_of_its_requestor(episode: EpisodeEnvironment) -> None:
    result = episode.call("check_phone", {})
    assert result.error and result.content.startswith(
        "Error: Tool 'check_phone' not found; the tools are: get_booking_details, "
    )
    user = episode.call("get_booking_details", {"booking_id": "B1"}, requestor="user")
    assert user.content == (
        "Error: Tool 'get_booking_details' not found; "
        "the tools are: check_phone, toggle_airplane_mode"
    )


def test_arguments_must_be_an_object(episode: EpisodeEnvironment) -> None:
    result = episode.call("think", ["hmm"])  # type: ignore[arg-type]
    assert result.content == "Error: the arguments of think must be a JSON object"
