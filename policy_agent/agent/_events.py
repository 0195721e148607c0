"""What happened while the agent produced a turn, besides the turn: violations and retries.

Events are JSON records (they go into the trajectory next to the conversation), told apart by
`kind`. A violation event keeps the rejected answer as the model wrote it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from policy_agent.conversation import Generation, now
from policy_agent.format import ToolCall, Violation
from policy_agent.llm import AttemptRecord

ViolationAction = Literal["resample", "feedback", "keep_first", "terminate"]
"""What the agent did about a violation. `terminate` also ends a turn whose attempts ran out."""


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ViolationEvent(_Event):
    """A model answer that was not one action, and what the agent did about it."""

    kind: Literal["violation"] = "violation"
    violation: Violation
    """The parser's verdict: code, detail, and whatever it recovered."""
    action_taken: ViolationAction
    dropped_calls: list[ToolCall] = Field(default_factory=list)
    """For `keep_first`: the calls that were not run (the first of `violation.calls` was)."""
    dropped_text: str | None = None
    """For `keep_first`: text of the answer that was not kept."""
    generation: Generation
    """The rejected attempt: raw completion, usage, latency, seed, attempt number."""
    timestamp: datetime = Field(default_factory=now)


class RetryEvent(_Event):
    """A model call that failed and was tried again (or given up on) by the LLM client."""

    kind: Literal["retry"] = "retry"
    model: str
    attempt: int
    """Which try of this model call failed (1 for the first)."""
    error_type: str
    """The LLMError class, e.g. `ServerError`, `LLMTimeout`."""
    message: str
    latency_ms: float
    api_base: str | None = None
    timestamp: datetime = Field(default_factory=now)

    @classmethod
    def of(cls, model: str, record: AttemptRecord) -> RetryEvent:
        """The event for one failed attempt the LLM client reported."""
        return cls(
            model=model,
            attempt=record.attempt,
            error_type=record.error_type,
            message=record.message,
            latency_ms=record.latency_ms,
            api_base=record.api_base,
        )


AgentEvent = Annotated[ViolationEvent | RetryEvent, Field(discriminator="kind")]
"""One event of an agent turn; match on `kind`."""
