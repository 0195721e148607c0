"""Helpers shared by the simulation tests: configs, one-episode runs, scripted answers."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import JsonValue

from policy_agent.domain import DomainPack
from policy_agent.format import render_tool_call
from policy_agent.records import Episode, RewardType
from policy_agent.simulation import RunObserver, RunTally, Simulation, SimulationConfig
from policy_agent.trajectory import EPISODES_NAME, RunStore, iter_records, with_tokens
from tests._models import Models, ScriptedModels, closed_port_url, model_config
from tests._waiting import ctrl_c_when

__all__ = [
    "DEMO",
    "HOTEL",
    "REPOSITORY",
    "VLLM",
    "KillAfterFirstEpisode",
    "call",
    "closed_port_url",
    "ctrl_c_run",
    "episodes_written",
    "lookup_then_thanks",
    "model",
    "play_one",
    "say",
    "sim_config",
    "simulate",
    "simulation_of",
]

REPOSITORY = Path(__file__).resolve().parents[2]
HOTEL = REPOSITORY / "domains" / "hotel"
DEMO = REPOSITORY / "simulations" / "hotel-demo.yaml"
VLLM = REPOSITORY / "simulations" / "hotel-vllm.yaml"


def model(source: Models | str, role: str, **fields: Any) -> dict[str, Any]:
    """A model config (as data) for `role` on `source` (see `tests._models.model_config`)."""
    return model_config(source, role, **fields).model_dump(mode="json")


def sim_config(**fields: Any) -> SimulationConfig:
    """A config on the hotel pack: the oracle and the scripted user unless given."""
    data: dict[str, Any] = {
        "domain": str(HOTEL),
        "agent": {"kind": "oracle"},
        "user": {"kind": "scripted"},
    }
    return SimulationConfig.model_validate(data | fields)


def simulation_of(
    config: SimulationConfig, pack: DomainPack, models: ScriptedModels | None = None
) -> Simulation:
    """The simulation of `config`, its models answered in process by `models` if given."""
    return Simulation(config, pack, clients=models.clients(config) if models else None)


async def simulate(
    config: SimulationConfig,
    pack: DomainPack,
    simulation: Simulation | None = None,
    *,
    models: ScriptedModels | None = None,
    observer: RunObserver | None = None,
) -> tuple[Path, list[Episode]]:
    """Run `config` (on `models` if given) into a new run folder; the folder and its episodes,
    read back from disk with their token traces (from `tokens.jsonl`)."""
    simulation = simulation or simulation_of(config, pack, models)
    store = RunStore.create(config.out, simulation.manifest())
    try:
        await simulation.run(store, observer)
    finally:
        store.close()
        await simulation.aclose()
    directory = store.directory
    lines = iter_records(directory / EPISODES_NAME, Episode)
    return directory, [with_tokens(directory, episode, line) for line, episode in lines]


async def play_one(
    config: SimulationConfig,
    pack: DomainPack,
    task_id: str,
    trial: int = 0,
    *,
    models: ScriptedModels | None = None,
) -> Episode:
    """Play and evaluate one episode of `task_id` as the runner would (on `models` if given)."""
    simulation = simulation_of(config, pack, models)
    try:
        planned = next(p for p in simulation.episodes if p.key == (task_id, trial))
        return await simulation.play(planned)
    finally:
        await simulation.aclose()


def episodes_written(runs: Path) -> bool:
    """Whether a run under `runs` has written an episode."""
    return any(path.stat().st_size for path in runs.glob("*/episodes.jsonl"))


class KillAfterFirstEpisode:
    """A run observer that SIGKILLs one worker process, the one `victim()` names, once the first
    episode is written: a worker dying in the middle of a run."""

    def __init__(self, victim: Callable[[], int]) -> None:
        self.victim = victim
        self.killed: list[int] = []
        """The process ids killed (one, once an episode has been written)."""

    def started(self, tally: RunTally) -> None:
        """Nothing to do."""

    def finished(self, episode: Episode) -> None:
        """Kill the victim after the first episode."""
        if not self.killed:
            process = self.victim()
            os.kill(process, signal.SIGKILL)
            self.killed.append(process)

    def stopped(self) -> None:
        """Nothing to do."""


def ctrl_c_run(arguments: Sequence[str], runs: Path) -> tuple[int, str]:
    """`policy-agent run ARGUMENTS --out RUNS` started as from a terminal, in a process group of
    its own, and Ctrl-C'd (the whole group, as a terminal does) once it has written an episode;
    its exit code and stderr."""
    process = subprocess.Popen(
        [sys.executable, "-m", "policy_agent", "run", *arguments, "--out", str(runs)],
        cwd=REPOSITORY,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, which a terminal's Ctrl-C signals
    )
    stderr = ctrl_c_when(process, lambda: episodes_written(runs), "an episode", group=True)
    return process.returncode, stderr


def call(name: str, arguments: dict[str, JsonValue]) -> dict[str, Any]:
    """The scripted answer of an agent tool call (chat transport, card style)."""
    return {"reasoning": f"Next: {name}.", "content": render_tool_call(name, arguments).strip()}


def say(text: str) -> dict[str, Any]:
    """The scripted answer of an agent message (chat transport, card style)."""
    return {"reasoning": "Reply.", "content": text}


def lookup_then_thanks() -> dict[str, Any]:
    """Roles for any number of concurrent episodes: the user asks to be looked up, the agent
    looks the guest up and says it is set, the user thanks it and stops (four calls each)."""
    return {
        "agent": {
            "mode": "rules",
            "rules": [{"contains": "first_name", "answer": say("All set.")}],
            "fallback": call("get_guest_details", {"guest_id": "G90974"}),
        },
        "user": {
            "mode": "rules",
            "rules": [{"contains": "All set", "answer": "Thanks. ###STOP###"}],
            "fallback": "Please look me up.",
        },
    }


def judged(pack: DomainPack, task_id: str, assertion: str) -> DomainPack:
    """`pack` with only task `task_id`, which the NL judge also scores on `assertion`."""
    task = pack.task(task_id)
    criteria = task.evaluation_criteria
    judged_task = task.model_copy(
        update={
            "evaluation_criteria": criteria.model_copy(
                update={
                    "nl_assertions": [assertion],
                    "reward_basis": [*criteria.reward_basis, RewardType.NL_ASSERTION],
                }
            )
        }
    )
    return dataclasses.replace(pack, tasks=(judged_task,))
