"""The agent's view of a conversation as OpenAI messages: the one place history is rebuilt.

Both transports start here. Chat sends these messages and the server's chat template renders
them; completions renders them with `policy_agent.format.render_conversation`, which applies the
template's rules. Either way the agent's reasoning is passed along in full and the template's
rule drops it from turns before the last user message, exactly as the template would.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Literal, assert_never

from policy_agent.format import HISTORY_REASONING_FIELD, neutralise
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    ChatAssistantMessage,
    ChatMessage,
    ChatSystemMessage,
    ChatToolCall,
    ChatToolMessage,
    ChatUserMessage,
    ConversationRecord,
    FunctionCallPayload,
    ToolResult,
    UserMessage,
    UserToolCall,
)


def to_chat_messages(records: Iterable[ConversationRecord]) -> list[ChatMessage]:
    """The conversation as the agent's model sees it (without the system prompt).

    User text and tool results are neutralised (`policy_agent.format.neutralise`): text from
    outside the model can never fake prompt structure, whichever transport renders it. Tool
    calls of the user's own tools (dual control) and their results are not the agent's to see and
    are left out.
    """
    messages: list[ChatMessage] = []
    for record in records:
        match record:
            case UserMessage():
                messages.append(ChatUserMessage(content=neutralise(record.content)))
            case AgentMessage():
                messages.append(
                    ChatAssistantMessage(content=record.content, reasoning_content=record.reasoning)
                )
            case AgentToolCall():
                call = ChatToolCall(
                    id=record.call_id,
                    function=FunctionCallPayload(name=record.name, arguments=record.arguments),
                )
                messages.append(
                    ChatAssistantMessage(
                        content=record.content,
                        reasoning_content=record.reasoning,
                        tool_calls=[call],
                    )
                )
            case ToolResult():
                if record.requestor == "assistant":
                    messages.append(
                        ChatToolMessage(
                            content=neutralise(record.content), tool_call_id=record.call_id
                        )
                    )
            case UserToolCall():
                pass  # the user's own actions happen on its side, out of the agent's sight
            case _:
                assert_never(record)
    return messages


def to_openai_messages(
    messages: Sequence[ChatMessage],
    *,
    reasoning_field: Literal["reasoning", "reasoning_content"] = HISTORY_REASONING_FIELD,
) -> list[dict[str, Any]]:
    """Chat messages as a chat-completions request body carries them.

    Tool-call arguments become JSON strings (as OpenAI sends them; vLLM decodes them before
    templating), and an assistant message without text sends `""`, never null, which a
    template would print. Past reasoning goes in `reasoning` and only there: vLLM 0.17-0.21
    read no other field (a `reasoning_content` would be dropped and the template would render
    `<think></think>` where our log has the reasoning), and 0.22+ read it first
    (docs/servers.md, "History"). `reasoning_field="reasoning_content"` is for files read by
    other tools (the SFT export), never for a request.
    """
    body: list[dict[str, Any]] = []
    for message in messages:
        match message:
            case ChatSystemMessage() | ChatUserMessage():
                body.append({"role": message.role, "content": message.content})
            case ChatToolMessage():
                body.append(
                    {
                        "role": "tool",
                        "content": message.content,
                        "tool_call_id": message.tool_call_id,
                    }
                )
            case ChatAssistantMessage():
                entry: dict[str, Any] = {"role": "assistant", "content": message.content or ""}
                if message.reasoning_content is not None:
                    entry[reasoning_field] = message.reasoning_content
                if message.tool_calls:
                    entry["tool_calls"] = [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {
                                "name": call.function.name,
                                "arguments": json.dumps(
                                    call.function.arguments, ensure_ascii=False
                                ),
                            },
                        }
                        for call in message.tool_calls
                    ]
                body.append(entry)
            case _:
                assert_never(message)
    return body
