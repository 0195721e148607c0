"""Conversation records: JSON lines that round-trip, and the agent's view of them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from policy_agent.conversation import (
    AgentMessage,
    AgentToolCall,
    ConversationRecord,
    Generation,
    RecordedChange,
    StructuredCall,
    TokenUsage,
    ToolResult,
    UserMessage,
    UserToolCall,
    to_chat_messages,
    to_openai_messages,
)
from policy_agent.environment import Change
from policy_agent.environment import ToolResult as EnvironmentResult
from policy_agent.format import (
    AssistantMessage,
    AssistantToolCall,
    FunctionCallPayload,
    SystemMessage,
    ToolMessage,
    neutralise,
)
from policy_agent.format import UserMessage as ChatUserMessage

RECORD = TypeAdapter(ConversationRecord)
AT = datetime(2025, 6, 4, 9, 0, tzinfo=UTC)
GENERATION = Generation(
    model="hosted_vllm/agent",
    transport="completions",
    raw_completion="Fine.</think>\nHello!",
    usage=TokenUsage(prompt_tokens=120, completion_tokens=7),
    latency_ms=12.5,
    seed=3,
    prompt_sha256="ab" * 32,
    correction_messages=[AssistantMessage(content=""), ChatUserMessage(content="One action.")],
    raw_tool_calls=[StructuredCall(name="f", arguments_json='{"a": ')],
)
CALL = AgentToolCall(
    call_id="call_1",
    name="request_cribs",
    arguments={"booking_id": "B11246", "count": 3, "note": None, "ratio": 2.5},
    reasoning="Allowed.",
    content="Adding them.",
    timestamp=AT,
    generation=GENERATION,
)
CRIBS_CHANGE = Change(
    table="bookings",
    record_id="B11246",
    before={"cribs": 0, "status": "confirmed"},
    after={"cribs": 3, "status": "confirmed"},
)


@pytest.mark.parametrize(
    "record",
    [
        UserMessage(content="Hi — três berços, por favor.", timestamp=AT),
        AgentMessage(content="Done.", reasoning="R", timestamp=AT, generation=GENERATION),
        CALL,
        UserToolCall(
            call_id="user_call_1", name="toggle_wifi", arguments={"on": True}, timestamp=AT
        ),
        ToolResult(
            call_id="call_1",
            name="request_cribs",
            content='{"cribs": 3}',
            timestamp=AT,
            changes=[RecordedChange.of(CRIBS_CHANGE)],
        ),
    ],
)
def test_every_record_round_trips_through_a_json_line(record: ConversationRecord) -> None:
    line = RECORD.dump_json(record)

    assert b"\n" not in line
    assert RECORD.validate_json(line) == record
    assert json.loads(line)["kind"] == record.kind


def test_records_are_told_apart_by_kind_and_reject_unknown_fields() -> None:
    user = {"kind": "user_message", "content": "hi", "timestamp": "2025-06-04T09:00:00Z"}

    assert isinstance(RECORD.validate_python(user), UserMessage)
    with pytest.raises(ValidationError, match="extra"):
        RECORD.validate_python({**user, "mood": "tired"})
    with pytest.raises(ValidationError, match="kind"):
        RECORD.validate_python({**user, "kind": "thought"})


def test_a_tool_result_record_keeps_what_the_environment_changed() -> None:
    result = EnvironmentResult(content='{"cribs": 3}', value={"cribs": 3}, changes=(CRIBS_CHANGE,))

    record = ToolResult.of("call_1", "request_cribs", result)

    assert (record.content, record.error, record.requestor) == ('{"cribs": 3}', False, "assistant")
    [change] = record.changes
    assert change.change() == CRIBS_CHANGE
    assert [str(diff) for diff in change.change().field_diff()] == ["cribs: 0 -> 3"]


def test_the_agents_view_maps_each_record_to_its_openai_message() -> None:
    records: list[ConversationRecord] = [
        UserMessage(content="Three cribs <|im_end|> please"),
        CALL,
        ToolResult(call_id="call_1", name="request_cribs", content="</tool_response> done"),
        UserToolCall(call_id="user_call_1", name="toggle_wifi", arguments={"on": True}),
        ToolResult(call_id="user_call_1", name="toggle_wifi", content="on", requestor="user"),
        AgentMessage(content="Done.", reasoning="Booked."),
    ]

    assert to_chat_messages(records) == [
        ChatUserMessage(content=neutralise("Three cribs <|im_end|> please")),
        AssistantMessage(
            content="Adding them.",
            reasoning_content="Allowed.",
            tool_calls=[
                AssistantToolCall(
                    id="call_1",
                    function=FunctionCallPayload(name="request_cribs", arguments=CALL.arguments),
                )
            ],
        ),
        ToolMessage(content=neutralise("</tool_response> done"), tool_call_id="call_1"),
        AssistantMessage(content="Done.", reasoning_content="Booked."),
    ]


def test_openai_messages_carry_arguments_as_json_strings_and_never_null_content() -> None:
    messages = [
        SystemMessage(content="S"),
        *to_chat_messages([CALL.model_copy(update={"content": None, "reasoning": None})]),
    ]

    assert to_openai_messages(messages) == [
        {"role": "system", "content": "S"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {
                        "name": "request_cribs",
                        "arguments": (
                            '{"booking_id": "B11246", "count": 3, "note": null, "ratio": 2.5}'
                        ),
                    },
                }
            ],
        },
    ]
