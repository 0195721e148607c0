"""What happened during an episode besides the conversation: violations, retries, failures.

Events are JSON records kept next to the conversation, told apart by `kind`. A violation event
keeps the rejected answer as the model wrote it; a retry event one failed model call; an error
event what ended an episode abnormally.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from policy_agent.records._base import Record, now
from policy_agent.records._conversation import Generation
from policy_agent.records._turns import ToolCall, Violation

ViolationAction = Literal["resample", "feedback", "keep_first", "terminate"]
"""What the agent did about a violation. `terminate` also ends a turn whose attempts ran out."""

EventRole = Literal["agent", "user", "judge", "runner", "evaluator"]
"""Who failed: a model role, the runner (a bug: ours or a plug-in's), or the evaluator."""


class VllmReading(Record):
    """What the profile's vLLM release would have made of an answer our parser rejected."""

    profile: str
    """The server profile whose reading this is (`vllm-0.17`, ...)."""
    calls: list[ToolCall] = Field(default_factory=list)
    """The calls it would have executed, arguments typed as that release types them."""
    content: str | None = None
    """The message text it would have passed on (text before the first call)."""
    detail: str | None = None
    """What else happened: its parser failed (the whole answer as text), or it would have sent
    arguments that are not JSON."""


class ViolationEvent(Record):
    """A model answer that was not one action, and what the agent did about it."""

    kind: Literal["violation"] = "violation"
    violation: Violation
    """The parser's verdict: code, detail, and whatever it recovered."""
    action_taken: ViolationAction
    dropped_calls: list[ToolCall] = Field(default_factory=list)
    """For `keep_first`: the calls that were not run (the first of `violation.calls` was)."""
    dropped_text: str | None = None
    """For `keep_first`: text of the answer that was not kept."""
    vllm_would: VllmReading | None = None
    """When we parsed the answer and the agent's vLLM release would have executed calls of it
    (a missing closing tag, a repeated parameter, text after the call): what it would have
    run. None otherwise, and in events written before it was recorded."""
    generation: Generation
    """The rejected attempt: raw completion, usage, latency, seed, attempt number."""
    timestamp: datetime = Field(default_factory=now)


class RetryEvent(Record):
    """A model call that failed and was tried again (or given up on) by the model client."""

    kind: Literal["retry"] = "retry"
    model: str
    attempt: int
    """Which try of this model call failed (1 for the first)."""
    error_type: str
    """The model error's class, e.g. `ServerError`, `LLMTimeout`."""
    message: str
    latency_ms: float
    api_base: str | None = None
    """The replica that failed, when known."""
    moved_to: str | None = None
    """The replica the episode moved to after this failure, for the retry and the rest of the
    episode (a role with several api_bases whose replica failed; None: it stayed)."""
    timestamp: datetime = Field(default_factory=now)


class ErrorEvent(Record):
    """Something failed during the episode: a model after its retries, or the framework."""

    kind: Literal["error"] = "error"
    role: EventRole
    error_type: str
    message: str
    detail: str | None = None
    """A traceback, for framework failures (bugs to report)."""
    timestamp: datetime = Field(default_factory=now)


class UserRetryEvent(Record):
    """The user simulator produced an unusable turn (empty, malformed) and was asked again."""

    kind: Literal["user_retry"] = "user_retry"
    reason: str
    raw_completion: str
    attempt: int
    generation: Generation | None = None
    """The rejected model call in full (tool calls, finish reason), so it can be replayed."""
    timestamp: datetime = Field(default_factory=now)


AgentEvent = Annotated[ViolationEvent | RetryEvent, Field(discriminator="kind")]
"""One event of an agent turn; match on `kind`."""

UserEvent = Annotated[UserRetryEvent | RetryEvent, Field(discriminator="kind")]
"""One event of a user turn: an unusable turn asked again, or a failed model call retried."""

EpisodeEvent = Annotated[
    ViolationEvent | RetryEvent | ErrorEvent | UserRetryEvent, Field(discriminator="kind")
]
"""One event of an episode; match on `kind`."""
