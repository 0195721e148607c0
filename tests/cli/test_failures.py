"""Where the commands used to end in a traceback: each is now one clear message and exit 2,
with nothing lost (no half-made run folder, no half-written export)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from policy_agent.cli import main
from policy_agent.trajectory import EPISODES_NAME
from tests.report._support import DEMO, demo_run
from tests.trajectory._filesystems import fill, tmpfs

ADVICE = (
    "Nothing was written; give --out a folder on a disk you can write to, with room for the run."
)


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def _clean_exit_2(result: Result) -> str:
    """The message of a command that exited 2 without a traceback."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    return result.stderr


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's demo run (do not write to it)."""
    return demo_run(tmp_path_factory.mktemp("demo"))


def test_run_out_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    said = _clean_exit_2(invoke("run", DEMO, "--out", tmp_path / "notes.txt" / "runs", "--quiet"))
    assert said == (
        f"Error: cannot start a run in {tmp_path}/notes.txt/runs: {tmp_path}/notes.txt is a "
        f"file, not a folder. {ADVICE}\n"
    )
    assert (tmp_path / "notes.txt").read_text() == "mine\n"


def test_run_out_under_proc() -> None:
    said = _clean_exit_2(invoke("run", DEMO, "--out", "/proc/runs", "--quiet"))
    assert said == (
        "Error: cannot start a run in /proc/runs: /proc does not take new files (a system "
        f"folder such as /proc?). {ADVICE}\n"
    )


def test_run_out_on_a_read_only_file_system(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", read_only=True) as mount:
        said = _clean_exit_2(invoke("run", DEMO, "--out", mount / "runs", "--quiet"))
    assert said == (
        f"Error: cannot start a run in {mount}/runs: {mount}/runs is on a read-only file "
        f"system. {ADVICE}\n"
    )


def test_a_full_disk_when_a_run_starts_leaves_no_empty_run_folder(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "full") as mount:
        (mount / "runs").mkdir()
        fill(mount)
        said = _clean_exit_2(invoke("run", DEMO, "--out", mount / "runs", "--quiet"))
        assert said.startswith(f"Error: cannot start a run in {mount}/runs: the disk holding ")
        assert said.endswith(f" is full. {ADVICE}\n")
        assert list((mount / "runs").iterdir()) == [], "no folder for --resume to refuse"


def test_export_out_into_a_missing_folder(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "nowhere" / "sft.jsonl"
    said = _clean_exit_2(invoke("export", demo, "--format", "sft", "--out", out))
    assert said == (
        f"Error: --out {out}: the folder {tmp_path}/nowhere does not exist; create it first "
        f"(mkdir -p {tmp_path}/nowhere)\n"
    )
    assert not (tmp_path / "nowhere").exists()


def test_export_out_on_a_read_only_file_system(demo: Path, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", read_only=True) as mount:
        said = _clean_exit_2(invoke("export", demo, "--format", "sft", "--out", mount / "x"))
    assert said == f"Error: --out {mount}/x: {mount}/x is on a read-only file system\n"


def _copy(demo: Path, tmp_path: Path) -> Path:
    run = tmp_path / demo.name
    run.mkdir()
    for name in ("run.json", EPISODES_NAME):
        (run / name).write_bytes((demo / name).read_bytes())
    return run


def test_report_on_a_log_with_a_copied_line(demo: Path, tmp_path: Path) -> None:
    run = _copy(demo, tmp_path)
    log = run / EPISODES_NAME
    log.write_bytes(log.read_bytes() + log.read_bytes().splitlines(keepends=True)[2])
    said = _clean_exit_2(invoke("report", run))
    assert said.startswith(f"Error: {log}:25: episode ")
    assert "is already on line 3, and this line does not say it supersedes it." in said
    assert "delete the line that should not count" in said


def test_report_warns_of_a_torn_last_line_as_show_does(demo: Path, tmp_path: Path) -> None:
    run = _copy(demo, tmp_path)
    log = run / EPISODES_NAME
    log.write_bytes(log.read_bytes() + b'{"kind": "epi')
    warning = (
        f"warning: {log}:25: the last line (13 bytes) is torn: it does not end with a newline. "
        "A crash cut its write short (or it is still being written); it is ignored, and its "
        "episode runs again when the run is resumed.\n"
    )
    report = invoke("report", run)
    assert report.exit_code == 0, report.output
    assert report.stderr == warning
    assert "24 of 24 planned" in report.stdout
    show = invoke("show", run, "--plain")
    assert show.exit_code == 0, show.output
    assert show.stderr == warning


def test_report_html_reads_a_torn_run_twice_and_warns_once(demo: Path, tmp_path: Path) -> None:
    run = _copy(demo, tmp_path)
    log = run / EPISODES_NAME
    log.write_bytes(log.read_bytes() + b'{"kind": "epi')
    page = tmp_path / "report.html"
    report = invoke("report", run, "--html", page)
    assert report.exit_code == 0, report.output
    # The report's pass and the conversations' pass each meet the torn line: said once.
    assert report.stderr.count("is torn: it does not end with a newline") == 1
    assert report.stderr.endswith(f"Wrote {page}\n")
    assert page.read_text(encoding="utf-8").count("<details id=") == 24
