"""`vllm_reading`: what a release's lenient qwen3_coder parser runs of an answer we reject."""

from __future__ import annotations

import pytest

from policy_agent.format import (
    FunctionSpec,
    parse_answer,
    profile_named,
    vllm_reading,
)
from policy_agent.records import ToolCall, Violation, VllmReading

BOOK = FunctionSpec(
    name="book",
    parameters={
        "type": "object",
        "properties": {"room": {"type": "string"}, "nights": {"type": "integer"}},
    },
)
V017 = profile_named("vllm-0.17")
V018 = profile_named("vllm-0.18")
V024 = profile_named("vllm-0.24")
V033 = profile_named("vllm-0.33")
BOOKED = ToolCall(name="book", arguments={"room": "Deluxe", "nights": 2})
OPEN = "<tool_call>\n<function=book>\n<parameter=room>\nDeluxe\n</parameter>\n"
NIGHTS = "<parameter=nights>\n2\n</parameter>\n"


@pytest.mark.parametrize(
    "answer",
    [
        OPEN + NIGHTS + "</function>\n",  # no </tool_call>
        OPEN + NIGHTS + "</tool_call>",  # no </function>
        OPEN + NIGHTS,  # neither
        OPEN + "<parameter=nights>\n1\n</parameter>\n" + NIGHTS + "</function>\n</tool_call>",
    ],
    ids=["no-tool-call-close", "no-function-close", "no-closes", "parameter-twice"],
)
def test_a_call_our_parser_rejects_is_what_every_release_would_run(answer: str) -> None:
    assert isinstance(parse_answer(answer, [BOOK]), Violation)
    for profile in (V017, V018, V024):
        assert vllm_reading(answer, [BOOK], profile) == VllmReading(
            profile=profile.name, calls=[BOOKED]
        )


def test_text_after_the_call_is_dropped_and_text_before_is_the_content() -> None:
    answer = "Booking now.\n" + OPEN + NIGHTS + "</function>\n</tool_call>\nDone!"
    assert vllm_reading(answer, [BOOK], V018) == VllmReading(
        profile="vllm-0.18", calls=[BOOKED], content="Booking now.\n"
    )


def test_whitespace_before_a_call_is_no_content_in_every_release() -> None:
    # vLLM 0.17.1 vllm/entrypoints/openai/engine/serving.py, `_parse_tool_calls_from_content`:
    # "if content and content.strip() == '': content = None" once a call is read; 0.24+ strips.
    answer = "\n\n" + OPEN + NIGHTS + "</function>\n</tool_call>"
    for profile in (V017, V018, V024, V033):
        assert vllm_reading(answer, [BOOK], profile) == VllmReading(
            profile=profile.name, calls=[BOOKED]
        )


def test_two_calls_are_both_run() -> None:
    call = OPEN + NIGHTS + "</function>\n</tool_call>\n"
    assert vllm_reading(call + call, [BOOK], V018).calls == [BOOKED, BOOKED]


def test_a_function_name_without_its_closing_bracket_follows_the_profile() -> None:
    answer = "<tool_call>\n<function=book\n</tool_call>"
    assert vllm_reading(answer, [BOOK], V017) == VllmReading(
        profile="vllm-0.17",
        content=answer,
        detail="its parser fails on <function= without >: the whole answer comes back as text",
    )
    assert vllm_reading(answer, [BOOK], V018) == VllmReading(profile="vllm-0.18", content=answer)
    # The parser engine takes the tag into the name until 0.33, which ends the call at it.
    assert vllm_reading(answer, [BOOK], V024).calls == [
        ToolCall(name="book\n</tool_call>", arguments={})
    ]
    assert vllm_reading(answer, [BOOK], V033).calls == [ToolCall(name="book", arguments={})]


def test_a_name_runs_to_the_first_bracket_whatever_it_closes_in_every_release() -> None:
    answer = "<tool_call>\n<function=book\n" + NIGHTS + "</function>\n</tool_call>"
    for profile in (V018, V024, V033):
        [call] = vllm_reading(answer, [BOOK], profile).calls
        assert call == ToolCall(name="book\n<parameter=nights", arguments={})


def test_values_are_cut_and_typed_as_the_release_does() -> None:
    answer = "<tool_call>\n<function=book>\n<parameter=room>\n Deluxe \n</parameter>\n"
    assert vllm_reading(answer, [BOOK], V018).calls[0].arguments == {"room": " Deluxe "}
    assert vllm_reading(answer, [BOOK], V024).calls[0].arguments == {"room": "Deluxe"}


def test_an_answer_without_markup_is_content_only() -> None:
    assert vllm_reading("Hello.", [BOOK], V017) == VllmReading(
        profile="vllm-0.17", content="Hello."
    )
