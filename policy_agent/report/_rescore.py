"""Re-scoring a finished run with its domain pack as it is now, without asking the agent or the
user models again: the evaluator replays each episode's logged tool calls (only the judge, for
NL assertions and rules that ask it, calls a model). The pack's policy rules are checked again
too, so a rule added today scores last week's runs."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from policy_agent.domain import DomainPack
from policy_agent.evaluation import Evaluator
from policy_agent.llm import LLMClient
from policy_agent.records import Episode, RewardInfo, RuleStatus
from policy_agent.report._evaluations import (
    EvaluationManifest,
    RescoredEpisode,
    new_evaluation_name,
)
from policy_agent.report._runs import LoadedRun


@dataclass(frozen=True, kw_only=True)
class RewardChange:
    """An episode whose reward differs from the one the run's report used before."""

    task_id: str
    trial: int
    before: float | None
    after: float | None


@dataclass(frozen=True, kw_only=True)
class RuleCount:
    """One policy rule over the re-scored episodes, and what the rewards before said of it."""

    rule: str
    broken: int
    checked: int
    """Episodes where the rule applied (held or broken)."""
    broken_before: int | None
    """None when the rewards before had no result for the rule (a rule added since)."""


@dataclass(frozen=True, kw_only=True)
class Rescoring:
    """A run's new rewards, ready to be written with `write_evaluation`."""

    manifest: EvaluationManifest
    lines: list[RescoredEpisode]
    """Every episode's new line, in the run's order; none when `rescore_run` was given `write`
    (each went there as it was scored)."""
    changes: list[RewardChange]
    """Rewards that differ from those in use before (the newest evaluation, or recorded)."""
    rules: list[RuleCount]
    """Each rule of the new rewards, in the pack's order, with how often it broke before."""
    unscored: list[RescoredEpisode]
    """The lines of episodes that could not be scored (`error` says why)."""


WINDOW_PER_SLOT = 2
"""Episodes read ahead per scoring slot: the lines are written in the run's order, so a slow
episode holds back those after it; some read ahead keep the other slots busy meanwhile."""


async def rescore_run(
    run: LoadedRun,
    pack: DomainPack,
    *,
    judge: LLMClient | None = None,
    concurrency: int = 8,
    now: datetime | None = None,
    write: Callable[[RescoredEpisode], None] | None = None,
) -> Rescoring:
    """Score every episode of `run` again with `pack` (and `judge` for NL assertions).

    The episodes stream through at most `concurrency` scorings at once, and `WINDOW_PER_SLOT`
    times as many read ahead: memory does not grow with the run. Each new line goes to `write`
    in the run's order as soon as it and those before it are scored; without `write` they are
    kept in `Rescoring.lines`.

    Raises `JudgeRequired` up front when a task's reward needs the judge and there is none. An
    episode that cannot be scored (its task is gone from the pack, its calls no longer replay)
    gets no reward and says why; the others are scored all the same.
    """
    # Tasks gone from the pack are left to fail episode by episode (UnknownTask), not up front.
    known = {task.id for task in pack.tasks}
    ran = sorted({e.task_id for e in run.iter_read_episodes()} & known)
    evaluator = Evaluator(pack, judge=judge, task_ids=ran)
    slots = asyncio.Semaphore(concurrency)

    async def rescore(episode: Episode) -> RescoredEpisode:
        async with slots:
            try:
                reward = await evaluator.evaluate(episode)
            except Exception as error:
                return RescoredEpisode(
                    task_id=episode.task_id,
                    trial=episode.trial,
                    attempt=episode.attempt,
                    reward=None,
                    error=f"{type(error).__name__}: {error}",
                )
        return RescoredEpisode(
            task_id=episode.task_id, trial=episode.trial, attempt=episode.attempt, reward=reward
        )

    kept: list[RescoredEpisode] = []
    tally = _Tally(kept.append if write is None else write)
    pending: deque[tuple[RewardInfo | None, asyncio.Task[RescoredEpisode]]] = deque()
    try:
        for episode in run.iter_episodes():
            pending.append((episode.reward, asyncio.create_task(rescore(episode))))
            if len(pending) >= WINDOW_PER_SLOT * concurrency:
                before, scoring = pending.popleft()
                tally.add(before, await scoring)
        while pending:
            before, scoring = pending.popleft()
            tally.add(before, await scoring)
    finally:
        # A line of the run that cannot be read (or an interrupt) stops the rescoring whole.
        for _, scoring in pending:
            scoring.cancel()
        await asyncio.gather(*(scoring for _, scoring in pending), return_exceptions=True)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    manifest = EvaluationManifest(
        name=new_evaluation_name(moment),
        created_at=moment,
        domain=str(pack.root),
        domain_hash=pack.content_hash,
        run_domain_hash=run.manifest.domain_hash,
        judge_model=None if judge is None else judge.config.model,
        episodes=tally.episodes,
        failed=len(tally.unscored),
    )
    return Rescoring(
        manifest=manifest,
        lines=kept,
        changes=tally.changes,
        rules=_rule_rows(tally.after, tally.before),
        unscored=tally.unscored,
    )


class _Tally:
    """What a rescoring reports, counted line by line: nothing kept per episode but a change."""

    def __init__(self, write: Callable[[RescoredEpisode], None]) -> None:
        self.write = write
        self.episodes = 0
        self.changes: list[RewardChange] = []
        self.unscored: list[RescoredEpisode] = []
        self.after = _RuleCounts()
        self.before = _RuleCounts()

    def add(self, before: RewardInfo | None, line: RescoredEpisode) -> None:
        self.write(line)
        self.episodes += 1
        if line.reward is None:
            self.unscored.append(line)
        old = None if before is None else before.reward
        new = None if line.reward is None else line.reward.reward
        if old != new:
            self.changes.append(
                RewardChange(task_id=line.task_id, trial=line.trial, before=old, after=new)
            )
        self.after.add(line.reward)
        self.before.add(before)


def _rule_rows(counted: _RuleCounts, earlier: _RuleCounts) -> list[RuleCount]:
    return [
        RuleCount(
            rule=rule,
            broken=broken,
            checked=checked,
            broken_before=earlier.counts[rule][0] if rule in earlier.counts else None,
        )
        for rule, (broken, checked) in counted.counts.items()
    ]


class _RuleCounts:
    """Rule name -> (episodes that broke it, episodes where it applied), reward by reward."""

    def __init__(self) -> None:
        self.counts: dict[str, tuple[int, int]] = {}

    def add(self, reward: RewardInfo | None) -> None:
        for result in reward.rules if reward is not None else []:
            broken, checked = self.counts.get(result.rule, (0, 0))
            applied = result.status in (RuleStatus.HELD, RuleStatus.BROKEN)
            self.counts[result.rule] = (
                broken + (result.status is RuleStatus.BROKEN),
                checked + applied,
            )
