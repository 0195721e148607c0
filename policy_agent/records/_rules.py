"""What each policy rule of a pack found in one episode (data only).

`policy_agent.evaluation` checks the rules (`rules.yaml`, and a task's own) over an episode's
trajectory and stores one `RuleResult` per rule in the episode's `RewardInfo.rules`. Everything a
reader needs is here, so that a CI gate or an HTML report works from `episodes.jsonl` (or an
evaluation file) alone: the rule's name, kind, severity and description as the pack had them,
whether it held, and where it broke.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from policy_agent.records._base import Record


class RuleSeverity(StrEnum):
    """How bad breaking a rule is; a gate chooses the severities it fails on."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"

    @property
    def rank(self) -> int:
        """0 for critical, 1 for major, 2 for minor: sorts the worst first."""
        return list(RuleSeverity).index(self)


class RuleStatus(StrEnum):
    """One rule's verdict on one episode."""

    HELD = "held"
    """The rule applied at least once and was kept every time."""
    BROKEN = "broken"
    """The rule was broken at least once (`breaches` says where)."""
    NOT_APPLICABLE = "not_applicable"
    """Nothing the rule is about happened (no call of its tools, no agent message)."""
    UNDECIDED = "undecided"
    """The rule could not be decided (`error` says why: the judge failed, an expression could not
    be evaluated); it counts as not kept, and a judge failure is kept apart from the agent's."""


RuleKind = Literal["after", "forbidden_call", "confirmation", "forbidden_text", "limit"]
"""The rule kinds of `rules.yaml` (docs/rules.md)."""


class RuleBreach(Record):
    """One place where a rule was broken."""

    record_index: int
    """0-based index in `Episode.messages` of the record that broke it (the call, or the
    message); `show` and `replay` number that step `record_index + 1`."""
    message: str
    """What happened there, e.g. `cancel_booking(booking_id='B11319'): the user's reply at step
    5 does not agree: 'How much would I get back?'`."""


class RuleResult(Record):
    """One rule's result on one episode."""

    rule: str
    """The rule's name (unique within the pack and the task)."""
    kind: RuleKind
    severity: RuleSeverity
    description: str = ""
    """What the policy asks, in the pack author's words."""
    source: Literal["pack", "task"] = "pack"
    """Whether the rule is the pack's (`rules.yaml`) or the task's own."""
    status: RuleStatus
    applications: int = 0
    """How many times the rule applied: calls of its tools, or agent messages it read (0 when
    not applicable)."""
    breaches: list[RuleBreach] = Field(default_factory=list)
    """Every breach, in order (empty unless broken)."""
    error: str | None = None
    """Why the rule is undecided."""
    judged: bool = False
    """The rule asked the LLM judge (a `confirmation` rule with `judge: true`)."""

    @property
    def record_index(self) -> int | None:
        """Where the rule first broke (None when it did not)."""
        return self.breaches[0].record_index if self.breaches else None

    @property
    def kept(self) -> bool:
        """Whether the rule counts as kept: held, or nothing to keep."""
        return self.status in (RuleStatus.HELD, RuleStatus.NOT_APPLICABLE)
