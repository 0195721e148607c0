"""A run's summary keeps infrastructure and judge failures out of the agent's scores; two runs
compare task by task."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from policy_agent.evaluation import compare_runs, is_infrastructure_failure, summarize
from policy_agent.records import DatabaseState, Episode, RewardInfo, RewardType, TerminationReason

STOP = TerminationReason.USER_STOP
MOMENT = datetime(2025, 6, 4, tzinfo=UTC)


def episode(
    task_id: str,
    trial: int,
    reward: float | None,
    termination: TerminationReason = STOP,
    *,
    judge_failed: bool = False,
) -> Episode:
    info = None
    if reward is not None:
        info = RewardInfo(
            reward=reward,
            reward_basis=[RewardType.DB, RewardType.NL_ASSERTION],
            infrastructure_error="the judge failed: LLMTimeout" if judge_failed else None,
        )
    return Episode(
        task_id=task_id,
        trial=trial,
        seed=trial,
        termination_reason=termination,
        started_at=MOMENT,
        ended_at=MOMENT,
        duration_s=0.0,
        messages=[],
        database=DatabaseState(initial_hash="h", final_hash="h"),
        reward=info,
    )


RUN = [
    episode("a", 3, None, TerminationReason.INFRASTRUCTURE_ERROR),
    episode("a", 1, 1.0),
    episode("a", 0, 1.0),
    episode("a", 2, 0.0, TerminationReason.MAX_STEPS),
    episode("b", 0, 1.0),
    episode("b", 1, 0.0, judge_failed=True),
    episode("c", 0, None),
]


def test_infrastructure_and_judge_failures_are_counted_apart() -> None:
    summary = summarize(RUN)
    assert (summary.episodes, summary.scored) == (7, 4)
    assert (summary.infrastructure_failures, summary.judge_failures) == (1, 1)
    assert summary.unevaluated == 1
    assert summary.trials_lost == {"a": 1, "b": 1}
    assert summary.early_ends == {"max_steps": 1}
    assert summary.rewards_by_task == {"a": [1.0, 1.0, 0.0], "b": [1.0]}
    assert summary.tasks == 2


def test_a_task_is_scored_over_the_trials_that_ran() -> None:
    metrics = summarize(RUN).metrics
    assert list(metrics) == [
        "average_reward",
        "pass^1",
        "pass^2",
        "pass^3",
        "pass@1",
        "pass@2",
        "pass@3",
    ]
    assert metrics["average_reward"].value == 0.75
    assert metrics["pass^1"].value == pytest.approx((2 / 3 + 1) / 2)
    assert metrics["pass^1"].tasks == 2
    # Only task a has 2 or 3 scored trials: C(2,2)/C(3,2) and C(2,3)/C(3,3).
    assert metrics["pass^2"].value == pytest.approx(1 / 3)
    assert metrics["pass^2"].tasks == 1
    assert (metrics["pass^3"].value, metrics["pass^3"].tasks) == (0.0, 1)
    assert metrics["pass@2"].value == 1.0
    for estimate in metrics.values():
        assert estimate.low <= estimate.value <= estimate.high


def test_is_infrastructure_failure() -> None:
    assert [is_infrastructure_failure(e) for e in RUN] == [
        True,
        False,
        False,
        False,
        False,
        True,
        False,
    ]


def test_a_run_without_scored_episodes_has_no_metrics() -> None:
    summary = summarize([episode("a", 0, None, TerminationReason.INFRASTRUCTURE_ERROR)])
    assert summary.metrics == {}
    assert summary.tasks == 0 and summary.infrastructure_failures == 1


def test_a_trial_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="task 'a' trial 0 appears twice"):
        summarize([episode("a", 0, 1.0), episode("a", 0, 0.0)])


def test_the_summary_is_reproducible() -> None:
    assert summarize(RUN, seed=3) == summarize(RUN, seed=3)


def run(rewards: dict[str, list[float]]) -> list[Episode]:
    return [
        episode(task, trial, reward)
        for task, trials in rewards.items()
        for trial, reward in enumerate(trials)
    ]


def test_a_clear_improvement_is_beyond_noise() -> None:
    before = summarize(run({f"t{i}": [0.0, 0.0] for i in range(30)}))
    after = summarize(run({f"t{i}": [1.0, 1.0, 1.0] for i in range(30)}))
    comparison = compare_runs(before, after)
    assert list(comparison.differences) == [
        "average_reward",
        "pass^1",
        "pass^2",
        "pass@1",
        "pass@2",
    ]
    difference = comparison.differences["pass^1"]
    assert (difference.a, difference.b, difference.difference) == (0.0, 1.0, 1.0)
    assert difference.beyond_noise
    assert comparison.improved == tuple(sorted(f"t{i}" for i in range(30)))
    assert comparison.regressed == ()


def test_one_flipped_task_is_listed_but_within_noise() -> None:
    base = {f"t{i}": [1.0 if i % 2 else 0.0] * 3 for i in range(20)}
    changed = {**base, "t3": [0.0, 0.0, 1.0], "extra": [1.0]}
    comparison = compare_runs(summarize(run({**base, "gone": [0.0]})), summarize(run(changed)))
    assert comparison.shared_tasks == tuple(sorted(base))
    assert (comparison.only_in_a, comparison.only_in_b) == (("gone",), ("extra",))
    assert comparison.regressed == ("t3",) and comparison.improved == ()
    assert comparison.flipped == ("t3",)
    difference = comparison.differences["pass^1"]
    assert difference.difference == pytest.approx(-2 / 3 / 20)
    # A third of the resamples leave t3 out and see no difference at all: 0 stays inside.
    assert difference.low < 0 and difference.high == 0.0
    assert not difference.beyond_noise


def test_a_run_compared_with_itself_has_no_difference() -> None:
    summary = summarize(RUN)
    comparison = compare_runs(summary, summary)
    assert all(d.difference == 0 and not d.beyond_noise for d in comparison.differences.values())
    assert comparison.flipped == ()
    # Shared tasks a (3 trials) and b (1): every metric over both, so k stops at 1.
    assert list(comparison.differences) == ["average_reward", "pass^1", "pass@1"]


def test_runs_without_shared_tasks_compare_nothing() -> None:
    comparison = compare_runs(summarize(run({"a": [1.0]})), summarize(run({"b": [1.0]})))
    assert comparison.differences == {} and comparison.shared_tasks == ()
