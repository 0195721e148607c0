"""Re-scoring a finished run with its domain pack as it is now, without asking the agent or the
user models again: the evaluator replays each episode's logged tool calls (only the judge, for
NL assertions and rules that ask it, calls a model). The pack's policy rules are checked again
too, so a rule added today scores last week's runs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
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
    changes: list[RewardChange]
    """Rewards that differ from those in use before (the newest evaluation, or recorded)."""
    rules: list[RuleCount]
    """Each rule of the new rewards, in the pack's order, with how often it broke before."""


async def rescore_run(
    run: LoadedRun,
    pack: DomainPack,
    *,
    judge: LLMClient | None = None,
    concurrency: int = 8,
    now: datetime | None = None,
) -> Rescoring:
    """Score every episode of `run` again with `pack` (and `judge` for NL assertions).

    Raises `JudgeRequired` up front when a task's reward needs the judge and there is none. An
    episode that cannot be scored (its task is gone from the pack, its calls no longer replay)
    gets no reward and says why; the others are scored all the same.
    """
    # Tasks gone from the pack are left to fail episode by episode (UnknownTask), not up front.
    known = {task.id for task in pack.tasks}
    ran = sorted({e.task_id for e in run.episodes} & known)
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

    lines = list(await asyncio.gather(*(rescore(e) for e in run.episodes)))
    changes = []
    for episode, line in zip(run.episodes, lines, strict=True):
        before = None if episode.reward is None else episode.reward.reward
        after = None if line.reward is None else line.reward.reward
        if before != after:
            changes.append(
                RewardChange(task_id=line.task_id, trial=line.trial, before=before, after=after)
            )
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    manifest = EvaluationManifest(
        name=new_evaluation_name(moment),
        created_at=moment,
        domain=str(pack.root),
        domain_hash=pack.content_hash,
        run_domain_hash=run.manifest.domain_hash,
        judge_model=None if judge is None else judge.config.model,
        episodes=len(lines),
        failed=sum(line.reward is None for line in lines),
    )
    return Rescoring(
        manifest=manifest,
        lines=lines,
        changes=changes,
        rules=rule_counts(
            [line.reward for line in lines], [episode.reward for episode in run.episodes]
        ),
    )


def rule_counts(
    after: Iterable[RewardInfo | None], before: Iterable[RewardInfo | None]
) -> list[RuleCount]:
    """Each rule of the rewards `after`, in the order first met, with its breaches `before`."""
    counted = _counts(after)
    earlier = _counts(before)
    return [
        RuleCount(
            rule=rule,
            broken=broken,
            checked=checked,
            broken_before=earlier[rule][0] if rule in earlier else None,
        )
        for rule, (broken, checked) in counted.items()
    ]


def _counts(rewards: Iterable[RewardInfo | None]) -> dict[str, tuple[int, int]]:
    """Rule name -> (episodes that broke it, episodes where it applied)."""
    counts: dict[str, tuple[int, int]] = {}
    for reward in rewards:
        for result in reward.rules if reward is not None else []:
            broken, checked = counts.get(result.rule, (0, 0))
            applied = result.status in (RuleStatus.HELD, RuleStatus.BROKEN)
            counts[result.rule] = (
                broken + (result.status is RuleStatus.BROKEN),
                checked + applied,
            )
    return counts
