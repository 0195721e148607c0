"""The JSON shapes of `policy-agent report --json` and `compare --json` (stable keys).

Every total keeps infrastructure failures apart from the agent's: agent metrics count only
*scored* episodes, and what was left out is counted on its own (`EpisodeCounts`). Behaviour
counts (violations, tool errors) leave infrastructure failures out too; usage (tokens, latency,
cost) counts every episode, since it was spent either way.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from policy_agent.report._rules import RuleSummary


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricEstimate(_Model):
    """One metric with its bootstrap interval over tasks."""

    metric: str = Field(description="`average_reward`, `pass^2`, `pass@3`.")
    k: int | None = Field(description="k for pass^k and pass@k; null for the average reward.")
    value: float
    low: float
    high: float
    tasks: int = Field(description="Tasks it averages over (pass^k: those with >= k trials).")


class EpisodeCounts(_Model):
    """What the run holds and which episodes the agent is scored on."""

    planned: int
    total: int = Field(description="Episodes in the run.")
    scored: int = Field(description="Counted in the agent's metrics.")
    successes: int = Field(description="Scored episodes with reward 1.")
    infrastructure_failures: int = Field(description="Left out: the run's infrastructure failed.")
    judge_failures: int = Field(description="Left out: the judge failed for a reward needing it.")
    unevaluated: int = Field(description="Left out: no reward.")


class TaskResult(_Model):
    """One task's trials."""

    task_id: str
    rewards: list[float] = Field(description="The scored trials' rewards, in trial order.")
    successes: int
    average_reward: float | None = Field(description="Null when no trial was scored.")
    trials_lost: int = Field(description="Trials lost to infrastructure or the judge.")
    early_ends: dict[str, int] = Field(
        description="Scored trials that ended early (and score 0), by termination reason."
    )


class ToolUsage(_Model):
    """Tool calls and their errors (infrastructure failures left out)."""

    agent_calls: int
    agent_errors: int = Field(description="Results marked as errors (refusals and crashes).")
    agent_crashes: int = Field(description="Errors that were bugs in a tool, not refusals.")
    agent_error_rate: float | None = Field(description="errors / calls; null without calls.")
    user_calls: int = Field(description="The user simulator's own tool calls (dual control).")
    user_errors: int


class RoleUsage(_Model):
    """One role's model usage over the run (every episode)."""

    role: Literal["agent", "user", "judge"]
    model: str | None = Field(description="The role's model; null for the oracle or a script.")
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cached_prompt_tokens: int | None = Field(
        default=None,
        description="Of prompt_tokens, those the server served from its prefix cache, summed "
        "over the calls it reported them for (vLLM --enable-prompt-tokens-details); null when "
        "it never did.",
    )
    latency_ms: float = Field(description="Summed over calls.")
    mean_latency_ms: float | None = Field(description="Per call; null without calls.")
    cost_usd: float | None = Field(
        description="Only where a price per token is configured; null otherwise."
    )


class RunReport(_Model):
    """`policy-agent report RUN --json`."""

    schema_version: Literal[1] = 1
    run_id: str
    domain: str
    directory: str
    agent: str = Field(description="The agent's model, or `oracle`.")
    user: str = Field(description="The user's model, or `scripted`.")
    rewards_from: str = Field(description="Where the rewards come from, in words.")
    evaluation: str | None = Field(description="The evaluation used; null: recorded rewards.")
    confidence: float
    resamples: int
    episodes: EpisodeCounts
    average_reward: MetricEstimate | None = Field(description="Null when nothing was scored.")
    pass_hat_k: list[MetricEstimate] = Field(description="pass^k for k = 1..most trials.")
    pass_at_k: list[MetricEstimate] = Field(description="pass@k for k = 1..most trials.")
    tasks: list[TaskResult]
    termination_reasons: dict[str, int] = Field(description="Every episode, by how it ended.")
    violations: dict[str, int] = Field(description="One-action-per-turn violations by code.")
    violation_actions: dict[str, int] = Field(description="What the agent did about them.")
    agent_turns: int = Field(
        default=0,
        description="The agent's model calls in the episodes not lost to infrastructure: each "
        "a turn the model answered, asked-again attempts included.",
    )
    violations_per_100_agent_turns: float | None = Field(
        default=None,
        description="Violations per 100 agent turns (`agent_turns`); null without any turn.",
    )
    constrain: str = Field(
        default="none",
        description="How the agent's decoding was constrained (`agent.constrain`).",
    )
    tools: ToolUsage
    roles: list[RoleUsage]
    rules: list[RuleSummary] = Field(
        default_factory=list,
        description="Each policy rule's breach rate over the scored episodes, and who broke it.",
    )


class MetricComparison(_Model):
    """One metric in two runs over their shared tasks."""

    metric: str
    a: float
    b: float
    difference: float = Field(description="b - a.")
    low: float
    high: float
    beyond_noise: bool = Field(description="The paired bootstrap interval excludes 0.")


class FlippedTask(_Model):
    """A task whose verdict (more than half of its trials succeed) changed from a to b."""

    task_id: str
    change: Literal["improved", "regressed"]
    successes_a: int
    trials_a: int
    successes_b: int
    trials_b: int


class RunComparisonReport(_Model):
    """`policy-agent compare RUN_A RUN_B --json`: b against a."""

    schema_version: Literal[1] = 1
    run_a: str
    run_b: str
    rewards_from_a: str
    rewards_from_b: str
    confidence: float
    resamples: int
    shared_tasks: int
    only_in_a: list[str]
    only_in_b: list[str]
    metrics: list[MetricComparison]
    flipped: list[FlippedTask]
    notes: list[str] = Field(description="What makes the comparison less than like for like.")
