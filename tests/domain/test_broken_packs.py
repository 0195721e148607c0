"""Each folder under broken/ is a pack with mistakes; `validate` must print its expected.txt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_agent.cli import main

BROKEN = Path(__file__).parent / "broken"
CASES = sorted(folder.name for folder in BROKEN.iterdir() if folder.is_dir())


def test_there_is_a_case_for_each_kind_of_mistake() -> None:
    assert len(CASES) >= 16
    assert all((BROKEN / case / "expected.txt").is_file() for case in CASES)


@pytest.mark.parametrize("case", CASES)
def test_validate_reports_exactly_the_expected_problems(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(BROKEN)
    # catch_exceptions=False: an unexpected exception is a bug and must fail the test loudly.
    result = CliRunner().invoke(main, ["validate", case], catch_exceptions=False)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output == (BROKEN / case / "expected.txt").read_text(encoding="utf-8")


def test_the_installed_command_prints_no_traceback() -> None:
    case = "problems_in_several_files"
    completed = subprocess.run(
        [sys.executable, "-m", "policy_agent", "validate", case],
        cwd=BROKEN,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1
    assert completed.stderr == ""
    assert completed.stdout == (BROKEN / case / "expected.txt").read_text(encoding="utf-8")
