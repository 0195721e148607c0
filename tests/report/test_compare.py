"""Comparing two runs: beyond noise or within it, per metric, and the tasks that flipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_agent.report import build_comparison, load_run, render_comparison
from tests.report._support import Reason, episode, run_of, write_run
from tests.report.test_report import text_of

TASKS = [f"t{n}" for n in range(10)]


def test_a_clear_improvement_is_beyond_noise_and_lists_the_flipped_tasks(tmp_path: Path) -> None:
    # a: only t0 passes (both trials); b: every task passes both trials.
    a = run_of(tmp_path / "a", {t: [1.0, 1.0] if t == "t0" else [0.0, 0.0] for t in TASKS})
    b = run_of(tmp_path / "b", {t: [1.0, 1.0] for t in TASKS})
    comparison = build_comparison(load_run(a), load_run(b), resamples=500)
    by_metric = {m.metric: m for m in comparison.metrics}
    assert list(by_metric) == ["average_reward", "pass^1", "pass^2", "pass@1", "pass@2"]
    average = by_metric["average_reward"]
    assert (average.a, average.b) == (0.1, 1.0)
    assert average.difference == pytest.approx(0.9) and average.beyond_noise
    assert average.low > 0
    assert all(m.beyond_noise for m in comparison.metrics)
    assert [f.task_id for f in comparison.flipped] == TASKS[1:]
    assert {f.change for f in comparison.flipped} == {"improved"}
    first = comparison.flipped[0]
    assert (first.successes_a, first.trials_a, first.successes_b, first.trials_b) == (0, 2, 2, 2)
    assert comparison.shared_tasks == 10 and comparison.notes == []
    text = text_of(render_comparison(comparison))
    assert "beyond noise" in text and "within noise" not in text
    assert "Tasks that flipped (9)" in text
    assert [line.split() for line in text.splitlines() if "t3" in line] == [
        ["t3", "improved", "0/2", "2/2"]
    ]


def test_one_task_of_ten_is_within_noise(tmp_path: Path) -> None:
    # b gains one task: the bootstrap leaves that task out of about a third of its resamples.
    a = run_of(tmp_path / "a", {t: [1.0] if t < "t5" else [0.0] for t in TASKS})
    b = run_of(tmp_path / "b", {t: [1.0] if t < "t6" else [0.0] for t in TASKS})
    comparison = build_comparison(load_run(a), load_run(b), resamples=500)
    average = comparison.metrics[0]
    assert average.metric == "average_reward"
    assert average.difference == pytest.approx(0.1)
    assert average.low == 0.0 and not average.beyond_noise
    assert [(f.task_id, f.change) for f in comparison.flipped] == [("t5", "improved")]
    assert "within noise" in text_of(render_comparison(comparison))


def test_a_regression_is_flagged_and_unshared_tasks_are_named(tmp_path: Path) -> None:
    a = run_of(tmp_path / "a", {t: [1.0] for t in TASKS})
    b = run_of(tmp_path / "b", {**{t: [0.0] for t in TASKS}, "extra": [1.0]})
    comparison = build_comparison(load_run(a), load_run(b), resamples=200)
    assert comparison.metrics[0].high < 0 and comparison.metrics[0].beyond_noise
    assert {f.change for f in comparison.flipped} == {"regressed"}
    assert comparison.only_in_b == ["extra"] and comparison.only_in_a == []
    text = text_of(render_comparison(comparison))
    assert "Tasks only in b (not compared): extra" in text


def test_lost_episodes_and_a_different_pack_are_noted(tmp_path: Path) -> None:
    a = run_of(tmp_path / "a", {t: [1.0] for t in TASKS})
    lost = episode("t9", 1, None, reason=Reason.INFRASTRUCTURE_ERROR)
    b = write_run(tmp_path / "b", [*(episode(t, 0, 1.0) for t in TASKS), lost], trials=2)
    comparison = build_comparison(load_run(a), load_run(b), resamples=200)
    assert comparison.notes == [
        "run b lost 1 episodes to infrastructure or judge failures; they are left out, so its "
        "tasks are scored over fewer trials"
    ]
    assert not any(m.beyond_noise for m in comparison.metrics)
