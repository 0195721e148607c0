"""`report RUN RUN ...`: several runs (one per domain, say) and their pass^k combined."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_agent.cli import main
from policy_agent.report import build_report, combine_reports, load_run
from tests.report._support import run_of


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, Path]:
    """Run a: pass^1 0.75, pass^2 0.5 over 2 tasks; run b: 1/3, 0, 0 over 1 task, 3 trials."""
    a = run_of(tmp_path / "a", {"t1": [1.0, 1.0], "t2": [1.0, 0.0]})
    b = run_of(tmp_path / "b", {"t3": [1.0, 0.0, 0.0]})
    return a, b


def test_the_runs_combine_as_a_mean_and_pooled(two_runs: tuple[Path, Path]) -> None:
    summary = combine_reports([build_report(load_run(run)) for run in two_runs])
    # Only the k every run measured: b has pass^3, a does not.
    assert [m.metric for m in summary.mean_of_runs] == ["pass^1", "pass^2"]
    assert [m.value for m in summary.mean_of_runs] == pytest.approx([(0.75 + 1 / 3) / 2, 0.25])
    assert [m.value for m in summary.pooled] == pytest.approx([(1.5 + 1 / 3) / 3, 1 / 3])
    assert {m.tasks for m in summary.pooled} == {3}


def test_the_command_prints_a_row_per_run_and_both_combinations(
    two_runs: tuple[Path, Path],
) -> None:
    result = CliRunner().invoke(main, ["report", *map(str, two_runs)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].strip() == "2 runs"
    rows = [line.split() for line in lines]
    assert [row[-3:] for row in rows if "hotel" in row] == [
        ["2", "0.750", "0.500"],
        ["1", "0.333", "0.000"],
    ]
    assert [row[-3:] for row in rows if row[:1] in (["mean"], ["all"])] == [
        ["3", "0.542", "0.250"],
        ["3", "0.611", "0.333"],
    ]
    assert "agent oracle · user scripted" in [line.strip() for line in lines]


def test_json_nests_each_report(two_runs: tuple[Path, Path]) -> None:
    result = CliRunner().invoke(main, ["report", "--json", *map(str, two_runs)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert [len(run["tasks"]) for run in summary["runs"]] == [2, 1]
    assert summary["mean_of_runs"][0] == {
        "metric": "pass^1",
        "k": 1,
        "value": pytest.approx(0.5416666),
        "tasks": 3,
    }


def test_a_plot_takes_one_run(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    arguments = ["report", *map(str, two_runs), "--plot", str(tmp_path / "p.png")]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 2
    assert "--plot draws one run; give it a single RUN" in result.output
