"""`simulate`: a whole run in one call — plan, play, score, and append every episode to disk."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from policy_agent.domain import DomainPack, load_pack
from policy_agent.llm import ModelClient
from policy_agent.simulation._config import SimulationConfig
from policy_agent.simulation._progress import RunObserver
from policy_agent.simulation._runner import Simulation
from policy_agent.trajectory import RunStore


async def simulate(
    config: SimulationConfig,
    *,
    pack: DomainPack | None = None,
    clients: Mapping[str, ModelClient] | None = None,
    observer: RunObserver | None = None,
) -> Path:
    """Run `config` into a new run folder under `config.out` and return the folder.

    `pack` defaults to `load_pack(config.domain)`; `clients` replace the clients of the roles
    they name (see `Simulation`). What `policy-agent run CONFIG` does, without its progress
    display and resume: read the run back with `policy_agent.report.load_run`.
    """
    pack = pack if pack is not None else load_pack(config.domain)
    simulation = Simulation(config, pack, clients=clients)
    store = RunStore.create(config.out, simulation.manifest())
    try:
        await simulation.run(store, observer)
    finally:
        store.close()
        await simulation.aclose()
    return store.directory
