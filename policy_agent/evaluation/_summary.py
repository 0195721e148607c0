"""A run's scores from its episodes, with infrastructure failures kept apart, and the comparison
of two runs.

Which episodes count for the agent:
- *infrastructure failures* (termination `infrastructure_error`, or a reward whose
  `infrastructure_error` is set: the judge failed on an NL_ASSERTION in the basis) are left out
  of every agent metric and counted on their own, so a flaky server never reads as a bad model;
- *unevaluated* episodes (no reward yet) are left out and counted;
- every other episode is *scored*: its reward counts, 0 for early ends that are the agent's
  (max_steps, too_many_errors, agent_error, timeout, ...).

A task that lost trials to infrastructure is scored over the trials that ran: with 4 trials of
which 1 failed, its pass^k uses n = 3. pass^k and pass@k for a given k average over the tasks
with at least k scored trials; each estimate says how many tasks that is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from policy_agent.evaluation._metrics import (
    CONFIDENCE,
    RESAMPLES,
    Metric,
    RewardsByTask,
    TaskTrials,
    bootstrap_terms,
    is_success,
    paired_bootstrap,
    terms_value,
)
from policy_agent.records import TerminationReason


@dataclass(frozen=True, kw_only=True)
class Estimate:
    """One metric of a run, with its bootstrap interval over tasks."""

    metric: str
    value: float
    low: float
    high: float
    tasks: int
    """How many tasks it averages over (for pass^k: those with at least k scored trials)."""


@dataclass(frozen=True, kw_only=True)
class RunSummary:
    """A run's agent scores and what was left out of them."""

    episodes: int
    scored: int
    """Episodes counted in the agent's scores."""
    infrastructure_failures: int
    """Left out: the run's infrastructure failed (termination `infrastructure_error`)..."""
    judge_failures: int
    """...or the judge did, for a reward that depended on it."""
    unevaluated: int
    """Left out: no reward yet."""
    early_ends: dict[str, int]
    """Scored episodes that ended early (and so score 0), by termination reason."""
    rewards_by_task: dict[str, list[float]]
    """The scored rewards of each task, trial order."""
    trials_lost: dict[str, int]
    """Tasks that lost trials to infrastructure or the judge, and how many."""
    metrics: dict[str, Estimate] = field(default_factory=dict)
    """`average_reward`, `pass^1`..`pass^K`, `pass@1`..`pass@K`, K the most scored trials of
    any task; empty when nothing was scored."""

    @property
    def tasks(self) -> int:
        """Tasks with at least one scored trial."""
        return len(self.rewards_by_task)


class ScoredReward(Protocol):
    """What scoring reads of an episode's reward (a `RewardInfo`, or a reader's slim copy)."""

    @property
    def reward(self) -> float: ...

    @property
    def infrastructure_error(self) -> str | None: ...


class ScoredEpisode(Protocol):
    """What scoring reads of an episode (an `Episode`, or a reader's slim copy of its line)."""

    @property
    def task_id(self) -> str: ...

    @property
    def trial(self) -> int: ...

    @property
    def termination_reason(self) -> TerminationReason: ...

    @property
    def reward(self) -> ScoredReward | None: ...


def is_infrastructure_failure(episode: ScoredEpisode) -> bool:
    """Whether the episode's outcome was decided by a failure outside the agent."""
    reward = episode.reward
    return episode.termination_reason.is_infrastructure or (
        reward is not None and reward.infrastructure_error is not None
    )


class RunTally:
    """A run's scores counted episode by episode (`add`), so that no reader holds them all:
    what it keeps per episode is its key and, when scored, its reward."""

    def __init__(self) -> None:
        """Nothing counted yet."""
        self._seen: set[tuple[str, int]] = set()
        self._rewards: dict[str, list[tuple[int, float]]] = {}
        self._lost: Counter[str] = Counter()
        self._early: Counter[str] = Counter()
        self._total = self._infrastructure = self._judge = self._unevaluated = 0

    def add(self, episode: ScoredEpisode) -> None:
        """Count `episode`; ValueError when its task and trial were counted already."""
        key = (episode.task_id, episode.trial)
        self._total += 1
        if key in self._seen:
            raise ValueError(
                f"task {episode.task_id!r} trial {episode.trial} appears twice; a run holds "
                "each trial once"
            )
        self._seen.add(key)
        reward = episode.reward
        if is_infrastructure_failure(episode):
            self._lost[episode.task_id] += 1
            if episode.termination_reason.is_infrastructure:
                self._infrastructure += 1
            else:
                self._judge += 1
        elif reward is None:
            self._unevaluated += 1
        else:
            self._rewards.setdefault(episode.task_id, []).append((episode.trial, reward.reward))
            if not episode.termination_reason.is_normal_end:
                self._early[episode.termination_reason.value] += 1

    def summary(
        self, *, resamples: int = RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0
    ) -> RunSummary:
        """The metrics over the episodes counted so far (see `summarize`)."""
        by_task = {
            task: [r for _, r in sorted(trials)] for task, trials in sorted(self._rewards.items())
        }
        return RunSummary(
            episodes=self._total,
            scored=sum(len(r) for r in by_task.values()),
            infrastructure_failures=self._infrastructure,
            judge_failures=self._judge,
            unevaluated=self._unevaluated,
            early_ends=dict(sorted(self._early.items())),
            rewards_by_task=by_task,
            trials_lost=dict(sorted(self._lost.items())),
            metrics=_estimates(by_task, resamples=resamples, confidence=confidence, seed=seed),
        )


def summarize(
    episodes: Iterable[ScoredEpisode],
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> RunSummary:
    """The run's metrics over its scored episodes, and counts of everything left out.

    ValueError when two episodes have the same task and trial (a run holds each once).
    """
    tally = RunTally()
    for episode in episodes:
        tally.add(episode)
    return tally.summary(resamples=resamples, confidence=confidence, seed=seed)


def run_metrics(most_trials: int) -> list[Metric]:
    """The metrics reported for a run whose tasks have at most `most_trials` scored trials."""
    return [
        Metric.average_reward(),
        *(Metric.pass_hat(k) for k in range(1, most_trials + 1)),
        *(Metric.pass_at(k) for k in range(1, most_trials + 1)),
    ]


def _estimates(
    by_task: RewardsByTask, *, resamples: int, confidence: float, seed: int
) -> dict[str, Estimate]:
    if not by_task:
        return {}
    estimates = {}
    trials = [TaskTrials.of(rewards) for rewards in by_task.values()]
    for metric in run_metrics(max(t.trials for t in trials)):
        counted = [metric.trial_terms(t) for t in trials if t.trials >= metric.k]
        interval = bootstrap_terms(counted, resamples=resamples, confidence=confidence, seed=seed)
        estimates[metric.name] = Estimate(
            metric=metric.name,
            value=interval.value,
            low=interval.low,
            high=interval.high,
            tasks=len(counted),
        )
    return estimates


@dataclass(frozen=True, kw_only=True)
class MetricDifference:
    """One metric in two runs over their shared tasks, and whether the change is beyond noise."""

    metric: str
    a: float
    b: float
    difference: float
    """b − a."""
    low: float
    high: float
    """The paired bootstrap interval of the difference."""

    @property
    def beyond_noise(self) -> bool:
        """Whether the interval excludes 0: the runs differ by more than resampling explains."""
        return self.low > 0 or self.high < 0


@dataclass(frozen=True, kw_only=True)
class RunComparison:
    """Run b against run a, over the tasks both scored."""

    shared_tasks: tuple[str, ...]
    only_in_a: tuple[str, ...]
    only_in_b: tuple[str, ...]
    differences: dict[str, MetricDifference]
    """`average_reward`, `pass^k` and `pass@k` for k up to the fewest scored trials of a shared
    task in either run (so every shared task counts in every metric)."""
    improved: tuple[str, ...]
    """Tasks that fail in a and pass in b (pass: more than half of its trials succeed)."""
    regressed: tuple[str, ...]
    """Tasks that pass in a and fail in b."""

    @property
    def flipped(self) -> tuple[str, ...]:
        """Every task whose verdict changed."""
        return tuple(sorted((*self.improved, *self.regressed)))


def compare_runs(
    a: RunSummary,
    b: RunSummary,
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> RunComparison:
    """Compare two runs task by task: a paired bootstrap over the tasks both scored."""
    shared = sorted(set(a.rewards_by_task) & set(b.rewards_by_task))
    differences = {}
    if shared:
        fewest = min(min(len(a.rewards_by_task[t]), len(b.rewards_by_task[t])) for t in shared)
        in_a = [TaskTrials.of(a.rewards_by_task[t]) for t in shared]
        in_b = [TaskTrials.of(b.rewards_by_task[t]) for t in shared]
        for metric in run_metrics(fewest):
            terms_a = [metric.trial_terms(t) for t in in_a]
            terms_b = [metric.trial_terms(t) for t in in_b]
            interval = paired_bootstrap(
                terms_a, terms_b, resamples=resamples, confidence=confidence, seed=seed
            )
            differences[metric.name] = MetricDifference(
                metric=metric.name,
                a=terms_value(terms_a),
                b=terms_value(terms_b),
                difference=interval.value,
                low=interval.low,
                high=interval.high,
            )
    passes_a = {t: _passes(a.rewards_by_task[t]) for t in shared}
    passes_b = {t: _passes(b.rewards_by_task[t]) for t in shared}
    return RunComparison(
        shared_tasks=tuple(shared),
        only_in_a=tuple(sorted(set(a.rewards_by_task) - set(shared))),
        only_in_b=tuple(sorted(set(b.rewards_by_task) - set(shared))),
        differences=differences,
        improved=tuple(t for t in shared if passes_b[t] and not passes_a[t]),
        regressed=tuple(t for t in shared if passes_a[t] and not passes_b[t]),
    )


def _passes(rewards: list[float]) -> bool:
    """A task passes when more than half of its trials succeed (with one trial: that trial)."""
    return 2 * sum(1 for r in rewards if is_success(r)) > len(rewards)
