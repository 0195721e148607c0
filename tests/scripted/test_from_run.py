"""`script-from-run`: a recorded run replays exactly, and a tightened precondition shows up.

The recording is a real run: an LLM agent and an LLM user over HTTP against a scripted server,
three tasks at once, one agent answer rejected and asked again. It is converted with the CLI,
served with `serve-script`, and re-run with the same config, as docs/regression.md describes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from policy_agent.cli import main
from policy_agent.records import Episode, RewardType, ViolationEvent
from policy_agent.scripted import Script, ScriptedServer, SeedRole, load_script
from policy_agent.simulation import episode_seed
from policy_agent.trajectory import RunStore
from tests._models import HTTP_TIMEOUT_S
from tests._waiting import read_line, stop_with_ctrl_c
from tests.scripted._replaying import RUN_SEED, said, two_calls
from tests.simulation._support import DEMO, HOTEL, REPOSITORY, call, say

TASKS = ["cancel_free_window", "cancel_late_one_night_fee", "cancel_one_of_two"]
FREE, LATE, TWO = (episode_seed(RUN_SEED, task, 0) for task in TASKS)

# Stays more than three weeks away are now cancelled online, not by the agent: of the three
# bookings only cancel_one_of_two's B11392 (July 3rd) is that far from the pack's clock.
TIGHTENED = """\
      - check: hours_until(record.check_in) <= 21 * 24
        error: Booking {booking_id} is more than 21 days away; the guest cancels it online.
"""
REFUSED = "Error: Booking B11392 is more than 21 days away; the guest cancels it online."


RECORDING_AGENT = {
    "mode": "by_seed",
    "answers": {
        FREE: [
            call("get_guest_details", {"guest_id": "G90974"}),
            call("get_booking_details", {"booking_id": "B11319"}),
            call("cancel_booking", {"booking_id": "B11319"}),
            say("Booking B11319 is cancelled; 567 will be refunded."),
        ],
        LATE: [
            two_calls(
                ("get_booking_details", {"booking_id": "B11288"}),
                ("get_guest_details", {"guest_id": "G90988"}),
            ),
            call("get_guest_details", {"guest_id": "G90988"}),
            call("cancel_booking", {"booking_id": "B11288"}),
            say("Booking B11288 is cancelled: the fee is 249, and 498 will be refunded."),
        ],
        LATE + 1: [call("get_booking_details", {"booking_id": "B11288"})],
        TWO: [
            call("get_guest_details", {"guest_id": "G90941"}),
            call("find_guest_bookings", {"guest_id": "G90941"}),
            call("cancel_booking", {"booking_id": "B11392"}),
            say("Your July booking B11392 is cancelled; 756 will be refunded."),
        ],
    },
}
RECORDING_USER = {
    "mode": "rules",
    "rules": [
        {"contains": "is cancelled", "answer": "Thanks! ###STOP###"},
        {"contains": "Daniel Okoro", "answer": "I'm guest G90974; please cancel booking B11319."},
        {"contains": "Sofia Rossi", "answer": "My booking is B11288; please cancel it."},
        {"contains": "Naomi Fischer", "answer": "I'm G90941; cancel my July booking, not June's."},
    ],
}


@dataclass(frozen=True, kw_only=True)
class Recording:
    config: Path
    """The run config (its models' api_base: the recording server, gone by now)."""
    pack: Path
    """The pack copy the config names."""
    run: Path
    episodes: dict[tuple[str, int], Episode]


def run_cli(*arguments: str) -> Any:
    result = CliRunner().invoke(main, list(arguments))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def episodes_of(directory: Path) -> dict[tuple[str, int], Episode]:
    return {e.key: e for e in RunStore.open(directory).read(Episode)}


def only_run_in(directory: Path) -> Path:
    [run] = directory.iterdir()
    return run


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """Three episodes at once, LLM agent and LLM user, as `policy-agent run` makes them."""
    folder = tmp_path_factory.mktemp("recording")
    # A repository of its own: the pack finds its Python tools in ../../tools.
    pack = folder / "domains" / "hotel"
    shutil.copytree(HOTEL, pack)
    shutil.copytree(REPOSITORY / "tools", folder / "tools")
    script = Script.model_validate({"roles": {"agent": RECORDING_AGENT, "user": RECORDING_USER}})
    with ScriptedServer(script) as server:
        model = {"api_base": server.base_url, "retries": 0, "timeout": HTTP_TIMEOUT_S}
        config = {
            "domain": str(pack),
            "agent": {
                "model": {"model": "hosted_vllm/agent", **model},
                "violations": {"strategy": "resample", "max_attempts": 3},
            },
            "user": {"kind": "llm", "model": {"model": "hosted_vllm/user", **model}},
            "tasks": TASKS,
            "trials": 1,
            "concurrency": 3,
            "seed": RUN_SEED,
            # The user speaks first, so the user's rules can tell the tasks apart.
            "greeting": None,
        }
        config_path = folder / "replay.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        result = run_cli("run", str(config_path), "--out", str(folder / "recorded"), "--quiet")
    assert result.exit_code == 0, result.output
    run = only_run_in(folder / "recorded")
    episodes = episodes_of(run)
    # The recording is what the test needs: all three solved, the late one after a violation.
    assert all(e.reward is not None and e.reward.reward == 1.0 for e in episodes.values())
    assert max(e.started_at for e in episodes.values()) < min(e.ended_at for e in episodes.values())
    [violation] = episodes[("cancel_late_one_night_fee", 0)].events
    assert isinstance(violation, ViolationEvent) and violation.action_taken == "resample"
    return Recording(config=config_path, pack=pack, run=run, episodes=episodes)


@pytest.fixture
def serve_script() -> Iterator[Any]:
    """`policy-agent serve-script FILE --port 0` in a process of its own; yields its base URL."""
    processes: list[subprocess.Popen[str]] = []

    def start(script: Path) -> str:
        process = subprocess.Popen(
            [sys.executable, "-m", "policy_agent", "serve-script", str(script), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        assert process.stdout is not None
        first = read_line(process.stdout, f"serve-script {script}'s first line")
        assert first.startswith("Serving "), first
        return first.rsplit(" ", 1)[1].strip()

    yield start
    for process in processes:
        stop_with_ctrl_c(process)


def replay(recording: Recording, base_url: str, out: Path, *flags: str) -> Any:
    """Re-run the recording's config with its models at `base_url`."""
    return run_cli(
        "run",
        str(recording.config),
        "--agent-api-base",
        base_url,
        "--user-api-base",
        base_url,
        "--out",
        str(out),
        "--quiet",
        *flags,
    )


def test_the_script_replays_every_answer_in_order_by_seed(
    recording: Recording, tmp_path: Path
) -> None:
    output = tmp_path / "script.yaml"
    result = run_cli("script-from-run", str(recording.run), "-o", str(output))
    assert result.exit_code == 0, result.output
    run_id = recording.run.name
    assert result.stdout.splitlines() == [
        f"Wrote {output}: 3 episode(s) of run {run_id}; model agent: 13 answers for 4 seeds; "
        "model user: 6 answers for 3 seeds.",
        f"Serve it with: policy-agent serve-script {output} --port 8000",
        f"Then re-run the run's config with the same seed ({RUN_SEED}), tasks and trials, its "
        "models' api_base at http://127.0.0.1:8000/v1.",
    ]
    script = load_script(output)
    agent, user = script.roles["agent"], script.roles["user"]
    assert isinstance(agent, SeedRole) and isinstance(user, SeedRole)
    # The agent's answers are the recording server's, from the trajectory alone.
    recorded = Script.model_validate({"roles": {"agent": RECORDING_AGENT}}).roles["agent"]
    assert isinstance(recorded, SeedRole)
    assert agent.answers == recorded.answers
    assert sorted(user.answers) == sorted([FREE, LATE, TWO])
    assert [a.content for a in user.answers[LATE]] == [
        "My booking is B11288; please cancel it.",
        "Thanks! ###STOP###",
    ]
    text = output.read_text()
    assert f"      # cancel_late_one_night_fee#0, attempt 2\n      {LATE + 1}:\n" in text
    assert "        - reasoning: Both at once.\n          content: |" in text


def test_a_replay_repeats_the_recorded_run_exactly(
    recording: Recording, serve_script: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # RUN may be a run id under runs/, as for `show` and `replay`.
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / recording.run.name).symlink_to(recording.run)
    monkeypatch.chdir(tmp_path)
    assert run_cli("script-from-run", recording.run.name, "-o", "script.yaml").exit_code == 0
    base_url = serve_script(tmp_path / "script.yaml")
    result = replay(recording, base_url, tmp_path / "replayed")
    assert result.exit_code == 0, result.output
    assert "3/3 episodes; pass 3/3 (100.0%); infrastructure failures 0" in result.stdout
    replayed = episodes_of(only_run_in(tmp_path / "replayed"))
    assert replayed.keys() == recording.episodes.keys()
    for key, episode in replayed.items():
        original = recording.episodes[key]
        assert said(episode) == said(original), key
        assert episode.reward == original.reward
        assert episode.database == original.database
        assert episode.termination_reason is original.termination_reason
    # The server has given every answer: another re-run needs a fresh server.
    again = replay(recording, base_url, tmp_path / "again")
    assert "3/3 episodes; pass -; infrastructure failures 3" in again.stdout
    for episode in episodes_of(only_run_in(tmp_path / "again")).values():
        assert "has served the run already (restart it before each re-run)" in str(episode.error)


def test_a_tightened_precondition_changes_that_episodes_result_and_reward(
    recording: Recording, tmp_path: Path
) -> None:
    script = tmp_path / "script.yaml"
    assert run_cli("script-from-run", str(recording.run), "-o", str(script)).exit_code == 0
    tools = recording.pack / "tools.yaml"
    original_tools = tools.read_text()
    assert original_tools.count("only confirmed bookings can be cancelled") == 1
    marker = 'only confirmed bookings can be cancelled."\n'
    tools.write_text(original_tools.replace(marker, marker + TIGHTENED, 1))
    try:
        with ScriptedServer(load_script(script)) as server:
            result = replay(recording, server.base_url, tmp_path / "replayed")
    finally:
        tools.write_text(original_tools)
    assert result.exit_code == 0, result.output
    assert "3/3 episodes; pass 2/3 (66.7%); infrastructure failures 0" in result.stdout
    run = only_run_in(tmp_path / "replayed")
    replayed = episodes_of(run)
    for key in [("cancel_free_window", 0), ("cancel_late_one_night_fee", 0)]:
        assert said(replayed[key]) == said(recording.episodes[key])
        assert replayed[key].reward == recording.episodes[key].reward
    key = ("cancel_one_of_two", 0)
    after, before = replayed[key], recording.episodes[key]
    changed = [(new, old) for new, old in zip(said(after), said(before), strict=True) if new != old]
    assert [(new["name"], new["error"], new["content"]) for new, _ in changed] == [
        ("cancel_booking", True, REFUSED)
    ]
    [(_, old)] = changed
    assert old["error"] is False
    assert after.reward is not None and after.reward.reward == 0.0
    # The expected cancel_booking is refused on the changed pack too, so the databases agree.
    breakdown = after.reward.reward_breakdown
    assert (breakdown[RewardType.DB], breakdown[RewardType.ENV_ASSERTION]) == (1.0, 0.0)
    assert after.database.diff == []
    shown = run_cli(
        "show", str(run), "--episode", "cancel_one_of_two#0", "--plain", "--width", "120"
    ).stdout
    assert "cancel_booking returned (error)" in shown
    assert f"    {REFUSED}\n" in shown
    assert "Reward ✗ 0.00 = DB × ENV_ASSERTION × COMMUNICATE" in shown


def test_another_seed_gets_errors_naming_the_seed(recording: Recording, tmp_path: Path) -> None:
    script = tmp_path / "script.yaml"
    assert run_cli("script-from-run", str(recording.run), "-o", str(script)).exit_code == 0
    with ScriptedServer(load_script(script)) as server:
        result = replay(recording, server.base_url, tmp_path / "replayed", "--seed", "8")
    assert "3/3 episodes; pass -; infrastructure failures 3" in result.stdout
    for (task, trial), episode in episodes_of(only_run_in(tmp_path / "replayed")).items():
        assert episode.error is not None
        assert f"the script has no answers for seed {episode_seed(8, task, trial)} of role" in (
            episode.error
        )


def test_episode_picks_the_episodes_to_replay(recording: Recording, tmp_path: Path) -> None:
    output = tmp_path / "late.yaml"
    result = run_cli(
        "script-from-run",
        str(recording.run),
        "--episode",
        "cancel_late_one_night_fee#0",
        "--roles",
        "agent",
        "-o",
        str(output),
    )
    assert result.exit_code == 0, result.output
    script = load_script(output)
    assert list(script.roles) == ["agent"]
    agent = script.roles["agent"]
    assert isinstance(agent, SeedRole)
    assert list(agent.answers) == [LATE, LATE + 1]
    assert (
        agent.answers[LATE + 1][0].content
        == call("get_booking_details", {"booking_id": "B11288"})["content"]
    )


def test_episode_takes_a_line_number_as_show_does(recording: Recording, tmp_path: Path) -> None:
    keys = [episode.key for episode in RunStore.open(recording.run).read(Episode)]
    line = 1 + keys.index(("cancel_late_one_night_fee", 0))
    written = []
    for choice in (str(line), "cancel_late_one_night_fee#0"):
        output = tmp_path / f"{len(written)}.yaml"
        result = run_cli(
            "script-from-run",
            str(recording.run),
            "-e",
            choice,
            "--roles",
            "agent",
            "-o",
            str(output),
        )
        assert result.exit_code == 0, result.output
        written.append(output.read_text())
    assert written[0] == written[1]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--episode", "nope#0"], "has no episode nope#0; its 3 episode(s) include "),
        (["--episode", "cancel_free_window"], "is neither TASK_ID#TRIAL"),
        (["--episode", "4"], "has 3 episode(s), one a line of episodes.jsonl; there is no line 4"),
        (["--roles", "judge"], "unknown role(s) judge: a run records the outputs of agent and"),
        (["--roles", ","], "name at least one role"),
    ],
)
def test_a_selection_that_does_not_fit_the_run_exits_2(
    recording: Recording, tmp_path: Path, arguments: list[str], expected: str
) -> None:
    result = run_cli(
        "script-from-run", str(recording.run), *arguments, "-o", str(tmp_path / "s.yaml")
    )
    assert result.exit_code == 2
    assert expected in result.output
    assert not (tmp_path / "s.yaml").exists()


def test_a_folder_that_is_not_a_run_exits_2(tmp_path: Path) -> None:
    result = run_cli("script-from-run", str(tmp_path), "-o", str(tmp_path / "s.yaml"))
    assert result.exit_code == 2
    assert f"Invalid value for RUN: {tmp_path}: not a readable run directory" in result.output
    assert "there is no run.json" in result.output


def test_a_run_without_model_calls_exits_2(tmp_path: Path) -> None:
    demo = run_cli(
        "run", str(DEMO), "--tasks", "cancel_free_window", "--out", str(tmp_path), "--quiet"
    )
    assert demo.exit_code == 0, demo.output
    result = run_cli("script-from-run", str(only_run_in(tmp_path)), "-o", str(tmp_path / "s.yaml"))
    assert result.exit_code == 2
    assert "called no model (its agent is the oracle and its user is scripted)" in result.output


def tampered(recording: Recording, folder: Path, change: Any) -> Path:
    """A copy of the recorded run whose episode lines went through `change(list of dicts)`."""
    copy = folder / recording.run.name
    shutil.copytree(recording.run, copy)
    path = copy / "episodes.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(line) + "\n" for line in change(lines)))
    return copy


def test_two_episodes_with_one_seed_cannot_share_a_script(
    recording: Recording, tmp_path: Path
) -> None:
    def add_twin(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [*lines, lines[0] | {"trial": 5}]

    copy = tampered(recording, tmp_path, add_twin)
    first = json.loads((copy / "episodes.jsonl").read_text().splitlines()[0])
    result = run_cli("script-from-run", str(copy), "-o", str(tmp_path / "s.yaml"))
    assert result.exit_code == 1
    task = first["task_id"]
    assert f"episodes {task}#0 and {task}#5 both sent seed {first['seed']}" in result.output
    assert "make one script for each with --episode" in result.output


def test_a_judge_and_a_torn_last_line_are_said_on_stderr(
    recording: Recording, tmp_path: Path
) -> None:
    copy = tampered(recording, tmp_path, lambda lines: lines)
    manifest = json.loads((copy / "run.json").read_text())
    manifest["config"]["judge"] = {"model": "hosted_vllm/judge"}
    (copy / "run.json").write_text(json.dumps(manifest))
    with (copy / "episodes.jsonl").open("a") as episodes:
        episodes.write('{"kind": "episode", "task_id": "cut off')
    result = run_cli("script-from-run", str(copy), "-o", str(tmp_path / "s.yaml"))
    assert result.exit_code == 0, result.output
    warning, note = result.stderr.splitlines()
    assert warning.startswith(f"warning: {copy / 'episodes.jsonl'}:4")
    assert warning.endswith("it is ignored, and its episode runs again when the run is resumed.")
    assert note == (
        f"note: run {copy.name} has a judge: its answers are not recorded, so the script leaves "
        "it out; the re-run asks the judge model its config names"
    )
    assert "3 episode(s)" in result.stdout


def _without_violations(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line | {"events": []} for line in lines]


def _without_seeds(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for line in lines:
        for record in line["messages"]:
            if record.get("generation"):
                record["generation"]["seed"] = None
    return lines


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            _without_violations,
            "episode cancel_late_one_night_fee#0: the events do not match the conversation: a "
            "turn's answer was attempt 2, but where its rejected attempt 1 should be there is "
            "nothing; was this line written by the runner?",
        ),
        (_without_seeds, "a model call of attempt 1 was sent without a seed"),
    ],
)
def test_lines_the_runner_did_not_write_are_refused_naming_the_episode(
    recording: Recording, tmp_path: Path, change: Any, expected: str
) -> None:
    result = run_cli(
        "script-from-run", str(tampered(recording, tmp_path, change)), "-o", str(tmp_path / "s")
    )
    assert result.exit_code == 1
    assert expected in result.output


def test_an_episode_run_again_by_a_resume_is_scripted_from_its_latest_attempt(
    recording: Recording, tmp_path: Path
) -> None:
    run = tmp_path / recording.run.name
    shutil.copytree(recording.run, run)
    log = run / "episodes.jsonl"
    lines = [Episode.model_validate_json(line) for line in log.read_bytes().splitlines()]
    line = next(n for n, e in enumerate(lines, 1) if e.task_id == "cancel_free_window")
    # As a resume appends it: the same seed, and here only the first two agent answers.
    cut = next(i for i, m in enumerate(lines[line - 1].messages) if m.kind == "tool_result") + 1
    again = lines[line - 1].model_copy(
        update={"attempt": 2, "supersedes": line, "messages": lines[line - 1].messages[:cut]}
    )
    with log.open("a") as file:
        file.write(again.model_dump_json() + "\n")
    output = tmp_path / "script.yaml"
    result = run_cli("script-from-run", str(run), "-o", str(output))
    assert result.exit_code == 0, result.output
    assert "3 episode(s)" in result.stdout
    agent = load_script(output).roles["agent"]
    assert isinstance(agent, SeedRole)
    # One attempt's answers, not both attempts' run together under the one seed.
    assert [a.content for a in agent.answers[FREE]] == [
        call("get_guest_details", {"guest_id": "G90974"})["content"]
    ]
    superseded = run_cli("script-from-run", str(run), "--episode", str(line), "-o", str(output))
    assert superseded.exit_code == 2
    assert f"there is no line {line} holding the latest attempt of an episode" in superseded.output
