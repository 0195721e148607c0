"""`policy-agent run`, `check` and `schema trajectory` as a user types them."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner, Result

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from policy_agent.cli import main
from policy_agent.records import Episode
from policy_agent.trajectory import RunStore

REPOSITORY = Path(__file__).resolve().parents[2]
DEMO = REPOSITORY / "simulations" / "hotel-demo.yaml"
HOTEL_TASKS = 24


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def only_run(out: Path) -> Path:
    [directory] = out.iterdir()
    return directory


def test_the_demo_runs_from_its_config(tmp_path: Path) -> None:
    result = invoke("run", DEMO, "--out", tmp_path, "--quiet")
    assert result.exit_code == 0, result.stderr
    directory = only_run(tmp_path)
    assert result.stdout == (
        f"{directory}: {HOTEL_TASKS}/{HOTEL_TASKS} episodes; pass {HOTEL_TASKS}/{HOTEL_TASKS} "
        "(100.0%); infrastructure failures 0; ends: transfer 4, user_stop 20\n"
    )
    assert result.stderr.startswith(f"Run {directory}: hotel, {HOTEL_TASKS} episodes")
    assert sorted(p.name for p in directory.iterdir()) == ["episodes.jsonl", "run.json"]
    schema = json.loads(invoke("schema", "trajectory").stdout)
    assert schema["title"] == "Episode"
    validator = jsonschema.Draft202012Validator(schema)
    for line in (directory / "episodes.jsonl").read_text().splitlines():
        validator.validate(json.loads(line))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give a config file (e.g. simulations/hotel-demo.yaml) or --domain DIR"),
        (("--domain", REPOSITORY / "domains" / "hotel"), "--domain needs --agent-model"),
        ((DEMO, "--domain", REPOSITORY / "domains" / "hotel"), "not both"),
        ((DEMO, "--tasks", "nope"), "tasks: nope not in domain 'hotel'"),
        ((DEMO, "--transport", "completions"), "--transport: the agent is the oracle"),
    ],
)
def test_usage_problems_exit_2_without_a_traceback(
    tmp_path: Path, args: tuple[str | Path, ...], message: str
) -> None:
    result = invoke("run", *args, "--out", tmp_path)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_bad_config_is_reported_by_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("domain: .\nagent: {kind: oracle}\nuser: {kind: scripted}\ntrails: 2\n")
    result = invoke("run", config)
    assert result.exit_code == 2
    assert "bad.yaml:4: unknown key 'trails' (did you mean 'trials'?)" in result.stderr


def test_resume_finishes_a_run_from_its_folder_alone(tmp_path: Path) -> None:
    assert invoke("run", DEMO, "--out", tmp_path, "--quiet").exit_code == 0
    directory = only_run(tmp_path)
    log = directory / "episodes.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:5]))
    result = invoke("run", "--resume", directory, "--quiet", "--concurrency", "2")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith(f"Resuming {directory}")
    episodes = RunStore.open(directory).read(Episode)
    assert len({e.key for e in episodes}) == len(episodes) == HOTEL_TASKS
    assert episodes[:5] == RunStore.open(directory).read(Episode)[:5]
    assert len(RunStore.open(directory).manifest.resumed_at) == 1


def test_a_run_on_two_processes_resumes_on_one(tmp_path: Path) -> None:
    result = invoke("run", DEMO, "--out", tmp_path, "--quiet", "--processes", "2")
    assert result.exit_code == 0, result.stderr
    assert "concurrency 8 on 2 processes" in result.stderr
    directory = only_run(tmp_path)
    log = directory / "episodes.jsonl"
    log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:7]))
    result = invoke("run", "--resume", directory, "--quiet", "--processes", "1")
    assert result.exit_code == 0, result.stderr
    episodes = RunStore.open(directory).read(Episode)
    assert len({e.key for e in episodes}) == len(episodes) == HOTEL_TASKS


def test_a_run_from_before_processes_existed_still_resumes(tmp_path: Path) -> None:
    from policy_agent.trajectory import config_hash

    assert invoke("run", DEMO, "--out", tmp_path, "--quiet").exit_code == 0
    directory = only_run(tmp_path)
    # run.json as an older version wrote it: no `processes`, neither in the config nor excluded.
    manifest = json.loads((directory / "run.json").read_text())
    del manifest["config"]["processes"]
    manifest["config_hash_excludes"].remove("processes")
    excludes = manifest["config_hash_excludes"]
    manifest["config_hash"] = config_hash(manifest["config"], exclude=excludes)
    (directory / "run.json").write_text(json.dumps(manifest))
    log = directory / "episodes.jsonl"
    log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:5]))
    result = invoke("run", "--resume", directory, "--quiet", "--processes", "2")
    assert result.exit_code == 0, result.stderr
    assert len(RunStore.open(directory).read(Episode)) == HOTEL_TASKS


def test_resume_is_refused_when_the_config_changed(tmp_path: Path) -> None:
    assert invoke("run", DEMO, "--out", tmp_path, "--quiet").exit_code == 0
    directory = only_run(tmp_path)
    result = invoke("run", DEMO, "--seed", "5", "--resume", directory)
    assert result.exit_code == 2
    assert f"cannot resume {directory}" in result.stderr
    assert "the run config changed: seed: 0 -> 5" in result.stderr


def test_resume_is_refused_when_the_pack_changed(tmp_path: Path) -> None:
    shutil.copytree(REPOSITORY / "domains" / "hotel", tmp_path / "domains" / "hotel")
    shutil.copytree(REPOSITORY / "tools", tmp_path / "tools")
    config = tmp_path / "simulations" / "demo.yaml"
    config.parent.mkdir()
    config.write_text(DEMO.read_text())
    runs = tmp_path / "runs"
    assert invoke("run", config, "--out", runs, "--quiet").exit_code == 0
    policy = tmp_path / "domains" / "hotel" / "policy.md"
    policy.write_text(policy.read_text() + "\nBe brief.\n")
    result = invoke("run", config, "--resume", only_run(runs))
    assert result.exit_code == 2
    assert "the domain pack 'hotel' changed" in result.stderr


def test_check_passes_the_hotel_pack() -> None:
    result = invoke("check", REPOSITORY / "domains" / "hotel")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "ok   card_triplet_cribs"
    assert result.stdout.endswith(
        f"hotel: all {HOTEL_TASKS} tasks reach reward 1 with the oracle\n"
    )


def test_check_fails_a_task_the_oracle_cannot_solve(tmp_path: Path) -> None:
    pack = tmp_path / "domains" / "hotel"
    shutil.copytree(REPOSITORY / "domains" / "hotel", pack)
    shutil.copytree(REPOSITORY / "tools", tmp_path / "tools")
    tasks = pack / "tasks.yaml"
    broken = "arguments: {booking_id: B11246, count: 3}"
    assert broken in tasks.read_text()
    # Four cribs: more than a Deluxe room holds, so the expected action itself is refused.
    tasks.write_text(tasks.read_text().replace(broken, broken.replace("3", "4")))
    result = invoke("check", pack)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "FAIL card_triplet_cribs"
    assert lines[1].startswith("       env assertions not met: The three cribs are on the booking.")
    assert lines[-1] == f"hotel: 1 of {HOTEL_TASKS} tasks cannot reach reward 1 with the oracle"
