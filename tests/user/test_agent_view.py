"""The agent's view of a conversation (`to_chat_messages`) leaves the user's own tools out."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import TypeAdapter

from policy_agent.agent import to_chat_messages
from policy_agent.records import (
    AgentMessage,
    ChatAssistantMessage,
    ChatToolMessage,
    ChatUserMessage,
    ConversationRecord,
    ToolResult,
    UserMessage,
    UserToolCall,
)

AT = datetime(2025, 6, 4, 9, 0, tzinfo=UTC)


def test_user_tool_calls_and_their_results_are_not_the_agents_to_see() -> None:
    history: list[ConversationRecord] = [
        AgentMessage(content="Please restart your phone.", timestamp=AT),
        UserToolCall(call_id="user_call_1", name="restart", arguments={}, timestamp=AT),
        ToolResult(call_id="user_call_1", name="restart", content="Restarted.", requestor="user"),
        UserMessage(content="Done.", timestamp=AT),
        ToolResult(call_id="call_1", name="check_line", content="active"),
    ]
    assert to_chat_messages(history) == [
        ChatAssistantMessage(content="Please restart your phone."),
        ChatUserMessage(content="Done."),
        ChatToolMessage(content="active", tool_call_id="call_1"),
    ]


def test_a_user_tool_call_is_one_json_line() -> None:
    call = UserToolCall(
        call_id="user_call_1", name="set_airplane_mode", arguments={"on": False}, timestamp=AT
    )
    line = call.model_dump_json()
    assert line == (
        '{"kind":"user_tool_call","role":"user","call_id":"user_call_1",'
        '"name":"set_airplane_mode","arguments":{"on":false},'
        '"timestamp":"2025-06-04T09:00:00Z","generation":null}'
    )
    assert TypeAdapter(ConversationRecord).validate_json(line) == call
