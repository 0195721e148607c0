"""The agent's view of a conversation: its records as OpenAI messages."""

from __future__ import annotations

from datetime import UTC, datetime

from policy_agent.agent import to_chat_messages, to_openai_messages
from policy_agent.format import neutralise
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    ChatAssistantMessage,
    ChatSystemMessage,
    ChatToolCall,
    ChatToolMessage,
    ChatUserMessage,
    ConversationRecord,
    FunctionCallPayload,
    Generation,
    StructuredCall,
    TokenUsage,
    ToolResult,
    UserMessage,
    UserToolCall,
)

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
        ChatAssistantMessage(
            content="Adding them.",
            reasoning_content="Allowed.",
            tool_calls=[
                ChatToolCall(
                    id="call_1",
                    function=FunctionCallPayload(name="request_cribs", arguments=CALL.arguments),
                )
            ],
        ),
        ChatToolMessage(content=neutralise("</tool_response> done"), tool_call_id="call_1"),
        ChatAssistantMessage(content="Done.", reasoning_content="Booked."),
    ]


def test_openai_messages_carry_arguments_as_json_strings_and_never_null_content() -> None:
    messages = [
        ChatSystemMessage(content="S"),
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


def test_openai_messages_carry_past_reasoning_as_reasoning_only() -> None:
    messages = [ChatAssistantMessage(content="Done.", reasoning_content="Booked.")]

    assert to_openai_messages(messages) == [
        {"role": "assistant", "content": "Done.", "reasoning": "Booked."}
    ]
    assert to_openai_messages(messages, reasoning_field="reasoning_content") == [
        {"role": "assistant", "content": "Done.", "reasoning_content": "Booked."}
    ]
