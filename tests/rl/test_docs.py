"""docs/rl.md's two trainer loops run as written, with the oracle's actions as the policy."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from typing import Any

import pytest

from policy_agent.domain import DomainPack
from tests.rl._support import REPOSITORY

DOC = REPOSITORY / "docs" / "rl.md"


def loops() -> list[str]:
    """The doc's first two Python blocks: the in-process loop and the HTTP loop."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    return blocks[:2]


class OraclePolicy:
    """`policy.generate` gives the current task's next oracle completion; `update` moves on."""

    def __init__(self, completions: dict[str, list[str]], tasks: list[str]) -> None:
        self._queues = [list(completions[task]) for task in tasks]
        self.rewards: list[float] = []

    def generate(self, prompt: str) -> str:
        assert prompt.endswith("<|im_start|>assistant\n<think>\n")
        return self._queues[len(self.rewards)].pop(0)

    def update(self, episode: Any, reward: float) -> None:
        self.rewards.append(reward)


def test_the_in_process_loop_runs_as_written(
    policy: tuple[DomainPack, dict[str, list[str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    pack, completions = policy
    monkeypatch.chdir(REPOSITORY)
    trainer = OraclePolicy(completions, [task.id for task in pack.tasks])
    code, _ = loops()
    assert len(code.strip().splitlines()) <= 11  # the import and ten lines
    exec(code, {"policy": trainer})
    assert trainer.rewards == [1.0] * len(pack.tasks)


def test_the_http_loop_runs_as_written(policy: tuple[DomainPack, dict[str, list[str]]]) -> None:
    _, completions = policy
    config = REPOSITORY / "simulations" / "hotel-rl.yaml"
    command = ["serve-env", str(REPOSITORY / "domains" / "hotel"), "--config", str(config)]
    process = subprocess.Popen(
        [sys.executable, "-m", "policy_agent", *command, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base = process.stdout.readline().rsplit(" ", 1)[1].strip()
        _, code = loops()
        assert "http://127.0.0.1:8100/v1" in code
        trainer = OraclePolicy(completions, ["card_triplet_cribs"])
        exec(code.replace("http://127.0.0.1:8100/v1", base), {"policy": trainer})
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert trainer.rewards == [1.0]


def test_the_doc_names_files_that_exist() -> None:
    pattern = r"`((?:benchmarks|simulations|tests|policy_agent)/[\w/.]+)`"
    named = re.findall(pattern, DOC.read_text())
    assert len(named) >= 5
    assert [name for name in named if not (REPOSITORY / name).exists()] == []
