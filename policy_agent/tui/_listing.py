"""What the episode list (`show RUN`, the replay's list) reads of an episode: a slim model of
the fields it shows, filters and searches on, validated from a line's bytes with the rest of
the line skipped unbuilt.

Building a whole `Episode` (every message, event, check and timestamp a model of its own) is
what made listing a big run slow; the list needs the texts, not the models around them. Like
the report's `ReadEpisode` this model ignores what it does not name (`extra="ignore"`) and names
the fields an `Episode` requires at its top level, so it refuses the lines an `Episode` refuses
there; a value deeper down that only an `Episode` refuses is said when the episode is opened.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal, assert_never

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from policy_agent.evaluation import is_success as reward_is_success
from policy_agent.records import Episode, RewardInfo, TerminationReason, ViolationCode


class _Slim(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, from_attributes=True)


class _Present(_Slim):
    """A JSON object whose contents the list does not read (its fields are skipped)."""


class ListedRecord(_Slim):
    """Of a conversation record: its kind and the texts searched for."""

    kind: Literal[
        "user_message", "agent_message", "agent_tool_call", "user_tool_call", "tool_result"
    ]
    content: str | None = None
    reasoning: str | None = None
    name: str = ""
    arguments: dict[str, JsonValue] = Field(default_factory=dict)

    def texts(self) -> list[str]:
        """What a search finds in it, in the order the replay shows it."""
        match self.kind:
            case "user_message":
                return [self.content or ""]
            case "tool_result":
                return [self.name, self.content or ""]
            case "agent_message":
                return [self.reasoning or "", self.content or ""]
            case "agent_tool_call":
                arguments = json.dumps(self.arguments, ensure_ascii=False)
                return [self.reasoning or "", self.content or "", self.name, arguments]
            case "user_tool_call":
                return [self.name, json.dumps(self.arguments, ensure_ascii=False)]
            case _:
                assert_never(self.kind)


class ListedViolation(_Slim):
    """Of a `Violation`: its code and what is wrong."""

    code: ViolationCode
    detail: str


class ListedGeneration(_Slim):
    """Of a `Generation`: the raw completion."""

    raw_completion: str


class ListedViolationEvent(_Slim):
    """Of a `ViolationEvent`: the violation and the rejected completion."""

    kind: Literal["violation"]
    violation: ListedViolation
    generation: ListedGeneration


class ListedUserRetry(_Slim):
    """Of a `UserRetryEvent`: why the user simulator was asked again, and what it wrote."""

    kind: Literal["user_retry"]
    reason: str
    raw_completion: str


class ListedFailure(_Slim):
    """Of an `ErrorEvent` or a `RetryEvent`: the error."""

    kind: Literal["error", "retry"]
    error_type: str
    message: str


ListedEvent = Annotated[
    ListedViolationEvent | ListedUserRetry | ListedFailure, Field(discriminator="kind")
]


class ListedRule(_Slim):
    """Of a `RuleResult`: the rule and whether anything broke it."""

    rule: str
    breaches: list[_Present] = Field(default_factory=list)


class ListedReward(_Slim):
    """Of a `RewardInfo`: the reward and the rules' results."""

    reward: float
    rules: list[ListedRule] = Field(default_factory=list)


class ListedEpisode(_Slim):
    """Of an `Episode`: what one row of the list shows and what its filter looks at."""

    model_config = ConfigDict(title="Episode")

    task_id: str
    trial: int
    attempt: int = 1
    supersedes: int | None = None
    seed: int
    termination_reason: TerminationReason
    started_at: datetime
    ended_at: datetime
    duration_s: float
    messages: list[ListedRecord]
    events: list[ListedEvent] = Field(default_factory=list)
    database: _Present
    reward: ListedReward | None = None
    error: str | None = None

    @classmethod
    def of(cls, episode: Episode) -> ListedEpisode:
        """What reading `episode`'s line would give."""
        return cls.model_validate(episode)

    @property
    def key(self) -> tuple[str, int]:
        """`(task_id, trial)`."""
        return (self.task_id, self.trial)

    def rewarded(self, reward: RewardInfo | None) -> ListedEpisode:
        """This episode with `reward` (a re-scoring's) in place of its own."""
        listed = None if reward is None else ListedReward.model_validate(reward)
        return self.model_copy(update={"reward": listed})

    @property
    def success(self) -> bool | None:
        """Whether it succeeded; None when it has not been evaluated and ended normally."""
        return success_of(
            None if self.reward is None else self.reward.reward, self.termination_reason
        )

    @property
    def violation_codes(self) -> tuple[str, ...]:
        """The violation codes of its events, in order, each once."""
        codes = [e.violation.code.value for e in self.events if isinstance(e, ListedViolationEvent)]
        return tuple(dict.fromkeys(codes))

    @property
    def violations(self) -> int:
        """How many violation events it has."""
        return sum(event.kind == "violation" for event in self.events)

    @property
    def broken_rules(self) -> tuple[str, ...]:
        """The names of the policy rules it broke, in the reward's order."""
        results = self.reward.rules if self.reward is not None else []
        return tuple(result.rule for result in results if result.breaches)

    def search_text(self) -> str:
        """Everything a reader may search for in it, lower-cased, one part per line."""
        parts: list[str] = [f"{self.task_id}#{self.trial}", self.termination_reason.value]
        parts.append(self.error or "")
        for record in self.messages:
            parts.extend(record.texts())
        for event in self.events:
            parts.extend(_event_texts(event))
        return "\n".join(part for part in parts if part).lower()


def success_of(reward: float | None, termination: TerminationReason) -> bool | None:
    """Whether an episode with this reward and end succeeded (None: not evaluated, ended
    normally)."""
    if reward is not None:
        return reward_is_success(reward)
    return None if termination.is_normal_end else False


def _event_texts(event: ListedViolationEvent | ListedUserRetry | ListedFailure) -> list[str]:
    match event:
        case ListedViolationEvent():
            violation = event.violation
            return [violation.code.value, violation.detail, event.generation.raw_completion]
        case ListedUserRetry():
            return [event.reason, event.raw_completion]
        case ListedFailure():
            return [event.error_type, event.message]
        case _:
            assert_never(event)
