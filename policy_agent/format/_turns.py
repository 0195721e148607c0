"""The agent's turn: one message to the user, one tool call, or a violation of the format.

Every consumer (agent loop, trajectories, the `parse` command) matches `AgentTurn`
exhaustively on `kind`; the JSON form carries `kind` first so records read naturally.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue


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


class _Turn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Message(_Turn):
    """A message to the user."""

    kind: Literal["message"] = "message"
    content: str
    reasoning: str | None = None


class ToolCall(_Turn):
    """One call of one function, arguments typed by the function's JSON schema."""

    kind: Literal["tool_call"] = "tool_call"
    name: str
    arguments: dict[str, JsonValue]
    reasoning: str | None = None


class Violation(_Turn):
    """A completion that is not one well-formed action, with whatever could be recovered."""

    kind: Literal["violation"] = "violation"
    code: ViolationCode
    reasoning: str | None = None
    content: str | None = None
    """Text that was not reasoning and not a recovered call (for malformed markup: the markup)."""
    calls: list[ToolCall] = Field(default_factory=list)
    """Every well-formed call found, in order."""
    detail: str
    """What exactly is wrong, for logs and for feedback to the model."""


AgentTurn = Annotated[Message | ToolCall | Violation, Field(discriminator="kind")]
"""What one agent turn amounts to; match on `kind`."""
