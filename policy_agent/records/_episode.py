"""One finished episode, as one line of `episodes.jsonl`: the schema every reader relies on.

The runner writes it, the evaluator adds its `reward`, and reports, replays and training exports
read it. `policy-agent schema trajectory` prints its JSON Schema.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from policy_agent.records._base import Record
from policy_agent.records._conversation import ConversationRecord, RecordedChange
from policy_agent.records._events import EpisodeEvent
from policy_agent.records._reward import RewardInfo


class TerminationReason(StrEnum):
    """Why an episode ended. Only the first three are normal ends; the rest score 0."""

    USER_STOP = "user_stop"
    """The user said the goal was reached (`###STOP###`)."""
    TRANSFER = "transfer"
    """The user was transferred to a human (`###TRANSFER###`)."""
    OUT_OF_SCOPE = "out_of_scope"
    """The scenario lacked what the agent asked for (`###OUT-OF-SCOPE###`)."""
    MAX_STEPS = "max_steps"
    TOO_MANY_ERRORS = "too_many_errors"
    """Too many tool calls returned errors."""
    AGENT_ERROR = "agent_error"
    """The agent broke one-action-per-turn and the violation strategy gave up."""
    USER_ERROR = "user_error"
    """The user simulator could not produce a usable turn."""
    INFRASTRUCTURE_ERROR = "infrastructure_error"
    """A model could not be reached after its retries, or the framework failed: not the
    agent's fault, and kept apart from agent failures in every total."""
    TIMEOUT = "timeout"
    """The episode's wall-clock limit passed."""

    @property
    def is_normal_end(self) -> bool:
        """Whether the conversation ended as conversations do (and is scored on its merits)."""
        return self in (
            TerminationReason.USER_STOP,
            TerminationReason.TRANSFER,
            TerminationReason.OUT_OF_SCOPE,
        )

    @property
    def is_infrastructure(self) -> bool:
        """Whether the failure was the system's, not the agent's (excluded from agent scores)."""
        return self is TerminationReason.INFRASTRUCTURE_ERROR


class RoleTotals(Record):
    """Model usage of one role (agent, user, judge) over an episode."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    cost_usd: float | None = None
    """Only where a price per token is configured (self-hosted models have none)."""


class DatabaseState(Record):
    """A database's canonical hash and how the episode changed it."""

    initial_hash: str
    """The state the episode started from (the task's initial state, if it has one)."""
    final_hash: str
    diff: list[RecordedChange] = Field(default_factory=list)
    """Records that differ between the initial and the final state."""
    hash_scheme: str = "sha256-canonical-json"
    """How the hashes were computed (`policy_agent.environment.HASH_SCHEME` today; runs made
    before the incremental hash used sha256 of the whole canonical JSON, the default here)."""


class Episode(Record):
    """One simulated conversation of a task, with everything needed to score, replay or train."""

    kind: Literal["episode"] = "episode"
    schema_version: int = 1
    task_id: str
    trial: int
    attempt: int = Field(
        default=1,
        ge=1,
        description="1 for the first attempt at this (task, trial); a resume that runs again an "
        "episode lost to infrastructure appends the next attempt (2, 3, ...).",
    )
    supersedes: int | None = Field(
        default=None,
        ge=1,
        description="The 1-based line of episodes.jsonl holding the attempt this one replaces "
        "(null for a first attempt). Readers count only the latest attempt of each (task, "
        "trial): a line that a later line supersedes counts nowhere.",
    )
    tokens_offset: int | None = Field(
        default=None,
        ge=0,
        description="The byte offset in the run's tokens.jsonl of the line holding this "
        "episode's token traces (record_tokens), which the store keeps out of episodes.jsonl; "
        "every generation's tokens is then null here. Null when the traces are inline (runs "
        "written before tokens.jsonl) or there are none.",
    )
    seed: int
    termination_reason: TerminationReason
    started_at: datetime
    ended_at: datetime
    duration_s: float
    messages: list[ConversationRecord]
    initial_messages: int = 0
    """How many of `messages`, from the first, are the task's message history: given by the
    task (its `initial_state.messages`), not played; no model generated them."""
    events: list[EpisodeEvent] = Field(default_factory=list)
    totals: dict[str, RoleTotals] = Field(default_factory=dict)
    """By role: `agent`, `user`, `judge`."""
    steps: int = 0
    """Hops counted towards max_steps (each message and each tool result after the history)."""
    tool_errors: int = 0
    database: DatabaseState
    user_database: DatabaseState | None = None
    reward: RewardInfo | None = None
    """None until the episode is evaluated."""
    error: str | None = None
    """For abnormal ends: what went wrong, in one sentence."""

    @property
    def key(self) -> tuple[str, int]:
        """What identifies the episode within a run (for resume)."""
        return (self.task_id, self.trial)

    @property
    def session(self) -> str:
        """The session id its model calls carried (`episode_session`)."""
        return episode_session(self.task_id, self.trial, self.seed)


def episode_session(task_id: str, trial: int, seed: int) -> str:
    """The session id of every model call of an episode, its agent's, user's and judge's: the
    replica that serves them is chosen from it. The seed already hashes the run's seed."""
    return f"{task_id}/{trial}/{seed}"
