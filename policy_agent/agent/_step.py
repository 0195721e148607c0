"""What one agent turn gives the simulation: a message, a tool call, or a given-up turn.

A tagged union: match it on its class (or `kind`) with `assert_never`. Every variant carries
what the turn recorded on the way (violations and retries), its tokens and its time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from policy_agent.records import (
    AgentEvent,
    AgentMessage,
    AgentToolCall,
    Message,
    TokenUsage,
    ToolCall,
    Violation,
)


@dataclass(frozen=True, kw_only=True)
class _Step:
    events: tuple[AgentEvent, ...] = ()
    """Violations and retries, in order."""
    usage: TokenUsage
    """Tokens of every model call of the turn, rejected attempts included."""
    latency_ms: float
    """Time spent in successful model calls of the turn (failed attempts are in the events)."""


@dataclass(frozen=True, kw_only=True)
class MessageStep(_Step):
    """The agent said something to the user: the user's turn next."""

    kind: Literal["message"] = "message"
    turn: Message
    record: AgentMessage


@dataclass(frozen=True, kw_only=True)
class ToolCallStep(_Step):
    """The agent called a tool: run it, append its result, and ask the agent again."""

    kind: Literal["tool_call"] = "tool_call"
    turn: ToolCall
    """The call that is run (with `keep_first`, the first of a violation's calls)."""
    record: AgentToolCall


@dataclass(frozen=True, kw_only=True)
class GaveUpStep(_Step):
    """The agent gave no usable action and its violation strategy gave up (`agent_error`)."""

    kind: Literal["gave_up"] = "gave_up"
    turn: Violation
    """The last violation."""


AgentStep = MessageStep | ToolCallStep | GaveUpStep
"""One agent turn; match on the variant."""
