"""Re-scoring a finished run with its domain pack as it is now, without asking the agent or the
user models again: the evaluator replays each episode's logged tool calls (only the judge, for
NL assertions, calls a model)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from policy_agent.domain import DomainPack
from policy_agent.evaluation import Evaluator
from policy_agent.llm import LLMClient
from policy_agent.records import Episode
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
class Rescoring:
    """A run's new rewards, ready to be written with `write_evaluation`."""

    manifest: EvaluationManifest
    lines: list[RescoredEpisode]
    changes: list[RewardChange]
    """Rewards that differ from those in use before (the newest evaluation, or recorded)."""


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
    return Rescoring(manifest=manifest, lines=lines, changes=changes)
