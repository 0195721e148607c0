"""What the report, a comparison and the coverage read of an episode: a slim model of the few
fields they use, validated from a line's JSON bytes, the rest of the line skipped unbuilt.

Validating a whole `Episode` (every message, event and check as its own model) was most of the
cost of reading a run: 7.5 s of a 10,000-episode run's 8.1 s. These models read the same lines
in about a fifth of the time (half of which is lexing the line's JSON at all). They ignore what
they do not name (`extra="ignore"`), so they read every line an `Episode` reads; what they name
has the records' types, so a value an `Episode` refuses is refused here too where it matters to
the report.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from policy_agent.records import (
    Episode,
    RewardInfo,
    RoleTotals,
    RuleResult,
    TerminationReason,
    ViolationCode,
)


class _Slim(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, from_attributes=True)


class ReadUsage(_Slim):
    """Of a generation's `TokenUsage`: the prompt tokens its server served from cache."""

    cached_prompt_tokens: int | None = None


class ReadGeneration(_Slim):
    """Of a `Generation`: its usage."""

    usage: ReadUsage = Field(default_factory=ReadUsage)


class ReadRecord(_Slim):
    """Of any conversation record: who wrote it, its generation, and for a tool result what
    the report and the coverage count (name, error, crash, the refusal's text)."""

    kind: str
    role: str
    generation: ReadGeneration | None = None
    name: str | None = None
    requestor: str = "assistant"
    error: bool = False
    crashed: bool = False
    content: str | None = None

    @property
    def is_tool_result(self) -> bool:
        """Whether it is a `ToolResult`."""
        return self.kind == "tool_result"


class ReadViolation(_Slim):
    """Of a `Violation`: its code."""

    code: ViolationCode


class ReadViolationEvent(_Slim):
    """Of a `ViolationEvent`: the violation's code, what the agent did, the rejected call."""

    kind: Literal["violation"]
    violation: ReadViolation
    action_taken: str
    generation: ReadGeneration


class ReadOtherEvent(_Slim):
    """Any other episode event: only its kind."""

    kind: Literal["retry", "error", "user_retry"]


ReadEvent = Annotated[ReadViolationEvent | ReadOtherEvent, Field(discriminator="kind")]
"""Of an `EpisodeEvent`: a violation's fields, or only the kind of any other."""


class ReadJudgeUsage(_Slim):
    """A `JudgeUsage` without its generations."""

    model: str
    calls: int = 1
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    cost_usd: float | None = None


class ReadReward(_Slim):
    """Of a `RewardInfo`: the reward, the failure that leaves it out, the judges' usage, rules."""

    reward: float
    infrastructure_error: str | None = None
    judge: ReadJudgeUsage | None = None
    rules_judge: ReadJudgeUsage | None = None
    rules: list[RuleResult] = Field(default_factory=list)


class ReadEpisode(_Slim):
    """Of an `Episode`: what `build_report`, `build_comparison` and `build_coverage` use, and
    what the tau2 export selects by and its task list needs (`initial_messages`)."""

    model_config = ConfigDict(title="Episode")

    task_id: str
    trial: int
    attempt: int = 1
    termination_reason: TerminationReason
    messages: list[ReadRecord]
    initial_messages: int = 0
    events: list[ReadEvent] = Field(default_factory=list)
    totals: dict[str, RoleTotals] = Field(default_factory=dict)
    reward: ReadReward | None = None

    @classmethod
    def of(cls, episode: Episode) -> ReadEpisode:
        """What reading `episode`'s line would give."""
        return cls.model_validate_json(episode.model_dump_json())

    def rewarded(self, reward: RewardInfo | None) -> ReadEpisode:
        """This episode with `reward` (a re-scoring's) in place of its own."""
        read = None if reward is None else ReadReward.model_validate(reward)
        return self.model_copy(update={"reward": read})
