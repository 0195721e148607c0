"""The records of a conversation: what was said, called and returned, one JSON value each.

The agent appends its records, the simulation runner appends the user's and the tool results,
and the trajectory store writes them to disk unchanged; so every record is a pydantic model
with only JSON values, told apart by `kind`. Records carry what a reader (or a training export)
needs to see exactly what the model saw and wrote: the models' records hold a `Generation`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, JsonValue

from policy_agent.records._base import Record, Requestor, now
from policy_agent.records._chat import ChatMessage

Transport = Literal["chat", "completions"]
"""How a model was asked: chat completions (the server renders the prompt) or completions (the
prompt rendered by policy-agent)."""


class TokenUsage(Record):
    """Token counts as the server reported them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int | None = None
    """Of `prompt_tokens`, how many the server served from its prefix cache
    (`usage.prompt_tokens_details.cached_tokens`; vLLM reports it only when started with
    `--enable-prompt-tokens-details`). None when the server did not say."""

    def __add__(self, other: TokenUsage) -> TokenUsage:
        cached = [
            c for c in (self.cached_prompt_tokens, other.cached_prompt_tokens) if c is not None
        ]
        return TokenUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cached_prompt_tokens=sum(cached) if cached else None,
        )


class TokenTrace(Record):
    """The tokens of one model call, as the server reported them (`record_tokens: true`).

    What an RL or distillation step trains on: the ids the model was given and sampled, and the
    sampling policy's log-probability of each sampled token. A field is None when the server did
    not return it (an older vLLM, another provider): the call still counts, the trace is empty.
    """

    prompt_token_ids: list[int] | None = None
    """The prompt as the server tokenized it (vLLM `prompt_token_ids`): for the completions
    transport the tokens of the prompt text sent, for chat the server's rendering of the
    messages."""
    completion_token_ids: list[int] | None = None
    """The sampled tokens, in order (vLLM `token_ids` of the choice)."""
    completion_logprobs: list[float | None] | None = None
    """The log-probability of each sampled token under the sampling policy, one per
    `completion_token_ids` entry (chat `logprobs.content[i].logprob`, completions
    `logprobs.token_logprobs[i]`)."""

    @property
    def complete(self) -> bool:
        """Whether all three fields came back, and the logprobs match the sampled tokens."""
        ids, logprobs = self.completion_token_ids, self.completion_logprobs
        return (
            self.prompt_token_ids is not None
            and ids is not None
            and logprobs is not None
            and len(ids) == len(logprobs)
        )


class StructuredCall(Record):
    """A tool call as the server's parser sent it (chat transport with `tools=`), unchecked."""

    name: str
    arguments_json: str
    """The arguments exactly as sent: a JSON string that may be invalid."""


class Generation(Record):
    """One model call that produced a turn (or a violation): what came back and what it cost.

    The prompt text itself is not stored: it repeats the whole conversation, system prompt
    included, in every turn (the hotel's system prompt alone is 17 kB). `prompt_sha256`
    identifies it, and `Agent.prompt(records before this one, corrections=correction_messages)`
    rebuilds it byte for byte: the prompt depends only on the agent's configuration, the
    earlier records and `correction_messages`.
    """

    model: str
    """The litellm model string of the role's config: the model asked for."""
    served_model: str | None = None
    """The model the server says answered (its response's `model`), when it said; a server
    that serves one model whatever the request names (llama.cpp) shows it here."""
    transport: Transport
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
    tokens: TokenTrace | None = None
    """The token ids and logprobs of this call; None unless the role's model config has
    `record_tokens: true`."""
    server_timing: dict[str, float] | None = None
    """The server's own timings of the request, when it sends them (vLLM 0.25+ started with
    `--enable-per-request-metrics`: `time_to_first_token_ms`, `queue_time_ms`, ...)."""
    constraint: Literal["grammar"] | None = None
    """How the call's decoding was constrained: `grammar` when it carried the agent's
    one-answer grammar (`agent.constrain: grammar`), None when it was free."""
    grammar_sha256: str | None = None
    """sha256 (hex) of the UTF-8 grammar text the call carried (with `constraint`)."""
    api_base: str | None = None
    """The server (replica) that answered, when known; None in runs recorded before it was
    kept, and for in-process models."""


class UserMessage(Record):
    """What the user (a person or the user simulator) said to the agent."""

    kind: Literal["user_message"] = "user_message"
    role: Literal["user"] = "user"
    content: str
    timestamp: datetime = Field(default_factory=now)
    generation: Generation | None = None
    """The model call that wrote it, when an LLM user simulator did."""


class AgentMessage(Record):
    """A message from the agent to the user."""

    kind: Literal["agent_message"] = "agent_message"
    role: Literal["assistant"] = "assistant"
    content: str
    reasoning: str | None = None
    """What the model thought first (the text of its `<think>` block)."""
    timestamp: datetime = Field(default_factory=now)
    generation: Generation | None = None
    """None for a message no model wrote (e.g. a fixed greeting)."""


class AgentToolCall(Record):
    """One tool call by the agent; its result follows as a `ToolResult` with the same call_id."""

    kind: Literal["agent_tool_call"] = "agent_tool_call"
    role: Literal["assistant"] = "assistant"
    call_id: str
    name: str
    arguments: dict[str, JsonValue]
    reasoning: str | None = None
    """The text of the model's `<think>` block."""
    content: str | None = None
    """Text the model wrote after its reasoning and before the call (the parser's `prelude`);
    the chat template keeps it as the assistant message's content, so history renders it
    there."""
    timestamp: datetime = Field(default_factory=now)
    generation: Generation | None = None


class UserToolCall(Record):
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


class RecordedChange(Record):
    """One record a tool call wrote: `before` None is an insert, `after` None a delete."""

    table: str
    record_id: str
    before: dict[str, JsonValue] | None
    after: dict[str, JsonValue] | None

    @property
    def kind(self) -> Literal["insert", "update", "delete"]:
        """What happened to the record."""
        if self.before is None:
            return "insert"
        return "delete" if self.after is None else "update"


class ToolResult(Record):
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
    """The failure was a bug in the tool, not a refusal the model should read and act on."""
    detail: str | None = None
    """For a crash, the traceback; for logs only, never shown to the model."""
    duration_ms: float = 0.0


ConversationRecord = Annotated[
    UserMessage | AgentMessage | AgentToolCall | UserToolCall | ToolResult,
    Field(discriminator="kind"),
]
"""One line of a conversation; match on `kind`."""
