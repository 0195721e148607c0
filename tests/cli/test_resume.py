"""`policy-agent run --resume` as a user types it: what infrastructure lost runs again, the
summary says what this resumption did apart from the whole run, and a changed pack is refused
naming the file that changed."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from policy_agent.cli import main
from policy_agent.records import Episode, TerminationReason
from policy_agent.scripted import Script, ScriptedServer
from policy_agent.trajectory import EPISODES_NAME, MANIFEST_NAME, RunStore
from tests.report._support import HOTEL, copy_hotel, demo_run

TASKS = ["crib_too_late", "complaint_transfer", "cancel_free_window", "card_triplet_cribs"]
LOST = 3
"""The user model's first answers are HTTP 500s, and nothing retries them: the first episodes
(concurrency 1, trial by trial) end as infrastructure failures."""


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def user_server() -> Iterator[ScriptedServer]:
    answers = [{"fault": {"status": 500}}] * LOST + ["Thanks, that is all. ###STOP###"]
    script = {"roles": {"user": {"answers": answers, "when_exhausted": "repeat_last"}}}
    with ScriptedServer(Script.model_validate(script)) as server:
        yield server


def _config(tmp_path: Path, server: ScriptedServer) -> Path:
    config = {
        "domain": str(HOTEL),
        "agent": {"kind": "oracle"},
        "user": {
            "kind": "llm",
            "model": {
                "model": "hosted_vllm/user",
                "api_base": server.base_url,
                "retries": 0,
                "retry_backoff": 0,
                "timeout": 30,
            },
        },
        "tasks": TASKS,
        "trials": 2,
        "concurrency": 1,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _lines(run: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run / EPISODES_NAME).read_text().splitlines()]


def _failed_run(tmp_path: Path, server: ScriptedServer) -> Path:
    result = invoke("run", _config(tmp_path, server), "--out", tmp_path / "runs", "--quiet")
    assert result.exit_code == 3, result.output  # a run with infrastructure failures
    [run] = (tmp_path / "runs").iterdir()
    reasons = [line["termination_reason"] for line in _lines(run)]
    assert reasons == ["infrastructure_error"] * LOST + ["user_stop"] * (2 * len(TASKS) - LOST)
    return run


def test_resume_runs_again_what_infrastructure_lost_and_keeps_the_failed_lines(
    tmp_path: Path, user_server: ScriptedServer
) -> None:
    run = _failed_run(tmp_path, user_server)
    before = (run / EPISODES_NAME).read_bytes()
    result = invoke("run", "--resume", run, "--quiet")
    assert result.exit_code == 0, result.output
    assert (
        "Resuming: 3 of 8 episodes to run; 3 of them again, lost to infrastructure the last "
        "time (--keep-failed keeps such episodes)\n"
    ) in result.stderr
    log = (run / EPISODES_NAME).read_bytes()
    assert log.startswith(before), "append-only: the failed attempts stay as they were"
    lines = _lines(run)
    assert [(line["task_id"], line["attempt"], line["supersedes"]) for line in lines[8:]] == [
        ("crib_too_late", 2, 1),
        ("complaint_transfer", 2, 2),
        ("cancel_free_window", 2, 3),
    ]
    latest = [episode for _, episode in RunStore.open(run).latest_episodes()]
    assert len(latest) == 8
    assert all(e.termination_reason is TerminationReason.USER_STOP for e in latest)
    assert result.stdout == (
        f"{run}: this resumption: 3/3 episodes; pass 0/3 (0.0%); infrastructure failures 0; "
        "ends: user_stop 3\n"
        f"{run}: whole run: 8/8 episodes; pass 0/8 (0.0%); infrastructure failures 0; "
        "ends: user_stop 8\n"
    )
    # Every reader counts the latest attempt of each (task, trial), as the summary does.
    report = json.loads(invoke("report", run, "--json").stdout)
    assert report["episodes"]["total"] == 8
    assert report["episodes"]["infrastructure_failures"] == 0
    again = invoke("run", "--resume", run, "--quiet")
    assert again.exit_code == 0, again.output
    assert "Resuming: 0 of 8 episodes to run\n" in again.stderr
    assert (run / EPISODES_NAME).read_bytes() == log


def test_keep_failed_keeps_them(tmp_path: Path, user_server: ScriptedServer) -> None:
    run = _failed_run(tmp_path, user_server)
    before = (run / EPISODES_NAME).read_bytes()
    result = invoke("run", "--resume", run, "--keep-failed", "--quiet")
    assert result.exit_code == 0, result.output
    assert (
        "Resuming: 0 of 8 episodes to run; episodes lost to infrastructure are kept "
        "(--keep-failed)\n"
    ) in result.stderr
    assert (run / EPISODES_NAME).read_bytes() == before
    assert result.stdout.splitlines()[1] == (
        f"{run}: whole run: 8/8 episodes; pass 0/5 (0.0%); infrastructure failures 3 (user "
        "ServerError 3); ends: infrastructure_error 3, user_stop 5"
    )


def test_keep_failed_goes_with_resume(tmp_path: Path) -> None:
    result = invoke("run", "--domain", HOTEL, "--keep-failed", "--out", tmp_path)
    assert result.exit_code == 2
    assert "--keep-failed goes with --resume" in result.stderr


def test_the_whole_run_line_counts_what_the_report_counts(tmp_path: Path) -> None:
    run = demo_run(tmp_path)
    log = run / EPISODES_NAME
    log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:20]))
    result = invoke("run", "--resume", run, "--quiet")
    assert result.exit_code == 0, result.output
    this, whole = result.stdout.splitlines()
    assert this.startswith(f"{run}: this resumption: 4/4 episodes; pass 4/4 (100.0%);")
    assert whole.startswith(f"{run}: whole run: 24/24 episodes; pass 24/24 (100.0%);")


def test_a_changed_python_tool_file_refuses_the_resume_naming_it(tmp_path: Path) -> None:
    pack = copy_hotel(tmp_path / "repo")
    run = demo_run(tmp_path / "runs", domain=pack)
    log = run / EPISODES_NAME
    log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:5]))
    tools = tmp_path / "repo" / "tools" / "hotel.py"
    tools.write_text(tools.read_text() + "\n# a changed tool behaves differently\n")
    before = (run / MANIFEST_NAME).read_bytes()
    result = invoke("run", "--resume", run)
    assert result.exit_code == 2
    assert re.search(
        r"the domain pack 'hotel' changed \(its hash was \w{12}, now \w{12}\): tools/hotel.py "
        r"differs from those the run started with",
        result.stderr,
    ), result.stderr
    assert (run / MANIFEST_NAME).read_bytes() == before
    assert len(log.read_bytes().splitlines()) == 5


def test_a_run_json_with_a_config_key_this_version_does_not_know(tmp_path: Path) -> None:
    run = demo_run(tmp_path)
    manifest = json.loads((run / MANIFEST_NAME).read_text())
    manifest["config"]["warp_speed"] = 9
    (run / MANIFEST_NAME).write_text(json.dumps(manifest))
    result = invoke("run", "--resume", run)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {run}/run.json: its config is not one this version of policy-agent reads "
        "(warp_speed: Extra inputs are not permitted); policy-agent "
        f"{manifest['versions']['policy_agent']} wrote it: resume the run with that version, "
        "or start a new run\n"
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_episode_line_copied_twice_is_refused_before_anything_runs(tmp_path: Path) -> None:
    run = demo_run(tmp_path)
    log = run / EPISODES_NAME
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join([*lines[:5], lines[0]]))
    result = invoke("run", "--resume", run, "--quiet")
    assert result.exit_code == 2
    # Which episode ended first (line 1) depends on how the machine scheduled the run.
    first = RunStore.open(run).read(Episode)[0]
    assert f"{log}:6: episode {first.task_id}#{first.trial} is already on line 1" in result.stderr
    assert len(log.read_bytes().splitlines()) == 6
    assert RunStore.open(run).read(Episode)[5] == RunStore.open(run).read(Episode)[0]


def test_schema_trajectory_documents_the_attempt_fields() -> None:
    schema = json.loads(invoke("schema", "trajectory").stdout)
    attempt, supersedes = schema["properties"]["attempt"], schema["properties"]["supersedes"]
    assert attempt["default"] == 1 and attempt["minimum"] == 1
    assert "appends the next attempt" in attempt["description"]
    assert supersedes["default"] is None
    assert (
        "Readers count only the latest attempt of each (task, trial)" in (supersedes["description"])
    )
