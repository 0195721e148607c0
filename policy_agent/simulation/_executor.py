"""Where a run's episodes play: one interface, three implementations, one writer.

`Simulation.run` plans the episodes, seeds them (from run seed, task and trial) and records each
finished one (append, tally, display); an `Executor` only plays them and hands each back:

- `InProcess`: `concurrency` asyncio workers in this process;
- `ProcessPool` (`processes: N`): N children on this machine, forked from a fork server
  (`play_in_processes`);
- `RayCluster` (`executor: ray`): N Ray actors on a cluster's nodes (`play_on_ray`).

A worker elsewhere (child or actor) builds its `Simulation` with `worker_simulation` from the
driver's config and its own copy of the pack, refusing to start when that copy's hash is not the
driver's; it sends each episode back as its JSON line, and `received` records it here. So an
episode is the same whichever executor, process or node plays it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import JsonValue

from policy_agent.errors import PolicyAgentError
from policy_agent.records import Episode
from policy_agent.simulation._config import SimulationConfig
from policy_agent.simulation._processes import play_in_processes
from policy_agent.simulation._progress import RunTally
from policy_agent.simulation._ray import play_on_ray
from policy_agent.simulation._runner import PlannedEpisode, RecordEpisode, Simulation

__all__ = [
    "Executor",
    "InProcess",
    "PackMismatch",
    "ProcessPool",
    "RayCluster",
    "executor_for",
    "received",
    "worker_simulation",
]


class PackMismatch(PolicyAgentError):
    """A worker's copy of the pack is not the driver's (its hash differs): it refuses to start."""


class Executor(Protocol):
    """Plays planned episodes and hands each finished one to `record`, in this process."""

    async def play(
        self, todo: Sequence[PlannedEpisode], tally: RunTally, record: RecordEpisode
    ) -> None:
        """Play every episode of `todo`; return when all are recorded (or raise why not)."""
        ...


@dataclass(frozen=True)
class InProcess:
    """The episodes on `concurrency` asyncio workers of this process."""

    simulation: Simulation

    async def play(
        self, todo: Sequence[PlannedEpisode], tally: RunTally, record: RecordEpisode
    ) -> None:
        """Play `todo` here (`Simulation.play_all`)."""
        await self.simulation.play_all(todo, tally, record)


@dataclass(frozen=True)
class ProcessPool:
    """The episodes on `processes` child processes of this machine."""

    simulation: Simulation

    async def play(
        self, todo: Sequence[PlannedEpisode], tally: RunTally, record: RecordEpisode
    ) -> None:
        """Play `todo` on the children (`play_in_processes`)."""
        config = self.simulation.config
        await play_in_processes(
            self.simulation.worker_config(),
            self.simulation.pack.content_hash,
            todo,
            tally,
            record,
            processes=config.processes,
            concurrency=config.concurrency,
        )


@dataclass(frozen=True)
class RayCluster:
    """The episodes on `processes` Ray actors of the cluster at `ray_address` (or a local one)."""

    simulation: Simulation

    async def play(
        self, todo: Sequence[PlannedEpisode], tally: RunTally, record: RecordEpisode
    ) -> None:
        """Play `todo` on the actors (`play_on_ray`), those the `Simulation` started if it
        has not played yet."""
        await play_on_ray(self.simulation.take_ray_start(), todo, tally, record)


def executor_for(simulation: Simulation, todo: Sequence[PlannedEpisode]) -> Executor:
    """The executor the config asks for (one episode left plays here: nothing to spread)."""
    config = simulation.config
    if config.executor == "ray":
        return RayCluster(simulation)
    if config.processes > 1 and len(todo) > 1:
        return ProcessPool(simulation)
    return InProcess(simulation)


def worker_simulation(
    config: dict[str, JsonValue], domain_hash: str, *, concurrency: int, domain: Path | None = None
) -> Simulation:
    """A worker's simulation: the driver's `config` on the pack at `domain` (by default the
    config's), playing `concurrency` episodes at once in this process.

    `PackMismatch` when the pack's hash is not `domain_hash` (the driver's).
    """
    from policy_agent.domain import load_pack

    settings = SimulationConfig.model_validate(config)
    folder = settings.domain if domain is None else domain
    settings = settings.model_copy(
        update={
            "concurrency": concurrency,
            "processes": 1,
            "executor": "local",
            "ray_address": None,
            "domain": folder,
        }
    )
    pack = load_pack(folder)
    if pack.content_hash != domain_hash:
        raise PackMismatch(
            f"the pack in {folder} (hash {pack.content_hash[:12]}) is not the driver's (hash "
            f"{domain_hash[:12]}): it changed while the run started; start the run again"
        )
    return Simulation(settings, pack)


async def received(line: str, tally: RunTally, record: RecordEpisode) -> None:
    """Record an episode a worker sent as its JSON line (its agent tokens counted here)."""
    episode = Episode.model_validate_json(line)
    agent = episode.totals.get("agent")
    if agent is not None:
        tally.agent_tokens += agent.completion_tokens
    await record(episode)
