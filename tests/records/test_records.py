"""Conversation records: JSON lines that round-trip, told apart by kind."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    ChatAssistantMessage,
    ChatUserMessage,
    ConversationRecord,
    Generation,
    RecordedChange,
    StructuredCall,
    TokenUsage,
    ToolResult,
    UserMessage,
    UserToolCall,
)

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
    correction_messages=[ChatAssistantMessage(content=""), ChatUserMessage(content="One action.")],
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
CRIBS_CHANGE = RecordedChange(
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
            changes=[CRIBS_CHANGE],
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


def test_a_recorded_change_says_what_happened_to_the_record() -> None:
    assert CRIBS_CHANGE.kind == "update"
    assert CRIBS_CHANGE.model_copy(update={"before": None}).kind == "insert"
    assert CRIBS_CHANGE.model_copy(update={"after": None}).kind == "delete"
