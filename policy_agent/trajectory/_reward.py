"""How an episode scored: the reward and every component's partial result (data only).

The field names follow tau2-bench's `RewardInfo` so that results stay comparable and exportable;
the extras (field-level database differences, errors kept apart, the judge's usage) are ours.
`policy_agent.evaluation` computes these; here they are only the records written to disk.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from policy_agent.domain import Action, EnvAssertion, RewardType


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldDifference(_Record):
    """One field whose value differs between the expected and the actual final database."""

    database: str
    """`assistant` (the agent's database) or `user` (the user-side state)."""
    table: str
    record_id: str
    field: str | None
    """None when the whole record is missing on one side."""
    expected: JsonValue = None
    actual: JsonValue = None


class DBCheck(_Record):
    """The DB component: the final databases equal those the expected actions produce."""

    db_match: bool
    db_reward: float
    differences: list[FieldDifference] = Field(default_factory=list)
    """Which fields differ (empty when they match): a diff, not only a hash."""
    expected_hash: str | None = None
    """The agent database's hash after the expected actions."""
    actual_hash: str | None = None
    """The agent database's hash after the episode's calls were replayed."""
    expected_user_hash: str | None = None
    """The same for the user's database (dual control): the DB component needs both to match."""
    actual_user_hash: str | None = None


class ActionCheck(_Record):
    """Whether one expected action was found among the calls made."""

    action: Action
    action_match: bool
    action_reward: float


class EnvAssertionCheck(_Record):
    """Whether one end-state assertion held."""

    env_assertion: EnvAssertion
    met: bool
    reward: float
    error: str | None = None
    """Why the assertion could not be decided (it then counts as not met)."""


class CommunicateCheck(_Record):
    """Whether the agent said one string it had to communicate."""

    info: str
    met: bool
    justification: str


class NLAssertionCheck(_Record):
    """The judge's verdict on one natural-language assertion."""

    nl_assertion: str
    met: bool
    justification: str


class JudgeUsage(_Record):
    """What the NL-assertion judge cost: one call per episode."""

    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    cost_usd: float | None = None
    error: str | None = None
    """Set when the judge failed (unreachable, malformed answer): the component is then 0 and
    the episode is counted as an infrastructure failure of the judge, not of the agent."""


class RewardInfo(_Record):
    """The reward of one episode, the product of its basis, with every component kept."""

    reward: float
    reward_basis: list[RewardType]
    reward_breakdown: dict[RewardType, float] = Field(default_factory=dict)
    """Every component computed, including those outside the basis."""
    db_check: DBCheck | None = None
    env_assertions: list[EnvAssertionCheck] = Field(default_factory=list)
    action_checks: list[ActionCheck] = Field(default_factory=list)
    communicate_checks: list[CommunicateCheck] = Field(default_factory=list)
    nl_assertions: list[NLAssertionCheck] = Field(default_factory=list)
    judge: JudgeUsage | None = None
    note: str | None = None
    """Why the reward is what it is when no component decided it (e.g. the episode ended
    early: `max_steps`)."""
    infrastructure_error: str | None = None
    """Set when a failure outside the agent decided the reward (the episode ended with
    `infrastructure_error`, or the judge could not answer for an NL_ASSERTION in the basis):
    such episodes are left out of the agent's scores and counted apart."""
