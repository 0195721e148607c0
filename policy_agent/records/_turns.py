"""The agent's turn: one message to the user, one tool call, or a violation of the format.

`policy_agent.format`'s parser produces these; the agent acts on them and a violation event
keeps the rejected one. Every consumer matches `AgentTurn` on `kind` with `assert_never`; the
JSON form carries `kind` first so records read naturally.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, JsonValue

from policy_agent.records._base import Record


class ViolationCode(StrEnum):
    """Why a completion is not one well-formed action."""

    EMPTY = "empty"
    """Nothing but whitespace after the reasoning."""
    MULTIPLE_TOOL_CALLS = "multiple_tool_calls"
    """More than one tool call in one turn (one action per turn)."""
    TEXT_AFTER_TOOL_CALL = "text_after_tool_call"
    """Text follows the tool call (reasoning may come before a call, never after)."""
    TEXT_WITH_TOOL_CALL = "text_with_tool_call"
    """A structured (server-parsed) response carries message text together with a call.

    Only the chat styles produce it: the server keeps the text before a call as `content`, so
    a message and a call arrive together and the agent cannot tell which one was meant.
    """
    MALFORMED_TOOL_CALL = "malformed_tool_call"
    """Tool-call markup that does not follow the format (unclosed tag, no function name, ...)."""
    UNTERMINATED_REASONING = "unterminated_reasoning"
    """Thinking mode, but the completion never closed its reasoning with `</think>`."""
    TRUNCATED = "truncated"
    """The server cut the answer off at `max_tokens` (finish reason `length`): whatever it
    holds, it is not the whole answer. A model-config matter more than the model's: raise
    `max_tokens` (or the server's context window)."""


class Message(Record):
    """A message to the user."""

    kind: Literal["message"] = "message"
    content: str
    reasoning: str | None = None
    """The text of the `<think>` block, trimmed."""


class ToolCall(Record):
    """One call of one function, arguments typed by the function's JSON schema."""

    kind: Literal["tool_call"] = "tool_call"
    name: str
    arguments: dict[str, JsonValue]
    reasoning: str | None = None
    """The text of the `<think>` block, trimmed."""
    prelude: str | None = None
    """Text written after the reasoning and before the call (the template invites "reasoning
    BEFORE the function call"); the chat template keeps it as the message's content."""


class Violation(Record):
    """A completion that is not one well-formed action, with whatever could be recovered."""

    kind: Literal["violation"] = "violation"
    code: ViolationCode
    reasoning: str | None = None
    """The text of the `<think>` block, trimmed."""
    prelude: str | None = None
    """Text between the reasoning and the first tool-call markup, as for `ToolCall`."""
    content: str | None = None
    """Text that was not reasoning, prelude or a recovered call (for malformed markup: the
    markup)."""
    calls: list[ToolCall] = Field(default_factory=list)
    """Every well-formed call found, in order (their own `reasoning` and `prelude` are unset:
    the violation holds them)."""
    detail: str
    """What exactly is wrong, for logs and for feedback to the model."""


AgentTurn = Annotated[Message | ToolCall | Violation, Field(discriminator="kind")]
"""What one agent turn amounts to; match on `kind`."""
