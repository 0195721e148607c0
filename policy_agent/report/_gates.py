"""CI gates over a report or a comparison: `report --fail-under METRIC=VALUE`,
`report --fail-on-rule NAME|severity=LEVEL` and `compare --fail-if-worse METRIC`.

A gate is parsed strictly before anything is read (a wrong metric name lists the right ones),
then checked against the same `RunReport` / `RunComparisonReport` the tables show. A failed
gate is one line that says what was measured against what was asked.

The metrics a gate names: `reward` (the average reward; `average_reward` also reads),
`pass^K` and `pass@K` for K = 1..the run's trials. `--fail-under` compares the metric's value,
not its interval: a threshold is a floor the run must reach. `--fail-if-worse` is about noise:
it fails only when the paired bootstrap interval of b - a lies wholly below `-tolerance`, so a
run that is worse by chance (an interval that reaches 0) passes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from policy_agent.errors import PolicyAgentError
from policy_agent.records import RuleSeverity
from policy_agent.report._model import MetricEstimate, RunComparisonReport, RunReport
from policy_agent.report._rules import RuleSummary

__all__ = [
    "GateError",
    "MetricThreshold",
    "RuleGate",
    "comparison_gate_failures",
    "parse_metric_name",
    "parse_rule_gate",
    "parse_threshold",
    "report_gate_failures",
]

_METRIC = re.compile(r"^(?:(?P<reward>reward|average_reward)|pass(?P<kind>[\^@])(?P<k>[1-9]\d*))$")
_KNOWN = "reward (or average_reward), pass^K, pass@K (K = 1..trials)"


class GateError(PolicyAgentError, ValueError):
    """A gate that cannot be read or checked as written; the message says what to write."""


def parse_metric_name(text: str) -> str:
    """The metric's name as the report spells it (`average_reward`, `pass^2`, `pass@1`);
    GateError lists the names there are."""
    found = _METRIC.match(text.strip())
    if found is None:
        raise GateError(f"unknown metric {text.strip()!r}; the metrics are: {_KNOWN}")
    if found["reward"]:
        return "average_reward"
    return f"pass{found['kind']}{found['k']}"


@dataclass(frozen=True, kw_only=True)
class MetricThreshold:
    """`--fail-under METRIC=VALUE`: the run fails when METRIC is below VALUE."""

    metric: str
    minimum: float

    def describe(self) -> str:
        """As it was given, normalised: `pass^1=0.8`."""
        return f"{self.metric}={self.minimum:g}"


def parse_threshold(text: str) -> MetricThreshold:
    """`reward=0.8`, `pass^2=0.5`: GateError for anything else (the value is in [0, 1])."""
    name, equals, value = text.partition("=")
    if not equals or not name.strip() or not value.strip():
        raise GateError(f"{text!r}: write METRIC=VALUE, e.g. reward=0.8 or pass^2=0.5")
    metric = parse_metric_name(name)
    try:
        minimum = float(value)
    except ValueError:
        raise GateError(f"{text!r}: {value.strip()!r} is not a number; e.g. {name}=0.8") from None
    if not math.isfinite(minimum) or not 0.0 <= minimum <= 1.0:
        raise GateError(f"{text!r}: the value must be between 0 and 1 (metrics are fractions)")
    return MetricThreshold(metric=metric, minimum=minimum)


@dataclass(frozen=True, kw_only=True)
class RuleGate:
    """`--fail-on-rule NAME` (that rule broken in any scored episode) or
    `--fail-on-rule severity=LEVEL` (any rule of LEVEL or worse broken)."""

    rule: str | None = None
    severity: RuleSeverity | None = None

    def describe(self) -> str:
        """As it was given: `never_cancel_non_refundable`, `severity=major`."""
        return f"severity={self.severity.value}" if self.severity is not None else str(self.rule)


_RULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_rule_gate(text: str) -> RuleGate:
    """A rule's name or `severity=critical|major|minor`; GateError for anything else."""
    text = text.strip()
    key, equals, value = text.partition("=")
    if equals:
        if key.strip() != "severity":
            raise GateError(f"{text!r}: write a rule's name or severity=LEVEL")
        levels = ", ".join(level.value for level in RuleSeverity)
        try:
            return RuleGate(severity=RuleSeverity(value.strip()))
        except ValueError:
            raise GateError(
                f"{text!r}: unknown severity {value.strip()!r}; the severities are: {levels}"
            ) from None
    if not _RULE_NAME.match(text):
        raise GateError(f"{text!r} is not a rule's name; write a rule's name or severity=LEVEL")
    return RuleGate(rule=text)


def _estimates(report: RunReport) -> dict[str, MetricEstimate]:
    found = [report.average_reward, *report.pass_hat_k, *report.pass_at_k]
    return {estimate.metric: estimate for estimate in found if estimate is not None}


def report_gate_failures(
    report: RunReport, thresholds: Sequence[MetricThreshold], rules: Sequence[RuleGate]
) -> list[str]:
    """One sentence per failed gate, in the order given; empty when every gate passes.

    GateError when a gate names what the run cannot have: a pass^k beyond its trials, a rule
    none of its episodes was checked against (a typo would otherwise pass forever).
    """
    estimates = _estimates(report)
    failures: list[str] = []
    for threshold in thresholds:
        estimate = estimates.get(threshold.metric)
        if estimate is None:
            there = ", ".join(estimates) or "none: nothing was scored"
            raise GateError(
                f"--fail-under {threshold.describe()}: the run has no {threshold.metric}; "
                f"it has: {there}"
            )
        if estimate.value < threshold.minimum:
            failures.append(
                f"{threshold.metric} is {estimate.value:.3f}, under {threshold.minimum:g} "
                f"(--fail-under {threshold.describe()})"
            )
    known = {summary.rule: summary for summary in report.rules}
    for gate in rules:
        if gate.rule is not None:
            if gate.rule not in known:
                there = ", ".join(sorted(known)) or "none"
                raise GateError(
                    f"--fail-on-rule {gate.rule}: no rule of that name in the run's rewards; "
                    f"its rules are: {there}"
                )
            broken = [known[gate.rule]] if known[gate.rule].broken else []
        else:
            assert gate.severity is not None
            worst = gate.severity.rank
            broken = [s for s in report.rules if s.broken and s.severity.rank <= worst]
        if broken:
            said = ", ".join(_broken(summary) for summary in broken)
            failures.append(f"{said} (--fail-on-rule {gate.describe()})")
    return failures


def _broken(summary: RuleSummary) -> str:
    said = (
        f"{summary.rule} ({summary.severity.value}) broken in {summary.broken} of "
        f"{summary.checked} episodes"
    )
    if summary.broken_episodes:
        first = summary.broken_episodes[0]
        said += f", first {first.episode} step {first.step}"
    return said


def comparison_gate_failures(
    comparison: RunComparisonReport, metrics: Sequence[str], tolerance: float
) -> list[str]:
    """One sentence per metric on which b is worse than a beyond noise and `tolerance`.

    `metrics` are names as `parse_metric_name` returns them; GateError for one the comparison
    lacks (a pass^k beyond the shared trials).
    """
    if not math.isfinite(tolerance) or tolerance < 0:
        raise GateError(f"--tolerance {tolerance}: must be 0 or more")
    compared = {metric.metric: metric for metric in comparison.metrics}
    failures: list[str] = []
    for name in metrics:
        found = compared.get(name)
        if found is None:
            there = ", ".join(compared) or "none: no shared task was scored in both"
            raise GateError(
                f"--fail-if-worse {name}: the comparison has no {name}; it has: {there}"
            )
        if found.high < -tolerance:
            floor = f"-{tolerance:g}" if tolerance else "0"
            level = f"{comparison.confidence:.0%}"
            failures.append(
                f"{name} fell from {found.a:.3f} to {found.b:.3f} ({found.difference:+.3f}, "
                f"{level} interval [{found.low:+.3f}, {found.high:+.3f}] below "
                f"{floor}) (--fail-if-worse {name})"
            )
    return failures
