"""Parsing completions (FORMAT.md §3) and structured responses into one `AgentTurn`."""

from __future__ import annotations

import pytest

from policy_agent.format import FunctionSpec, parse_completion, parse_structured
from policy_agent.records import Message, ToolCall, Violation, ViolationCode

BOOK = FunctionSpec(
    name="book",
    parameters={
        "type": "object",
        "properties": {
            "room": {"type": "string"},
            "nights": {"type": "integer"},
            "price": {"type": "number"},
            "cribs": {"type": "boolean"},
            "guests": {"type": "array"},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
    },
)
FUNCTIONS = [BOOK]
CALL = (
    "<tool_call>\n<function=book>\n<parameter=room>\nDeluxe\n</parameter>\n"
    "<parameter=nights>\n3\n</parameter>\n</function>\n</tool_call>"
)


def _violation(text: str, *, thinking: bool = True) -> Violation:
    turn = parse_completion(text, FUNCTIONS, thinking=thinking)
    assert isinstance(turn, Violation), turn
    return turn


def test_a_message_after_the_reasoning() -> None:
    assert parse_completion("Let me greet.\n</think>\n\nHello!  \n", FUNCTIONS) == Message(
        content="Hello!", reasoning="Let me greet."
    )


def test_instruct_mode_has_no_reasoning() -> None:
    assert parse_completion("\nHello!", FUNCTIONS, thinking=False) == Message(content="Hello!")


def test_empty_reasoning_is_none() -> None:
    assert parse_completion("</think>Hi", FUNCTIONS) == Message(content="Hi")


def test_a_tool_call_typed_by_the_schema() -> None:
    completion = (
        "Book it.</think>\n<tool_call>\n<function=book>\n<parameter=room>\nDeluxe\n</parameter>\n"
        "<parameter=nights>\n3\n</parameter>\n<parameter=price>\n120.0\n</parameter>\n"
        "<parameter=cribs>\nTrue\n</parameter>\n<parameter=guests>\n"
        '["Ann", "Bo"]\n</parameter>\n<parameter=note>\nnull\n</parameter>\n'
        "</function>\n</tool_call>"
    )
    assert parse_completion(completion, FUNCTIONS) == ToolCall(
        name="book",
        arguments={
            "room": "Deluxe",
            "nights": 3,
            "price": 120,
            "cribs": True,
            "guests": ["Ann", "Bo"],
            "note": None,
        },
        reasoning="Book it.",
    )


def test_one_leading_and_one_trailing_newline_of_a_value_are_removed() -> None:
    completion = (
        "</think><tool_call>\n<function=book>\n<parameter=room>\n\n two\nlines \n\n</parameter>\n"
        "</function>\n</tool_call>"
    )
    turn = parse_completion(completion, FUNCTIONS)
    assert isinstance(turn, ToolCall)
    assert turn.arguments == {"room": "\n two\nlines \n"}


def test_whitespace_between_tags_is_free() -> None:
    completion = (
        "</think>  <tool_call><function=book>  <parameter=nights>2</parameter></function>"
        "</tool_call>\n"
    )
    assert parse_completion(completion, FUNCTIONS) == ToolCall(name="book", arguments={"nights": 2})


def test_text_before_a_call_is_its_prelude_not_a_message() -> None:
    turn = parse_completion(f"Think.</think>\nI will book the room now.\n{CALL}", FUNCTIONS)
    assert isinstance(turn, ToolCall)
    assert (turn.reasoning, turn.prelude) == ("Think.", "I will book the room now.")


def test_a_later_think_tag_belongs_to_the_answer() -> None:
    # vLLM's reasoning parsers end the reasoning at the first </think>, and so does ours.
    turn = parse_completion("a</think>b</think>Hello", FUNCTIONS)
    assert turn == Message(content="b</think>Hello", reasoning="a")


def test_instruct_mode_reads_an_empty_think_block_as_no_reasoning() -> None:
    # The prompt already ends with <think></think>; a model that writes one more must not
    # show its tags to the customer.
    assert parse_completion("<think></think>Hello!", FUNCTIONS, thinking=False) == Message(
        content="Hello!"
    )
    assert parse_completion("<think>hm</think>Hi", FUNCTIONS, thinking=False) == Message(
        content="Hi", reasoning="hm"
    )


def test_markup_inside_the_reasoning_is_never_an_action() -> None:
    turn = parse_completion(f"Maybe {CALL}? No.</think>\nWhich room?", FUNCTIONS)
    assert turn == Message(content="Which room?", reasoning=f"Maybe {CALL}? No.")


def test_a_call_to_an_unknown_function_is_a_tool_call_with_string_arguments() -> None:
    completion = (
        "</think><tool_call>\n<function=cancel>\n<parameter=id>\n7\n</parameter>\n</function>\n"
        "</tool_call>"
    )
    assert parse_completion(completion, FUNCTIONS) == ToolCall(name="cancel", arguments={"id": "7"})


def test_parameters_not_in_the_schema_stay_strings() -> None:
    completion = (
        "</think><tool_call>\n<function=book>\n<parameter=floor>\n3\n</parameter>\n</function>\n"
        "</tool_call>"
    )
    turn = parse_completion(completion, FUNCTIONS)
    assert isinstance(turn, ToolCall) and turn.arguments == {"floor": "3"}


# --- violations ------------------------------------------------------------------------------


def test_empty() -> None:
    turn = _violation("Nothing to say.</think>\n \n")
    assert (turn.code, turn.reasoning, turn.content, turn.calls) == (
        ViolationCode.EMPTY,
        "Nothing to say.",
        None,
        [],
    )
    assert _violation("   ", thinking=False).code is ViolationCode.EMPTY


def test_unterminated_reasoning() -> None:
    turn = _violation(f"I keep thinking... {CALL}")
    assert turn.code is ViolationCode.UNTERMINATED_REASONING
    assert turn.reasoning == f"I keep thinking... {CALL}"
    assert turn.calls == []


def test_multiple_tool_calls_recovers_every_call() -> None:
    turn = _violation(f"r</think>\n{CALL}\n{CALL.replace('Deluxe', 'Suite')}\n")
    assert turn.code is ViolationCode.MULTIPLE_TOOL_CALLS
    assert [c.arguments["room"] for c in turn.calls] == ["Deluxe", "Suite"]
    assert turn.content is None


def test_multiple_tool_calls_with_text_between_them() -> None:
    turn = _violation(f"r</think>\n{CALL}\nand also\n{CALL}")
    assert turn.code is ViolationCode.MULTIPLE_TOOL_CALLS
    assert turn.content == "and also"
    assert len(turn.calls) == 2


def test_text_after_tool_call() -> None:
    turn = _violation(f"r</think>\n{CALL}\nI have booked it for you!")
    assert turn.code is ViolationCode.TEXT_AFTER_TOOL_CALL
    assert turn.content == "I have booked it for you!"
    # The violation holds the reasoning; the calls it recovered are bare.
    assert turn.reasoning == "r"
    assert turn.calls == [ToolCall(name="book", arguments={"room": "Deluxe", "nights": 3})]


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        (
            "<tool_call>\n<function=book>\n</function>\n",
            "</function> of book is not followed by </tool_call>",
        ),
        (
            "<tool_call>\n<function=book>\n<parameter=room>\nA\n",
            "<parameter=room> of book is never closed",
        ),
        (
            "<tool_call>\n<function=book>\n<parameter=room>\nA\n</parameter>\n",
            "where <parameter=NAME> or </function>",
        ),
        ("<tool_call>\nbook\n</tool_call>", "<tool_call> is not followed by <function=NAME>"),
        (
            "<tool_call>\n<function=>\n</function>\n</tool_call>",
            "<function=> does not name a function",
        ),
        ("<tool_call>\n<function=book now>\n</function>\n</tool_call>", "does not name a function"),
        ("<tool_call>\n<function=book", "<function= is never closed with >"),
        ("<function=book>\n</function>", "<function= without a <tool_call>"),
        ("<parameter=room>\nA\n</parameter>", "<parameter= without a <tool_call>"),
        ("</tool_call>", "</tool_call> without a <tool_call>"),
        (
            "<tool_call>\n<function=book>\n<parameter=room>\nA\n<parameter=nights>\n2\n</parameter>\n"
            "</function>\n</tool_call>",
            "<parameter=room> of book contains tool-call markup",
        ),
        (
            "<tool_call>\n<function=book>\n<parameter=room>\nA\n</parameter>\n<parameter=room>\nB\n"
            "</parameter>\n</function>\n</tool_call>",
            "parameter room of book is given twice",
        ),
        (
            "<tool_call>\n<function=book>\n<parameter=>\nA\n</parameter>\n</function>\n</tool_call>",
            "<parameter=> does not name a parameter",
        ),
    ],
)
def test_malformed_tool_call(answer: str, detail: str) -> None:
    turn = _violation(f"r</think>\nFirst I check.\n{answer}")
    assert turn.code is ViolationCode.MALFORMED_TOOL_CALL
    assert detail in turn.detail
    assert turn.content == answer.strip()
    assert (turn.reasoning, turn.prelude) == ("r", "First I check.")


def test_malformed_markup_after_a_good_call_keeps_the_good_call() -> None:
    turn = _violation(f"r</think>\n{CALL}\n</function>")
    assert turn.code is ViolationCode.MALFORMED_TOOL_CALL
    assert turn.detail == "</function> outside a <tool_call>"
    assert [c.name for c in turn.calls] == ["book"]


# --- structured (server-parsed) responses ------------------------------------------------------


def _structured(name: str = "book", arguments: object = '{"nights": 2}') -> dict[str, object]:
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}


def test_structured_message() -> None:
    assert parse_structured(" Hi! ", [], " why ") == Message(content="Hi!", reasoning="why")


def test_structured_tool_call_keeps_the_servers_typing() -> None:
    assert parse_structured("\n", [_structured()], None) == ToolCall(
        name="book", arguments={"nights": 2}
    )
    assert parse_structured(None, [_structured(arguments={"nights": "2"})], "r") == ToolCall(
        name="book", arguments={"nights": "2"}, reasoning="r"
    )


def test_structured_empty() -> None:
    turn = parse_structured(None, [], "thought")
    assert isinstance(turn, Violation) and turn.code is ViolationCode.EMPTY
    assert turn.reasoning == "thought"


def test_structured_multiple_tool_calls() -> None:
    turn = parse_structured(None, [_structured(), _structured(name="cancel")], None)
    assert isinstance(turn, Violation) and turn.code is ViolationCode.MULTIPLE_TOOL_CALLS
    assert [c.name for c in turn.calls] == ["book", "cancel"]


def test_structured_text_with_tool_call() -> None:
    turn = parse_structured("Booking now.", [_structured()], None)
    assert isinstance(turn, Violation) and turn.code is ViolationCode.TEXT_WITH_TOOL_CALL
    assert turn.content == "Booking now."
    assert len(turn.calls) == 1


@pytest.mark.parametrize(
    ("entry", "detail"),
    [
        ({"id": "c"}, "tool_calls[0]: no function object"),
        (_structured(name=""), 'tool_calls[0]: invalid function name ""'),
        (_structured(arguments="{nights"), "tool_calls[0]: arguments of book are not valid JSON"),
        (_structured(arguments="[1]"), "tool_calls[0]: arguments of book are not a JSON object"),
    ],
)
def test_structured_malformed_tool_call(entry: dict[str, object], detail: str) -> None:
    turn = parse_structured(None, [entry], None)
    assert isinstance(turn, Violation) and turn.code is ViolationCode.MALFORMED_TOOL_CALL
    assert turn.detail.startswith(detail)


def test_turns_serialise_with_kind_first() -> None:
    dumped = ToolCall(name="book", arguments={"nights": 2}).model_dump_json()
    assert dumped == (
        '{"kind":"tool_call","name":"book","arguments":{"nights":2},"reasoning":null,'
        '"prelude":null}'
    )
