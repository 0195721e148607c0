"""A run's report and the comparison of two runs, computed from their episodes."""

from __future__ import annotations

from collections import Counter

from policy_agent.evaluation import (
    CONFIDENCE,
    RESAMPLES,
    Estimate,
    RunSummary,
    compare_runs,
    is_success,
    summarize,
)
from policy_agent.report._model import (
    EpisodeCounts,
    FlippedTask,
    MetricComparison,
    MetricEstimate,
    RunComparisonReport,
    RunReport,
    TaskResult,
)
from policy_agent.report._runs import LoadedRun
from policy_agent.report._tally import ReportTally, role_model, tally


def build_report(
    run: LoadedRun, *, resamples: int = RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0
) -> RunReport:
    """Everything `policy-agent report` shows, from the run's episodes (read one at a time)."""
    counted = tally(run.iter_read_episodes())
    summary = counted.scores.summary(resamples=resamples, confidence=confidence, seed=seed)
    config = run.manifest.config
    most_trials = max((len(r) for r in summary.rewards_by_task.values()), default=0)
    average = summary.metrics.get("average_reward")
    turns = counted.agent_turns
    per_100 = 100 * sum(counted.violations.values()) / turns if turns else None
    return RunReport(
        run_id=run.manifest.run_id,
        domain=run.manifest.domain_name,
        directory=str(run.directory),
        agent=role_model(config, "agent") or "oracle",
        user=role_model(config, "user") or "scripted",
        rewards_from=run.describe_rewards(),
        evaluation=None if run.evaluation is None else run.evaluation.name,
        confidence=confidence,
        resamples=resamples,
        episodes=EpisodeCounts(
            planned=run.manifest.episodes_planned,
            total=summary.episodes,
            scored=summary.scored,
            successes=sum(
                is_success(r) for rewards in summary.rewards_by_task.values() for r in rewards
            ),
            infrastructure_failures=summary.infrastructure_failures,
            judge_failures=summary.judge_failures,
            unevaluated=summary.unevaluated,
        ),
        average_reward=None if average is None else _estimate(average, None),
        pass_hat_k=[_estimate(summary.metrics[f"pass^{k}"], k) for k in range(1, most_trials + 1)],
        pass_at_k=[_estimate(summary.metrics[f"pass@{k}"], k) for k in range(1, most_trials + 1)],
        tasks=_tasks(summary, counted),
        termination_reasons=dict(sorted(counted.terminations.items())),
        violations=dict(sorted(counted.violations.items())),
        violation_actions=dict(sorted(counted.actions.items())),
        agent_turns=turns,
        violations_per_100_agent_turns=per_100,
        constrain=run.manifest.constrain,
        tools=counted.tool_usage(),
        roles=counted.role_usage(config),
        rules=counted.rules.summaries(resamples=resamples, confidence=confidence, seed=seed),
    )


def build_comparison(
    a: LoadedRun,
    b: LoadedRun,
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> RunComparisonReport:
    """Run b against run a over their shared tasks: each metric's paired difference and
    whether it is beyond noise, and the tasks whose verdict flipped."""
    summary_a, summary_b = (
        summarize(run.iter_read_episodes(), resamples=resamples, confidence=confidence, seed=seed)
        for run in (a, b)
    )
    comparison = compare_runs(
        summary_a, summary_b, resamples=resamples, confidence=confidence, seed=seed
    )
    flipped = [
        _flipped(task, change, summary_a, summary_b)
        for change, tasks in (
            ("improved", comparison.improved),
            ("regressed", comparison.regressed),
        )
        for task in tasks
    ]
    return RunComparisonReport(
        run_a=a.manifest.run_id,
        run_b=b.manifest.run_id,
        rewards_from_a=a.describe_rewards(),
        rewards_from_b=b.describe_rewards(),
        confidence=confidence,
        resamples=resamples,
        shared_tasks=len(comparison.shared_tasks),
        only_in_a=list(comparison.only_in_a),
        only_in_b=list(comparison.only_in_b),
        metrics=[
            MetricComparison(
                metric=d.metric,
                a=d.a,
                b=d.b,
                difference=d.difference,
                low=d.low,
                high=d.high,
                beyond_noise=d.beyond_noise,
            )
            for d in comparison.differences.values()
        ],
        flipped=sorted(flipped, key=lambda f: f.task_id),
        notes=_comparison_notes(a, b, summary_a, summary_b),
    )


def _estimate(estimate: Estimate, k: int | None) -> MetricEstimate:
    return MetricEstimate(
        metric=estimate.metric,
        k=k,
        value=estimate.value,
        low=estimate.low,
        high=estimate.high,
        tasks=estimate.tasks,
    )


def _tasks(summary: RunSummary, counted: ReportTally) -> list[TaskResult]:
    results = []
    for task_id in sorted(counted.task_ids):
        rewards = summary.rewards_by_task.get(task_id, [])
        results.append(
            TaskResult(
                task_id=task_id,
                rewards=rewards,
                successes=sum(is_success(r) for r in rewards),
                average_reward=sum(rewards) / len(rewards) if rewards else None,
                trials_lost=summary.trials_lost.get(task_id, 0),
                early_ends=dict(sorted(counted.early.get(task_id, Counter()).items())),
            )
        )
    return results


def _flipped(task: str, change: str, a: RunSummary, b: RunSummary) -> FlippedTask:
    rewards_a, rewards_b = a.rewards_by_task[task], b.rewards_by_task[task]
    return FlippedTask.model_validate(
        {
            "task_id": task,
            "change": change,
            "successes_a": sum(is_success(r) for r in rewards_a),
            "trials_a": len(rewards_a),
            "successes_b": sum(is_success(r) for r in rewards_b),
            "trials_b": len(rewards_b),
        }
    )


def _comparison_notes(a: LoadedRun, b: LoadedRun, sa: RunSummary, sb: RunSummary) -> list[str]:
    notes = []
    if a.manifest.domain_name != b.manifest.domain_name:
        notes.append(
            f"the runs are of different domains ({a.manifest.domain_name} and "
            f"{b.manifest.domain_name}): only task ids they share are compared"
        )
    elif _scored_with(a) != _scored_with(b):
        notes.append(
            "the runs were scored with different versions of the pack (tasks, policy or tools "
            "changed); re-score both with `policy-agent evaluate` to compare like for like"
        )
    for name, summary in (("a", sa), ("b", sb)):
        left_out = summary.infrastructure_failures + summary.judge_failures
        if left_out:
            notes.append(
                f"run {name} lost {left_out} episodes to infrastructure or judge failures; "
                "they are left out, so its tasks are scored over fewer trials"
            )
    return notes


def _scored_with(run: LoadedRun) -> str:
    """The hash of the pack the run's rewards were computed with."""
    return run.evaluation.domain_hash if run.evaluation else run.manifest.domain_hash
