"""The policy rules of a run: each rule's breach rate with its bootstrap interval over tasks, and
the episodes that broke it, from the episodes' `RewardInfo.rules` alone.

Which episodes count is the agent's scores' rule: infrastructure failures and unevaluated
episodes are left out; early ends count (what the agent did before the end is still its own).
An episode where a rule applied is *checked*: the rate is broken / checked. Episodes where the
rule did not apply, or could not be decided, are counted apart.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from policy_agent.evaluation import (
    CONFIDENCE,
    RESAMPLES,
    Metric,
    bootstrap_interval,
    is_infrastructure_failure,
)
from policy_agent.records import Episode, RuleResult, RuleSeverity, RuleStatus
from policy_agent.report._reading import ReadEpisode
from policy_agent.trajectory import episode_id

BREACHES_SHOWN = 5
"""Episodes listed per broken rule in the terminal report (the JSON lists every one)."""


class _Model(BaseModel):
    # As report._model's (which imports these): --json's keys are fixed.
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleBreachedEpisode(_Model):
    """An episode that broke a rule, and where it first did."""

    episode: str = Field(description="`task#trial`, as `show` and `replay` take it.")
    step: int = Field(description="The 1-based step of the first breach (as `show` numbers it).")
    breaches: int = Field(description="How many times the rule broke in the episode.")
    message: str = Field(description="What happened at the first breach.")


class RuleSummary(_Model):
    """One rule over a run's scored episodes."""

    rule: str
    kind: str
    severity: RuleSeverity
    description: str
    source: str = Field(description="`pack` (rules.yaml) or `task` (a task's own rule).")
    checked: int = Field(description="Episodes where the rule applied (held or broken).")
    broken: int
    breach_rate: float | None = Field(description="broken / checked; null when never checked.")
    low: float | None = Field(description="The bootstrap interval over tasks; null unchecked.")
    high: float | None
    tasks: int = Field(description="Tasks with a checked episode (the bootstrap's units).")
    not_applicable: int = Field(description="Episodes where nothing the rule is about happened.")
    undecided: int = Field(description="Episodes where it could not be decided (e.g. judge).")
    broken_episodes: list[RuleBreachedEpisode]


def rule_summaries(
    episodes: Iterable[Episode | ReadEpisode],
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> list[RuleSummary]:
    """Every rule met in the episodes' rewards, worst severity first, then by name."""
    tally = RuleTally()
    for episode in episodes:
        tally.add(ReadEpisode.of(episode) if isinstance(episode, Episode) else episode)
    return tally.summaries(resamples=resamples, confidence=confidence, seed=seed)


class RuleTally:
    """The rules' results counted episode by episode (`add`): per rule its counts, a 0/1 per
    checked episode, and a line per episode that broke it (what the report lists)."""

    def __init__(self) -> None:
        """Nothing counted yet."""
        self._rules: dict[str, _RuleCounts] = {}

    def add(self, episode: ReadEpisode) -> None:
        """Count the rule results of `episode` (none for an infrastructure failure)."""
        if episode.reward is None or is_infrastructure_failure(episode):
            return
        for result in episode.reward.rules:
            counts = self._rules.get(result.rule)
            if counts is None:
                counts = self._rules[result.rule] = _RuleCounts(first=result)
            counts.add(episode, result)

    def summaries(
        self, *, resamples: int = RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0
    ) -> list[RuleSummary]:
        """Every rule counted, worst severity first, then by name."""
        summaries = [
            counts.summary(resamples=resamples, confidence=confidence, seed=seed)
            for counts in self._rules.values()
        ]
        return sorted(summaries, key=lambda s: (s.severity.rank, s.rule))


class _RuleCounts:
    """One rule's results so far; `first` names it (kind, severity, description)."""

    def __init__(self, *, first: RuleResult) -> None:
        self.first = first
        self.by_task: dict[str, list[float]] = {}
        self.breached: list[RuleBreachedEpisode] = []
        self.counts = dict.fromkeys(RuleStatus, 0)
        self.sources: set[str] = set()

    def add(self, episode: ReadEpisode, result: RuleResult) -> None:
        status = result.status
        self.counts[status] += 1
        self.sources.add(result.source)
        if status is RuleStatus.HELD or status is RuleStatus.BROKEN:
            checked = self.by_task.get(episode.task_id)
            if checked is None:
                checked = self.by_task[episode.task_id] = []
            checked.append(1.0 if status is RuleStatus.BROKEN else 0.0)
        if result.breaches:
            breach = result.breaches[0]
            self.breached.append(
                RuleBreachedEpisode(
                    episode=episode_id(episode),
                    step=breach.record_index + 1,
                    breaches=len(result.breaches),
                    message=breach.message,
                )
            )

    def summary(self, *, resamples: int, confidence: float, seed: int) -> RuleSummary:
        rate = low = high = None
        if self.by_task:
            # The breach rate is the mean of 0/1 per checked episode, weighed as the average
            # reward.
            interval = bootstrap_interval(
                dict(sorted(self.by_task.items())),
                Metric.average_reward(),
                resamples=resamples,
                confidence=confidence,
                seed=seed,
            )
            rate, low, high = interval.value, interval.low, interval.high
        first, counts, sources = self.first, self.counts, self.sources
        source = "pack" if sources == {"pack"} else "task" if sources == {"task"} else "pack, task"
        return RuleSummary(
            rule=first.rule,
            kind=first.kind,
            severity=first.severity,
            description=first.description,
            source=source,
            checked=counts[RuleStatus.HELD] + counts[RuleStatus.BROKEN],
            broken=counts[RuleStatus.BROKEN],
            breach_rate=rate,
            low=low,
            high=high,
            tasks=len(self.by_task),
            not_applicable=counts[RuleStatus.NOT_APPLICABLE],
            undecided=counts[RuleStatus.UNDECIDED],
            broken_episodes=sorted(self.breached, key=lambda b: b.episode),
        )


_SEVERITY_STYLE = {
    RuleSeverity.CRITICAL: "bold red",
    RuleSeverity.MAJOR: "red",
    RuleSeverity.MINOR: "yellow",
}


def render_rules(rules: list[RuleSummary], confidence: float) -> RenderableType:
    """The per-rule table of `policy-agent report`, and the episodes each broken rule broke in
    (one line each; `show` and `report --json` have the whole message)."""
    level = f"{confidence:.0%}"
    table = Table(
        title="Policy rules (breach rate, bootstrap over tasks)",
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
    )
    undecided = any(rule.undecided for rule in rules)
    names = ["rule", "severity", "broken", "rate", f"{level} interval", "n/a"]
    for name in [*names, *(["undecided"] if undecided else [])]:
        table.add_column(
            name,
            justify="left" if name in ("rule", "severity") else "right",
            # Rule names are what the reader acts on: fold long ones, never cut them.
            min_width=min(30, max(len(r.rule) + 1 for r in rules)) if name == "rule" else None,
            overflow="fold" if name == "rule" else "ellipsis",
        )
    for rule in rules:
        # Whole percents: a bootstrap over tasks is no finer than that.
        rate = "—" if rule.breach_rate is None else f"{rule.breach_rate:.0%}"
        interval = "—" if rule.low is None else f"[{rule.low:.0%}, {rule.high:.0%}]"
        cells: list[RenderableType] = [
            rule.rule + ("*" if rule.source != "pack" else ""),
            Text(rule.severity.value, style=_SEVERITY_STYLE[rule.severity]),
            Text(f"{rule.broken}/{rule.checked}", style="red" if rule.broken else ""),
            rate,
            interval,
            str(rule.not_applicable) if rule.not_applicable else "",
        ]
        if undecided:
            cells.append(Text(str(rule.undecided), style="yellow") if rule.undecided else "")
        table.add_row(*cells)
    parts: list[RenderableType] = [table]
    if any(rule.source != "pack" for rule in rules):
        note = "* a task's own rule (tasks.yaml), checked on that task only"
        parts.append(Text(note, style="dim"))
    for rule in rules:
        if not rule.broken_episodes:
            continue
        count = f"{rule.broken} episode{'' if rule.broken == 1 else 's'}"
        parts.append(Text.assemble((f"{rule.rule}", "bold"), f" broke in {count}:"))
        for breach in rule.broken_episodes[:BREACHES_SHOWN]:
            times = f" ({breach.breaches} times)" if breach.breaches > 1 else ""
            line = Text.assemble(
                f"  {breach.episode} step {breach.step}{times}",
                (f": {breach.message}", "dim"),
                no_wrap=True,
                overflow="ellipsis",
            )
            parts.append(line)
        more = len(rule.broken_episodes) - BREACHES_SHOWN
        if more > 0:
            parts.append(Text(f"  ... and {more} more (report --json lists them all)", style="dim"))
    return Group(*parts)
