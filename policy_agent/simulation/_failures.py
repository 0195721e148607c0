"""Failures outside the agent, as a run sees them: their causes, streaks, and limits that hide them.

An episode decided by an infrastructure failure (a model unreachable after its retries, a
framework bug, a failed judge) is never scored against the agent; the run counts it by cause
(role and error type), so its summary can say what went wrong and how often. When the same
role fails `stop_after_infrastructure_failures` episodes in a row, the runner stops starting
episodes (`RunStopped`): a dead server would otherwise burn every episode left. A server that
says it served another model than the one asked for, and a retry budget longer than the
episode limit, are warned about: both would make scores read as what they are not.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from policy_agent.errors import PolicyAgentError
from policy_agent.llm import ModelConfig, is_other_model, longest_call_s
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    Episode,
    ErrorEvent,
    Generation,
    UserMessage,
    UserRetryEvent,
    UserToolCall,
    ViolationEvent,
)
from policy_agent.simulation._config import ModelAgentConfig, SimulationConfig

_MESSAGE_CHARS = 300
"""How much of a cause's first message the summary shows."""


@dataclass(frozen=True, kw_only=True)
class InfrastructureCause:
    """What decided an episode outside the agent: whose failure, of what kind."""

    role: str
    """`agent`, `user`, `judge` (a model role), `runner` (a framework bug) or `evaluator`."""
    kind: str
    """The error's class, e.g. `ServerUnreachable`, `MalformedResponse`, `EpisodeTimeout`."""

    def __str__(self) -> str:
        return f"{self.role} {self.kind}"


def infrastructure_cause(episode: Episode) -> tuple[InfrastructureCause, str] | None:
    """The cause of an episode an infrastructure failure decided, with its message; else None."""
    if episode.termination_reason.is_infrastructure:
        errors = [event for event in episode.events if isinstance(event, ErrorEvent)]
        if errors:
            last = errors[-1]
            return InfrastructureCause(role=last.role, kind=last.error_type), last.message
        said = episode.error or "no error was recorded"
        return InfrastructureCause(role="runner", kind="unrecorded"), said
    reward = episode.reward
    if reward is None or reward.infrastructure_error is None:
        return None
    judged = reward.judge.error if reward.judge is not None else None
    if judged is not None:
        # The judge records `ErrorClass: message`, or why its answer could not be read.
        kind, _, rest = judged.partition(": ")
        if kind.isidentifier():
            return InfrastructureCause(role="judge", kind=kind), rest
        return InfrastructureCause(role="judge", kind="UnreadableVerdict"), judged
    return InfrastructureCause(role="evaluator", kind="Unscored"), reward.infrastructure_error


class RunStopped(PolicyAgentError):
    """The run stopped starting episodes: one role failed that many episodes in a row.

    The episodes that finished are on disk and the run is not marked finished, so
    `policy-agent run --resume` plays the rest once the cause is fixed.
    """

    def __init__(self, cause: InfrastructureCause, count: int, example: str) -> None:
        self.cause = cause
        self.count = count
        self.example = example
        super().__init__(
            f"{count} episodes in a row failed on the {cause.role}'s side ({cause}), so no more "
            f"were started; the last said: {_first_line(example)}"
        )


@dataclass(kw_only=True)
class FailureTally:
    """Infrastructure failures by cause, and the current run of them by one role."""

    causes: Counter[InfrastructureCause] = field(default_factory=Counter)
    examples: dict[InfrastructureCause, str] = field(default_factory=dict)
    """The first message of each cause, to show beside its count."""
    streak: int = 0
    """How many episodes in a row, the last to finish, failed on `streak_role`'s side."""
    streak_role: str | None = None
    last: tuple[InfrastructureCause, str] | None = None

    def add(self, episode: Episode) -> bool:
        """Count one finished episode; True if an infrastructure failure decided it."""
        found = infrastructure_cause(episode)
        if found is None:
            self.streak, self.streak_role = 0, None
            return False
        cause, message = found
        self.causes[cause] += 1
        self.examples.setdefault(cause, message)
        if cause.role == self.streak_role:
            self.streak += 1
        else:
            self.streak, self.streak_role = 1, cause.role
        self.last = found
        return True

    def check_streak(self, limit: int | None) -> None:
        """`RunStopped` once `limit` episodes in a row failed on one role's side."""
        if limit is None or self.streak < limit or self.last is None:
            return
        cause, message = self.last
        raise RunStopped(cause, self.streak, message)

    def counts_text(self) -> str:
        """`agent ServerUnreachable 38, judge MalformedResponse 3`, most common first."""
        return ", ".join(f"{cause} {count}" for cause, count in self.causes.most_common())

    def report(self, top: int = 3) -> list[str]:
        """The most common causes, each with its count and the first message it gave."""
        return [
            f"{count} × {cause}: {_first_line(self.examples[cause])}"
            for cause, count in self.causes.most_common(top)
        ]


@dataclass(kw_only=True)
class ServedModels:
    """Generations a server said another model had served than the one asked for, by role."""

    other: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    """(role, model asked for, model served) → generations."""

    def add(self, episode: Episode) -> None:
        """Look at every generation of one episode (kept turns and rejected attempts)."""
        for role, generation in _generations(episode):
            served = generation.served_model
            if served is not None and is_other_model(generation.model, served):
                self.other[(role, generation.model, served)] += 1

    def warnings(self) -> list[str]:
        """One loud line per role and model the server substituted."""
        return [
            f"the {role}'s server says model {served} answered {count} call"
            f"{'s' if count != 1 else ''} that named {asked}: those answers are {served}'s, "
            f"filed under {asked}; point the {role} at the right server or model name"
            for (role, asked, served), count in self.other.most_common()
        ]


def _generations(episode: Episode) -> list[tuple[str, Generation]]:
    found: list[tuple[str, Generation]] = []
    for record in episode.messages:
        if isinstance(record, AgentMessage | AgentToolCall) and record.generation is not None:
            found.append(("agent", record.generation))
        elif isinstance(record, UserMessage | UserToolCall) and record.generation is not None:
            found.append(("user", record.generation))
    for event in episode.events:
        if isinstance(event, ViolationEvent):
            found.append(("agent", event.generation))
        elif isinstance(event, UserRetryEvent) and event.generation is not None:
            found.append(("user", event.generation))
    return found


def budget_warnings(config: SimulationConfig) -> list[str]:
    """A warning for each role whose one call may outlast the episode's time limit.

    An episode that runs out of time while waiting on a model call is an infrastructure
    failure, not the agent's; but with such limits one hung server call uses up the whole
    episode, so the run learns of the hang only when the episode's time is gone.
    """
    limit = config.episode_timeout_s
    if limit is None:
        return []
    roles: list[tuple[str, ModelConfig]] = []
    if isinstance(config.agent, ModelAgentConfig):
        roles.append(("agent", config.agent.model))
    if config.user.model is not None:
        roles.append(("user", config.user.model))
    if config.judge is not None:
        roles.append(("judge", config.judge))
    warnings = []
    for role, model in roles:
        longest = longest_call_s(model)
        if longest > limit:
            attempts = model.retries + 1
            warnings.append(
                f"{role}: one model call may take up to {longest:g} s ({attempts} attempt"
                f"{'s' if attempts != 1 else ''} of up to `timeout` {model.timeout:g} s, and "
                f"the backoff between them), more than episode_timeout_s {limit:g} s: a hung "
                "server would use up an episode's whole time on one call; lower the role's "
                "`timeout` or `retries`, or raise `episode_timeout_s`"
            )
    return warnings


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line if len(line) <= _MESSAGE_CHARS else line[: _MESSAGE_CHARS - 1] + "…"
