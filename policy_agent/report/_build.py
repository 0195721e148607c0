"""A run's report and the comparison of two runs, computed from their episodes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from pydantic import JsonValue

from policy_agent.evaluation import (
    CONFIDENCE,
    RESAMPLES,
    Estimate,
    RunSummary,
    compare_runs,
    is_infrastructure_failure,
    is_success,
    summarize,
)
from policy_agent.records import Episode, Generation, ToolResult, ViolationEvent
from policy_agent.report._model import (
    EpisodeCounts,
    FlippedTask,
    MetricComparison,
    MetricEstimate,
    RoleUsage,
    RunComparisonReport,
    RunReport,
    TaskResult,
    ToolUsage,
)
from policy_agent.report._rules import rule_summaries
from policy_agent.report._runs import LoadedRun


def build_report(
    run: LoadedRun, *, resamples: int = RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0
) -> RunReport:
    """Everything `policy-agent report` shows, from the run's episodes."""
    episodes = run.episodes
    summary = summarize(episodes, resamples=resamples, confidence=confidence, seed=seed)
    config = run.manifest.config
    most_trials = max((len(r) for r in summary.rewards_by_task.values()), default=0)
    average = summary.metrics.get("average_reward")
    agent_episodes = [e for e in episodes if not is_infrastructure_failure(e)]
    violations: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    for episode in agent_episodes:
        for event in episode.events:
            if event.kind == "violation":
                violations[event.violation.code.value] += 1
                actions[event.action_taken] += 1
    turns = sum(e.totals["agent"].calls for e in agent_episodes if "agent" in e.totals)
    per_100 = 100 * sum(violations.values()) / turns if turns else None
    return RunReport(
        run_id=run.manifest.run_id,
        domain=run.manifest.domain_name,
        directory=str(run.directory),
        agent=_role_model(config, "agent") or "oracle",
        user=_role_model(config, "user") or "scripted",
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
        tasks=_tasks(summary, episodes),
        termination_reasons=dict(
            sorted(Counter(e.termination_reason.value for e in episodes).items())
        ),
        violations=dict(sorted(violations.items())),
        violation_actions=dict(sorted(actions.items())),
        agent_turns=turns,
        violations_per_100_agent_turns=per_100,
        constrain=run.manifest.constrain,
        tools=_tools(agent_episodes),
        roles=_roles(episodes, config),
        rules=rule_summaries(agent_episodes, resamples=resamples, confidence=confidence, seed=seed),
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
    summary_a = summarize(a.episodes, resamples=resamples, confidence=confidence, seed=seed)
    summary_b = summarize(b.episodes, resamples=resamples, confidence=confidence, seed=seed)
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


def _tasks(summary: RunSummary, episodes: Iterable[Episode]) -> list[TaskResult]:
    early: dict[str, Counter[str]] = {}
    task_ids = set()
    for episode in episodes:
        task_ids.add(episode.task_id)
        counted = not is_infrastructure_failure(episode) and episode.reward is not None
        if counted and not episode.termination_reason.is_normal_end:
            early.setdefault(episode.task_id, Counter())[episode.termination_reason.value] += 1
    results = []
    for task_id in sorted(task_ids):
        rewards = summary.rewards_by_task.get(task_id, [])
        results.append(
            TaskResult(
                task_id=task_id,
                rewards=rewards,
                successes=sum(is_success(r) for r in rewards),
                average_reward=sum(rewards) / len(rewards) if rewards else None,
                trials_lost=summary.trials_lost.get(task_id, 0),
                early_ends=dict(sorted(early.get(task_id, Counter()).items())),
            )
        )
    return results


def _tools(episodes: Iterable[Episode]) -> ToolUsage:
    counts: Counter[str] = Counter()
    for episode in episodes:
        for record in episode.messages:
            if isinstance(record, ToolResult):
                who = "agent" if record.requestor == "assistant" else "user"
                counts[f"{who}_calls"] += 1
                counts[f"{who}_errors"] += record.error
                counts[f"{who}_crashes"] += record.crashed
    calls = counts["agent_calls"]
    return ToolUsage(
        agent_calls=calls,
        agent_errors=counts["agent_errors"],
        agent_crashes=counts["agent_crashes"],
        agent_error_rate=counts["agent_errors"] / calls if calls else None,
        user_calls=counts["user_calls"],
        user_errors=counts["user_errors"],
    )


def _roles(episodes: list[Episode], config: Mapping[str, JsonValue]) -> list[RoleUsage]:
    """Agent and user from each episode's totals; the judge from each reward's judge usage."""
    roles = []
    cached = _cached_prompt_tokens(episodes)
    for role in ("agent", "user"):
        totals = [e.totals[role] for e in episodes if role in e.totals]
        usage = _usage(
            role,
            _role_model(config, role),
            calls=sum(t.calls for t in totals),
            prompt_tokens=sum(t.prompt_tokens for t in totals),
            completion_tokens=sum(t.completion_tokens for t in totals),
            latency_ms=sum(t.latency_ms for t in totals),
            costs=[t.cost_usd for t in totals],
        )
        roles.append(usage.model_copy(update={"cached_prompt_tokens": cached.get(role)}))
    judged = [e.reward.judge for e in episodes if e.reward is not None and e.reward.judge]
    # The judge's calls for the rules that ask it (one per write), kept apart in the reward.
    ruled = [e.reward.rules_judge for e in episodes if e.reward and e.reward.rules_judge]
    usages = [*judged, *ruled]
    models = sorted({j.model for j in usages})
    roles.append(
        _usage(
            "judge",
            ", ".join(models) if models else _role_model(config, "judge"),
            calls=len(judged) + sum(r.calls for r in ruled),
            prompt_tokens=sum(j.prompt_tokens for j in usages),
            completion_tokens=sum(j.completion_tokens for j in usages),
            latency_ms=sum(j.latency_ms for j in usages),
            costs=[j.cost_usd for j in usages],
        )
    )
    return roles


def _cached_prompt_tokens(episodes: list[Episode]) -> dict[str, int]:
    """Per role, the prompt tokens its server reported as cached (roles it reported for)."""
    cached: dict[str, int] = {}
    for episode in episodes:
        generations = [
            ("agent", event.generation)
            for event in episode.events
            if isinstance(event, ViolationEvent) and event.action_taken != "keep_first"
        ]
        for record in episode.messages:
            generation = getattr(record, "generation", None)
            if isinstance(generation, Generation):
                generations.append(("agent" if record.role == "assistant" else "user", generation))
        for role, generation in generations:
            count = generation.usage.cached_prompt_tokens
            if count is not None:
                cached[role] = cached.get(role, 0) + count
    return cached


def _usage(
    role: str,
    model: str | None,
    *,
    calls: int,
    prompt_tokens: int,
    completion_tokens: int,
    latency_ms: float,
    costs: list[float | None],
) -> RoleUsage:
    priced = [c for c in costs if c is not None]
    return RoleUsage.model_validate(
        {
            "role": role,
            "model": model,
            "calls": calls,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "latency_ms": latency_ms,
            "mean_latency_ms": latency_ms / calls if calls else None,
            # A role without a configured price has no cost at all, never a made-up 0.
            "cost_usd": sum(priced) if priced else None,
        }
    )


def _role_model(config: Mapping[str, JsonValue], role: str) -> str | None:
    """The model string of `role` in a stored run config (None for the oracle or a script)."""
    part = config.get(role)
    if isinstance(part, dict) and role != "judge":
        part = part.get("model")
    if isinstance(part, dict) and isinstance(model := part.get("model"), str):
        return model
    return None


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
