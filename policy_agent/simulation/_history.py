"""A task's message history as conversation records: where its episodes start.

A history tool call becomes the call and its result, the result being what the call returned
when the episode's initial state was set (`EpisodeEnvironment.history`). Call ids count as the
agent's and the user's own do (`call_<n>`, `user_call_<n>`), so ids stay unique and the calls
made after the history continue the count.
"""

from __future__ import annotations

from collections.abc import Sequence

from policy_agent.domain import Task
from policy_agent.environment import ToolOutcome
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    ConversationRecord,
    ToolResult,
    UserMessage,
    UserToolCall,
)


def history_records(task: Task, results: Sequence[ToolOutcome]) -> list[ConversationRecord]:
    """The records of `task`'s message history, given the results of its tool calls in order."""
    state = task.initial_state
    if state is None:
        return []
    calls = [message for message in state.messages if message.tool_call is not None]
    if len(results) != len(calls):
        raise ValueError(
            f"task {task.id!r}: its history makes {len(calls)} tool call(s) but "
            f"{len(results)} result(s) were given"
        )
    records: list[ConversationRecord] = []
    pending = iter(results)
    counts = {"assistant": 0, "user": 0}
    for message in state.messages:
        call = message.tool_call
        if call is None:
            assert message.content is not None  # HistoryMessage holds content or a tool call
            text = message.content
            records.append(
                UserMessage(content=text) if message.role == "user" else AgentMessage(content=text)
            )
            continue
        counts[message.role] += 1
        arguments = dict(call.arguments)
        if message.role == "user":
            call_id = f"user_call_{counts['user']}"
            records.append(UserToolCall(call_id=call_id, name=call.name, arguments=arguments))
        else:
            call_id = f"call_{counts['assistant']}"
            records.append(AgentToolCall(call_id=call_id, name=call.name, arguments=arguments))
        result = next(pending)
        records.append(result.record(call_id, call.name, requestor=message.role))
    return records


def agent_moves_first(history: Sequence[ConversationRecord]) -> bool:
    """Whether the agent speaks next after `history`: after a user's message, or after the
    result of its own call (after its message, or the user's own call, the user does)."""
    last = history[-1] if history else None
    return isinstance(last, UserMessage) or (
        isinstance(last, ToolResult) and last.requestor == "assistant"
    )
