"""CI gates as a CI job types them: `report --fail-under`, `report --fail-on-rule` and
`compare --fail-if-worse`, passing (exit 0) and failing (exit 1, one `gate failed:` line), and
gates that cannot be read (exit 2, the metrics or severities there are listed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from policy_agent.cli import main
from policy_agent.records import RuleSeverity
from policy_agent.report import (
    GateError,
    MetricThreshold,
    RuleGate,
    parse_metric_name,
    parse_rule_gate,
    parse_threshold,
)
from tests.report._support import run_of

TASKS = [f"t{n}" for n in range(10)]


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def gate_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("gate failed")]


# ------------------------------------------------------------------------------------ parsing


def test_metric_names_are_read_strictly() -> None:
    assert parse_metric_name("reward") == "average_reward"
    assert parse_metric_name("average_reward") == "average_reward"
    assert parse_metric_name("pass^2") == "pass^2"
    assert parse_metric_name("pass@1") == "pass@1"
    for wrong in ("pass^0", "pass", "accuracy", "pass^k", "Reward"):
        with pytest.raises(GateError, match=r"the metrics are: reward \(or average_reward\)"):
            parse_metric_name(wrong)


def test_thresholds_are_metric_equals_a_fraction() -> None:
    assert parse_threshold("reward=0.8") == MetricThreshold(metric="average_reward", minimum=0.8)
    assert parse_threshold("pass^3=1") == MetricThreshold(metric="pass^3", minimum=1.0)
    with pytest.raises(GateError, match="write METRIC=VALUE"):
        parse_threshold("reward")
    with pytest.raises(GateError, match="'high' is not a number"):
        parse_threshold("reward=high")
    with pytest.raises(GateError, match="between 0 and 1"):
        parse_threshold("reward=80")
    with pytest.raises(GateError, match="between 0 and 1"):
        parse_threshold("reward=nan")


def test_rule_gates_are_a_name_or_a_severity() -> None:
    assert parse_rule_gate("never_cancel") == RuleGate(rule="never_cancel")
    assert parse_rule_gate("severity=major") == RuleGate(severity=RuleSeverity.MAJOR)
    with pytest.raises(GateError, match="the severities are: critical, major, minor"):
        parse_rule_gate("severity=high")
    with pytest.raises(GateError, match="write a rule's name or severity=LEVEL"):
        parse_rule_gate("level=major")
    with pytest.raises(GateError, match="is not a rule's name"):
        parse_rule_gate("no such rule")


# ------------------------------------------------------------------------------------- report


@pytest.fixture
def seven_of_ten(tmp_path: Path) -> Path:
    """Ten tasks of two trials; seven succeed twice, three fail twice: reward 0.7."""
    return run_of(tmp_path, {t: [1.0, 1.0] if n < 7 else [0.0, 0.0] for n, t in enumerate(TASKS)})


def test_fail_under_passes_at_or_above_the_floor(seven_of_ten: Path) -> None:
    result = invoke(
        "report", seven_of_ten, "--fail-under", "reward=0.7", "--fail-under", "pass^2=0.5"
    )
    assert result.exit_code == 0, result.stderr
    assert gate_lines(result) == []


def test_fail_under_fails_below_the_floor_with_one_line(seven_of_ten: Path) -> None:
    result = invoke(
        "report", seven_of_ten, "--fail-under", "reward=0.8", "--fail-under", "pass^2=0.75"
    )
    assert result.exit_code == 1
    assert "Overall" in result.stdout  # the report is still printed
    assert gate_lines(result) == [
        "gate failed: average_reward is 0.700, under 0.8 (--fail-under average_reward=0.8); "
        "pass^2 is 0.700, under 0.75 (--fail-under pass^2=0.75)"
    ]


def test_fail_under_with_json_still_prints_the_json(seven_of_ten: Path) -> None:
    result = invoke("report", seven_of_ten, "--json", "--fail-under", "pass@1=0.9")
    assert result.exit_code == 1 and result.stdout.lstrip().startswith("{")
    assert gate_lines(result) == [
        "gate failed: pass@1 is 0.700, under 0.9 (--fail-under pass@1=0.9)"
    ]


def test_an_unknown_metric_is_a_usage_error_listing_the_metrics(seven_of_ten: Path) -> None:
    result = invoke("report", seven_of_ten, "--fail-under", "accuracy=0.8")
    assert result.exit_code == 2
    assert "unknown metric 'accuracy'; the metrics are: reward" in result.stderr


def test_a_pass_k_beyond_the_trials_names_the_metrics_the_run_has(seven_of_ten: Path) -> None:
    result = invoke("report", seven_of_ten, "--fail-under", "pass^3=0.5")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: --fail-under pass^3=0.5: the run has no pass^3; it has: average_reward, "
        "pass^1, pass^2, pass@1, pass@2"
    )


def test_a_rule_gate_naming_no_rule_of_the_run_is_a_usage_error(seven_of_ten: Path) -> None:
    result = invoke("report", seven_of_ten, "--fail-on-rule", "never_cancel")
    assert result.exit_code == 2
    assert "no rule of that name in the run's rewards; its rules are: none" in result.stderr


def test_a_severity_gate_passes_a_run_without_breaches(seven_of_ten: Path) -> None:
    result = invoke("report", seven_of_ten, "--fail-on-rule", "severity=minor")
    assert result.exit_code == 0, result.stderr


def test_gates_are_about_one_run(seven_of_ten: Path) -> None:
    result = invoke("report", seven_of_ten, seven_of_ten, "--fail-under", "reward=0.5")
    assert result.exit_code == 2 and "give a single RUN" in result.stderr


# ------------------------------------------------------------------------------------ compare


def test_fail_if_worse_fails_a_run_worse_beyond_noise(tmp_path: Path) -> None:
    a = run_of(tmp_path / "a", {t: [1.0, 1.0] for t in TASKS})
    b = run_of(tmp_path / "b", {t: [1.0, 1.0] if t == "t0" else [0.0, 0.0] for t in TASKS})
    result = invoke("compare", a, b, "--fail-if-worse", "reward")
    assert result.exit_code == 1
    [line] = gate_lines(result)
    assert line.startswith("gate failed: average_reward fell from 1.000 to 0.100 (-0.900, 95% ")
    assert line.endswith(" below 0) (--fail-if-worse average_reward)")


def test_fail_if_worse_passes_a_difference_within_noise(tmp_path: Path) -> None:
    a = run_of(tmp_path / "a", {t: [1.0, 1.0] for t in TASKS})
    b = run_of(tmp_path / "b", {t: [1.0, 1.0] if t != "t0" else [0.0, 0.0] for t in TASKS})
    result = invoke("compare", a, b, "--fail-if-worse", "reward", "--fail-if-worse", "pass^2")
    assert result.exit_code == 0, result.stderr
    assert gate_lines(result) == []


def test_a_tolerance_lets_a_small_sure_drop_through(tmp_path: Path) -> None:
    many = [f"t{n}" for n in range(40)]
    a = run_of(tmp_path / "a", {t: [1.0] for t in many})
    b = run_of(tmp_path / "b", {t: [0.0] if n < 8 else [1.0] for n, t in enumerate(many)})
    strict = invoke("compare", a, b, "--fail-if-worse", "reward")
    assert strict.exit_code == 1, strict.stdout
    tolerant = invoke("compare", a, b, "--fail-if-worse", "reward", "--tolerance", "0.25")
    assert tolerant.exit_code == 0, tolerant.stderr


def test_fail_if_worse_of_an_unknown_metric_is_a_usage_error(tmp_path: Path) -> None:
    a = run_of(tmp_path / "a", {t: [1.0] for t in TASKS})
    result = invoke("compare", a, a, "--fail-if-worse", "speed")
    assert result.exit_code == 2 and "unknown metric 'speed'" in result.stderr
