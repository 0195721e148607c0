"""`build_report` and its tables on the demo run and on the mixed run, values computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from policy_agent.evaluation import Metric, bootstrap_interval
from policy_agent.records import RoleTotals
from policy_agent.report import (
    RECORDED,
    MetricEstimate,
    RunReport,
    build_report,
    load_run,
    pass_hat_chart,
    render_report,
    write_png,
)
from tests.report._support import episode, write_run

HOTEL_TASKS = 24


def text_of(renderable: object, width: int = 140) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_the_demo_scores_one_everywhere(demo: Path) -> None:
    report = build_report(load_run(demo))
    counts = report.episodes
    assert (counts.planned, counts.total, counts.scored, counts.successes) == (24, 24, 24, 24)
    assert (counts.infrastructure_failures, counts.judge_failures, counts.unevaluated) == (0, 0, 0)
    assert report.average_reward is not None
    assert (report.average_reward.value, report.average_reward.low) == (1.0, 1.0)
    assert [(e.metric, e.value, e.tasks) for e in report.pass_hat_k] == [("pass^1", 1.0, 24)]
    assert len(report.tasks) == HOTEL_TASKS
    assert all(t.rewards == [1.0] and t.successes == 1 for t in report.tasks)
    assert report.termination_reasons == {"transfer": 4, "user_stop": 20}
    assert report.violations == {}
    assert report.tools.agent_errors == 0 and report.tools.agent_calls > 0
    assert report.tools.agent_error_rate == 0.0
    assert [(r.role, r.model, r.calls, r.cost_usd) for r in report.roles] == [
        ("agent", None, 0, None),
        ("user", None, 0, None),
        ("judge", None, 0, None),
    ]
    assert (report.agent, report.user, report.evaluation) == ("oracle", "scripted", None)


def test_the_mixed_run_keeps_every_failure_apart(mixed: Path) -> None:
    report = build_report(load_run(mixed))
    counts = report.episodes
    # 10 episodes: c#1 is an infrastructure failure, d#1 a judge failure, e#1 unevaluated.
    assert (counts.total, counts.scored, counts.successes) == (10, 7, 4)
    assert (counts.infrastructure_failures, counts.judge_failures, counts.unevaluated) == (1, 1, 1)
    assert report.average_reward is not None
    assert report.average_reward.value == pytest.approx(4 / 7)
    # Per task: a 1, b 1/2, c 0, d 0, e 1; pass^2 only over a (1) and b (0).
    assert [(e.k, e.value, e.tasks) for e in report.pass_hat_k] == [(1, 0.5, 5), (2, 0.5, 2)]
    # pass@2: a and b each have at least one success in two trials.
    assert [(e.k, e.value, e.tasks) for e in report.pass_at_k] == [(1, 0.5, 5), (2, 1.0, 2)]
    by_task = {t.task_id: t for t in report.tasks}
    assert by_task["b"].rewards == [1.0, 0.0] and by_task["b"].early_ends == {"max_steps": 1}
    assert by_task["c"].rewards == [0.0] and by_task["c"].trials_lost == 1
    assert by_task["d"].early_ends == {"too_many_errors": 1} and by_task["d"].trials_lost == 1
    assert by_task["e"].average_reward == 1.0 and by_task["e"].trials_lost == 0
    assert report.termination_reasons == {
        "infrastructure_error": 1,
        "max_steps": 1,
        "too_many_errors": 1,
        "user_stop": 7,
    }
    # The infrastructure failure's violation and tool error are not the agent's to count.
    assert report.violations == {"empty": 1, "multiple_tool_calls": 1}
    assert report.violation_actions == {"resample": 1, "terminate": 1}
    tools = report.tools
    assert (tools.agent_calls, tools.agent_errors, tools.agent_crashes) == (3, 2, 1)
    assert tools.agent_error_rate == pytest.approx(2 / 3)
    assert (tools.user_calls, tools.user_errors) == (1, 0)


def test_usage_counts_every_episode_and_cost_only_where_priced(mixed: Path) -> None:
    agent, user, judge = build_report(load_run(mixed)).roles
    assert (agent.calls, agent.prompt_tokens, agent.completion_tokens) == (20, 1000, 100)
    assert (agent.latency_ms, agent.mean_latency_ms, agent.cost_usd) == (5000.0, 250.0, None)
    assert (user.calls, user.prompt_tokens) == (10, 500)
    assert user.cost_usd == pytest.approx(0.01)
    # The judge: one call in each of the two judged episodes (the failed one counts too).
    assert (judge.model, judge.calls, judge.prompt_tokens, judge.latency_ms) == (
        "judge-m",
        2,
        70,
        500.0,
    )
    assert judge.cost_usd is None


def test_intervals_are_the_bootstrap_over_tasks(mixed: Path) -> None:
    report = build_report(load_run(mixed), resamples=500, seed=3)
    rewards = {"a": [1.0, 1.0], "b": [1.0, 0.0], "c": [0.0], "d": [0.0], "e": [1.0]}
    expected = bootstrap_interval(rewards, Metric.pass_hat(1), resamples=500, seed=3)
    [first, _] = report.pass_hat_k
    assert (first.low, first.value, first.high) == (expected.low, expected.value, expected.high)
    assert first.low < first.value < first.high
    assert report.resamples == 500


def test_the_tables_show_the_mixed_run(mixed: Path) -> None:
    text = text_of(render_report(build_report(load_run(mixed))))
    for expected in (
        "10 of 10 planned",
        "7, of which 4 succeed",
        "0.571",
        "infrastructure failures 1, judge failures 1, unevaluated 1",
        "tool-error rate 66.7%",
        "multiple_tool_calls",
        "infrastructure failure (left out)",
        "the agent's early end (scores 0)",
        "judge-m",
        "0.0100",
        "Cost shows only for roles with a price per token configured",
    ):
        assert expected in text, expected
    rows = [line.split() for line in text.splitlines()]
    assert ["b", "2", "1", "✓", "✗", "0.50", "max_steps", "1"] in rows
    assert any(row[:1] == ["k=2"] for row in rows)


def test_the_json_has_stable_keys_and_reads_back(mixed: Path) -> None:
    report = build_report(load_run(mixed))
    data = json.loads(report.model_dump_json())
    assert list(data) == list(RunReport.model_fields)
    assert RunReport.model_validate(data) == report
    assert data["schema_version"] == 1


def test_a_run_with_nothing_scored_reports_without_metrics(tmp_path: Path) -> None:
    run = write_run(tmp_path, [episode("a", 0, None)])
    report = build_report(load_run(run))
    assert report.average_reward is None and report.pass_hat_k == []
    assert report.episodes.unevaluated == 1
    text = text_of(render_report(report))
    assert "average reward         —" in text and "pass^k" not in text
    with pytest.raises(ValueError, match="no scored episodes"):
        write_png(report, tmp_path / "plot.png")


def test_only_priced_roles_have_a_cost(tmp_path: Path) -> None:
    priced = RoleTotals(calls=1, prompt_tokens=10, cost_usd=0.5)
    unpriced = RoleTotals(calls=1, prompt_tokens=10)
    run = write_run(
        tmp_path,
        [
            episode("a", 0, 1.0, totals={"agent": priced, "user": unpriced}),
            episode("b", 0, 1.0, totals={"agent": priced, "user": unpriced}),
        ],
    )
    agent, user, _ = build_report(load_run(run, evaluation=RECORDED)).roles
    assert agent.cost_usd == 1.0
    assert user.cost_usd is None


def test_the_chart_draws_value_and_interval_to_scale() -> None:
    estimate = MetricEstimate(metric="pass^1", k=1, value=0.5, low=0.25, high=0.75, tasks=4)
    text = text_of(pass_hat_chart([estimate], width=40))
    [bar_line] = [line for line in text.splitlines() if line.startswith("k=1")]
    bar = bar_line.split()[1]
    assert bar == "█" * 10 + "▓" * 10 + "░" * 10 + "·" * 10
    assert bar_line.split()[2:] == ["0.500", "[0.250,", "0.750]"]


def test_the_png_is_a_picture_of_pass_hat_k(tmp_path: Path, mixed: Path) -> None:
    path = tmp_path / "pass.png"
    write_png(build_report(load_run(mixed)), path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # The IHDR chunk: width and height of a 6.4 x 4.2 inch figure at 100 dpi.
    assert int.from_bytes(data[16:20], "big") == 640
    assert int.from_bytes(data[20:24], "big") == 420
    assert len(data) > 10_000


def test_at_80_columns_no_header_or_cell_is_cut(demo: Path) -> None:
    text = text_of(render_report(build_report(load_run(demo))), width=80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in text
    header = next(line for line in lines if line.lstrip().startswith("task "))
    assert header.split() == ["task", "trials", "passed", "rewards", "avg", "lost", "early", "ends"]
    role_headers = [line for line in lines if "prompt" in line or "completion" in line]
    assert any("completion" in line.split() for line in role_headers)
    assert "cost (USD)" in text


def test_violations_per_100_agent_turns_are_shown_for_every_run(mixed: Path, demo: Path) -> None:
    # Eight agent episodes (the infrastructure and judge failures are left out) of two model
    # calls each, two violations among them.
    report = build_report(load_run(mixed))
    assert (report.agent_turns, report.constrain) == (16, "none")
    assert report.violations_per_100_agent_turns == 12.5
    text = text_of(render_report(report))
    assert (
        "Violations per 100 agent turns 12.5 (2 in 16 agent model calls; decoding "
        "constrained: none)"
    ) in text
    # The oracle makes no model calls: no rate, but the line is still there to compare.
    oracle = build_report(load_run(demo))
    assert (oracle.agent_turns, oracle.violations_per_100_agent_turns) == (0, None)
    assert "Violations per 100 agent turns — (0 in 0 agent model calls" in text_of(
        render_report(oracle)
    )
