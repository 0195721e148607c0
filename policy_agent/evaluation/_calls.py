"""What the evaluator reads from an episode's records: its tool calls (with their logged results)
and the agent's messages."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import JsonValue

from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    ConversationRecord,
    Requestor,
    ToolResult,
    UserToolCall,
)


@dataclass(frozen=True, kw_only=True)
class LoggedCall:
    """One tool call of an episode, by the agent or the user, and the result logged for it."""

    index: int
    """The call's position in the records it was read from (`Episode.messages`: its step - 1)."""
    call_id: str
    name: str
    arguments: Mapping[str, JsonValue]
    requestor: Requestor
    result: ToolResult | None
    """None when no result followed (the episode ended before the call ran)."""


def logged_calls(records: Sequence[ConversationRecord]) -> list[LoggedCall]:
    """Every tool call in order, each paired with the first later `ToolResult` of its call_id."""
    calls: list[LoggedCall] = []
    awaiting: dict[str, int] = {}
    """call_id -> index in `calls` of the call still waiting for its result."""
    for index, record in enumerate(records):
        if isinstance(record, AgentToolCall | UserToolCall):
            awaiting[record.call_id] = len(calls)
            calls.append(
                LoggedCall(
                    index=index,
                    call_id=record.call_id,
                    name=record.name,
                    arguments=record.arguments,
                    requestor="user" if isinstance(record, UserToolCall) else "assistant",
                    result=None,
                )
            )
        elif isinstance(record, ToolResult) and record.call_id in awaiting:
            position = awaiting.pop(record.call_id)
            calls[position] = dataclasses.replace(calls[position], result=record)
    return calls


def agent_texts(records: Sequence[ConversationRecord]) -> list[str]:
    """What the agent said to the user, message by message (its reasoning left out)."""
    return [record.content for record in records if isinstance(record, AgentMessage)]
