"""The records of a conversation: what was said, called and returned, one JSON line each.

The agent appends its records, the simulation runner appends the user's and the tool results,
and the trajectory store writes them to disk unchanged; so every record is a pydantic model
with only JSON values, told apart by `kind`. Records carry what a reader (or a training export)
needs to see exactly what the model saw and wrote: the agent's records hold a `Generation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from policy_agent.environment import Change, Requestor
from policy_agent.environment import ToolResult as EnvironmentResult
from policy_agent.format import ChatMessage
from policy_agent.llm import Completion


def now() -> datetime:
    """The current time in UTC, as records are stamped."""
    return datetime.now(UTC)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TokenUsage(_Record):
    """Token counts as the server reported them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class StructuredCall(_Record):
    """A tool call as the server's parser sent it (chat transport with `tools=`), unchecked."""

    name: str
    arguments_json: str
    """The arguments exactly as sent: a JSON string that may be invalid."""


class Generation(_Record):
    """One model call that produced a turn (or a violation): what came back and what it cost.

    The prompt text itself is not stored: it repeats the whole conversation, system prompt
    included, in every turn (the hotel's system prompt alone is 17 kB). `prompt_sha256`
    identifies it, and `Agent.prompt(records before this one, corrections=correction_messages)`
    rebuilds it byte for byte: the prompt depends only on the agent's configuration, the
    earlier records and `correction_messages`.
    """

    model: str
    """The litellm model string."""
    transport: Literal["chat", "completions"]
    raw_completion: str
    """What the model wrote, as it came back: the raw text (completions transport) or
    `message.content` with any markup (chat transport; empty when the server sent none)."""
    raw_reasoning: str | None = None
    """The server's separately parsed reasoning (chat transport with a reasoning parser)."""
    raw_tool_calls: list[StructuredCall] = Field(default_factory=list)
    """The server's parsed tool calls (chat transport, template style)."""
    finish_reason: str | None = None
    usage: TokenUsage = Field(default_factory=TokenUsage)
    latency_ms: float = 0.0
    seed: int | None = None
    """The seed sent with the request (attempt n of a turn sends seed + n - 1)."""
    attempt: int = 1
    """Which attempt of the turn this was (1 unless earlier ones were violations)."""
    prompt_sha256: str | None = None
    """sha256 (hex) of the UTF-8 prompt text sent (completions transport; None for chat, where
    the server renders the prompt)."""
    correction_messages: list[ChatMessage] = Field(default_factory=list)
    """Messages the prompt had after the conversation: the rejected answers and corrections of
    the `feedback` strategy. They belong to this turn's prompt, never to the conversation."""

    @classmethod
    def of(
        cls,
        completion: Completion,
        *,
        transport: Literal["chat", "completions"],
        seed: int | None,
        attempt: int,
        prompt_sha256: str | None = None,
        corrections: Sequence[ChatMessage] = (),
    ) -> Generation:
        """The record of one model call, from what the LLM client returned."""
        return cls(
            model=completion.model,
            transport=transport,
            raw_completion=completion.text or "",
            raw_reasoning=completion.reasoning,
            raw_tool_calls=[
                StructuredCall(name=call.name, arguments_json=call.arguments_json)
                for call in completion.tool_calls
            ],
            finish_reason=completion.finish_reason,
            usage=TokenUsage(
                prompt_tokens=completion.usage.prompt_tokens,
                completion_tokens=completion.usage.completion_tokens,
            ),
            latency_ms=completion.latency_ms,
            seed=seed,
            attempt=attempt,
            prompt_sha256=prompt_sha256,
            correction_messages=list(corrections),
        )


class UserMessage(_Record):
    """What the user (a person or the user simulator) said to the agent."""

    kind: Literal["user_message"] = "user_message"
    role: Literal["user"] = "user"
    content: str
    timestamp: datetime = Field(default_factory=now)
    generation: Generation | None = None
    """The model call that wrote it, when an LLM user simulator did."""


class AgentMessage(_Record):
    """A message from the agent to the user."""

    kind: Literal["agent_message"] = "agent_message"
    role: Literal["assistant"] = "assistant"
    content: str
    reasoning: str | None = None
    """What the model thought first (the text of its `<think>` block)."""
    timestamp: datetime = Field(default_factory=now)
    generation: Generation | None = None
    """None for a message no model wrote (e.g. a fixed greeting)."""


class AgentToolCall(_Record):
    """One tool call by the agent; its result follows as a `ToolResult` with the same call_id."""

    kind: Literal["agent_tool_call"] = "agent_tool_call"
    role: Literal["assistant"] = "assistant"
    call_id: str
    name: str
    arguments: dict[str, JsonValue]
    reasoning: str | None = None
    """The text of the model's `<think>` block."""
    content: str | None = None
    """Text the model wrote after its reasoning and before the call. The format counts it as
    reasoning (the turn's `reasoning` joins both); the chat template keeps it as the assistant
    message's content, so history renders it there."""
    timestamp: datetime = Field(default_factory=now)
    generation: Generation | None = None


class UserToolCall(_Record):
    """One tool call by the user simulator on its own side (dual control, `user_tools`).

    Its result follows as a `ToolResult` with the same call_id and requestor `user`. Neither is
    shown to the agent: it learns what the user did only from what the user tells it.
    """

    kind: Literal["user_tool_call"] = "user_tool_call"
    role: Literal["user"] = "user"
    call_id: str
    name: str
    arguments: dict[str, JsonValue]
    timestamp: datetime = Field(default_factory=now)
    generation: Generation | None = None
    """The user model's call that wrote it."""


class RecordedChange(_Record):
    """One record a tool call wrote: `before` None is an insert, `after` None a delete."""

    table: str
    record_id: str
    before: dict[str, JsonValue] | None
    after: dict[str, JsonValue] | None

    @classmethod
    def of(cls, change: Change) -> RecordedChange:
        """The JSON record of an environment `Change`."""
        return cls(
            table=change.table, record_id=change.record_id, before=change.before, after=change.after
        )

    def change(self) -> Change:
        """Back to the environment's `Change` (for its `field_diff`)."""
        return Change(
            table=self.table, record_id=self.record_id, before=self.before, after=self.after
        )


class ToolResult(_Record):
    """What a tool call returned, as the model reads it, and what it changed."""

    kind: Literal["tool_result"] = "tool_result"
    role: Literal["tool"] = "tool"
    call_id: str
    name: str
    content: str
    error: bool = False
    requestor: Requestor = "assistant"
    """Who called: the agent, or the user simulator (dual control). Only the requestor sees it."""
    timestamp: datetime = Field(default_factory=now)
    changes: list[RecordedChange] = Field(default_factory=list)
    crashed: bool = False
    """The failure was a bug in the tool, not a refusal (see `environment.ToolResult`)."""
    detail: str | None = None
    """For a crash, the traceback; for logs only, never shown to the model."""
    duration_ms: float = 0.0

    @classmethod
    def of(
        cls,
        call_id: str,
        name: str,
        result: EnvironmentResult,
        *,
        requestor: Requestor = "assistant",
    ) -> ToolResult:
        """The record of what the environment returned for call `call_id` of tool `name`."""
        return cls(
            call_id=call_id,
            name=name,
            content=result.content,
            error=result.error,
            requestor=requestor,
            changes=[RecordedChange.of(change) for change in result.changes],
            crashed=result.crashed,
            detail=result.detail,
            duration_ms=result.duration_ms,
        )


ConversationRecord = Annotated[
    UserMessage | AgentMessage | AgentToolCall | UserToolCall | ToolResult,
    Field(discriminator="kind"),
]
"""One line of a conversation; match on `kind`."""
