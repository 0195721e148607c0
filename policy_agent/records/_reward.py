"""How an episode scored: the reward and every component's partial result (data only).

The field names follow tau2-bench's `RewardInfo` so that results stay comparable and exportable;
the extras (field-level database differences, errors kept apart, the judge's usage) are ours.
`policy_agent.evaluation` computes these; here they are only the records written to disk.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, JsonValue

from policy_agent.records._base import Record, Requestor
from policy_agent.records._conversation import Generation
from policy_agent.records._rules import RuleResult


class RewardType(StrEnum):
    """The components a task's reward can be made of (tau2-bench's names)."""

    DB = "DB"
    ENV_ASSERTION = "ENV_ASSERTION"
    NL_ASSERTION = "NL_ASSERTION"
    ACTION = "ACTION"
    COMMUNICATE = "COMMUNICATE"
    RULES = "RULES"
    """Ours: 1 when every policy rule of the task was kept (`RewardInfo.rules`), else 0."""


class RecordedAction(Record):
    """An expected action as a reward records it: the task's `Action`, fields as written."""

    action_id: str
    requestor: Requestor = "assistant"
    name: str
    arguments: dict[str, JsonValue] = Field(default_factory=dict)
    info: str | None = None
    compare_args: list[str] | None = None


class RecordedAssertion(Record):
    """An end-state assertion as a reward records it: the task's `EnvAssertion`, as written."""

    check: str | None = None
    python: str | None = None
    arguments: dict[str, JsonValue] = Field(default_factory=dict)
    assert_value: bool = True
    env_type: Literal["assistant", "user"] = "assistant"
    message: str | None = None

    @property
    def source(self) -> str:
        """The assertion as text: the expression, or `file.py:function(arguments) is value`."""
        return assertion_source(self.check, self.python, self.arguments, self.assert_value)


def assertion_source(
    check: str | None, python: str | None, arguments: dict[str, JsonValue], assert_value: bool
) -> str:
    """An end-state assertion as people read it (the task's and the recorded one alike)."""
    if check is not None:
        return check
    listed = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
    return f"{python}({listed}) is {assert_value}"


class FieldDifference(Record):
    """One field whose value differs between the expected and the actual final database."""

    database: str
    """`assistant` (the agent's database) or `user` (the user-side state)."""
    table: str
    record_id: str
    field: str | None
    """None when the whole record is missing on one side."""
    expected: JsonValue = None
    actual: JsonValue = None


class DBCheck(Record):
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


class ActionCheck(Record):
    """Whether one expected action was found among the calls made."""

    action: RecordedAction
    action_match: bool
    action_reward: float


class EnvAssertionCheck(Record):
    """Whether one end-state assertion held."""

    env_assertion: RecordedAssertion
    met: bool
    reward: float
    error: str | None = None
    """Why the assertion could not be decided (it then counts as not met)."""


class CommunicateCheck(Record):
    """Whether the agent said one string it had to communicate."""

    info: str
    met: bool
    justification: str


class NLAssertionCheck(Record):
    """The judge's verdict on one natural-language assertion."""

    nl_assertion: str
    met: bool
    justification: str


class JudgeUsage(Record):
    """What the judge cost: for NL assertions one call per episode (`RewardInfo.judge`); for
    `confirmation` rules judged by it, one call per write (`RewardInfo.rules_judge`)."""

    model: str
    calls: int = 1
    """The verdicts this usage covers: 1 for the NL judge; for the rules, the writes the judge
    answered for (a failed one is not counted; a retried unreadable answer counts once)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    cost_usd: float | None = None
    error: str | None = None
    """Set when the judge failed (unreachable, malformed answer): the component is then 0 and
    the episode is counted as an infrastructure failure of the judge, not of the agent."""
    generations: list[Generation] = Field(default_factory=list)
    """Every answer the judge gave, in the order asked (an unreadable answer and the one asked
    for after it both; for the rules, rule by rule, each rule's writes in order), with its
    token trace when the judge's model has `record_tokens: true`. A second attempt's prompt is
    the first one's messages followed by its `correction_messages`. Empty in runs recorded
    before it was kept."""


class RewardInfo(Record):
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
    rules: list[RuleResult] = Field(default_factory=list)
    """Every policy rule that applies to the task (the pack's and the task's own), in order:
    held, broken where, or not applicable. Checked for every episode, in the basis or not."""
    rules_judge: JudgeUsage | None = None
    """What the judge cost for the rules that ask it (None when none did)."""
    note: str | None = None
    """Why the reward is what it is when no component decided it (e.g. the episode ended
    early: `max_steps`)."""
    infrastructure_error: str | None = None
    """Set when a failure outside the agent decided the reward (the episode ended with
    `infrastructure_error`, or the judge could not answer for an NL_ASSERTION or RULES in the
    basis):
    such episodes are left out of the agent's scores and counted apart."""
