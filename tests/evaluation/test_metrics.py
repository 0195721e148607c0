"""pass^k, pass@k and the average reward against hand-computed values and brute force; the
bootstrap's determinism and bounds."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy_agent.evaluation import (
    Metric,
    average_reward,
    bootstrap_interval,
    is_success,
    paired_bootstrap,
    pass_at_k,
    pass_hat_k,
)


def test_pass_hat_k_for_two_successes_in_four_trials() -> None:
    results = {"t": [1.0, 0.0, 1.0, 0.0]}
    assert pass_hat_k(results, 1) == 0.5
    assert pass_hat_k(results, 2) == pytest.approx(1 / 6)  # C(2,2) / C(4,2)
    assert pass_hat_k(results, 3) == 0.0
    assert pass_hat_k(results, 4) == 0.0


def test_pass_hat_k_averages_over_tasks() -> None:
    results = {"a": [1.0, 1.0, 1.0, 0.0], "b": [0.0, 1.0, 0.0, 0.0]}
    assert pass_hat_k(results, 1) == 0.5  # (3/4 + 1/4) / 2
    assert pass_hat_k(results, 2) == 0.25  # (C(3,2)/C(4,2) + 0) / 2 = (1/2 + 0) / 2
    assert pass_hat_k(results, 3) == pytest.approx(1 / 8)  # (C(3,3)/C(4,3) + 0) / 2


def test_pass_at_k_for_two_successes_in_four_trials() -> None:
    results = {"t": [1.0, 0.0, 1.0, 0.0]}
    assert pass_at_k(results, 1) == 0.5
    assert pass_at_k(results, 2) == pytest.approx(5 / 6)  # 1 - C(2,2)/C(4,2)
    assert pass_at_k(results, 3) == 1.0  # any 3 of 4 include a success
    two_tasks = {"a": [1.0, 1.0, 1.0, 0.0], "b": [0.0, 1.0, 0.0, 0.0]}
    assert pass_at_k(two_tasks, 2) == 0.75  # (1 + (1 - C(3,2)/C(4,2))) / 2


def test_the_average_reward_is_over_trials_as_in_tau2() -> None:
    results = {"a": [1.0, 0.0], "b": [1.0, 1.0, 1.0, 0.5]}
    assert average_reward(results) == pytest.approx(4.5 / 6)


def test_success_is_a_reward_within_a_millionth_of_1() -> None:
    assert is_success(1.0) and is_success(0.9999995) and is_success(1.0000009)
    assert not is_success(0.999998) and not is_success(0.5) and not is_success(0.0)
    assert pass_hat_k({"t": [0.9999995, 0.99]}, 1) == 0.5


def _all_k_subsets(rewards: list[float], k: int, succeed: str) -> float:
    subsets = list(itertools.combinations(rewards, k))
    test = all if succeed == "all" else any
    return sum(1 for s in subsets if test(is_success(r) for r in s)) / len(subsets)


@given(
    st.lists(st.sampled_from([0.0, 0.5, 1.0]), min_size=1, max_size=7),
    st.integers(min_value=1, max_value=7),
)
def test_the_estimators_equal_brute_force_over_every_k_subset(rewards: list[float], k: int) -> None:
    if k > len(rewards):
        with pytest.raises(ValueError, match=f"needs at least {k} trials per task"):
            pass_hat_k({"t": rewards}, k)
        return
    assert pass_hat_k({"t": rewards}, k) == pytest.approx(_all_k_subsets(rewards, k, "all"))
    assert pass_at_k({"t": rewards}, k) == pytest.approx(_all_k_subsets(rewards, k, "any"))


def test_metrics_refuse_what_they_cannot_count() -> None:
    with pytest.raises(ValueError, match="k must be at least 1; got 0"):
        pass_hat_k({"t": [1.0]}, 0)
    with pytest.raises(ValueError, match=r"task 'short': pass\^3 needs at least 3 trials"):
        pass_hat_k({"long": [1.0, 1.0, 1.0], "short": [1.0, 1.0]}, 3)
    with pytest.raises(ValueError, match="there are no tasks with scored trials"):
        average_reward({})
    with pytest.raises(ValueError, match="task 'empty' has no scored trials"):
        pass_at_k({"empty": []}, 1)


def test_metric_names() -> None:
    assert [m.name for m in (Metric.average_reward(), Metric.pass_hat(2), Metric.pass_at(3))] == [
        "average_reward",
        "pass^2",
        "pass@3",
    ]


RESULTS = {f"t{i}": [float((i * 7 + j) % 3 != 0) for j in range(4)] for i in range(25)}


def test_the_bootstrap_is_reproducible_with_its_seed() -> None:
    metric = Metric.pass_hat(2)
    first = bootstrap_interval(RESULTS, metric, seed=7)
    assert bootstrap_interval(RESULTS, metric, seed=7) == first
    assert bootstrap_interval(RESULTS, metric, seed=8) != first
    assert first.value == pass_hat_k(RESULTS, 2)
    assert first.low < first.value < first.high
    assert first.confidence == 0.95
    narrower = bootstrap_interval(RESULTS, metric, seed=7, confidence=0.5)
    assert first.low < narrower.low < narrower.high < first.high


def test_the_bootstrap_interval_is_a_point_without_spread() -> None:
    one_task = bootstrap_interval({"t": [1.0, 0.0]}, Metric.pass_hat(1), resamples=50)
    assert (one_task.low, one_task.value, one_task.high) == (0.5, 0.5, 0.5)
    same = {f"t{i}": [1.0] for i in range(5)}
    assert bootstrap_interval(same, Metric.average_reward()).low == 1.0


def test_the_bootstrap_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="resamples must be at least 1"):
        bootstrap_interval(RESULTS, Metric.pass_hat(1), resamples=0)
    with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
        bootstrap_interval(RESULTS, Metric.pass_hat(1), confidence=95)


def test_a_paired_bootstrap_of_a_run_against_itself_is_zero() -> None:
    terms = Metric.pass_hat(1).terms(RESULTS)
    same = paired_bootstrap(terms, terms)
    assert (same.low, same.value, same.high) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="same tasks on both sides"):
        paired_bootstrap(terms, terms[:-1])


def test_the_percentile_interval_matches_a_direct_computation() -> None:
    # 2 tasks, pass^1 values 0 and 1: each resample's mean is 0, 0.5 or 1 with chances
    # 1/4, 1/2, 1/4, so the 95% interval of many resamples is [0, 1].
    interval = bootstrap_interval({"a": [0.0], "b": [1.0]}, Metric.pass_hat(1), resamples=4000)
    assert (interval.low, interval.high) == (0.0, 1.0)
    middle = bootstrap_interval(
        {"a": [0.0], "b": [1.0]}, Metric.pass_hat(1), resamples=4000, confidence=0.4
    )
    assert middle.low == middle.high == 0.5
