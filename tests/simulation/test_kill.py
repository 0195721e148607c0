"""A run killed with SIGKILL mid-episode resumes with nothing duplicated, lost or corrupt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_agent.cli import main
from policy_agent.domain import load_pack
from policy_agent.records import Episode
from policy_agent.scripted import Script, ScriptedServer
from policy_agent.trajectory import RunStore
from tests._models import HTTP_TIMEOUT_S
from tests._waiting import wait_until
from tests.simulation._support import HOTEL, REPOSITORY

TRIALS = 3


def lines_in(runs: Path) -> int:
    logs = list(runs.glob("*/episodes.jsonl"))
    return logs[0].read_bytes().count(b"\n") if logs else 0


@pytest.mark.slow
def test_sigkill_mid_run_then_resume(tmp_path: Path) -> None:
    # The agent always answers; the scripted user says each task's lines until ###STOP###.
    script = Script.model_validate(
        {
            "latency_ms": 50,
            "roles": {"agent": {"answers": ["Noted."], "when_exhausted": "repeat_last"}},
        }
    )
    with ScriptedServer(script) as server:
        config = tmp_path / "run.yaml"
        config.write_text(
            f"domain: {HOTEL}\n"
            "agent:\n"
            "  model: {model: hosted_vllm/agent, api_base: "
            f"{server.base_url}, retries: 0, timeout: {HTTP_TIMEOUT_S}}}\n"
            "user: {kind: scripted}\n"
            f"trials: {TRIALS}\n"
            "concurrency: 8\n"
        )
        runs = tmp_path / "runs"
        environment = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        process = subprocess.Popen(
            [sys.executable, "-m", "policy_agent", "run", str(config), "--out", str(runs)],
            cwd=REPOSITORY,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

        def five_written() -> bool:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            return lines_in(runs) >= 5

        wait_until(five_written, "five episodes")
        process.send_signal(signal.SIGKILL)
        process.wait()
        if process.stderr:
            process.stderr.close()
        [directory] = runs.iterdir()
        planned = TRIALS * len(load_pack(HOTEL).tasks)
        killed_at = lines_in(runs)
        assert killed_at < planned, "the run finished before it was killed"
        assert RunStore.open(directory).manifest.finished_at is None

        result = CliRunner().invoke(main, ["run", "--resume", str(directory), "--quiet"])
        assert result.exit_code == 0, result.output

    episodes = RunStore.open(directory).read(Episode)  # every line parses as an Episode
    keys = [episode.key for episode in episodes]
    assert len(keys) == len(set(keys)) == planned
    assert RunStore.open(directory).manifest.finished_at is not None
    assert {e.termination_reason.value for e in episodes} == {"user_stop", "transfer"}
